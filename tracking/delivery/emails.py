"""Sending the notification emails (design section 7.4): claim what is due under a lease,
compose it in the subscriber's language, send it through Django's email API, mark it sent.

The row is the unit: one email per row, its id the Message-ID, so a worker that dies after
the server accepted an email and before it was marked sent resends the same Message-ID (a
receiving server or the reader's client can tell it is a repeat). Suppressed addresses and
unsubscribed subscribers are cancelled, not sent; a failure is retried five times over about
eight hours, then the row has failed.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import urllib.parse

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db.models import Min, Q
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from tracking.delivery import schedule
from tracking.delivery.email_content import compose
from tracking.models import (
    EmailKind,
    EmailState,
    OutboundEmail,
    SubscriberState,
    SuppressedAddress,
)
from tracking.services import notifications

logger = logging.getLogger(__name__)

RETRY_DELAYS = tuple(dt.timedelta(minutes=m) for m in (1, 5, 30, 120, 360))
BATCH = 50
LEASE = dt.timedelta(minutes=5)
DRAIN_FOR = 60.0


def due_filter(now: dt.datetime) -> Q:
    return Q(state=EmailState.PENDING, due_at__lte=now) & (
        Q(leased_until__isnull=True) | Q(leased_until__lt=now)
    )


def message_id(email: OutboundEmail) -> str:
    host = urllib.parse.urlsplit(settings.PUBLIC_URL).hostname or "localhost"
    return f"<{email.pk}@{host}>"


def claim(limit: int) -> list[OutboundEmail]:
    token = schedule.lease(
        OutboundEmail, due_filter(timezone.now()), order="due_at", limit=limit, hold=LEASE
    )
    if token is None:
        return []
    return list(
        OutboundEmail.objects.filter(lease=token).select_related("subscriber__consignment__brand")
    )


def build(email: OutboundEmail) -> EmailMultiAlternatives:
    composed = compose(email)
    brand = email.subscriber.consignment.brand
    headers = {"Message-ID": message_id(email)}
    if email.kind == EmailKind.UPDATE:
        # RFC 8058: one POST to this URL unsubscribes, without login or cookie.
        headers["List-Unsubscribe"] = f"<{composed.unsubscribe_url}>"
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    if brand.support_email:
        headers["Reply-To"] = brand.support_email
    message = EmailMultiAlternatives(
        subject=composed.subject,
        body=composed.text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[email.subscriber.email],
        headers=headers,
    )
    message.attach_alternative(composed.html, "text/html")
    return message


def drain(*, budget: float = DRAIN_FOR) -> int:
    """Send what is due until nothing is or the budget is spent; returns how many were sent."""
    started, sent = time.monotonic(), 0
    while time.monotonic() - started < budget:
        batch = claim(BATCH)
        if not batch:
            break
        sent += send(batch)
    else:
        notifications.wake()
    return sent


def send(batch: list[OutboundEmail]) -> int:
    suppressed = set(
        SuppressedAddress.objects.filter(
            email__in=[e.subscriber.email.lower() for e in batch]
        ).values_list("email", flat=True)
    )
    sent = 0
    connection = get_connection()
    try:
        connection.open()
    except Exception as error:  # the server is down: every email of the batch waits
        for email in batch:
            _failed(email, f"{type(error).__name__}: {error}")
        return 0
    try:
        for email in batch:
            subscriber = email.subscriber
            if subscriber.email.lower() in suppressed or (
                email.kind == EmailKind.UPDATE and subscriber.state != SubscriberState.CONFIRMED
            ):
                _finish(email, state=EmailState.CANCELLED)
                continue
            try:
                connection.send_messages([build(email)])
            except Exception as error:  # SMTP refusals, timeouts, provider errors
                _failed(email, f"{type(error).__name__}: {error}")
                connection = _reopen(connection)
                continue
            _finish(email, state=EmailState.SENT, sent_at=timezone.now())
            sent += 1
    finally:
        connection.close()
    return sent


def _reopen(connection):
    try:
        connection.close()
    except Exception:
        logger.debug("closing a failed email connection", exc_info=True)
    fresh = get_connection()
    try:
        fresh.open()
    except Exception:
        logger.warning("could not reopen the email connection", exc_info=True)
    return fresh


def _finish(email: OutboundEmail, **changes) -> None:
    OutboundEmail.objects.filter(pk=email.pk, lease=email.lease).update(
        attempts=email.attempts + 1, leased_until=None, lease="", last_error="", **changes
    )


def _failed(email: OutboundEmail, error: str) -> None:
    attempts = email.attempts + 1
    changes = {"attempts": attempts, "leased_until": None, "lease": "", "last_error": error[:500]}
    if attempts > len(RETRY_DELAYS):
        changes["state"] = EmailState.FAILED
    else:
        changes["due_at"] = timezone.now() + RETRY_DELAYS[attempts - 1]
    OutboundEmail.objects.filter(pk=email.pk, lease=email.lease).update(**changes)
    logger.warning("email %s not sent (attempt %d): %s", email.pk, attempts, error)


def next_due_at() -> dt.datetime | None:
    """When the earliest pending email can be claimed: when it falls due, or when the lease
    on it runs out (a leased one counted as due now would wake a worker again at once)."""
    claimable = Greatest("due_at", Coalesce("leased_until", "due_at"))
    return OutboundEmail.objects.filter(state=EmailState.PENDING).aggregate(at=Min(claimable))["at"]


def oldest_due(now: dt.datetime) -> dt.datetime | None:
    return OutboundEmail.objects.filter(state=EmailState.PENDING, due_at__lte=now).aggregate(
        at=Min("due_at")
    )["at"]


def prune(now: dt.datetime) -> int:
    """Sent, failed and cancelled emails older than EMAIL_RETENTION_DAYS."""
    cutoff = now - dt.timedelta(days=settings.EMAIL_RETENTION_DAYS)
    deleted, _ = (
        OutboundEmail.objects.filter(created_utc__lt=cutoff)
        .exclude(state=EmailState.PENDING)
        .delete()
    )
    return deleted
