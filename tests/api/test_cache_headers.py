"""No cache may keep an API answer: every answer of both APIs, whatever status and whatever
made it (a view, DRF's error handler, the site's 404/500/503 handlers), says
`Cache-Control: private, no-store` and varies on the key headers. Other answers keep their own
caching rules."""

import json
from dataclasses import dataclass
from unittest import mock

import pytest
import time_machine
from django.db import OperationalError
from django.test import Client

from tests.factories import at
from tracking import access
from tracking.models import Consignment, TrackingRecord

pytestmark = pytest.mark.django_db


@dataclass
class World:
    client: Client
    our_key: object
    carrier_key: object
    consignment: Consignment
    leg: TrackingRecord
    settings: object

    def v1(self, method, path, body=None, *, key=True, **extra):
        data = "" if body is None else json.dumps(body)
        headers = self.our_key.bearer if key else {}
        return self.client.generic(
            method, path, data=data, content_type="application/json", **headers, **extra
        )

    def sorted(self, method, path, *, key=None, **extra):
        headers = key.subscription if key else {}
        return self.client.generic(method, path, **headers, **extra)


@pytest.fixture
def world(our_key, carrier_key, consignment, leg, settings):
    # A server error must come back as the site's answer, not as an exception in the test.
    return World(
        Client(raise_request_exception=False), our_key, carrier_key, consignment, leg, settings
    )


def _twice(send):
    """The second of two requests: the first used up an allowance of one."""
    with time_machine.travel(at(0.5), tick=False):
        send()
        return send()


def _database_down(send):
    failure = OperationalError("server closed the connection unexpectedly")
    with mock.patch("django.db.backends.utils.CursorWrapper.execute", side_effect=failure):
        return send()


def _crash(door, send):
    """What `send` gets back when the access door `door` raises: a bug, not a refusal."""
    with mock.patch.object(access, door, side_effect=RuntimeError("a bug")):
        return send()


def _v1_429(w):
    w.settings.RATE_LIMIT_API = "1/m"
    return _twice(lambda: w.v1("GET", "/v1/consignments"))


def _sorted_429(w):
    w.settings.RATE_LIMIT_API = "1/m"
    return _twice(lambda: w.sorted("GET", f"/tracking/{w.consignment.reference}", key=w.our_key))


CONSIGNMENT = "/v1/consignments/{c.pk}"
CASES = {
    # /v1: each status its own way of answering.
    "v1 200 list": (200, lambda w: w.v1("GET", "/v1/consignments")),
    "v1 200 rendered body": (200, lambda w: w.v1("GET", f"/v1/consignments/{w.consignment.pk}")),
    "v1 200 HEAD": (200, lambda w: w.v1("HEAD", "/v1/consignments")),
    "v1 304 unchanged PUT": (
        304,
        lambda w: w.v1(
            "PUT",
            f"/v1/consignments/{w.consignment.pk}/tracking/{w.leg.pk}",
            {"trackingNumber": w.leg.tracking_number},
        ),
    ),
    "v1 400": (400, lambda w: w.v1("GET", "/v1/consignments?PageSize=0")),
    "v1 401": (401, lambda w: w.v1("GET", "/v1/consignments", key=False)),
    "v1 403 carrier key": (
        403,
        lambda w: w.client.get("/v1/consignments", **w.carrier_key.bearer),
    ),
    "v1 404": (404, lambda w: w.v1("GET", "/v1/consignments/00000000-0000-0000-0000-000000000000")),
    "v1 404 unknown path": (404, lambda w: w.v1("GET", "/v1/shipments")),
    "v1 404 bare prefix": (404, lambda w: w.v1("GET", "/v1")),
    "v1 405": (405, lambda w: w.v1("PATCH", "/v1/consignments")),
    "v1 413": (
        413,
        lambda w: w.client.post(
            "/v1/consignments",
            b'{"x": "' + b"a" * (3 * 1024 * 1024) + b'"}',
            content_type="application/json",
            **w.our_key.bearer,
        ),
    ),
    "v1 429": (429, _v1_429),
    "v1 500": (
        500,
        lambda w: _crash("consignments_for_key", lambda: w.v1("GET", "/v1/consignments")),
    ),
    "v1 503": (503, lambda w: _database_down(lambda: w.v1("GET", "/v1/consignments"))),
    # /tracking: the reads, the carriers' endpoint, and the site's handlers.
    "sorted 200": (
        200,
        lambda w: w.sorted("GET", f"/tracking/{w.consignment.reference}", key=w.our_key),
    ),
    "sorted 200 flattened": (
        200,
        lambda w: w.sorted("GET", f"/tracking/flattened/{w.consignment.reference}", key=w.our_key),
    ),
    "sorted 200 bearer": (
        200,
        lambda w: w.client.get(f"/tracking/{w.consignment.reference}", **w.our_key.bearer),
    ),
    "sorted 200 carrier events": (
        200,
        lambda w: w.client.post(
            "/tracking/carrierevents",
            json.dumps({"CarrierReference": "CARRIER_X", "ConsignmentTrackingEvents": []}),
            content_type="application/json",
            **w.carrier_key.subscription,
        ),
    ),
    "sorted 400 version": (
        400,
        lambda w: w.sorted(
            "GET",
            f"/tracking/{w.consignment.reference}",
            key=w.our_key,
            HTTP_ELECTIO_API_VERSION="2.0",
        ),
    ),
    "sorted 401": (401, lambda w: w.sorted("GET", f"/tracking/{w.consignment.reference}")),
    "sorted 403 carrier key": (
        403,
        lambda w: w.sorted("GET", f"/tracking/{w.consignment.reference}", key=w.carrier_key),
    ),
    "sorted 404": (404, lambda w: w.sorted("GET", "/tracking/EC-000-000-000", key=w.our_key)),
    "sorted 404 unknown path": (404, lambda w: w.sorted("GET", "/tracking/a/b/c", key=w.our_key)),
    "sorted 405": (
        405,
        lambda w: w.sorted("DELETE", f"/tracking/{w.consignment.reference}", key=w.our_key),
    ),
    "sorted 429": (429, _sorted_429),
    "sorted 500": (
        500,
        lambda w: _crash(
            "timeline_for_key",
            lambda: w.sorted("GET", f"/tracking/{w.consignment.reference}", key=w.our_key),
        ),
    ),
    "sorted 503": (
        503,
        lambda w: _database_down(
            lambda: w.sorted("GET", f"/tracking/{w.consignment.reference}", key=w.our_key)
        ),
    ),
}


def directives(response) -> set[str]:
    return {part.strip().lower() for part in response.get("Cache-Control", "").split(",")} - {""}


def varies_on(response) -> set[str]:
    return {part.strip().lower() for part in response.get("Vary", "").split(",")} - {""}


@pytest.mark.parametrize("case", list(CASES))
def test_no_api_answer_may_be_stored_by_any_cache(world, case):
    status, send = CASES[case]

    response = send(world)

    assert response.status_code == status, response.content[:300]
    assert directives(response) == {"private", "no-store"}
    assert {"authorization", "ocp-apim-subscription-key"} <= varies_on(response)
    # Nothing to revalidate: a validator would invite a cache to keep the body.
    assert "ETag" not in response and "Last-Modified" not in response


def test_pages_and_the_schema_keep_their_own_caching(client, consignment):
    page = client.get(f"/track/{consignment.reference}/")
    schema = client.get("/api/schema/", {"format": "json"})

    # The page revalidates with its ETag; the schema is the same for everyone, holds no private
    # data and is fetched without a key, so caches may keep it.
    assert page.status_code == 200 and "ETag" in page
    assert directives(page) == {"no-cache"}
    assert schema.status_code == 200
    assert "no-store" not in directives(schema)
    assert "ocp-apim-subscription-key" not in varies_on(page) | varies_on(schema)
