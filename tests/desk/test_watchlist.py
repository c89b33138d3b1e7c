"""/admin/watchlist/: each category, per-carrier thresholds, brand isolation, fixed query counts,
and the consignment list's ?watch= filter agreeing with every count."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.desk.conftest import parcel, staff_user, when
from tests.factories import CarrierFactory, make_leg
from tracking.desk import CATEGORY_SLUGS, Watch
from tracking.models import CarrierThresholds, Consignment

pytestmark = pytest.mark.django_db

WATCHLIST = "/admin/watchlist/"
US = dt.timedelta(microseconds=123_456)  # NOW's fraction: the cut-offs carry it


def counts(client):
    response = client.get(WATCHLIST)
    assert response.status_code == 200
    return {row["category"].slug: row["count"] for row in response.context["rows"]}


def only(category, number=1):
    return {slug: number if slug == category else 0 for slug in CATEGORY_SLUGS}


def test_forgotten_counts_48_working_hours_across_christmas(admin_client, brand, carrier, frozen):
    cutoff = when(23, 10) + US  # 48 working hours before NOW in GB (test_working_hours)
    parcel(
        brand,
        carrier,
        created=cutoff - dt.timedelta(hours=2),
        events=[(cutoff - dt.timedelta(minutes=1), "LABEL_PRINTED")],
    )
    parcel(
        brand,
        carrier,
        created=cutoff - dt.timedelta(hours=2),
        events=[(cutoff + dt.timedelta(minutes=1), "LABEL_PRINTED")],
    )  # not yet
    parcel(
        brand,
        carrier,
        created=when(20),  # scanned: not forgotten, whatever the time
        events=[(when(20, 1), "LABEL_PRINTED"), (when(20, 2), "COLLECTED_BY_CARRIER")],
    )
    parcel(brand, carrier, created=cutoff - dt.timedelta(hours=1))  # a leg, no event yet
    parcel(brand, None, created=when(1))  # no leg: no label
    assert counts(admin_client)["forgotten"] == 2


def test_stalled_counts_72_working_hours_while_moving(admin_client, brand, carrier, frozen):
    cutoff = when(22, 10) + US
    parcel(
        brand, carrier, created=when(21), events=[(cutoff - dt.timedelta(minutes=1), "IN_TRANSIT")]
    )
    parcel(
        brand,
        carrier,
        created=when(21),
        events=[
            (when(21, 1), "COLLECTED_BY_CARRIER"),
            (cutoff - dt.timedelta(minutes=5), "COLLECTED_BY_CARRIER"),
        ],
    )
    parcel(
        brand, carrier, created=when(21), events=[(cutoff + dt.timedelta(minutes=1), "IN_TRANSIT")]
    )  # not yet
    parcel(
        brand,
        carrier,
        created=when(21),
        events=[(when(21, 1), "IN_TRANSIT"), (when(21, 2), "OUT_FOR_DELIVERY")],
    )
    assert counts(admin_client) == only("stalled", 2)


def test_holidays_are_the_destination_country(admin_client, brand, carrier, frozen):
    # Thursday 24th 09:00: past 48 working hours in Germany (the 28th is worked there), not
    # in Great Britain; a consignment with no country is counted as British.
    for country in ("DE", "GB", ""):
        parcel(
            brand,
            carrier,
            created=when(24, 8),
            country=country,
            events=[(when(24, 9), "LABEL_PRINTED")],
        )
    assert counts(admin_client)["forgotten"] == 1
    assert (
        Consignment.objects.get(
            pk__in=Watch(Consignment.objects.all()).filter(Consignment.objects.all(), "forgotten")
        ).destination_country
        == "DE"
    )


def test_a_carrier_can_have_its_own_thresholds(admin_client, brand, carrier, other_carrier, frozen):
    CarrierThresholds.objects.create(carrier=carrier, forgotten_hours=8, stalled_hours=9)
    for each in (carrier, other_carrier):
        parcel(brand, each, created=when(29, 0), events=[(when(29, 1), "LABEL_PRINTED")])
        parcel(brand, each, created=when(29, 0), events=[(when(29, 0.5), "IN_TRANSIT")])
    assert counts(admin_client) == {**only("forgotten"), "stalled": 1}
    # After a hand-over the consignment's last leg decides whose thresholds apply.
    handed = parcel(
        brand, other_carrier, created=when(29, 0), events=[(when(29, 0.5), "IN_TRANSIT")]
    )
    make_leg(handed, carrier=carrier, sequence=2)
    assert counts(admin_client)["stalled"] == 2


def test_attempted_exception_late_and_unmapped(admin_client, brand, carrier, frozen):
    parcel(brand, carrier, created=when(28), events=[(when(28, 9), "DELIVERY_FAILED")])
    parcel(brand, carrier, created=when(28), events=[(when(28, 9), "DAMAGED")])
    parcel(
        brand,
        carrier,
        created=when(28),
        expected=dt.date(2026, 12, 28),
        events=[(when(29, 9), "OUT_FOR_DELIVERY")],
    )
    parcel(
        brand,
        carrier,
        created=when(28),
        expected=dt.date(2026, 12, 29),  # due today
        events=[(when(29, 9), "OUT_FOR_DELIVERY")],
    )
    parcel(
        brand,
        carrier,
        created=when(28),
        expected=dt.date(2026, 12, 27),  # delivered
        events=[(when(28, 9), "DELIVERED")],
    )
    parcel(
        brand,
        carrier,
        created=when(28),
        events=[(when(29, 8), "OUT_FOR_DELIVERY"), (when(29, 9), "ZUGESTELLT")],
    )
    assert counts(admin_client) == {
        "forgotten": 0,
        "stalled": 0,
        "attempted": 1,
        "exception": 1,
        "late": 1,
        "unmapped": 1,
    }


def populate(brand, carrier, sets: int):
    for n in range(sets):
        parcel(brand, carrier, created=when(20), events=[(when(20, 1), "LABEL_PRINTED")])
        parcel(
            brand,
            carrier,
            created=when(20),
            events=[(when(20, 1), "IN_TRANSIT")],
            country="DE" if n % 2 else "FR",
        )
        parcel(brand, carrier, created=when(28), events=[(when(28, 1), "DAMAGED")])
        parcel(
            brand,
            carrier,
            created=when(28),
            expected=dt.date(2026, 12, 1),
            events=[(when(28, 1), "DELIVERY_FAILED"), (when(28, 2), "NEU_CODE")],
        )


@pytest.mark.parametrize("who", ["superuser", "brand staff"])
def test_the_counts_cost_a_fixed_number_of_queries(client, admin_user, brand, carrier, frozen, who):
    user = admin_user if who == "superuser" else staff_user("desk", brand)
    client.force_login(user)
    CarrierThresholds.objects.create(carrier=CarrierFactory(), forgotten_hours=10)
    populate(brand, carrier, 1)
    client.get(WATCHLIST)  # warm the session
    with CaptureQueriesContext(connection) as small:
        assert counts(client)["forgotten"] == 1
    populate(brand, carrier, 4)
    with CaptureQueriesContext(connection) as large:
        assert counts(client) == {
            "forgotten": 5,
            "stalled": 5,
            "attempted": 5,
            "exception": 5,
            "late": 5,
            "unmapped": 5,
        }
    assert len(small) == len(large) <= 9, [q["sql"] for q in large]


def test_brand_staff_see_only_their_brand(
    client, admin_client, brand, other_brand, carrier, brand_staff, brandless_staff, frozen
):
    parcel(brand, carrier, created=when(28), events=[(when(28, 9), "DAMAGED")])
    parcel(other_brand, carrier, created=when(28), events=[(when(28, 9), "DAMAGED")])
    parcel(other_brand, carrier, created=when(28), events=[(when(28, 9), "SECRET_CODE")])
    assert counts(admin_client) == {**only("exception", 2), "unmapped": 1}
    client.force_login(brand_staff)
    assert counts(client) == only("exception")
    page = client.get(WATCHLIST).content.decode()
    assert "SECRET_CODE" not in page and "Every code on your consignments is known" in page
    client.force_login(brandless_staff)
    assert counts(client) == only("exception", 0)
    assert "belongs to no brand" in client.get(WATCHLIST).content.decode()


def test_brand_staff_see_their_own_unmapped_codes(
    client, brand, other_brand, carrier, brand_staff, frozen
):
    parcel(brand, carrier, created=when(28), events=[(when(28, 9), "OURS_ODD")])
    parcel(other_brand, carrier, created=when(28), events=[(when(28, 9), "THEIRS_ODD")])
    client.force_login(brand_staff)
    response = client.get(WATCHLIST)
    assert [code.code for code in response.context["unmapped"]] == ["OURS_ODD"]
    assert "THEIRS_ODD" not in response.content.decode()


def test_superusers_get_the_link_to_the_full_unmapped_list(admin_client, db):
    page = admin_client.get(WATCHLIST).content.decode()
    assert reverse("admin:tracking_codemapping_unmapped") in page
    assert reverse("admin:tracking_carrierthresholds_changelist") in page


def changelist_count(client, slug):
    response = client.get(reverse("admin:tracking_consignment_changelist"), {"watch": slug})
    assert response.status_code == 200
    return response.context["cl"].result_count


@pytest.mark.parametrize("who", ["superuser", "brand staff"])
def test_the_filtered_list_agrees_with_every_count(
    client, admin_user, brand, other_brand, carrier, frozen, who
):
    populate(brand, carrier, 2)
    populate(other_brand, carrier, 1)
    parcel(
        brand, carrier, created=when(24, 8), country="DE", events=[(when(24, 9), "LABEL_PRINTED")]
    )
    client.force_login(admin_user if who == "superuser" else staff_user("desk", brand))
    expected = counts(client)
    assert expected["forgotten"] == (4 if who == "superuser" else 3)
    assert {slug: changelist_count(client, slug) for slug in CATEGORY_SLUGS} == expected


def test_the_desk_pages_are_on_the_index(admin_client, db):
    page = admin_client.get(reverse("admin:index")).content.decode()
    assert 'href="/admin/watchlist/"' in page and 'href="/admin/scorecard/"' in page


def test_thresholds_are_for_superusers_only(client, admin_client, brand_staff, carrier):
    url = reverse("admin:tracking_carrierthresholds_add")
    assert admin_client.get(url).status_code == 200
    response = admin_client.post(
        url, {"carrier": carrier.pk, "forgotten_hours": 24, "stalled_hours": 36}
    )
    assert response.status_code == 302
    assert CarrierThresholds.objects.get(carrier=carrier).stalled_hours == 36
    client.force_login(brand_staff)
    assert client.get(reverse("admin:tracking_carrierthresholds_changelist")).status_code == 403
    assert client.get(url).status_code == 403


def test_pages_need_a_staff_login(client, db):
    assert client.get(WATCHLIST).status_code == 302
    assert client.get("/admin/scorecard/").status_code == 302
