"""Customers who hear about their parcel by email (design section 7.4): signing up on the page
(double opt-in), confirming, unsubscribing, suppressed addresses, and the emails a write owes.

An email is a row written in the transaction of the change that causes it; a worker sends it
(tracking.delivery.emails), woken on commit by the task's dotted path. A subscriber has at most
one pending update: changes within NOTIFY_COALESCE seconds of the first are folded into it,
and it says how things stand when it is sent. History posted late moves no status, so it
sends nothing.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from tracking import ratelimit
from tracking import status as rules
from tracking.models import (
    Consignment,
    EmailKind,
    EmailState,
    EmailSubscriber,
    Language,
    OutboundEmail,
    SubscriberState,
    SuppressedAddress,
)
from tracking.services import wakeups

SEND_TASK = "tracking.delivery.tasks.send_emails"
CONFIRM_FOR = dt.timedelta(days=7)

# What is worth an email, by the status reached.
STATUS_TRIGGERS = {
    rules.Status.DISPATCHED: "dispatched",
    rules.Status.OUT_FOR_DELIVERY: "out_for_delivery",
    rules.Status.DELIVERED: "delivered",
    rules.Status.ATTEMPTED_DELIVERY: "attempted",
    rules.Status.EXCEPTION: "exception",
}
TRIGGERS = (*STATUS_TRIGGERS.values(), "delay")


class SignUp:
    """What a sign-up did, worded by the page; the same answer whether or not the address was
    known, so the form reveals nothing about who follows a parcel."""

    ACCEPTED = "accepted"
    LIMITED = "limited"


def normalise_email(email: str) -> str:
    email = (email or "").strip()
    if len(email) > 254:
        raise ValidationError({"email": "must be at most 254 characters"})
    try:
        validate_email(email)
    except ValidationError:
        raise ValidationError({"email": "must be an email address"}) from None
    # One mailbox, one subscriber: Sam@Example.com and sam@example.com are the same reader
    # (no mail system in use treats the local part's case as meaningful).
    return email.lower()


def is_suppressed(email: str) -> bool:
    return SuppressedAddress.objects.filter(email=email.lower()).exists()


@transaction.atomic
def sign_up(*, consignment: Consignment, email: str, language: str, client: str) -> str:
    """Ask to hear about this consignment: a pending subscriber and a confirmation email
    (nothing else is sent before it is confirmed). Limits: RATE_LIMIT_NOTIFY_CLIENT sign-ups
    per client address, RATE_LIMIT_NOTIFY_CONSIGNMENT per consignment, RATE_LIMIT_NOTIFY_CONFIRM
    confirmation emails per address."""
    email = normalise_email(email)
    language = language if language in Language.values else consignment.brand.default_language
    if not ratelimit.hit("notify-client", client, settings.RATE_LIMIT_NOTIFY_CLIENT).allowed:
        return SignUp.LIMITED
    if not ratelimit.hit(
        "notify-consignment", str(consignment.pk), settings.RATE_LIMIT_NOTIFY_CONSIGNMENT
    ).allowed:
        return SignUp.LIMITED
    subscriber, created = EmailSubscriber.objects.select_for_update().get_or_create(
        consignment=consignment,
        email=email,
        defaults={"language": language, "state": SubscriberState.PENDING},
    )
    if subscriber.state == SubscriberState.CONFIRMED or is_suppressed(email):
        return SignUp.ACCEPTED
    if subscriber.state == SubscriberState.UNSUBSCRIBED:
        subscriber.state, subscriber.unsubscribed_at = SubscriberState.PENDING, None
    subscriber.language = language
    subscriber.save(update_fields=["state", "unsubscribed_at", "language"])
    if not ratelimit.hit(
        "notify-confirm", email.lower(), settings.RATE_LIMIT_NOTIFY_CONFIRM
    ).allowed:
        return SignUp.ACCEPTED  # the address has had its confirmations for today
    OutboundEmail.objects.filter(
        subscriber=subscriber, kind=EmailKind.CONFIRM, state=EmailState.PENDING
    ).update(state=EmailState.CANCELLED)
    OutboundEmail.objects.create(
        subscriber=subscriber,
        kind=EmailKind.CONFIRM,
        state=EmailState.PENDING,
        due_at=timezone.now(),
    )
    wake()
    return SignUp.ACCEPTED


@transaction.atomic
def confirm(subscriber: EmailSubscriber) -> bool:
    """The subscriber confirmed; True when this changed anything."""
    changed = EmailSubscriber.objects.filter(
        pk=subscriber.pk, state=SubscriberState.PENDING
    ).update(state=SubscriberState.CONFIRMED, confirmed_at=timezone.now())
    subscriber.refresh_from_db()
    return bool(changed)


@transaction.atomic
def unsubscribe(subscriber: EmailSubscriber) -> bool:
    """No more emails about this consignment; what was still to be sent is cancelled."""
    changed = (
        EmailSubscriber.objects.filter(pk=subscriber.pk)
        .exclude(state=SubscriberState.UNSUBSCRIBED)
        .update(state=SubscriberState.UNSUBSCRIBED, unsubscribed_at=timezone.now())
    )
    OutboundEmail.objects.filter(subscriber=subscriber, state=EmailState.PENDING).update(
        state=EmailState.CANCELLED
    )
    subscriber.refresh_from_db()
    return bool(changed)


@transaction.atomic
def suppress(email: str, *, reason: str) -> int:
    """Never email this address again (it bounced, complained or asked); returns how many
    pending emails to it were cancelled."""
    address = email.strip().lower()
    SuppressedAddress.objects.get_or_create(email=address, defaults={"reason": reason[:40]})
    return OutboundEmail.objects.filter(
        subscriber__email__iexact=address, state=EmailState.PENDING
    ).update(state=EmailState.CANCELLED)


@transaction.atomic
def lift_suppression(email: str) -> bool:
    """Email this address again; False when it was not suppressed."""
    deleted, _ = SuppressedAddress.objects.filter(email=email.strip().lower()).delete()
    return bool(deleted)


# -- Links ------------------------------------------------------------------------------------

_SALTS = {"confirm": "tracking.notify.confirm", "unsubscribe": "tracking.notify.unsubscribe"}


def _signer(purpose: str) -> signing.Signer:
    # A confirmation link is dated (it expires); an unsubscribe link is the same in every
    # email and never expires.
    kind = signing.TimestampSigner if purpose == "confirm" else signing.Signer
    return kind(salt=_SALTS[purpose])


def token_for(subscriber: EmailSubscriber, purpose: str) -> str:
    return _signer(purpose).sign(subscriber.pk.hex)


def subscriber_for(token: str, purpose: str) -> EmailSubscriber | None:
    """The subscriber a link names, or None for a forged, expired or stale one. A confirmation
    link lasts CONFIRM_FOR; an unsubscribe link never expires."""
    signer = _signer(purpose)
    try:
        if purpose == "confirm":
            pk = signer.unsign(token, max_age=CONFIRM_FOR)
        else:
            pk = signer.unsign(token)
    except (signing.BadSignature, TypeError, ValueError):
        return None
    try:
        return EmailSubscriber.objects.select_related("consignment__brand").get(pk=pk)
    except (EmailSubscriber.DoesNotExist, ValidationError, ValueError):
        return None


# -- Recording, in the writer's transaction ---------------------------------------------------


def triggers_between(before: tuple[int, int], after: tuple[int, int]) -> list[str]:
    """What a move from (status, warning) `before` to `after` is worth telling."""
    if before == after:
        return []
    found = []
    status = rules.Status(after[0])
    if after[0] != before[0] and status in STATUS_TRIGGERS:
        found.append(STATUS_TRIGGERS[status])
    if after[1] == rules.Warning.DELAY and before[1] != rules.Warning.DELAY:
        found.append("delay")
    return found


def record_events(*, heads, rolled, packages, before, now) -> None:
    """The emails a write of events owes (arguments as services.webhooks.record_events'):
    nothing at all is read unless a status or warning moved to something worth an email."""
    triggered: dict = {}
    for pk, head in heads.items():
        found = triggers_between((head.status, head.warning), (rolled[pk][0], rolled[pk][1]))
        for package in packages.get(pk, []):
            found += triggers_between(
                before.get(package.id, (0, 0)), (package.status, package.warning)
            )
        if found:
            triggered[pk] = list(dict.fromkeys(found))
    if triggered:
        owe(triggered, now)


def owe(triggered: dict, now: dt.datetime) -> None:
    """Fold these triggers ({consignment id: [trigger]}) into each confirmed subscriber's
    pending update, or start one due NOTIFY_COALESCE seconds from now."""
    _recipients_of(triggered)
    subscribers = list(
        EmailSubscriber.objects.filter(
            consignment_id__in=list(triggered), state=SubscriberState.CONFIRMED
        ).values_list("pk", "consignment_id")
    )
    if not subscribers:
        return
    pending = {
        email.subscriber_id: email
        for email in OutboundEmail.objects.select_for_update().filter(
            subscriber_id__in=[pk for pk, _c in subscribers],
            kind=EmailKind.UPDATE,
            state=EmailState.PENDING,
        )
    }
    due = now + dt.timedelta(seconds=settings.NOTIFY_COALESCE)
    new, folded = [], []
    for pk, consignment_id in subscribers:
        triggers = triggered[consignment_id]
        email = pending.get(pk)
        if email is None:
            new.append(
                OutboundEmail(
                    subscriber_id=pk,
                    kind=EmailKind.UPDATE,
                    triggers=triggers,
                    state=EmailState.PENDING,
                    due_at=due,
                    created_utc=now,
                )
            )
        else:
            email.triggers = list(dict.fromkeys([*email.triggers, *triggers]))
            folded.append(email)
    OutboundEmail.objects.bulk_create(new, batch_size=100)
    OutboundEmail.objects.bulk_update(folded, ["triggers"], batch_size=100)
    if new:
        wake(run_after=due)


def _recipients_of(triggered: dict) -> None:
    """Where the brand notifies recipients, the recipient email is a confirmed subscriber
    (created the first time something is worth telling them)."""
    rows = list(
        Consignment.objects.filter(pk__in=list(triggered), brand__notify_recipient=True)
        .exclude(recipient_email="")
        .values_list("pk", "recipient_email", "brand__default_language")
    )
    if not rows:
        return
    suppressed = set(
        SuppressedAddress.objects.filter(
            email__in=[email.lower() for _pk, email, _l in rows]
        ).values_list("email", flat=True)
    )
    EmailSubscriber.objects.bulk_create(
        [
            EmailSubscriber(
                consignment_id=pk,
                email=normalise_email(email),
                language=language,
                state=SubscriberState.CONFIRMED,
                is_recipient=True,
                confirmed_at=timezone.now(),
            )
            for pk, email, language in rows
            if email.lower() not in suppressed
        ],
        ignore_conflicts=True,
    )


def wake(*, run_after: dt.datetime | None = None) -> None:
    """Wake the sending task once the current transaction commits, unless a copy is queued
    and unstarted already (`wakeups.wake`)."""
    wakeups.wake(SEND_TASK, run_after=run_after)
