"""API keys' rate limit with several clients at once: shared by every connection (Redis in
CI's PostgreSQL run, the database otherwise) and never exceeded by more than one request."""

import datetime as dt
import functools
import threading

import pytest
import time_machine
from django.test import Client

from tests.factories import postgres_only
from tests.helpers import run_threads
from tracking.models import RateCounter


@postgres_only
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("counters", ["database", pytest.param("redis", marks=pytest.mark.redis)])
def test_eight_clients_sharing_a_key_get_at_most_one_request_over_the_limit(
    settings, counters, brand, consignment
):
    from tracking import services

    if counters == "database":
        settings.REDIS_URL = ""
    settings.RATE_LIMIT_API = "40/h"
    _key, secret = services.issue_api_key(name="Busy shop", brand=brand)
    answers, barrier = [], threading.Barrier(8, timeout=30)

    def shop_connection(path, headers):
        client = Client()
        barrier.wait()
        for _ in range(10):
            answers.append(client.get(path, **headers))

    consignly = (f"/v1/consignments/{consignment.pk}", {"HTTP_AUTHORIZATION": f"Bearer {secret}"})
    sorted_ = (f"/tracking/{consignment.reference}", {"HTTP_OCP_APIM_SUBSCRIPTION_KEY": secret})
    # Start well inside a window: a fixed window rolling over mid-test would double the quota.
    with time_machine.travel(dt.datetime(2026, 1, 1, 10, 20, tzinfo=dt.UTC), tick=True):
        shops = [consignly if n % 2 else sorted_ for n in range(8)]
        run_threads([functools.partial(shop_connection, *shop) for shop in shops], timeout=120)

    statuses = [answer.status_code for answer in answers]
    assert len(statuses) == 80
    assert set(statuses) == {200, 429}
    # Counted atomically: the allowance, or one more when two requests race at its edge.
    assert statuses.count(200) in {40, 41}
    refused = [a for a in answers if a.status_code == 429]
    # The window ends at 11:00; the clock ticks from 10:20 for the few seconds the test takes.
    assert {int(a["Retry-After"]) for a in refused} <= set(range(2340, 2401))
    envelopes = {("ErrorType" in a.json(), "Code" in a.json()) for a in refused}
    assert envelopes == {(True, False), (False, True)}  # each API's own envelope
    # Counted where the case says: Redis keeps no row, the database one for the key.
    assert RateCounter.objects.count() == (0 if counters == "redis" else 1)
