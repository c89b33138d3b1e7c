"""Factories: build what a test needs through the same services production uses."""

import datetime as dt

import factory
import pytest
from django.db import connection
from django.utils import timezone

from tracking import services
from tracking.models import Brand, Carrier, EventSource
from tracking.services import EventSpec, PackageSpec


class BrandFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Brand
        django_get_or_create = ["slug"]

    slug = factory.Sequence(lambda n: f"brand-{n}")
    name = factory.LazyAttribute(lambda o: o.slug.replace("-", " ").title())
    time_zone = "Europe/London"


class CarrierFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Carrier
        django_get_or_create = ["code"]

    code = factory.Sequence(lambda n: f"CARRIER_{n}")
    name = factory.LazyAttribute(lambda o: o.code.replace("_", " ").title())


def make_consignment(brand=None, *, packages=1, **fields):
    """A consignment with `packages` packages, created through the service."""
    return services.create_consignment(
        brand=brand or BrandFactory(),
        packages=[PackageSpec(description=f"Parcel {n + 1}") for n in range(packages)],
        destination_postcode=fields.pop("destination_postcode", "SW1A 1AA"),
        destination_town=fields.pop("destination_town", "London"),
        recipient_name=fields.pop("recipient_name", "Alex Morgan"),
        **fields,
    )


def make_leg(consignment, *, carrier=None, tracking_number=None, **fields):
    carrier = carrier or CarrierFactory()
    return services.add_leg(
        consignment=consignment,
        source=fields.pop("source", EventSource.ADMIN),
        carrier=carrier,
        tracking_number=tracking_number or f"TN{consignment.reference[-3:]}{carrier.pk}",
        **fields,
    )


# Inside a second on purpose: a clock frozen on whole seconds once hid an event posted without
# a time being cut to the second (style habit 12). Wire formats that print whole seconds show
# at(h) as its second; compare them with f"{at(h):%FT%TZ}".
SUB_SECOND = dt.timedelta(microseconds=123_456)


def at(hours: float) -> dt.datetime:
    """A moment `hours` after a fixed morning (08:00:00.123456 UTC, Monday 9 March 2026), for
    events whose order matters."""
    return dt.datetime(2026, 3, 9, 8, 0, tzinfo=dt.UTC) + SUB_SECOND + dt.timedelta(hours=hours)


def add_events(leg, *steps, package=None, source=EventSource.SORTED):
    """Store events given as (hours, code) or (hours, code, description) tuples."""
    specs = [
        EventSpec(
            leg=leg,
            occurred_at=at(step[0]),
            code=step[1],
            description=step[2] if len(step) > 2 else "",
            package=package,
        )
        for step in steps
    ]
    return services.record_events(events=specs, source=source)


def now():
    return timezone.now()


# What the tests run on, asked of the connection itself: a URL's spelling (pgsql://,
# PostgreSQL://) must never quietly turn PostgreSQL tests into skips.
ON_POSTGRES = connection.vendor == "postgresql"
# Marks a test that needs PostgreSQL; tests/conftest.py skips it elsewhere (and fails the run
# instead when CI=true and DATABASE_URL names PostgreSQL).
postgres_only = pytest.mark.postgres


def rate_limit_queries() -> int:
    """SQL queries one rate-limit hit costs: none when Redis keeps the counters."""
    from django.conf import settings

    return 0 if settings.REDIS_URL else 1


def make_subscription(brand, url="http://127.0.0.1:9/hook", **fields):
    """A webhook subscription through the service (tests allow private addresses: settings)."""
    from django.test import override_settings

    with override_settings(WEBHOOK_ALLOW_PRIVATE=True):
        subscription, _secret = services.create_subscription(brand=brand, url=url, **fields)
    return subscription
