"""The consignment search finds a parcel by whatever the customer says (design section 7.5), in
any case and with or without spaces, by exact values only."""

import pytest
from django.urls import reverse

from tests.factories import CarrierFactory, make_consignment, make_leg

pytestmark = pytest.mark.django_db


@pytest.fixture
def alex(brand):
    consignment = make_consignment(
        brand,
        packages=2,
        reference="EC-ALX-000-001",
        customer_reference="ORD-10042",
        recipient_name="Alex Morgan",
        recipient_email="Alex.Morgan@Example.com",
        destination_postcode="BS1 4DJ",
    )
    make_leg(consignment, carrier=CarrierFactory(), tracking_number="JD0002231")
    # Someone else, whose values share parts with Alex's: a search is never a substring match.
    make_consignment(
        brand,
        customer_reference="ORD-100421",
        recipient_name="Alex Morganson",
        recipient_email="morgan@example.com",
        destination_postcode="BS1 4DX",
    )
    return consignment


def found(client, term) -> list:
    response = client.get(reverse("admin:tracking_consignment_changelist"), {"q": term})
    assert response.status_code == 200
    return list(response.context["cl"].result_list)


@pytest.mark.parametrize(
    "term",
    [
        "EC-ALX-000-001",
        "ec-alx-000-001",
        "ec alx 000 001",
        "ECALX000001",
        "ORD-10042",
        "ord-10042",
        "JD0002231",
        "jd0002231",
        "Alex Morgan",
        "alex morgan",
        "  ALEX   MORGAN ",
        "alex.morgan@example.com",
        "ALEX.MORGAN@EXAMPLE.COM",
        "BS1 4DJ",
        "bs1 4dj",
        "bs14dj",
        "B S 1 4 D J",
    ],
)
def test_staff_find_a_parcel_by_what_the_customer_says(admin_client, alex, term):
    assert found(admin_client, term) == [alex]


def test_a_package_reference_finds_its_consignment(admin_client, alex):
    for package in alex.packages.all():
        assert found(admin_client, package.reference.lower()) == [alex]


@pytest.mark.parametrize("term", ["Alex", "Morgan", "EC-ALX", "ORD-1004", "example.com", "BS1"])
def test_parts_of_a_value_find_nothing(admin_client, alex, term):
    assert alex not in found(admin_client, term)


def test_a_name_shared_by_several_parcels_finds_them_all_once(admin_client, brand, alex):
    again = make_consignment(brand, recipient_name="ALEX MORGAN", destination_postcode="BS1 4DJ")
    make_leg(again, carrier=CarrierFactory(), tracking_number="Alex Morgan")  # and a number
    assert sorted(c.pk for c in found(admin_client, "alex morgan")) == sorted([alex.pk, again.pk])


def test_a_search_costs_one_query_for_its_rows(admin_client, alex):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    url = reverse("admin:tracking_consignment_changelist")
    with CaptureQueriesContext(connection) as plain:
        admin_client.get(url)
    with CaptureQueriesContext(connection) as searched:
        admin_client.get(url, {"q": "alex morgan"})
    assert len(searched.captured_queries) == len(plain.captured_queries)
