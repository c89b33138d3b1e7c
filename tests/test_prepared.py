"""Prepared queries answer exactly what the queryset they were built from answers."""

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import CarrierFactory, make_consignment, make_leg
from tracking import prepared
from tracking.models import Package, TrackingRecord
from tracking.prepared import Many, PreparedQuery

pytestmark = pytest.mark.django_db


def packages_by_reference(consignment_id, references):
    return (
        Package.objects.filter(consignment_id=consignment_id, reference__in=references)
        .order_by("sequence")
        .values_list("reference", "sequence")
    )


def package_references(build=packages_by_reference) -> PreparedQuery:
    return PreparedQuery(
        build,
        consignment_id=(Package._meta.get_field("consignment"), uuid.UUID(int=0x5E471E1)),
        references=Many(Package._meta.get_field("reference"), lambda i: f"\x00{i}"),
    )


PACKAGE_REFERENCES = package_references()


@pytest.fixture
def consignment():
    return make_consignment(packages=12)


def references(consignment, count: int) -> list[str]:
    return [p.reference for p in consignment.packages.order_by("sequence")[:count]]


@pytest.mark.parametrize("count", [1, 2, prepared.MANY_CACHED, prepared.MANY_CACHED + 3])
def test_a_list_input_of_any_length_matches_the_orm(consignment, count):
    wanted = references(consignment, count)
    expected = list(
        Package.objects.filter(consignment=consignment, reference__in=wanted)
        .order_by("sequence")
        .values_list("reference", "sequence")
    )
    for _ in range(2):  # compiled, then reused
        rows = PACKAGE_REFERENCES.rows(consignment_id=consignment.pk, references=wanted)
        assert rows == expected
    assert len(rows) == count


def test_values_from_one_call_never_leak_into_the_next(consignment):
    first, second = references(consignment, 4)[:2], references(consignment, 4)[2:]
    PACKAGE_REFERENCES.rows(consignment_id=consignment.pk, references=first)
    rows = PACKAGE_REFERENCES.rows(consignment_id=consignment.pk, references=second)
    assert [reference for reference, _ in rows] == second


def test_another_consignment_scopes_the_same_references_away(consignment):
    other = make_consignment()
    rows = PACKAGE_REFERENCES.rows(consignment_id=other.pk, references=references(consignment, 3))
    assert rows == []


def test_a_reused_query_is_one_statement_and_no_build(consignment, monkeypatch):
    wanted = references(consignment, 3)
    PACKAGE_REFERENCES.rows(consignment_id=consignment.pk, references=wanted)
    built = []
    monkeypatch.setattr(PACKAGE_REFERENCES, "build", lambda **kw: built.append(kw))
    with CaptureQueriesContext(connection) as queries:
        PACKAGE_REFERENCES.rows(consignment_id=consignment.pk, references=wanted[::-1])
    assert len(queries) == 1
    assert built == []


def test_long_lists_are_compiled_per_call_and_not_kept(consignment):
    builds = []

    def build(**sentinels):
        builds.append(sentinels)
        return packages_by_reference(**sentinels)

    query = package_references(build)

    def run(count: int) -> int:
        """Builds of the queryset that one call with `count` references costs."""
        before = len(builds)
        wanted = references(consignment, count)
        rows = query.rows(consignment_id=consignment.pk, references=wanted)
        assert [reference for reference, _ in rows] == wanted
        return len(builds) - before

    longest_kept, too_long = prepared.MANY_CACHED, prepared.MANY_CACHED + 1
    assert [run(too_long), run(too_long), run(too_long)] == [1, 1, 1]
    assert [run(longest_kept), run(longest_kept)] == [1, 0]


def test_a_repeated_value_in_a_list_is_bound_like_any_other(consignment):
    first, second = references(consignment, 2)
    rows = PACKAGE_REFERENCES.rows(consignment_id=consignment.pk, references=[first, first, second])
    assert [reference for reference, _ in rows] == [first, second]


def test_an_empty_list_is_refused(consignment):
    with pytest.raises(ValueError, match="references"):
        PACKAGE_REFERENCES.rows(consignment_id=consignment.pk, references=[])


def test_a_query_that_ignores_an_input_is_refused_when_compiled():
    ignoring = PreparedQuery(
        lambda numbers: TrackingRecord.objects.values_list("id"),
        numbers=Many(TrackingRecord._meta.get_field("tracking_number"), lambda i: f"\x00{i}"),
    )
    with pytest.raises(ValueError, match="numbers"):
        ignoring.rows(numbers=["X"])


def test_uuid_lists_are_prepared_as_the_orm_prepares_them():
    carrier = CarrierFactory()
    legs = [make_leg(make_consignment(), carrier=carrier) for _ in range(3)]
    by_ids = PreparedQuery(
        lambda ids: TrackingRecord.objects.filter(pk__in=ids).order_by().values_list("id"),
        ids=Many(TrackingRecord._meta.pk, lambda i: uuid.UUID(int=0x5E471E1 + i)),
    )
    rows = by_ids.rows(ids={leg.pk for leg in legs[:2]})
    assert {leg_id for (leg_id,) in rows} == {legs[0].pk, legs[1].pk}
