"""Upgrading keeps the truth (issue 15): statuses stored under the first rules ("newest event
wins") are derived again by migration 0009, and the rederive command repairs any drift."""

import datetime as dt
import uuid
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from tests.factories import add_events, make_consignment, make_leg
from tracking.models import Consignment, Package, TrackingRecord
from tracking.status import Stage, Status, Warning

T0 = dt.datetime(2026, 11, 30, 8, 0, tzinfo=dt.UTC)
BEFORE = ("tracking", "0008_announce_key_changes")


@pytest.mark.django_db(transaction=True)
def test_migration_0009_derives_stored_statuses_again_under_the_new_rules():
    executor = MigrationExecutor(connection)
    executor.migrate([BEFORE])
    old = executor.loader.project_state([BEFORE]).apps
    brand = old.get_model("tracking", "Brand").objects.create(slug="old", name="Old shop")
    carrier = old.get_model("tracking", "Carrier").objects.create(code="OLD_X", name="Old X")
    consignment = old.get_model("tracking", "Consignment").objects.create(
        reference="EC-OLD-000-001", brand=brand, status=1
    )
    package = old.get_model("tracking", "Package").objects.create(
        consignment=consignment, reference="EP-OLD-000-001", status=1
    )
    leg = old.get_model("tracking", "TrackingRecord").objects.create(
        consignment=consignment, carrier=carrier, carrier_name="Old X", status=1
    )
    events = [
        # Scans from the day, then the label printed late: the first rules said Printed.
        (T0, 2, "COLLECTED_BY_CARRIER"),
        (T0 + dt.timedelta(hours=4), 3, "IN_TRANSIT"),
        (T0 + dt.timedelta(hours=13), 1, "LABEL_PRINTED"),
        (T0 + dt.timedelta(hours=10), 3, "DELAYED"),
    ]
    Event = old.get_model("tracking", "TrackingEvent")
    for occurred, status, code in events:
        Event.objects.create(
            tracking_record=leg,
            status=status,
            code=code,
            occurred_at=occurred,
            received_at=occurred,
            source="sorted-api",
            identity=uuid.uuid4(),
        )

    # Up through 0009 and on to the latest, whose models the checks below use.
    call_command("migrate", verbosity=0)
    try:
        leg = TrackingRecord.objects.get(pk=leg.pk)
        package = Package.objects.get(pk=package.pk)
        consignment = Consignment.objects.get(pk=consignment.pk)
        for row in (leg, package):
            assert (row.status, row.stage, row.warning) == (
                Status.IN_TRANSIT,
                Stage.IN_TRANSIT,
                Warning.DELAY,
            )
        assert (consignment.status, consignment.warning) == (Status.IN_TRANSIT, Warning.DELAY)
        assert consignment.revision == 1  # cached pages and ETags change
        # Migration 0010 filled in the desk's times from the same events.
        assert (consignment.last_event_at, consignment.first_scan_at) == (
            T0 + dt.timedelta(hours=13),
            T0,
        )
        assert consignment.delivered_at is None
        assert sorted(leg.events.values_list("raw_code", flat=True)) == sorted(
            code for _t, _s, code in events
        )
    finally:
        # Leave the database as the other tests expect it (the flush empties it).
        call_command("migrate", verbosity=0)


@pytest.mark.django_db
def test_the_rederive_command_repairs_drifted_statuses_and_leaves_the_rest(brand, carrier):
    drifted = make_consignment(brand)
    add_events(make_leg(drifted, carrier=carrier), (1, "IN_TRANSIT"), (2, "OUT_FOR_DELIVERY"))
    sound = make_consignment(brand)
    add_events(make_leg(sound, carrier=carrier), (1, "DELIVERED"))
    Package.objects.filter(consignment=drifted).update(status=1)
    Consignment.objects.filter(pk=drifted.pk).update(status=1)
    revision = Consignment.objects.get(pk=sound.pk).revision

    out = StringIO()
    call_command("rederive", stdout=out)

    assert out.getvalue().strip() == "2 consignments checked, 1 changed."
    assert Consignment.objects.get(pk=drifted.pk).status == Status.OUT_FOR_DELIVERY
    assert Package.objects.get(consignment=drifted).status == Status.OUT_FOR_DELIVERY
    assert Consignment.objects.get(pk=sound.pk).revision == revision
