"""/admin/scorecard/: the per-carrier figures on a known data set, the default range, CSV, bad
dates, brand isolation and a fixed number of queries."""

import csv
import datetime as dt
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.desk.conftest import parcel, staff_user, when
from tests.factories import CarrierFactory
from tracking.desk import percentile

pytestmark = pytest.mark.django_db

SCORECARD = "/admin/scorecard/"
DECEMBER = {"from": "2026-12-01", "to": "2026-12-29"}


@pytest.fixture
def carriers(db):
    return CarrierFactory(code="ALPHA", name="Alpha"), CarrierFactory(code="BRAVO", name="Bravo")


def delivered(brand, carrier, created, scanned, done, expected=None):
    return parcel(
        brand,
        carrier,
        created=created,
        expected=expected,
        events=[(scanned, "COLLECTED_BY_CARRIER"), (done, "DELIVERED")],
    )


@pytest.fixture
def known(brand, other_brand, carriers, frozen):
    alpha, bravo = carriers
    delivered(brand, alpha, when(10), when(10, 10), when(11, 10), dt.date(2026, 12, 11))  # 24 h
    delivered(brand, alpha, when(10), when(10, 10), when(13, 22), dt.date(2026, 12, 12))  # 84 h
    delivered(brand, alpha, when(12), when(12), when(12, 12))  # 12 h, no expected date
    parcel(
        brand,
        alpha,
        created=when(12),
        events=[
            (when(12, 1), "IN_TRANSIT"),
            (when(12, 2), "EXCEPTION"),
            (when(12, 3), "IN_TRANSIT"),
        ],
    )
    parcel(brand, bravo, created=when(14), events=[(when(14, 1), "IN_TRANSIT")])
    delivered(brand, bravo, when(20, month=11), when(20, 1, 11), when(21, 1, 11))  # before
    delivered(other_brand, alpha, when(10), when(10, 1), when(10, 2), dt.date(2026, 12, 10))


def table(response):
    assert response.status_code == 200
    rows = [*response.context["table"], response.context["total"]]
    return {
        s.name: (
            s.consignments,
            s.delivered,
            s.on_time_pct,
            s.p50_hours,
            s.p90_hours,
            s.exception_pct,
        )
        for s in rows
    }


def test_the_figures_per_carrier(client, brand, known):
    client.force_login(staff_user("desk", brand))
    assert table(client.get(SCORECARD, DECEMBER)) == {
        # Transit 12, 24 and 84 h: p90 lies 0.8 of the way from 24 to 84.
        "Alpha": (4, 3, 50.0, 24.0, pytest.approx(72.0), 25.0),
        "Bravo": (1, 0, None, None, None, 0.0),
        "All carriers": (5, 3, 50.0, 24.0, pytest.approx(72.0), 20.0),
    }


def test_the_default_range_is_the_last_30_days(admin_client, known):
    response = admin_client.get(SCORECARD)
    assert response.context["form"].cleaned_data == {
        "from": dt.date(2026, 11, 30),
        "to": dt.date(2026, 12, 29),
    }
    assert table(response)["All carriers"][0] == 6  # both brands', not November's
    narrow = table(admin_client.get(SCORECARD, {"from": "2026-12-14", "to": "2026-12-14"}))
    assert narrow == {
        "Bravo": (1, 0, None, None, None, 0.0),
        "All carriers": (1, 0, None, None, None, 0.0),
    }


def test_the_page_has_a_chart_with_a_text_alternative(client, brand, known):
    client.force_login(staff_user("desk", brand))
    page = client.get(SCORECARD, DECEMBER).content.decode()
    assert '<svg role="img" aria-labelledby="chart-title chart-desc"' in page
    assert '<title id="chart-title">On-time delivery by carrier</title>' in page
    assert "Alpha: 50% on time of 2 delivered with an expected date." in page
    assert "Bravo: no delivered consignment with an expected date." in page
    assert 'href="/admin/scorecard/?from=2026-12-01&amp;to=2026-12-29&amp;format=csv"' in page


def test_csv_downloads_the_same_table(client, brand, known):
    client.force_login(staff_user("desk", brand))
    response = client.get(SCORECARD, {**DECEMBER, "format": "csv"})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="scorecard-2026-12-01-2026-12-29.csv"' in response["Content-Disposition"]
    assert list(csv.reader(io.StringIO(response.content.decode()))) == [
        [
            "carrier",
            "consignments",
            "delivered",
            "on_time_pct",
            "transit_p50_hours",
            "transit_p90_hours",
            "exception_rate_pct",
        ],
        ["Alpha", "4", "3", "50.0", "24.0", "72.0", "25.0"],
        ["Bravo", "1", "0", "", "", "", "0.0"],
        ["All carriers", "5", "3", "50.0", "24.0", "72.0", "20.0"],
    ]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {"from": "2026-13-01", "to": "2026-12-29"},
            "Enter the &#x27;From&#x27; date as YYYY-MM-DD.",
        ),
        ({"from": "2026-12-01", "to": "yesterday"}, "Enter the &#x27;To&#x27; date as YYYY-MM-DD."),
        ({"from": "", "to": "2026-12-29"}, "This field is required."),
        ({"from": "2026-12-29", "to": "2026-12-01"}, "&#x27;From&#x27; must be on or before"),
        ({"from": "2024-01-01", "to": "2026-12-01"}, "Choose at most 366 days"),
    ],
)
def test_bad_dates_are_a_form_error(admin_client, params, message):
    for extra in ({}, {"format": "csv"}):
        response = admin_client.get(SCORECARD, {**params, **extra})
        assert response.status_code == 400
        assert response["Content-Type"].startswith("text/html")
        assert message in response.content.decode()


def test_brand_staff_see_only_their_brand(client, admin_client, brand, known, brandless_staff):
    assert table(admin_client.get(SCORECARD, DECEMBER))["Alpha"][:2] == (5, 4)
    client.force_login(brandless_staff)
    response = client.get(SCORECARD, DECEMBER)
    assert response.context["table"] == []
    assert "No consignments were created in this range." in response.content.decode()


def test_the_scorecard_costs_a_fixed_number_of_queries(client, brand, carriers, frozen):
    client.force_login(staff_user("desk", brand))
    alpha, bravo = carriers

    def add(n):
        for i in range(n):
            delivered(brand, alpha if i % 2 else bravo, when(10), when(10, 1), when(11, i))

    add(2)
    client.get(SCORECARD, DECEMBER)
    with CaptureQueriesContext(connection) as small:
        client.get(SCORECARD, DECEMBER)
    add(8)
    with CaptureQueriesContext(connection) as large:
        assert table(client.get(SCORECARD, DECEMBER))["All carriers"][1] == 10
    assert len(small) == len(large) <= 8, [q["sql"] for q in large]


def test_percentiles_interpolate_between_ranks():
    assert percentile([], 0.5) is None
    assert percentile([5.0], 0.9) == 5.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5
    assert (
        percentile([10.0, 0.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0, 100.0], 0.9) == 90.0
    )
