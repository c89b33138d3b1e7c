"""Helpers shared by test modules, so that no test module imports another (or a conftest):
whether this is a CI run, the personas' credentials, measuring what a call costs without a
clock, running work in threads whose failures fail the test, reading the customer pages and
the shipments they show, and speaking each wire API (Consignly's /v1, Sorted's /tracking).

Everything here reaches the product through its front doors: the test client, the services.
"""

import datetime as dt
import json
import os
import re
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from html import unescape

from django.utils import timezone

from tests.factories import CarrierFactory, at, make_consignment, make_leg
from tracking import services
from tracking.models import ApiKey, EventSource

IN_CI = os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


@dataclass
class Credential:
    """An API key and the secret shown once when it was issued (tests/conftest.py's personas)."""

    key: ApiKey
    secret: str

    @property
    def bearer(self) -> dict:
        return {"HTTP_AUTHORIZATION": f"Bearer {self.secret}"}

    @property
    def subscription(self) -> dict:
        return {"HTTP_OCP_APIM_SUBSCRIPTION_KEY": self.secret}


def warm(credential: Credential) -> None:
    """Mark the key used just now, so a pinned query count has no last_used write in it."""
    ApiKey.objects.filter(pk=credential.key.pk).update(last_used=timezone.now())


# -- Measuring without a clock; threads --------------------------------------------------------


def count_operations(call: Callable[[], object]) -> int:
    """Python bytecode operations executed by `call()`, on this thread.

    A deterministic stand-in for time: work that grows with the square of an input shows as
    a ratio between two sizes far above theirs, whatever else the machine is doing. (Work done
    in C, such as SQLite running a statement, is not counted.)"""
    count = 0

    def trace(frame, event, _arg):
        nonlocal count
        frame.f_trace_opcodes = True
        if event == "opcode":
            count += 1
        return trace

    previous = sys.gettrace()
    sys.settrace(trace)
    try:
        call()
    finally:
        sys.settrace(previous)
    return count


def run_threads(targets: Iterable[Callable[[], object]], *, timeout: float = 60) -> None:
    """Run each target in its own thread and wait for them all, `timeout` seconds in all.

    Re-raises the first exception a thread raised (an exception left in a thread only prints
    a warning) and fails if any thread is still running at the end (a join with a timeout
    returns either way). Each thread closes its database connection when done, as a thread
    Django did not start must."""
    from django.db import connection

    errors: list[BaseException] = []

    def run(target):
        try:
            target()
        except BaseException as error:  # re-raised below, in the test's own thread
            errors.append(error)
        finally:
            connection.close()

    # Daemons: one stuck for good fails its test instead of keeping the run from exiting.
    threads = [threading.Thread(target=run, args=(target,), daemon=True) for target in targets]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    running = sum(thread.is_alive() for thread in threads)
    if errors:
        first = errors[0]
        if len(errors) > 1:
            first.add_note(f"{len(errors) - 1} more thread(s) raised too: {errors[1:]!r}")
        if running:
            first.add_note(f"{running} thread(s) still running after {timeout} s")
        raise first
    assert not running, f"{running} of {len(threads)} threads still running after {timeout} s"


# -- The customer pages ---------------------------------------------------------------------------

# A Tuesday morning in March: the pages' demo events happen on Monday 9 March 2026. Inside a
# second, like tests.factories.at(): a clock frozen on whole seconds hides truncation bugs.
NOW = dt.datetime(2026, 3, 10, 9, 30, 0, 654_321, tzinfo=dt.UTC)
POSTCODE = "BS1 4DJ"  # the pages' shipment's destination (tests/pages/conftest.py)


def text_of(response) -> str:
    """The page's visible text, roughly: tags dropped, entities decoded, spaces collapsed."""
    html = response.content.decode()
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html))).strip()


def form_token(response) -> str:
    match = re.search(r'name="token" value="([^"]+)"', response.content.decode())
    assert match, "the page has no form token"
    return match.group(1)


def record_event(leg, hours, code, description="", *, location="", signed_by="", package=None):
    """One carrier event on `leg`, at(hours), through the service."""
    services.record_event(
        leg=leg,
        source=EventSource.SORTED,
        code=code,
        description=description,
        location=location,
        signed_by=signed_by,
        occurred_at=at(hours),
        package=package,
    )


def sized_consignment(brand, *, packages: int, legs: int, events: int, reference: str):
    """A consignment of a given size, for pinning query counts."""
    consignment = make_consignment(brand, packages=packages, reference=reference)
    per_leg = events // legs
    for n in range(legs):
        leg = make_leg(
            consignment,
            carrier=CarrierFactory(),
            tracking_number=f"T{reference[-3:]}{n}",
            tracking_url="https://carrier.example/t",
        )
        services.record_events(
            events=[
                services.EventSpec(
                    leg=leg,
                    occurred_at=at(n * 100 + i * 0.5 - 200),
                    code="IN_TRANSIT",
                    description=f"Scan {n}.{i}",
                    location="Depot",
                )
                for i in range(per_leg)
            ],
            source=EventSource.SORTED,
        )
    consignment.refresh_from_db()
    return consignment


# -- Consignly's /v1 ------------------------------------------------------------------------------


def assert_v1_error(response, status: int, error_type: str) -> list[str]:
    """The /v1 error body; returns its messages."""
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"ErrorType", "ErrorMessages"}
    assert body["ErrorType"] == error_type
    assert body["ErrorMessages"] and all(isinstance(m, str) for m in body["ErrorMessages"])
    return body["ErrorMessages"]


# -- Sorted's /tracking ---------------------------------------------------------------------------


def tracking_event(
    hours: float = 0, code: str = "IN_TRANSIT", description: str = "Scanned", **extra
) -> dict:
    """One of a batch's TrackingEvents, at(hours), as a carrier posts it."""
    return {"TimeStamp": at(hours).isoformat(), "Code": code, "Description": description, **extra}


def carrier_batch(leg, package, events, *, carrier_reference=None) -> dict:
    """One leg, one package, these events: the shape a carrier posts."""
    return {
        "CarrierReference": carrier_reference or leg.carrier.code,
        "ConsignmentTrackingEvents": [
            {
                "ConsignmentTrackingReference": leg.tracking_number,
                "PackageTrackingEvents": [
                    {"PackageReference": package.reference, "TrackingEvents": events}
                ],
            }
        ],
    }


def post_events(client, body, credential=None, *, path="/tracking/carrierevents", **headers):
    """POST a carrier batch (JSON-encoded unless already text) with the credential's
    subscription key."""
    raw = body if isinstance(body, (str, bytes)) else json.dumps(body)
    auth = credential.subscription if credential else {}
    return client.post(path, raw, content_type="application/json", **auth, **headers)


def assert_envelope(response, status: int, code: str) -> dict:
    """The Sorted error envelope, its CorrelationId repeated in the X-Correlation-ID header."""
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"Code", "Message", "CorrelationId", "Details"}
    assert body["Code"] == code
    assert body["Message"]
    assert str(uuid.UUID(body["CorrelationId"])) == body["CorrelationId"]
    assert response["X-Correlation-ID"] == body["CorrelationId"]
    for detail in body["Details"]:
        assert set(detail) == {"Code", "Target", "Message"}
    return body


def envelope_details(response) -> list[tuple[str, str]]:
    """The (Code, Target) of each of the Sorted error envelope's Details."""
    return [(d["Code"], d["Target"]) for d in response.json()["Details"]]
