"""Carrier ingestion through POST /tracking/carrierevents: batches of 1,000, and single events.

    python bench/ingest_bench.py [--postgres] [--batches 40] [--clients 4]

Batches spread over many consignments' legs (as a carrier's feed does), each event new, sent
by several keep-alive connections at once; the figure counts only events really stored (read
back from the database), so de-duplication and status re-derivation are included. Then wrk
posts single new events for a few seconds. Targets: >= 20,000 events/s in batches on
PostgreSQL (>= 10,000 on SQLite) and >= 500 single-event posts/s.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import subprocess
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

from common import (
    PYTHON,
    RESULTS,
    ROOT,
    bench_env,
    postgres_url,
    prepare,
    serve,
    sqlite_url,
    verdict,
    wrk,
)

BATCH = 1000
LEGS_PER_BATCH = 100


def reference(prefix: str, n: int) -> str:
    digits = f"{n:09d}"
    return f"{prefix}-{digits[:3]}-{digits[3:6]}-{digits[6:]}"


def batch_body(batch: int, legs: int, run: int) -> bytes:
    """1,000 new events over LEGS_PER_BATCH of the linehaul carrier's filler legs."""
    start = dt.datetime.now(dt.UTC) - dt.timedelta(days=1) + dt.timedelta(seconds=batch * 10)
    consignment_events = []
    per_leg = BATCH // LEGS_PER_BATCH
    for i in range(LEGS_PER_BATCH):
        n = (batch * LEGS_PER_BATCH + i) % legs
        events = [
            {
                "TimeStamp": (start + dt.timedelta(seconds=e)).isoformat(),
                "Code": "IN_TRANSIT" if e < per_leg - 1 else "OUT_FOR_DELIVERY",
                "Description": f"Scan {run}-{batch}-{e}",
                "Location": "Leeds",
            }
            for e in range(per_leg)
        ]
        consignment_events.append(
            {
                "ConsignmentTrackingReference": f"T{n}-0",
                "PackageTrackingEvents": [
                    {"PackageReference": reference("EP", n * 2), "TrackingEvents": events}
                ],
            }
        )
    body = {"CarrierReference": "BENCH_LINEHAUL", "ConsignmentTrackingEvents": consignment_events}
    return json.dumps(body).encode()


def post_batches(base: str, key: str, bodies: list[bytes], clients: int) -> tuple[float, int]:
    url = urlparse(base)
    failures = []
    queue = list(enumerate(bodies))
    lock = threading.Lock()

    def client():
        connection = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
        while True:
            with lock:
                if not queue:
                    break
                _n, body = queue.pop()
            connection.request(
                "POST",
                "/tracking/carrierevents",
                body=body,
                headers={"ocp-apim-subscription-key": key, "Content-Type": "application/json"},
            )
            response = connection.getresponse()
            response.read()
            if response.status != 200:
                failures.append(response.status)
        connection.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.monotonic() - started, len(failures)


def count_events(env: dict) -> int:
    code = (
        "import django, os; django.setup();"
        "from tracking.models import TrackingEvent; print(TrackingEvent.objects.count())"
    )
    output = subprocess.run(
        [PYTHON, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    return int(output.stdout.strip())


SINGLE_EVENT_LUA = """
local counter = 0
local thread_id = 0
local legs = {legs}
function setup(thread)
  thread:set("id", math.random(1, 1000000000))
end
function init(args)
  thread_id = id
end
request = function()
  counter = counter + 1
  local n = (counter * 7919 + thread_id) % legs
  local digits = string.format("%09d", n * 2)
  local package = "EP-" .. digits:sub(1, 3) .. "-" .. digits:sub(4, 6) .. "-" .. digits:sub(7, 9)
  local body = string.format(
    '{{"CarrierReference":"BENCH_LINEHAUL","ConsignmentTrackingEvents":[' ..
    '{{"ConsignmentTrackingReference":"T%d-0","PackageTrackingEvents":[' ..
    '{{"PackageReference":"%s","TrackingEvents":[{{"TimeStamp":"2026-03-01T10:00:00+00:00",' ..
    '"Code":"IN_TRANSIT","Description":"single {run}-%d-%d"}}]}}]}}]}}',
    n, package, thread_id, counter)
  return wrk.format("POST", "/tracking/carrierevents",
    {{["Content-Type"] = "application/json", ["ocp-apim-subscription-key"] = "{key}"}}, body)
end
"""


def run(database_url: str, batches: int, clients: int, seconds: int) -> None:
    legs = 2000
    data = prepare(database_url, consignments=legs)
    env = bench_env(database_url)
    run_id = int(time.time())
    bodies = [batch_body(n, legs, run_id) for n in range(batches)]
    with serve(env) as (base, _process):
        post_batches(base, data["carrier_key"], bodies[:2], 1)  # warm up
        before = count_events(env)
        elapsed, failures = post_batches(base, data["carrier_key"], bodies[2:], clients)
        stored = count_events(env) - before
        replay_elapsed, replay_failures = post_batches(
            base, data["carrier_key"], bodies[2:], clients
        )
        duplicates = count_events(env) - before - stored
        script = RESULTS / "single_event.lua"
        script.write_text(SINGLE_EVENT_LUA.format(legs=legs, key=data["carrier_key"], run=run_id))
        single = wrk(base + "/tracking/carrierevents", seconds=seconds, script=str(script))
    rate = stored / elapsed
    target = 20_000 if database_url.startswith("postgres") else 10_000
    kind = database_url.split(":")[0]
    print(f"\nIngestion: {kind}, batches of {BATCH} over {LEGS_PER_BATCH} legs, {clients} clients")
    print(
        f"  batches      {rate:8.0f} events/s  ({stored:,} stored in {elapsed:.1f} s, "
        f"{failures} failed requests; target >= {target:,}: {verdict(rate, target)})"
    )
    print(
        f"  re-post      {stored / replay_elapsed:8.0f} events/s checked, {duplicates} stored "
        f"twice, {replay_failures} failed requests"
    )
    print(
        f"  single posts {single.requests_per_second:8.0f} events/s  (p99 {single.p99_ms:.0f} ms, "
        f"{single.errors} errors; target >= 500: {verdict(single.requests_per_second, 500)})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()
    url = postgres_url("bench_ingest") if args.postgres else sqlite_url("bench-ingest.sqlite3")
    Path(RESULTS).mkdir(parents=True, exist_ok=True)
    run(url, args.batches + 2, args.clients, args.seconds)


if __name__ == "__main__":
    main()
