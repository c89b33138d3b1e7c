"""Fault drills: the database goes away under load and comes back; gunicorn reloads under load.

    python bench/fault_drill.py            (needs root: it stops and starts the local PostgreSQL)

1. Serves the project with gunicorn against PostgreSQL, polls the tracking page, both APIs and
   /healthz from a few client threads, stops PostgreSQL for ten seconds and starts it again.
   Prints how long answers took during the outage (target: 503 within 3 s, never a 500; a poll
   answered 304 from a worker's memory must stop once the database is gone), and
   how long after the restart the first 200 came (target: within 5 s).
2. Runs wrk against the page for 20 s and sends gunicorn's master HUP (a graceful reload) in
   the middle. Prints the requests that failed (target: none).

It always starts PostgreSQL again, even when interrupted.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import bench_env, postgres_url, prepare, serve, wrk  # noqa: E402

POLL = {"HX-Request": "true"}
ANSWERED = (200, 304)
CLUSTER = sorted(os.listdir("/etc/postgresql"))[-1] if os.path.isdir("/etc/postgresql") else ""


def postgres(action: str) -> None:
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", CLUSTER, "main", action],
        check=True,
        capture_output=True,
    )


def fetch(url: str, headers: dict) -> tuple[int, float]:
    started = time.monotonic()
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as r:
            status = r.status
    except urllib.error.HTTPError as error:
        status = error.code
    except OSError:
        status = 0
    return status, time.monotonic() - started


def outage(base: str, data: dict) -> None:
    page = f"{base}/track/{data['typical']}/"
    with urllib.request.urlopen(urllib.request.Request(page, headers=POLL)) as response:
        poll = {**POLL, "If-None-Match": response.headers["ETag"]}
    targets = [
        (page, {}),
        (page + "?poll", poll),  # the live region's poll, answered 304 while nothing changes
        (
            f"{base}/v1/consignments/{data['typical_id']}",
            {"Authorization": f"Bearer {data['client_key']}"},
        ),
        (f"{base}/tracking/{data['typical']}", {"ocp-apim-subscription-key": data["client_key"]}),
        (f"{base}/healthz", {}),
    ]
    log: list[tuple[float, str, int, float]] = []
    stop = threading.Event()

    def client(url, headers):
        while not stop.is_set():
            status, took = fetch(url, headers)
            parts = urllib.parse.urlparse(url)
            name = f"{parts.path}?{parts.query}" if parts.query else parts.path
            log.append((time.monotonic(), name, status, took))
            time.sleep(0.05)

    threads = [threading.Thread(target=client, args=t) for t in targets for _ in range(2)]
    for thread in threads:
        thread.start()
    time.sleep(3)
    stopped = time.monotonic()
    try:
        postgres("stop")
        time.sleep(10)
    finally:
        started = time.monotonic()
        postgres("start")
    time.sleep(8)
    stop.set()
    for thread in threads:
        thread.join()

    during = [entry for entry in log if stopped < entry[0] <= started]
    statuses = sorted({entry[2] for entry in during})
    slowest = max((entry[3] for entry in during), default=0)
    first_503 = min((e[0] - stopped for e in during if e[2] == 503), default=float("nan"))
    after = [entry for entry in log if entry[0] > started]
    recovered = min((e[0] - started for e in after if e[2] == 200), default=float("nan"))
    failures_after = [e for e in after if e[2] not in (*ANSWERED, 503)]
    print("\nDatabase outage (PostgreSQL stopped for 10 s under load):")
    print(f"  answers during the outage: {statuses} over {len(during)} requests")
    for name in sorted({entry[1] for entry in during}):
        answered = [entry for entry in during if entry[1] == name]
        last = max((e[0] - stopped for e in answered if e[2] in ANSWERED), default=None)
        served = "none" if last is None else f"the last {last:.2f} s after the stop"
        codes = sorted({e[2] for e in answered})
        print(f"    {name:44} {codes} over {len(answered)}; 200/304: {served}")
    print(f"  first 503 after {first_503:.2f} s; slowest answer {slowest:.2f} s (target <= 3 s)")
    print(f"  500s: {sum(1 for e in log if e[2] == 500)}")
    print(f"  first 200 after the restart: {recovered:.2f} s (target <= 5 s)")
    print(f"  errors after the restart other than 503: {len(failures_after)}")


def reload_under_load(base: str, data: dict, process) -> None:
    url = f"{base}/track/{data['typical']}/"
    result = {}

    def load():
        # A request waits while the new workers import the project (a second or two on two
        # cores); a 10 s client timeout tells a slow answer from a dropped one.
        result["wrk"] = wrk(url, seconds=20, connections=16, timeout=10)

    thread = threading.Thread(target=load)
    thread.start()
    time.sleep(8)
    os.kill(process.pid, signal.SIGHUP)
    thread.join()
    measured = result["wrk"]
    print("\ngunicorn reload (HUP) during 20 s of load at 16 connections:")
    print(f"  {measured.requests:,} requests, {measured.errors} failed (target: 0)")
    print(f"  slowest answer {measured.max_ms / 1000:.1f} s (new workers booting)")


def main() -> None:
    if os.geteuid() != 0 or not CLUSTER:
        raise SystemExit("run as root on a machine whose PostgreSQL this script may stop")
    database = postgres_url("bench_tracking")
    data = prepare(database)
    env = bench_env(database)
    with serve(env) as (base, process):
        outage(base, data)
        reload_under_load(base, data, process)


if __name__ == "__main__":
    main()
