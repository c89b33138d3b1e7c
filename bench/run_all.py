"""`make bench`: every performance figure of the README, each next to its target.

    python bench/run_all.py [--quick]

HTTP throughput against a bare Django view and memory per worker, on SQLite and PostgreSQL;
carrier ingestion on both; latency at a million consignments on PostgreSQL (the first run
builds that database, about seven minutes; --quick skips it). Needs wrk (apt-get install wrk)
and a local PostgreSQL (BENCH_POSTGRES, default postgres://postgres@127.0.0.1:5432).
The database fault drill stops PostgreSQL, so it runs only on its own: bench/fault_drill.py.
"""

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def run(script: str, *args: str) -> None:
    print(f"\n$ python bench/{script} {' '.join(args)}".rstrip(), flush=True)
    subprocess.run([sys.executable, str(HERE / script), *args], cwd=HERE, check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip the million-row database")
    args = parser.parse_args()
    run("http_bench.py")
    run("http_bench.py", "--postgres")
    run("ingest_bench.py")
    run("ingest_bench.py", "--postgres")
    if not args.quick:
        run("scale_bench.py")


if __name__ == "__main__":
    main()
