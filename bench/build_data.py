"""Fill a benchmark database: one typical consignment plus any number of others.

    DATABASE_URL=... python bench/build_data.py --consignments 1000000 --events 10

The typical consignment (EC-BEN-000-001: 2 packages, 2 legs, 30 events) is created through the
services, exactly as the APIs would. The others are written with bulk inserts (COPY on
PostgreSQL) so that a million consignments and ten million events take minutes, not hours.
Re-running with the same or a smaller size adds nothing. Prints the keys the benchmarks use.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from django.db import connection, transaction  # noqa: E402

from tracking import services  # noqa: E402
from tracking import status as rules  # noqa: E402
from tracking.models import (  # noqa: E402
    DERIVED_COLUMNS,
    ApiKey,
    Brand,
    Carrier,
    Consignment,
    EventSource,
    Package,
    TrackingEvent,
    TrackingRecord,
)
from tracking.services import EventSpec, PackageSpec  # noqa: E402

TYPICAL = "EC-BEN-000-001"
RESULTS = Path(__file__).resolve().parent / "results"
CODES = [
    ("LABEL_PRINTED", 1),
    ("COLLECTED_BY_CARRIER", 2),
    ("IN_TRANSIT", 3),
    ("IN_TRANSIT", 3),
    ("IN_TRANSIT", 3),
    ("DELAYED", 3),
    ("IN_TRANSIT", 3),
    ("OUT_FOR_DELIVERY", 4),
    ("DELIVERY_FAILED", 7),
    ("OUT_FOR_DELIVERY", 4),
]
T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def typical(brand: Brand, carriers: list[Carrier]) -> Consignment:
    """2 packages, 2 legs (a linehaul and a last mile), 30 events: what a shopper usually has."""
    existing = Consignment.objects.filter(reference=TYPICAL).first()
    if existing:
        return existing
    consignment = services.create_consignment(
        brand=brand,
        reference=TYPICAL,
        packages=[PackageSpec(description="Boots"), PackageSpec(description="Jacket")],
        destination_postcode="BS1 4DJ",
        destination_town="Bristol",
        recipient_name="Alex Morgan",
    )
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    for sequence, carrier in enumerate(carriers, start=1):
        leg = services.add_leg(
            consignment=consignment,
            source=EventSource.ADMIN,
            carrier=carrier,
            carrier_service_name=f"{carrier.name} Express",
            tracking_number=f"BENCH{sequence}",
            tracking_url=f"https://track.example/{sequence}",
        )
        specs = [
            EventSpec(
                leg=leg,
                occurred_at=now - dt.timedelta(hours=60 - sequence * 20 - n),
                code=code,
                description=f"Scan {n} at depot {n % 4}",
                location=["Leeds", "Wakefield", "Birmingham", "Bristol"][n % 4],
            )
            for n, (code, _status) in enumerate(CODES + CODES[2:7])
        ]
        services.record_events(events=specs, source=EventSource.SORTED)
    return consignment


def fill(brand: Brand, carriers: list[Carrier], wanted: int, events_per: int) -> int:
    """Bulk-write filler consignments until `wanted` exist (besides the typical one)."""
    have = Consignment.objects.filter(brand=brand).exclude(reference=TYPICAL).count()
    if have >= wanted:
        return 0
    started = time.monotonic()
    chunk = 20_000
    for start in range(have, wanted, chunk):
        stop = min(start + chunk, wanted)
        with transaction.atomic():
            _write_chunk(brand, carriers, start, stop, events_per)
        rate = (stop - have) / (time.monotonic() - started)
        print(f"  {stop:>9,} consignments ({rate:,.0f}/s)", flush=True)
    return wanted - have


def _uuid(kind: int, n: int) -> uuid.UUID:
    return uuid.UUID(int=(kind << 96) | n)


def _reference(prefix: str, n: int) -> str:
    digits = f"{n:09d}"
    return f"{prefix}-{digits[:3]}-{digits[3:6]}-{digits[6:]}"


def _write_chunk(brand, carriers, start, stop, events_per):
    now = dt.datetime.now(dt.UTC)
    consignments, packages, legs, coverage, events = [], [], [], [], []
    final_code, final_status = CODES[min(events_per, len(CODES)) - 1]
    for n in range(start, stop):
        cid = _uuid(1, n)
        created = T0 + dt.timedelta(seconds=n)
        # What the derivation would store for a leg or package whose newest event is the last.
        derived = rules.standing([rules.mark(created, final_status, final_code)]).columns()
        consignments.append(
            (
                cid,
                _reference("EC", n),
                brand.pk,
                f"ORDER-{n}",
                "BS1 4DJ",
                "GB",
                "Bristol",
                "",
                "Recipient",
                "",
                None,
                final_status,
                derived[1],
                1,
                created,
                created,
            )
        )
        for p in range(2):
            packages.append(
                (
                    _uuid(2, n * 2 + p),
                    cid,
                    _reference("EP", n * 2 + p),
                    "Parcel",
                    p + 1,
                    *derived,
                )
            )
        for leg_index, carrier in enumerate(carriers):
            leg_id = _uuid(3, n * 2 + leg_index)
            legs.append(
                (
                    leg_id,
                    cid,
                    carrier.pk,
                    carrier.name,
                    "",
                    f"T{n}-{leg_index}",
                    "",
                    "bench",
                    leg_index + 1,
                    *derived,
                    created,
                    created,
                    created.date(),
                )
            )
            for e in range(events_per // len(carriers)):
                code, status = CODES[min(e + leg_index * 5, len(CODES) - 1)]
                occurred = created + dt.timedelta(hours=e + leg_index * 5)
                identity = TrackingEvent.identity_for(
                    tracking_record_id=leg_id,
                    package_id=None,
                    code=code,
                    occurred_at=occurred,
                    description=f"Scan {e}",
                )
                events.append(
                    (
                        leg_id,
                        None,
                        status,
                        code,
                        code,
                        f"Scan {e}",
                        "Leeds",
                        "",
                        occurred,
                        now,
                        "sorted-api",
                        identity,
                    )
                )
    _insert(
        Consignment,
        [
            "id",
            "reference",
            "brand_id",
            "customer_reference",
            "destination_postcode",
            "destination_country",
            "destination_town",
            "destination_address",
            "recipient_name",
            "recipient_email",
            "expected_delivery_date",
            "status",
            "warning",
            "revision",
            "created_utc",
            "modified_utc",
        ],
        consignments,
    )
    _insert(
        Package,
        [
            "id",
            "consignment_id",
            "reference",
            "description",
            "sequence",
            *DERIVED_COLUMNS,
        ],
        packages,
    )
    _insert(
        TrackingRecord,
        [
            "id",
            "consignment_id",
            "carrier_id",
            "carrier_name",
            "carrier_service_name",
            "tracking_number",
            "tracking_url",
            "integration_name",
            "sequence",
            *DERIVED_COLUMNS,
            "created_utc",
            "modified_utc",
            "last_updated_date",
        ],
        legs,
    )
    _insert(
        TrackingEvent,
        [
            "tracking_record_id",
            "package_id",
            "status",
            "code",
            "raw_code",
            "description",
            "location",
            "signed_by",
            "occurred_at",
            "received_at",
            "source",
            "identity",
        ],
        events,
    )
    del coverage


def _insert(model, columns, rows):
    table = model._meta.db_table
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            copy_sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
            with cursor.connection.cursor().copy(copy_sql) as copy:
                for row in rows:
                    copy.write_row(row)
        return

    # SQLite stores UUIDs as 32 hex digits and datetimes as ISO text.
    def adapt(value):
        if isinstance(value, uuid.UUID):
            return value.hex
        if isinstance(value, dt.datetime):
            return value.astimezone(dt.UTC).replace(tzinfo=None).isoformat(" ")
        if isinstance(value, dt.date):
            return value.isoformat()
        return value

    marks = ", ".join(["%s"] * len(columns))
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})",
            [tuple(adapt(v) for v in row) for row in rows],
        )


def keys(brand: Brand, carrier: Carrier) -> dict:
    """A client and a carrier key for the benchmarks, issued once per database and kept in
    results/."""
    name = Path(str(connection.settings_dict["NAME"])).name
    KEYS_FILE = RESULTS / f"keys-{connection.vendor}-{name}.json"  # noqa: N806
    if KEYS_FILE.exists():
        stored = json.loads(KEYS_FILE.read_text())
        if stored.get("database") == connection.settings_dict["NAME"] and all(
            ApiKey.objects.filter(hashed_secret=ApiKey.hash(stored[k])).exists()
            for k in ("client", "carrier")
        ):
            return stored
    _client, client_secret = services.issue_api_key(name="bench shop", brand=brand)
    _carrier, carrier_secret = services.issue_api_key(name="bench carrier", carrier=carrier)
    stored = {
        "database": str(connection.settings_dict["NAME"]),
        "client": client_secret,
        "carrier": carrier_secret,
    }
    KEYS_FILE.parent.mkdir(parents=True, exist_ok=True)
    KEYS_FILE.write_text(json.dumps(stored))
    return stored


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--consignments", type=int, default=1000)
    parser.add_argument("--events", type=int, default=10, help="events per filler consignment")
    args = parser.parse_args()
    brand, _ = Brand.objects.get_or_create(slug="bench", defaults={"name": "Bench Outfitters"})
    carriers = [
        Carrier.objects.get_or_create(code=code, defaults={"name": name})[0]
        for code, name in [("BENCH_LINEHAUL", "Linehaul Co"), ("BENCH_LASTMILE", "Last Mile Co")]
    ]
    consignment = typical(brand, carriers)
    added = fill(brand, carriers, args.consignments, args.events)
    if added:
        # Fresh bulk-loaded tables have no statistics until autovacuum gets round to them, and
        # without statistics the planner scans whole tables for the batch look-ups.
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    stored = keys(brand, carriers[0])
    total = Consignment.objects.count()
    print(
        json.dumps(
            {
                "typical": consignment.reference,
                "typical_id": str(consignment.pk),
                "consignments": total,
                "added": added,
                "client_key": stored["client"],
                "carrier_key": stored["carrier"],
            }
        )
    )


if __name__ == "__main__":
    main()
