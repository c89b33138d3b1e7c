"""Shipments for the support desk's tests, dated around Christmas 2026 in Great Britain: NOW is
Tuesday 29 December 2026, 10:00 UTC, after a Friday (25th, Christmas Day), a weekend and a
Monday (28th, Boxing Day observed) off. Built through the services, with the clock moved."""

import datetime as dt

import pytest
import time_machine
from django.contrib.auth.models import Permission, User

from tests.factories import make_consignment, make_leg
from tracking import services
from tracking.models import BrandStaff, Consignment, EventSource

NOW = dt.datetime(2026, 12, 29, 10, 0, 0, 123_456, tzinfo=dt.UTC)


def when(day: int, hour: float = 0, month: int = 12) -> dt.datetime:
    return dt.datetime(2026, month, day, tzinfo=dt.UTC) + dt.timedelta(hours=hour)


def parcel(brand, carrier, *, created, events=(), country="GB", expected=None, **fields):
    """A consignment created at `created` with one leg of `carrier` and `events` as
    (moment, code) pairs; read back with its derived times."""
    with time_machine.travel(created, tick=False):
        consignment = make_consignment(
            brand, destination_country=country, expected_delivery_date=expected, **fields
        )
        leg = make_leg(consignment, carrier=carrier) if carrier is not None else None
    for moment, code in events:
        with time_machine.travel(max(moment, created), tick=False):
            services.record_event(leg=leg, source=EventSource.SORTED, code=code, occurred_at=moment)
    return Consignment.objects.get(pk=consignment.pk)


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def staff_user(username, brand=None, *, permissions=("view_consignment",)):
    user = User.objects.create_user(username, password="pw", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=permissions))
    if brand is not None:
        BrandStaff.objects.create(user=user, brand=brand)
    return user


@pytest.fixture
def brand_staff(brand):
    return staff_user("ours", brand)


@pytest.fixture
def brandless_staff(db):
    return staff_user("nobody")


@pytest.fixture
def admin_client(frozen, admin_user):
    """Logged in on NOW's clock: a session begun on the real one would have expired by then."""
    from django.test import Client

    client = Client()
    client.force_login(admin_user)
    return client
