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


@dataclass
class WrkResult:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int  # socket errors plus non-2xx/3xx answers
    max_ms: float = 0.0

    def __str__(self) -> str:
        return (
            f"{self.requests_per_second:8.0f} req/s  p50 {self.p50_ms:6.1f} ms  "
            f"p99 {self.p99_ms:6.1f} ms  errors {self.errors}"
        )


def _milliseconds(value: str) -> float:
    match = re.match(r"([\d.]+)([a-z]+)", value)
    if match is None:
        raise RuntimeError(f"unreadable wrk latency {value!r}")
    number, unit = match.groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def wrk(
    url: str,
    *,
    seconds: int = 10,
    connections: int = 16,
    threads: int = 2,
    headers: dict | None = None,
    script: str | None = None,
    timeout: int = 2,
) -> WrkResult:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: install it with `apt-get install wrk`.")
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency"]
    command += ["--timeout", f"{timeout}s"]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    if script:
        command += ["-s", script]
    output = subprocess.run(command + [url], capture_output=True, text=True, check=True).stdout
    if "Latency Distribution" not in output:
        raise RuntimeError(f"wrk measured nothing at {url}:\n{output}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    p50 = _milliseconds(re.search(r"^\s+50%\s+(\S+)", output, re.MULTILINE).group(1))
    p99 = _milliseconds(re.search(r"^\s+99%\s+(\S+)", output, re.MULTILINE).group(1))
    requests = int(re.search(r"(\d+) requests in", output).group(1))
    errors = 0
    if match := re.search(r"Non-2xx or 3xx responses: (\d+)", output):
        errors += int(match.group(1))
    if match := re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    ):
        errors += sum(int(n) for n in match.groups())
    maximum = re.search(r"Latency\s+\S+\s+\S+\s+(\S+)", output)
    return WrkResult(rps, p50, p99, requests, errors, _milliseconds(maximum.group(1)))


def verdict(value: float, target: float, higher_is_better: bool = True) -> str:
    met = value >= target if higher_is_better else value <= target
    return "met" if met else "NOT MET"
