"""Webhook subscriptions and the messages they are owed (design section 7.3).

Messages are recorded here, as rows, in the transaction of the change that causes them: one
`tracking.updated` per consignment per write, one `consignment.status_changed` where a
package's or the consignment's status or warning moved under the rules. Workers are woken on
commit by the delivery task's dotted path (tracking.delivery sends, retries and prunes); a
lost wake-up costs a minute's delay until the sweep, never a message.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import secrets
import uuid
from collections.abc import Iterable

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from tracking import status as rules
from tracking.db import bulk
from tracking.fields import WEBHOOK_SECRET_PREFIX
from tracking.models import (
    SUBSCRIBABLE_TYPES,
    Brand,
    Consignment,
    MessageState,
    Package,
    TrackingEvent,
    WebhookMessage,
    WebhookSubscription,
    WebhookType,
)
from tracking.services import wakeups
from tracking.services.checks import check_webhook_secret, check_webhook_url

DELIVER_TASK = "tracking.delivery.tasks.deliver_webhooks"
SECRET_GRACE = dt.timedelta(hours=24)

WARNING_NAMES = {int(rules.Warning.NONE): None, 1: "delay", 2: "problem"}


def new_secret() -> str:
    return WEBHOOK_SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def check_event_types(event_types) -> list[str]:
    """The types asked for, in a fixed order; empty means every type."""
    if event_types is None:
        return []
    if not isinstance(event_types, list) or not all(isinstance(t, str) for t in event_types):
        raise ValidationError({"eventTypes": "must be a list of event type names"})
    unknown = sorted(set(event_types) - set(SUBSCRIBABLE_TYPES))
    if unknown:
        raise ValidationError(
            {
                "eventTypes": f"{unknown[0]!r} is not an event type; use "
                + ", ".join(SUBSCRIBABLE_TYPES)
            }
        )
    return [t for t in SUBSCRIBABLE_TYPES if t in event_types]


def create_subscription(
    *, brand: Brand, url: str, event_types=None, secret: str | None = None
) -> tuple[WebhookSubscription, str]:
    """A new subscription and its signing secret (returned once; the client's own when given).
    The URL's host is resolved before the transaction opens: a slow name server holds none."""
    url = (url or "").strip()
    check_webhook_url("webhookUrl", url, allow_private=settings.WEBHOOK_ALLOW_PRIVATE)
    types = check_event_types(event_types)
    if secret is not None:
        check_webhook_secret("signingKey1", secret)
    secret = secret or new_secret()
    with transaction.atomic():
        subscription = WebhookSubscription.objects.create(
            brand=brand, url=url, event_types=types, secret=secret
        )
    return subscription, secret


def update_subscription(subscription: WebhookSubscription, *, url: str, event_types) -> None:
    url = (url or "").strip()
    check_webhook_url("url", url, allow_private=settings.WEBHOOK_ALLOW_PRIVATE)
    types = check_event_types(event_types)
    with transaction.atomic():
        subscription.url = url
        subscription.event_types = types
        subscription.modified_utc = timezone.now()
        subscription.save(update_fields=["url", "event_types", "modified_utc"])


@transaction.atomic
def delete_subscription(subscription: WebhookSubscription) -> None:
    """The subscription and its delivery log; what was not delivered is dropped with it."""
    subscription.delete()


@transaction.atomic
def rotate_secret(subscription: WebhookSubscription) -> str:
    """A new secret; the old one keeps signing beside it for 24 hours, so a receiver can
    switch without missing a message."""
    locked = WebhookSubscription.objects.select_for_update().get(pk=subscription.pk)
    now = timezone.now()
    locked.previous_secret, locked.secret = locked.secret, new_secret()
    locked.previous_secret_until = now + SECRET_GRACE
    locked.modified_utc = now
    locked.save(
        update_fields=["secret", "previous_secret", "previous_secret_until", "modified_utc"]
    )
    subscription.refresh_from_db()
    return locked.secret


@transaction.atomic
def disable_subscription(subscription: WebhookSubscription, *, reason: str) -> bool:
    """Stop delivering; what is owed is held, not dropped. False when it was already disabled.
    The brand's support address is told (after commit) unless staff did it themselves."""
    now = timezone.now()
    changed = WebhookSubscription.objects.filter(pk=subscription.pk, active=True).update(
        active=False, disabled_at=now, disabled_reason=reason[:500], modified_utc=now
    )
    if not changed:
        return False
    WebhookMessage.objects.filter(subscription=subscription, state=MessageState.PENDING).update(
        state=MessageState.HELD, next_attempt_at=None
    )
    subscription.refresh_from_db()
    return True


@transaction.atomic
def enable_subscription(subscription: WebhookSubscription) -> int:
    """Deliver again, starting with what was held while disabled (the last
    WEBHOOK_RETENTION_DAYS of it); returns how many held messages are now due."""
    now = timezone.now()
    WebhookSubscription.objects.filter(pk=subscription.pk).update(
        active=True, disabled_at=None, disabled_reason="", failing_since=None, modified_utc=now
    )
    released = WebhookMessage.objects.filter(
        subscription=subscription, state=MessageState.HELD
    ).update(state=MessageState.PENDING, next_attempt_at=now, retries=0)
    subscription.refresh_from_db()
    if released:
        wake()
    return released


@transaction.atomic
def send_test(subscription: WebhookSubscription) -> WebhookMessage:
    """A `webhook.test` message, due now (held if the subscription is disabled). Raises
    WebhookSubscription.DoesNotExist when it was deleted meanwhile."""
    subscription = WebhookSubscription.objects.select_for_update().get(pk=subscription.pk)
    now = timezone.now()
    body = _body(WebhookType.TEST, now, {"webhookSubscriptionId": str(subscription.pk)})
    row = _message(subscription, WebhookType.TEST, body, None, now)
    message = WebhookMessage(**dict(zip(MESSAGE_COLUMNS, row, strict=True)))
    message.save(force_insert=True)
    if message.state == MessageState.PENDING:
        wake()
    return message


def replay(messages: Iterable[WebhookMessage]) -> int:
    """Deliver these messages again, with the same id and body and a fresh retry schedule
    (of an active subscription; a disabled one's wait until it is enabled)."""
    ids = [m.pk for m in messages]
    return _replay(WebhookMessage.objects.filter(pk__in=ids))


def replay_failed_since(subscriptions, since: dt.datetime) -> int:
    """Every message of these subscriptions created since `since` that was not delivered."""
    return _replay(
        WebhookMessage.objects.filter(
            subscription__in=subscriptions,
            created_utc__gte=since,
            state__in=[MessageState.FAILED, MessageState.HELD],
        )
    )


@transaction.atomic
def _replay(queryset) -> int:
    now = timezone.now()
    count = queryset.filter(subscription__active=True).update(
        state=MessageState.PENDING,
        next_attempt_at=now,
        retries=0,
        leased_until=None,
        lease="",
        delivered_at=None,
    )
    queryset.filter(subscription__active=False).update(
        state=MessageState.HELD, next_attempt_at=None
    )
    if count:
        wake()
    return count


# -- Recording, in the writer's transaction ------------------------------------------------


def record_created(consignment: Consignment, packages: list[Package]) -> None:
    subscriptions = _subscriptions({consignment.brand_id}, WebhookType.CONSIGNMENT_CREATED)
    if not subscriptions:
        return
    data = _data(
        consignment.pk,
        consignment.reference,
        consignment.customer_reference,
        consignment.status,
        consignment.warning,
        [(p.reference, p.status, p.warning) for p in packages],
        [],
    )
    now = consignment.created_utc
    body = _body(WebhookType.CONSIGNMENT_CREATED, now, data)
    _store(
        [
            _message(sub, WebhookType.CONSIGNMENT_CREATED, body, consignment.pk, now)
            for sub in subscriptions[consignment.brand_id]
        ]
    )


def record_events(new_rows, *, legs, heads, rolled, packages, before, now) -> None:
    """The messages for a write of events: `legs` the StatusRows of the legs written to,
    `heads` the consignments before it (bulk.Head),
    `rolled` their roll-ups after (ROLL_UP_COLUMNS), `packages` their packages' StatusRows
    after and `before` each package's (status, warning) before. Costs one query when no
    subscription of these brands exists, three when one does, however large the batch."""
    subscriptions = _subscriptions({head.brand_id for head in heads.values()}, None)
    if not subscriptions:
        return
    package_refs, package_order = {}, {}
    for pk, reference, sequence in Package.objects.filter(
        consignment_id__in=list(heads)
    ).values_list("id", "reference", "sequence"):
        package_refs[pk], package_order[pk] = reference, sequence
    events = {pk: [] for pk in heads}
    for row in new_rows:
        events[legs[row.tracking_record_id].consignment_id].append(row)
    messages = []
    for pk, head in heads.items():
        brand_subscriptions = subscriptions.get(head.brand_id)
        if not brand_subscriptions or not events.get(pk):
            continue
        status, warning = rolled[pk][0], rolled[pk][1]
        rows = sorted(packages.get(pk, []), key=lambda p: package_order.get(p.id, 0))
        changed = (status, warning) != (head.status, head.warning) or any(
            (p.status, p.warning) != before.get(p.id) for p in rows
        )
        data = _data(
            pk,
            head.reference,
            head.customer_reference,
            status,
            warning,
            [(package_refs.get(p.id, ""), p.status, p.warning) for p in rows],
            [],  # filled in at the first claim, from the events (complete_bodies)
        )
        identities = ",".join(
            row.identity.hex for row in sorted(events[pk], key=lambda r: r.occurred_at)
        )
        types = [WebhookType.TRACKING_UPDATED]
        if changed:
            types.append(WebhookType.STATUS_CHANGED)
        data_json = None  # one encoding of the data, whatever the types and subscriptions
        for webhook_type in types:
            body = None
            for sub in brand_subscriptions:
                if sub.wants(webhook_type):
                    data_json = data_json or _json(data)
                    body = body or _envelope(webhook_type, now, data_json)
                    messages.append(_message(sub, webhook_type, body, pk, now, identities))
    _store(messages)


def _subscriptions(brand_ids, webhook_type) -> dict[int, list[WebhookSubscription]]:
    found: dict[int, list[WebhookSubscription]] = {}
    for sub in WebhookSubscription.objects.filter(brand_id__in=list(brand_ids)).only(
        "id", "brand_id", "event_types", "active"
    ):
        if webhook_type is None or sub.wants(webhook_type):
            found.setdefault(sub.brand_id, []).append(sub)
    return found


def _data(pk, reference, customer_reference, status, warning, packages, events) -> dict:
    return {
        "consignmentId": str(pk),
        "reference": reference,
        "customerReference": customer_reference or None,
        "status": int(status),
        "statusName": rules.STATUS_NAMES[rules.Status(status)],
        "warning": WARNING_NAMES[int(warning)],
        "packages": [
            {
                "reference": ref,
                "status": int(package_status),
                "statusName": rules.STATUS_NAMES[rules.Status(package_status)],
                "warning": WARNING_NAMES[int(package_warning)],
            }
            for ref, package_status, package_warning in packages
        ],
        "events": events,
    }


def _json(value) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _envelope(webhook_type: str, now: dt.datetime, data_json: str) -> str:
    """The body around data already encoded: what _body gives, without encoding it again."""
    return f'{{"type":{_json(str(webhook_type))},"timestamp":"{_utc(now)}","data":{data_json}}}'


def _body(webhook_type: str, now: dt.datetime, data: dict) -> str:
    return _envelope(webhook_type, now, _json(data))


def _utc(moment: dt.datetime) -> str:
    if moment.tzinfo is not dt.UTC:  # what the database gives back is UTC already
        moment = moment.astimezone(dt.UTC)
    return moment.isoformat(timespec="milliseconds")[:-6] + "Z"


# A recorded message's columns, in the order of _message's rows (the others start empty).
MESSAGE_COLUMNS = (
    "id",
    "subscription_id",
    "consignment_id",
    "type",
    "body",
    "created_utc",
    "state",
    "next_attempt_at",
    "retries",
    "attempt_count",
    "lease",
    "event_identities",
)
_STATE = MESSAGE_COLUMNS.index("state")


def _message(sub, webhook_type, body, consignment_id, now, identities="") -> tuple:
    active = sub.active
    return (
        WebhookMessage.new_id(),
        sub.pk,
        consignment_id,
        str(webhook_type),
        body,
        now,
        MessageState.PENDING if active else MessageState.HELD,
        now if active else None,
        0,
        0,
        "",
        identities,
    )


def _store(rows: list[tuple]) -> None:
    """One INSERT for a write's messages (tracking.db.bulk: no model instances)."""
    if not rows:
        return
    bulk.insert_rows(WebhookMessage, MESSAGE_COLUMNS, rows)
    if any(row[_STATE] == MessageState.PENDING for row in rows):
        wake()


def _event_views(identities: set[str]) -> dict[str, dict]:
    """What a body says of each of these events (by identity hex), in one query."""
    found = {}
    for identity, leg_id, package_ref, status, code, details, location, at in (
        TrackingEvent.objects.filter(identity__in=[uuid.UUID(h) for h in identities])
        .values_list(
            "identity",
            "tracking_record_id",
            "package__reference",
            "status",
            "code",
            "description",
            "location",
            "occurred_at",
        )
        .order_by()
    ):
        found[identity.hex] = {
            "trackingId": str(leg_id),
            "packageReference": package_ref,
            "status": status,
            "code": code,
            "details": details or None,
            "location": location or None,
            "eventDateTime": _utc(at),
        }
    return found


def full_body(message: WebhookMessage, views: dict | None = None) -> str:
    """The body as it is sent: the one recorded with its events' details filled in."""
    if not message.event_identities:
        return message.body
    order = message.event_identities.split(",")
    views = views if views is not None else _event_views(set(order))
    body = json.loads(message.body)
    body["data"]["events"] = [views[h] for h in order if h in views]
    return _json(body)


def complete_bodies(messages: list[WebhookMessage]) -> None:
    """Write the events into the bodies of these (claimed) messages that still lack them: one
    query for the events and one UPDATE, before the first attempt signs the body."""
    incomplete = [m for m in messages if m.event_identities]
    if not incomplete:
        return
    wanted = {h for m in incomplete for h in m.event_identities.split(",")}
    views = _event_views(wanted)
    for message in incomplete:
        message.body, message.event_identities = full_body(message, views), ""
    bulk.set_columns(
        WebhookMessage, ["body", "event_identities"], [(m.pk, m.body, "") for m in incomplete]
    )


def wake(*, run_after: dt.datetime | None = None) -> None:
    """Wake the delivery task once the current transaction commits, unless a copy is queued
    and unstarted already (`wakeups.wake`)."""
    wakeups.wake(DELIVER_TASK, run_after=run_after)


def due_filter(now: dt.datetime) -> Q:
    """Messages a worker may take now: pending, due, and not leased by a live worker."""
    return Q(state=MessageState.PENDING, next_attempt_at__lte=now) & (
        Q(leased_until__isnull=True) | Q(leased_until__lt=now)
    )
