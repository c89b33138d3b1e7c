"""Delivering messages to a real local receiver (design section 7.3): Standard Webhooks
signatures verified by the `standardwebhooks` library, the retry schedule, timeouts, 410 and
five days of failures disabling with an email, no redirects, the private-address refusal at
delivery, rotation, replay with the same id, leases after a killed worker, and pruning."""

import datetime as dt
import json

import pytest
import time_machine
from django.core import mail
from django.utils import timezone
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from tests.factories import add_events, make_subscription
from tracking import services
from tracking.delivery import http, tasks, webhooks
from tracking.models import MessageState, WebhookAttempt, WebhookMessage, WebhookSubscription

pytestmark = pytest.mark.django_db


def subscribe(brand, receiver, **fields):
    subscription, secret = services.create_subscription(brand=brand, url=receiver.url, **fields)
    return subscription, secret


def verify(secret, request):
    return Webhook(secret).verify(request.body, request.headers)


def test_a_delivery_is_verified_by_the_standard_webhooks_library(brand, leg, receiver):
    subscription, secret = subscribe(brand, receiver, event_types=["tracking.updated"])
    add_events(leg, (1, "IN_TRANSIT", "Left the depot"))
    assert webhooks.drain() == 1
    [request] = receiver.requests
    assert request.path == "/hooks/tracking"
    payload = verify(secret, request)
    assert payload["type"] == "tracking.updated"
    assert payload["data"]["events"][0]["details"] == "Left the depot"
    message = subscription.messages.get()
    assert request.headers["webhook-id"] == message.pk
    assert request.headers["Content-Type"] == "application/json"
    assert (message.state, message.attempt_count, message.last_status) == ("delivered", 1, 200)
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "A" * 32).verify(request.body, request.headers)


def test_a_failure_is_retried_on_the_schedule_with_the_same_id(brand, leg, receiver):
    subscription, secret = subscribe(brand, receiver, event_types=["tracking.updated"])
    receiver.answer(500, b"database down")
    add_events(leg, (1, "IN_TRANSIT"))
    webhooks.drain()
    message = subscription.messages.get()
    assert message.state == MessageState.PENDING
    wait = (message.next_attempt_at - timezone.now()).total_seconds()
    assert 4.4 <= wait <= 5.5
    attempt = message.attempts.get()
    assert (attempt.status_code, attempt.response_excerpt) == (500, "database down")
    with time_machine.travel(message.next_attempt_at + dt.timedelta(seconds=1)):
        assert webhooks.drain() == 1
    first, second = receiver.requests
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == message.pk
    # Each attempt is signed afresh, with its own timestamp.
    assert first.headers["webhook-timestamp"] != second.headers["webhook-timestamp"]
    assert first.body == second.body
    verify(secret, second)  # a retry is signed too
    message.refresh_from_db()
    assert message.state == MessageState.DELIVERED


@pytest.mark.parametrize(
    ("retries", "low", "high"),
    [(1, 4.5, 5.5), (2, 270, 330), (3, 1620, 1980), (9, 77760, 95040)],
)
def test_the_schedule_and_its_jitter(retries, low, high):
    for rand in (0.0, 0.5, 0.999):
        delay = webhooks.retry_delay(retries, rand=lambda r=rand: r).total_seconds()
        assert low <= delay <= high
    assert webhooks.retry_delay(10) is None


def test_after_the_last_retry_the_message_has_failed(brand, leg, receiver):
    subscription, _ = subscribe(brand, receiver, event_types=["tracking.updated"])
    add_events(leg, (1, "IN_TRANSIT"))
    message = subscription.messages.get()
    WebhookMessage.objects.filter(pk=message.pk).update(retries=9)
    receiver.answer(503)
    webhooks.drain()
    message.refresh_from_db()
    assert (message.state, message.next_attempt_at) == (MessageState.FAILED, None)


def test_a_slow_endpoint_times_out(brand, leg, receiver, monkeypatch):
    monkeypatch.setattr(http, "TIMEOUT", 0.3)
    subscription, _ = subscribe(brand, receiver, event_types=["tracking.updated"])
    receiver.answer(200, delay=1.0)
    add_events(leg, (1, "IN_TRANSIT"))
    webhooks.drain()
    attempt = WebhookAttempt.objects.get()
    assert attempt.status_code is None
    assert "no answer within" in attempt.error
    assert subscription.messages.get().state == MessageState.PENDING


def test_a_refused_connection_is_an_attempt_that_failed(brand, leg):
    subscription = make_subscription(brand, url="http://127.0.0.1:9/nobody", event_types=[])
    add_events(leg, (1, "IN_TRANSIT"))
    webhooks.drain()
    attempt = WebhookAttempt.objects.first()
    assert attempt.status_code is None and "ConnectionRefused" in attempt.error
    assert subscription.messages.filter(state=MessageState.PENDING).count() == 2


def test_redirects_are_not_followed(brand, leg, receiver):
    subscription, _ = subscribe(brand, receiver, event_types=["tracking.updated"])
    receiver.answer(302, headers={"Location": receiver.url + "/elsewhere"})
    add_events(leg, (1, "IN_TRANSIT"))
    webhooks.drain()
    assert len(receiver.requests) == 1
    message = subscription.messages.get()
    assert (message.state, message.last_status) == (MessageState.PENDING, 302)


def test_the_answer_is_logged_up_to_a_kilobyte(brand, leg, receiver):
    subscribe(brand, receiver, event_types=["tracking.updated"])
    receiver.answer(400, body=b"x" * 5000)
    add_events(leg, (1, "IN_TRANSIT"))
    webhooks.drain()
    assert len(WebhookAttempt.objects.get().response_excerpt) == 1024


def test_private_addresses_are_refused_at_delivery(brand, leg, receiver, settings):
    subscription, _ = subscribe(brand, receiver, event_types=["tracking.updated"])
    settings.WEBHOOK_ALLOW_PRIVATE = False
    add_events(leg, (1, "IN_TRANSIT"))
    webhooks.drain()
    assert receiver.requests == []
    attempt = WebhookAttempt.objects.get()
    assert "127.0.0.1" in attempt.error and "not a public address" in attempt.error


def test_gone_disables_at_once_holds_the_rest_and_emails_the_brand(
    brand, leg, receiver, django_capture_on_commit_callbacks
):
    subscription, _ = subscribe(brand, receiver)
    receiver.answer(410, times=2)  # both messages of the first write
    add_events(leg, (1, "IN_TRANSIT"))
    with django_capture_on_commit_callbacks(execute=True):
        webhooks.drain()
    subscription.refresh_from_db()
    assert not subscription.active
    assert "410" in subscription.disabled_reason
    assert set(subscription.messages.values_list("state", flat=True)) == {MessageState.HELD}
    [email] = mail.outbox
    assert email.to == ["support@shop.example"]
    assert subscription.url in email.subject
    assert "held" in email.body
    # A disabled subscription's messages are kept, and delivered once it is enabled.
    add_events(leg, (2, "OUT_FOR_DELIVERY"))
    held = subscription.messages.count()
    assert services.enable_subscription(subscription) == held
    webhooks.drain()
    assert subscription.messages.filter(state=MessageState.DELIVERED).count() == held


def test_five_days_of_failures_disable(brand, leg, receiver, django_capture_on_commit_callbacks):
    subscription, _ = subscribe(brand, receiver, event_types=["tracking.updated"])
    receiver.answer(500, times=10)
    add_events(leg, (1, "IN_TRANSIT"))
    webhooks.drain()
    subscription.refresh_from_db()
    started = subscription.failing_since
    assert started is not None and subscription.active
    later = started + dt.timedelta(days=5, minutes=1)
    with time_machine.travel(later):
        add_events(leg, (2, "IN_TRANSIT", "next"))
        with django_capture_on_commit_callbacks(execute=True):
            webhooks.drain()
    subscription.refresh_from_db()
    assert not subscription.active
    assert "every delivery failed since" in subscription.disabled_reason
    assert len(mail.outbox) == 1


def test_a_success_clears_the_failing_clock(brand, leg, receiver):
    subscription, _ = subscribe(brand, receiver, event_types=["tracking.updated"])
    receiver.answer(500)
    add_events(leg, (1, "IN_TRANSIT"))
    webhooks.drain()
    add_events(leg, (2, "IN_TRANSIT", "again"))
    webhooks.drain()
    subscription.refresh_from_db()
    assert subscription.failing_since is None


def test_during_a_rotation_both_secrets_sign(brand, leg, receiver):
    subscription, old = subscribe(brand, receiver, event_types=["tracking.updated"])
    new = services.rotate_secret(subscription)
    add_events(leg, (1, "IN_TRANSIT"))
    webhooks.drain()
    [request] = receiver.requests
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    verify(old, request)
    verify(new, request)
    with time_machine.travel(timezone.now() + dt.timedelta(hours=24, minutes=1)):
        add_events(leg, (2, "IN_TRANSIT", "later"))
        webhooks.drain()
        later = receiver.requests[-1]
        verify(new, later)
        with pytest.raises(WebhookVerificationError):
            verify(old, later)


def test_replay_sends_the_same_message_again(brand, leg, receiver):
    subscription, secret = subscribe(brand, receiver, event_types=["tracking.updated"])
    add_events(leg, (1, "IN_TRANSIT"))
    webhooks.drain()
    message = subscription.messages.get()
    assert services.replay([message]) == 1
    webhooks.drain()
    first, second = receiver.requests
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    verify(secret, second)
    assert message.attempts.count() == 2


def test_replay_failed_since_a_time(brand, leg, receiver):
    subscription, _ = subscribe(brand, receiver, event_types=["tracking.updated"])
    add_events(leg, (1, "IN_TRANSIT"), (2, "OUT_FOR_DELIVERY"))
    WebhookMessage.objects.update(state=MessageState.FAILED, next_attempt_at=None)
    since = timezone.now() - dt.timedelta(hours=1)
    subscriptions = WebhookSubscription.objects.filter(pk=subscription.pk)
    assert services.replay_failed_since(subscriptions, since) == 1
    webhooks.drain()
    assert len(receiver.requests) == 1


def test_a_killed_worker_delays_a_message_but_never_loses_it(brand, leg, receiver):
    """A worker that claimed a message and died (no outcome recorded) holds it only until its
    lease runs out; then another worker delivers it, under the same id."""
    subscription, _ = subscribe(brand, receiver, event_types=["tracking.updated"])
    add_events(leg, (1, "IN_TRANSIT"))
    [claimed] = webhooks.claim(10)  # ... and the worker is killed here
    assert webhooks.claim(10) == []  # another worker does not take it meanwhile
    with time_machine.travel(timezone.now() + webhooks.LEASE + dt.timedelta(seconds=1)):
        assert webhooks.drain() == 1
    assert receiver.requests[0].headers["webhook-id"] == claimed.pk
    assert subscription.messages.get().state == MessageState.DELIVERED


def test_two_workers_never_claim_the_same_message(brand, leg, receiver):
    subscribe(brand, receiver, event_types=["tracking.updated"])
    for hour in range(30):
        add_events(leg, (hour, "IN_TRANSIT", f"scan {hour}"))
    first = {m.pk for m in webhooks.claim(16)}
    second = {m.pk for m in webhooks.claim(16)}
    assert len(first) == 16 and len(second) == 14
    assert not first & second


def test_one_drain_delivers_many_messages(brand, leg, receiver):
    subscribe(brand, receiver, event_types=["tracking.updated"])
    for hour in range(40):
        add_events(leg, (hour, "IN_TRANSIT", f"scan {hour}"))
    assert webhooks.drain() == 40
    assert len({r.headers["webhook-id"] for r in receiver.requests}) == 40


def test_a_test_message(brand, receiver):
    subscription, secret = subscribe(brand, receiver, event_types=["consignment.created"])
    message = services.send_test(subscription)
    webhooks.drain()
    payload = verify(secret, receiver.requests[0])
    assert payload["type"] == "webhook.test"
    assert receiver.requests[0].headers["webhook-id"] == message.pk


def test_old_finished_messages_are_pruned_and_pending_ones_kept(brand, leg, receiver, settings):
    settings.WEBHOOK_RETENTION_DAYS = 30
    subscription, _ = subscribe(brand, receiver, event_types=["tracking.updated"])
    add_events(leg, (1, "IN_TRANSIT"), (2, "OUT_FOR_DELIVERY"))
    webhooks.drain()
    add_events(leg, (3, "DELIVERED"))  # still pending
    with time_machine.travel(timezone.now() + dt.timedelta(days=31)):
        assert webhooks.prune(timezone.now()) == 1
    assert list(subscription.messages.values_list("state", flat=True)) == ["pending"]
    assert WebhookAttempt.objects.count() == 0


def test_the_sweep_wakes_delivery_and_keeps_one_chain(
    brand, leg, receiver, django_capture_on_commit_callbacks
):
    from django_tasks_db.models import DBTaskResult

    subscribe(brand, receiver, event_types=["tracking.updated"])
    add_events(leg, (1, "IN_TRANSIT"))
    with django_capture_on_commit_callbacks(execute=True):
        result = tasks.sweep.call()
    assert result["due"] is True
    names = sorted(r.task_path.rsplit(".", 1)[1] for r in DBTaskResult.objects.all())
    assert names == ["deliver_webhooks", "sweep"]
    # A stale copy of the chain (another token) stops without enqueueing another.
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.sweep.call("not-the-owner") == {"stale": True}
    assert DBTaskResult.objects.filter(task_path__endswith="sweep").count() == 1


def test_healthz_reports_a_stopped_worker(client, brand, leg, receiver):
    subscribe(brand, receiver, event_types=["tracking.updated"])
    add_events(leg, (1, "IN_TRANSIT"))
    assert client.get("/healthz").json()["worker"] == "ok"
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=6)):
        answer = client.get("/healthz")
    assert answer.status_code == 200
    body = answer.json()
    assert (body["status"], body["worker"]) == ("degraded", "stalled")
    assert body["oldestDueSeconds"] >= 360


def test_the_body_is_what_was_recorded(brand, leg, receiver):
    subscription, secret = subscribe(brand, receiver, event_types=["tracking.updated"])
    add_events(leg, (1, "IN_TRANSIT"))
    webhooks.drain()
    message = subscription.messages.get()
    assert receiver.requests[0].body.decode() == message.body
    assert json.loads(message.body) == verify(secret, receiver.requests[0])


def test_a_leased_message_is_not_due_again_until_its_lease_runs_out(brand, leg, receiver):
    """Otherwise each run would wake the next at once while a batch is in flight elsewhere."""
    subscribe(brand, receiver, event_types=["tracking.updated"])
    add_events(leg, (1, "IN_TRANSIT"))
    [claimed] = webhooks.claim(10)
    claimed.refresh_from_db()
    assert webhooks.next_retry_at() == claimed.leased_until
