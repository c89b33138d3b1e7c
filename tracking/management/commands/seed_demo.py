"""python manage.py seed_demo: realistic demo data, safe to run again.

Two brands, three carriers and a consignment for every status, including a multi-package,
multi-leg journey, an exception and a signed delivery. Event times are relative to the moment
the demo is first seeded, so the pages look live. Existing demo consignments are left alone.
"""

import datetime as dt

from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from tracking import services
from tracking.models import Brand, Carrier, Consignment, EventSource
from tracking.services import EventSpec, PackageSpec

BRANDS = {
    "demo": {
        "name": "Harbour & Pine",
        "logo_url": "/static/demo/harbour-and-pine.svg",
        "primary_colour": "#1f4e5f",
        "accent_colour": "#b5542d",
        "support_email": "help@harbourandpine.example",
        "support_url": "https://harbourandpine.example/help",
        "embed_origins": "http://127.0.0.1:8001\nhttp://localhost:8001",
        "time_zone": "Europe/London",
        "default_language": "en",
    },
    "kestrel": {
        "name": "Kestrel Home",
        "logo_url": "/static/demo/kestrel-home.svg",
        "primary_colour": "#3b2a6b",
        "accent_colour": "#2a7a3b",
        "support_email": "kundenservice@kestrelhome.example",
        "time_zone": "Europe/Berlin",
        "default_language": "de",
    },
}

CARRIERS = {
    "NORTHLINE": "Northline Freight",
    "CITYHOP": "CityHop Couriers",
    "SWIFT_PARCELS": "Swift Parcels",
}

RECIPIENT = {
    "recipient_name": "Alex Morgan",
    "recipient_email": "alex.morgan@example.com",
    "destination_address": "12 Harbour Street",
    "destination_town": "Bristol",
    "destination_postcode": "BS1 4DJ",
    "destination_country": "GB",
}

# (hours before now, code, description, location[, signed by]); events apply to every package
# of the leg unless a package index is given as a sixth item.
JOURNEYS = {
    "linehaul": [
        (70, "LABEL_PRINTED", "Shipping label created", "Leeds"),
        (66, "MANIFESTED", "Shipment details received by Northline Freight", "Leeds"),
        (60, "COLLECTED_BY_CARRIER", "Collected from Harbour & Pine warehouse", "Leeds"),
        (55, "IN_TRANSIT", "Arrived at Northline hub", "Wakefield"),
        (48, "IN_TRANSIT", "Departed Northline hub", "Wakefield"),
        (40, "IN_TRANSIT", "Arrived at regional depot", "Birmingham"),
        (30, "DELAYED", "Delayed by severe weather on the M5", "Birmingham"),
        (26, "IN_TRANSIT", "Departed regional depot", "Birmingham"),
        (22, "CARRIER_CHANGED", "Handed over to CityHop Couriers for final delivery", "Bristol"),
    ],
    "lastmile": [
        (21, "IN_TRANSIT", "Received at CityHop delivery station", "Bristol"),
        (12, "IN_TRANSIT", "Sorted for delivery route", "Bristol"),
        (6, "OUT_FOR_DELIVERY", "Out for delivery with driver", "Bristol"),
        (3, "DELIVERED", "Delivered to recipient", "Bristol", "A. Morgan", 0),
    ],
}

SINGLE = {
    "delivered": [
        (50, "LABEL_PRINTED", "Shipping label created", "Leeds"),
        (44, "COLLECTED_BY_CARRIER", "Collected", "Leeds"),
        (30, "IN_TRANSIT", "At sorting centre", "Manchester"),
        (8, "OUT_FOR_DELIVERY", "Out for delivery", "Bristol"),
        (5, "DELIVERED", "Delivered, signed for at the front door", "Bristol", "J. Patel"),
    ],
    "exception": [
        (40, "LABEL_PRINTED", "Shipping label created", "Leeds"),
        (36, "COLLECTED_BY_CARRIER", "Collected", "Leeds"),
        (20, "IN_TRANSIT", "At sorting centre", "Manchester"),
        (9, "DAMAGED", "Parcel damaged in transit; we will contact you", "Manchester"),
    ],
    "attempted": [
        (30, "COLLECTED_BY_CARRIER", "Collected", "Leeds"),
        (18, "IN_TRANSIT", "At delivery station", "Bristol"),
        (7, "OUT_FOR_DELIVERY", "Out for delivery", "Bristol"),
        (4, "DELIVERY_FAILED_CARD_LEFT", "Nobody home, card left; we will try again", "Bristol"),
    ],
    "printed": [(2, "LABEL_PRINTED", "Shipping label created", "Leeds")],
    "manifested": [
        (5, "LABEL_PRINTED", "Shipping label created", "Leeds"),
        (3, "MANIFESTED", "Shipment details sent to Swift Parcels", "Leeds"),
    ],
    "awaiting": [
        (6, "LABEL_PRINTED", "Shipping label created", "Leeds"),
        (4, "AWAITING_DROP_OFF", "Waiting to be dropped off at a Swift Parcels point", "Leeds"),
    ],
    "dispatched": [
        (10, "LABEL_PRINTED", "Shipping label created", "Leeds"),
        (3, "COLLECTED_BY_CARRIER", "Collected by Swift Parcels", "Leeds"),
    ],
    "in_transit": [
        (20, "COLLECTED_BY_CARRIER", "Collected", "Leeds"),
        (9, "IN_TRANSIT", "In transit to your local depot", "Sheffield"),
    ],
    "out_for_delivery": [
        (22, "COLLECTED_BY_CARRIER", "Collected", "Leeds"),
        (12, "IN_TRANSIT", "At delivery station", "Bristol"),
        (2, "OUT_FOR_DELIVERY", "Out for delivery, arriving between 14:00 and 16:00", "Bristol"),
    ],
    "pickup": [
        (26, "COLLECTED_BY_CARRIER", "Collected", "Leeds"),
        (14, "IN_TRANSIT", "In transit", "Bristol"),
        (3, "AT_COLLECTION_POINT", "Ready to collect at Clifton Post Office", "Bristol"),
    ],
    "cancelled": [
        (30, "LABEL_PRINTED", "Shipping label created", "Leeds"),
        (28, "CANCELLED", "Shipment cancelled by the sender", "Leeds"),
    ],
    "unknown_code": [
        (16, "COLLECTED_BY_CARRIER", "Collected", "Leeds"),
        (6, "SCANNED_AT_GATEWAY", "Scanned at gateway (carrier's own code)", "Coventry"),
    ],
}

# reference, brand, packages, legs [(carrier, service, tracking number, journey or single)]
CONSIGNMENTS = [
    (
        "EC-DEM-000-001",
        "demo",
        ["Rain jacket", "Walking boots"],
        [
            ("NORTHLINE", "Northline 48h Linehaul", "NL4800123", "linehaul"),
            ("CITYHOP", "CityHop Same Day", "CH-77821", "lastmile"),
        ],
        2,
    ),
    (
        "EC-DEM-000-002",
        "demo",
        ["Wool blanket"],
        [("SWIFT_PARCELS", "Swift Signed For", "SP100200300", "delivered")],
        1,
    ),
    (
        "EC-DEM-000-003",
        "demo",
        ["Ceramic vase"],
        [("SWIFT_PARCELS", "Swift Standard", "SP100200301", "exception")],
        1,
    ),
    (
        "EC-DEM-000-004",
        "demo",
        ["Desk lamp"],
        [("CITYHOP", "CityHop Next Day", "CH-77822", "attempted")],
        1,
    ),
    (
        "EC-DEM-000-005",
        "demo",
        ["Gift card"],
        [("SWIFT_PARCELS", "Swift Standard", "SP100200302", "printed")],
        1,
    ),
    (
        "EC-DEM-000-006",
        "demo",
        ["Bookshelf"],
        [("SWIFT_PARCELS", "Swift Standard", "SP100200303", "manifested")],
        1,
    ),
    (
        "EC-DEM-000-007",
        "demo",
        ["Return parcel"],
        [("SWIFT_PARCELS", "Swift Drop-off", "SP100200304", "awaiting")],
        1,
    ),
    (
        "EC-DEM-000-008",
        "demo",
        ["Cushions"],
        [("SWIFT_PARCELS", "Swift Standard", "SP100200305", "dispatched")],
        1,
    ),
    (
        "EC-DEM-000-009",
        "demo",
        ["Picture frame"],
        [("NORTHLINE", "Northline Economy", "NL4800124", "in_transit")],
        1,
    ),
    (
        "EC-DEM-000-010",
        "demo",
        ["Kettle"],
        [("CITYHOP", "CityHop Next Day", "CH-77823", "out_for_delivery")],
        1,
    ),
    (
        "EC-DEM-000-011",
        "demo",
        ["Trainers"],
        [("SWIFT_PARCELS", "Swift to Shop", "SP100200306", "pickup")],
        1,
    ),
    (
        "EC-DEM-000-012",
        "demo",
        ["Tent"],
        [("SWIFT_PARCELS", "Swift Standard", "SP100200307", "cancelled")],
        1,
    ),
    ("EC-DEM-000-013", "demo", ["Socks"], [], 1),
    (
        "EC-DEM-000-014",
        "demo",
        ["Sofa cover", "Throw", "Rug"],
        [("SWIFT_PARCELS", "Swift Standard", "SP100200308", "delivered")],
        3,
    ),
    (
        "EC-DEM-000-015",
        "demo",
        ["Headphones"],
        [("NORTHLINE", "Northline Economy", "NL4800125", "unknown_code")],
        1,
    ),
    (
        "EC-KES-000-001",
        "kestrel",
        ["Stehlampe", "Kissenbezug"],
        [
            ("NORTHLINE", "Northline International", "NL4800126", "linehaul"),
            ("CITYHOP", "CityHop Same Day", "CH-77824", "lastmile"),
        ],
        2,
    ),
]


class Command(BaseCommand):
    help = "Create demo brands, carriers and consignments (idempotent) and print the references."

    def handle(self, *args, **options):
        now = timezone.now().replace(microsecond=0)
        brands = {slug: self.brand(slug, fields) for slug, fields in BRANDS.items()}
        carriers = {
            code: Carrier.objects.get_or_create(code=code, defaults={"name": name})[0]
            for code, name in CARRIERS.items()
        }
        for reference, slug, package_names, legs, expected_in_days in CONSIGNMENTS:
            existing = Consignment.objects.filter(reference=reference).exists()
            if not existing:
                self.create(
                    reference, brands[slug], package_names, legs, carriers, now, expected_in_days
                )
            state = "exists " if existing else "created"
            self.stdout.write(f"{state} /track/{reference}/")
        self.stdout.write("Demo data ready.")

    def brand(self, slug: str, fields: dict) -> Brand:
        brand, _created = Brand.objects.get_or_create(slug=slug, defaults=fields)
        return brand

    @transaction.atomic
    def create(self, reference, brand, package_names, legs, carriers, now, expected_in_days):
        extra = dict(RECIPIENT)
        if brand.slug == "kestrel":
            extra.update(
                recipient_name="Mia Schneider",
                recipient_email="mia.schneider@example.de",
                destination_address="Lindenstraße 5",
                destination_town="Köln",
                destination_postcode="50667",
                destination_country="DE",
            )
        consignment = services.create_consignment(
            brand=brand,
            reference=reference,
            customer_reference=f"ORDER-{reference[-3:]}",
            packages=[PackageSpec(description=name) for name in package_names],
            expected_delivery_date=(now + dt.timedelta(days=expected_in_days)).date(),
            **extra,
        )
        packages = list(consignment.packages.order_by("sequence"))
        for carrier_code, service, number, journey in legs:
            carrier = carriers[carrier_code]
            leg = services.add_leg(
                consignment=consignment,
                source=EventSource.ADMIN,
                carrier=carrier,
                carrier_service_name=service,
                tracking_number=number,
                tracking_url=f"https://track.{carrier_code.lower().replace('_', '')}.example/"
                f"{number}",
                integration_name="Demo data",
            )
            steps = JOURNEYS.get(journey) or SINGLE[journey]
            specs = []
            for step in steps:
                hours, code, description, location = step[:4]
                signed_by = step[4] if len(step) > 4 else ""
                only = step[5] if len(step) > 5 else None
                specs.append(
                    EventSpec(
                        leg=leg,
                        occurred_at=now - dt.timedelta(hours=hours),
                        code=code,
                        description=description,
                        location=location,
                        signed_by=signed_by,
                        package=packages[only] if only is not None else None,
                    )
                )
            if reference == "EC-DEM-000-014":
                # Three parcels, two delivered, one still out for delivery: "2 of 3 delivered".
                specs = [s for s in specs if s.code != "DELIVERED"]
                for package in packages[:2]:
                    specs.append(
                        EventSpec(
                            leg=leg,
                            occurred_at=now - dt.timedelta(hours=1),
                            code="DELIVERED",
                            description="Delivered to a safe place (porch)",
                            location="Bristol",
                            package=package,
                        )
                    )
            services.record_events(events=specs, source=EventSource.ADMIN)
