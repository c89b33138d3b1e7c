"""The read model: one consignment with its packages, legs and events, in two queries.

The page, its live fragment and both APIs read a consignment through `Timeline`, so the query
shape is owned here. Query one (the head) is the consignment with its brand, packages and which
packages each leg carries; query two (run only when asked for) is the legs with their events.
The customer pages take the head through `Timeline.remembered`, which on PostgreSQL answers from
the worker's memory while nothing has changed (tracking.db.changes). Rows come back as plain
slotted objects rather than model instances: the timeline is read-only and rendering thousands
of events should not pay for the ORM.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

from django.core.cache import caches
from django.db.models import QuerySet

from tracking import status as rules
from tracking.db import changes
from tracking.db.prepared import PreparedQuery, rows_as
from tracking.fields import covers
from tracking.models import Brand, Consignment, TrackingRecord

CACHE_SECONDS = 60 * 60
_CONSIGNMENT_FIELDS = [f.attname for f in Consignment._meta.concrete_fields]
_BRAND_FIELDS = [f.attname for f in Brand._meta.concrete_fields]
_PACKAGE_FIELDS = [
    "id",
    "reference",
    "description",
    "sequence",
    "status",
    "warning",
]
_LEG_FIELDS = [
    "id",
    "sequence",
    "carrier_id",
    "carrier_name",
    "carrier_service_name",
    "tracking_number",
    "tracking_url",
    "integration_name",
    "status",
    "warning",
    "created_utc",
    "modified_utc",
    "last_updated_date",
]
_EVENT_FIELDS = [
    "id",
    "package_id",
    "status",
    "code",
    "description",
    "location",
    "signed_by",
    "occurred_at",
    "received_at",
    "source",
]


@dataclass(slots=True)
class EventRow:
    id: int
    package_id: uuid.UUID | None
    status: int
    code: str
    description: str
    location: str
    signed_by: str
    occurred_at: dt.datetime
    received_at: dt.datetime
    source: str

    @property
    def mark(self) -> rules.Mark | None:
        """This event in the replay, carrying itself (a Progress names its events)."""
        return rules.mark(
            self.occurred_at, self.status, self.code, tiebreak=(self.code, self.id), event=self
        )

    @property
    def order_key(self) -> tuple:
        return (self.occurred_at, self.received_at, self.id)


@dataclass(slots=True)
class LegRow:
    id: uuid.UUID
    sequence: int
    carrier_id: int | None
    carrier_name: str
    carrier_service_name: str
    tracking_number: str
    tracking_url: str
    integration_name: str
    status: int
    warning: int
    created_utc: dt.datetime
    modified_utc: dt.datetime
    last_updated_date: dt.date
    package_ids: frozenset = frozenset()  # explicit coverage; empty means every package
    events: list[EventRow] = field(default_factory=list)  # oldest first

    @property
    def service_name(self) -> str:
        return self.carrier_service_name or self.carrier_name

    def events_for(self, package_id: uuid.UUID) -> list[EventRow]:
        """The events that apply to one package: its own and the leg-wide ones, oldest first."""
        return [e for e in self.events if e.package_id is None or e.package_id == package_id]


@dataclass(slots=True)
class PackageRow:
    id: uuid.UUID
    reference: str
    description: str
    sequence: int
    status: int
    warning: int


@dataclass(slots=True)
class PackageLeg:
    """One leg as one package sees it."""

    leg: LegRow
    events: list[EventRow]  # oldest first


@dataclass(slots=True)
class PackageTimeline:
    package: PackageRow
    legs: list[PackageLeg]

    @property
    def events(self) -> list[tuple[LegRow, EventRow]]:
        """Every event of the package across its legs, oldest first, with the leg it is on."""
        pairs = [(pl.leg, event) for pl in self.legs for event in pl.events]
        pairs.sort(key=lambda pair: (pair[1].order_key, pair[0].sequence))
        return pairs

    @property
    def progress(self) -> rules.Progress:
        return rules.progress(event.mark for pl in self.legs for event in pl.events)


class Timeline:
    """A consignment as every reader sees it. Legs and events load on first use."""

    def __init__(
        self, consignment: Consignment, packages: list[PackageRow], coverage: dict, db: str
    ):
        self.db = db
        self.consignment = consignment
        self.brand: Brand = consignment.brand
        self.packages = packages
        self._coverage = coverage

    @property
    def version(self) -> str:
        """Changes whenever anything about the consignment changes (services bump revision)."""
        return f"{self.consignment.pk.hex}.{self.consignment.revision}"

    def cached(self, name: str, build: Callable[[], bytes]) -> bytes:
        """The one rendered-body cache: something derived from this consignment (an API's body,
        a page's), built once per version and `name` and kept in this process's memory. Every
        write bumps the version, so what is kept is never stale; on a hit the legs are never
        loaded. `name` must say whatever else the value depends on (the pages' names are their
        representation's digest: tracking.pages.caching)."""
        bodies = caches["bodies"]
        key = f"timeline:{self.version}:{name}"
        value = bodies.get(key)
        if value is None:
            value = build()
            bodies.set(key, value, CACHE_SECONDS)
        return value

    @cached_property
    def legs(self) -> list[LegRow]:
        legs: dict[uuid.UUID, LegRow] = {}
        width = len(_LEG_FIELDS)
        for row in _LEGS.rows(self.db, consignment_id=self.consignment.pk):
            leg = legs.get(row[0])
            if leg is None:
                leg = legs[row[0]] = LegRow(
                    *row[:width], package_ids=frozenset(self._coverage.get(row[0], ()))
                )
            if row[width] is not None:
                leg.events.append(EventRow(*row[width:]))
        return list(legs.values())

    def leg(self, leg_id: uuid.UUID) -> LegRow | None:
        return next((leg for leg in self.legs if leg.id == leg_id), None)

    @cached_property
    def by_package(self) -> list[PackageTimeline]:
        # Every leg and package here is of this one consignment.
        consignment_id = self.consignment.pk
        return [
            PackageTimeline(
                package=package,
                legs=[
                    PackageLeg(leg=leg, events=leg.events_for(package.id))
                    for leg in self.legs
                    if covers(
                        leg_consignment_id=consignment_id,
                        listed_package_ids=leg.package_ids,
                        package_consignment_id=consignment_id,
                        package_id=package.id,
                    )
                ],
            )
            for package in self.packages
        ]

    @property
    def summary(self) -> rules.Summary:
        return rules.summarise(p.status for p in self.packages)

    @property
    def is_final(self) -> bool:
        """Delivered or cancelled throughout: nothing more is expected, polling stops."""
        return rules.is_final(p.status for p in self.packages)

    @property
    def progress(self) -> rules.Progress:
        return rules.combined_progress(
            (pt.progress for pt in self.by_package), self.consignment.status
        )

    @classmethod
    def load(cls, consignments: QuerySet) -> Timeline | None:
        """The timeline of the one consignment `consignments` selects, or None."""
        rows = list(_head(consignments)[:10_000])
        return cls._from_rows(rows, consignments.db)

    @classmethod
    def find(cls, **where) -> Timeline | None:
        """The timeline of the consignment with these values, through a prepared query: `where`
        is reference=, pk= and brand_id= or reference= and brand_id= (the access door's
        three questions)."""
        return cls._from_rows(_HEADS[tuple(sorted(where))].rows(**where), "default")

    @classmethod
    def remembered(cls, reference: str) -> Timeline | None:
        """find(reference=) for the customer pages: on PostgreSQL the head comes from this
        process's memory until the database announces a change to the consignment
        (tracking.db.changes), so an unchanged page or poll costs no query."""

        def load() -> list[tuple]:
            return _HEADS[("reference",)].rows(reference=reference)

        memo = changes.memo()
        return cls._from_rows(load() if memo is None else memo.get(reference, load), "default")

    @classmethod
    def _from_rows(cls, rows: list[tuple], db: str) -> Timeline | None:
        if not rows:
            return None
        n_consignment, n_brand = len(_CONSIGNMENT_FIELDS), len(_BRAND_FIELDS)
        [consignment] = rows_as(Consignment, _CONSIGNMENT_FIELDS, rows[:1], using=db)
        [consignment.brand] = rows_as(Brand, _BRAND_FIELDS, rows[:1], start=n_consignment, using=db)
        packages: dict[uuid.UUID, PackageRow] = {}
        coverage: dict[uuid.UUID, set] = {}
        start = n_consignment + n_brand
        for row in rows:
            if row[0] != consignment.pk:
                raise ValueError("Timeline.load() needs a queryset of exactly one consignment")
            package_values, leg_id = row[start:-1], row[-1]
            if package_values[0] is None:
                continue
            if package_values[0] not in packages:
                packages[package_values[0]] = PackageRow(*package_values)
            if leg_id is not None:
                coverage.setdefault(leg_id, set()).add(package_values[0])
        return cls(consignment, list(packages.values()), coverage, db)


def _head(consignments: QuerySet) -> QuerySet:
    """Query one: the consignment, its brand, its packages and which legs carry each."""
    return consignments.order_by("packages__sequence", "packages__reference").values_list(
        *_CONSIGNMENT_FIELDS,
        *(f"brand__{name}" for name in _BRAND_FIELDS),
        *(f"packages__{name}" for name in _PACKAGE_FIELDS),
        "packages__legs__id",
    )


_REFERENCE = Consignment._meta.get_field("reference")
_ID = Consignment._meta.pk
_BRAND = Brand._meta.pk
_HEADS = {
    ("reference",): PreparedQuery(
        lambda reference: _head(Consignment.objects.filter(reference=reference)),
        reference=_REFERENCE,
    ),
    ("brand_id", "pk"): PreparedQuery(
        lambda pk, brand_id: _head(Consignment.objects.filter(pk=pk, brand_id=brand_id)),
        pk=_ID,
        brand_id=_BRAND,
    ),
    ("brand_id", "reference"): PreparedQuery(
        lambda reference, brand_id: _head(
            Consignment.objects.filter(reference=reference, brand_id=brand_id)
        ),
        reference=_REFERENCE,
        brand_id=_BRAND,
    ),
}
# Query two: the legs with their events, oldest first.
_LEGS = PreparedQuery(
    lambda consignment_id: (
        TrackingRecord.objects.filter(consignment_id=consignment_id)
        .order_by(
            "sequence",
            "created_utc",
            "id",
            "events__occurred_at",
            "events__received_at",
            "events__id",
        )
        .values_list(*_LEG_FIELDS, *(f"events__{name}" for name in _EVENT_FIELDS))
    ),
    consignment_id=_ID,
)
