"""The support desk's reads (design section 7.5): the watchlist's categories and the carrier
scorecard. Pure reads, always of a queryset the caller has already cut to a StaffScope.

One definition per category (`Watch.q`), used by the watchlist's counts and by the consignment
list's `?watch=` filter alike, so the two always agree.

Working hours. "No carrier scan for 48 h" counts hours of working days only: weekends and the
public holidays (from `holidays`) of the destination country, with day boundaries in the
brand's time zone. SQL cannot walk a holiday calendar, so the walk happens here, once per
(time zone, country, threshold): `working_cutoff` finds the wall-clock instant that lies that
many working hours before now, and the category becomes `last_event_at < cutoff` for each
group, OR'ed in one query. The groups are the distinct (time zone, country) pairs among the
open consignments in scope (one small query) times the distinct thresholds (the defaults and
the carriers' own rows, one query), so the counts cost the same few queries however many
consignments there are. A consignment without a destination country is counted by Great
Britain's holidays (a brand has no country of its own); a country `holidays` does not know has
weekends only.

A consignment's carrier, for thresholds and the scorecard, is that of its last leg (highest
sequence, then newest): the carrier holding the parcel after a hand-over.
"""

from __future__ import annotations

import datetime as dt
import math
import zoneinfo
from dataclasses import dataclass, field
from functools import cache

import holidays
from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from tracking import status as rules
from tracking.models import Carrier, CarrierThresholds, TrackingEvent, TrackingRecord
from tracking.services import unmapped_events

FALLBACK_COUNTRY = "GB"
S = rules.Status
LABEL_STATUSES = (S.UNKNOWN, *rules.statuses_at(rules.Stage.LABEL_CREATED))
MOVING_STATUSES = (
    *rules.statuses_at(rules.Stage.DISPATCHED),
    *rules.statuses_at(rules.Stage.IN_TRANSIT),
)
CLOSED_STATUSES = (S.DELIVERED, S.CANCELLED)


@dataclass(frozen=True)
class Category:
    slug: str
    label: str
    description: str


CATEGORIES = (
    Category(
        "forgotten",
        "Forgotten",
        "Label created and no carrier scan for {forgotten} working hours.",
    ),
    Category(
        "stalled",
        "Stalled",
        "Dispatched or in transit and no event for {stalled} working hours.",
    ),
    Category("attempted", "Delivery attempted", "A delivery attempt failed."),
    Category("exception", "Exception", "The carrier reported a problem (damage, refusal, ...)."),
    Category("late", "Late", "Past the expected delivery date and not delivered."),
    Category(
        "unmapped", "Unmapped codes", "Has events whose carrier code the table does not know."
    ),
)
CATEGORY_SLUGS = tuple(c.slug for c in CATEGORIES)


# -- Working hours ---------------------------------------------------------------------------


@cache
def _calendar(country: str):
    try:
        return holidays.country_holidays(country)
    except NotImplementedError:  # a country `holidays` does not know: weekends only
        return {}


def holiday_country(destination_country: str) -> str:
    return (destination_country or "").strip().upper() or FALLBACK_COUNTRY


def is_working_day(day: dt.date, country: str) -> bool:
    return day.weekday() < 5 and day not in _calendar(holiday_country(country))


def working_cutoff(now: dt.datetime, hours: int, country: str, zone: dt.tzinfo) -> dt.datetime:
    """The instant `hours` working hours before `now`: walking back day by day in `zone`,
    a working day of `country` counts every hour, a weekend or public holiday none."""
    remaining = dt.timedelta(hours=hours)
    end = now.astimezone(dt.UTC)
    day = now.astimezone(zone).date()
    # A year of holidays and weekends never hides more than a few hundred days; the bound
    # only guards against a calendar with no working day at all.
    for _ in range(hours // 24 * 3 + 3700):
        start = dt.datetime.combine(day, dt.time.min, tzinfo=zone).astimezone(dt.UTC)
        if is_working_day(day, country):
            available = end - start
            if available >= remaining:
                return end - remaining
            remaining -= available
        end, day = start, day - dt.timedelta(days=1)
    return end


# -- The watchlist ------------------------------------------------------------------------------


def current_carrier():
    """The carrier of a consignment's last leg (None without legs or carrier)."""
    legs = TrackingRecord.objects.filter(consignment=OuterRef("pk"))
    return Subquery(legs.order_by("-sequence", "-created_utc").values("carrier_id")[:1])


@dataclass
class Thresholds:
    """Each carrier's (forgotten, stalled) hours where it has its own; the defaults else."""

    own: dict[int, tuple[int, int]] = field(default_factory=dict)
    default: tuple[int, int] = (
        CarrierThresholds.DEFAULT_FORGOTTEN_HOURS,
        CarrierThresholds.DEFAULT_STALLED_HOURS,
    )

    @classmethod
    def load(cls) -> Thresholds:
        rows = CarrierThresholds.objects.values_list(
            "carrier_id", "forgotten_hours", "stalled_hours"
        )
        return cls(own={carrier: (f, s) for carrier, f, s in rows})

    def groups(self, which: int) -> list[tuple[int, Q]]:
        """(hours, which consignments' carriers have them) for threshold `which` (0 forgotten,
        1 stalled): one Q per distinct value, carriers without a row under the default."""
        by_hours: dict[int, list[int]] = {}
        for carrier, values in self.own.items():
            by_hours.setdefault(values[which], []).append(carrier)
        default = self.default[which]
        others = Q()  # every carrier, when none has its own
        if self.own:
            others = Q(desk_carrier__isnull=True) | ~Q(desk_carrier__in=list(self.own))
        groups = {default: others}
        for hours, carriers in by_hours.items():
            mine = Q(desk_carrier__in=carriers)
            groups[hours] = groups[hours] | mine if hours in groups else mine
        return sorted(groups.items(), key=lambda item: item[0])


class Watch:
    """The watchlist's categories at one moment, for consignments of `consignments` (already
    scoped). Loading costs two queries (thresholds, and the time zones and countries present);
    each category is then a Q on `prepare(queryset)`."""

    def __init__(self, consignments: QuerySet, now: dt.datetime | None = None):
        self.now = now or timezone.now()
        self.thresholds = Thresholds.load()
        self.places = sorted(
            consignments.exclude(status__in=CLOSED_STATUSES)
            .order_by()
            .values_list("brand__time_zone", "destination_country")
            .distinct()
        )

    @property
    def hours(self) -> dict[str, int]:
        forgotten, stalled = self.thresholds.default
        return {"forgotten": forgotten, "stalled": stalled}

    @staticmethod
    def prepare(queryset: QuerySet) -> QuerySet:
        return queryset.annotate(desk_carrier=current_carrier())

    def _overdue(self, which: int, field_q) -> Q:
        """Consignments whose clock (`field_q(cutoff)`) ran past their carrier's threshold,
        in working hours of their own place."""
        terms = Q(pk__in=[])
        for zone_name, country in self.places:
            zone = zoneinfo.ZoneInfo(zone_name)
            for hours, carriers in self.thresholds.groups(which):
                cutoff = working_cutoff(self.now, hours, country, zone)
                place = Q(brand__time_zone=zone_name, destination_country=country)
                terms |= place & carriers & field_q(cutoff)
        return terms

    def q(self, slug: str) -> Q:
        if slug == "forgotten":
            return (
                Q(status__in=LABEL_STATUSES, first_scan_at__isnull=True)
                & Q(Exists(TrackingRecord.objects.filter(consignment=OuterRef("pk"))))
                & self._overdue(
                    0,
                    lambda cutoff: (
                        Q(last_event_at__lt=cutoff)
                        | Q(last_event_at__isnull=True, created_utc__lt=cutoff)
                    ),
                )
            )
        if slug == "stalled":
            return Q(status__in=MOVING_STATUSES) & self._overdue(
                1, lambda cutoff: Q(last_event_at__lt=cutoff)
            )
        if slug == "attempted":
            return Q(status=S.ATTEMPTED_DELIVERY)
        if slug == "exception":
            return Q(status=S.EXCEPTION)
        if slug == "late":
            terms = Q(pk__in=[])
            for zone_name in sorted({zone for zone, _country in self.places}):
                today = self.now.astimezone(zoneinfo.ZoneInfo(zone_name)).date()
                terms |= Q(brand__time_zone=zone_name, expected_delivery_date__lt=today)
            return terms & ~Q(status__in=CLOSED_STATUSES)
        if slug == "unmapped":
            return Q(Exists(unmapped_events().filter(tracking_record__consignment=OuterRef("pk"))))
        raise KeyError(slug)

    def filter(self, queryset: QuerySet, slug: str) -> QuerySet:
        return self.prepare(queryset).filter(self.q(slug))

    def counts(self, consignments: QuerySet) -> dict[str, int]:
        """Every category's count in one query. Grouped by brand and summed here, because
        aggregate() over the annotated carrier would wrap the query in a subquery, out of
        the reach of the categories' own subqueries (OuterRef)."""
        rows = (
            self.prepare(consignments)
            .order_by()
            .values("brand")
            .annotate(**{slug: Count("pk", filter=self.q(slug)) for slug in CATEGORY_SLUGS})
        )
        totals = dict.fromkeys(CATEGORY_SLUGS, 0)
        for row in rows:
            for slug in CATEGORY_SLUGS:
                totals[slug] += row[slug]
        return totals


# -- The scorecard -------------------------------------------------------------------------------


def percentile(values: list[float], fraction: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default), None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass
class CarrierScore:
    carrier_id: int | None
    name: str
    consignments: int = 0
    delivered: int = 0
    with_expected: int = 0  # delivered consignments that had an expected date
    on_time: int = 0
    exceptions: int = 0  # consignments with an Exception event
    transit_hours: list[float] = field(default_factory=list, repr=False)

    @property
    def on_time_pct(self) -> float | None:
        return 100 * self.on_time / self.with_expected if self.with_expected else None

    @property
    def exception_pct(self) -> float | None:
        return 100 * self.exceptions / self.consignments if self.consignments else None

    @property
    def p50_hours(self) -> float | None:
        return percentile(self.transit_hours, 0.5)

    @property
    def p90_hours(self) -> float | None:
        return percentile(self.transit_hours, 0.9)


def day_bounds(first: dt.date, last: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """[first 00:00, the day after last 00:00) in UTC."""
    start = dt.datetime.combine(first, dt.time.min, tzinfo=dt.UTC)
    return start, dt.datetime.combine(last + dt.timedelta(days=1), dt.time.min, tzinfo=dt.UTC)


def scorecard(
    consignments: QuerySet, first: dt.date, last: dt.date
) -> tuple[list[CarrierScore], CarrierScore]:
    """Per carrier (of the last leg), the consignments created from `first` to `last` (UTC
    days): how many, how many delivered, on time (delivered, in the brand's time zone, on or
    before the expected date, of those delivered that had one), transit p50/p90 (first carrier
    scan to delivery), and the share with an Exception event. Three queries: counts per
    carrier in SQL, the delivered rows (for on-time and the percentiles, in Python), and the
    carriers' names. Also the row for all carriers together."""
    start, end = day_bounds(first, last)
    rows = Watch.prepare(
        consignments.filter(created_utc__gte=start, created_utc__lt=end).order_by()
    )
    exception_events = TrackingEvent.objects.filter(
        tracking_record__consignment=OuterRef("pk"), status=S.EXCEPTION
    )
    scores: dict[int | None, CarrierScore] = {}
    for row in rows.values("desk_carrier").annotate(
        consignments=Count("pk"), exceptions=Count("pk", filter=Q(Exists(exception_events)))
    ):
        scores[row["desk_carrier"]] = CarrierScore(
            row["desk_carrier"], "", row["consignments"], exceptions=row["exceptions"]
        )
    delivered = rows.filter(status=S.DELIVERED, delivered_at__isnull=False).values_list(
        "desk_carrier",
        "first_scan_at",
        "delivered_at",
        "expected_delivery_date",
        "brand__time_zone",
    )
    for carrier, scanned, done, expected, zone_name in delivered:
        score = scores[carrier]
        score.delivered += 1
        if expected is not None:
            score.with_expected += 1
            score.on_time += done.astimezone(zoneinfo.ZoneInfo(zone_name)).date() <= expected
        if scanned is not None and scanned <= done:
            score.transit_hours.append((done - scanned).total_seconds() / 3600)
    names = dict(Carrier.objects.filter(pk__in=[c for c in scores if c]).values_list("pk", "name"))
    for carrier, score in scores.items():
        score.name = names.get(carrier, "No carrier")
    table = sorted(scores.values(), key=lambda s: (s.carrier_id is None, s.name.lower()))
    total = CarrierScore(None, "All carriers")
    for score in table:
        for name in ("consignments", "delivered", "with_expected", "on_time", "exceptions"):
            setattr(total, name, getattr(total, name) + getattr(score, name))
        total.transit_hours.extend(score.transit_hours)
    return table, total
