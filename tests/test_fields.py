"""tracking.fields: each value rule once, as a code and its limit, and covers()."""

import datetime as dt
import uuid

import pytest

from tracking import fields
from tracking.fields import Problem

NOW = dt.datetime(2026, 3, 9, 12, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("", None),
        ("x" * 10, None),
        ("x" * 11, Problem(fields.TOO_LONG, 10)),
        ("a\x00b", Problem(fields.NUL)),
        ("caf\u00e9", None),
        ("bad \ud800", Problem(fields.SURROGATE)),
        ("\x00" * 11, Problem(fields.TOO_LONG, 10)),  # the length, as sent, comes first
    ],
)
def test_text_rules_name_the_rule_and_its_limit(value, problem):
    assert fields.check_text(value, 10) == problem


def test_a_length_is_counted_in_characters():
    assert fields.check_length("é" * 5, 5) is None
    assert fields.check_length("é" * 6, 5) == Problem(fields.TOO_LONG, 5)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("", None),
        ("https://shop.example/track?n=1", None),
        ("HTTP://shop.example", None),
        ("ftp://shop.example", Problem(fields.NOT_URL)),
        ("https://shop.example/track\n", Problem(fields.NOT_URL)),
        ("https:///nohost", Problem(fields.NOT_URL)),
        ("https://x/" + "a" * fields.URL_MAX, Problem(fields.TOO_LONG, fields.URL_MAX)),
    ],
)
def test_urls_are_http_or_https(value, problem):
    assert fields.check_url(value) == problem


def test_references_have_their_shape_in_canonical_form():
    assert fields.check_reference("EC-000-002-4DF", "EC") is None
    assert fields.check_reference("EP-000-034-4DG", "EP") is None
    assert fields.check_reference("EP-000-034-4DG", "EC") == Problem(fields.BAD_SHAPE, "EC")
    assert fields.check_reference("ec-000-002-4df", "EC") == Problem(fields.BAD_SHAPE, "EC")
    assert fields.canonical_reference(" ec-000-002-4df ") == "EC-000-002-4DF"


def test_country_codes_are_two_capital_letters():
    assert fields.check_country("GB") is None
    for bad in ("gb", "G", "GBR", "G1", ""):
        assert fields.check_country(bad) == Problem(fields.BAD_SHAPE, "country")


def test_a_status_is_an_integer_in_range():
    assert fields.check_status(3, 0, 11) is None
    assert fields.check_status(12, 0, 11) == Problem(fields.OUT_OF_RANGE, (0, 11))
    for bad in (True, "3", 3.0, None):
        assert fields.check_status(bad, 0, 11) == Problem(fields.NOT_INTEGER)


def test_the_event_time_window_is_2000_to_24_hours_ahead():
    assert fields.check_event_time(NOW, NOW) is None
    assert fields.check_event_time(fields.EARLIEST_EVENT, NOW) is None
    ahead = NOW + dt.timedelta(hours=fields.FUTURE_HOURS)
    assert fields.check_event_time(ahead, NOW) is None
    assert fields.check_event_time(ahead + dt.timedelta(microseconds=1), NOW) == Problem(
        fields.TOO_LATE, dt.timedelta(hours=24)
    )
    before = fields.EARLIEST_EVENT - dt.timedelta(microseconds=1)
    assert fields.check_event_time(before, NOW) == Problem(fields.TOO_EARLY, fields.EARLIEST_EVENT)
    assert fields.check_event_time(NOW.replace(tzinfo=None), NOW) == Problem(fields.NO_OFFSET)
    assert fields.event_window_text() == "not before 2000 and at most 24 hours ahead"


class TestCovers:
    consignment, other = uuid.uuid4(), uuid.uuid4()
    first, second = uuid.uuid4(), uuid.uuid4()

    def carries(self, listed, package, package_consignment=None):
        return fields.covers(
            leg_consignment_id=self.consignment,
            listed_package_ids=listed,
            package_consignment_id=package_consignment or self.consignment,
            package_id=package,
        )

    def test_a_leg_listing_none_carries_every_package_of_its_consignment(self):
        assert self.carries(set(), self.first) and self.carries(None, self.second)

    def test_a_leg_listing_packages_carries_only_those(self):
        assert self.carries({self.first}, self.first)
        assert not self.carries({self.first}, self.second)

    def test_a_leg_never_carries_another_consignments_package(self):
        assert not self.carries(set(), self.first, package_consignment=self.other)
        assert not self.carries({self.first}, self.first, package_consignment=self.other)
