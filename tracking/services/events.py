"""Storing carrier and staff events: the one write path every event takes, singly or in batches.

Events are append-only and idempotent (a retried event is recognised by its identity and
skipped), and they are stored in the same transaction, under the same consignment locks, as
the status derivation they drive.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from tracking import fields
from tracking import status as rules
from tracking.db import bulk
from tracking.fields import RAW_CODE_MAX
from tracking.models import (
    NAME_MAX,
    TEXT_MAX,
    Carrier,
    CodeMapping,
    Package,
    TrackingEvent,
    TrackingRecord,
)
from tracking.services import notifications, webhooks
from tracking.services.checks import check_code, check_length, check_occurred_at, check_status
from tracking.services.derivation import NewEvent, StatusRow, derive, mark_changed


@dataclass
class EventSpec:
    """One event to store. Exactly one of `status` and `code` may be left out: the other is
    derived from it through the code table."""

    leg: TrackingRecord
    occurred_at: dt.datetime
    status: int | None = None
    code: str | None = None
    description: str = ""
    location: str = ""
    signed_by: str = ""
    package: Package | None = None
    field_prefix: str = field(default="", compare=False)
    raw_code: str = field(default="", init=False)
    # A carrier code mapping re-derives the status only where it came from the code.
    status_from_code: bool = field(default=False, init=False)

    def __post_init__(self):
        self.status_from_code = self.status is None


@dataclass(frozen=True)
class StoreResult:
    stored: int
    duplicates: int


def record_event(
    *,
    leg: TrackingRecord,
    source: str,
    status: int | None = None,
    code: str | None = None,
    description: str = "",
    location: str = "",
    signed_by: str = "",
    occurred_at: dt.datetime | None = None,
    package: Package | None = None,
    carrier_name: str | None = None,
) -> bool:
    """Store one event; False when an identical one is already stored and nothing was written.

    `carrier_name`, when given and different, renames the leg's carrier in the same write
    (and counts as a change even when the event itself is a duplicate).
    """
    now = timezone.now()
    spec = EventSpec(
        leg=leg,
        occurred_at=occurred_at or now,
        status=status,
        code=code,
        description=description,
        location=location,
        signed_by=signed_by,
        package=package,
    )
    with transaction.atomic():
        stored, renamed = store_events([spec], now=now, source=source, carrier_name=carrier_name)
    return bool(stored) or renamed


def record_events(*, events: Sequence[EventSpec], source: str) -> StoreResult:
    """Store a batch all-or-nothing; events already stored are skipped, so retries are safe."""
    if not events:
        return StoreResult(stored=0, duplicates=0)
    with transaction.atomic():
        stored, _renamed = store_events(list(events), now=timezone.now(), source=source)
    return StoreResult(stored=len(stored), duplicates=len(events) - len(stored))


def _normalise_code(spec: EventSpec) -> None:
    if spec.code is not None:
        spec.raw_code = spec.code.strip()
        check_length(f"{spec.field_prefix}code", spec.raw_code, RAW_CODE_MAX)
        spec.code = check_code(f"{spec.field_prefix}code", spec.code)


def _prepare(spec: EventSpec, now: dt.datetime, mappings: dict) -> None:
    """Check a spec, apply its carrier's code mapping and fill in the status or code it left
    out (after _normalise_code, which keeps the code as sent)."""
    prefix = spec.field_prefix
    if spec.code is not None:
        mapped = mappings.get((spec.leg.carrier_id, spec.code))
        if mapped is not None:
            spec.code = mapped
            spec.status = None if spec.status_from_code else spec.status
    if spec.status is not None:
        check_status(f"{prefix}status", spec.status)
    if spec.code is None and spec.status is None:
        raise ValidationError({f"{prefix}status": "is required"})
    if spec.code is None:
        spec.code = spec.raw_code = rules.code_for_status(spec.status)
    if spec.status is None:
        spec.status = int(rules.status_for_code(spec.code))
    spec.description = spec.description or ""
    spec.location = spec.location or ""
    spec.signed_by = spec.signed_by or ""
    check_length(f"{prefix}description", spec.description, TEXT_MAX)
    check_length(f"{prefix}location", spec.location, NAME_MAX)
    check_length(f"{prefix}signed_by", spec.signed_by, NAME_MAX)
    check_occurred_at(f"{prefix}occurred_at", spec.occurred_at, now)


def store_events(
    specs: list[EventSpec],
    *,
    now: dt.datetime,
    source: str,
    carrier_name: str | None = None,
) -> tuple[list[NewEvent], bool]:
    """The one write path for events. Must run inside transaction.atomic().

    Returns the events stored and whether the leg's carrier was renamed.

    Locks the consignments involved (in id order, so two batches cannot deadlock), skips events
    already stored, bulk-inserts the rest and re-derives each affected leg, package and
    consignment once. The consignment lock serialises every writer of a consignment, which is
    what makes the duplicate check and the status derivation race-free.
    """
    for spec in specs:
        _normalise_code(spec)
    # Mappings are for the codes the table does not know: a feed of known codes never asks.
    mappings = code_mappings(
        {spec.leg.carrier_id for spec in specs if spec.code and spec.code not in rules.CODE_STATUS}
    )
    for spec in specs:
        _prepare(spec, now, mappings)
    consignment_ids = sorted({spec.leg.consignment_id for spec in specs})
    revisions, times, heads = bulk.lock_consignments(consignment_ids)
    # The legs with the packages each carries (none listed: every package), in one query.
    legs, coverage = {}, defaultdict(set)
    for *row, package_id in bulk.leg_statuses({spec.leg.pk for spec in specs}):
        legs.setdefault(row[0], StatusRow(*row))
        if package_id is not None:
            coverage[row[0]].add(package_id)
    packages = defaultdict(list)
    for row in bulk.package_statuses(consignment_ids):
        packages[row[1]].append(StatusRow(*row))

    renamed = carrier_name is not None and _rename_carrier(specs[0].leg.pk, carrier_name, now)

    rows, seen = [], set()
    for spec in specs:
        leg = legs.get(spec.leg.pk)
        if leg is None:
            raise ValidationError({f"{spec.field_prefix}leg": "no longer exists"})
        package_id = spec.package.pk if spec.package else None
        if package_id and not fields.covers(
            leg_consignment_id=leg.consignment_id,
            listed_package_ids=coverage.get(leg.id),
            package_consignment_id=spec.package.consignment_id,
            package_id=package_id,
        ):
            raise ValidationError(
                {f"{spec.field_prefix}package": f"{spec.package.reference} is not on this leg"}
            )
        identity = TrackingEvent.identity_for(
            tracking_record_id=leg.id,
            package_id=package_id,
            code=spec.raw_code,
            occurred_at=spec.occurred_at,
            description=spec.description,
        )
        if identity in seen:
            continue
        seen.add(identity)
        rows.append(
            NewEvent(
                leg.id,
                package_id,
                spec.status,
                spec.code,
                spec.raw_code,
                spec.description,
                spec.location,
                spec.signed_by,
                spec.occurred_at,
                now,
                source,
                identity,
            )
        )

    inserted = bulk.insert_events(rows)
    new_rows = [row for row in rows if row.identity in inserted]
    if not new_rows:
        if renamed:
            mark_changed(revisions, now)
        return [], renamed
    before = {p.id: (p.status, p.warning) for rows in packages.values() for p in rows}
    rolled = derive(new_rows, legs, packages, coverage, revisions, times, now)
    webhooks.record_events(
        new_rows, legs=legs, heads=heads, rolled=rolled, packages=packages, before=before, now=now
    )
    notifications.record_events(
        heads=heads, rolled=rolled, packages=packages, before=before, now=now
    )
    return new_rows, renamed


def code_mappings(carrier_ids) -> dict[tuple[int, str], str]:
    """{(carrier id, carrier's code): normalised code} for these carriers, in one query."""
    carrier_ids = [pk for pk in carrier_ids if pk is not None]
    if not carrier_ids:
        return {}
    return {
        (carrier_id, code): maps_to
        for carrier_id, code, maps_to in CodeMapping.objects.filter(
            carrier_id__in=carrier_ids
        ).values_list("carrier_id", "code", "maps_to")
    }


def _rename_carrier(leg_id, carrier_name: str, now: dt.datetime) -> bool:
    check_length("carrier_name", carrier_name, NAME_MAX)
    leg = TrackingRecord.objects.get(pk=leg_id)
    if carrier_name == leg.carrier_name:
        return False
    leg.carrier_name = carrier_name
    leg.carrier = Carrier.objects.for_name(carrier_name.strip()) if carrier_name.strip() else None
    leg.modified_utc = now
    leg.last_updated_date = now.date()
    leg.save(update_fields=["carrier_name", "carrier", "modified_utc", "last_updated_date"])
    return True
