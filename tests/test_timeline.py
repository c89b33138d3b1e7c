"""The read model and the access door: shapes, scoping and a fixed number of queries."""

import pytest

from tests.factories import BrandFactory, CarrierFactory, add_events, make_consignment, make_leg
from tracking import access, services
from tracking.models import Consignment
from tracking.status import Stage, Status
from tracking.timeline import Timeline

pytestmark = pytest.mark.django_db


def build(brand, *, packages: int, legs: int, events_per_leg: int):
    consignment = make_consignment(brand, packages=packages)
    for n in range(legs):
        leg = make_leg(consignment, carrier=CarrierFactory(), tracking_number=f"LEG{n}")
        add_events(leg, *[(n * 10 + i, "IN_TRANSIT", f"scan {i}") for i in range(events_per_leg)])
    return consignment


def load(consignment) -> Timeline:
    return Timeline.load(Consignment.objects.filter(pk=consignment.pk))


class TestTimeline:
    @pytest.mark.parametrize("size", [(1, 1, 2), (3, 4, 25)])
    def test_it_loads_everything_in_two_queries(self, brand, size, django_assert_num_queries):
        consignment = build(brand, packages=size[0], legs=size[1], events_per_leg=size[2])
        with django_assert_num_queries(2):
            timeline = load(consignment)
            assert sum(len(pt.events) for pt in timeline.by_package) == size[0] * size[1] * size[2]
            assert timeline.brand.slug == brand.slug

    def test_the_head_alone_is_one_query(self, consignment, django_assert_num_queries):
        with django_assert_num_queries(1):
            timeline = load(consignment)
            assert timeline.version.endswith(f".{consignment.revision}")

    def test_legs_are_in_leg_order_and_events_oldest_first(self, consignment):
        second = make_leg(consignment, carrier=CarrierFactory(), tracking_number="B", sequence=2)
        first = make_leg(consignment, carrier=CarrierFactory(), tracking_number="A", sequence=1)
        add_events(first, (3, "IN_TRANSIT"), (1, "COLLECTED_BY_CARRIER"))
        add_events(second, (5, "DELIVERED"), (4, "OUT_FOR_DELIVERY"))
        timeline = load(consignment)
        assert [leg.tracking_number for leg in timeline.legs] == ["A", "B"]
        assert [e.code for e in timeline.legs[0].events] == ["COLLECTED_BY_CARRIER", "IN_TRANSIT"]
        package_events = [e.code for _leg, e in timeline.by_package[0].events]
        assert package_events == [
            "COLLECTED_BY_CARRIER",
            "IN_TRANSIT",
            "OUT_FOR_DELIVERY",
            "DELIVERED",
        ]

    def test_a_package_sees_its_own_and_the_leg_wide_events_only(self, consignment, leg):
        first, second = consignment.packages.order_by("sequence")
        add_events(leg, (1, "IN_TRANSIT", "for everyone"))
        add_events(leg, (2, "DELIVERED", "just the first"), package=first)
        timeline = load(consignment)
        by_reference = {pt.package.reference: pt for pt in timeline.by_package}
        assert [e.description for _l, e in by_reference[first.reference].events] == [
            "for everyone",
            "just the first",
        ]
        assert [e.description for _l, e in by_reference[second.reference].events] == [
            "for everyone"
        ]

    def test_a_leg_carrying_one_package_is_absent_from_the_others(self, consignment, carrier):
        first, second = consignment.packages.order_by("sequence")
        make_leg(consignment, carrier=carrier, tracking_number="ALL")
        make_leg(consignment, carrier=CarrierFactory(), tracking_number="ONE", packages=[second])
        timeline = load(consignment)
        legs = {
            pt.package.id: [pl.leg.tracking_number for pl in pt.legs] for pt in timeline.by_package
        }
        assert legs == {first.pk: ["ALL"], second.pk: ["ALL", "ONE"]}

    def test_progress_summary_and_finality(self, consignment, leg):
        first, _second = consignment.packages.order_by("sequence")
        add_events(leg, (1, "OUT_FOR_DELIVERY"))
        add_events(leg, (2, "DELIVERED"), package=first)
        timeline = load(consignment)
        assert timeline.summary.text == "1 of 2 packages delivered"
        assert timeline.progress.stage == Stage.OUT_FOR_DELIVERY
        assert not timeline.is_final
        add_events(leg, (3, "DELIVERED"))
        assert load(consignment).is_final

    def test_the_version_changes_with_every_stored_event(self, consignment, leg):
        before = load(consignment).version
        add_events(leg, (1, "IN_TRANSIT"))
        after = load(consignment).version
        add_events(leg, (1, "IN_TRANSIT"))  # a duplicate changes nothing
        assert before != after == load(consignment).version

    def test_a_queryset_of_several_consignments_is_refused(self, brand):
        make_consignment(brand)
        make_consignment(brand)
        with pytest.raises(ValueError, match="exactly one"):
            Timeline.load(Consignment.objects.all())


class TestAccess:
    def test_a_reference_is_found_whatever_its_case_and_spaces(self, consignment):
        assert access.timeline_for_reference(" ec-aaa-bbb-ccc ").consignment.pk == consignment.pk

    @pytest.mark.parametrize(
        "reference",
        ["", "EC-ZZZ-ZZZ-ZZZ", "../etc/passwd", "<script>", "EC-AAA-BBB-CCC\x00", "E" * 5000, None],
    )
    def test_anything_else_is_not_found(self, consignment, reference):
        with pytest.raises(access.NotFound):
            access.timeline_for_reference(reference)

    def test_a_client_key_sees_only_its_brand(self, consignment, our_key, their_key):
        assert access.timeline_for_key(our_key.key, consignment_id=consignment.pk)
        with pytest.raises(access.NotFound):
            access.timeline_for_key(their_key.key, consignment_id=consignment.pk)
        with pytest.raises(access.NotFound):
            access.timeline_for_key(their_key.key, reference=consignment.reference)
        with pytest.raises(access.NotFound):
            access.consignment_for_key(their_key.key, consignment.pk)
        assert not access.consignments_for_key(their_key.key).exists()

    def test_a_carrier_key_reads_no_consignment(self, consignment, carrier_key):
        with pytest.raises(access.NotFound):
            access.timeline_for_key(carrier_key.key, consignment_id=consignment.pk)

    def test_a_leg_is_found_only_under_its_own_consignment_and_brand(
        self, leg, our_key, their_key, brand
    ):
        assert access.leg_for_key(our_key.key, leg.consignment_id, leg.pk) == leg
        other = make_consignment(brand)
        for key, consignment_id in [(their_key, leg.consignment_id), (our_key, other.pk)]:
            with pytest.raises(access.NotFound):
                access.leg_for_key(key.key, consignment_id, leg.pk)

    def test_malformed_ids_are_not_found(self, our_key):
        with pytest.raises(access.NotFound):
            access.consignment_for_key(our_key.key, "not-a-uuid")

    def test_a_carrier_finds_only_its_own_legs_newest_first(
        self, brand, carrier, carrier_key, other_carrier_key
    ):
        old = make_leg(make_consignment(brand), carrier=carrier, tracking_number="REUSED")
        new = make_leg(make_consignment(brand), carrier=carrier, tracking_number="REUSED")
        assert access.legs_for_carrier(carrier_key.key, {"REUSED"}) == {"REUSED": [new, old]}
        assert access.legs_for_carrier(other_carrier_key.key, {"REUSED"}) == {}

    def test_a_shared_number_resolves_to_the_leg_that_carries_the_package(
        self, brand, carrier, carrier_key
    ):
        ours = make_consignment(brand)
        theirs = make_consignment(BrandFactory(slug="elsewhere"))
        our_leg = make_leg(ours, carrier=carrier, tracking_number="SHARED")
        their_leg = make_leg(theirs, carrier=carrier, tracking_number="SHARED")
        candidates = access.legs_for_carrier(carrier_key.key, {"SHARED"})["SHARED"]

        assert access.leg_carrying(candidates, ours.packages.get()) == our_leg
        assert access.leg_carrying(candidates, theirs.packages.get()) == their_leg
        assert access.leg_carrying(candidates, make_consignment(brand).packages.get()) is None
        assert access.leg_carrying(candidates, None) is None

    def test_a_carriers_legs_come_with_the_packages_they_list(self, brand, carrier, carrier_key):
        consignment = make_consignment(brand, packages=3)
        first, second, _third = consignment.packages.order_by("sequence")
        listing = make_leg(consignment, carrier=carrier, tracking_number="SOME", packages=[first])
        listing.packages.add(second)
        every = make_leg(
            make_consignment(brand, packages=2), carrier=carrier, tracking_number="ALL"
        )
        legs = access.legs_for_carrier(carrier_key.key, {"SOME", "ALL", "NONE"})
        assert legs == {"SOME": [listing], "ALL": [every]}
        assert legs["SOME"][0].listed_package_ids == {first.pk, second.pk}
        assert legs["ALL"][0].listed_package_ids == set()


def test_statuses_survive_a_full_rederive(consignment, leg):
    add_events(leg, (1, "IN_TRANSIT"), (2, "DAMAGED"))
    services.rederive(consignment)
    assert load(consignment).consignment.status == Status.EXCEPTION
