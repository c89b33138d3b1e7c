"""Webhooks in the back office (design sections 7.3 and 7.5): subscriptions added with the
secret shown once, changed, tested, rotated, disabled and enabled, replayed since a time and
deleted, all through the services; deliveries read-only with their attempts, and replayed.
Brand staff do all of it to their brand's rows only."""

import datetime as dt
import json

import pytest
import time_machine
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.utils import quote
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tests.admin.conftest import subscribe
from tests.factories import add_events, at, make_consignment, make_leg
from tracking import services
from tracking.models import (
    MessageState,
    WebhookAttempt,
    WebhookMessage,
    WebhookSubscription,
    WebhookType,
)

pytestmark = pytest.mark.django_db

SUBSCRIPTIONS = "admin:tracking_webhooksubscription"
MESSAGES = "admin:tracking_webhookmessage"
HOOK = "http://127.0.0.1:9/harbour/new-hooks"


@pytest.fixture(autouse=True)
def allow_private(settings):
    # The tests' endpoints are on 127.0.0.1; one test turns this off to see the refusal.
    settings.WEBHOOK_ALLOW_PRIVATE = True


def url(name: str, *args) -> str:
    return reverse(name, args=[quote(arg) for arg in args])


def notes(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def page(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def add_form(brand, **fields) -> dict:
    return {"brand": brand.pk, "url": HOOK, **fields}


def failed(message: WebhookMessage, *, created: dt.datetime | None = None) -> WebhookMessage:
    """The message as the delivery engine leaves it once its retries ran out."""
    changes = {"state": MessageState.FAILED, "next_attempt_at": None, "retries": 9}
    if created is not None:
        changes["created_utc"] = created
    WebhookMessage.objects.filter(pk=message.pk).update(
        attempt_count=10, last_status=503, **changes
    )
    message.refresh_from_db()
    return message


# -- Adding and changing ------------------------------------------------------------------


def test_adding_a_subscription_shows_its_secret_once(brand_staff, brand):
    response = brand_staff.post(
        url(f"{SUBSCRIPTIONS}_add"),
        add_form(brand, event_types=["consignment.status_changed", "consignment.created"]),
        follow=True,
    )
    sub = WebhookSubscription.objects.get(url=HOOK)
    assert sub.brand == brand
    # In the services' order, whatever order the boxes were posted in.
    assert sub.event_types == ["consignment.created", "consignment.status_changed"]
    assert sub.secret.startswith("whsec_")
    shown = [note for note in notes(response) if sub.secret in note]
    assert len(shown) == 1 and "shown only once" in shown[0]
    for again in (url(f"{SUBSCRIPTIONS}_change", sub.pk), url(f"{SUBSCRIPTIONS}_changelist")):
        assert sub.secret not in page(brand_staff.get(again))


def test_the_add_page_offers_only_their_brand_and_refuses_another(brand_staff, ours, theirs):
    form = brand_staff.get(url(f"{SUBSCRIPTIONS}_add")).context["adminform"].form
    assert list(form.fields["brand"].queryset) == [ours.consignment.brand]
    assert form.initial["brand"] == ours.consignment.brand.pk
    response = brand_staff.post(url(f"{SUBSCRIPTIONS}_add"), add_form(theirs.consignment.brand))
    assert "brand" in response.context["adminform"].form.errors
    assert not WebhookSubscription.objects.filter(url=HOOK).exists()


@override_settings(WEBHOOK_ALLOW_PRIVATE=False)
@pytest.mark.parametrize(
    ("address", "words"),
    [
        ("http://10.1.2.3/hooks", "must not point at a loopback, private or link-local address"),
        ("http://127.0.0.1:8080/hooks", "(it resolves to 127.0.0.1)"),
        ("ftp://93.184.215.14/hooks", "must be an http:// or https:// URL"),
    ],
)
def test_a_url_the_rules_refuse_is_the_url_fields_error(brand_staff, brand, address, words):
    response = brand_staff.post(url(f"{SUBSCRIPTIONS}_add"), add_form(brand, url=address))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert list(errors) == ["url"]
    assert words in errors["url"][0] and errors["url"][0].startswith("The URL ")
    assert not WebhookSubscription.objects.exists()


def test_a_change_goes_through_the_service_and_its_url_rule(brand_staff, ours, settings):
    sub = ours.subscription
    change = url(f"{SUBSCRIPTIONS}_change", sub.pk)
    form = brand_staff.get(change).context["adminform"].form
    assert form.initial["event_types"] == ["tracking.updated"]  # the boxes ticked
    assert "brand" not in form.fields  # the brand is read-only once created

    brand_staff.post(change, {"url": f"  {HOOK}  ", "event_types": []})
    sub.refresh_from_db()
    assert (sub.url, sub.event_types) == (HOOK, [])  # none ticked: every type

    settings.WEBHOOK_ALLOW_PRIVATE = False
    refused = brand_staff.post(change, {"url": "http://192.168.0.9/x", "event_types": []})
    assert "private" in refused.context["adminform"].form.errors["url"][0]
    sub.refresh_from_db()
    assert sub.url == HOOK


def test_the_list_shows_types_state_and_what_is_owed(brand_staff, ours):
    sub = ours.subscription
    services.send_test(sub)
    failed(ours.message)
    services.disable_subscription(sub, reason="the endpoint answered 410 Gone")
    body = page(brand_staff.get(url(f"{SUBSCRIPTIONS}_changelist")))
    assert "tracking.updated" in body
    assert "the endpoint answered 410 Gone" in body
    owed = url(f"{MESSAGES}_changelist") + f"?subscription__id__exact={sub.pk}"
    assert f'<a href="{owed}&amp;state__exact=failed">1 failed</a>' in body
    assert f'<a href="{owed}&amp;state__exact=held">1 held</a>' in body
    assert "Harbour &amp; Pine" not in body  # brand staff see one brand: no brand column


def test_the_lists_cost_a_fixed_number_of_queries(admin_client, brand, carrier):
    def queries(name) -> int:
        with CaptureQueriesContext(connection) as context:
            assert admin_client.get(url(f"{name}_changelist")).status_code == 200
        return len(context.captured_queries)

    def populate(count: int):
        for n in range(count):
            sub = subscribe(brand, f"http://127.0.0.1:9/hooks/{n}-{timezone.now().timestamp()}")
            message = services.send_test(sub)
            WebhookAttempt.objects.create(
                message=message, attempted_at=timezone.now(), status_code=500, duration_ms=9
            )
        consignment = make_consignment(brand, packages=1)
        add_events(make_leg(consignment, carrier=carrier), (1, "IN_TRANSIT"))

    populate(2)
    small = [queries(SUBSCRIPTIONS), queries(MESSAGES)]
    populate(20)
    # Subscriptions: the session and user, the brand filter, two counts, the page and what the
    # page's rows owe (one query). Deliveries: the session and user, the two filters (brand,
    # subscription), one count, the page.
    assert small == [queries(SUBSCRIPTIONS), queries(MESSAGES)] == [7, 6]


# -- What staff do to a subscription ------------------------------------------------------


def test_a_test_send_records_a_webhook_test_message(brand_staff, ours):
    sub = ours.subscription
    response = brand_staff.post(url(f"{SUBSCRIPTIONS}_test", sub.pk), follow=True)
    message = sub.messages.get(type=WebhookType.TEST)
    assert message.state == MessageState.PENDING
    assert json.loads(message.body)["data"] == {"webhookSubscriptionId": str(sub.pk)}
    assert any(message.pk in note and "queued" in note for note in notes(response))
    assert response.redirect_chain[-1][0] == url(f"{SUBSCRIPTIONS}_change", sub.pk)


def test_the_buttons_only_post(brand_staff, ours):
    for action in ("test", "rotate", "disable", "enable"):
        assert (
            brand_staff.get(url(f"{SUBSCRIPTIONS}_{action}", ours.subscription.pk)).status_code
            == 405
        )
    assert brand_staff.get(url(f"{MESSAGES}_replay", ours.message.pk)).status_code == 405


def test_rotating_shows_the_new_secret_once_and_both_sign_for_a_day(brand_staff, ours):
    sub = ours.subscription
    old = sub.secret
    before = timezone.now()  # the real clock: rotation stamps "now"
    response = brand_staff.post(url(f"{SUBSCRIPTIONS}_rotate", sub.pk), follow=True)
    sub.refresh_from_db()
    assert sub.secret != old and sub.previous_secret == old
    grace = sub.previous_secret_until - dt.timedelta(hours=24)
    assert before <= grace <= timezone.now()
    [shown] = [note for note in notes(response) if sub.secret in note]
    assert "shown only once" in shown and "24 hours" in shown
    assert "both the new and the previous secret" in shown
    assert old not in page(response)
    assert "the new and the previous secret both sign every delivery until" in page(response)


def test_rotating_again_within_the_day_says_the_oldest_secret_stops(brand_staff, ours):
    sub = ours.subscription
    with time_machine.travel(at(0), tick=False):
        services.rotate_secret(sub)
    with time_machine.travel(at(2), tick=False):
        response = brand_staff.post(url(f"{SUBSCRIPTIONS}_rotate", sub.pk), follow=True)
    assert any("stops signing now" in note for note in notes(response))


def test_disabling_holds_and_enabling_releases_what_was_held(brand_staff, ours):
    sub = ours.subscription  # its one message is pending
    response = brand_staff.post(url(f"{SUBSCRIPTIONS}_disable", sub.pk), follow=True)
    sub.refresh_from_db()
    assert not sub.active
    assert sub.disabled_reason == "disabled in the back office by hazel"
    assert WebhookMessage.objects.get(pk=ours.message.pk).state == MessageState.HELD
    assert any("held" in note for note in notes(response))
    assert "Enable" in page(response) and ">Disable<" not in page(response)

    services.send_test(sub)  # recorded while disabled: held too
    response = brand_staff.post(url(f"{SUBSCRIPTIONS}_enable", sub.pk), follow=True)
    sub.refresh_from_db()
    assert sub.active and sub.disabled_reason == ""
    assert "2 held messages released for delivery now" in " ".join(notes(response))
    assert set(sub.messages.values_list("state", flat=True)) == {MessageState.PENDING}


def test_the_list_actions_disable_and_enable_the_selected(brand_staff, ours):
    changelist = url(f"{SUBSCRIPTIONS}_changelist")
    selected = {ACTION_CHECKBOX_NAME: [ours.subscription.pk], "index": 0}
    brand_staff.post(changelist, {"action": "disable", **selected})
    assert not WebhookSubscription.objects.get(pk=ours.subscription.pk).active
    response = brand_staff.post(changelist, {"action": "enable", **selected}, follow=True)
    assert WebhookSubscription.objects.get(pk=ours.subscription.pk).active
    assert "1 held message released" in " ".join(notes(response))


def test_replay_since_sends_again_what_failed_or_was_held_since_then(brand_staff, ours):
    sub = ours.subscription
    old = failed(ours.message, created=at(-48))
    recent = failed(services.send_test(sub), created=at(1))
    delivered = services.send_test(sub)
    WebhookMessage.objects.filter(pk=delivered.pk).update(state=MessageState.DELIVERED)
    replay = url(f"{SUBSCRIPTIONS}_replay", sub.pk)
    form = page(brand_staff.get(replay))
    assert 'type="datetime-local"' in form

    since = at(0).strftime("%Y-%m-%dT%H:%M")
    response = brand_staff.post(replay, {"since": since}, follow=True)
    assert response.redirect_chain[-1][0] == url(f"{SUBSCRIPTIONS}_change", sub.pk)
    assert any(note.startswith("1 failed or held message since") for note in notes(response))
    states = dict(sub.messages.values_list("pk", "state"))
    assert states == {
        old.pk: MessageState.FAILED,
        recent.pk: MessageState.PENDING,
        delivered.pk: MessageState.DELIVERED,
    }
    assert WebhookMessage.objects.get(pk=recent.pk).retries == 0


def test_replay_since_refuses_a_time_to_come_and_no_time(brand_staff, ours):
    replay = url(f"{SUBSCRIPTIONS}_replay", ours.subscription.pk)
    future = (timezone.now() + dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    for since, words in ((future, "in the past"), ("", "required")):
        response = brand_staff.post(replay, {"since": since})
        assert response.status_code == 400
        assert words in str(response.context["form"].errors)


def test_replay_since_as_an_action_on_the_selected(brand_staff, ours):
    failed(ours.message, created=at(1))
    changelist = url(f"{SUBSCRIPTIONS}_changelist")
    selected = {"action": "replay_since", ACTION_CHECKBOX_NAME: [ours.subscription.pk]}
    asked = brand_staff.post(changelist, {**selected, "index": 0})
    assert 'name="since"' in page(asked)
    done = brand_staff.post(changelist, {**selected, "since": "2026-03-09T08:00"}, follow=True)
    assert any(note.startswith("1 failed or held message") for note in notes(done))
    assert WebhookMessage.objects.get(pk=ours.message.pk).state == MessageState.PENDING


def test_deleting_a_subscription_takes_its_delivery_log(brand_staff, ours):
    sub = ours.subscription
    WebhookAttempt.objects.create(
        message=ours.message, attempted_at=timezone.now(), status_code=500, duration_ms=5
    )
    delete = url(f"{SUBSCRIPTIONS}_delete", sub.pk)
    confirm = page(brand_staff.get(delete))
    assert "1 message(s) and 1 attempt(s)" in confirm
    assert 'type="submit"' in confirm  # nothing protected, no permission missing
    brand_staff.post(delete, {"post": "yes"})
    assert not WebhookSubscription.objects.filter(pk=sub.pk).exists()
    assert not WebhookMessage.objects.filter(pk=ours.message.pk).exists()


# -- Deliveries ---------------------------------------------------------------------------


def test_a_delivery_page_is_read_only_with_the_body_and_each_attempt(brand_staff, ours):
    message = failed(ours.message)
    WebhookAttempt.objects.create(
        message=message,
        attempted_at=at(1),
        status_code=503,
        duration_ms=120,
        response_excerpt="<h1>upstream down</h1>",
    )
    WebhookAttempt.objects.create(
        message=message, attempted_at=at(2), duration_ms=10_000, error="timed out after 10 s"
    )
    change = url(f"{MESSAGES}_change", message.pk)
    body = page(brand_staff.get(change))
    pretty = json.dumps(json.loads(message.body), indent=2, ensure_ascii=False)
    assert pretty.splitlines()[1].replace('"', "&quot;") in body  # indented, one key a line
    assert "503 Service Unavailable" in body and "120 ms" in body
    assert "&lt;h1&gt;upstream down&lt;/h1&gt;" in body  # the answer, escaped
    assert "timed out after 10 s" in body and "no answer" in body
    assert body.index("timed out after 10 s") < body.index("120 ms")  # newest first
    assert "Failed: every retry was spent" in body
    assert 'name="_save"' not in body and "<textarea" not in body
    assert ">Replay</button>" in body

    brand_staff.post(change, {"body": "{}", "state": "delivered"})
    assert WebhookMessage.objects.get(pk=message.pk).body == message.body
    assert brand_staff.get(url(f"{MESSAGES}_add")).status_code == 403


def test_deliveries_filter_by_subscription_type_and_state(brand_staff, ours):
    test = services.send_test(ours.subscription)
    changelist = url(f"{MESSAGES}_changelist")

    def listed(**params) -> set:
        return {m.pk for m in brand_staff.get(changelist, params).context["cl"].result_list}

    assert listed() == {ours.message.pk, test.pk}
    assert listed(type__exact="webhook.test") == {test.pk}
    assert listed(state__exact="pending", subscription__id__exact=ours.subscription.pk) == {
        ours.message.pk,
        test.pk,
    }
    assert listed(state__exact="failed") == set()
    assert listed(q=ours.message.pk.upper()) == {ours.message.pk}
    assert listed(q=f" {ours.consignment.reference.lower()} ") == {ours.message.pk}


def test_replaying_one_delivery_from_its_page_and_the_list(brand_staff, ours):
    message = failed(ours.message)
    response = brand_staff.post(url(f"{MESSAGES}_replay", message.pk), follow=True)
    message.refresh_from_db()
    assert (message.state, message.retries) == (MessageState.PENDING, 0)
    assert "1 message due again now, with the same webhook-id." in notes(response)

    failed(message)
    brand_staff.post(
        url(f"{MESSAGES}_changelist"),
        {"action": "replay_messages", ACTION_CHECKBOX_NAME: [message.pk], "index": 0},
    )
    assert WebhookMessage.objects.get(pk=message.pk).state == MessageState.PENDING


def test_a_replay_of_a_disabled_subscriptions_message_waits_held(brand_staff, ours):
    message = failed(ours.message)
    services.disable_subscription(ours.subscription, reason="test")
    response = brand_staff.post(url(f"{MESSAGES}_replay", message.pk), follow=True)
    assert WebhookMessage.objects.get(pk=message.pk).state == MessageState.HELD
    assert "0 messages due again now" in notes(response)[0] and "1 held" in notes(response)[0]


# -- Brand staff and their brand ----------------------------------------------------------


def test_brand_staff_can_act_on_no_other_brands_subscription(brand_staff, ours, theirs):
    sub, message = theirs.subscription, failed(theirs.message)
    for action in ("test", "rotate", "disable", "enable"):
        assert brand_staff.post(url(f"{SUBSCRIPTIONS}_{action}", sub.pk)).status_code == 404
    replay = url(f"{SUBSCRIPTIONS}_replay", sub.pk)
    assert brand_staff.get(replay).status_code == 404
    assert brand_staff.post(replay, {"since": "2026-03-09T08:00"}).status_code == 404
    assert brand_staff.post(url(f"{MESSAGES}_replay", message.pk)).status_code == 404
    assert brand_staff.post(url(f"{SUBSCRIPTIONS}_test", "not-a-uuid")).status_code == 404

    # The list's actions apply to the user's rows only, whatever ids are posted.
    for action in ("send_tests", "rotate_secrets", "disable"):
        brand_staff.post(
            url(f"{SUBSCRIPTIONS}_changelist"),
            {"action": action, ACTION_CHECKBOX_NAME: [sub.pk], "index": 0},
        )
    brand_staff.post(
        url(f"{SUBSCRIPTIONS}_changelist"),
        {"action": "replay_since", ACTION_CHECKBOX_NAME: [sub.pk], "since": "2026-03-09T08:00"},
    )
    brand_staff.post(
        url(f"{MESSAGES}_changelist"),
        {"action": "replay_messages", ACTION_CHECKBOX_NAME: [message.pk], "index": 0},
    )
    untouched = WebhookSubscription.objects.get(pk=sub.pk)
    assert (untouched.active, untouched.secret, untouched.previous_secret) == (
        True,
        sub.secret,
        "",
    )
    assert list(untouched.messages.values_list("pk", "state")) == [
        (message.pk, MessageState.FAILED)
    ]


def test_the_deliveries_filter_names_only_their_subscriptions(brand_staff, superuser, theirs, ours):
    second = subscribe(ours.consignment.brand, "http://127.0.0.1:9/harbour/second")
    test = services.send_test(second)
    changelist = url(f"{MESSAGES}_changelist")
    choices = brand_staff.get(changelist).context["cl"].filter_specs[0].lookup_choices
    assert sorted(label for _pk, label in choices) == sorted([ours.subscription.url, second.url])
    assert theirs.subscription.url not in page(brand_staff.get(changelist))
    assert theirs.subscription.url in page(superuser.get(changelist))

    def listed(client, subscription) -> list:
        response = client.get(changelist, {"subscription__id__exact": subscription.pk})
        return [m.pk for m in response.context["cl"].result_list]

    assert listed(brand_staff, second) == [test.pk]
    assert listed(brand_staff, theirs.subscription) == []
    assert listed(superuser, theirs.subscription) == [theirs.message.pk]


def test_brand_staff_may_manage_subscriptions_and_view_deliveries(brand_staff, ours):
    user = brand_staff.get(url(f"{SUBSCRIPTIONS}_changelist")).wsgi_request.user
    for action in ("view", "add", "change", "delete"):
        assert user.has_perm(f"tracking.{action}_webhooksubscription")
    assert user.has_perm("tracking.view_webhookmessage")
    assert user.has_perm("tracking.view_webhookattempt")
    assert not user.has_perm("tracking.change_webhookmessage")
    assert not user.has_perm("tracking.delete_webhookmessage")


def test_the_replay_form_starts_when_the_subscription_began_to_fail(brand_staff, ours):
    WebhookSubscription.objects.filter(pk=ours.subscription.pk).update(
        active=False, failing_since=at(0), disabled_at=at(120)
    )
    form = brand_staff.get(url(f"{SUBSCRIPTIONS}_replay", ours.subscription.pk)).context["form"]
    assert form.initial["since"] == at(0).replace(second=0, microsecond=0)


def test_the_pages_cost_the_same_however_many_attempts(brand_staff, ours):
    # A delivery's page: the session, the user and their permissions, the message, its
    # subscription and consignment, its attempts, and (not yet sent) its events' details. A
    # subscription's: what it owes, in one query.
    def queries(path) -> int:
        with CaptureQueriesContext(connection) as context:
            assert brand_staff.get(path).status_code == 200
        return len(context.captured_queries)

    def attempt(hours):
        WebhookAttempt.objects.create(
            message=ours.message, attempted_at=at(hours), status_code=500, duration_ms=9
        )

    pages = [
        url(f"{MESSAGES}_change", ours.message.pk),
        url(f"{SUBSCRIPTIONS}_change", ours.subscription.pk),
    ]
    attempt(1)
    few = [queries(path) for path in pages]
    for hours in range(2, 12):
        attempt(hours)
        services.send_test(ours.subscription)
    assert [queries(path) for path in pages] == few == [10, 8]


def test_a_message_whose_id_reads_like_an_admin_escape_opens(brand_staff, ours):
    """The admin escapes "_" in ids ("_25" is "%"): "msg_25..." must be quoted in every link,
    or its page is a 404 for about one message in forty."""
    WebhookMessage.objects.filter(pk=ours.message.pk).update(id="msg_25" + "0" * 30)
    message = WebhookMessage.objects.get(pk="msg_25" + "0" * 30)
    page = brand_staff.get(url(f"{MESSAGES}_change", message.pk))
    assert page.status_code == 200
    replayed = brand_staff.post(url(f"{MESSAGES}_replay", message.pk))
    assert replayed.status_code == 302
    assert brand_staff.get(replayed.url).status_code == 200
