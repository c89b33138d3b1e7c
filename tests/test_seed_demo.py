"""seed_demo: demo data dated relative to the day it runs, consistent with itself, idempotent."""

import datetime as dt
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone

from tests.factories import make_consignment
from tracking import services
from tracking.management.commands import seed_demo
from tracking.models import ApiKey, Brand, Carrier, Consignment, Package, TrackingEvent
from tracking.status import Status

pytestmark = pytest.mark.django_db

# Days (and times of day) to run the seed on: a Tuesday noon in winter, a Friday morning in
# summer before most of the day's demo events would have happened, just after midnight in
# London, and late evening in London when it is already tomorrow in Berlin. None is on a whole
# second.
RUNS = {
    "winter noon": dt.datetime(2026, 3, 10, 12, 0, 0, 250_000, tzinfo=dt.UTC),
    "summer morning": dt.datetime(2026, 7, 17, 6, 40, 30, 500_001, tzinfo=dt.UTC),
    "just after midnight": dt.datetime(2026, 11, 3, 0, 20, 0, 750_000, tzinfo=dt.UTC),
    "tomorrow in Berlin": dt.datetime(2026, 12, 1, 23, 30, 0, 123_456, tzinfo=dt.UTC),
}
DEMO_REFERENCES = [demo.reference for demo in seed_demo.DEMOS]
STAGES_BEFORE_TRANSIT = {Status.UNKNOWN, Status.PRINTED, Status.AWAITING_COLLECTION}
NOT_LATE = {Status.DELIVERED, Status.CANCELLED}


def seed(moment: dt.datetime) -> str:
    out = StringIO()
    with time_machine.travel(moment, tick=False):
        call_command("seed_demo", stdout=out)
    return out.getvalue()


def today_of(consignment: Consignment, moment: dt.datetime) -> dt.date:
    return timezone.localdate(moment, timezone=consignment.brand.zone)


def local_day(consignment: Consignment, instant: dt.datetime) -> dt.date:
    return timezone.localdate(instant, timezone=consignment.brand.zone)


def demo_consignments():
    return Consignment.objects.filter(reference__in=DEMO_REFERENCES).select_related("brand")


def snapshot() -> list:
    """Everything the seed writes, ids included: a re-run that changes nothing keeps it."""
    return [
        (
            c.pk,
            c.reference,
            c.status,
            c.expected_delivery_date,
            c.revision,
            list(c.packages.order_by("sequence").values_list("pk", "status")),
            list(
                TrackingEvent.objects.filter(tracking_record__consignment=c)
                .order_by("id")
                .values_list("pk", "code", "occurred_at", "received_at")
            ),
        )
        for c in Consignment.objects.order_by("reference")
    ]


def assert_consistent(moment: dt.datetime) -> None:
    """Each expected date fits its status on the day of `moment`, in the brand's time zone."""
    consignments = list(demo_consignments())
    assert sorted(c.reference for c in consignments) == sorted(DEMO_REFERENCES)
    late, delayed = [], []
    for consignment in consignments:
        today = today_of(consignment, moment)
        expected, status = consignment.expected_delivery_date, Status(consignment.status)
        events = TrackingEvent.objects.filter(tracking_record__consignment=consignment)
        where = f"{consignment.reference} ({status.name}, expected {expected}, today {today})"

        # Events happened in the last days, none in the future.
        for occurred_at in events.values_list("occurred_at", flat=True):
            assert moment - dt.timedelta(days=6) < occurred_at <= moment, where
        # Delivered parcels arrived on the day they were expected: on time, and the estimate
        # was no promise for a later day.
        for delivered in events.filter(status=Status.DELIVERED).values_list(
            "occurred_at", flat=True
        ):
            assert local_day(consignment, delivered) == expected, where

        if status in NOT_LATE - {Status.CANCELLED}:
            assert expected is not None and expected <= today, where
        elif status == Status.CANCELLED:
            assert expected is None, where
        elif expected < today:
            late.append(consignment.reference)
        elif status in {Status.OUT_FOR_DELIVERY, Status.PICKUP_IN_STORE}:
            assert expected == today, where
            [newest] = events.filter(status=status).order_by("-occurred_at")[:1]
            assert local_day(consignment, newest.occurred_at) == today, where
        elif status == Status.ATTEMPTED_DELIVERY:
            assert expected == today, where
        elif status in {Status.DISPATCHED, Status.IN_TRANSIT, Status.EXCEPTION}:
            assert today < expected <= today + dt.timedelta(days=3), where
        else:  # label created, manifested, awaiting drop-off, no carrier yet
            assert status in STAGES_BEFORE_TRANSIT | {Status.MANIFESTED}, where
            assert expected > today, where

        if events.filter(code="DELAYED").exists():
            delayed.append(consignment.reference)
            newest = events.exclude(status=0).order_by("-occurred_at").first()
            assert (newest.code, newest.description) == ("DELAYED", "Delayed: vehicle breakdown")
            assert status == Status.IN_TRANSIT

    assert late == ["EC-DEM-000-017"]
    assert delayed == ["EC-DEM-000-016"]


@pytest.mark.parametrize("moment", RUNS.values(), ids=RUNS.keys())
def test_every_expected_date_fits_its_status_on_the_day_it_runs(moment):
    output = seed(moment)

    assert_consistent(moment)
    for reference in DEMO_REFERENCES:
        assert f"created  /track/{reference}/  " in output


def test_the_showcase_is_out_for_delivery_and_expected_today_not_later():
    # The issue: "EC-DEM-000-001 is 'Out for delivery' today with 'Expected delivery
    # Thursday 3 December'".
    moment = RUNS["tomorrow in Berlin"]
    seed(moment)

    for reference, today in (
        ("EC-DEM-000-001", dt.date(2026, 12, 1)),
        ("EC-KES-000-001", dt.date(2026, 12, 2)),
    ):
        showcase = Consignment.objects.get(reference=reference)
        assert (showcase.status, showcase.expected_delivery_date) == (4, today)
        assert sorted(showcase.packages.values_list("status", flat=True)) == [4, 5]
        assert showcase.legs.count() == 2


def test_it_still_covers_every_status_and_the_promised_cases():
    seed(RUNS["winter noon"])

    assert set(demo_consignments().values_list("status", flat=True)) == set(Status)
    assert Consignment.objects.filter(status=Status.EXCEPTION).exists()
    assert TrackingEvent.objects.filter(status=Status.DELIVERED).exclude(signed_by="").exists()
    three = Consignment.objects.get(reference="EC-DEM-000-014")
    assert sorted(three.packages.values_list("status", flat=True)) == [4, 5, 5]


def test_running_it_again_the_same_day_changes_nothing():
    first = RUNS["just after midnight"]
    seed(first)
    before = (snapshot(), Brand.objects.count(), Carrier.objects.count())

    # Later the same day, in both brands' time zones.
    output = seed(first + dt.timedelta(hours=20))

    assert (snapshot(), Brand.objects.count(), Carrier.objects.count()) == before
    assert all(f"exists   /track/{reference}/" in output for reference in DEMO_REFERENCES)


def test_a_run_on_a_later_day_re_dates_the_demo_and_keeps_everything_else():
    first, later = RUNS["winter noon"], RUNS["winter noon"] + dt.timedelta(days=3, hours=-5)
    seed(first)
    demo = Brand.objects.get(slug="demo")
    mine = make_consignment(demo, reference="EC-OWN-000-001")
    key, _secret = services.issue_api_key(name="Demo shop", brand=demo)
    counts = (Consignment.objects.count(), Package.objects.count(), TrackingEvent.objects.count())
    old_ids = set(demo_consignments().values_list("pk", flat=True))

    output = seed(later)

    assert_consistent(later)
    assert (
        Consignment.objects.count(),
        Package.objects.count(),
        TrackingEvent.objects.count(),
    ) == counts
    assert not old_ids & set(demo_consignments().values_list("pk", flat=True))
    assert all(f"re-dated /track/{reference}/" in output for reference in DEMO_REFERENCES)
    assert Consignment.objects.filter(pk=mine.pk).exists()
    assert ApiKey.objects.filter(pk=key.pk).exists()
    assert (Brand.objects.count(), Carrier.objects.count()) == (2, 3)

    # And again that later day: nothing changes.
    before = snapshot()
    seed(later + dt.timedelta(hours=1))
    assert snapshot() == before


def test_a_demo_reference_held_by_another_brand_is_left_alone(brand):
    theirs = make_consignment(brand, reference="EC-DEM-000-005")

    output = seed(RUNS["winter noon"])

    assert "skipped  /track/EC-DEM-000-005/" in output
    assert Consignment.objects.get(reference="EC-DEM-000-005").pk == theirs.pk
    assert Consignment.objects.get(pk=theirs.pk).brand == brand


def test_the_days_events_keep_their_order_when_the_day_has_barely_begun():
    moment = RUNS["just after midnight"]  # 00:20 in London, 01:20 in Berlin
    seed(moment)

    showcase = Consignment.objects.get(reference="EC-DEM-000-001")
    midnight = dt.datetime(2026, 11, 3, tzinfo=showcase.brand.zone)
    lastmile = showcase.legs.get(sequence=2)
    todays = list(
        lastmile.events.filter(occurred_at__gte=midnight)
        .order_by("occurred_at")
        .values_list("code", "occurred_at")
    )
    assert [code for code, _ in todays] == ["IN_TRANSIT", "OUT_FOR_DELIVERY", "DELIVERED"]
    assert all(midnight < occurred_at < moment for _, occurred_at in todays)


def test_the_day_keeps_its_wall_clock_times_once_they_have_passed():
    moment = dt.datetime(2026, 3, 10, 18, 0, tzinfo=dt.UTC)
    seed(moment)

    delivered = TrackingEvent.objects.get(
        tracking_record__consignment__reference="EC-DEM-000-001", code="DELIVERED"
    )
    assert delivered.occurred_at == dt.datetime(2026, 3, 10, 11, 20, tzinfo=dt.UTC)  # GMT
    assert delivered.signed_by == "A. Morgan"
