"""Carrier ingestion through POST /tracking/carrierevents: batches of 1,000, and single events.

    python bench/ingest_bench.py [--postgres] [--batches 40] [--clients 4]

Batches spread over many consignments' legs (as a carrier's feed does), each event new, sent
by several keep-alive connections at once; the figure counts only events really stored (read
back from the database), so de-duplication and status re-derivation are included; the same
batches posted again must store nothing. Then one client posts batches of 1,000 events for one
package, one after another, to a single worker (a carrier's backlog for one parcel: no
concurrency to hide the cost of one batch behind another's). Then wrk posts single new events
for a few seconds, scored by the events stored meanwhile over wrk's duration. Targets: >= 20,000
events/s in batches on PostgreSQL (>= 10,000 on SQLite), >= 15,000 from one client to one
worker (>= 10,000 on SQLite) and >= 500 single-event posts/s.

Every post must be answered 200. Exits 1 on any miss: a rate under its target, a post answered
otherwise or not at all, a batch event not stored, or a re-posted one stored twice.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

from common import (
    RESULTS,
    Scorecard,
    bench_env,
    count_rows,
    postgres_url,
    prepare,
    serve,
    sqlite_url,
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


def one_package_body(batch: int, run: int) -> bytes:
    """1,000 new events, a second apart, all for the first filler leg's package."""
    start = dt.datetime.now(dt.UTC) - dt.timedelta(days=2) + dt.timedelta(seconds=batch * BATCH)
    events = [
        {
            "TimeStamp": (start + dt.timedelta(seconds=e)).isoformat(),
            "Code": "IN_TRANSIT",
            "Description": f"Backlog {run}-{batch}-{e}",
            "Location": "Leeds",
        }
        for e in range(BATCH)
    ]
    package = {"PackageReference": reference("EP", 0), "TrackingEvents": events}
    body = {
        "CarrierReference": "BENCH_LINEHAUL",
        "ConsignmentTrackingEvents": [
            {"ConsignmentTrackingReference": "T0-0", "PackageTrackingEvents": [package]}
        ],
    }
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
            try:
                response = connection.getresponse()
                response.read()
                status = response.status
            except OSError:
                status = 0  # no answer; a new connection for the next batch
                connection.close()
                connection = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
            if status != 200:
                failures.append(status)
        connection.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.monotonic() - started, len(failures)


def count_events(env: dict) -> int:
    return count_rows(env, "tracking.TrackingEvent")


# wrk's request for one new event per post; `id` is the thread's number (common.STATUS_LUA).
SINGLE_EVENT_LUA = """
local counter = 0
local legs = {legs}
request = function()
  counter = counter + 1
  local n = (counter * 7919 + id) % legs
  local digits = string.format("%09d", n * 2)
  local package = "EP-" .. digits:sub(1, 3) .. "-" .. digits:sub(4, 6) .. "-" .. digits:sub(7, 9)
  local body = string.format(
    '{{"CarrierReference":"BENCH_LINEHAUL","ConsignmentTrackingEvents":[' ..
    '{{"ConsignmentTrackingReference":"T%d-0","PackageTrackingEvents":[' ..
    '{{"PackageReference":"%s","TrackingEvents":[{{"TimeStamp":"2026-03-01T10:00:00+00:00",' ..
    '"Code":"IN_TRANSIT","Description":"single {run}-%d-%d"}}]}}]}}]}}',
    n, package, id, counter)
  return wrk.format("POST", "/tracking/carrierevents",
    {{["Content-Type"] = "application/json", ["ocp-apim-subscription-key"] = "{key}"}}, body)
end
"""


def run(database_url: str, batches: int, clients: int, seconds: int, card: Scorecard) -> None:
    legs = 2000
    data = prepare(database_url, consignments=legs)
    env = bench_env(database_url)
    run_id = int(time.time())
    bodies = [batch_body(n, legs, run_id) for n in range(batches)]
    sent = (len(bodies) - 2) * BATCH  # every event of the measured batches is new
    with serve(env) as (base, _process):
        _elapsed, warm_failures = post_batches(base, data["carrier_key"], bodies[:2], 1)
        before = count_events(env)
        elapsed, failures = post_batches(base, data["carrier_key"], bodies[2:], clients)
        stored = count_events(env) - before
        replay_elapsed, replay_failures = post_batches(
            base, data["carrier_key"], bodies[2:], clients
        )
        duplicates = count_events(env) - before - stored
        script = SINGLE_EVENT_LUA.format(legs=legs, key=data["carrier_key"], run=run_id)
        single_before = count_events(env)
        single = wrk(base + "/tracking/carrierevents", expect=200, seconds=seconds, script=script)
        # Counted while gunicorn still runs: the posts wrk left in flight when it stopped add
        # at most one event per connection.
        single_stored = count_events(env) - single_before
    backlog = [one_package_body(n, run_id) for n in range(batches)]
    with serve(env, workers=1) as (base, _process):
        _elapsed, backlog_warm_failures = post_batches(base, data["carrier_key"], backlog[:2], 1)
        before = count_events(env)
        backlog_elapsed, backlog_failures = post_batches(base, data["carrier_key"], backlog[2:], 1)
        backlog_stored = count_events(env) - before
    rate = stored / elapsed
    single_rate = single_stored / single.seconds
    target = 20_000 if database_url.startswith("postgres") else 10_000
    kind = database_url.split(":")[0]
    print(f"\nIngestion: {kind}, batches of {BATCH} over {LEGS_PER_BATCH} legs, {clients} clients")
    words = card.target(f"batches >= {target:,} events/s", rate, target, errors=failures)
    card.require("warm-up batches answered 200", not warm_failures)
    card.require("every batch event stored", stored == sent)
    print(
        f"  batches      {rate:8.0f} events/s  ({stored:,} of {sent:,} stored in {elapsed:.1f} s, "
        f"{failures} failed requests, {warm_failures} in the warm-up; target >= {target:,}: "
        f"{words})"
    )
    words = card.require("re-posted batches store nothing", not duplicates and not replay_failures)
    print(
        f"  re-post      {stored / replay_elapsed:8.0f} events/s checked, {duplicates} stored "
        f"twice, {replay_failures} failed requests ({words})"
    )
    backlog_target = 15_000 if database_url.startswith("postgres") else 10_000
    backlog_rate = backlog_stored / backlog_elapsed
    words = card.target(
        f"one client, one package, one worker >= {backlog_target:,} events/s",
        backlog_rate,
        backlog_target,
        errors=backlog_failures + backlog_warm_failures,
    )
    card.require("every one-package event stored", backlog_stored == sent)
    print(
        f"  one package  {backlog_rate:8.0f} events/s  ({backlog_stored:,} of {sent:,} stored in "
        f"{backlog_elapsed:.1f} s by one client and one worker, {backlog_failures} failed "
        f"requests; target >= {backlog_target:,}: {words})"
    )
    words = card.target("single posts >= 500 events/s", single_rate, 500, errors=single.errors)
    print(
        f"  single posts {single_rate:8.0f} events/s  ({single_stored:,} stored in "
        f"{single.seconds:.1f} s from {single.requests:,} answers, p99 {single.p99_ms:.0f} ms, "
        f"{single.errors} errors; target >= 500: {words})"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()
    url = postgres_url("bench_ingest") if args.postgres else sqlite_url("bench-ingest.sqlite3")
    Path(RESULTS).mkdir(parents=True, exist_ok=True)
    card = Scorecard()
    run(url, args.batches + 2, args.clients, args.seconds, card)
    return card.finish()


if __name__ == "__main__":
    sys.exit(main())
