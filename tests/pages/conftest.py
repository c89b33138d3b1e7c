"""Shipments for the page tests, built through the services. Helpers to read pages (text_of,
form_token) and the shipment's NOW and POSTCODE live in tests/helpers.py."""

import datetime as dt

import pytest
import time_machine

from tests.factories import BrandFactory, CarrierFactory, make_consignment, make_leg
from tests.helpers import NOW, POSTCODE, record_event


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def page_brand(db):
    return BrandFactory(
        slug="harbour-pages",
        name="Harbour & Pine",
        primary_colour="#1f4e5f",
        accent_colour="#b5542d",
        support_email="help@harbour.example",
        support_url="https://harbour.example/help",
        time_zone="Europe/London",
        default_language="en",
    )


@pytest.fixture
def shipment(page_brand, frozen):
    """Two packages handed over from Northline to CityHop; the first one delivered and signed."""
    consignment = make_consignment(
        page_brand,
        packages=2,
        reference="EC-PAG-000-001",
        recipient_name="Alex Morgan",
        recipient_email="alex.morgan@example.com",
        destination_address="12 Harbour Street",
        destination_town="Bristol",
        destination_postcode=POSTCODE,
        destination_country="GB",
        customer_reference="ORDER-4711",
        expected_delivery_date=dt.date(2026, 3, 11),
    )
    first, second = list(consignment.packages.order_by("sequence"))
    linehaul = make_leg(
        consignment,
        carrier=CarrierFactory(code="NORTHLINE", name="Northline Freight"),
        carrier_service_name="Northline 48h",
        tracking_number="NL4800123",
        tracking_url="https://track.northline.example/NL4800123",
    )
    lastmile = make_leg(
        consignment,
        carrier=CarrierFactory(code="CITYHOP", name="CityHop Couriers"),
        tracking_number="CH-77821",
        tracking_url="https://track.cityhop.example/CH-77821",
    )
    record_event(linehaul, -20, "LABEL_PRINTED", "Shipping label created", location="Leeds")
    record_event(
        linehaul, -10, "COLLECTED_BY_CARRIER", "Collected from the warehouse", location="Leeds"
    )
    record_event(linehaul, -2, "IN_TRANSIT", "Arrived at regional depot", location="Birmingham")
    record_event(lastmile, 1, "IN_TRANSIT", "Received at delivery station", location="Bristol")
    record_event(
        lastmile, 4, "OUT_FOR_DELIVERY", "Out for delivery with driver", location="Bristol"
    )
    record_event(
        lastmile,
        6 + 5 / 60,
        "DELIVERED",
        "Delivered to recipient",
        location="Bristol",
        signed_by="A. Morgan",
        package=first,
    )
    consignment.refresh_from_db()
    return consignment


@pytest.fixture
def page_url(shipment):
    return f"/track/{shipment.reference}/"
