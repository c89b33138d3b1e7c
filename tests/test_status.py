"""The status rules, exhaustively, with no database."""

import datetime as dt
import itertools

import pytest

from tracking import status as rules
from tracking.status import Stage, Status, StatusKey


def key(hours: float, status: int, received: float | None = None) -> StatusKey:
    base = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    occurred = base + dt.timedelta(hours=hours)
    received_at = base + dt.timedelta(hours=received if received is not None else hours)
    return StatusKey(occurred, received_at, status)


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


class TestDerivedStatus:
    def test_no_events_is_unknown(self):
        assert rules.derived_status([]) == Status.UNKNOWN

    def test_the_newest_event_sets_the_status(self):
        keys = [key(1, Status.DISPATCHED), key(2, Status.IN_TRANSIT), key(3, Status.DELIVERED)]
        assert rules.derived_status(keys) == Status.DELIVERED

    def test_a_late_event_with_an_older_time_never_moves_the_status_back(self):
        keys = [key(1, Status.DISPATCHED), key(5, Status.DELIVERED), key(3, Status.IN_TRANSIT, 9)]
        assert rules.derived_status(keys) == Status.DELIVERED

    def test_unknown_events_do_not_change_the_status(self):
        keys = [key(1, Status.IN_TRANSIT), key(2, Status.UNKNOWN)]
        assert rules.derived_status(keys) == Status.IN_TRANSIT

    @pytest.mark.parametrize("received", [(1, 2), (2, 1)])
    @pytest.mark.parametrize(
        ("one", "other", "winner"),
        [
            (Status.DELIVERED, Status.EXCEPTION, Status.EXCEPTION),  # a problem over any stage
            (Status.DELIVERED, Status.IN_TRANSIT, Status.DELIVERED),  # then the later stage
            (Status.PRINTED, Status.MANIFESTED, Status.MANIFESTED),  # then the status
            (Status.EXCEPTION, Status.CANCELLED, Status.CANCELLED),
        ],
    )
    def test_a_tie_on_time_is_settled_by_a_fixed_order_not_by_which_came_last(
        self, one, other, winner, received
    ):
        keys = [key(1, one, received=received[0]), key(1, other, received=received[1])]
        assert rules.derived_status(keys) == winner
        assert rules.derived_status(reversed(keys)) == winner

    def test_keys_at_one_instant_with_one_status_are_equal_whenever_received(self):
        assert key(1, Status.IN_TRANSIT, received=1) == key(1, Status.IN_TRANSIT, received=5)
        assert key(1, Status.IN_TRANSIT) < key(1, Status.OUT_FOR_DELIVERY) < key(2, 1)

    def test_the_order_events_are_given_in_never_matters(self):
        keys = [key(1, 2), key(2, 3), key(2, 8), key(3, 0), key(2.5, 7, 1)]
        results = {rules.derived_status(p) for p in itertools.permutations(keys)}
        assert results == {Status.ATTEMPTED_DELIVERY}

    def test_none_keys_are_ignored(self):
        assert rules.newest([None, key(1, 3), None]) == key(1, 3)


class TestProgress:
    @pytest.mark.parametrize(
        ("status", "stage"),
        [
            (Status.UNKNOWN, Stage.LABEL_CREATED),
            (Status.PRINTED, Stage.LABEL_CREATED),
            (Status.AWAITING_COLLECTION, Stage.LABEL_CREATED),
            (Status.MANIFESTED, Stage.LABEL_CREATED),
            (Status.DISPATCHED, Stage.DISPATCHED),
            (Status.IN_TRANSIT, Stage.IN_TRANSIT),
            (Status.OUT_FOR_DELIVERY, Stage.OUT_FOR_DELIVERY),
            (Status.PICKUP_IN_STORE, Stage.OUT_FOR_DELIVERY),
            (Status.ATTEMPTED_DELIVERY, Stage.OUT_FOR_DELIVERY),
            (Status.DELIVERED, Stage.DELIVERED),
        ],
    )
    def test_each_status_has_its_stage(self, status, stage):
        assert rules.progress([key(1, status)]).stage == stage

    def test_an_exception_is_a_warning_at_the_stage_reached(self):
        progress = rules.progress([key(1, 2), key(2, 3), key(3, Status.EXCEPTION)])
        assert progress.stage == Stage.IN_TRANSIT
        assert progress.warning == Status.EXCEPTION
        assert progress.status == Status.EXCEPTION

    def test_a_cancellation_is_a_warning_at_the_stage_reached(self):
        progress = rules.progress([key(1, Status.PRINTED), key(2, Status.CANCELLED)])
        assert progress.stage == Stage.LABEL_CREATED
        assert progress.warning == Status.CANCELLED

    def test_a_failed_attempt_is_out_for_delivery_with_a_warning(self):
        progress = rules.progress([key(1, 4), key(2, Status.ATTEMPTED_DELIVERY)])
        assert (progress.stage, progress.warning) == (
            Stage.OUT_FOR_DELIVERY,
            Status.ATTEMPTED_DELIVERY,
        )

    def test_an_exception_cleared_by_a_later_scan_has_no_warning(self):
        progress = rules.progress([key(1, 3), key(2, 8), key(3, 4)])
        assert (progress.stage, progress.warning) == (Stage.OUT_FOR_DELIVERY, None)

    def test_steps_mark_done_current_and_upcoming(self):
        states = [s["state"] for s in rules.progress([key(1, 3)]).steps()]
        assert states == ["done", "done", "current", "upcoming", "upcoming"]
        delivered = [s["state"] for s in rules.progress([key(1, 5)]).steps()]
        assert delivered == ["done"] * 5

    def test_percent_runs_from_zero_to_a_hundred(self):
        assert rules.progress([]).percent == 0
        assert rules.progress([key(1, 3)]).percent == 50
        assert rules.progress([key(1, 5)]).percent == 100


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
        slow, fast = rules.progress([key(1, 2)]), rules.progress([key(1, 5)])
        cancelled = rules.progress([key(1, 10)])
        combined = rules.combined_progress([fast, slow, cancelled], Status.DISPATCHED)
        assert combined.stage == Stage.DISPATCHED
        assert combined.warning is None
        warned = rules.combined_progress([fast, slow], Status.EXCEPTION)
        assert warned.warning == Status.EXCEPTION
