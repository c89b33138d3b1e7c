"""Requests per second of the page, its live 304, and both API reads, against a bare Django view.

    python bench/http_bench.py [--postgres] [--seconds 10]

Serves the project with gunicorn (the production config: 2 x cores + 1 sync workers) on
loopback and measures each endpoint with wrk in turns with the bare template view (two rounds
of half the time each), then prints each figure with its ratio to the bare view's rate in the
same turns and the issue's target, then the workers' memory after the run. Every request sends
Chromium's Accept-Encoding, so the page is measured gzipped, as browsers get it (the APIs' JSON
is never compressed).

Every answer is checked for its status (200, the live region's poll 304); a case answered
otherwise even once, or with a socket error, misses its target, as does its bare view's
window. Memory counts only after 10,000 requests per worker (the tracking page tops up what
the windows served on a slow machine). Exits 1 on any miss.
"""

from __future__ import annotations

import argparse
import math
import sys
import urllib.request
from pathlib import Path

from common import (
    BROWSER,
    RESULTS,
    Scorecard,
    WrkResult,
    bench_env,
    postgres_url,
    prepare,
    serve,
    sqlite_url,
    wrk,
)

ROUNDS = 2
MEMORY_AFTER = 10_000  # requests per worker before the memory target counts


def combine(results: list[WrkResult]) -> WrkResult:
    """Several equal windows of wrk as one: mean rate and median, worst p99, all requests."""
    return WrkResult(
        requests_per_second=sum(r.requests_per_second for r in results) / len(results),
        p50_ms=sum(r.p50_ms for r in results) / len(results),
        p99_ms=max(r.p99_ms for r in results),
        requests=sum(r.requests for r in results),
        errors=sum(r.errors for r in results),
        max_ms=max(r.max_ms for r in results),
        seconds=sum(r.seconds for r in results),
        last_unexpected=next((r.last_unexpected for r in results if r.last_unexpected), 0),
    )


def etag_of(url: str, headers: dict) -> str:
    request = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(request) as response:
        etag = response.headers["ETag"]
        if response.status != 200 or not etag:
            raise SystemExit(f"{url} answered {response.status} with ETag {etag!r}")
        return etag


def rss_mb(pid: int) -> list[float]:
    """Resident memory of each gunicorn worker (children of the master)."""
    sizes = []
    for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        for line in Path(f"/proc/{child}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                sizes.append(int(line.split()[1]) / 1024)
    return sizes


def run(database_url: str, seconds: int, consignments: int, card: Scorecard) -> list[tuple]:
    data = prepare(database_url, consignments)
    env = bench_env(database_url)
    page = f"/track/{data['typical']}/"
    client = {"Authorization": f"Bearer {data['client_key']}"}
    sorted_key = {"ocp-apim-subscription-key": data["client_key"]}
    rows = []
    with serve(env) as (base, process):
        live = {**BROWSER, "HX-Request": "true", "Accept-Language": "en"}
        live["If-None-Match"] = etag_of(base + page, live)
        # (name, path, headers, the status every answer must have, target ratio to bare)
        cases = [
            ("tracking page", page, {**BROWSER, "Accept-Language": "en"}, 200, 0.50),
            ("live region, 304", page, live, 304, 0.80),
            (
                "GET /tracking/{ref}",
                f"/tracking/{data['typical']}",
                {**BROWSER, **sorted_key},
                200,
                0.50,
            ),
            (
                "GET /v1/consignments/{id}",
                f"/v1/consignments/{data['typical_id']}",
                {**BROWSER, **client},
                200,
                0.50,
            ),
        ]
        bare = base + "/bench/bare/"
        wrk(bare, seconds=2, headers=BROWSER)  # warm every worker
        window = max(1, seconds // ROUNDS)
        references = []
        for name, path, headers, status, target in cases:
            # The bare view and the case take turns, so a machine that slows down part-way
            # through a run slows both sides of each ratio alike.
            paired, measured = [], []
            for _round in range(ROUNDS):
                paired.append(wrk(bare, seconds=window, headers=BROWSER))
                measured.append(wrk(base + path, expect=status, seconds=window, headers=headers))
            reference, result = combine(paired), combine(measured)
            references.append(reference)
            ratio = result.requests_per_second / reference.requests_per_second
            rows.append((name, result, ratio, target, reference.errors))
        rows.insert(0, ("bare Django template view", combine(references), 1.0, None, 0))
        served = sum(row[1].requests for row in rows)
        # On a slow machine the windows above serve fewer than MEMORY_AFTER requests per
        # worker: the tracking page (what grows a worker's caches) makes up the rest.
        missing = MEMORY_AFTER * len(rss_mb(process.pid)) - served
        if missing > 0:
            page_rate = max(rows[1][1].requests_per_second, 1.0)
            headers = {**BROWSER, "Accept-Language": "en"}
            seconds_more = math.ceil(missing / page_rate) + 1
            extra = wrk(base + page, expect=200, seconds=seconds_more, headers=headers)
            card.require("the top-up's pages answered 200", not extra.errors)
            served += extra.requests
        memory = rss_mb(process.pid)
    print(f"\nHTTP: {database_url.split(':')[0]}, {data['consignments']:,} consignments")
    for name, result, ratio, target, bare_errors in rows:
        if target is None:
            goal = "reference"
        else:
            words = card.target(
                f"{name} >= {target:.0%} of bare", ratio, target, errors=result.errors + bare_errors
            )
            goal = f"target >= {target:.0%}: {words}"
            if bare_errors:
                goal += f", {bare_errors} errors in its bare windows"
        print(f"  {name:28} {result}  {ratio:6.0%} of bare  ({goal})")
    each = served / len(memory)
    if each >= MEMORY_AFTER:
        words = card.target("worker memory < 100 MB", max(memory), 100, higher_is_better=False)
    else:
        words = card.require(f"worker memory after {MEMORY_AFTER:,} requests", False)
        words += f": only {each:,.0f} requests each"
    print(
        f"  worker memory after {each:,.0f} requests each: max {max(memory):.0f} MB RSS over "
        f"{len(memory)} workers (target < 100 MB after {MEMORY_AFTER:,}: {words})"
    )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL instead of SQLite")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--consignments", type=int, default=1000)
    args = parser.parse_args()
    url = postgres_url("bench_tracking") if args.postgres else sqlite_url("bench.sqlite3")
    RESULTS.mkdir(parents=True, exist_ok=True)
    card = Scorecard()
    run(url, args.seconds, args.consignments, card)
    return card.finish()


if __name__ == "__main__":
    sys.exit(main())
