"""Rate limits shared across processes: Redis when configured, else the database."""

import contextlib
import datetime as dt
import threading

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import postgres_only
from tests.helpers import run_threads
from tracking import ratelimit
from tracking.models import RateCounter

pytestmark = pytest.mark.django_db


@pytest.fixture(params=["database", pytest.param("redis", marks=pytest.mark.redis)])
def backend(request, settings):
    if request.param == "database":
        settings.REDIS_URL = ""
    yield request.param
    # Each case counted where it says it did: Redis keeps no row.
    assert RateCounter.objects.exists() == (request.param == "database")


def test_requests_within_the_limit_are_allowed_and_the_next_is_refused(backend):
    with time_machine.travel(1_800_000_000, tick=False):
        decisions = [ratelimit.hit("test", "client-1", "3/m") for _ in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert decisions[-1].retry_after == 60


def test_clients_and_windows_are_counted_separately(backend):
    with time_machine.travel(1_800_000_000, tick=False):
        for _ in range(3):
            ratelimit.hit("test", "a", "3/m")
        assert not ratelimit.hit("test", "a", "3/m").allowed
        assert ratelimit.hit("test", "b", "3/m").allowed
    with time_machine.travel(1_800_000_061, tick=False):
        assert ratelimit.hit("test", "a", "3/m").allowed


def test_peek_counts_nothing(backend):
    with time_machine.travel(1_800_000_000, tick=False):
        assert ratelimit.peek("test", "a", "2/h").allowed
        ratelimit.hit("test", "a", "2/h")
        ratelimit.hit("test", "a", "2/h")
        assert not ratelimit.peek("test", "a", "2/h").allowed
        assert ratelimit.peek("test", "a", "2/h").count == 2


def test_the_database_counter_keeps_no_client_address(settings):
    settings.REDIS_URL = ""
    ratelimit.hit("postcode", "203.0.113.9", "5/h")
    assert "203.0.113.9" not in RateCounter.objects.get().key


def test_the_client_address_behind_the_proxy_is_the_one_it_appended(rf, settings):
    settings.HTTPS = True
    request = rf.get("/", HTTP_X_FORWARDED_FOR="6.6.6.6, 198.51.100.7", REMOTE_ADDR="10.0.0.1")
    assert ratelimit.client_address(request) == "198.51.100.7"
    settings.HTTPS = False
    assert ratelimit.client_address(request) == "10.0.0.1"


@postgres_only
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("use_redis", [False, pytest.param(True, marks=pytest.mark.redis)])
def test_concurrent_clients_exceed_the_limit_by_at_most_one(settings, use_redis):
    if not use_redis:
        settings.REDIS_URL = ""
    allowed = []
    barrier = threading.Barrier(8, timeout=30)

    def client():
        barrier.wait()
        for _ in range(10):
            allowed.append(ratelimit.hit("burst", "same-client", "20/h").allowed)

    # Start well inside a window: a fixed window rolling over mid-test would double the quota.
    with time_machine.travel(dt.datetime(2026, 1, 1, 10, 20, tzinfo=dt.UTC), tick=True):
        run_threads([client] * 8, timeout=60)
    assert len(allowed) == 80
    # Fixed windows counted atomically: the limit, or one more when two hits race at its edge.
    assert sum(allowed) in {20, 21}
    # Counted where the case says: Redis keeps no row, the database one per client.
    assert RateCounter.objects.count() == (0 if use_redis else 1)


def test_a_client_keeps_one_database_row_across_windows(settings):
    settings.REDIS_URL = ""
    for moment in (1_800_000_000, 1_800_000_061, 1_800_000_122):
        with time_machine.travel(moment, tick=False):
            assert ratelimit.hit("test", "a", "1/m").allowed
            assert not ratelimit.hit("test", "a", "1/m").allowed
    assert RateCounter.objects.count() == 1


def test_old_counters_are_swept_on_request(settings):
    from django.core.management import call_command

    settings.REDIS_URL = ""
    with time_machine.travel(1_800_000_000, tick=False):
        ratelimit.hit("test", "gone", "5/m")
    with time_machine.travel(1_800_000_000 + 2 * 86400, tick=False):
        ratelimit.hit("test", "here", "5/m")
        call_command("sweepratelimits", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert RateCounter.objects.count() == 1


# -- Reserved shares of a large allowance --------------------------------------------------------


@contextlib.contextmanager
def worker(leases: dict):
    """Hits made inside count as one gunicorn worker's: its own unspent reservations."""
    saved = ratelimit._leases
    ratelimit._leases = leases
    try:
        yield
    finally:
        ratelimit._leases = saved


def test_limits_under_two_thousand_are_counted_one_hit_at_a_time(backend):
    assert ratelimit.Rate.parse("1999/m").lease == 1
    with time_machine.travel(1_800_000_000, tick=False):
        decisions = [ratelimit.hit("test", "a", "1999/m") for _ in range(5)]
    assert [d.count for d in decisions] == [1, 2, 3, 4, 5]
    assert not ratelimit._leases


def test_a_large_allowance_costs_one_statement_per_reserved_share(settings):
    settings.REDIS_URL = ""
    assert ratelimit.Rate.parse("100000/m").lease == 100
    with time_machine.travel(1_800_000_000, tick=False), CaptureQueriesContext(connection) as q:
        assert all(ratelimit.hit("test", "a", "100000/m").allowed for _ in range(250))
    assert len(q.captured_queries) == 3
    assert RateCounter.objects.get().count == 300  # reserved, whether spent or not


def test_reserved_shares_never_let_a_client_past_its_limit(backend):
    # Four workers, each reserving 2 of 2,500 at a time, taking turns until every one refuses.
    workers = [{} for _ in range(4)]
    allowed = 0
    with time_machine.travel(1_800_000_000, tick=False):
        while True:
            turn = []
            for leases in workers:
                with worker(leases):
                    turn.append(ratelimit.hit("test", "a", "2500/m").allowed)
            allowed += sum(turn)
            if not any(turn):
                break
    # Never more than the limit; short of it by at most one unspent share per other worker.
    assert 2500 - 3 <= allowed <= 2500


def test_a_share_reserved_in_one_window_is_not_spent_in_the_next(settings):
    settings.REDIS_URL = ""
    with time_machine.travel(1_800_000_000, tick=False):
        ratelimit.hit("test", "a", "5000/m")  # reserves 5: this hit and 4 more
    with time_machine.travel(1_800_000_061, tick=False), CaptureQueriesContext(connection) as q:
        assert ratelimit.hit("test", "a", "5000/m").count == 5
    assert len(q.captured_queries) == 1
