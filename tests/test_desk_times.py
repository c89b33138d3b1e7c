"""The consignment times the support desk reads (design section 7.5), kept with the statuses:
the newest event, the first carrier scan, and when the last package was delivered."""

import pytest

from tests.factories import add_events, at, make_consignment, make_leg
from tracking import services
from tracking.models import Consignment

pytestmark = pytest.mark.django_db


def times(consignment):
    row = Consignment.objects.get(pk=consignment.pk)
    return row.last_event_at, row.first_scan_at, row.delivered_at


def test_a_new_consignment_has_none(consignment):
    assert times(consignment) == (None, None, None)


def test_the_times_follow_the_events_in_any_order(consignment, leg):
    add_events(leg, (5, "IN_TRANSIT"))
    add_events(leg, (1, "LABEL_PRINTED"), (2, "COLLECTED_BY_CARRIER"))
    add_events(leg, (3, "DELAYED"), (0.5, "FOR_INFORMATION"))
    assert times(consignment) == (at(5), at(2), None)


def test_a_delay_or_a_label_is_no_scan(consignment, leg):
    add_events(leg, (1, "LABEL_PRINTED"), (2, "DELAYED"))
    assert times(consignment) == (at(2), None, None)


def test_delivered_when_the_last_package_is(consignment, leg):
    first, second = consignment.packages.order_by("sequence")
    add_events(leg, (1, "COLLECTED_BY_CARRIER"), (3, "DELIVERED"), package=first)
    assert times(consignment)[2] is None
    add_events(leg, (4, "DELIVERED"), package=second)
    assert times(consignment) == (at(4), at(1), at(4))
    # A late scan changes the newest event but not the delivery.
    add_events(leg, (6, "IN_TRANSIT", "late"), package=second)
    assert times(consignment) == (at(6), at(1), at(4))


def test_a_full_derivation_agrees_with_the_incremental_one(brand, carrier):
    consignment = make_consignment(brand, packages=2)
    leg = make_leg(consignment, carrier=carrier)
    for step in [(3, "DELIVERED"), (1, "COLLECTED_BY_CARRIER"), (0, "LABEL_PRINTED")]:
        add_events(leg, step)
    incremental = times(consignment)
    Consignment.objects.filter(pk=consignment.pk).update(
        last_event_at=None, first_scan_at=None, delivered_at=None
    )
    assert services.rederive(consignment)
    assert times(consignment) == incremental == (at(3), at(1), at(3))
