"""Prepared queries answer exactly what the queryset they were built from answers."""

import pytest
from django.db import connection
from django.db.models import Q
from django.test.utils import CaptureQueriesContext

from tests.factories import CarrierFactory, make_consignment, make_leg
from tracking.db import prepared
from tracking.db.prepared import Many, PreparedQuery, rows_as
from tracking.models import Package, TrackingRecord

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
        consignment_id=Package._meta.get_field("consignment"),
        references=Many(Package._meta.get_field("reference")),
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
        numbers=Many(TrackingRecord._meta.get_field("tracking_number")),
    )
    with pytest.raises(ValueError, match="numbers"):
        ignoring.rows(numbers=["X"])


def test_uuid_lists_are_prepared_as_the_orm_prepares_them():
    carrier = CarrierFactory()
    legs = [make_leg(make_consignment(), carrier=carrier) for _ in range(3)]
    by_ids = PreparedQuery(
        lambda ids: TrackingRecord.objects.filter(pk__in=ids).order_by().values_list("id"),
        ids=Many(TrackingRecord._meta.pk),
    )
    rows = by_ids.rows(ids={leg.pk for leg in legs[:2]})
    assert {leg_id for (leg_id,) in rows} == {legs[0].pk, legs[1].pk}


def test_inputs_of_one_type_get_distinct_stand_ins(consignment):
    first, second = references(consignment, 2)
    either = PreparedQuery(
        lambda one, other: (
            Package.objects.filter(Q(reference=one) | Q(reference=other))
            .order_by("sequence")
            .values_list("reference")
        ),
        one=Package._meta.get_field("reference"),
        other=Package._meta.get_field("reference"),
    )
    assert either.rows(one=second, other=first) == [(first,), (second,)]


def test_an_input_of_a_type_without_stand_ins_is_refused_when_declared():
    with pytest.raises(TypeError, match="last_updated_date"):
        PreparedQuery(
            lambda day: TrackingRecord.objects.filter(last_updated_date=day).values_list("id"),
            day=TrackingRecord._meta.get_field("last_updated_date"),
        )


def test_rows_as_gives_the_instances_the_orm_gives(consignment):
    fields = [f.attname for f in Package._meta.concrete_fields]
    rows = Package.objects.filter(consignment=consignment).order_by("sequence")
    shifted = [("before", *row) for row in rows.values_list(*fields)]
    rebuilt = rows_as(Package, fields, shifted, start=1)
    values = [[getattr(p, name) for name in fields] for p in rebuilt]
    assert values == [[getattr(p, name) for name in fields] for p in rows]
    assert all(not p._state.adding and p._state.db == "default" for p in rebuilt)
