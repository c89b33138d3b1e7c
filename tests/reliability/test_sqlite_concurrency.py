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
    assert result.returncode == 0, result.stderr  # a writer's exception ends the script
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["journal_mode"] == "wal"
    # The same batch eight times: one writer stored it, the others found it there.
    assert summary["batch_stored"] == [0] * 7 + [300]
    assert summary["batch_rows"] == 300
    # Eight writers' 13 distinct events each, between status changes: every one stored.
    assert summary["mixed_stored"] == summary["mixed_rows"] == 8 * 13
    assert summary["status_consistent"] is True
