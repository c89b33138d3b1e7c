"""python manage.py seed_demo: realistic demo data, dated relative to the day it runs.

Two brands, three carriers and a consignment for every status, including a multi-package,
multi-leg journey, an exception, a signed delivery, a delayed parcel and a late one. Events
happen on the days before the run and earlier the same day, at wall-clock times in the brand's
time zone, and each expected delivery date fits its status: out for delivery today, in transit
in the next days, delivered on the day it was expected, late before today.

Running it again the same day (in the brand's time zone) changes nothing. Running it on a later
day re-seeds the demo consignments relative to that day: the demo references are this command's
own fixtures, and left as they were they would go on saying "Out for delivery" days later. The
brands, carriers, API keys and every other consignment are left alone.
"""

import datetime as dt
from dataclasses import dataclass

from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from tracking import services
from tracking import status as rules
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
KESTREL_RECIPIENT = {
    "recipient_name": "Mia Schneider",
    "recipient_email": "mia.schneider@example.de",
    "destination_address": "Lindenstraße 5",
    "destination_town": "Köln",
    "destination_postcode": "50667",
    "destination_country": "DE",
}

# Each step: (day, "HH:MM", code, description, location[, signed by[, package index]]). Day 0
# is the day of the run, -1 the day before; times are the brand's wall clock, none between
# 01:00 and 04:00 (no daylight-saving gap). Steps apply to every package of the leg unless a
# package index is given.
JOURNEYS = {
    "linehaul": [
        (-3, "09:10", "LABEL_PRINTED", "Shipping label created", "Leeds"),
        (-3, "11:45", "MANIFESTED", "Shipment details received by Northline Freight", "Leeds"),
        (-3, "16:30", "COLLECTED_BY_CARRIER", "Collected from Harbour & Pine warehouse", "Leeds"),
        (-3, "21:15", "IN_TRANSIT", "Arrived at Northline hub", "Wakefield"),
        (-2, "05:20", "IN_TRANSIT", "Departed Northline hub", "Wakefield"),
        (-2, "13:05", "IN_TRANSIT", "Arrived at regional depot", "Birmingham"),
        (-1, "06:50", "IN_TRANSIT", "Departed regional depot", "Birmingham"),
        (
            -1,
            "15:30",
            "CARRIER_CHANGED",
            "Handed over to CityHop Couriers for final delivery",
            "Bristol",
        ),
    ],
    "lastmile": [
        (-1, "17:10", "IN_TRANSIT", "Received at CityHop delivery station", "Bristol"),
        (0, "06:20", "IN_TRANSIT", "Sorted for delivery route", "Bristol"),
        (0, "07:45", "OUT_FOR_DELIVERY", "Out for delivery with driver", "Bristol"),
        (0, "11:20", "DELIVERED", "Delivered to recipient", "Bristol", "A. Morgan", 0),
    ],
    "delivered": [
        (-3, "10:00", "LABEL_PRINTED", "Shipping label created", "Leeds"),
        (-3, "17:20", "COLLECTED_BY_CARRIER", "Collected", "Leeds"),
        (-2, "09:40", "IN_TRANSIT", "At sorting centre", "Manchester"),
        (-1, "07:15", "OUT_FOR_DELIVERY", "Out for delivery", "Bristol"),
        (
            -1,
            "12:05",
            "DELIVERED",
            "Delivered, signed for at the front door",
            "Bristol",
            "J. Patel",
        ),
    ],
    "partly_delivered": [
        (-2, "10:00", "LABEL_PRINTED", "Shipping label created", "Leeds"),
        (-2, "17:00", "COLLECTED_BY_CARRIER", "Collected", "Leeds"),
        (-1, "09:30", "IN_TRANSIT", "At sorting centre", "Manchester"),
        (0, "07:30", "OUT_FOR_DELIVERY", "Out for delivery", "Bristol"),
        (0, "12:40", "DELIVERED", "Delivered to a safe place (porch)", "Bristol", "", 0),
        (0, "12:40", "DELIVERED", "Delivered to a safe place (porch)", "Bristol", "", 1),
    ],
    "exception": [
        (-3, "10:00", "LABEL_PRINTED", "Shipping label created", "Leeds"),
        (-2, "08:00", "COLLECTED_BY_CARRIER", "Collected", "Leeds"),
        (-1, "14:00", "IN_TRANSIT", "At sorting centre", "Manchester"),
        (0, "08:30", "DAMAGED", "Parcel damaged in transit; we will contact you", "Manchester"),
    ],
    "attempted": [
        (-2, "16:00", "COLLECTED_BY_CARRIER", "Collected", "Leeds"),
        (-1, "20:00", "IN_TRANSIT", "At delivery station", "Bristol"),
        (0, "08:00", "OUT_FOR_DELIVERY", "Out for delivery", "Bristol"),
        (
            0,
            "10:50",
            "DELIVERY_FAILED_CARD_LEFT",
            "Nobody home, card left; we will try again",
            "Bristol",
        ),
    ],
    "printed": [(0, "06:30", "LABEL_PRINTED", "Shipping label created", "Leeds")],
    "manifested": [
        (-1, "15:00", "LABEL_PRINTED", "Shipping label created", "Leeds"),
        (-1, "18:30", "MANIFESTED", "Shipment details sent to Swift Parcels", "Leeds"),
    ],
    "awaiting": [
        (-1, "11:00", "LABEL_PRINTED", "Shipping label created", "Leeds"),
        (
            -1,
            "11:05",
            "AWAITING_DROP_OFF",
            "Waiting to be dropped off at a Swift Parcels point",
            "Leeds",
        ),
    ],
    "dispatched": [
        (-1, "09:00", "LABEL_PRINTED", "Shipping label created", "Leeds"),
        (0, "07:10", "COLLECTED_BY_CARRIER", "Collected by Swift Parcels", "Leeds"),
    ],
    "in_transit": [
        (-1, "16:00", "COLLECTED_BY_CARRIER", "Collected", "Leeds"),
        (0, "05:30", "IN_TRANSIT", "In transit to your local depot", "Sheffield"),
    ],
    "out_for_delivery": [
        (-1, "15:00", "COLLECTED_BY_CARRIER", "Collected", "Leeds"),
        (-1, "23:10", "IN_TRANSIT", "At delivery station", "Bristol"),
        (
            0,
            "08:15",
            "OUT_FOR_DELIVERY",
            "Out for delivery, arriving between 14:00 and 16:00",
            "Bristol",
        ),
    ],
    "pickup": [
        (-2, "14:00", "COLLECTED_BY_CARRIER", "Collected", "Leeds"),
        (-1, "10:00", "IN_TRANSIT", "In transit", "Bristol"),
        (0, "09:30", "AT_COLLECTION_POINT", "Ready to collect at Clifton Post Office", "Bristol"),
    ],
    "cancelled": [
        (-2, "10:00", "LABEL_PRINTED", "Shipping label created", "Leeds"),
        (-2, "12:30", "CANCELLED", "Shipment cancelled by the sender", "Leeds"),
    ],
    "unknown_code": [
        (-1, "13:00", "COLLECTED_BY_CARRIER", "Collected", "Leeds"),
        (0, "06:40", "SCANNED_AT_GATEWAY", "Scanned at gateway (carrier's own code)", "Coventry"),
    ],
    "delayed": [
        (-2, "12:00", "COLLECTED_BY_CARRIER", "Collected", "Leeds"),
        (-1, "09:20", "IN_TRANSIT", "Arrived at regional depot", "Birmingham"),
        (0, "07:05", "DELAYED", "Delayed: vehicle breakdown", "Birmingham"),
    ],
    "handing_over": [
        (-2, "16:00", "COLLECTED_BY_CARRIER", "Collected", "Leeds"),
        (-1, "08:00", "IN_TRANSIT", "Arrived at Northline hub", "Wakefield"),
        (-1, "22:40", "IN_TRANSIT", "Departed Northline hub for Bristol", "Wakefield"),
    ],
    # The next carrier's label, printed when the hand-over was booked: it must not pull the
    # parcel back to "Label created".
    "booked_next": [
        (0, "06:10", "LABEL_PRINTED", "CityHop label created for the final delivery", "Bristol"),
    ],
    "late": [
        (-5, "11:00", "COLLECTED_BY_CARRIER", "Collected", "Leeds"),
        (-4, "08:00", "IN_TRANSIT", "Arrived at Northline hub", "Wakefield"),
        (-3, "14:30", "IN_TRANSIT", "In transit to your local depot", "Sheffield"),
    ],
}

# The latest step of any journey on the day of the run: a run earlier than this (plus a few
# minutes) fits that day's steps, in order, between midnight and the moment of the run.
LATEST_TODAY = max(
    dt.time.fromisoformat(step[1]) for steps in JOURNEYS.values() for step in steps if step[0] == 0
)
MARGIN = dt.timedelta(minutes=5)


@dataclass(frozen=True)
class Demo:
    reference: str
    brand: str
    packages: list[str]
    # (carrier, service, tracking number, journey)
    legs: list[tuple[str, str, str, str]]
    # Days after the day of the run (negative: before); None for no expected date.
    expected_in_days: int | None
    shows: str = ""  # what else it shows, printed beside its status


SHOWCASE_LEGS = [
    ("NORTHLINE", "Northline 48h Linehaul", "NL4800123", "linehaul"),
    ("CITYHOP", "CityHop Same Day", "CH-77821", "lastmile"),
]

DEMOS = [
    Demo(
        "EC-DEM-000-001",
        "demo",
        ["Rain jacket", "Walking boots"],
        SHOWCASE_LEGS,
        0,
        "two parcels, two carriers, one delivered and signed for",
    ),
    Demo(
        "EC-DEM-000-002",
        "demo",
        ["Wool blanket"],
        [("SWIFT_PARCELS", "Swift Signed For", "SP100200300", "delivered")],
        -1,
        "signed for at the door",
    ),
    Demo(
        "EC-DEM-000-003",
        "demo",
        ["Ceramic vase"],
        [("SWIFT_PARCELS", "Swift Standard", "SP100200301", "exception")],
        1,
        "damaged in transit",
    ),
    Demo(
        "EC-DEM-000-004",
        "demo",
        ["Desk lamp"],
        [("CITYHOP", "CityHop Next Day", "CH-77822", "attempted")],
        0,
        "card left",
    ),
    Demo(
        "EC-DEM-000-005",
        "demo",
        ["Gift card"],
        [("SWIFT_PARCELS", "Swift Standard", "SP100200302", "printed")],
        3,
    ),
    Demo(
        "EC-DEM-000-006",
        "demo",
        ["Bookshelf"],
        [("SWIFT_PARCELS", "Swift Standard", "SP100200303", "manifested")],
        3,
    ),
    Demo(
        "EC-DEM-000-007",
        "demo",
        ["Return parcel"],
        [("SWIFT_PARCELS", "Swift Drop-off", "SP100200304", "awaiting")],
        4,
    ),
    Demo(
        "EC-DEM-000-008",
        "demo",
        ["Cushions"],
        [("SWIFT_PARCELS", "Swift Standard", "SP100200305", "dispatched")],
        2,
    ),
    Demo(
        "EC-DEM-000-009",
        "demo",
        ["Picture frame"],
        [("NORTHLINE", "Northline Economy", "NL4800124", "in_transit")],
        1,
    ),
    Demo(
        "EC-DEM-000-010",
        "demo",
        ["Kettle"],
        [("CITYHOP", "CityHop Next Day", "CH-77823", "out_for_delivery")],
        0,
    ),
    Demo(
        "EC-DEM-000-011",
        "demo",
        ["Trainers"],
        [("SWIFT_PARCELS", "Swift to Shop", "SP100200306", "pickup")],
        0,
        "at a post office",
    ),
    Demo(
        "EC-DEM-000-012",
        "demo",
        ["Tent"],
        [("SWIFT_PARCELS", "Swift Standard", "SP100200307", "cancelled")],
        None,
        "by the sender",
    ),
    Demo("EC-DEM-000-013", "demo", ["Socks"], [], 5, "no carrier yet"),
    Demo(
        "EC-DEM-000-014",
        "demo",
        ["Sofa cover", "Throw", "Rug"],
        [("SWIFT_PARCELS", "Swift Standard", "SP100200308", "partly_delivered")],
        0,
        "2 of 3 parcels delivered",
    ),
    Demo(
        "EC-DEM-000-015",
        "demo",
        ["Headphones"],
        [("NORTHLINE", "Northline Economy", "NL4800125", "unknown_code")],
        2,
        "with a carrier code the portal does not know",
    ),
    Demo(
        "EC-DEM-000-016",
        "demo",
        ["Garden chair"],
        [("NORTHLINE", "Northline Economy", "NL4800127", "delayed")],
        2,
        "delayed: vehicle breakdown",
    ),
    Demo(
        "EC-DEM-000-017",
        "demo",
        ["Floor lamp"],
        [("NORTHLINE", "Northline Economy", "NL4800128", "late")],
        -2,
        "late",
    ),
    Demo(
        "EC-DEM-000-018",
        "demo",
        ["Armchair"],
        [
            ("NORTHLINE", "Northline 48h Linehaul", "NL4800129", "handing_over"),
            ("CITYHOP", "CityHop Next Day", "CH-77825", "booked_next"),
        ],
        1,
        "mid hand-over: the next carrier's label is printed, still in transit",
    ),
    Demo(
        "EC-KES-000-001",
        "kestrel",
        ["Stehlampe", "Kissenbezug"],
        [
            ("NORTHLINE", "Northline International", "NL4800126", "linehaul"),
            ("CITYHOP", "CityHop Same Day", "CH-77824", "lastmile"),
        ],
        0,
        "the showcase in German, on Berlin time",
    ),
]


class DemoClock:
    """Moments on the days around the run, on one brand's wall clock.

    Earlier days keep their wall-clock times. The day of the run keeps them too once the run is
    past the latest of them; before that, they are spaced out in order between midnight and
    the moment of the run, so nothing ever happens in the future.
    """

    def __init__(self, now: dt.datetime, zone):
        self.zone = zone
        self.today = timezone.localdate(now, timezone=zone)
        # Arithmetic in UTC: subtracting two times of one zone ignores a daylight-saving change.
        self.midnight = self._utc(self.today, dt.time(0))
        span = self._utc(self.today, LATEST_TODAY) - self.midnight + MARGIN
        self.squeeze = min(1.0, (now - self.midnight) / span)

    def _utc(self, day: dt.date, time: dt.time) -> dt.datetime:
        return dt.datetime.combine(day, time, tzinfo=self.zone).astimezone(dt.UTC)

    def at(self, day: int, clock: str) -> dt.datetime:
        moment = self._utc(self.today + dt.timedelta(days=day), dt.time.fromisoformat(clock))
        if day == 0:
            moment = self.midnight + (moment - self.midnight) * self.squeeze
        return moment

    def day(self, offset: int | None) -> dt.date | None:
        return None if offset is None else self.today + dt.timedelta(days=offset)


def summary(demo: Demo, consignment: Consignment) -> str:
    """'Out for delivery, expected Tue 01 Dec, 2 of 3 parcels delivered'."""
    expected = consignment.expected_delivery_date
    words = [rules.status_label(consignment.status)]
    words += [f"expected {expected:%a %d %b}"] if expected else []
    return ", ".join(words + ([demo.shows] if demo.shows else []))


class Command(BaseCommand):
    help = (
        "Create demo brands, carriers and consignments dated relative to today (idempotent; "
        "on a later day the demo consignments are re-seeded) and print the references."
    )

    def handle(self, *args, **options):
        now = timezone.now()
        brands = {slug: self.brand(slug, fields) for slug, fields in BRANDS.items()}
        carriers = {
            code: Carrier.objects.get_or_create(code=code, defaults={"name": name})[0]
            for code, name in CARRIERS.items()
        }
        clocks = {slug: DemoClock(now, brand.zone) for slug, brand in brands.items()}
        for demo in DEMOS:
            brand, clock = brands[demo.brand], clocks[demo.brand]
            existing = Consignment.objects.filter(reference=demo.reference).first()
            if existing is not None and existing.brand_id != brand.pk:
                # Someone else's consignment under a demo reference: never touched.
                self.stdout.write(f"skipped  /track/{demo.reference}/  (not a demo brand's)")
                continue
            if existing is not None and self.seeded_on(existing, brand) == clock.today:
                state, consignment = "exists", existing
            else:
                state = "re-dated" if existing is not None else "created"
                consignment = self.seed(demo, existing, brand, carriers, clock)
            self.stdout.write(f"{state:<8} /track/{demo.reference}/  {summary(demo, consignment)}")
        self.stdout.write("Demo data ready.")

    def brand(self, slug: str, fields: dict) -> Brand:
        brand, _created = Brand.objects.get_or_create(slug=slug, defaults=fields)
        return brand

    @staticmethod
    def seeded_on(consignment: Consignment, brand: Brand) -> dt.date:
        return timezone.localdate(consignment.created_utc, timezone=brand.zone)

    @transaction.atomic
    def seed(self, demo: Demo, stale: Consignment | None, brand, carriers, clock: DemoClock):
        if stale is not None:
            # Events are append-only, so a demo dated for another day is replaced, not edited.
            # Only the seed's own fixtures come here; a deletion derives nothing, so there is
            # no service for it.
            stale.delete()
        consignment = services.create_consignment(
            brand=brand,
            reference=demo.reference,
            customer_reference=f"ORDER-{demo.reference[-3:]}",
            packages=[PackageSpec(description=name) for name in demo.packages],
            expected_delivery_date=clock.day(demo.expected_in_days),
            **(KESTREL_RECIPIENT if brand.slug == "kestrel" else RECIPIENT),
        )
        packages = list(consignment.packages.order_by("sequence"))
        for carrier_code, service, number, journey in demo.legs:
            leg = services.add_leg(
                consignment=consignment,
                source=EventSource.ADMIN,
                carrier=carriers[carrier_code],
                carrier_service_name=service,
                tracking_number=number,
                tracking_url=f"https://track.{carrier_code.lower().replace('_', '')}.example/"
                f"{number}",
                integration_name="Demo data",
            )
            specs = []
            for day, clock_time, code, description, location, *rest in JOURNEYS[journey]:
                signed_by = rest[0] if rest else ""
                only = rest[1] if len(rest) > 1 else None
                specs.append(
                    EventSpec(
                        leg=leg,
                        occurred_at=clock.at(day, clock_time),
                        code=code,
                        description=description,
                        location=location,
                        signed_by=signed_by,
                        package=packages[only] if only is not None else None,
                    )
                )
            services.record_events(events=specs, source=EventSource.ADMIN)
        consignment.refresh_from_db()
        return consignment
