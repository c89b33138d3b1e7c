"""What a carrier's batch costs as it grows: the check that every step is linear in its size.

    python bench/batch_cost.py [--postgres]

Against gunicorn with the production config, one client posts to POST /tracking/carrierevents:
batches of 1,000 and 5,000 items whose PackageTrackingEvents are empty (cheap to send, so the
cost that matters is ours), then 10,000 and 33,000 such items (over the cap of 5,000 items),
then a valid 5,000-event batch over 5,000 parcels while a customer page is fetched in a loop to
see how long it waits.

Targets: items-only batches cost at most 1.5 times per item at 5,000 what they cost at 1,000
(linear, not quadratic); batches over the item cap get a 400 within 1 s; the 5,000-event batch
(the costliest shape: every event a different consignment) is answered 200 within 3 s and
its 5,000 events are in the database afterwards; the customer page, fetched at least once
while the batch is stored and answered 200 each time, never waits 0.5 s on PostgreSQL, 2 s on
SQLite (whose one write lock the batch holds while it writes, and the page's lookup counter is
a write). Every post and page must have the status named. Exits 1 on any miss.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import sys
import threading
import time
from urllib.parse import urlparse

from common import Scorecard, bench_env, count_rows, postgres_url, prepare, serve, sqlite_url

PARCELS = 5_000
MAX_ITEMS = 5_000  # the documented cap on items per batch


def reference(prefix: str, n: int) -> str:
    digits = f"{n:09d}"
    return f"{prefix}-{digits[:3]}-{digits[3:6]}-{digits[6:]}"


def items_only(count: int) -> bytes:
    """`count` items naming distinct legs of the carrier (real ones up to PARCELS), with
    nothing to store."""
    items = [
        {"ConsignmentTrackingReference": f"T{n}-0", "PackageTrackingEvents": []}
        for n in range(count)
    ]
    return json.dumps({"CarrierReference": "BENCH_LINEHAUL", "ConsignmentTrackingEvents": items})


def one_event_per_parcel(run: str) -> bytes:
    moment = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).isoformat()
    items = [
        {
            "ConsignmentTrackingReference": f"T{n}-0",
            "PackageTrackingEvents": [
                {
                    "PackageReference": reference("EP", n * 2),
                    "TrackingEvents": [
                        {
                            "TimeStamp": moment,
                            "Code": "IN_TRANSIT",
                            "Description": f"Hub scan {run}",
                            "Location": "Leeds",
                        }
                    ],
                }
            ],
        }
        for n in range(PARCELS)
    ]
    return json.dumps({"CarrierReference": "BENCH_LINEHAUL", "ConsignmentTrackingEvents": items})


def post(base: str, key: str, body: bytes | str) -> tuple[int, float]:
    url = urlparse(base)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=120)
    started = time.monotonic()
    connection.request(
        "POST",
        "/tracking/carrierevents",
        body=body,
        headers={"ocp-apim-subscription-key": key, "Content-Type": "application/json"},
    )
    response = connection.getresponse()
    response.read()
    connection.close()
    return response.status, time.monotonic() - started


def get(base: str, path: str) -> tuple[int, float]:
    """(status, seconds); status 0 when no answer came."""
    url = urlparse(base)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=120)
    started = time.monotonic()
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        status = response.status
    except OSError:
        status = 0
    finally:
        connection.close()
    return status, time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    database = (
        postgres_url("tracking_batch_cost") if args.postgres else sqlite_url("batch_cost.sqlite3")
    )
    summary = prepare(database, consignments=PARCELS + 1, events=1)
    key = summary["carrier_key"]
    env = bench_env(database)
    card = Scorecard()
    # Two workers: one takes the batch while the other answers the customer.
    with serve(env, workers=2) as (base, _process):
        print(f"batch cost ({'PostgreSQL' if args.postgres else 'SQLite'}), one client")
        warm_ups = [post(base, key, items_only(10))[0] for _warm_up in range(4)]
        card.require("warm-up batches answered 200", warm_ups == [200] * 4)
        per_item = {}
        for count in (1_000, 5_000, 10_000, 33_000):
            status, seconds = post(base, key, items_only(count))
            per_item[count] = seconds / count
            print(f"  {count:>6,} items, no events: {status}  {seconds:6.2f} s", end="")
            if count > MAX_ITEMS:
                words = card.require(
                    f"{count:,} items refused 400 within 1 s", status == 400 and seconds < 1.0
                )
                print(f"  (over the cap: 400 within 1 s {words})")
            else:
                words = card.require(f"{count:,} items answered 200", status == 200)
                print("" if status == 200 else f"  (200 expected: {words})")
        ratio = per_item[5_000] / per_item[1_000]
        words = card.target(
            "cost per item at 5,000 <= 1.5 x at 1,000", ratio, 1.5, higher_is_better=False
        )
        print(f"  cost per item, 5,000 vs 1,000: {ratio:.2f}x  {words}")

        answers: list[tuple[int, float]] = []
        done = threading.Event()

        def customer():
            while not done.is_set():
                answers.append(get(base, f"/track/{summary['typical']}/"))

        before = count_rows(env, "tracking.TrackingEvent")
        watcher = threading.Thread(target=customer)
        watcher.start()
        status, seconds = post(base, key, one_event_per_parcel(str(time.time())))
        done.set()
        watcher.join()
        stored = count_rows(env, "tracking.TrackingEvent") - before
        words = card.require(
            f"{PARCELS:,} events answered 200 within 3 s", status == 200 and seconds <= 3.0
        )
        print(f"  {PARCELS:,} events over {PARCELS:,} parcels: {status}  {seconds:6.2f} s  {words}")
        words = card.require(f"{PARCELS:,} events stored", stored == PARCELS)
        print(f"  events stored by it: {stored:,}  {words}")
        waits = [took for _status, took in answers]
        refused = [answer_status for answer_status, _took in answers if answer_status != 200]
        slowest, allowed = max(waits, default=float("nan")), 0.5 if args.postgres else 2.0
        words = card.target(
            f"customer page waits < {allowed} s",
            slowest,
            allowed,
            higher_is_better=False,
            errors=len(refused),
        )
        print(
            f"  customer page meanwhile: {len(answers)} fetched, {len(refused)} not 200, "
            f"slowest {slowest:.2f} s  {words}"
        )
    return card.finish()


if __name__ == "__main__":
    sys.exit(main())
