"""Customer emails end to end through a real SMTP server (design section 7.4): double opt-in,
the triggers and their coalescing, nothing for late history, one email per change per
subscriber, the same Message-ID on a resend after a crash, RFC 8058 headers, suppression,
recipients notified without opt-in, the abuse limits and pruning."""

import datetime as dt
import re

import pytest
import time_machine
from django.utils import timezone

from tests.factories import add_events, make_consignment, make_leg
from tracking.delivery import emails
from tracking.models import EmailKind, EmailState, OutboundEmail, SubscriberState
from tracking.services import notifications

pytestmark = pytest.mark.django_db


def sign_up(consignment, email="sam@example.com", language="en", client="203.0.113.5"):
    return notifications.sign_up(
        consignment=consignment, email=email, language=language, client=client
    )


def confirmed(consignment, email="sam@example.com", language="en"):
    sign_up(consignment, email, language)
    subscriber = consignment.email_subscribers.get(email=email)
    notifications.confirm(subscriber)
    OutboundEmail.objects.filter(kind=EmailKind.CONFIRM).update(state=EmailState.SENT)
    return subscriber


def after_coalescing():
    return time_machine.travel(timezone.now() + dt.timedelta(seconds=601))


def test_double_opt_in_sends_only_the_confirmation_until_confirmed(smtp, consignment, leg):
    assert sign_up(consignment) == notifications.SignUp.ACCEPTED
    add_events(leg, (1, "COLLECTED_BY_CARRIER"))
    with after_coalescing():
        assert emails.drain() == 1
    [(to, message)] = smtp.messages
    assert to == ["sam@example.com"]
    assert "Confirm" in message["Subject"]
    _message, text, html = smtp.bodies()
    subscriber = consignment.email_subscribers.get()
    [token] = re.findall(r"https://track\.example\.com/notify/confirm/([^/\s]+)/", text)
    assert f"/notify/confirm/{token}/" in html
    assert notifications.subscriber_for(token, "confirm") == subscriber
    assert subscriber.state == SubscriberState.PENDING
    assert not OutboundEmail.objects.filter(kind=EmailKind.UPDATE).exists()
    with time_machine.travel(timezone.now() + dt.timedelta(days=8)):
        assert notifications.subscriber_for(token, "confirm") is None  # a week, then stale


def test_a_confirmed_subscriber_hears_of_a_change_in_their_language(smtp, consignment, leg):
    subscriber = confirmed(consignment, language="de")
    add_events(leg, (1, "OUT_FOR_DELIVERY", "With the driver"))
    assert emails.drain() == 0  # not before the coalescing window has passed
    with after_coalescing():
        assert emails.drain() == 1
    message, text, html = smtp.bodies()
    row = OutboundEmail.objects.get(kind=EmailKind.UPDATE)
    assert message["Message-ID"] == f"<{row.pk}@track.example.com>"
    assert "Harbour & Pine" in message["Subject"]
    assert "Zustellung" in message["Subject"] or "Zustellung" in text
    unsubscribe = notifications.token_for(subscriber, "unsubscribe")
    assert message["List-Unsubscribe"].strip() == (
        f"<https://track.example.com/notify/unsubscribe/{unsubscribe}/>"
    )
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["Reply-To"] == "help@pine.example"
    assert f"/track/{consignment.reference}/?lang=de" in html
    assert 'lang="de"' in html and "With the driver" in text
    assert "<script" not in html and "fonts.googleapis" not in html
    assert row.state == EmailState.SENT and row.triggers == ["out_for_delivery"]


def test_changes_within_the_window_make_one_email(smtp, consignment, leg):
    confirmed(consignment)
    add_events(leg, (1, "COLLECTED_BY_CARRIER"))
    with time_machine.travel(timezone.now() + dt.timedelta(seconds=300)):
        add_events(leg, (2, "OUT_FOR_DELIVERY"))
    with after_coalescing():
        emails.drain()
    [row] = OutboundEmail.objects.filter(kind=EmailKind.UPDATE)
    assert row.triggers == ["dispatched", "out_for_delivery"]
    assert len(smtp.messages) == 1
    _message, text, _html = smtp.bodies()
    assert "Out for delivery" in text  # how things stand when it is sent


def test_history_posted_late_sends_nothing(smtp, consignment, leg):
    confirmed(consignment)
    add_events(leg, (5, "OUT_FOR_DELIVERY"))
    with after_coalescing():
        emails.drain()
    before = len(smtp.messages)
    add_events(leg, (1, "COLLECTED_BY_CARRIER"), (2, "IN_TRANSIT"))  # older than the status
    with time_machine.travel(timezone.now() + dt.timedelta(hours=2)):
        emails.drain()
    assert len(smtp.messages) == before == 1


def test_no_email_for_what_is_not_worth_one(smtp, consignment, leg):
    confirmed(consignment)
    add_events(leg, (1, "LABEL_PRINTED"), (2, "IN_TRANSIT"))
    assert not OutboundEmail.objects.filter(kind=EmailKind.UPDATE).exists()


@pytest.mark.parametrize(
    ("code", "trigger"),
    [
        ("DELIVERED", "delivered"),
        ("DELIVERY_FAILED", "attempted"),
        ("DAMAGED", "exception"),
        ("DELAYED", "delay"),
    ],
)
def test_each_trigger(smtp, consignment, leg, code, trigger):
    confirmed(consignment)
    add_events(leg, (1, code))
    assert OutboundEmail.objects.get(kind=EmailKind.UPDATE).triggers[-1] == trigger


def test_a_resend_after_a_crash_carries_the_same_message_id(smtp, consignment, leg):
    confirmed(consignment)
    add_events(leg, (1, "OUT_FOR_DELIVERY"))
    with after_coalescing():
        [claimed] = emails.claim(10)
        emails.build(claimed).send()  # the server took it... and the worker died here
    with time_machine.travel(timezone.now() + dt.timedelta(seconds=601) + emails.LEASE):
        assert emails.drain() == 1
    first, second = smtp.messages
    assert first[1]["Message-ID"] == second[1]["Message-ID"] == emails.message_id(claimed)


def test_one_email_per_change_per_subscriber(smtp, consignment, leg):
    """Two batches, one change each, within the window: the database allows one pending
    update per subscriber, so the second folds into the first."""
    confirmed(consignment)
    add_events(leg, (1, "COLLECTED_BY_CARRIER"))
    add_events(leg, (2, "OUT_FOR_DELIVERY"))
    assert OutboundEmail.objects.filter(kind=EmailKind.UPDATE).count() == 1


def test_unsubscribing_cancels_what_was_pending(smtp, consignment, leg):
    subscriber = confirmed(consignment)
    add_events(leg, (1, "OUT_FOR_DELIVERY"))
    assert notifications.unsubscribe(subscriber)
    with after_coalescing():
        assert emails.drain() == 0
    assert OutboundEmail.objects.get(kind=EmailKind.UPDATE).state == EmailState.CANCELLED
    add_events(leg, (2, "DELIVERED"))
    assert OutboundEmail.objects.filter(state=EmailState.PENDING).count() == 0


def test_a_suppressed_address_gets_nothing(smtp, consignment, leg):
    confirmed(consignment)
    add_events(leg, (1, "OUT_FOR_DELIVERY"))
    assert notifications.suppress("Sam@Example.com", reason="bounce") == 1
    with after_coalescing():
        assert emails.drain() == 0
    assert smtp.messages == []
    assert sign_up(consignment) == notifications.SignUp.ACCEPTED  # the same answer...
    assert not OutboundEmail.objects.filter(state=EmailState.PENDING).exists()  # ...but nothing


def test_the_brand_can_notify_recipients_without_opt_in(smtp, brand, consignment, leg):
    brand.notify_recipient = True
    brand.save()
    add_events(leg, (1, "OUT_FOR_DELIVERY"))
    subscriber = consignment.email_subscribers.get()
    assert (subscriber.email, subscriber.is_recipient, subscriber.state) == (
        "alex@example.com",
        True,
        SubscriberState.CONFIRMED,
    )
    with after_coalescing():
        assert emails.drain() == 1
    assert smtp.messages[0][0] == ["alex@example.com"]


def test_sign_up_limits(smtp, brand, settings):
    consignments = [make_consignment(brand) for _ in range(7)]
    answers = [sign_up(c, f"a{n}@example.com") for n, c in enumerate(consignments[:6])]
    assert answers == ["accepted"] * 5 + ["limited"]  # 5 per client address per hour
    one = consignments[6]
    answers = [sign_up(one, f"b{n}@example.com", client=f"198.51.100.{n}") for n in range(4)]
    assert answers == ["accepted"] * 3 + ["limited"]  # 3 per consignment per day


def test_three_confirmations_per_address_per_day(smtp, brand):
    sent = []
    for n in range(4):
        consignment = make_consignment(brand)
        sign_up(consignment, "same@example.com", client=f"198.51.100.{n}")
        sent.append(OutboundEmail.objects.filter(kind=EmailKind.CONFIRM).count())
    assert sent == [1, 2, 3, 3]


def test_a_bad_address_is_refused_by_field(consignment):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as refused:
        sign_up(consignment, "not-an-address")
    assert refused.value.message_dict == {"email": ["must be an email address"]}


def test_a_failing_server_is_retried_then_gives_up(consignment, leg, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 1
    sign_up(consignment)
    emails.drain()
    row = OutboundEmail.objects.get()
    assert (row.state, row.attempts) == (EmailState.PENDING, 1)
    assert "Connection" in row.last_error or "refused" in row.last_error.lower()
    OutboundEmail.objects.update(attempts=5, due_at=timezone.now())
    emails.drain()
    assert OutboundEmail.objects.get().state == EmailState.FAILED


def test_sent_emails_are_pruned_after_the_retention(smtp, consignment, leg):
    sign_up(consignment)
    emails.drain()
    with time_machine.travel(timezone.now() + dt.timedelta(days=31)):
        assert emails.prune(timezone.now()) == 1
    assert not OutboundEmail.objects.exists()


def test_the_updates_of_another_consignment_are_not_sent(smtp, brand, consignment, leg):
    confirmed(consignment)
    other = make_consignment(brand)
    add_events(make_leg(other), (1, "OUT_FOR_DELIVERY"))
    assert not OutboundEmail.objects.filter(kind=EmailKind.UPDATE).exists()


def test_a_leased_email_is_not_due_again_until_its_lease_runs_out(smtp, consignment):
    sign_up(consignment)
    [claimed] = emails.claim(10)
    claimed.refresh_from_db()
    assert emails.next_due_at() == claimed.leased_until
