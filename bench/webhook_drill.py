"""Webhook drill: two hosts' web servers and RQ workers on one PostgreSQL and one Redis, one
worker killed mid-delivery, the receiver away; every message must still arrive, signed.

    python bench/webhook_drill.py [--minutes 1] [--outage 120] [--restart-after 75] [--replay]

Two gunicorn instances (two ports) and two `manage.py rqworker --job-class django_tasks_rq.Job
--with-scheduler` processes (TASKS_BACKEND=rq) share a PostgreSQL database of the drill's own
(BENCH_POSTGRES) and a Redis database (REDIS_URL, default redis://127.0.0.1:6379/11, which it
empties first). A receiver in this process (webhook_bench.Receiver, answering after 50 ms)
verifies every request with the standardwebhooks library. The brand has one subscription, to
every type. The full drill is `--minutes 4` (a two-minute outage); the default is a smoke run.

Over the --minutes of steady carrier load (Sorted batches of three consignments' events,
--rate posts a second, alternately through each gunicorn):
  at 15 %   one RQ worker is killed with SIGKILL (its whole process group: the worker, the
            work horse sending a batch, its scheduler process) while it is the only busy one
            and the receiver holds requests it has not answered yet, preferring the worker
            that runs RQ's scheduler; what it had claimed stays leased for 90 s, then another
            worker sends it again (a duplicate where the receiver had already got it).
            --restart-after seconds later a new worker takes its place (0: never). The default,
            75 s, is past the 61 s for which a dead scheduler's lock outlives it, so the new
            worker takes over RQ's scheduler as it starts; a worker started sooner, or the
            survivor, only tries again at its 10-minute maintenance, and until then no
            run_after job (retry or sweep) leaves Redis's schedule.
  at 35 %   the receiver stops (connections refused) for --outage seconds (default 120, at
            most half the load), then starts again on the same port.
Then it waits, up to --drain-minutes, for the backlog to drain on the production retry
schedule (5 s, 5 min, 30 min, ...: a message refused twice waits about 5 minutes more), driven
by RQ's scheduler and the minute's sweep; nothing is shortened. With --replay it instead
replays the messages waiting for a retry as soon as the receiver is back, as staff would from
the back office (a shorter run that leaves the schedule itself untested).

Prints the messages recorded, delivered at least once, duplicates (the same webhook-id
received more than once: each repeat must carry the recorded body), missing and signature
failures. Exits 1 if a post was not answered 200, a message is missing or not marked delivered
at the end, a repeat's body differs, a request came for an unknown message, or a signature did
not verify.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import http.client
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlparse

from common import PYTHON, RESULTS, ROOT, Scorecard, bench_env, postgres_url, prepare, serve
from webhook_bench import (
    LEGS,
    TASKS,
    WORKERS,
    Arrival,
    Receiver,
    empty_queue,
    pass_fail,
    remove_subscriptions,
    setup_django,
    wait_for,
)

CONSIGNMENTS_PER_POST = 3
EVENTS_PER_CONSIGNMENT = 2
CODES = ["IN_TRANSIT", "IN_TRANSIT", "DELAYED", "OUT_FOR_DELIVERY"]
LEASE_SECONDS = 90  # tracking.delivery.webhooks.LEASE
# An endpoint answers in tens of milliseconds, not at once: time for a kill to land mid-send.
RECEIVER_DELAY = 0.05


@dataclass(frozen=True)
class Tally:
    recorded: int
    delivered: int  # recorded messages received, signed, at least once
    duplicates: int  # receptions beyond the first of a message
    changed: int  # receptions whose body is not the recorded one
    missing: int  # recorded, never received with a good signature
    unknown: int  # received with a good signature, never recorded
    bad_signatures: int


def tally(recorded: dict[str, str], arrivals: list[Arrival]) -> Tally:
    """What the receiver got against what was recorded (message id: body)."""
    seen: dict[str, int] = {}
    changed = 0
    for arrival in arrivals:
        if not arrival.verified:
            continue
        seen[arrival.webhook_id] = seen.get(arrival.webhook_id, 0) + 1
        body = recorded.get(arrival.webhook_id)
        if body is not None and arrival.body != body.encode():
            changed += 1
    return Tally(
        recorded=len(recorded),
        delivered=sum(1 for pk in recorded if pk in seen),
        duplicates=sum(count - 1 for count in seen.values()),
        changed=changed,
        missing=sum(1 for pk in recorded if pk not in seen),
        unknown=sum(1 for pk in seen if pk not in recorded),
        bad_signatures=sum(1 for arrival in arrivals if not arrival.verified),
    )


def judge(card: Scorecard, counts: Tally) -> None:
    """Print the counts and check them."""
    print(f"  messages recorded          {counts.recorded:7,}")
    print(f"  delivered at least once    {counts.delivered:7,}")
    words = card.require("every repeat carries the recorded body", not counts.changed)
    print(
        f"  duplicates received        {counts.duplicates:7,}  (the same webhook-id again; "
        f"{counts.changed} with another body: {pass_fail(words)})"
    )
    words = card.require("no message missing", not counts.missing and counts.recorded > 0)
    print(f"  missing                    {counts.missing:7,}  (must be 0: {pass_fail(words)})")
    words = card.require("no request for a message never recorded", not counts.unknown)
    print(f"  unknown webhook-ids        {counts.unknown:7,}  (must be 0: {pass_fail(words)})")
    words = card.require("every signature verifies", not counts.bad_signatures)
    print(
        f"  signature failures         {counts.bad_signatures:7,}  (must be 0: {pass_fail(words)})"
    )


# -- The pieces ------------------------------------------------------------------------------


class Workers:
    """The RQ worker processes, each in a session of its own so that killing one kills its
    work horse and scheduler process with it."""

    def __init__(self, env: dict) -> None:
        self.env = env
        self.processes: list[subprocess.Popen] = []
        RESULTS.mkdir(parents=True, exist_ok=True)
        self.log_path = RESULTS / "webhook-drill-workers.log"
        self.log = open(self.log_path, "ab")  # noqa: SIM115
        self.log_start = self.log.tell()

    def start(self) -> subprocess.Popen:
        process = subprocess.Popen(
            [PYTHON, "manage.py", *WORKERS["rq"]],
            cwd=ROOT,
            env=self.env,
            stdout=self.log,
            stderr=self.log,
            start_new_session=True,
        )
        self.processes.append(process)
        return process

    def jobs_done(self, name: str) -> int:
        """How many jobs running the task `name` the workers finished during the drill."""
        if not self.log.closed:
            self.log.flush()
        with open(self.log_path, "rb") as log:
            log.seek(self.log_start)
            return log.read().count(f"Successfully completed {name}(".encode())

    def alive(self) -> list[subprocess.Popen]:
        return [p for p in self.processes if p.poll() is None]

    def kill(self, process: subprocess.Popen) -> None:
        """SIGKILL to the worker and everything it started, as when its host dies: the work
        horse puts itself in a process group of its own, so the group alone would miss it."""
        doomed = [*descendants(process.pid), process.pid]
        for pid in doomed:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        process.wait()

    def stop(self) -> None:
        for process in self.alive():
            process.terminate()
        for process in self.alive():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self.log.close()


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (Linux /proc), children before their parent's siblings."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                # The command may hold spaces and parentheses: the parent follows the last ")".
                parent = int(stat.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(parent, []).append(int(entry))
    found, todo = [], list(children.get(pid, []))
    while todo:
        child = todo.pop()
        found.append(child)
        todo.extend(children.get(child, []))
    return found


def registered(connection) -> dict[int, object]:
    """RQ's live workers on this Redis, by process id."""
    from rq import Worker

    return {w.pid: w for w in Worker.all(connection=connection) if w.pid}


def scheduler_holder(connection) -> int | None:
    """The process group (our worker's pid) of the scheduler holding the queue's lock."""
    name = connection.get("rq:scheduler-lock:default")
    if not name:
        return None
    pid = connection.hget(f"rq:scheduler:{name.decode()}", "pid")
    try:
        return os.getpgid(int(pid)) if pid else None
    except (ProcessLookupError, ValueError):
        return None


def scheduler_state(connection) -> str:
    """Who runs RQ's scheduler (which moves run_after jobs, retries and sweeps, to the queue)."""
    holder = scheduler_holder(connection)
    if holder:
        return f"RQ's scheduler runs in worker {holder}"
    ttl = connection.ttl("rq:scheduler-lock:default")
    if ttl > 0:
        return f"RQ's scheduler lock is held by a dead scheduler for {ttl} s more"
    return "no RQ scheduler is running"


def choose_victim(workers: Workers, connection, receiver: Receiver, timeout: float = 30) -> tuple:
    """A worker caught mid-delivery: the only busy one while the receiver holds requests it
    has not answered yet (the scheduler's holder for the first half of the time, then any);
    else any. Returns (process, whether it was caught mid-delivery, the holder's pid)."""
    holder = scheduler_holder(connection)
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        live = registered(connection)
        busy = [p for p in workers.alive() if p.pid in live and live[p.pid].get_state() == "busy"]
        if time.monotonic() - started < timeout / 2:
            wanted = [p for p in busy if p.pid == holder]
        else:
            wanted = busy
        if len(busy) == 1 and wanted and receiver.in_flight:
            return wanted[0], True, holder
        time.sleep(0.002)
    alive = workers.alive()
    return next((p for p in alive if p.pid == holder), alive[0]), False, holder


def drill_body(run: int, client: int, sequence: int) -> bytes:
    """A carrier's small batch: a few consignments' legs, two new events each."""
    now = dt.datetime.now(dt.UTC)
    consignments = []
    for k, n in enumerate(random.sample(range(LEGS), CONSIGNMENTS_PER_POST)):
        package = f"{n * 2:09d}"
        events = [
            {
                "TimeStamp": (now + dt.timedelta(milliseconds=e)).isoformat(),
                "Code": random.choice(CODES),
                "Description": f"drill {run}-{client}-{sequence}-{k}-{e}",
                "Location": "Leeds",
            }
            for e in range(EVENTS_PER_CONSIGNMENT)
        ]
        consignments.append(
            {
                "ConsignmentTrackingReference": f"T{n}-0",
                "PackageTrackingEvents": [
                    {
                        "PackageReference": f"EP-{package[:3]}-{package[3:6]}-{package[6:]}",
                        "TrackingEvents": events,
                    }
                ],
            }
        )
    body = {"CarrierReference": "BENCH_LINEHAUL", "ConsignmentTrackingEvents": consignments}
    return json.dumps(body).encode()


class Load:
    """Steady carrier posts from a few client threads, alternately to each gunicorn."""

    def __init__(self, bases: list[str], key: str, rate: float, clients: int = 4) -> None:
        self.bases, self.key, self.rate, self.clients = bases, key, rate, clients
        self.answers: list[tuple[int, int]] = []  # (gunicorn, status or 0)
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self.client, args=(c,)) for c in range(clients)]
        self.run = int(time.time())

    def client(self, number: int) -> None:
        connections = {}
        interval = self.clients / self.rate
        next_at = time.monotonic() + random.uniform(0, interval)
        sequence = 0
        while not self.stopping.is_set():
            time.sleep(max(0.0, next_at - time.monotonic()))
            next_at += interval
            sequence += 1
            server = (number + sequence) % len(self.bases)
            if server not in connections:
                url = urlparse(self.bases[server])
                connections[server] = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
            connection = connections[server]
            try:
                connection.request(
                    "POST",
                    "/tracking/carrierevents",
                    body=drill_body(self.run, number, sequence),
                    headers={
                        "ocp-apim-subscription-key": self.key,
                        "Content-Type": "application/json",
                    },
                )
                response = connection.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException):
                status = 0
                connection.close()
                del connections[server]
            self.answers.append((server, status))
        for connection in connections.values():
            connection.close()

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def stop(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join()


# -- The drill --------------------------------------------------------------------------------


def drill(args, card: Scorecard) -> None:
    database = postgres_url("bench_webhook_drill")
    data = prepare(database, consignments=LEGS)
    redis_url = os.environ["REDIS_URL"]
    env = bench_env(database, TASKS_BACKEND="rq", REDIS_URL=redis_url, WEBHOOK_ALLOW_PRIVATE="1")
    setup_django(database)

    import redis
    from django.db.models import Count, Q
    from django.test import override_settings
    from django.utils import timezone

    from tracking import services
    from tracking.models import Brand, MessageState, WebhookAttempt, WebhookMessage

    connection = redis.Redis.from_url(redis_url)
    brand = Brand.objects.get(slug="bench")
    remove_subscriptions(brand)
    empty_queue("rq")

    receiver = Receiver(delay=RECEIVER_DELAY)
    receiver.start()
    url = receiver.url("drill")
    subscription, secret = services.create_subscription(brand=brand, url=url)
    receiver.expect(url, secret)

    load_seconds = args.minutes * 60
    outage = min(args.outage, load_seconds / 2)
    kill_at, outage_at = 0.15 * load_seconds, 0.35 * load_seconds
    workers = Workers(env)
    with contextlib.ExitStack() as stack:
        stack.callback(receiver.stop)
        stack.callback(workers.stop)
        bases = [stack.enter_context(serve(env, workers=2))[0] for _ in range(2)]
        for _ in range(2):
            workers.start()
        if not wait_for(lambda: len(registered(connection)) >= 2, 60, every=0.2):
            raise SystemExit("the RQ workers did not start: see bench/results/")
        ports = ", ".join(urlparse(base).netloc.split(":")[1] for base in bases)
        print(
            f"\nWebhook drill: 2 gunicorns (ports {ports}), 2 RQ workers, PostgreSQL "
            f"{database.rsplit('/', 1)[1]}, Redis {redis_url}; {args.minutes:g} min of carrier "
            f"load at {args.rate:g} posts/s ({CONSIGNMENTS_PER_POST} consignments, "
            f"{CONSIGNMENTS_PER_POST * EVENTS_PER_CONSIGNMENT} events each)"
        )
        load = Load(bases, data["carrier_key"], args.rate)
        started = time.monotonic()
        load.start()

        def at(seconds: float) -> None:
            time.sleep(max(0.0, started + seconds - time.monotonic()))

        at(kill_at)

        victim, busy, holder = choose_victim(workers, connection, receiver)
        killed = time.monotonic() - started
        killed_at = time.monotonic()
        workers.kill(victim)
        # The requests the receiver held unanswered: they were the victim's, and die with it.
        cut_off = [a.webhook_id for a in receiver.arrivals if killed_at - a.at < RECEIVER_DELAY]
        time.sleep(1.5)
        now = timezone.now()
        stale = WebhookMessage.objects.filter(
            subscription=subscription,
            state=MessageState.PENDING,
            leased_until__gt=now,
            leased_until__lt=now + dt.timedelta(seconds=LEASE_SECONDS - 1.5),
        ).count()
        caught = "mid-delivery" if busy else "not caught mid-delivery"
        holding = "holding" if victim.pid == holder else "not holding"
        print(
            f"  killed RQ worker {victim.pid} with SIGKILL at {killed:.0f} s ({caught}, "
            f"{holding} the scheduler lock); {len(cut_off)} of its requests were at the receiver "
            f"unanswered; {stale} messages left under its lease"
        )
        restart = args.restart_after > 0
        outage_started = None
        events = sorted(
            [(outage_at, "stop")]
            + ([(killed + args.restart_after, "restart")] if restart else [])
            + [(outage_at + outage, "start"), (load_seconds, "end")]
        )
        for when, what in events:
            at(when)
            if what == "restart":
                new = workers.start()
                print(f"  started RQ worker {new.pid} in its place at {when:.0f} s")
                wait_for(lambda pid=new.pid: pid in registered(connection), 60, every=0.2)
                print(f"    {scheduler_state(connection)}")
            elif what == "end":
                load.stop()
                print(f"  carrier load stopped at {when:.0f} s")
            elif what == "stop":
                receiver.stop()
                outage_started = timezone.now()
                print(f"  receiver stopped at {when:.0f} s for {outage:.0f} s")
            else:
                receiver.start()
                refused = WebhookAttempt.objects.filter(
                    message__subscription=subscription,
                    status_code__isnull=True,
                    attempted_at__gte=outage_started,
                ).count()
                print(f"  receiver started again at {when:.0f} s; {refused:,} attempts refused")
                back = time.monotonic()
                if args.replay:
                    waiting = WebhookMessage.objects.filter(
                        subscription=subscription,
                        state=MessageState.PENDING,
                        retries__gt=0,
                        next_attempt_at__gt=timezone.now(),
                    )
                    with override_settings(TASKS=TASKS["rq"]):
                        replayed = services.replay(list(waiting))
                    print(f"  replayed {replayed:,} messages waiting for a retry")
        if not restart:
            print("  the killed worker was not replaced")
        answers = load.answers
        failed = [status for _server, status in answers if status != 200]
        per_server = [sum(1 for server, _s in answers if server == n) for n in range(2)]
        words = card.require("every carrier post answered 200", bool(answers) and not failed)
        print(
            f"  load: {len(answers):,} posts ({per_server[0]:,} + {per_server[1]:,}), "
            f"{len(failed)} not answered 200 ({pass_fail(words)})"
        )

        def outstanding() -> int:
            return WebhookMessage.objects.filter(
                subscription=subscription, state=MessageState.PENDING
            ).count()

        def drained() -> bool:
            if outstanding():
                return False
            recorded = set(subscription.messages.values_list("pk", flat=True))
            return recorded <= {a.webhook_id for a in receiver.arrivals if a.verified}

        deadline = time.monotonic() + args.drain_minutes * 60
        report_at = time.monotonic() + 60
        while not drained() and time.monotonic() < deadline:
            if time.monotonic() >= report_at:
                report_at += 60
                pending = WebhookMessage.objects.filter(
                    subscription=subscription, state=MessageState.PENDING
                )
                soonest = min(pending.values_list("next_attempt_at", flat=True), default=None)
                due = f", next due in {(soonest - timezone.now()).total_seconds():.0f} s"
                print(
                    f"    {time.monotonic() - started:4.0f} s: {pending.count():,} pending"
                    + (due if soonest else "")
                    + f"; {scheduler_state(connection)}"
                )
            time.sleep(2)
        done = drained()
        words = card.require("the backlog drains", done)
        how = "replayed" if args.replay else "the production retry schedule"
        print(
            f"  backlog {'drained' if done else 'NOT drained'} {time.monotonic() - back:.0f} s "
            f"after the receiver came back ({how}; {pass_fail(words)})"
        )
    jobs = workers.jobs_done("tracking.delivery.tasks.deliver_webhooks")
    print(f"  deliver_webhooks jobs the workers ran: {jobs:,} (for {len(answers):,} carrier posts)")
    states = dict(
        subscription.messages.values_list("state").annotate(n=Count("pk")).values_list("state", "n")
    )
    attempts = WebhookAttempt.objects.filter(message__subscription=subscription).aggregate(
        all=Count("pk"), failed=Count("pk", filter=Q(status_code__isnull=True))
    )
    subscription.refresh_from_db()
    print(
        f"  message states: {states}; {attempts['all']:,} attempts, {attempts['failed']:,} without"
        f" an answer; subscription {'active' if subscription.active else 'DISABLED'}"
    )
    words = card.require(
        "every message marked delivered",
        set(states) == {MessageState.DELIVERED} and subscription.active,
    )
    print(f"  every message marked delivered: {pass_fail(words)}")
    recorded = dict(subscription.messages.values_list("pk", "body"))
    received = [a.webhook_id for a in receiver.at(url) if a.verified]
    again = sum(1 for pk in set(cut_off) if received.count(pk) > 1)
    print(f"  requests cut off by the kill and received again later: {again} of {len(cut_off)}")
    judge(card, tally(recorded, receiver.at(url)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=1.0, help="carrier load (default 1)")
    parser.add_argument("--rate", type=float, default=4.0, help="carrier posts a second")
    parser.add_argument(
        "--outage",
        type=float,
        default=120.0,
        help="seconds the receiver is away (<= half the load)",
    )
    parser.add_argument(
        "--restart-after",
        type=float,
        default=75.0,
        help="seconds until the killed worker is replaced (0: never)",
    )
    parser.add_argument("--replay", action="store_true", help="replay instead of waiting")
    parser.add_argument(
        "--drain-minutes", type=float, default=20.0, help="longest wait after the load"
    )
    args = parser.parse_args()
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/11")
    if urlparse(os.environ["REDIS_URL"]).path.strip("/") in ("", "0"):
        raise SystemExit("REDIS_URL must name a Redis database of the drill's own (not 0)")
    card = Scorecard()
    drill(args, card)
    return card.finish()


if __name__ == "__main__":
    sys.exit(main())
