"""What a write owes each subscription (design section 7.3): one tracking.updated per
consignment per write, consignment.status_changed only where a status or warning moved under
the rules, consignment.created; recorded in the writer's transaction, at a fixed cost."""

import json

import pytest
from django.core.exceptions import ValidationError

from tests.factories import add_events, at, make_consignment, make_leg, make_subscription
from tracking import services
from tracking.models import EventSource, MessageState, WebhookMessage, WebhookType
from tracking.services import EventSpec, webhooks

pytestmark = pytest.mark.django_db


def bodies(subscription, webhook_type=None):
    messages = subscription.messages.order_by("created_utc", "type")
    if webhook_type:
        messages = messages.filter(type=webhook_type)
    return [json.loads(webhooks.full_body(m)) for m in messages]


def test_a_batch_over_ten_consignments_makes_one_message_each(brand, carrier):
    subscription = make_subscription(brand, event_types=["tracking.updated"])
    legs = [make_leg(make_consignment(brand), carrier=carrier) for _ in range(10)]
    specs = [
        EventSpec(leg=legs[n % 10], occurred_at=at(n / 100), code="IN_TRANSIT", description=str(n))
        for n in range(1000)
    ]
    services.record_events(events=specs, source=EventSource.SORTED)
    messages = list(subscription.messages.all())
    assert len(messages) == 10
    assert {m.consignment_id for m in messages} == {leg.consignment_id for leg in legs}
    assert all(len(json.loads(webhooks.full_body(m))["data"]["events"]) == 100 for m in messages)


def test_the_body_carries_the_consignment_its_packages_and_the_new_events(consignment, leg):
    subscription = make_subscription(consignment.brand)
    first = consignment.packages.order_by("sequence").first()
    add_events(leg, (1, "OUT_FOR_DELIVERY", "With the driver"), package=first)
    [body] = bodies(subscription, WebhookType.TRACKING_UPDATED)
    assert body["type"] == "tracking.updated"
    assert body["timestamp"].endswith("Z")
    data = body["data"]
    assert data["consignmentId"] == str(consignment.pk)
    assert data["reference"] == consignment.reference
    # The consignment is as far as its least advanced package: the second has no event yet.
    assert (data["status"], data["statusName"], data["warning"]) == (0, "Unknown", None)
    assert data["packages"] == [
        {"reference": p.reference, "status": s, "statusName": name, "warning": None}
        for p, s, name in zip(
            consignment.packages.order_by("sequence"),
            (4, 0),
            ("OutForDelivery", "Unknown"),
            strict=True,
        )
    ]
    [event] = data["events"]
    assert event == {
        "trackingId": str(leg.pk),
        "packageReference": first.reference,
        "status": 4,
        "code": "OUT_FOR_DELIVERY",
        "details": "With the driver",
        "location": None,
        "eventDateTime": at(1).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
    }


def test_status_changed_only_when_a_status_or_warning_moved(consignment, leg):
    subscription = make_subscription(consignment.brand)
    add_events(leg, (1, "IN_TRANSIT"))
    add_events(leg, (2, "IN_TRANSIT", "Arrived at hub"))  # same status: tracking.updated only
    add_events(leg, (3, "DELAYED"))  # a warning
    add_events(leg, (0.5, "LABEL_PRINTED"))  # history posted late: nothing moves
    changed = bodies(subscription, WebhookType.STATUS_CHANGED)
    updated = bodies(subscription, WebhookType.TRACKING_UPDATED)
    assert len(updated) == 4
    assert [(b["data"]["status"], b["data"]["warning"]) for b in changed] == [
        (3, None),
        (3, "delay"),
    ]


def test_a_duplicate_batch_owes_nothing(consignment, leg):
    subscription = make_subscription(consignment.brand)
    add_events(leg, (1, "IN_TRANSIT"))
    before = subscription.messages.count()
    add_events(leg, (1, "IN_TRANSIT"))
    assert subscription.messages.count() == before


def test_rederiving_and_code_mappings_send_nothing(consignment, leg, carrier):
    subscription = make_subscription(consignment.brand)
    add_events(leg, (1, "ZUGESTELLT"))
    before = subscription.messages.count()
    services.map_code(carrier=carrier, code="ZUGESTELLT", maps_to="DELIVERED")
    services.rederive(consignment)
    assert subscription.messages.count() == before


def test_created_is_sent_with_the_packages(brand):
    subscription = make_subscription(brand, event_types=["consignment.created"])
    consignment = make_consignment(brand, packages=2)
    [body] = bodies(subscription)
    assert body["type"] == "consignment.created"
    assert body["data"]["consignmentId"] == str(consignment.pk)
    assert len(body["data"]["packages"]) == 2
    assert body["data"]["events"] == []


def test_each_subscription_gets_only_the_types_it_asked_for(consignment, leg):
    created_only = make_subscription(consignment.brand, event_types=["consignment.created"])
    changes_only = make_subscription(consignment.brand, event_types=["consignment.status_changed"])
    add_events(leg, (1, "IN_TRANSIT"))
    assert not created_only.messages.exists()
    assert list(changes_only.messages.values_list("type", flat=True)) == [
        "consignment.status_changed"
    ]


def test_another_brands_subscription_hears_nothing(consignment, leg):
    from tests.factories import BrandFactory

    other = make_subscription(BrandFactory(slug="other"))
    add_events(leg, (1, "IN_TRANSIT"))
    assert not other.messages.exists()


def test_a_disabled_subscription_keeps_its_messages_held(consignment, leg):
    subscription = make_subscription(consignment.brand)
    services.disable_subscription(subscription, reason="staff")
    add_events(leg, (1, "IN_TRANSIT"))
    states = set(subscription.messages.values_list("state", flat=True))
    assert states == {MessageState.HELD}
    assert subscription.messages.filter(next_attempt_at__isnull=False).count() == 0


def test_messages_are_part_of_the_writers_transaction(consignment, leg):
    """A batch refused half way records no message, like it stores no event."""
    subscription = make_subscription(consignment.brand)
    specs = [
        EventSpec(leg=leg, occurred_at=at(1), code="IN_TRANSIT"),
        EventSpec(leg=leg, occurred_at=at(2), code="IN_TRANSIT", description="x" * 5000),
    ]
    with pytest.raises(ValidationError):
        services.record_events(events=specs, source=EventSource.SORTED)
    assert not WebhookMessage.objects.exists()
    assert subscription.messages.count() == 0


@pytest.mark.parametrize("consignments", [2, 20])
def test_recording_costs_a_fixed_number_of_queries(
    brand, carrier, django_assert_num_queries, consignments
):
    """With a subscription, a batch costs three more statements (subscriptions, package
    references, one INSERT of the messages) than without, however many consignments and
    events it holds; the events' details are written into the bodies at the first claim."""
    make_subscription(brand)
    make_subscription(brand, event_types=["tracking.updated"])
    legs = [make_leg(make_consignment(brand), carrier=carrier) for _ in range(consignments)]
    specs = [
        EventSpec(leg=legs[n % consignments], occurred_at=at(n / 100), code="IN_TRANSIT")
        for n in range(consignments * 5)
    ]
    with django_assert_num_queries(12):
        services.record_events(events=specs, source=EventSource.SORTED)
    # Per consignment: tracking.updated to both, status_changed to the first.
    batch = WebhookMessage.objects.exclude(type=WebhookType.CONSIGNMENT_CREATED)
    assert batch.count() == 3 * consignments


def test_the_id_is_stable_and_unique(consignment, leg):
    subscription = make_subscription(consignment.brand)
    add_events(leg, (1, "IN_TRANSIT"), (2, "OUT_FOR_DELIVERY"))
    ids = list(subscription.messages.values_list("pk", flat=True))
    assert len(set(ids)) == len(ids)
    assert all(pk.startswith("msg_") for pk in ids)


def test_the_first_claim_writes_the_events_into_the_body_once(consignment, leg):
    """A batch records its events' identities, not their details: the first claim fills the
    body in (one query, one UPDATE) and every attempt after signs those same bytes."""
    from tracking.delivery import webhooks as delivery

    subscription = make_subscription(consignment.brand, event_types=["tracking.updated"])
    add_events(leg, (1, "IN_TRANSIT", "Left the depot"), (2, "IN_TRANSIT", "At the hub"))
    recorded = subscription.messages.get()
    assert json.loads(recorded.body)["data"]["events"] == []
    expected = webhooks.full_body(recorded)
    [claimed] = delivery.claim(10)
    assert claimed.body == expected
    stored = subscription.messages.get()
    assert (stored.body, stored.event_identities) == (expected, "")
    assert [e["details"] for e in json.loads(stored.body)["data"]["events"]] == [
        "Left the depot",
        "At the hub",
    ]
