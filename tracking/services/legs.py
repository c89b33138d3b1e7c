"""Carrier legs: adding and changing one under its consignment's lock.

A status given here is never written onto the leg directly: it becomes an event, stored
through the one event write path, so the timeline and the status always agree.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from tracking import status as rules
from tracking.models import NAME_MAX, REFERENCE_MAX, Carrier, Consignment, Package, TrackingRecord
from tracking.services.checks import check_length, check_status, check_url
from tracking.services.derivation import lock_consignment, mark_changed
from tracking.services.events import EventSpec, store_events


@transaction.atomic
def add_leg(
    *,
    consignment: Consignment,
    source: str,
    carrier: Carrier | None = None,
    carrier_name: str = "",
    carrier_service_name: str = "",
    tracking_number: str = "",
    tracking_url: str = "",
    integration_name: str = "",
    sequence: int | None = None,
    packages: Iterable[Package] = (),
    status: int = rules.Status.UNKNOWN,
) -> TrackingRecord:
    """A carrier leg; a status above 0 is recorded as the leg's first event, occurring now."""
    check_length("carrier_name", carrier_name, NAME_MAX)
    check_length("carrier_service_name", carrier_service_name, NAME_MAX)
    check_length("tracking_number", tracking_number, REFERENCE_MAX)
    check_length("integration_name", integration_name, NAME_MAX)
    check_url("tracking_url", tracking_url)
    check_status("status", status)
    _check_sequence(sequence)
    packages = list(packages)

    locked = lock_consignment(consignment.pk)
    for package in packages:
        if package.consignment_id != locked.pk:
            raise ValidationError({"packages": f"{package.reference} is not in this consignment"})
    if carrier is None and carrier_name.strip():
        carrier = Carrier.objects.for_name(carrier_name.strip())
    if carrier is not None and not carrier_name:
        carrier_name = carrier.name
    if sequence is None:
        sequence = (locked.legs.aggregate(top=Max("sequence"))["top"] or 0) + 1

    now = timezone.now()
    leg = TrackingRecord.objects.create(
        consignment=locked,
        carrier=carrier,
        carrier_name=carrier_name,
        carrier_service_name=carrier_service_name,
        tracking_number=tracking_number.strip(),
        tracking_url=tracking_url,
        integration_name=integration_name,
        sequence=sequence,
        created_utc=now,
        modified_utc=now,
        last_updated_date=now.date(),
    )
    if packages:
        leg.packages.set(packages)
    if status != rules.Status.UNKNOWN:
        store_events([EventSpec(leg=leg, occurred_at=now, status=status)], now=now, source=source)
    else:
        mark_changed({locked.pk: locked.revision}, now)
    return leg


LEG_FIELDS = ("carrier_name", "carrier_service_name", "tracking_number", "tracking_url", "sequence")


@transaction.atomic
def update_leg(*, leg: TrackingRecord, source: str, **changes) -> bool:
    """Apply the given changes (None clears a text field); a new status appends an event.

    Returns False, writing nothing, when every given value equals the stored one.
    """
    unknown = set(changes) - {*LEG_FIELDS, "status"}
    if unknown:
        raise TypeError(f"update_leg() got unexpected fields {sorted(unknown)}")
    for name in ("carrier_name", "carrier_service_name", "tracking_number", "tracking_url"):
        if name in changes and changes[name] is None:
            changes[name] = ""
    if "sequence" in changes:
        if changes["sequence"] is None:
            del changes["sequence"]
        else:
            _check_sequence(changes["sequence"])
    if changes.get("status") is None:
        changes.pop("status", None)
    else:
        check_status("status", changes["status"])
    check_length("carrier_name", changes.get("carrier_name", ""), NAME_MAX)
    check_length("carrier_service_name", changes.get("carrier_service_name", ""), NAME_MAX)
    check_length("tracking_number", changes.get("tracking_number", ""), REFERENCE_MAX)
    check_url("tracking_url", changes.get("tracking_url", ""))

    locked = lock_consignment(leg.consignment_id)
    leg = TrackingRecord.objects.select_for_update().get(pk=leg.pk)
    new_status = changes.pop("status", None)
    changed = [name for name, value in changes.items() if getattr(leg, name) != value]
    status_changes = new_status is not None and _would_apply(leg, new_status)
    if not changed and not status_changes:
        return False

    now = timezone.now()
    for name in changed:
        setattr(leg, name, changes[name])
    if "carrier_name" in changed:
        leg.carrier = (
            Carrier.objects.for_name(leg.carrier_name.strip()) if leg.carrier_name else None
        )
        changed.append("carrier")
    leg.modified_utc = now
    leg.last_updated_date = now.date()
    leg.save(update_fields=[*changed, "modified_utc", "last_updated_date"])
    if status_changes:
        store_events(
            [EventSpec(leg=leg, occurred_at=now, status=new_status)], now=now, source=source
        )
    else:
        mark_changed({locked.pk: locked.revision}, now)
    return True


def _would_apply(leg: TrackingRecord, status: int) -> bool:
    """Whether an event with this status, occurring now, would change what the leg shows (its
    status or warning) under the rules (design section 1). One that would not (the same
    status, an earlier stage, Unknown, which never sets a status) is not stored, so a PUT that
    changes nothing else is a 304 rather than an event the timeline shows to no effect."""
    before = leg.standing
    after = before.add(rules.mark(timezone.now(), status, rules.code_for_status(status)))
    return (after.status, after.warning) != (before.status, before.warning)


def set_leg_status(*, leg: TrackingRecord, status: int, source: str) -> bool:
    """Set a leg's status by appending an event with it, so timeline and status agree."""
    return update_leg(leg=leg, source=source, status=status)


def _check_sequence(sequence: int | None) -> None:
    if sequence is None:
        return
    if isinstance(sequence, bool) or not isinstance(sequence, int) or not 1 <= sequence <= 10_000:
        raise ValidationError({"sequence": "must be an integer between 1 and 10000"})
