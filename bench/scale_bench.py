"""Latency with a million consignments against latency with a thousand (PostgreSQL).

    python bench/scale_bench.py [--consignments 1000000] [--seconds 10]

Fills two databases (bench_small with 1,000 consignments, bench_scale with the given number,
10 events each; the large one takes several minutes the first time and is kept), serves each
with gunicorn, measures the page and both API reads with wrk at a moderate load, and prints the
median and p99 latency of each with the large/small ratio (target: within 20 %). Then prints
PostgreSQL's plan for every statement the hot paths run on the large database
(bench/explain_hot_paths.py), to show that each reads the large tables through an index.

Every answer is checked for its status (200); a latency measured with an unexpected status or
a socket error misses its target. Exits 1 on any miss: a latency out of bounds, a request of
the plans answered with another status than expected, or a sequential scan of a table over
10,000 rows (or of one whose size PostgreSQL has never estimated).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys

from common import PYTHON, ROOT, Scorecard, bench_env, postgres_url, prepare, serve, wrk

LARGE_TABLE = 10_000  # rows; a smaller table is read whole, cheaper than any index


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
    return {"data": data, "results": results}


def explain(database_url: str, data: dict) -> dict:
    """bench/explain_hot_paths.py's report on this database."""
    output = subprocess.run(
        [
            PYTHON,
            "bench/explain_hot_paths.py",
            "--reference",
            data["typical"],
            "--consignment-id",
            data["typical_id"],
            "--client-key",
            data["client_key"],
            "--carrier-key",
            data["carrier_key"],
        ],
        cwd=ROOT,
        env=bench_env(database_url),
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def scanned_table(plan_line: str) -> tuple[str, str] | None:
    """(kind of scan, table) of one EXPLAIN line, None when it reads no table."""
    match = re.search(
        r"((?:Parallel )?(?:Seq|Index Only|(?<!Bitmap )Index|Bitmap Heap) Scan)\b.*? on (\w+)",
        plan_line,
    )
    return (match.group(1), match.group(2)) if match else None


def sequential_scans(report: dict, threshold: int = LARGE_TABLE) -> list[str]:
    """Each sequential scan of a table over `threshold` rows, or of unknown size (never
    analysed: reltuples -1, or not a table PostgreSQL lists), in explain_hot_paths' report."""
    found = []
    for request in report["requests"]:
        for number, statement in enumerate(request["statements"], start=1):
            for line in statement["plan"]:
                scan = scanned_table(line)
                if scan is None or "Seq Scan" not in scan[0]:
                    continue
                rows = report["sizes"].get(scan[1], -1)
                if rows < 0 or rows > threshold:
                    found.append(
                        f"{request['name']}, statement {number}: {scan[1]} ({rows:,} rows)"
                    )
    return found


def print_plans(report: dict) -> None:
    sizes = report["sizes"]
    print("\nEvery statement of the hot paths on the large database (EXPLAIN):")
    for request in report["requests"]:
        status = request["status"]
        if status != request["expected"]:
            status = f"{status}, NOT the expected {request['expected']}"
        print(f"  {request['name']} ({request['request']}): {status}")
        for number, statement in enumerate(request["statements"], start=1):
            print(f"    {number}. {' '.join(statement['sql'].split())[:90]}")
            for line in statement["plan"]:
                scan = scanned_table(line)
                if scan is None:
                    continue
                rows = sizes.get(scan[1], -1)
                step = line.strip().removeprefix("->  ").split("  (cost")[0]
                print(f"       {step}  [{rows:,} rows]")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--consignments", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()
    card = Scorecard()
    small = latency(postgres_url("bench_small"), 1000, args.seconds)
    large_url = postgres_url("bench_scale")
    large = latency(large_url, args.consignments, args.seconds)

    print(
        f"\nScale: PostgreSQL, {small['data']['consignments']:,} vs "
        f"{large['data']['consignments']:,} consignments (10 events each), 4 connections"
    )
    for name, small_result in small["results"].items():
        large_result = large["results"][name]
        errors = small_result.errors + large_result.errors
        for label, a, b in [
            ("median", small_result.p50_ms, large_result.p50_ms),
            ("p99", small_result.p99_ms, large_result.p99_ms),
        ]:
            change = b / a - 1
            words = card.target(
                f"{name} {label} within +20%", change, 0.20, higher_is_better=False, errors=errors
            )
            print(
                f"  {name:28} {label:6} {a:6.1f} ms -> {b:6.1f} ms  ({change:+.0%}; "
                f"target <= +20%: {words})"
            )

    report = explain(large_url, large["data"])
    print_plans(report)
    for request in report["requests"]:
        card.require(
            f"{request['name']} answered {request['expected']} (got {request['status']})",
            request["status"] == request["expected"],
        )
    scans = sequential_scans(report)
    for scan in scans:
        print(f"  SEQUENTIAL SCAN OF A LARGE TABLE: {scan}")
    words = card.require("no sequential scan of a large table", not scans)
    print(f"  sequential scans of tables over {LARGE_TABLE:,} rows: {len(scans)} ({words})")
    return card.finish()


if __name__ == "__main__":
    sys.exit(main())
