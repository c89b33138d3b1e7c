"""Current status, derived from events in one place: legs, packages and their consignment.

The derivation runs in the transaction that stores the events, under the consignment's lock,
and moves a status only forward (an older event arriving late is stored but changes nothing).
It is kept apart from the write paths so its rules can change without touching them.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from typing import NamedTuple

from django.db import transaction
from django.utils import timezone

from tracking import fields
from tracking import status as rules
from tracking.db import bulk
from tracking.models import DERIVED_COLUMNS, Consignment, Package, TrackingRecord


class NewEvent(NamedTuple):
    """An event about to be stored, in the columns' order."""

    tracking_record_id: uuid.UUID
    package_id: uuid.UUID | None
    status: int
    code: str
    raw_code: str
    description: str
    location: str
    signed_by: str
    occurred_at: dt.datetime
    received_at: dt.datetime
    source: str
    identity: uuid.UUID

    @property
    def mark(self) -> rules.Mark | None:
        return rules.mark(self.occurred_at, self.status, self.code)


class StatusRow:
    """A leg's or package's stored standing, loaded as a plain row (bulk.STATUS_FIELDS): a
    batch touches hundreds of them and model instances would cost more than the derivation."""

    __slots__ = ("id", "consignment_id", "derived", "standing")

    def __init__(self, id, consignment_id, *derived):  # noqa: A002
        self.id = id
        self.consignment_id = consignment_id
        self.derived = derived  # models.DERIVED_COLUMNS
        self.standing = rules.Standing.from_columns(*derived[2:])

    @property
    def status(self) -> int:
        return self.derived[0]

    @property
    def warning(self) -> int:
        return self.derived[1]

    def absorb(self, marks: list[rules.Mark | None]) -> bool:
        """Add these events to the standing; True when what is stored must change."""
        self.standing = self.standing.add_all(marks)
        derived = self.standing.columns()
        if derived == self.derived:
            return False
        self.derived = derived
        return True


def derive(new_rows, legs, packages, coverage, revisions, times, now) -> dict:
    """Add the new events to each affected leg's and package's standing, then roll each
    consignment up from its packages (`times`: its stored (last_event_at, first_scan_at)).
    Returns each consignment's new values of ROLL_UP_COLUMNS."""
    by_leg = defaultdict(list)
    times = dict(times)
    for row in new_rows:
        by_leg[row.tracking_record_id].append(row)
        consignment_id = legs[row.tracking_record_id].consignment_id
        times[consignment_id] = _advance_times(times.get(consignment_id, (None, None)), row)

    leg_updates = []
    package_marks = defaultdict(list)
    for leg_id, rows in by_leg.items():
        leg = legs[leg_id]
        marks = [row.mark for row in rows]
        leg.absorb(marks)
        # A new event changes the leg's dates even when its status stays.
        leg_updates.append((leg.id, *leg.derived, now, now.date()))
        leg_packages = coverage.get(leg_id) or {p.id for p in packages[leg.consignment_id]}
        for row, row_mark in zip(rows, marks, strict=True):
            if row_mark is None:
                continue
            for package_id in [row.package_id] if row.package_id else leg_packages:
                package_marks[package_id].append(row_mark)
    bulk.set_columns(
        TrackingRecord, [*DERIVED_COLUMNS, "modified_utc", "last_updated_date"], leg_updates
    )

    package_updates = [
        (package.id, *package.derived)
        for consignment_packages in packages.values()
        for package in consignment_packages
        if package.id in package_marks and package.absorb(package_marks[package.id])
    ]
    bulk.set_columns(Package, DERIVED_COLUMNS, package_updates)
    rolled = {pk: (*roll_up(packages[pk]), *times[pk]) for pk in revisions}
    mark_changed(revisions, now, rolled)
    return rolled


def _advance_times(stored: tuple, row: NewEvent) -> tuple:
    last, first = stored
    if last is None or row.occurred_at > last:
        last = row.occurred_at
    if rules.is_carrier_scan(row.status, row.code) and (first is None or row.occurred_at < first):
        first = row.occurred_at
    return last, first


def roll_up(packages) -> tuple:
    """A consignment's (status, warning, delivered_at) from its packages' standings."""
    pairs = [(p.status, p.warning) for p in packages]
    status = rules.consignment_status(s for s, _w in pairs)
    delivered_at = None
    if status == rules.Status.DELIVERED:
        delivered = [
            p.standing.progress.occurred_at
            for p in packages
            if p.status == rules.Status.DELIVERED and p.standing.progress is not None
        ]
        delivered_at = max(delivered, default=None)
    return int(status), int(rules.consignment_warning(pairs)), delivered_at


def lock_consignment(consignment_id) -> Consignment:
    return Consignment.objects.select_for_update().get(pk=consignment_id)


def mark_changed(revisions: dict, now: dt.datetime, statuses: dict | None = None) -> None:
    """Record that something under these locked consignments ({id: revision}) changed, and
    set their roll-ups ({id: values of ROLL_UP_COLUMNS}) when given."""
    if statuses is None:
        bulk.set_columns(
            Consignment,
            ["revision", "modified_utc"],
            [(pk, revision + 1, now) for pk, revision in revisions.items()],
        )
    else:
        bulk.set_columns(
            Consignment,
            ["revision", "modified_utc", *ROLL_UP_COLUMNS],
            [(pk, revision + 1, now, *statuses[pk]) for pk, revision in revisions.items()],
        )


# What a consignment's roll-up writes (mark_changed's `statuses`): roll_up's, then its times.
ROLL_UP_COLUMNS = ("status", "warning", "delivered_at", "last_event_at", "first_scan_at")


@transaction.atomic
def rederive(consignment: Consignment, *, now: dt.datetime | None = None) -> bool:
    """Derive every status of a consignment afresh from all its events: the repair for stored
    statuses (an upgrade of the rules, a code mapping), and what the tests compare the
    incremental derivation of store_events against. True when anything changed; only then is
    the consignment's revision bumped."""
    locked = lock_consignment(consignment.pk)
    legs = list(locked.legs.prefetch_related("packages", "events"))
    packages = list(locked.packages.all())
    marks_by_package = defaultdict(list)
    changed_legs, changed_packages = [], []
    for leg in legs:
        marks = [event.mark for event in leg.events.all()]
        if _set_standing(leg, rules.standing(marks)):
            changed_legs.append(leg)
        listed = {p.pk for p in leg.packages.all()}
        for event, event_mark in zip(leg.events.all(), marks, strict=True):
            if event.package_id:
                marks_by_package[event.package_id].append(event_mark)
                continue
            for p in packages:
                if fields.covers(
                    leg_consignment_id=leg.consignment_id,
                    listed_package_ids=listed,
                    package_consignment_id=p.consignment_id,
                    package_id=p.pk,
                ):
                    marks_by_package[p.pk].append(event_mark)
    for package in packages:
        if _set_standing(package, rules.standing(marks_by_package[package.pk])):
            changed_packages.append(package)
    TrackingRecord.objects.bulk_update(changed_legs, DERIVED_COLUMNS)
    Package.objects.bulk_update(changed_packages, DERIVED_COLUMNS)
    events = [event for leg in legs for event in leg.events.all()]
    rolled = (
        *roll_up(packages),
        max((e.occurred_at for e in events), default=None),
        min(
            (e.occurred_at for e in events if rules.is_carrier_scan(e.status, e.code)), default=None
        ),
    )
    stored = tuple(getattr(locked, name) for name in ROLL_UP_COLUMNS)
    if not (changed_legs or changed_packages or rolled != stored):
        return False
    mark_changed({locked.pk: locked.revision}, now or timezone.now(), {locked.pk: rolled})
    return True


def _set_standing(row, standing: rules.Standing) -> bool:
    derived = standing.columns()
    if tuple(getattr(row, name) for name in DERIVED_COLUMNS) == derived:
        return False
    for name, value in zip(DERIVED_COLUMNS, derived, strict=True):
        setattr(row, name, value)
    return True
