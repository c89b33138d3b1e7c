"""Shared plumbing for the benchmarks: a database to fill, gunicorn to serve, wrk to measure."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
PYTHON = sys.executable
CORES = os.cpu_count() or 2
# What Chromium sends: the portal gzips its pages for such clients, so a benchmark that left
# it out would measure pages no browser gets.
BROWSER = {"Accept-Encoding": "gzip, deflate, br, zstd"}


def bench_env(database_url: str, **extra) -> dict:
    env = {
        **os.environ,
        "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-only-not-secret"),
        "DATABASE_URL": database_url,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        # Benchmarks measure the portal, not the rate limiter's refusals.
        "RATE_LIMIT_LOOKUP": "100000000/s",
        "RATE_LIMIT_API": "100000000/s",
        **extra,
    }
    env.pop("DEBUG", None)
    return env


def sqlite_url(name: str) -> str:
    RESULTS.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{RESULTS / name}"


def postgres_url(name: str) -> str:
    """A PostgreSQL database of the benchmark's own on the local server, created if missing."""
    base = os.environ.get("BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432")
    subprocess.run(
        ["psql", f"{base}/postgres", "-qc", f"CREATE DATABASE {name}"],
        capture_output=True,
        check=False,
    )
    return f"{base}/{name}"


def manage(env: dict, *args: str, capture: bool = False) -> str:
    result = subprocess.run(
        [PYTHON, "manage.py", *args],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=capture,
        text=True,
    )
    return result.stdout if capture else ""


def prepare(database_url: str, consignments: int = 1000, events: int = 10) -> dict:
    """Migrate, collect static files and fill the database; returns bench/build_data.py's
    summary (the typical consignment and the keys)."""
    env = bench_env(database_url)
    manage(env, "migrate", "--noinput", "-v0")
    manage(env, "collectstatic", "--noinput", "-v0")
    output = subprocess.run(
        [
            PYTHON,
            "bench/build_data.py",
            "--consignments",
            str(consignments),
            "--events",
            str(events),
        ],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def serve(env: dict, workers: int | None = None, threads: int = 1, app="bench.wsgi:application"):
    """gunicorn on loopback with the production config, until the block ends."""
    port = free_port()
    command = [
        str(Path(PYTHON).parent / "gunicorn"),
        app,
        "-c",
        "gunicorn.conf.py",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers or CORES * 2 + 1),
        "--threads",
        str(threads),
        "--access-logfile",
        "/dev/null",
        "--error-logfile",
        str(RESULTS / "gunicorn.log"),
    ]
    RESULTS.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(command, cwd=ROOT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(base + "/healthz", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError(
                        "gunicorn did not start; see bench/results/gunicorn.log"
                    ) from None
                time.sleep(0.2)
        yield base, process
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


# Appended to every wrk script: counts the answers whose status is not the one expected (wrk's
# own "Non-2xx or 3xx responses" misses a 200 where a 304 was expected, and a redirect), and
# gives each thread a distinct `id` for scripts that make their own requests.
STATUS_LUA = """
local expected = {expected}
local threads = {{}}
local created = 0
unexpected = 0
last_unexpected = 0
function setup(thread)
  created = created + 1
  thread:set("id", created)
  table.insert(threads, thread)
end
function response(status, headers, body)
  if status ~= expected then
    unexpected = unexpected + 1
    last_unexpected = status
  end
end
function done(summary, latency, requests)
  local total, last = 0, 0
  for _, thread in ipairs(threads) do
    total = total + thread:get("unexpected")
    if thread:get("last_unexpected") ~= 0 then
      last = thread:get("last_unexpected")
    end
  end
  io.write(string.format("Unexpected statuses: %d (last %d)\\n", total, last))
end
"""


@dataclass
class WrkResult:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int  # socket errors plus answers whose status was not the expected one
    max_ms: float = 0.0
    seconds: float = 0.0  # how long wrk measured
    last_unexpected: int = 0  # the last unexpected status seen, for the report

    def __str__(self) -> str:
        text = (
            f"{self.requests_per_second:8.0f} req/s  p50 {self.p50_ms:6.1f} ms  "
            f"p99 {self.p99_ms:6.1f} ms  errors {self.errors}"
        )
        return text + (f" (last status {self.last_unexpected})" if self.last_unexpected else "")


def _milliseconds(value: str) -> float:
    match = re.match(r"([\d.]+)([a-z]+)", value)
    if match is None:
        raise RuntimeError(f"unreadable wrk latency {value!r}")
    number, unit = match.groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0, "h": 3600000.0}[unit]


def parse_wrk(output: str) -> WrkResult:
    """wrk's report, run with STATUS_LUA: an answer with another status than the expected one
    is an error, like a socket error (so a 500 is counted once, not also as wrk's non-2xx)."""
    if "Latency Distribution" not in output:
        raise RuntimeError(f"wrk measured nothing:\n{output}")
    checked = re.search(r"Unexpected statuses: (\d+) \(last (\d+)\)", output)
    if checked is None:
        raise RuntimeError(f"wrk ran without the status check:\n{output}")
    done = re.search(r"(\d+) requests in ([\d.]+[a-z]+),", output)
    requests = int(done.group(1))
    if requests == 0:
        raise RuntimeError(f"wrk got no answer at all:\n{output}")
    errors = int(checked.group(1))
    if match := re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    ):
        errors += sum(int(n) for n in match.groups())
    return WrkResult(
        requests_per_second=float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        p50_ms=_milliseconds(re.search(r"^\s+50%\s+(\S+)", output, re.MULTILINE).group(1)),
        p99_ms=_milliseconds(re.search(r"^\s+99%\s+(\S+)", output, re.MULTILINE).group(1)),
        requests=requests,
        errors=errors,
        max_ms=_milliseconds(re.search(r"Latency\s+\S+\s+\S+\s+(\S+)", output).group(1)),
        seconds=_milliseconds(done.group(2)) / 1000,
        last_unexpected=int(checked.group(2)),
    )


def wrk(
    url: str,
    *,
    expect: int = 200,
    seconds: int = 10,
    connections: int = 16,
    threads: int = 2,
    headers: dict | None = None,
    script: str = "",
    timeout: int = 2,
) -> WrkResult:
    """wrk against `url`, every answer checked for the status `expect`. `script` is Lua source
    run before the status check; it may define `request` (and read the thread's `id`), but not
    setup, response or done."""
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: install it with `apt-get install wrk`.")
    RESULTS.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", dir=RESULTS) as lua:
        lua.write(script + STATUS_LUA.format(expected=int(expect)))
        lua.flush()
        command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency"]
        command += ["--timeout", f"{timeout}s", "-s", lua.name]
        for name, value in (headers or {}).items():
            command += ["-H", f"{name}: {value}"]
        output = subprocess.run(command + [url], capture_output=True, text=True, check=True).stdout
    return parse_wrk(output)


def count_rows(env: dict, label: str) -> int:
    """Rows of one model (`app.Model`) in the benchmark's database, read in a process of its
    own (bench/count_rows.py), so the figure is what was really stored."""
    output = subprocess.run(
        [PYTHON, "bench/count_rows.py", label],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])[label]


def met(value: float, target: float, higher_is_better: bool = True) -> bool:
    return value >= target if higher_is_better else value <= target


def verdict(value: float, target: float, higher_is_better: bool = True, errors: int = 0) -> str:
    """'met' or 'NOT MET'; a figure measured with errors is never met."""
    if errors:
        return f"NOT MET ({errors:,} error{'' if errors == 1 else 's'})"
    return "met" if met(value, target, higher_is_better) else "NOT MET"


class Scorecard:
    """The targets one script checks. Each check returns the words to print beside its figure;
    `finish()` prints what was missed and returns the exit status (1 on any miss)."""

    def __init__(self) -> None:
        self.checked = 0
        self.missed: list[str] = []

    def target(
        self,
        name: str,
        value: float,
        target: float,
        *,
        higher_is_better: bool = True,
        errors: int = 0,
    ) -> str:
        words = verdict(value, target, higher_is_better, errors)
        self.require(name, words == "met")
        return words

    def require(self, name: str, ok: bool) -> str:
        self.checked += 1
        if not ok:
            self.missed.append(name)
        return "met" if ok else "NOT MET"

    def finish(self) -> int:
        if self.missed:
            print(
                f"\nMISSED {len(self.missed)} of {self.checked} targets: " + "; ".join(self.missed)
            )
            return 1
        print(f"\nAll {self.checked} targets met.")
        return 0
