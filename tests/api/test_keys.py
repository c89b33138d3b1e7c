"""API keys over HTTP, on both APIs: a key stops working the moment it expires, and after a
rotation the old key works for the grace period (services.ROTATION_GRACE) and then no more,
while the new one goes on working."""

import datetime as dt

import pytest
import time_machine

from tests.helpers import (
    Credential,
    assert_envelope,
    assert_v1_error,
    carrier_batch,
    post_events,
    tracking_event,
)
from tracking import services
from tracking.models import TrackingEvent

pytestmark = pytest.mark.django_db

# Inside a second on purpose (style habit 12): expiry compares instants, not whole seconds.
MOMENT = dt.datetime(2026, 6, 1, 9, 0, 0, 250_000, tzinfo=dt.UTC)
SECOND = dt.timedelta(seconds=1)
INSTANT = dt.timedelta(microseconds=1)


def answers(client, consignment, credential: Credential) -> tuple[int, int]:
    """The status codes of one read from each API with this key, refusals checked in full."""
    consignly = client.get(f"/v1/consignments/{consignment.pk}", **credential.bearer)
    sorted_ = client.get(f"/tracking/{consignment.reference}", **credential.subscription)
    if consignly.status_code == 401:
        assert assert_v1_error(consignly, 401, "Unauthorized") == ["The API key is not valid."]
        assert consignly["WWW-Authenticate"] == 'Bearer realm="api"'
    if sorted_.status_code == 401:
        assert assert_envelope(sorted_, 401, "Unauthorized")["Message"]
    return consignly.status_code, sorted_.status_code


def issue(brand, expires_at) -> Credential:
    with time_machine.travel(MOMENT, tick=False):
        return Credential(*services.issue_api_key(name="Shop", brand=brand, expires_at=expires_at))


class TestExpiry:
    def test_a_key_works_until_it_expires_and_is_refused_by_both_apis_from_then(
        self, client, brand, consignment
    ):
        expires_at = MOMENT + dt.timedelta(days=30)
        key = issue(brand, expires_at)

        for moment, expected in [
            (MOMENT, (200, 200)),
            (expires_at - INSTANT, (200, 200)),
            (expires_at, (401, 401)),
            (expires_at + dt.timedelta(days=365), (401, 401)),
        ]:
            with time_machine.travel(moment, tick=False):
                assert answers(client, consignment, key) == expected, moment

    def test_a_key_without_an_expiry_keeps_working(self, client, brand, consignment):
        key = issue(brand, None)
        with time_machine.travel(MOMENT + dt.timedelta(days=3650), tick=False):
            assert answers(client, consignment, key) == (200, 200)

    def test_an_expired_carrier_key_may_not_post_events(self, client, carrier, leg, package):
        with time_machine.travel(MOMENT, tick=False):
            key = Credential(
                *services.issue_api_key(
                    name="Feed", carrier=carrier, expires_at=MOMENT + dt.timedelta(hours=1)
                )
            )
        body = carrier_batch(leg, package, [tracking_event(1)])

        with time_machine.travel(MOMENT + dt.timedelta(hours=1), tick=False):
            assert_envelope(post_events(client, body, key), 401, "Unauthorized")
        assert not TrackingEvent.objects.exists()
        with time_machine.travel(MOMENT + dt.timedelta(hours=1) - INSTANT, tick=False):
            assert post_events(client, body, key).status_code == 200
        assert TrackingEvent.objects.count() == 1


@pytest.fixture
def package(consignment):
    return consignment.packages.order_by("sequence").first()


class TestRotation:
    def test_the_old_key_works_through_the_grace_period_and_is_refused_after_it(
        self, client, brand, consignment, our_key
    ):
        with time_machine.travel(MOMENT, tick=False):
            new_key = Credential(*services.rotate_api_key(key=our_key.key))

        for moment, old, new in [
            (MOMENT, (200, 200), (200, 200)),
            (MOMENT + dt.timedelta(hours=23), (200, 200), (200, 200)),
            (MOMENT + services.ROTATION_GRACE - INSTANT, (200, 200), (200, 200)),
            (MOMENT + services.ROTATION_GRACE, (401, 401), (200, 200)),
            (MOMENT + dt.timedelta(hours=25), (401, 401), (200, 200)),
            (MOMENT + dt.timedelta(days=400), (401, 401), (200, 200)),
        ]:
            with time_machine.travel(moment, tick=False):
                assert answers(client, consignment, our_key) == old, moment
                assert answers(client, consignment, new_key) == new, moment

    def test_a_rotated_carrier_key_may_not_post_after_the_grace_period(
        self, client, carrier_key, leg, package
    ):
        with time_machine.travel(MOMENT, tick=False):
            new_key = Credential(*services.rotate_api_key(key=carrier_key.key))
        body = carrier_batch(leg, package, [tracking_event(1)])

        with time_machine.travel(MOMENT + dt.timedelta(hours=25), tick=False):
            assert_envelope(post_events(client, body, carrier_key), 401, "Unauthorized")
            assert not TrackingEvent.objects.exists()
            assert post_events(client, body, new_key).status_code == 200
        assert TrackingEvent.objects.count() == 1

    def test_a_key_expiring_within_the_grace_period_keeps_its_expiry_and_so_does_its_successor(
        self, client, brand, consignment
    ):
        expires_at = MOMENT + dt.timedelta(hours=2)
        old_key = issue(brand, expires_at)
        with time_machine.travel(MOMENT + SECOND, tick=False):
            new_key = Credential(*services.rotate_api_key(key=old_key.key))

        with time_machine.travel(expires_at - INSTANT, tick=False):
            assert answers(client, consignment, old_key) == (200, 200)
            assert answers(client, consignment, new_key) == (200, 200)
        # Rotation changes the secret, not how long the holder may use the API.
        with time_machine.travel(expires_at, tick=False):
            assert answers(client, consignment, old_key) == (401, 401)
            assert answers(client, consignment, new_key) == (401, 401)
