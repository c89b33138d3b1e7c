"""The status rules, exhaustively, with no database."""

import datetime as dt
import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tracking import status as rules
from tracking.status import Kind, Stage, Status, Warning

BASE = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def at(hours: float) -> dt.datetime:
    return BASE + dt.timedelta(hours=hours)


def event(hours: float, status: int, code: str | None = None) -> rules.Mark | None:
    """The mark of an event `hours` after BASE; its code is the status's default one."""
    return rules.mark(at(hours), status, code or rules.code_for_status(status))


def delay(hours: float, code: str = "DELAYED") -> rules.Mark:
    return rules.mark(at(hours), rules.status_for_code(code), code)


def outcome(*marks) -> tuple[Stage, Status, Warning]:
    found = rules.standing(marks)
    return found.stage, found.status, found.warning


class TestCodeTable:
    def test_every_status_has_a_default_code_that_maps_back_to_it(self):
        for status in Status:
            assert rules.status_for_code(rules.code_for_status(status)) == status

    def test_every_sorted_v2_code_is_in_the_table(self):
        sorted_codes = [
            "action_required",
            "at_customs",
            "awaiting_drop_off",
            "carrier_changed",
            "cleared_through_customs",
            "collected_by_carrier",
            "collection_failed",
            "damaged",
            "delayed",
            "delivered",
            "delivered_damaged",
            "delivery_failed",
            "delivery_failed_card_left",
            "destroyed",
            "dropped_off",
            "exchange_failed",
            "exchange_succeeded",
            "failed_to_collect",
            "for_information",
            "held_by_carrier",
            "in_transit",
            "in_transit_waiting",
            "lost",
            "missing",
            "out_for_delivery",
            "partially_delivered",
            "returned_to_sender",
        ]
        for code in sorted_codes:
            assert code.upper() in rules.CODE_STATUS

    @pytest.mark.parametrize(
        ("code", "status"),
        [
            ("DELIVERED", Status.DELIVERED),
            ("OUT_FOR_DELIVERY", Status.OUT_FOR_DELIVERY),
            ("IN_TRANSIT", Status.IN_TRANSIT),
            ("COLLECTED_BY_CARRIER", Status.DISPATCHED),
            ("DELIVERY_FAILED_CARD_LEFT", Status.ATTEMPTED_DELIVERY),
            ("LOST", Status.EXCEPTION),
            ("AT_COLLECTION_POINT", Status.PICKUP_IN_STORE),
            ("AWAITING_DROP_OFF", Status.AWAITING_COLLECTION),
            ("FOR_INFORMATION", Status.UNKNOWN),
            ("SOMETHING_NEW", Status.UNKNOWN),
        ],
    )
    def test_codes_map_to_statuses(self, code, status):
        assert rules.status_for_code(code) == status

    @pytest.mark.parametrize(
        ("raw", "code"),
        [
            ("delivered", "DELIVERED"),
            ("Out for-delivery", "OUT_FOR_DELIVERY"),
            ("  Sample ", "SAMPLE"),
            ("in_transit", "IN_TRANSIT"),
        ],
    )
    def test_codes_are_normalised_to_upper_snake(self, raw, code):
        assert rules.normalise_code(raw) == code

    @pytest.mark.parametrize(
        ("raw", "message"),
        [
            ("", "blank"),
            ("   ", "blank"),
            ("A" * 51, "at most 50"),
            ("<script>", "letters, digits and underscores"),
            ("DELIVERED__TWICE", "letters, digits and underscores"),
            ("_LEADING", "letters, digits and underscores"),
        ],
    )
    def test_implausible_codes_are_refused_with_the_rule(self, raw, message):
        with pytest.raises(ValueError, match=message):
            rules.normalise_code(raw)


class TestKinds:
    @pytest.mark.parametrize(
        ("code", "kind"),
        [
            ("IN_TRANSIT", Kind.PROGRESS),
            ("LABEL_PRINTED", Kind.PROGRESS),
            ("DELIVERED", Kind.PROGRESS),
            ("DELAYED", Kind.DELAY),
            ("WEATHER_DELAY", Kind.DELAY),
            ("CUSTOMS_HOLD", Kind.DELAY),
            ("ADDRESS_QUERY", Kind.DELAY),
            ("DELIVERY_FAILED", Kind.PROBLEM),
            ("LOST", Kind.PROBLEM),
            ("CANCELLED", Kind.PROBLEM),
            ("FOR_INFORMATION", Kind.INFORMATION),
            ("CARRIER_CHANGED", Kind.INFORMATION),
            ("SOMETHING_NEW", Kind.INFORMATION),
        ],
    )
    def test_each_code_has_a_kind(self, code, kind):
        assert rules.kind_of(code, rules.status_for_code(code)) == kind

    def test_every_delay_code_is_in_the_table_and_keeps_a_stage_status(self):
        for code in rules.DELAY_CODES:
            assert rules.status_for_code(code) == Status.IN_TRANSIT

    def test_information_takes_no_part(self):
        assert event(1, Status.UNKNOWN) is None
        assert outcome(event(1, 3), event(2, 0)) == (Stage.IN_TRANSIT, Status.IN_TRANSIT, 0)


class TestStages:
    @pytest.mark.parametrize(
        ("status", "stage"),
        [
            (Status.PRINTED, Stage.LABEL_CREATED),
            (Status.AWAITING_COLLECTION, Stage.LABEL_CREATED),
            (Status.MANIFESTED, Stage.LABEL_CREATED),
            (Status.DISPATCHED, Stage.DISPATCHED),
            (Status.IN_TRANSIT, Stage.IN_TRANSIT),
            (Status.OUT_FOR_DELIVERY, Stage.OUT_FOR_DELIVERY),
            (Status.PICKUP_IN_STORE, Stage.OUT_FOR_DELIVERY),
            (Status.ATTEMPTED_DELIVERY, Stage.OUT_FOR_DELIVERY),
            (Status.DELIVERED, Stage.DELIVERED),
            (Status.EXCEPTION, Stage.LABEL_CREATED),
            (Status.CANCELLED, Stage.LABEL_CREATED),
        ],
    )
    def test_each_status_reaches_its_stage(self, status, stage):
        assert rules.progress([event(1, status)]).stage == stage

    def test_no_events_is_label_created_and_unknown(self):
        assert outcome() == (Stage.LABEL_CREATED, Status.UNKNOWN, Warning.NONE)


class TestNeverBack:
    def test_the_newest_event_sets_the_status(self):
        assert outcome(event(1, 2), event(2, 3), event(3, 4))[1] == Status.OUT_FOR_DELIVERY

    def test_a_backfilled_earlier_stage_does_not_move_the_parcel_back(self):
        # A label printed at 21:37 after scans from 08:00, 12:00 and 18:00 (the case).
        assert outcome(event(8, 2), event(12, 3), event(18, 3), event(21.6, 1)) == (
            Stage.IN_TRANSIT,
            Status.IN_TRANSIT,
            Warning.NONE,
        )

    def test_a_next_carrier_booked_early_does_not_pull_a_parcel_back(self):
        assert outcome(event(1, 4), event(2, 1)) == (
            Stage.OUT_FOR_DELIVERY,
            Status.OUT_FOR_DELIVERY,
            Warning.NONE,
        )

    def test_a_stale_scan_never_undoes_delivered(self):
        assert outcome(event(1, 5), event(2, 4), event(3, 3))[:2] == (
            Stage.DELIVERED,
            Status.DELIVERED,
        )

    def test_a_later_event_at_the_same_stage_sets_the_status(self):
        assert outcome(event(1, 4), event(2, 6))[1] == Status.PICKUP_IN_STORE
        assert outcome(event(1, 6), event(2, 4))[1] == Status.OUT_FOR_DELIVERY

    def test_the_latest_update_is_the_event_that_set_the_status(self):
        found = rules.standing([event(1, 3), event(2, 1)])
        assert found.latest == event(1, 3)


class TestWarnings:
    def test_an_exception_is_a_warning_at_the_stage_reached(self):
        assert outcome(event(1, 2), event(2, 3), event(3, 8)) == (
            Stage.IN_TRANSIT,
            Status.EXCEPTION,
            Warning.PROBLEM,
        )

    def test_a_cancellation_is_a_warning_at_the_stage_reached(self):
        assert outcome(event(1, 1), event(2, 10)) == (
            Stage.LABEL_CREATED,
            Status.CANCELLED,
            Warning.PROBLEM,
        )

    def test_a_failed_attempt_counts_as_out_for_delivery(self):
        assert outcome(event(1, 3), event(2, 7)) == (
            Stage.OUT_FOR_DELIVERY,
            Status.ATTEMPTED_DELIVERY,
            Warning.PROBLEM,
        )

    def test_a_failed_attempt_then_delivery_is_delivered(self):
        assert outcome(event(1, 4), event(2, 7), event(3, 4), event(4, 5)) == (
            Stage.DELIVERED,
            Status.DELIVERED,
            Warning.NONE,
        )

    def test_a_later_progress_event_at_the_stage_reached_clears_a_problem(self):
        assert outcome(event(1, 3), event(2, 8), event(3, 3)) == (
            Stage.IN_TRANSIT,
            Status.IN_TRANSIT,
            Warning.NONE,
        )

    def test_a_stale_progress_event_clears_nothing(self):
        assert outcome(event(1, 3), event(2, 8), event(3, 2)) == (
            Stage.IN_TRANSIT,
            Status.EXCEPTION,
            Warning.PROBLEM,
        )

    def test_a_problem_applies_whenever_it_is_the_newest(self):
        assert outcome(event(1, 5), event(2, 8))[1:] == (Status.EXCEPTION, Warning.PROBLEM)

    def test_a_delay_warns_at_the_stage_reached_and_keeps_the_status(self):
        assert outcome(event(1, 4), delay(2)) == (
            Stage.OUT_FOR_DELIVERY,
            Status.OUT_FOR_DELIVERY,
            Warning.DELAY,
        )

    def test_a_later_progress_event_clears_a_delay(self):
        assert outcome(event(1, 3), delay(2), event(3, 3))[2] == Warning.NONE
        assert outcome(event(1, 3), delay(2), event(3, 4))[1:] == (
            Status.OUT_FOR_DELIVERY,
            Warning.NONE,
        )

    def test_a_delay_reported_before_the_last_scan_is_cleared_by_it(self):
        assert outcome(delay(1), event(2, 3))[2] == Warning.NONE

    def test_the_warning_names_its_event(self):
        found = rules.progress([event(1, 3), delay(2, "WEATHER_DELAY")])
        assert found.warned == delay(2, "WEATHER_DELAY")
        assert found.problem_status is None
        problem = rules.progress([event(1, 3), event(2, 8)])
        assert problem.problem_status == Status.EXCEPTION


class TestTies:
    def test_at_the_same_instant_a_problem_wins(self):
        for marks in itertools.permutations([event(1, 4), event(1, 8), event(1, 5)]):
            assert outcome(*marks) == (Stage.DELIVERED, Status.EXCEPTION, Warning.PROBLEM)

    def test_at_the_same_instant_a_delay_warns(self):
        for marks in itertools.permutations([event(1, 3), delay(1)]):
            assert outcome(*marks) == (Stage.IN_TRANSIT, Status.IN_TRANSIT, Warning.DELAY)

    def test_at_the_same_instant_the_later_stage_wins(self):
        for marks in itertools.permutations([event(1, 2), event(1, 4), event(1, 3)]):
            assert outcome(*marks)[1] == Status.OUT_FOR_DELIVERY

    def test_at_the_same_instant_and_stage_the_status_decides(self):
        for marks in itertools.permutations([event(1, 4), event(1, 6)]):
            assert outcome(*marks)[1] == Status.PICKUP_IN_STORE

    def test_the_tiebreak_orders_what_is_otherwise_equal(self):
        first = rules.mark(at(1), 3, "IN_TRANSIT", tiebreak=("IN_TRANSIT", 1))
        second = rules.mark(at(1), 3, "IN_TRANSIT", tiebreak=("IN_TRANSIT", 2))
        assert rules.standing([second, first]).latest is second


MARKS = st.lists(
    st.builds(
        lambda minute, code: rules.mark(
            at(minute / 60), rules.status_for_code(code), code, tiebreak=(code,)
        ),
        st.integers(0, 30),  # few minutes: many events share an instant
        st.sampled_from([*rules.CODE_STATUS, "SOMETHING_NEW", "WEATHER_DELAY"]),
    ),
    max_size=14,
)


class TestClosedForm:
    @given(marks=MARKS)
    def test_the_standing_agrees_with_the_literal_replay(self, marks):
        found = rules.standing(marks)
        assert (found.stage, found.status, found.warning) == rules.replay(marks)

    @given(marks=MARKS, data=st.data())
    def test_any_order_and_split_gives_the_same_standing(self, marks, data):
        shuffled = data.draw(st.permutations(marks))
        cut = data.draw(st.integers(0, len(marks)))
        split = rules.standing(shuffled[:cut]).add_all(shuffled[cut:])
        assert split == rules.standing(marks)

    @given(marks=MARKS)
    def test_what_is_stored_gives_the_same_standing_back(self, marks):
        found = rules.standing(marks)
        stored = found.columns()
        again = rules.Standing.from_columns(*stored[2:])
        assert again.columns() == stored
        more = [event(40, 3), delay(41), event(42, 8)]
        assert again.add_all(more).columns() == found.add_all(more).columns()


class TestProgress:
    def test_steps_mark_done_current_and_upcoming(self):
        states = [s["state"] for s in rules.progress([event(1, 3)]).steps()]
        assert states == ["done", "done", "current", "upcoming", "upcoming"]
        delivered = [s["state"] for s in rules.progress([event(1, 5)]).steps()]
        assert delivered == ["done"] * 5

    def test_percent_runs_from_zero_to_a_hundred(self):
        assert rules.progress([]).percent == 0
        assert rules.progress([event(1, 3)]).percent == 50
        assert rules.progress([event(1, 5)]).percent == 100


class TestConsignmentRollUp:
    def test_all_delivered_is_delivered(self):
        assert rules.consignment_status([5, 5]) == Status.DELIVERED

    def test_the_least_advanced_package_sets_the_status(self):
        assert rules.consignment_status([5, 3, 4]) == Status.IN_TRANSIT

    def test_a_package_without_events_keeps_the_consignment_unknown(self):
        assert rules.consignment_status([5, 0]) == Status.UNKNOWN

    def test_an_exception_on_any_package_wins(self):
        assert rules.consignment_status([5, 8, 3]) == Status.EXCEPTION
        assert rules.consignment_status([5, 7]) == Status.ATTEMPTED_DELIVERY

    def test_cancelled_only_when_every_package_is(self):
        assert rules.consignment_status([10, 10]) == Status.CANCELLED
        assert rules.consignment_status([10, 5]) == Status.DELIVERED

    def test_no_packages_is_unknown(self):
        assert rules.consignment_status([]) == Status.UNKNOWN

    def test_summary_counts_delivered_packages(self):
        assert rules.summarise([5, 5, 3]).text == "2 of 3 packages delivered"
        assert rules.summarise([5]).text == "1 of 1 package delivered"
        assert rules.summarise([5, 5, 3]).by_status == {Status.DELIVERED: 2, Status.IN_TRANSIT: 1}

    def test_delivered_or_cancelled_throughout_is_final(self):
        assert rules.is_final([5, 10])
        assert not rules.is_final([5, 4])
        assert not rules.is_final([])

    def test_combined_progress_is_the_slowest_live_package(self):
        slow, fast = rules.progress([event(1, 2)]), rules.progress([event(1, 5)])
        cancelled = rules.progress([event(1, 10)])
        combined = rules.combined_progress([fast, slow, cancelled], Status.DISPATCHED)
        assert combined.stage == Stage.DISPATCHED
        assert combined.warning == Warning.NONE
        assert combined.latest == event(1, 5)

    def test_combined_progress_warns_of_the_gravest_live_warning(self):
        delayed = rules.progress([event(1, 3), delay(3)])
        failed = rules.progress([event(1, 4), event(2, 7)])
        combined = rules.combined_progress([delayed, failed], Status.ATTEMPTED_DELIVERY)
        assert (combined.warning, combined.warned) == (Warning.PROBLEM, event(2, 7))
        assert rules.combined_progress([delayed], Status.IN_TRANSIT).warning == Warning.DELAY

    def test_a_consignment_warns_as_its_gravest_live_package(self):
        assert rules.consignment_warning([(3, 1), (5, 0)]) == Warning.DELAY
        assert rules.consignment_warning([(3, 1), (8, 2)]) == Warning.PROBLEM
        assert rules.consignment_warning([(10, 2), (5, 0)]) == Warning.NONE
        assert rules.consignment_warning([(10, 2)]) == Warning.PROBLEM
        assert rules.consignment_warning([]) == Warning.NONE
