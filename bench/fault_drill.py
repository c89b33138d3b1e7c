"""Fault drills: the database goes away under load and comes back; gunicorn reloads under load.

    python bench/fault_drill.py            (needs root: it stops and starts the local PostgreSQL)

1. Serves the project with gunicorn against PostgreSQL, polls the tracking page, its live
   region (answered 304 while nothing changes), both APIs and /healthz from a few client
   threads, stops PostgreSQL for ten seconds and starts it again. Targets: before the stop
   every answer has its expected status (200, the poll 304); during the outage every answer
   comes within 3 s and is that status or 503, the first 503 within 3 s of the stop, and every
   request sent later than that gets 503 (so a poll answered 304 from a worker's memory stops
   once the database is gone); never a 500, never no answer; after the restart each endpoint
   gives its expected status again within 5 s, and nothing but those and 503.
2. Runs wrk against the page for 20 s and sends gunicorn's master HUP (a graceful reload) in
   the middle. Target: every request answered 200.

Exits 1 on any miss. It always starts PostgreSQL again, even when interrupted.
"""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

from common import Scorecard, bench_env, postgres_url, prepare, serve, wrk

POLL = {"HX-Request": "true"}
UNAVAILABLE = 503
NOTICED_WITHIN = 3.0  # seconds from the stop to the first 503, and for any one answer
RECOVERED_WITHIN = 5.0  # seconds from the restart to each endpoint's expected answer
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


def outage(base: str, data: dict, card: Scorecard) -> None:
    page = f"{base}/track/{data['typical']}/"
    with urllib.request.urlopen(urllib.request.Request(page, headers=POLL)) as response:
        poll = {**POLL, "If-None-Match": response.headers["ETag"]}
    # (url, headers, the status it answers while the database is up)
    targets = [
        (page, {}, 200),
        (page + "?poll", poll, 304),  # the live region's poll, answered 304 while nothing changes
        (
            f"{base}/v1/consignments/{data['typical_id']}",
            {"Authorization": f"Bearer {data['client_key']}"},
            200,
        ),
        (
            f"{base}/tracking/{data['typical']}",
            {"ocp-apim-subscription-key": data["client_key"]},
            200,
        ),
        (f"{base}/healthz", {}, 200),
    ]
    log: list[tuple[float, str, int, float]] = []
    expected: dict[str, int] = {}
    stop = threading.Event()

    def name_of(url: str) -> str:
        parts = urllib.parse.urlparse(url)
        return f"{parts.path}?{parts.query}" if parts.query else parts.path

    def client(url, headers):
        name = name_of(url)
        while not stop.is_set():
            status, took = fetch(url, headers)
            log.append((time.monotonic(), name, status, took))
            time.sleep(0.05)

    for url, _headers, status in targets:
        expected[name_of(url)] = status
    threads = [
        threading.Thread(target=client, args=(url, headers))
        for url, headers, _status in targets
        for _ in range(2)
    ]
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
    judge_outage(card, log, expected, stopped, started)


def judge_outage(
    card: Scorecard,
    log: list[tuple[float, str, int, float]],
    expected: dict[str, int],
    stopped: float,
    started: float,
) -> None:
    """Print the outage's figures and check them. `log` holds (answered at, endpoint, status
    or 0 for no answer, seconds taken); `expected` each endpoint's status while the database is
    up; `stopped` and `started` when PostgreSQL was stopped and started again."""
    before = [e for e in log if e[0] <= stopped]
    during = [e for e in log if stopped < e[0] <= started]
    after = [e for e in log if e[0] > started]
    print("\nDatabase outage (PostgreSQL stopped under load):")

    wrong = [e for e in before if e[2] != expected[e[1]]]
    words = card.require("answers before the stop as expected", bool(before) and not wrong)
    print(f"  before the stop: {len(before)} requests, {len(wrong)} unexpected ({words})")

    statuses = sorted({e[2] for e in during})
    print(f"  answers during the outage: {statuses} over {len(during)} requests")
    for name in sorted({e[1] for e in during}):
        answered = [e for e in during if e[1] == name]
        last = max((e[0] - stopped for e in answered if e[2] == expected[name]), default=None)
        served = "none" if last is None else f"the last {last:.2f} s after the stop"
        codes = sorted({e[2] for e in answered})
        print(f"    {name:44} {codes} over {len(answered)}; {expected[name]}: {served}")
    wrong = [e for e in during if e[2] not in (expected[e[1]], UNAVAILABLE)]
    words = card.require("only expected answers or 503 during the outage", not wrong)
    print(f"  answers other than the expected one or 503: {len(wrong)} ({words})")
    first_503 = min((e[0] - stopped for e in during if e[2] == UNAVAILABLE), default=math.nan)
    slowest = max((e[3] for e in during), default=math.nan)
    words = card.target(
        f"first 503 within {NOTICED_WITHIN:.0f} s",
        first_503,
        NOTICED_WITHIN,
        higher_is_better=False,
    )
    print(f"  first 503 after {first_503:.2f} s ({words})")
    words = card.target(
        f"every answer within {NOTICED_WITHIN:.0f} s during the outage",
        slowest,
        NOTICED_WITHIN,
        higher_is_better=False,
    )
    print(f"  slowest answer {slowest:.2f} s (target <= {NOTICED_WITHIN:.0f} s: {words})")
    # Sent (answered minus taken) once the outage is known: nothing may still be served.
    late = [e for e in during if e[0] - e[3] > stopped + NOTICED_WITHIN and e[2] != UNAVAILABLE]
    words = card.require("only 503 once the outage is known", not late)
    print(f"  non-503 answers to requests sent {NOTICED_WITHIN:.0f} s on: {len(late)} ({words})")
    errors = sum(1 for e in log if e[2] == 500)
    print(f"  500s: {errors} ({card.require('never a 500', not errors)})")

    recovered = {
        name: min(
            (e[0] - started for e in after if e[1] == name and e[2] == status), default=math.nan
        )
        for name, status in expected.items()
    }
    first_200 = min((e[0] - started for e in after if e[2] == 200), default=math.nan)
    print(f"  first 200 after the restart: {first_200:.2f} s")
    for name, seconds in recovered.items():
        words = card.target(
            f"{name} answers {expected[name]} within {RECOVERED_WITHIN:.0f} s of the restart",
            seconds,
            RECOVERED_WITHIN,
            higher_is_better=False,
        )
        print(f"    {name:44} {expected[name]} again after {seconds:.2f} s ({words})")
    wrong = [e for e in after if e[2] not in (expected[e[1]], UNAVAILABLE)]
    words = card.require("only expected answers or 503 after the restart", not wrong)
    print(f"  answers after the restart other than the expected one or 503: {len(wrong)} ({words})")


def reload_under_load(base: str, data: dict, process, card: Scorecard) -> None:
    url = f"{base}/track/{data['typical']}/"
    result = {}

    def load():
        # A request waits while the new workers import the project (a second or two on two
        # cores); a 10 s client timeout tells a slow answer from a dropped one.
        result["wrk"] = wrk(url, expect=200, seconds=20, connections=16, timeout=10)

    thread = threading.Thread(target=load)
    thread.start()
    time.sleep(8)
    os.kill(process.pid, signal.SIGHUP)
    thread.join()
    measured = result["wrk"]
    words = card.require("every request answered 200 during the reload", not measured.errors)
    print("\ngunicorn reload (HUP) during 20 s of load at 16 connections:")
    print(f"  {measured.requests:,} requests, {measured.errors} failed (target: 0, {words})")
    print(f"  slowest answer {measured.max_ms / 1000:.1f} s (new workers booting)")


def main() -> int:
    if os.geteuid() != 0 or not CLUSTER:
        raise SystemExit("run as root on a machine whose PostgreSQL this script may stop")
    database = postgres_url("bench_tracking")
    data = prepare(database)
    env = bench_env(database)
    card = Scorecard()
    with serve(env) as (base, process):
        outage(base, data, card)
        reload_under_load(base, data, process, card)
    return card.finish()


if __name__ == "__main__":
    sys.exit(main())
