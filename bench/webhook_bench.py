"""Outbound webhooks (design section 7.3): what recording costs ingestion, how soon a delivery
arrives after the carrier's post, and how fast one worker sends.

    python bench/webhook_bench.py [--postgres] [--rounds 3] [--posts 200] [--messages 2000]
    DATABASE_URL=postgres://... python bench/webhook_bench.py
    TASKS_BACKEND=rq REDIS_URL=redis://127.0.0.1:6379/10 python bench/webhook_bench.py

SQLite by default; PostgreSQL with --postgres (a database of its own) or the DATABASE_URL
given; about four minutes a task backend on two cores. Deliveries go to a receiver in this
process (a threaded http.server on 127.0.0.1) that verifies every request with the
standardwebhooks library and notes when it arrived.

1. Ingestion: ingest_bench.py's batches of 1,000 events over 100 consignments' legs, posted by
   several clients, with the brand's one active subscription (every type) and with none, in
   alternating rounds of fresh events (the same shape each time); no worker runs, so the
   difference is what recording the messages and waking a worker cost the carrier's request.
   A write enqueues only when no copy of the task waits unstarted (services/wakeups.py), so
   here the first write of a round enqueues and the others pay the check that finds its copy;
   under an idle worker a write enqueues at most once per drain. Budget: the rate with a
   subscription >= 90 % of the rate without (medians).
2. Latency: one idle worker (`manage.py db_worker` at its default 1 s interval); single-event
   posts spaced 0.2-0.6 s apart at random (so they fall anywhere in the worker's poll), each
   timed from the carrier's 200 to the receiver's request. Budget: p50 <= 2 s, p99 <= 5 s.
3. Delivery rate: a backlog recorded while the subscription is disabled (held), then released
   at once by enabling it (one wake-up); from the enable to the last request's arrival, with
   the same worker. Budget >= 100 messages/s.

With TASKS_BACKEND=rq all three run again on RQ (`manage.py rqworker --job-class
django_tasks_rq.Job --with-scheduler`); REDIS_URL must then name a database of the benchmark's
own (not 0): it is emptied between the parts. Exits 1 on any miss: a budget, a post answered
otherwise than 200, a signature the receiver could not verify, a delivery that never came.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import math
import os
import random
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse

from common import (
    PYTHON,
    RESULTS,
    ROOT,
    Scorecard,
    bench_env,
    postgres_url,
    prepare,
    serve,
    sqlite_url,
)
from ingest_bench import LEGS_PER_BATCH, batch_body, post_batches

LEGS = 2000  # filler consignments, each with one leg of the linehaul carrier (as ingest_bench)
INGEST_BUDGET = 0.90  # with a subscription / without
P50_BUDGET, P99_BUDGET = 2.0, 5.0  # seconds from the carrier's 200 to the receiver
RATE_BUDGET = 100.0  # messages per second, one worker
WORKERS = {
    "database": ["db_worker"],  # its default interval: one look at the queue a second
    "rq": ["rqworker", "--job-class", "django_tasks_rq.Job", "--with-scheduler"],
}
# What the settings make of TASKS_BACKEND, for this process's own enqueueing (it is set up
# once, on the database backend, and switches with override_settings).
TASKS = {
    "database": {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}},
    "rq": {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default"]}},
}


# -- The receiver -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Arrival:
    at: float  # time.monotonic() when the request's headers were read
    path: str
    webhook_id: str
    body: bytes
    verified: bool


@dataclass
class Receiver:
    """A webhook endpoint on 127.0.0.1 in this process. Each path carries one subscription's
    secret; every request is verified with standardwebhooks (answered 204, or 401 when it does
    not verify) and noted, after `delay` seconds. stop() closes the socket (senders get a
    refused connection) and start() opens the same port again."""

    port: int = 0
    delay: float = 0.0  # how long the endpoint takes to answer
    in_flight: int = 0  # requests read and not yet answered
    secrets: dict[str, str] = field(default_factory=dict)
    arrivals: list[Arrival] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/{name}"

    def expect(self, url: str, secret: str) -> None:
        self.secrets[urlparse(url).path] = secret

    def at(self, url: str) -> list[Arrival]:
        path = urlparse(url).path
        return [a for a in self.arrivals if a.path == path]

    def start(self) -> None:
        from standardwebhooks.webhooks import Webhook

        receiver = self
        lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                at = time.monotonic()
                with lock:
                    receiver.in_flight += 1
                try:
                    self.answer(at)
                finally:
                    with lock:
                        receiver.in_flight -= 1

            def answer(self, at: float) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                headers = {name.lower(): value for name, value in self.headers.items()}
                secret = receiver.secrets.get(self.path)
                try:
                    Webhook(secret).verify(body, headers, json_parse=False)
                    verified = True
                except Exception:  # a missing secret, a bad or stale signature, no headers
                    verified = False
                receiver.arrivals.append(
                    Arrival(at, self.path, headers.get("webhook-id", ""), body, verified)
                )
                if receiver.delay:
                    time.sleep(receiver.delay)
                self.send_response(204 if verified else 401)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        class Server(ThreadingHTTPServer):
            request_queue_size = 256  # a worker's batch arrives as 16 connections at once
            daemon_threads = True

        self._server = Server(("127.0.0.1", self.port), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


# -- Figures ----------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    """The nearest-rank percentile (the smallest value with q % of them at or below it)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def pass_fail(words: str) -> str:
    return "PASS" if words == "met" else "FAIL" + words.removeprefix("NOT MET")


def described(body: bytes) -> list[str]:
    """The `details` of the events a tracking.updated body carries."""
    return [event["details"] for event in json.loads(body)["data"]["events"]]


class Labelled:
    """A Scorecard whose targets carry the task backend's name, so that a miss says where."""

    def __init__(self, card: Scorecard, label: str) -> None:
        self.card, self.label = card, label

    def target(self, name: str, *args, **kwargs) -> str:
        return self.card.target(f"{self.label}: {name}", *args, **kwargs)

    def require(self, name: str, ok: bool) -> str:
        return self.card.require(f"{self.label}: {name}", ok)


# -- Setting up ------------------------------------------------------------------------------


def setup_django(database_url: str) -> None:
    """This process reads and writes the benchmark's database through the project's models and
    services (subscriptions, enabling one, counting rows), on the database task backend."""
    os.environ.update(bench_env(database_url, TASKS_BACKEND="database", WEBHOOK_ALLOW_PRIVATE="1"))
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def empty_queue(backend: str) -> None:
    """No task left from an earlier part (a wake-up per write nobody ran), no sweep chain."""
    from django_tasks_db.models import DBTaskResult

    from tracking.models import Wakeup

    DBTaskResult.objects.all().delete()
    Wakeup.objects.all().delete()
    if backend == "rq":
        import redis

        redis.Redis.from_url(os.environ["REDIS_URL"]).flushdb()


def remove_subscriptions(brand) -> None:
    from tracking import services

    for subscription in brand.webhook_subscriptions.all():
        services.delete_subscription(subscription)


@contextlib.contextmanager
def worker(env: dict, backend: str):
    """One worker process, until the block ends."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    with open(RESULTS / f"webhook-{backend}-worker.log", "ab") as log:
        process = subprocess.Popen(
            [PYTHON, "manage.py", *WORKERS[backend]], cwd=ROOT, env=env, stdout=log, stderr=log
        )
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_for(condition, timeout: float, every: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(every)
    return True


# -- 1. Ingestion with and without a subscription ---------------------------------------------


def ingestion(base, key, brand, receiver, args, card, run_ids) -> None:
    from tracking import services
    from tracking.models import TrackingEvent, WebhookType

    rates: dict[str, list[float]] = {"without": [], "with": []}
    failed, unstored, unrecorded = 0, 0, 0
    for round_number in range(args.rounds):
        # Alternate which goes first, so a database that grows or a neighbour's load late in
        # a round weighs on both.
        modes = ("without", "with") if round_number % 2 == 0 else ("with", "without")
        for mode in modes:
            run = next(run_ids)
            bodies = [batch_body(n, LEGS, run) for n in range(args.batches + 2)]
            subscription = None
            if mode == "with":
                url = receiver.url(f"ingestion-{run}")
                subscription, secret = services.create_subscription(brand=brand, url=url)
                receiver.expect(url, secret)
            _elapsed, warm_failed = post_batches(base, key, bodies[:2], 1)
            before = TrackingEvent.objects.count()
            elapsed, measured_failed = post_batches(base, key, bodies[2:], args.clients)
            stored = TrackingEvent.objects.count() - before
            failed += warm_failed + measured_failed
            unstored += args.batches * 1000 - stored
            rates[mode].append(stored / elapsed)
            if subscription is not None:
                updated = subscription.messages.filter(type=WebhookType.TRACKING_UPDATED).count()
                # One tracking.updated per consignment per write: 100 per batch.
                unrecorded += (args.batches + 2) * LEGS_PER_BATCH - updated
                services.delete_subscription(subscription)
    without, with_one = statistics.median(rates["without"]), statistics.median(rates["with"])
    ratio = with_one / without
    card.require("every batch answered 200 and stored", not failed and not unstored)
    card.require("one tracking.updated per consignment per batch", not unrecorded)
    words = card.target(
        f"ingestion with a subscription >= {INGEST_BUDGET:.0%} of without",
        ratio,
        INGEST_BUDGET,
        errors=failed,
    )

    def listed(values):
        return ", ".join(f"{v:,.0f}" for v in values)

    print(
        f"  ingestion, no subscription  {without:8,.0f} events/s  (median of {args.rounds} rounds "
        f"of {args.batches} batches: {listed(rates['without'])})"
    )
    print(
        f"  ingestion, one subscription {with_one:8,.0f} events/s  (median of {args.rounds}: "
        f"{listed(rates['with'])}; {unrecorded} tracking.updated missing)"
    )
    print(
        f"  ratio                       {ratio:8.2f}            ({failed} failed posts, "
        f"{unstored} events not stored; budget >= {INGEST_BUDGET:.2f}: {pass_fail(words)})"
    )


# -- 2. and 3.: one worker --------------------------------------------------------------------


def probe(receiver, brand, run: int, timeout: float = 60) -> bool:
    """A webhook.test through the worker: it is up and idle once the test has arrived."""
    from tracking import services

    url = receiver.url(f"probe-{run}")
    subscription, secret = services.create_subscription(
        brand=brand, url=url, event_types=["tracking.updated"]
    )
    receiver.expect(url, secret)
    services.send_test(subscription)
    arrived = wait_for(lambda: receiver.at(url), timeout)
    services.delete_subscription(subscription)
    return arrived


def delivery_rate(base, key, brand, receiver, args, card, run_ids) -> None:
    from tracking import services
    from tracking.models import MessageState

    run = next(run_ids)
    url = receiver.url(f"backlog-{run}")
    subscription, secret = services.create_subscription(
        brand=brand, url=url, event_types=["tracking.updated"]
    )
    receiver.expect(url, secret)
    services.disable_subscription(subscription, reason="bench: a backlog held while disabled")
    batches = math.ceil(args.messages / LEGS_PER_BATCH)
    bodies = [batch_body(n, LEGS, run) for n in range(batches)]
    _elapsed, failed = post_batches(base, key, bodies, args.clients)
    held = subscription.messages.filter(state=MessageState.HELD).count()
    started = time.monotonic()
    services.enable_subscription(subscription)  # all due at once; one wake-up on commit

    def received() -> set[str]:
        return {a.webhook_id for a in receiver.at(url)}

    wait_for(lambda: len(received()) >= held, timeout=held / 20 + 60, every=0.02)
    arrivals = receiver.at(url)
    last = max((a.at for a in arrivals), default=math.nan) - started
    first = min((a.at for a in arrivals), default=math.nan) - started
    wait_for(lambda: subscription.messages.filter(state=MessageState.DELIVERED).count() >= held, 10)
    delivered = subscription.messages.filter(state=MessageState.DELIVERED).count()
    rate = len(received()) / last if arrivals else 0.0
    missing = held - len(received())
    services.delete_subscription(subscription)
    card.require("backlog posts answered 200", not failed)
    card.require("every held message recorded", held == batches * LEGS_PER_BATCH)
    words = card.target(
        f"one worker delivers >= {RATE_BUDGET:.0f} messages/s",
        rate,
        RATE_BUDGET,
        errors=missing + (held - delivered),
    )
    print(
        f"  delivery rate, one worker   {rate:8,.0f} messages/s ({len(received()):,} of {held:,} "
        f"held messages arrived {last:.1f} s after the enable, the first after {first:.2f} s; "
        f"{delivered:,} marked delivered; budget >= {RATE_BUDGET:.0f}/s: {pass_fail(words)})"
    )


def single_event(n: int, description: str) -> bytes:
    """One new event on the n-th filler consignment's leg, as a carrier posts it."""
    now = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())
    package = f"{n * 2:09d}"
    body = {
        "CarrierReference": "BENCH_LINEHAUL",
        "ConsignmentTrackingEvents": [
            {
                "ConsignmentTrackingReference": f"T{n}-0",
                "PackageTrackingEvents": [
                    {
                        "PackageReference": f"EP-{package[:3]}-{package[3:6]}-{package[6:]}",
                        "TrackingEvents": [
                            {
                                "TimeStamp": now,
                                "Code": "IN_TRANSIT",
                                "Description": description,
                                "Location": "Leeds",
                            }
                        ],
                    }
                ],
            }
        ],
    }
    return json.dumps(body).encode()


def latency(base, key, brand, receiver, args, card, run_ids) -> None:
    from tracking import services

    run = next(run_ids)
    url = receiver.url(f"latency-{run}")
    subscription, secret = services.create_subscription(
        brand=brand, url=url, event_types=["tracking.updated"]
    )
    receiver.expect(url, secret)
    answered: dict[str, float] = {}  # description: when the carrier's 200 was read
    failed = 0
    parts = urlparse(base)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    for i in range(args.posts):
        time.sleep(random.uniform(0.2, 0.6))
        description = f"latency {run}-{i}"
        connection.request(
            "POST",
            "/tracking/carrierevents",
            body=single_event(random.randrange(LEGS), description),
            headers={"ocp-apim-subscription-key": key, "Content-Type": "application/json"},
        )
        response = connection.getresponse()
        response.read()
        if response.status == 200:
            answered[description] = time.monotonic()
        else:
            failed += 1
    connection.close()

    def arrived() -> dict[str, float]:
        first: dict[str, float] = {}
        for arrival in receiver.at(url):
            for details in described(arrival.body):
                first[details] = min(first.get(details, math.inf), arrival.at)
        return first

    wait_for(lambda: set(answered) <= set(arrived()), timeout=30, every=0.2)
    first = arrived()
    latencies = [first[d] - at for d, at in answered.items() if d in first]
    missing = len(answered) - len(latencies)
    services.delete_subscription(subscription)
    p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
    errors = failed + missing
    p50_words = card.target(
        f"p50 carrier's 200 to receiver <= {P50_BUDGET:.0f} s",
        p50,
        P50_BUDGET,
        higher_is_better=False,
        errors=errors,
    )
    p99_words = card.target(
        f"p99 carrier's 200 to receiver <= {P99_BUDGET:.0f} s",
        p99,
        P99_BUDGET,
        higher_is_better=False,
        errors=errors,
    )
    print(
        f"  latency, 200 to receiver    p50 {p50:.2f} s, p99 {p99:.2f} s, max "
        f"{max(latencies, default=math.nan):.2f} s over {len(latencies)} of {args.posts} posts "
        f"({failed} not answered 200, {missing} never delivered; budgets p50 <= "
        f"{P50_BUDGET:.0f} s: {pass_fail(p50_words)}, p99 <= {P99_BUDGET:.0f} s: "
        f"{pass_fail(p99_words)})"
    )


# -- The whole run -----------------------------------------------------------------------------


def run(database_url, backend, data, receiver, args, card, run_ids) -> None:
    from django.test import override_settings

    from tracking.models import Brand

    brand = Brand.objects.get(slug="bench")
    card = Labelled(card, backend)
    env = bench_env(database_url, TASKS_BACKEND=backend, WEBHOOK_ALLOW_PRIVATE="1")
    remove_subscriptions(brand)
    empty_queue(backend)
    kind = database_url.split(":")[0]
    started = len(receiver.arrivals)
    print(f"\nWebhooks: {kind}, {backend} task backend ({' '.join(WORKERS[backend])})")
    key = data["carrier_key"]
    with serve(env) as (base, _process):
        ingestion(base, key, brand, receiver, args, card, run_ids)
        empty_queue(backend)  # the wake-ups of the writes above, which nobody ran
        with override_settings(TASKS=TASKS[backend]), worker(env, backend):
            ready = card.require(
                f"a {backend} worker delivers a webhook.test", probe(receiver, brand, next(run_ids))
            )
            if ready == "met":
                delivery_rate(base, key, brand, receiver, args, card, run_ids)
                latency(base, key, brand, receiver, args, card, run_ids)
            else:
                print("  the worker never delivered a webhook.test: see bench/results/")
    refused = sum(1 for a in receiver.arrivals[started:] if not a.verified)
    words = card.require("every delivery's signature verifies", not refused)
    print(f"  signatures that did not verify: {refused} ({pass_fail(words)})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", action="store_true", help="a database of its own")
    parser.add_argument("--rounds", type=int, default=3, help="ingestion rounds of each kind")
    parser.add_argument("--batches", type=int, default=40, help="measured batches per round")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--posts", type=int, default=200, help="single-event posts timed")
    parser.add_argument("--messages", type=int, default=2000, help="backlog for the rate")
    args = parser.parse_args()
    if os.environ.get("DATABASE_URL"):
        url = os.environ["DATABASE_URL"]
    elif args.postgres:
        url = postgres_url("bench_webhooks")
    else:
        url = sqlite_url("bench-webhooks.sqlite3")
    backends = ["database"]
    if os.environ.get("TASKS_BACKEND") == "rq":
        redis_url = os.environ.get("REDIS_URL", "")
        if not redis_url or urlparse(redis_url).path.strip("/") in ("", "0"):
            raise SystemExit("TASKS_BACKEND=rq needs REDIS_URL naming a database of its own")
        backends.append("rq")
    data = prepare(url, consignments=LEGS)
    setup_django(url)
    receiver = Receiver()
    receiver.start()
    card = Scorecard()
    run_ids = iter(range(int(time.time()) * 100, int(time.time()) * 100 + 10_000))
    try:
        for backend in backends:
            run(url, backend, data, receiver, args, card, run_ids)
    finally:
        receiver.stop()
    return card.finish()


if __name__ == "__main__":
    sys.exit(main())
