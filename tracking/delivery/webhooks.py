"""Delivering webhook messages: claim what is due, sign it, send it, log the attempt, and
apply the retry schedule (design section 7.3).

A message is claimed with a lease, so two workers never send it at once and a worker killed
mid-delivery only delays it; at-least-once follows, and every attempt and replay carries the
message's own `webhook-id`. Each attempt is signed afresh with its own timestamp, by both
secrets during a rotation. A batch is sent in parallel threads; the database is touched
before and after, from this thread only.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import time
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.core.mail import mail_admins, send_mail
from django.db import transaction
from django.db.models import Min, Q
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from tracking.delivery import http, schedule
from tracking.models import (
    MessageState,
    WebhookAttempt,
    WebhookMessage,
    WebhookSubscription,
)
from tracking.services import webhooks as outbox

logger = logging.getLogger(__name__)

# After the first attempt fails: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h and 24 h,
# each ±10 %; then the message has failed (and can be replayed).
RETRY_DELAYS = tuple(
    dt.timedelta(seconds=s)
    for s in (5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 14 * 3600, 20 * 3600, 24 * 3600)
)
JITTER = 0.1
DISABLE_AFTER = dt.timedelta(days=5)
BATCH = 16
# Longer than a batch can take (its sends run in parallel, each within http.TIMEOUT).
LEASE = dt.timedelta(seconds=90)
# One task drains for at most this long, then hands over to the next copy.
DRAIN_FOR = 60.0

_pool = ThreadPoolExecutor(max_workers=BATCH, thread_name_prefix="webhook")


def retry_delay(retries: int, *, rand=random.random) -> dt.timedelta | None:
    """The wait before retry number `retries` (1-based), or None when the schedule ran out."""
    if retries > len(RETRY_DELAYS):
        return None
    return RETRY_DELAYS[retries - 1] * (1 + JITTER * (2 * rand() - 1))


def drain(*, budget: float = DRAIN_FOR) -> int:
    """Deliver what is due, batch after batch, until nothing is or the budget is spent;
    returns how many messages were attempted."""
    started, attempted = time.monotonic(), 0
    while time.monotonic() - started < budget:
        batch = claim(BATCH)
        if not batch:
            break
        attempted += len(batch)
        deliver(batch)
    else:
        outbox.wake()  # more is due: the next copy takes over
    return attempted


def claim(limit: int) -> list[WebhookMessage]:
    """Lease up to `limit` due messages of active subscriptions to this worker."""
    token = schedule.lease(
        WebhookMessage,
        outbox.due_filter(timezone.now()),
        order="next_attempt_at",
        limit=limit,
        hold=LEASE,
        choose=Q(subscription__active=True),
    )
    if token is None:
        return []
    claimed = list(WebhookMessage.objects.filter(lease=token).select_related("subscription"))
    outbox.complete_bodies(claimed)
    return claimed


def headers_for(message: WebhookMessage, now: dt.datetime) -> dict[str, str]:
    """Standard Webhooks' headers for one attempt, signed by every secret in force."""
    signatures = [
        Webhook(secret).sign(message.pk, now, message.body)
        for secret in message.subscription.signing_secrets(now)
    ]
    return {
        "webhook-id": message.pk,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": " ".join(signatures),
    }


def _send(message: WebhookMessage) -> tuple[dt.datetime, http.Answer]:
    now = timezone.now()
    answer = http.post(
        message.subscription.url,
        message.body.encode(),
        headers_for(message, now),
        allow_private=settings.WEBHOOK_ALLOW_PRIVATE,
    )
    return now, answer


def deliver(batch: list[WebhookMessage]) -> None:
    results = list(_pool.map(_send, batch)) if len(batch) > 1 else [_send(batch[0])]
    with transaction.atomic():
        record(batch, results)


def record(batch, results) -> None:
    """Log each attempt and move each message on; then each subscription's health."""
    now = timezone.now()
    WebhookAttempt.objects.bulk_create(
        [
            WebhookAttempt(
                message_id=message.pk,
                attempted_at=at,
                status_code=answer.status,
                duration_ms=answer.duration_ms,
                response_excerpt=answer.excerpt,
                error=answer.error,
            )
            for message, (at, answer) in zip(batch, results, strict=True)
        ]
    )
    outcome: dict = {}  # subscription id: (subscription, succeeded, gone)
    for message, (_at, answer) in zip(batch, results, strict=True):
        sub = message.subscription
        seen = outcome.get(sub.pk, (sub, False, False))
        outcome[sub.pk] = (sub, seen[1] or answer.ok, seen[2] or answer.status == 410)
        changes = {
            "attempt_count": message.attempt_count + 1,
            "last_status": answer.status,
            "leased_until": None,
            "lease": "",
        }
        if answer.ok:
            changes |= {"state": MessageState.DELIVERED, "delivered_at": now}
            changes["next_attempt_at"] = None
        elif answer.status == 410:
            changes |= {"state": MessageState.HELD, "next_attempt_at": None}
        else:
            delay = retry_delay(message.retries + 1)
            if delay is None:
                changes |= {"state": MessageState.FAILED, "next_attempt_at": None}
            else:
                changes |= {"retries": message.retries + 1, "next_attempt_at": now + delay}
        # Only while the lease is ours: a worker that overran it must not undo another's work.
        WebhookMessage.objects.filter(pk=message.pk, lease=message.lease).update(**changes)
    for sub, succeeded, gone in outcome.values():
        _subscription_health(sub, succeeded=succeeded, gone=gone, now=now)


def _subscription_health(sub: WebhookSubscription, *, succeeded, gone, now) -> None:
    if gone:
        disable(sub, "the endpoint answered 410 Gone")
    elif succeeded:
        if sub.failing_since is not None:
            WebhookSubscription.objects.filter(pk=sub.pk).update(failing_since=None)
    elif sub.failing_since is None:
        WebhookSubscription.objects.filter(pk=sub.pk, failing_since__isnull=True).update(
            failing_since=now
        )
    elif now - sub.failing_since >= DISABLE_AFTER:
        disable(sub, f"every delivery failed since {sub.failing_since:%Y-%m-%d %H:%M} UTC")


def disable(sub: WebhookSubscription, reason: str) -> None:
    if outbox.disable_subscription(sub, reason=reason):
        transaction.on_commit(lambda: notify_disabled(sub.pk))


def notify_disabled(subscription_id) -> None:
    """Tell the brand (its support address; the site's admins where it has none)."""
    sub = WebhookSubscription.objects.select_related("brand").get(pk=subscription_id)
    held = sub.messages.filter(state=MessageState.HELD).count()
    subject = f"Webhook subscription disabled: {sub.url}"
    text = (
        f"Deliveries to {sub.url} for {sub.brand.name} have stopped: {sub.disabled_reason}.\n\n"
        f"{held} message(s) are held and will be delivered once the subscription is enabled "
        "again in the back office (Webhook subscriptions), where each attempt's answer is "
        "logged. Held messages are kept for "
        f"{settings.WEBHOOK_RETENTION_DAYS} days.\n"
    )
    try:
        if sub.brand.support_email:
            send_mail(subject, text, None, [sub.brand.support_email])
        else:
            mail_admins(subject, text)
    except Exception:
        logger.exception("could not email that subscription %s was disabled", sub.pk)


def next_retry_at() -> dt.datetime | None:
    """When the earliest waiting message of an active subscription can be claimed: when it
    falls due, or when the lease on it runs out. (Counting a leased message as due now made
    each run enqueue the next one at once, again and again while a batch was in flight or
    until a killed worker's lease ran out.)"""
    claimable = Greatest("next_attempt_at", Coalesce("leased_until", "next_attempt_at"))
    return WebhookMessage.objects.filter(
        state=MessageState.PENDING, subscription__active=True
    ).aggregate(at=Min(claimable))["at"]


def oldest_due(now: dt.datetime) -> dt.datetime | None:
    """When the longest-waiting due message fell due (what /healthz watches)."""
    return WebhookMessage.objects.filter(
        state=MessageState.PENDING, next_attempt_at__lte=now, subscription__active=True
    ).aggregate(at=Min("next_attempt_at"))["at"]


def prune(now: dt.datetime) -> int:
    """Delete finished messages (delivered, failed, held) older than the retention period,
    with their attempts; pending ones are never pruned."""
    cutoff = now - dt.timedelta(days=settings.WEBHOOK_RETENTION_DAYS)
    old = WebhookMessage.objects.filter(created_utc__lt=cutoff).exclude(state=MessageState.PENDING)
    WebhookAttempt.objects.filter(message__in=old.values("pk")).delete()
    deleted, _ = old.delete()
    return deleted
