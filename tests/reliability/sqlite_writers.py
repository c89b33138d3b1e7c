"""Eight writers on one SQLite file at once (run by test_sqlite_concurrency.py).

Prints a JSON summary: rows stored, errors raised, and whether the leg's status agrees with
its newest event.
"""

import datetime as dt
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

from tracking import services  # noqa: E402
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
    errors, barrier = [], threading.Barrier(8)

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
        services.record_events(events=specs, source=EventSource.SORTED)

    def mixed(n):
        for i in range(25):
            if i % 2:
                services.update_leg(leg=leg, source=EventSource.CONSIGNLY, status=2 + (n + i) % 4)
            else:
                services.record_event(
                    leg=leg,
                    source=EventSource.SORTED,
                    code="OUT_FOR_DELIVERY",
                    occurred_at=T0 + dt.timedelta(days=1, minutes=n * 100 + i),
                    description=f"writer {n}",
                )

    def worker(task, n):
        try:
            barrier.wait()
            task(n)
        except Exception as error:  # collected and reported
            errors.append(repr(error))
        finally:
            connection.close()

    for task in (same_batch, mixed):
        threads = [threading.Thread(target=worker, args=(task, n)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        barrier.reset()

    leg.refresh_from_db()
    newest = leg.events.exclude(status=0).order_by("-occurred_at", "-received_at", "-status")[0]
    print(
        json.dumps(
            {
                "batch_rows": TrackingEvent.objects.filter(description__startswith="scan").count(),
                "errors": errors,
                "status_consistent": leg.status == newest.status,
            }
        )
    )


if __name__ == "__main__":
    main()
