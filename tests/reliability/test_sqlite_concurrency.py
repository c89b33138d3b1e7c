"""SQLite with eight concurrent writers: no "database is locked", no duplicates, no lost event.

WAL lets readers run beside the writer, BEGIN IMMEDIATE takes the write lock up front so a
transaction never fails on upgrading it, and the busy timeout makes the others wait their turn.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).with_name("sqlite_writers.py")


def test_eight_writers_on_one_sqlite_file(tmp_path):
    env = {
        **os.environ,
        "SECRET_KEY": "test-only",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'writers.sqlite3'}",
    }
    result = subprocess.run(
        [sys.executable, str(SCRIPT)], env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["errors"] == []
    assert summary["batch_rows"] == 300
    assert summary["status_consistent"]
