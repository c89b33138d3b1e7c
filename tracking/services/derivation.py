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
from tracking.models import Consignment, Package, TrackingRecord


class NewEvent(NamedTuple):
    """An event about to be stored, in the columns' order."""

    tracking_record_id: uuid.UUID
    package_id: uuid.UUID | None
    status: int
    code: str
    description: str
    location: str
    signed_by: str
    occurred_at: dt.datetime
    received_at: dt.datetime
    source: str
    identity: uuid.UUID

    @property
    def status_key(self) -> rules.StatusKey:
        return rules.StatusKey(self.occurred_at, self.received_at, self.status)


class StatusRow:
    """A leg's or package's stored status and the key of the event that set it, loaded as a
    plain row (bulk.STATUS_FIELDS): a batch touches hundreds of them and model instances would
    cost more than the derivation itself."""

    __slots__ = ("id", "consignment_id", "status", "occurred_at", "received_at")

    def __init__(self, id, consignment_id, status, occurred_at, received_at):  # noqa: A002
        self.id = id
        self.consignment_id = consignment_id
        self.status = status
        self.occurred_at = occurred_at
        self.received_at = received_at

    @property
    def key(self) -> rules.StatusKey | None:
        if self.occurred_at is None or self.received_at is None:
            return None
        return rules.StatusKey(self.occurred_at, self.received_at, self.status)

    def advance(self, candidates: list[rules.StatusKey]) -> bool:
        """Take the newest of the candidates if it is newer than what set the status."""
        current = self.key
        best = rules.newest([current, *candidates])
        if best is None or best == current:
            return False
        self.status, self.occurred_at, self.received_at = (
            best.status,
            best.occurred_at,
            best.received_at,
        )
        return True


def derive(new_rows, legs, packages, coverage, revisions, now) -> None:
    """Move each affected leg's and package's status forward where a new event is newer."""
    by_leg = defaultdict(list)
    for row in new_rows:
        by_leg[row.tracking_record_id].append(row)

    leg_updates = []
    package_candidates = defaultdict(list)
    for leg_id, rows in by_leg.items():
        leg = legs[leg_id]
        leg.advance([row.status_key for row in rows])
        leg_updates.append((leg.id, leg.status, leg.occurred_at, leg.received_at, now, now.date()))
        leg_packages = coverage.get(leg_id) or {p.id for p in packages[leg.consignment_id]}
        for row in rows:
            for package_id in [row.package_id] if row.package_id else leg_packages:
                package_candidates[package_id].append(row.status_key)
    bulk.set_columns(
        TrackingRecord,
        ["status", "status_occurred_at", "status_received_at", "modified_utc", "last_updated_date"],
        leg_updates,
    )

    package_updates = [
        (package.id, package.status, package.occurred_at, package.received_at)
        for consignment_packages in packages.values()
        for package in consignment_packages
        if package.id in package_candidates and package.advance(package_candidates[package.id])
    ]
    bulk.set_columns(
        Package, ["status", "status_occurred_at", "status_received_at"], package_updates
    )

    statuses = {
        consignment_id: rules.consignment_status(p.status for p in packages[consignment_id])
        for consignment_id in revisions
    }
    mark_changed(revisions, now, statuses)


def lock_consignment(consignment_id) -> Consignment:
    return Consignment.objects.select_for_update().get(pk=consignment_id)


def mark_changed(revisions: dict, now: dt.datetime, statuses: dict | None = None) -> None:
    """Record that something under these locked consignments ({id: revision}) changed, and
    set their roll-up statuses when given."""
    if statuses is None:
        bulk.set_columns(
            Consignment,
            ["revision", "modified_utc"],
            [(pk, revision + 1, now) for pk, revision in revisions.items()],
        )
    else:
        bulk.set_columns(
            Consignment,
            ["revision", "modified_utc", "status"],
            [(pk, revision + 1, now, statuses[pk]) for pk, revision in revisions.items()],
        )


@transaction.atomic
def rederive(consignment: Consignment) -> None:
    """Recompute every status of a consignment from its events (repair; tests compare the
    incremental derivation in store_events against it)."""
    locked = lock_consignment(consignment.pk)
    legs = list(locked.legs.prefetch_related("packages", "events"))
    packages = list(locked.packages.all())
    keys_by_package = defaultdict(list)
    for leg in legs:
        events = list(leg.events.all())
        best = rules.newest(event.status_key for event in events)
        leg.status = best.status if best else 0
        leg.status_occurred_at = best.occurred_at if best else None
        leg.status_received_at = best.received_at if best else None
        listed = {p.pk for p in leg.packages.all()}
        covered = [
            p.pk
            for p in packages
            if fields.covers(
                leg_consignment_id=leg.consignment_id,
                listed_package_ids=listed,
                package_consignment_id=p.consignment_id,
                package_id=p.pk,
            )
        ]
        for event in events:
            for package_id in [event.package_id] if event.package_id else covered:
                keys_by_package[package_id].append(event.status_key)
    TrackingRecord.objects.bulk_update(legs, ["status", "status_occurred_at", "status_received_at"])
    for package in packages:
        best = rules.newest(keys_by_package[package.pk])
        package.status = best.status if best else 0
        package.status_occurred_at = best.occurred_at if best else None
        package.status_received_at = best.received_at if best else None
    Package.objects.bulk_update(packages, ["status", "status_occurred_at", "status_received_at"])
    mark_changed(
        {locked.pk: locked.revision},
        timezone.now(),
        {locked.pk: rules.consignment_status(p.status for p in packages)},
    )
