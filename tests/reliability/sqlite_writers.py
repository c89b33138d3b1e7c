"""Eight writers on one SQLite file at once (run by test_sqlite_concurrency.py).

Prints a JSON summary: the connection's journal mode, what each writer stored, the rows there
are, and whether the leg's status agrees with its newest event. A writer that raises or is
still running after a minute ends the script with its traceback (tests.helpers.run_threads).
"""

import datetime as dt
import functools
import json
import os
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from tests.helpers import run_threads  # noqa: E402
from tracking import services  # noqa: E402
from tracking import status as rules  # noqa: E402
from tracking.models import Brand, Carrier, EventSource, TrackingEvent  # noqa: E402
from tracking.services import EventSpec, PackageSpec  # noqa: E402

T0 = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)


def main() -> None:
    call_command("migrate", verbosity=0)
    brand = Brand.objects.create(slug="sqlite", name="SQLite Ltd")
    carrier = Carrier.objects.create(code="SQLITE_CARRIER", name="Carrier")
    consignment = services.create_consignment(brand=brand, packages=[PackageSpec()] * 2)
    leg = services.add_leg(consignment=consignment, source=EventSource.ADMIN, carrier=carrier)
    package = consignment.packages.first()
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        journal_mode = cursor.fetchone()[0]
    batch_stored, mixed_stored = [], []

    def same_batch(n):
        specs = [
            EventSpec(
                leg=leg,
                occurred_at=T0 + dt.timedelta(minutes=i),
                code="IN_TRANSIT",
                description=f"scan {i}",
                package=package if i % 2 else None,
            )
            for i in range(300)
        ]
        batch_stored.append(services.record_events(events=specs, source=EventSource.SORTED).stored)

    def mixed(n):
        for i in range(25):
            if i % 2:
                services.update_leg(leg=leg, source=EventSource.CONSIGNLY, status=2 + (n + i) % 4)
            else:
                mixed_stored.append(
                    services.record_event(
                        leg=leg,
                        source=EventSource.SORTED,
                        code="OUT_FOR_DELIVERY",
                        occurred_at=T0 + dt.timedelta(days=1, minutes=n * 100 + i),
                        description=f"writer {n}",
                    )
                )

    def together(task):
        barrier = threading.Barrier(8, timeout=30)

        def worker(n):
            barrier.wait()
            task(n)

        run_threads([functools.partial(worker, n) for n in range(8)], timeout=120)

    together(same_batch)
    together(mixed)

    def rows(**where) -> int:
        return TrackingEvent.objects.filter(**where).count()

    leg.refresh_from_db()
    # What the rules derive from every stored event, in one go.
    expected = rules.standing(event.mark for event in leg.events.all())
    print(
        json.dumps(
            {
                "journal_mode": journal_mode,
                "batch_stored": sorted(batch_stored),
                "batch_rows": rows(description__startswith="scan"),
                "mixed_stored": mixed_stored.count(True),
                "mixed_rows": rows(description__startswith="writer"),
                "status_consistent": (leg.status, leg.standing.columns())
                == (expected.status, expected.columns()),
            }
        )
    )


if __name__ == "__main__":
    main()
