"""Carrier code mappings (design section 7.1): what a carrier's own code means, applied to the
events to come and to those stored, whose statuses are then derived again.

Rewriting a stored event's code and status is the second sanctioned change to stored events
(after erasure). Its identity stays, being computed from the code as sent (raw_code), so a
carrier re-posting an event after a mapping changed is still recognised. Nothing is announced
for the statuses this moves: a mapping corrects history rather than reporting news.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.db.models import Count, Max
from django.utils import timezone

from tracking import status as rules
from tracking.models import Carrier, CodeMapping, Consignment, TrackingEvent
from tracking.services.derivation import mark_changed, rederive

UNMAPPED_LIMIT = 500


@dataclass(frozen=True)
class MappingResult:
    mapping: CodeMapping | None
    events: int  # stored events whose code changed
    consignments: int  # consignments derived again


@transaction.atomic
def map_code(*, carrier: Carrier, code: str, maps_to: str) -> MappingResult:
    """Say what `carrier`'s `code` means (creating or changing its mapping) and apply it to
    the stored events. Raises ValidationError naming the field for a known code (nothing to
    map) or a target that is not a normalised code."""
    candidate = CodeMapping(carrier=carrier, code=code, maps_to=maps_to)
    candidate.full_clean(validate_unique=False, validate_constraints=False)  # normalises it
    mapping = (
        CodeMapping.objects.select_for_update().filter(carrier=carrier, code=candidate.code).first()
    )
    previous = mapping.maps_to if mapping else None
    if mapping is None:
        mapping = candidate
    mapping.maps_to = candidate.maps_to
    mapping.save()
    events, consignments = _apply(carrier, mapping.code, previous, mapping.maps_to)
    return MappingResult(mapping, events, consignments)


@transaction.atomic
def unmap_code(mapping: CodeMapping) -> MappingResult:
    """Remove a mapping: the carrier's code is unknown again (status 0) on its events."""
    carrier, code, previous = mapping.carrier, mapping.code, mapping.maps_to
    mapping.delete()
    events, consignments = _apply(carrier, code, previous, None)
    return MappingResult(None, events, consignments)


def _apply(carrier: Carrier, code: str, previous: str | None, maps_to: str | None):
    """Give the carrier's events sent with `code` (unmapped they carry it; mapped, what the
    previous mapping made of it) the code and status `maps_to` means: (events, consignments)."""
    target = maps_to or code
    status = int(rules.status_for_code(target))
    candidates = TrackingEvent.objects.filter(
        tracking_record__carrier=carrier, code__in={code, previous or code}
    ).values_list("pk", "raw_code", "code", "status", "tracking_record__consignment_id")
    changed_ids, consignment_ids = [], set()
    for pk, raw_code, stored_code, stored_status, consignment_id in candidates.iterator():
        # Raw codes differ from `code` in case and separators only.
        if _normalised(raw_code) == code and (stored_code, stored_status) != (target, status):
            changed_ids.append(pk)
            consignment_ids.add(consignment_id)
    for start in range(0, len(changed_ids), 1000):
        TrackingEvent.objects.filter(pk__in=changed_ids[start : start + 1000]).update(
            code=target, status=status
        )
    now = timezone.now()
    for consignment in Consignment.objects.filter(pk__in=consignment_ids).order_by("pk"):
        if not rederive(consignment, now=now):
            # The statuses stand, but the events read differently: pages must not be stale.
            locked = Consignment.objects.select_for_update().get(pk=consignment.pk)
            mark_changed({locked.pk: locked.revision}, now)
    return len(changed_ids), len(consignment_ids)


def _normalised(raw_code: str) -> str | None:
    try:
        return rules.normalise_code(raw_code)
    except ValueError:
        return None


@dataclass(frozen=True)
class UnmappedCode:
    carrier_id: int | None
    carrier_name: str
    code: str
    events: int
    last_received: object


def unmapped_events(events=None):
    """The events (of `events`, default all) whose code the table does not know and no
    mapping covers: status 0 with a code that is not a normalised one."""
    events = TrackingEvent.objects.all() if events is None else events
    return events.filter(status=rules.Status.UNKNOWN).exclude(code__in=list(rules.CODE_STATUS))


def unmapped_codes(carriers=None, *, events=None) -> list[UnmappedCode]:
    """The codes the table does not know, per carrier, with how many events carry them (the
    most frequent first): what a superuser should map next. `events` narrows the events
    counted (the support desk passes those of the staff user's brand)."""
    events = unmapped_events(events)
    if carriers is not None:
        events = events.filter(tracking_record__carrier__in=carriers)
    rows = (
        events.values("tracking_record__carrier", "tracking_record__carrier__name", "code")
        .annotate(events=Count("pk"), last_received=Max("received_at"))
        .order_by("-events", "code")[:UNMAPPED_LIMIT]
    )
    return [
        UnmappedCode(
            carrier_id=row["tracking_record__carrier"],
            carrier_name=row["tracking_record__carrier__name"] or "",
            code=row["code"],
            events=row["events"],
            last_received=row["last_received"],
        )
        for row in rows
    ]
