"""/healthz answers 200 when the database does and 503 when it does not."""

from unittest import mock

import pytest
from django.db import OperationalError


@pytest.mark.django_db
def test_it_is_healthy_when_the_database_answers(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "worker": "ok"}
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.django_db
def test_it_reports_an_unreachable_database(client):
    with mock.patch("django.db.backends.utils.CursorWrapper.execute", side_effect=OperationalError):
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["database"] == "unreachable"


@pytest.mark.django_db
def test_it_only_answers_reads(client):
    assert client.post("/healthz").status_code == 405
