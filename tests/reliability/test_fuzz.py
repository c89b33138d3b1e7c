"""Both wire APIs fuzzed from their own OpenAPI schema with Schemathesis.

Every operation of /api/schema/ gets at least 100 generated requests (valid and invalid ones)
with a valid key of the kind it needs; half of them carry real identifiers so that the deeper
code runs too, not only the 404s. No answer may be a server error, and every answer must match
the status codes, media types, headers and bodies the schema documents.

The run is seeded: FUZZ_SEED=<n> replays one. Under CI=true each run draws a new seed, so the
fuzzing explores further over time; elsewhere the seed is fixed and runs repeat. The seed is
printed at the start and named in every failure.
"""

import hashlib
import os
import random
from collections import Counter

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import override_settings
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from config.wsgi import application
from tests.factories import add_events, make_consignment, make_leg
from tests.helpers import IN_CI
from tracking import services

schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)
FUZZ_SEED = int(
    os.environ.get("FUZZ_SEED") or (random.SystemRandom().randrange(2**32) if IN_CI else 0)
)
schema.config.seed = FUZZ_SEED  # Schemathesis derives each operation's seed from it
# Every operation the document describes, read from the document itself: the coverage check
# must not see only the operations something generated cases for.
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
DOCUMENTED = {
    operation["operationId"]
    for path in schema.raw_schema["paths"].values()
    for method, operation in path.items()
    if method in HTTP_METHODS
}

# Invalid requests are generated too and must get documented answers, but Schemathesis's
# negative_data_rejection is not asserted: it counts unknown query parameters as invalid, which
# both APIs ignore on purpose (as the services they mirror do), and it cannot know that this
# test adds a valid key to every request. The APIs' own bad-input tables cover rejection.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture
def in_process_requests():
    """Requests made straight to the WSGI app must not close the test's connection at their
    end (Django's own test client disconnects the same handlers)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def world(db, brand, carrier, settings, in_process_requests):
    """A brand with a shipment on a carrier's leg, a webhook subscription, and a key of each
    kind."""
    settings.RATE_LIMIT_API = "1000000/m"  # the fuzzer, not the throttle, is under test here
    consignment = make_consignment(brand, packages=2, reference="EC-FUZ-000-001")
    leg = make_leg(consignment, carrier=carrier, tracking_number="FUZZ0001")
    add_events(leg, (1, "COLLECTED_BY_CARRIER"), (2, "IN_TRANSIT"))
    # Allowed for this one only: the fuzzed creates meet the rule as configured.
    with override_settings(WEBHOOK_ALLOW_PRIVATE=True):
        subscription, _secret = services.create_subscription(
            brand=brand, url="http://127.0.0.1:9/hook"
        )
    _client, client_secret = services.issue_api_key(name="Fuzz shop", brand=brand)
    _carrier, carrier_secret = services.issue_api_key(name="Fuzz carrier", carrier=carrier)
    return {
        "consignment": consignment,
        "leg": leg,
        "package": consignment.packages.order_by("sequence").first(),
        "subscription": subscription,
        "client": client_secret,
        "carrier": carrier_secret,
        "carrier_code": carrier.code,
    }


def planted(case) -> bool:
    """Whether this example gets real identifiers: half of the valid ones (an invalid one must
    stay invalid), decided by the example itself so that Hypothesis can replay and shrink it."""
    meta = getattr(case, "_meta", None)
    if meta is not None and meta.generation.mode.is_negative:
        return False
    return hashlib.sha256(repr((case.path_parameters, case.body)).encode()).digest()[0] % 2 == 0


def plant(case, world) -> None:
    real = {
        "consignmentId": str(world["consignment"].pk),
        "consignmentTrackingId": str(world["leg"].pk),
        "consignmentReference": world["consignment"].reference,
        "webhookSubscriptionId": str(world["subscription"].pk),
    }
    for name in case.path_parameters or {}:
        if name in real:
            case.path_parameters[name] = real[name]
    body = case.body
    if isinstance(body, dict) and "webhookUrl" in body:
        # A public address literal: one the create accepts without a name to resolve.
        body["webhookUrl"] = "https://93.184.215.14/hooks/fuzz"
    if isinstance(body, dict) and "ConsignmentTrackingEvents" in body:
        body["CarrierReference"] = world["carrier_code"]
        for item in body.get("ConsignmentTrackingEvents") or []:
            if isinstance(item, dict):
                item["ConsignmentTrackingReference"] = world["leg"].tracking_number
                for package in item.get("PackageTrackingEvents") or []:
                    if isinstance(package, dict):
                        package["PackageReference"] = world["package"].reference


def credentials(case, world) -> dict:
    if case.path.startswith("/tracking/carrier"):
        return {"ocp-apim-subscription-key": world["carrier"]}
    if case.path.startswith("/tracking/"):
        return {"ocp-apim-subscription-key": world["client"]}
    return {"Authorization": f"Bearer {world['client']}"}


CASES_PER_OPERATION = 100
cases_run: Counter = Counter()


@pytest.fixture(scope="module", autouse=True)
def every_documented_operation_was_fuzzed_enough(pytestconfig):
    reporter = pytestconfig.pluginmanager.get_plugin("terminalreporter")
    capture = pytestconfig.pluginmanager.get_plugin("capturemanager")
    if reporter is not None and capture is not None:
        with capture.global_and_fixture_disabled():  # in the run's output, not a test's
            reporter.write_line(f"fuzz seed: {FUZZ_SEED} (replay with FUZZ_SEED={FUZZ_SEED})")
    yield
    narrowed = any(pytestconfig.getoption(name) for name in ("keyword", "markexpr", "deselect"))
    expected = set(cases_run) if narrowed else DOCUMENTED
    counts = {operation: cases_run[operation] for operation in sorted(expected)}
    starved = {operation: n for operation, n in counts.items() if n < CASES_PER_OPERATION}
    assert not starved, (
        f"operations of /api/schema/ fuzzed with fewer than {CASES_PER_OPERATION} cases "
        f"(FUZZ_SEED={FUZZ_SEED}): {starved}"
    )


@schema.parametrize()
@settings(
    max_examples=CASES_PER_OPERATION,
    deadline=None,
    database=None,  # the seed alone decides a run, so FUZZ_SEED replays it
    suppress_health_check=list(HealthCheck),
)
def test_no_input_breaks_the_apis_or_their_schema(case, world):
    if case.method.upper() == case.operation.method.upper():  # not a wrong-method probe
        cases_run[case.operation.definition.raw["operationId"]] += 1
    if planted(case):
        plant(case, world)
    try:
        case.call_and_validate(headers=credentials(case, world), checks=CHECKS)
    except BaseException as failure:
        failure.add_note(f"Replay this run with FUZZ_SEED={FUZZ_SEED}.")
        raise
