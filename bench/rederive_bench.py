"""How long upgrading takes: migration 0009's derivation of every stored status, and the
rederive command, on a database filled by build_data.py.

    DATABASE_URL=... python bench/build_data.py --consignments 100000 --events 10
    DATABASE_URL=... python bench/rederive_bench.py

Prints events per second for each (the migration's batched pass, then the command's
consignment-at-a-time pass on a sample).
"""

from __future__ import annotations

import importlib
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("SECRET_KEY", "bench")

import django  # noqa: E402

django.setup()

from django.apps import apps  # noqa: E402
from django.db import connection, transaction  # noqa: E402

from tracking import services  # noqa: E402
from tracking.models import Consignment, TrackingEvent  # noqa: E402

SAMPLE = 2000


def main() -> None:
    migration = importlib.import_module("tracking.migrations.0009_truthful_status")
    events = TrackingEvent.objects.count()
    consignments = Consignment.objects.count()
    print(f"{connection.vendor}: {consignments:,} consignments, {events:,} events")

    started = time.perf_counter()
    with transaction.atomic():
        migration.derive_again(apps, None)
    took = time.perf_counter() - started
    print(f"migration 0009 derivation: {took:.1f} s, {events / took:,.0f} events/s")

    sample = list(Consignment.objects.order_by("pk")[:SAMPLE])
    sample_events = TrackingEvent.objects.filter(tracking_record__consignment__in=sample).count()
    started = time.perf_counter()
    for consignment in sample:
        services.rederive(consignment)
    took = time.perf_counter() - started
    print(
        f"rederive command: {len(sample):,} consignments in {took:.1f} s, "
        f"{sample_events / took:,.0f} events/s"
    )


if __name__ == "__main__":
    main()
