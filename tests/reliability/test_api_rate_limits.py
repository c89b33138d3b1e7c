"""API keys' rate limit with several clients at once: shared by every connection (Redis in
CI's PostgreSQL run, the database otherwise) and never exceeded by more than one request."""

import datetime as dt
import threading

import pytest
import time_machine
from django.db import connection
from django.test import Client

from tests.factories import postgres_only


@postgres_only
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("counters", ["database", "redis"])
def test_eight_clients_sharing_a_key_get_at_most_one_request_over_the_limit(
    settings, counters, brand, consignment
):
    from tracking import services

    if counters == "database":
        settings.REDIS_URL = ""
    elif not settings.REDIS_URL:
        pytest.skip("needs REDIS_URL")
    settings.RATE_LIMIT_API = "40/h"
    # Start well inside a window: a fixed window rolling over mid-test would double the quota.
    traveller = time_machine.travel(dt.datetime(2026, 1, 1, 10, 20, tzinfo=dt.UTC), tick=True)
    traveller.start()
    _key, secret = services.issue_api_key(name="Busy shop", brand=brand)
    answers, barrier = [], threading.Barrier(8)

    def shop_connection(path, headers):
        client = Client()
        barrier.wait()
        for _ in range(10):
            answers.append(client.get(path, **headers))
        connection.close()

    threads = [
        threading.Thread(
            target=shop_connection,
            args=(
                (f"/v1/consignments/{consignment.pk}", {"HTTP_AUTHORIZATION": f"Bearer {secret}"})
                if n % 2
                else (
                    f"/tracking/{consignment.reference}",
                    {"HTTP_OCP_APIM_SUBSCRIPTION_KEY": secret},
                )
            ),
        )
        for n in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    traveller.stop()
    statuses = [answer.status_code for answer in answers]
    assert set(statuses) <= {200, 429}
    assert 40 <= statuses.count(200) <= 41
    refused = [a for a in answers if a.status_code == 429]
    assert all(int(a["Retry-After"]) > 0 for a in refused)
    envelopes = {("ErrorType" in a.json(), "Code" in a.json()) for a in refused}
    assert envelopes == {(True, False), (False, True)}  # each API's own envelope
