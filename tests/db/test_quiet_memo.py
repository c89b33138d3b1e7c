"""SQLite's memo: exact, because it keeps nothing once the database has changed at all."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from tests.factories import BrandFactory, add_events, make_consignment, make_leg
from tracking.db import changes
from tracking.timeline import Timeline

ROOT = Path(__file__).resolve().parents[2]

# Another connection's commit, the connection's own write, a transaction: each makes get() load.
SCRIPT = """
import json, os, sqlite3
os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
import django
django.setup()
from django.db import connection, transaction
from tracking.db import changes
with connection.cursor() as cursor:
    cursor.execute("CREATE TABLE t (n INTEGER)")
loads = []
def load():
    loads.append(1)
    return ["row"]
memo = changes.memo()
found = {"kind": type(memo).__name__}
memo.get("k", load); memo.get("k", load)
found["unchanged"] = len(loads)
other = sqlite3.connect(connection.settings_dict["NAME"])
other.execute("INSERT INTO t VALUES (1)"); other.commit()
memo.get("k", load); memo.get("k", load)
found["after_another_commit"] = len(loads)
with connection.cursor() as cursor:
    cursor.execute("INSERT INTO t VALUES (2)")
memo.get("k", load)
found["after_own_write"] = len(loads)
with transaction.atomic():
    memo.get("k", load)
found["in_a_transaction"] = len(loads)
print(json.dumps(found))
"""


def test_what_is_remembered_is_forgotten_by_any_write(tmp_path):
    # A file of its own: data_version is what another connection to the same file sees.
    environment = {k: v for k, v in os.environ.items() if k != "TIMELINE_MEMO"}
    environment.update(SECRET_KEY="k", DATABASE_URL=f"sqlite:///{tmp_path / 'q.db'}")
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, env=environment, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        '{"kind": "QuietMemo", "unchanged": 1, "after_another_commit": 2, '
        '"after_own_write": 3, "in_a_transaction": 4}'
    )


@pytest.fixture
def quiet(settings):
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's memo")
    settings.TIMELINE_MEMO = True
    memo = changes.memo()
    yield memo
    memo.stop()


@pytest.mark.django_db(transaction=True)
def test_a_poll_of_an_unchanged_page_reads_no_table_and_a_new_event_shows_at_once(
    quiet, client, django_assert_num_queries
):
    consignment = make_consignment(BrandFactory(slug="quiet"), packages=1)
    leg = make_leg(consignment)
    add_events(leg, (0, "LABEL_PRINTED"))
    page = f"/track/{consignment.reference}/"
    first = client.get(page, HTTP_HX_REQUEST="true")
    assert Timeline.remembered(consignment.reference) is not None
    with django_assert_num_queries(0):  # only the PRAGMA, which is not a query of a table
        again = client.get(page, HTTP_HX_REQUEST="true", HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304
    add_events(leg, (3, "COLLECTED"))
    changed = client.get(page, HTTP_HX_REQUEST="true", HTTP_IF_NONE_MATCH=first["ETag"])
    assert changed.status_code == 200
    assert "Collected" in changed.content.decode()
