"""Concurrent writers on one consignment, with real threads and real connections."""

import threading

import pytest
from django.db import close_old_connections, connection

from tests.factories import (
    BrandFactory,
    CarrierFactory,
    at,
    make_consignment,
    make_leg,
    postgres_only,
)
from tracking import services
from tracking.models import Consignment, EventSource, TrackingEvent
from tracking.services import EventSpec
from tracking.status import Status


def run_in_threads(count: int, work) -> list[BaseException]:
    """Start `count` threads at the same moment; return what they raised."""
    barrier = threading.Barrier(count)
    errors: list[BaseException] = []

    def worker(n):
        try:
            barrier.wait()
            work(n)
        except BaseException as error:  # collected and asserted on by the test
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    close_old_connections()
    return errors


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_the_same_batch_from_eight_connections_is_stored_once():
    consignment = make_consignment(BrandFactory(), packages=2)
    leg = make_leg(consignment, carrier=CarrierFactory())
    package = consignment.packages.first()

    def post_batch(_n):
        specs = [
            EventSpec(
                leg=leg,
                occurred_at=at(i / 60),
                code="IN_TRANSIT",
                description=f"scan {i}",
                package=package if i % 2 else None,
            )
            for i in range(300)
        ]
        services.record_events(events=specs, source=EventSource.SORTED)

    assert run_in_threads(8, post_batch) == []
    assert TrackingEvent.objects.count() == 300


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_concurrent_status_changes_and_events_leave_a_consistent_status():
    consignment = make_consignment(BrandFactory(), packages=1)
    leg = make_leg(consignment, carrier=CarrierFactory())

    changes = []

    def write(n):
        if n % 2:
            # Two writers may set the same status one after the other: the second is a no-op.
            changed = services.update_leg(leg=leg, source=EventSource.CONSIGNLY, status=2 + n % 4)
        else:
            changed = services.record_event(
                leg=leg,
                source=EventSource.SORTED,
                code="IN_TRANSIT",
                occurred_at=at(n),
                description=f"scan {n}",
            )
        changes.append(changed)

    assert run_in_threads(8, write) == []
    leg.refresh_from_db()
    newest = leg.events.exclude(status=0).order_by("-occurred_at", "-received_at", "-status")[0]
    assert leg.status == newest.status
    before = Consignment.objects.get(pk=consignment.pk).status
    services.rederive(consignment)
    assert Consignment.objects.get(pk=consignment.pk).status == before
    # Every event is new (4); of the PUTs (3, 5, 3, 5 in any order) at least the first 5 changes
    # something, while a 3 is a no-op when the events already made the leg IN_TRANSIT.
    assert leg.events.count() == sum(changes) >= 5
    assert Status(before) in Status
