"""`make bench`: every performance figure of the README, each next to its target.

    python bench/run_all.py [--quick]

HTTP throughput against a bare Django view and memory per worker, on SQLite and PostgreSQL;
carrier ingestion on both; latency at a million consignments on PostgreSQL (the first run
builds that database, about seven minutes; --quick skips it). Needs wrk (apt-get install wrk)
and a local PostgreSQL (BENCH_POSTGRES, default postgres://postgres@127.0.0.1:5432).
The database fault drill stops PostgreSQL, so it runs only on its own: bench/fault_drill.py.

Every script runs even when one before it misses a target or fails; exits 1 if any did.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def run(script: str, *args: str) -> int:
    """One benchmark script's exit status (1 on a missed target)."""
    print(f"\n$ python bench/{script} {' '.join(args)}".rstrip(), flush=True)
    return subprocess.run([sys.executable, str(HERE / script), *args], cwd=HERE).returncode


def plan(quick: bool) -> list[tuple[str, ...]]:
    scripts = [
        ("http_bench.py",),
        ("http_bench.py", "--postgres"),
        ("ingest_bench.py",),
        ("ingest_bench.py", "--postgres"),
    ]
    return scripts if quick else [*scripts, ("scale_bench.py",)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip the million-row database")
    args = parser.parse_args(argv)
    failed = []
    for command in plan(args.quick):
        if run(*command) != 0:
            failed.append(" ".join(command))
    if failed:
        print("\nFailed or missed a target: " + "; ".join(f"bench/{f}" for f in failed))
        return 1
    print("\nEvery script met its targets.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
