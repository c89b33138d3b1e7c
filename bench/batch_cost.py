"""What a carrier's batch costs as it grows: the check that every step is linear in its size.

    python bench/batch_cost.py [--postgres]

Against gunicorn with the production config, one client posts to POST /tracking/carrierevents:
batches of 1,000 and 5,000 items whose PackageTrackingEvents are empty (cheap to send, so the
cost that matters is ours), then 10,000 and 33,000 such items (over the cap of 5,000 items),
then a valid 5,000-event batch over 5,000 parcels while a customer page is fetched in a loop to
see how long it waits.

Targets: items-only batches cost at most 1.5 times per item at 5,000 what they cost at 1,000
(linear, not quadratic); batches over the item cap get a 400 within 1 s; the 5,000-event batch
(the costliest shape: every event a different consignment) is stored (200) within 3 s; the
customer page never waits 0.5 s on PostgreSQL, 2 s on SQLite (whose one write lock the batch
holds while it writes, and the page's lookup counter is a write). Exits 1 on any miss.
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

from common import bench_env, postgres_url, prepare, serve, sqlite_url, verdict

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
    url = urlparse(base)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=120)
    started = time.monotonic()
    connection.request("GET", path)
    response = connection.getresponse()
    response.read()
    connection.close()
    return response.status, time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    database = (
        postgres_url("tracking_batch_cost") if args.postgres else sqlite_url("batch_cost.sqlite3")
    )
    summary = prepare(database, consignments=PARCELS + 1, events=1)
    key = summary["carrier_key"]
    misses = 0
    # Two workers: one takes the batch while the other answers the customer.
    with serve(bench_env(database), workers=2) as (base, _process):
        print(f"batch cost ({'PostgreSQL' if args.postgres else 'SQLite'}), one client")
        for _warm_up in range(4):
            post(base, key, items_only(10))
        per_item = {}
        for count in (1_000, 5_000, 10_000, 33_000):
            status, seconds = post(base, key, items_only(count))
            per_item[count] = seconds / count
            capped = count > MAX_ITEMS
            print(f"  {count:>6,} items, no events: {status}  {seconds:6.2f} s", end="")
            if capped:
                met = status == 400 and seconds < 1.0
                print(f"  (over the cap: 400 within 1 s {'met' if met else 'NOT MET'})")
            else:
                met = status == 200
                print("" if met else "  NOT MET")
            misses += not met
        ratio = per_item[5_000] / per_item[1_000]
        print(f"  cost per item, 5,000 vs 1,000: {ratio:.2f}x  {verdict(ratio, 1.5, False)}")
        misses += ratio > 1.5

        waits = []
        done = threading.Event()

        def customer():
            while not done.is_set():
                waits.append(get(base, f"/track/{summary['typical']}/")[1])

        watcher = threading.Thread(target=customer)
        watcher.start()
        status, seconds = post(base, key, one_event_per_parcel(str(time.time())))
        done.set()
        watcher.join()
        print(f"  5,000 events over 5,000 parcels: {status}  {seconds:6.2f} s  ", end="")
        print(verdict(-seconds, -3.0) if status == 200 else "NOT MET")
        misses += status != 200 or seconds > 3.0
        slowest, allowed = max(waits, default=0.0), 0.5 if args.postgres else 2.0
        print(f"  customer page meanwhile: slowest {slowest:.2f} s  {verdict(-slowest, -allowed)}")
        misses += slowest > allowed
    return 1 if misses else 0


if __name__ == "__main__":
    sys.exit(main())
