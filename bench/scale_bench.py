"""Latency with a million consignments against latency with a thousand (PostgreSQL).

    python bench/scale_bench.py [--consignments 1000000] [--seconds 10]

Fills two databases (bench_small with 1,000 consignments, bench_scale with the given number,
10 events each; the large one takes several minutes the first time and is kept), serves each
with gunicorn, measures the page and both API reads with wrk at a moderate load, and prints the
median and p99 latency of each with the large/small ratio (target: within 20 %). Then prints
PostgreSQL's plan for every lookup the hot paths make, to show that each uses an index.
"""

from __future__ import annotations

import argparse
import json
import subprocess

from common import PYTHON, ROOT, bench_env, postgres_url, prepare, serve, wrk

# The hot paths' lookups, as tracking.timeline, tracking.api.auth, tracking.access and
# tracking.services run them (the page and both APIs read; ingestion resolves and stores).
EXPLAIN = """
import django, json
django.setup()
from django.db import connection, transaction
from tracking.models import *
from tracking import access, services
from tracking.timeline import _HEADS, _LEGS
from tracking.api.auth import _USABLE_KEY
typical = Consignment.objects.get(reference="EC-BEN-000-001")
leg = typical.legs.first()
package = typical.packages.first()
checks = {
    "timeline head by reference": (_HEADS[("reference",)], {"reference": typical.reference}),
    "timeline head by id and brand": (
        _HEADS[("brand_id", "pk")], {"pk": typical.pk, "brand_id": typical.brand_id}),
    "legs with their events": (_LEGS, {"consignment_id": typical.pk}),
    "API key by its secret's hash": (
        _USABLE_KEY, {"hashed": "0" * 64, "now": typical.created_utc}),
    "carrier's legs by tracking number": (
        access._CARRIER_LEGS, {"carrier_id": leg.carrier_id, "numbers": [leg.tracking_number]}),
    "packages by reference": (access._PACKAGES, {"references": [package.reference]}),
    "consignments locked for a batch": (services._LOCK_CONSIGNMENTS, {"ids": [typical.pk]}),
    "legs to re-derive": (services._LEGS_TO_DERIVE, {"ids": [leg.pk]}),
    "packages to re-derive": (services._PACKAGES_TO_DERIVE, {"consignment_ids": [typical.pk]}),
}
plans = {}
with transaction.atomic(), connection.cursor() as cursor:
    for name, (prepared, values) in checks.items():
        _compiler, sql, params, _converters = prepared.bound(**values)
        cursor.execute("EXPLAIN " + sql, params)
        plans[name] = [row[0] for row in cursor.fetchall()]
    # New events meet the stored ones in the identity index (ON CONFLICT).
    sql, params = TrackingEvent.objects.filter(
        identity__in=[TrackingEvent.objects.first().identity]).values("id").query.sql_with_params()
    cursor.execute("EXPLAIN " + sql, params)
    plans["events already stored (identity)"] = [row[0] for row in cursor.fetchall()]
    cursor.execute("SELECT relname, reltuples::bigint FROM pg_class WHERE relkind = 'r'")
    sizes = dict(cursor.fetchall())
print(json.dumps({"plans": plans, "sizes": sizes}))
"""


def latency(database_url: str, consignments: int, seconds: int) -> dict:
    data = prepare(database_url, consignments=consignments)
    env = bench_env(database_url)
    cases = {
        "tracking page": (f"/track/{data['typical']}/", {"Accept-Language": "en"}),
        "GET /tracking/{ref}": (
            f"/tracking/{data['typical']}",
            {"ocp-apim-subscription-key": data["client_key"]},
        ),
        "GET /v1/consignments/{id}": (
            f"/v1/consignments/{data['typical_id']}",
            {"Authorization": f"Bearer {data['client_key']}"},
        ),
    }
    results = {}
    with serve(env) as (base, _process):
        for path, headers in cases.values():
            wrk(base + path, seconds=2, headers=headers, connections=4)  # warm up
        for name, (path, headers) in cases.items():
            # A moderate load (4 connections), so latency shows the database, not the queue.
            results[name] = wrk(base + path, seconds=seconds, headers=headers, connections=4)
    return {"consignments": data["consignments"], "results": results}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--consignments", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()
    small = latency(postgres_url("bench_small"), 1000, args.seconds)
    large_url = postgres_url("bench_scale")
    large = latency(large_url, args.consignments, args.seconds)

    print(
        f"\nScale: PostgreSQL, {small['consignments']:,} vs {large['consignments']:,} "
        "consignments (10 events each), 4 connections"
    )
    for name, small_result in small["results"].items():
        large_result = large["results"][name]
        for label, a, b in [
            ("median", small_result.p50_ms, large_result.p50_ms),
            ("p99", small_result.p99_ms, large_result.p99_ms),
        ]:
            change = b / a - 1
            verdict = "met" if change <= 0.20 else "NOT MET"
            print(
                f"  {name:28} {label:6} {a:6.1f} ms -> {b:6.1f} ms  ({change:+.0%}; "
                f"target <= +20%: {verdict})"
            )

    output = subprocess.run(
        [PYTHON, "-c", EXPLAIN],
        cwd=ROOT,
        env=bench_env(large_url),
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    explained = json.loads(output.strip().splitlines()[-1])
    sizes = explained["sizes"]
    print("\nEvery lookup of a large table uses an index (EXPLAIN on the large database):")
    for name, plan in explained["plans"].items():
        print(f"  {name}:")
        for line in (line.strip().removeprefix("->  ") for line in plan if "Scan" in line):
            table = line.split(" on ")[1].split()[0]
            rows = max(int(sizes.get(table, 0)), 0)
            note = ""
            if "Seq Scan" in line:
                # A table of a few rows is read whole: cheaper than any index, the planner knows.
                note = "  <-- SEQUENTIAL ON A LARGE TABLE" if rows > 10_000 else " (tiny table)"
            print(f"    {line.split('  (cost')[0]}  [{rows:,} rows]{note}")


if __name__ == "__main__":
    main()
