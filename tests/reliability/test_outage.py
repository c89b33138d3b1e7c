"""A database outage is answered 503 with Retry-After, never 500, and in each API's envelope."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from unittest import mock

import pytest
from django.db import OperationalError, connection
from django.test import Client

from tests.factories import postgres_only
from tests.reliability.outage_drill import answers, endpoints, wsgi_get

DRILL = Path(__file__).with_name("outage_drill.py")


@pytest.fixture
def database_down(our_key, consignment):
    """Every statement fails, as when the server has gone away mid-request."""
    failure = OperationalError("server closed the connection unexpectedly")
    with mock.patch("django.db.backends.utils.CursorWrapper.execute", side_effect=failure):
        yield


@pytest.fixture
def client_keeping_errors():
    return Client(raise_request_exception=False)


@pytest.mark.django_db
def test_the_consignly_api_answers_503_in_its_envelope(
    database_down, client_keeping_errors, our_key, consignment
):
    response = client_keeping_errors.get(f"/v1/consignments/{consignment.pk}", **our_key.bearer)
    assert response.status_code == 503
    assert response.json()["ErrorType"] == "Service Unavailable"
    assert response["Retry-After"] == "5"


@pytest.mark.django_db
def test_the_sorted_api_answers_503_in_its_envelope(
    database_down, client_keeping_errors, our_key, consignment
):
    response = client_keeping_errors.get(
        f"/tracking/{consignment.reference}", **our_key.subscription
    )
    assert response.status_code == 503
    assert response.json()["Code"] == "ServiceUnavailable"
    assert response["Retry-After"] == "5"


@pytest.mark.django_db
def test_pages_answer_503(database_down, client_keeping_errors, consignment):
    response = client_keeping_errors.get(f"/track/{consignment.reference}/")
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response["Content-Type"] == "text/html; charset=utf-8"
    # The site's own 503 page, rendered without the database (not the bare fallback).
    page = response.content.decode()
    assert page.startswith("<!doctype html>")
    assert "The tracking service is briefly unavailable. Please try again in a few seconds." in page


# -- Real outages --------------------------------------------------------------------------------
#
# The tests above make every statement fail by patching; these take the database away for real
# and bring it back, in a process that is never restarted, and send requests as a WSGI server
# does (outage_drill.wsgi_get).

SERVED = dict.fromkeys(["page", "consignly", "sorted", "healthz"], [200, None])
UNAVAILABLE = {**dict.fromkeys(["page", "consignly", "sorted"], [503, "5"]), "healthz": [503, None]}


def test_on_sqlite_a_database_file_out_of_reach_is_answered_503_until_it_is_back(tmp_path):
    folder = tmp_path / "db"
    folder.mkdir()
    env = {
        **os.environ,
        "SECRET_KEY": "test-only",
        "DATABASE_URL": f"sqlite:///{folder / 'portal.sqlite3'}",
        "DRILL_FOLDER": str(folder),
    }
    env.pop("REDIS_URL", None)  # the rate counters in the database too
    result = subprocess.run(
        [sys.executable, str(DRILL)], env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found["before"] == SERVED
    assert found["away"] == found["away, again"] == UNAVAILABLE
    # The first request once the file is back is served, by the same process.
    assert found["back"] == SERVED


def _terminate(backend_pid: int) -> None:
    """End a backend from a connection of its own, as a server restart ends every one."""
    other = connection.get_new_connection(connection.get_connection_params())
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [backend_pid])
            assert cursor.fetchone() == (True,)
    finally:
        other.close()


@postgres_only
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("endpoint", list(SERVED))
def test_on_postgresql_a_connection_the_server_dropped_costs_one_503_then_its_worker_reconnects(
    our_key, consignment, endpoint
):
    path, headers = endpoints(consignment, our_key.secret)[endpoint]
    assert wsgi_get(path, **headers) == SERVED[endpoint]
    kept = connection.connection  # persistent (CONN_MAX_AGE) and not health-checked
    assert kept is not None
    _terminate(kept.info.backend_pid)

    # The request that finds the connection broken fails, and request_finished drops it.
    assert wsgi_get(path, **headers) == UNAVAILABLE[endpoint]
    assert connection.connection is None
    assert wsgi_get(path, **headers) == SERVED[endpoint]


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # free once the probe is closed: nothing listens there


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_on_postgresql_a_server_out_of_reach_is_answered_503_and_the_first_request_after_is_served(
    our_key, consignment
):
    database = connection.settings_dict
    where = database["HOST"], database["PORT"]
    connection.close()
    database["HOST"], database["PORT"] = "127.0.0.1", _closed_port()
    try:
        away = answers(consignment, our_key.secret)
    finally:
        database["HOST"], database["PORT"] = where
    assert away == UNAVAILABLE
    assert answers(consignment, our_key.secret) == SERVED
