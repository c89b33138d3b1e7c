"""Shipments for the page tests, built through the services, and helpers to read pages."""

import datetime as dt
import re
from html import unescape

import pytest
import time_machine

from tests.factories import BrandFactory, CarrierFactory, at, make_consignment, make_leg
from tracking import services
from tracking.models import EventSource

# A Tuesday morning in March: the demo events below happen on Monday 9 March 2026. Inside a
# second, like tests.factories.at(): a clock frozen on whole seconds hides truncation bugs.
NOW = dt.datetime(2026, 3, 10, 9, 30, 0, 654_321, tzinfo=dt.UTC)
POSTCODE = "BS1 4DJ"


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def event(leg, hours, code, description="", *, location="", signed_by="", package=None):
    services.record_event(
        leg=leg,
        source=EventSource.SORTED,
        code=code,
        description=description,
        location=location,
        signed_by=signed_by,
        occurred_at=at(hours),
        package=package,
    )


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
    event(linehaul, -20, "LABEL_PRINTED", "Shipping label created", location="Leeds")
    event(linehaul, -10, "COLLECTED_BY_CARRIER", "Collected from the warehouse", location="Leeds")
    event(linehaul, -2, "IN_TRANSIT", "Arrived at regional depot", location="Birmingham")
    event(lastmile, 1, "IN_TRANSIT", "Received at delivery station", location="Bristol")
    event(lastmile, 4, "OUT_FOR_DELIVERY", "Out for delivery with driver", location="Bristol")
    event(
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


def text_of(response) -> str:
    """The page's visible text, roughly: tags dropped, entities decoded, spaces collapsed."""
    html = response.content.decode()
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html))).strip()


def form_token(response) -> str:
    match = re.search(r'name="token" value="([^"]+)"', response.content.decode())
    assert match, "the page has no form token"
    return match.group(1)


def build(brand, *, packages: int, legs: int, events: int, reference: str):
    """A consignment of a given size, for pinning query counts."""
    consignment = make_consignment(brand, packages=packages, reference=reference)
    per_leg = events // legs
    for n in range(legs):
        leg = make_leg(
            consignment,
            carrier=CarrierFactory(),
            tracking_number=f"T{reference[-3:]}{n}",
            tracking_url="https://carrier.example/t",
        )
        services.record_events(
            events=[
                services.EventSpec(
                    leg=leg,
                    occurred_at=at(n * 100 + i * 0.5 - 200),
                    code="IN_TRANSIT",
                    description=f"Scan {n}.{i}",
                    location="Depot",
                )
                for i in range(per_leg)
            ],
            source=EventSource.SORTED,
        )
    consignment.refresh_from_db()
    return consignment
