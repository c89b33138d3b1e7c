"""Timeline heads remembered per process on PostgreSQL, forgotten when a change is announced.

These tests commit their writes (transactional_db): PostgreSQL announces a change only when it
is committed.
"""

import datetime as dt
import threading

import psycopg
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework import exceptions

from tests.factories import (
    BrandFactory,
    CarrierFactory,
    add_events,
    make_consignment,
    make_leg,
    postgres_only,
    rate_limit_queries,
)
from tracking import services
from tracking.api import auth
from tracking.db import changes
from tracking.models import ApiKey, Brand, Consignment
from tracking.timeline import Timeline

pytestmark = [postgres_only, pytest.mark.django_db(transaction=True)]

HTMX = {"HX-Request": "true"}


@pytest.fixture
def memo(settings):
    settings.TIMELINE_MEMO = True
    memo = changes.memo()
    assert memo.caught_up(), "the listener did not connect"
    yield memo
    memo.stop()  # and the next test's changes.memo() starts one of its own


@pytest.fixture
def shipment(db):
    consignment = make_consignment(BrandFactory(slug="harbour"), packages=2)
    leg = make_leg(consignment)
    add_events(leg, (0, "LABEL_PRINTED"), (2, "COLLECTED"))
    return consignment


def remember(memo, reference, django_assert_num_queries):
    """Read a head once everything written so far has been heard, and check it is kept."""
    assert memo.caught_up()
    timeline = Timeline.remembered(reference)
    with django_assert_num_queries(0):
        Timeline.remembered(reference)
    return timeline


def _kill_listener():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = %s AND datname = current_database()",
            [changes.APPLICATION_NAME],
        )


def test_an_unchanged_head_costs_no_query(memo, shipment, django_assert_num_queries):
    assert memo.caught_up()
    with django_assert_num_queries(1):
        first = Timeline.remembered(shipment.reference)
    with django_assert_num_queries(0):
        again = Timeline.remembered(shipment.reference)
    assert again.version == first.version
    assert [p.reference for p in again.packages] == [p.reference for p in first.packages]


def test_a_stored_event_is_heard_and_read_again(memo, shipment, django_assert_num_queries):
    before = remember(memo, shipment.reference, django_assert_num_queries)
    add_events(shipment.legs.get(), (5, "IN_TRANSIT"))
    assert memo.caught_up()
    with django_assert_num_queries(1):
        after = Timeline.remembered(shipment.reference)
    # One write, one revision more (services bump it once per write): the head read again.
    assert after.consignment.revision == before.consignment.revision + 1
    assert after.version == f"{shipment.pk.hex}.{after.consignment.revision}"
    assert after.consignment.revision == Consignment.objects.get(pk=shipment.pk).revision


def test_a_change_from_outside_the_services_is_heard_too(memo, shipment, django_assert_num_queries):
    remember(memo, shipment.reference, django_assert_num_queries)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE tracking_consignment SET destination_town = 'Leeds' WHERE id = %s",
            [shipment.pk],
        )
    assert memo.caught_up()
    assert Timeline.remembered(shipment.reference).consignment.destination_town == "Leeds"


def test_a_brand_change_forgets_everything(memo, shipment, django_assert_num_queries):
    remember(memo, shipment.reference, django_assert_num_queries)
    Brand.objects.filter(pk=shipment.brand_id).update(name="Harbour & Pine Ltd")
    assert memo.caught_up()
    with django_assert_num_queries(1):
        assert Timeline.remembered(shipment.reference).brand.name == "Harbour & Pine Ltd"


def test_a_deleted_consignment_is_forgotten(memo, shipment, django_assert_num_queries):
    remember(memo, shipment.reference, django_assert_num_queries)
    Consignment.objects.filter(pk=shipment.pk).delete()
    assert memo.caught_up()
    assert Timeline.remembered(shipment.reference) is None


def test_nothing_is_remembered_while_the_listener_is_away(
    memo, shipment, django_assert_num_queries
):
    remember(memo, shipment.reference, django_assert_num_queries)
    _kill_listener()
    add_events(shipment.legs.get(), (5, "IN_TRANSIT"))
    # Whether or not the listener heard the change before it went, the database is read.
    with django_assert_num_queries(1):
        fresh = Timeline.remembered(shipment.reference)
    assert "IN_TRANSIT" in {e.code for leg in fresh.legs for e in leg.events}
    # It reconnects on its own, and remembering resumes.
    assert memo.caught_up(timeout=changes.RETRY_AFTER + 5)
    remember(memo, shipment.reference, django_assert_num_queries)


def test_a_change_heard_while_loading_is_not_remembered(memo, shipment):
    assert memo.caught_up()
    loads = []

    def load_while_it_changes():
        loads.append(Timeline.find(reference=shipment.reference))
        if len(loads) == 1:
            add_events(shipment.legs.get(), (5, "IN_TRANSIT"))
            assert memo.caught_up()
        return [("head",)]

    memo.get(shipment.reference, load_while_it_changes)
    memo.get(shipment.reference, load_while_it_changes)
    assert len(loads) == 2  # the first load was not kept: it may predate the change


def test_a_load_begun_before_the_listener_listened_is_not_kept(settings):
    settings.TIMELINE_MEMO = True
    listening_may_start = threading.Event()

    def connect_when_told():
        listening_may_start.wait(5)
        params = connection.get_connection_params()
        params.pop("prepare_threshold", None)
        return psycopg.connect(**params, autocommit=True)  # LISTEN takes effect at once

    memo = changes.Memo(connect_when_told)
    loads = []

    def load():
        loads.append(1)
        if len(loads) == 1:  # a change committed now would not be heard: nobody listens yet
            listening_may_start.set()
            assert memo.caught_up()
        return [("head",)]

    try:
        memo.get("EC-AAA-BBB-CCC", load)
        memo.get("EC-AAA-BBB-CCC", load)
        assert len(loads) == 2
    finally:
        memo.stop()


def test_a_forked_worker_starts_its_own(memo, monkeypatch):
    monkeypatch.setattr(changes.os, "getpid", lambda: memo.pid + 1)
    child = changes.memo()
    try:
        assert child is not memo
        assert child.pid == memo.pid + 1
    finally:
        child.stop()


class TestThePage:
    def test_an_unchanged_poll_costs_no_query(
        self, memo, client, shipment, django_assert_num_queries
    ):
        url = f"/track/{shipment.reference}/"
        assert memo.caught_up()
        etag = client.get(url, headers=HTMX)["ETag"]
        with django_assert_num_queries(0):
            response = client.get(url, headers={**HTMX, "If-None-Match": etag})
        assert response.status_code == 304

    def test_a_poll_after_a_stored_event_shows_it(
        self, memo, client, shipment, django_assert_num_queries
    ):
        url = f"/track/{shipment.reference}/"
        remember(memo, shipment.reference, django_assert_num_queries)
        etag = client.get(url, headers=HTMX)["ETag"]
        add_events(shipment.legs.get(), (5, "IN_TRANSIT", "Sorted at hub"))
        assert memo.caught_up()
        response = client.get(url, headers={**HTMX, "If-None-Match": etag})
        assert response.status_code == 200
        assert "Sorted at hub" in response.content.decode()

    def test_an_unchanged_page_costs_only_its_lookup_count(
        self, memo, client, shipment, django_assert_num_queries
    ):
        url = f"/track/{shipment.reference}/"
        assert memo.caught_up()
        first = client.get(url)
        with django_assert_num_queries(rate_limit_queries()):
            again = client.get(url)
        assert again.status_code == 200
        assert again.content == first.content  # the body rendered once for this version


class TestTheApis:
    """The APIs read the database, never the memo: a client reads its own write back at once,
    from whichever worker answers, even where that worker's memo still holds the old head."""

    def test_a_write_through_v1_is_read_back_at_once_through_both_apis(
        self, memo, client, our_key, shipment, django_assert_num_queries
    ):
        leg = shipment.legs.get()
        reads = {
            "v1": (f"/v1/consignments/{shipment.pk}/tracking/{leg.pk}", our_key.bearer),
            "sorted": (f"/tracking/{shipment.reference}", our_key.subscription),
        }
        remember(memo, shipment.reference, django_assert_num_queries)
        # The memo holds this head, unchanged and caught up, yet each API read loads it.
        for path, key in reads.values():
            assert reads_the_head(client, path, key)

        written = client.post(
            f"/v1/consignments/{shipment.pk}/tracking/{leg.pk}/event",
            {
                "status": 4,
                "details": "Out with the driver",
                "eventDateTime": "2026-03-09T18:00:00Z",
            },
            content_type="application/json",
            **our_key.bearer,
        )
        assert written.status_code == 200, written.content

        # At once, with no wait for the change to be heard.
        record = client.get(reads["v1"][0], **reads["v1"][1]).json()
        assert record["status"] == 4
        assert "Out with the driver" in [event["details"] for event in record["trackingEvents"]]
        tracked = client.get(reads["sorted"][0], **reads["sorted"][1]).json()
        descriptions = [
            event["Description"]
            for package in tracked["TrackedPackages"]
            for leg_ in package["Legs"]
            for event in leg_["Events"]
        ]
        assert descriptions.count("Out with the driver") == 2  # a leg-wide event, both packages


def reads_the_head(client, path: str, key: dict) -> bool:
    """Whether a GET answered 200 having read the consignment's row from the database."""
    with CaptureQueriesContext(connection) as queries:
        assert client.get(path, **key).status_code == 200
    return any('FROM "tracking_consignment"' in query["sql"] for query in queries)


class TestTheKeys:
    """A worker remembers each usable API key it has looked up until a change to it, to a
    brand or to a carrier is heard (migrations 0006, 0008); last_used is still written."""

    def test_a_known_key_costs_no_query(self, memo, our_key, django_assert_num_queries):
        assert memo.caught_up()
        auth.authenticate_secret(our_key.secret)  # looked up, and last_used written
        assert memo.caught_up()
        with django_assert_num_queries(0):
            key = auth.authenticate_secret(our_key.secret)
        assert key.pk == our_key.key.pk and key.brand == our_key.key.brand

    def test_a_key_revoked_outside_the_services_is_refused_once_heard(self, memo, our_key):
        assert memo.caught_up()
        auth.authenticate_secret(our_key.secret)
        ApiKey.objects.filter(pk=our_key.key.pk).update(active=False)
        assert memo.caught_up()
        with pytest.raises(exceptions.AuthenticationFailed):
            auth.authenticate_secret(our_key.secret)

    def test_a_rotated_key_expires_though_remembered(self, memo, our_key, monkeypatch):
        services.rotate_api_key(key=our_key.key)
        assert memo.caught_up()
        key = auth.authenticate_secret(our_key.secret)
        later = key.expires_at + dt.timedelta(seconds=1)
        monkeypatch.setattr(auth.timezone, "now", lambda: later)
        with pytest.raises(exceptions.AuthenticationFailed):
            auth.authenticate_secret(our_key.secret)

    def test_a_brand_or_carrier_change_is_heard(self, memo, our_key, django_assert_num_queries):
        assert memo.caught_up()
        auth.authenticate_secret(our_key.secret)
        for change in (
            lambda: Brand.objects.filter(pk=our_key.key.brand_id).update(name="Harbour & Co"),
            lambda: CarrierFactory(name="Fresh").save(),
        ):
            change()
            assert memo.caught_up()
            with django_assert_num_queries(1):
                auth.authenticate_secret(our_key.secret)
            with django_assert_num_queries(0):
                key = auth.authenticate_secret(our_key.secret)
        assert key.brand.name == "Harbour & Co"

    def test_last_used_is_written_once_a_minute(self, memo, our_key, monkeypatch):
        start = timezone.now()
        for seconds, written in ((0, True), (30, False), (60, False), (61, True)):
            now = start + dt.timedelta(seconds=seconds)
            monkeypatch.setattr(auth.timezone, "now", lambda now=now: now)
            with CaptureQueriesContext(connection) as queries:
                auth.authenticate_secret(our_key.secret)
            updates = [q for q in queries if q["sql"].startswith("UPDATE")]
            assert len(updates) == written, seconds
            assert memo.caught_up()
        our_key.key.refresh_from_db()
        assert our_key.key.last_used == start + dt.timedelta(seconds=61)
