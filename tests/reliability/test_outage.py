"""A database outage is answered 503 with Retry-After, never 500, and in each API's envelope."""

from unittest import mock

import pytest
from django.db import OperationalError
from django.test import Client


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
