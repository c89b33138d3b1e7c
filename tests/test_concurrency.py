"""Concurrent writers on one consignment, with real threads and real connections."""

import threading
from collections import Counter

import pytest
import time_machine
from django.db import close_old_connections

from tests.factories import (
    BrandFactory,
    CarrierFactory,
    at,
    make_consignment,
    make_leg,
    postgres_only,
)
from tests.helpers import run_threads
from tracking import services
from tracking.models import Consignment, EventSource, TrackingEvent
from tracking.services import EventSpec
from tracking.status import Status


def run_together(count: int, work) -> None:
    """Run work(0) ... work(count - 1) in threads released at the same moment; fail the test
    if any of them raises or is still running after a minute."""
    barrier = threading.Barrier(count, timeout=30)

    def worker(n):
        barrier.wait()
        work(n)

    run_threads([lambda n=n: worker(n) for n in range(count)], timeout=60)
    close_old_connections()


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_the_same_batch_from_eight_connections_is_stored_once():
    consignment = make_consignment(BrandFactory(), packages=2)
    leg = make_leg(consignment, carrier=CarrierFactory())
    package = consignment.packages.first()
    stored = []

    def post_batch(_n):
        specs = [
            EventSpec(
                leg=leg,
                occurred_at=at(i / 60),
                code="IN_TRANSIT",
                description=f"scan {i}",
                package=package if i % 2 else None,
            )
            for i in range(300)
        ]
        stored.append(services.record_events(events=specs, source=EventSource.SORTED).stored)

    run_together(8, post_batch)
    # One writer stored the batch; the seven that waited on its lock found it all there.
    assert sorted(stored) == [0] * 7 + [300]
    assert TrackingEvent.objects.count() == 300
    assert sorted(TrackingEvent.objects.values_list("description", flat=True)) == sorted(
        f"scan {i}" for i in range(300)
    )
    leg.refresh_from_db()
    assert leg.status == Status.IN_TRANSIT


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_concurrent_status_changes_and_events_leave_a_consistent_status():
    consignment = make_consignment(BrandFactory(), packages=1)
    leg = make_leg(consignment, carrier=CarrierFactory())
    changed = {}

    def write(n):
        if n % 2:
            # Two writers may set the same status one after the other: the second is a no-op.
            status = 2 + n % 4
            changed[n] = services.update_leg(leg=leg, source=EventSource.CONSIGNLY, status=status)
        else:
            changed[n] = services.record_event(
                leg=leg,
                source=EventSource.SORTED,
                code="IN_TRANSIT",
                occurred_at=at(n),
                description=f"scan {n}",
            )

    # A status set through the API is stamped "now": a day after the scans, so it is newest.
    with time_machine.travel(at(24), tick=True):
        run_together(8, write)

    # Every scan is new and stored once.
    assert [changed[n] for n in (0, 2, 4, 6)] == [True] * 4
    scans = leg.events.filter(source=EventSource.SORTED).order_by("occurred_at")
    assert [(e.occurred_at, e.status) for e in scans] == [
        (at(n), Status.IN_TRANSIT) for n in (0, 2, 4, 6)
    ]
    # The PUTs (3, 5, 3, 5) in the order their locks were granted: each that changed the status
    # stored one event of it, each that found the status already set stored nothing, so no two
    # in a row are the same; nothing else sets 5, so the first 5 always changes it.
    puts = list(
        leg.events.filter(source=EventSource.CONSIGNLY)
        .order_by("occurred_at", "received_at")
        .values_list("status", flat=True)
    )
    assert Counter(puts) == Counter(2 + n % 4 for n in (1, 3, 5, 7) if changed[n])
    assert all(earlier != later for earlier, later in zip(puts, puts[1:], strict=False))
    assert Status.DELIVERED in puts
    assert leg.events.count() == sum(changed.values())
    # The newest event (the last PUT) sets the leg, and the leg the one-package consignment;
    # a full recompute agrees.
    leg.refresh_from_db()
    assert leg.status == puts[-1]
    assert Consignment.objects.get(pk=consignment.pk).status == leg.status
    services.rederive(consignment)
    assert Consignment.objects.get(pk=consignment.pk).status == leg.status
    leg.refresh_from_db()
    assert leg.status == puts[-1]


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_concurrent_batches_owe_each_subscriber_one_email_and_each_subscription_its_messages(
    settings,
):
    """Eight carriers' batches at once on one consignment: every write owes one
    tracking.updated, and the subscriber one pending email (the database refuses a second)."""
    from tracking.models import EmailKind, OutboundEmail, WebhookMessage
    from tracking.services import notifications

    settings.WEBHOOK_ALLOW_PRIVATE = True
    brand = BrandFactory()
    consignment = make_consignment(brand, packages=1)
    leg = make_leg(consignment, carrier=CarrierFactory())
    subscription, _ = services.create_subscription(
        brand=brand, url="http://127.0.0.1:9/hook", event_types=["tracking.updated"]
    )
    notifications.sign_up(consignment=consignment, email="a@example.com", language="en", client="x")
    notifications.confirm(consignment.email_subscribers.get())
    codes = ["COLLECTED_BY_CARRIER", "OUT_FOR_DELIVERY", "DELAYED", "DELIVERY_FAILED"] * 2

    def post_batch(n):
        spec = EventSpec(leg=leg, occurred_at=at(n + 1), code=codes[n], description=f"{n}")
        services.record_events(events=[spec], source=EventSource.SORTED)

    run_together(8, post_batch)
    assert WebhookMessage.objects.filter(subscription=subscription).count() == 8
    assert OutboundEmail.objects.filter(kind=EmailKind.UPDATE).count() == 1
