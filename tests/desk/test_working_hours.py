"""Working hours: weekends and the destination country's public holidays count no hours."""

import datetime as dt
import zoneinfo

from tests.desk.conftest import NOW, when
from tracking.desk import is_working_day, working_cutoff

LONDON = zoneinfo.ZoneInfo("Europe/London")
UTC = dt.UTC


def test_48_working_hours_before_a_tuesday_after_christmas_in_gb_reach_back_to_wednesday():
    # Tuesday 29th 0-10 h: 10 h; Monday 28th (Boxing Day observed), the weekend and Friday
    # 25th (Christmas Day) none; Thursday 24th: 24 h; Wednesday 23rd: the last 14 h.
    assert working_cutoff(NOW, 48, "GB", LONDON) == NOW - dt.timedelta(days=6)
    assert working_cutoff(NOW, 72, "GB", LONDON) == NOW - dt.timedelta(days=7)


def test_germany_works_on_the_28th():
    # The 28th is no holiday in Germany: Tuesday 10 h, Monday 24 h, Thursday 24th 14 h.
    assert working_cutoff(NOW, 48, "DE", LONDON) == when(24, 10) + dt.timedelta(
        microseconds=123_456
    )


def test_a_weekend_counts_no_hours():
    monday = dt.datetime(2026, 3, 9, 10, tzinfo=UTC)
    assert working_cutoff(monday, 24, "GB", LONDON) == dt.datetime(2026, 3, 6, 10, tzinfo=UTC)
    assert working_cutoff(monday, 5, "GB", LONDON) == dt.datetime(2026, 3, 9, 5, tzinfo=UTC)


def test_days_run_in_the_brand_time_zone():
    # Monday 1 June 2026, 00:30 in London is 23:30 UTC on Sunday: 30 minutes of Monday count,
    # then the last 30 minutes of Friday, which ends at 23:00 UTC (midnight in London).
    monday = dt.datetime(2026, 5, 31, 23, 30, tzinfo=UTC)
    assert working_cutoff(monday, 1, "GB", LONDON) == dt.datetime(2026, 5, 29, 22, 30, tzinfo=UTC)


def test_no_country_means_great_britain_and_an_unknown_one_weekends_only():
    assert not is_working_day(dt.date(2026, 12, 28), "")
    assert is_working_day(dt.date(2026, 12, 28), "XX")
    assert not is_working_day(dt.date(2026, 12, 26), "XX")
