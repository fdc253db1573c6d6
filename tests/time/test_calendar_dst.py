"""BusinessCalendar across daylight-saving switches (America/New_York, Europe/Berlin).

2026 switches: New York springs forward on Sun 8 March (02:00 -> 03:00) and falls back
on Sun 1 November (02:00 -> 01:00); Berlin springs forward on Sun 29 March
(02:00 -> 03:00) and falls back on Sun 25 October (03:00 -> 02:00).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from complaintflow.time import BusinessCalendar, Duration

NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
ALWAYS = {"mon-sun": ["00:00-24:00"]}
NIGHT_SHIFT = {"mon-sun": ["00:00-06:00", "22:00-24:00"]}


# Aware datetimes in a fold never compare equal across zones (PEP 495), so local
# times are written here and compared as the UTC instants they denote.
def ny(*args: int, fold: int = 0) -> datetime:
    return datetime(*args, tzinfo=NEW_YORK, fold=fold).astimezone(UTC)


def berlin(*args: int, fold: int = 0) -> datetime:
    return datetime(*args, tzinfo=BERLIN, fold=fold).astimezone(UTC)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# --- business hours -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "day", "hours"),
    [
        ("America/New_York", date(2026, 3, 8), 23),
        ("America/New_York", date(2026, 11, 1), 25),
        ("Europe/Berlin", date(2026, 3, 29), 23),
        ("Europe/Berlin", date(2026, 10, 25), 25),
        ("Europe/Berlin", date(2026, 10, 26), 24),
    ],
)
def test_a_whole_day_window_holds_the_real_length_of_the_day(
    zone: str, day: date, hours: int
) -> None:
    calendar = BusinessCalendar(timezone=zone, working_hours=ALWAYS)
    [(start, end)] = calendar.working_windows(day)
    assert end - start == timedelta(hours=hours)


def test_business_hours_over_spring_forward_count_real_hours() -> None:
    calendar = BusinessCalendar(timezone="America/New_York", working_hours=ALWAYS)
    assert calendar.add(ny(2026, 3, 8, 0), Duration(24, "bh")) == ny(2026, 3, 9, 1)
    assert calendar.add(ny(2026, 3, 8, 1), Duration(1, "bh")) == ny(2026, 3, 8, 3)


def test_business_hours_over_fall_back_count_the_repeated_hour() -> None:
    calendar = BusinessCalendar(timezone="America/New_York", working_hours=ALWAYS)
    assert calendar.add(ny(2026, 11, 1, 0), Duration(24, "bh")) == ny(2026, 11, 1, 23)
    assert calendar.add(ny(2026, 11, 1, 1, 30), Duration(1, "bh")) == ny(2026, 11, 1, 1, 30, fold=1)


def test_office_hours_keep_their_local_times_on_both_sides_of_the_switch() -> None:
    calendar = BusinessCalendar(timezone="America/New_York")
    # Friday 17:00 EST (22:00 UTC) + 2bh -> Monday 10:00 EDT (14:00 UTC).
    assert calendar.add(ny(2026, 3, 6, 17), Duration(2, "bh")) == utc(2026, 3, 9, 14)
    assert calendar.elapsed(ny(2026, 3, 6, 17), ny(2026, 3, 9, 10)) == timedelta(hours=2)
    assert calendar.add(ny(2026, 10, 30, 17), Duration(1, "bd")) == utc(2026, 11, 2, 23)


def test_night_shift_across_fall_back_lasts_nine_hours() -> None:
    calendar = BusinessCalendar(timezone="Europe/Berlin", working_hours=NIGHT_SHIFT)
    start, end = berlin(2026, 10, 24, 22), berlin(2026, 10, 25, 6)
    assert calendar.elapsed(start, end) == timedelta(hours=9)
    assert calendar.add(start, Duration(8, "bh")) == berlin(2026, 10, 25, 5)


def test_night_shift_across_spring_forward_lasts_seven_hours() -> None:
    calendar = BusinessCalendar(timezone="Europe/Berlin", working_hours=NIGHT_SHIFT)
    start, end = berlin(2026, 3, 28, 22), berlin(2026, 3, 29, 6)
    assert calendar.elapsed(start, end) == timedelta(hours=7)
    assert calendar.add(start, Duration(7, "bh")) == end


def test_window_starting_inside_the_gap_opens_when_the_clock_jumps() -> None:
    calendar = BusinessCalendar(timezone="America/New_York", working_hours={"sun": ["02:30-10:00"]})
    assert calendar.working_windows(date(2026, 3, 8)) == [(ny(2026, 3, 8, 3), ny(2026, 3, 8, 10))]


def test_window_ending_in_the_repeated_hour_ends_at_its_first_occurrence() -> None:
    calendar = BusinessCalendar(timezone="America/New_York", working_hours={"sun": ["00:00-01:30"]})
    [(start, end)] = calendar.working_windows(date(2026, 11, 1))
    assert end == ny(2026, 11, 1, 1, 30, fold=0)
    assert end - start == timedelta(hours=1, minutes=30)


# --- calendar units -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "start", "duration", "expected", "elapsed_hours"),
    [
        ("America/New_York", ny(2026, 3, 7, 12), Duration(1, "d"), ny(2026, 3, 8, 12), 23),
        ("America/New_York", ny(2026, 3, 7, 12), Duration(24, "h"), ny(2026, 3, 8, 13), 24),
        ("America/New_York", ny(2026, 3, 7, 12), Duration(1, "w"), ny(2026, 3, 14, 12), 167),
        ("America/New_York", ny(2026, 10, 31, 12), Duration(1, "d"), ny(2026, 11, 1, 12), 25),
        ("America/New_York", ny(2026, 10, 31, 12), Duration(24, "h"), ny(2026, 11, 1, 11), 24),
        ("Europe/Berlin", berlin(2026, 3, 28, 9), Duration(1, "d"), berlin(2026, 3, 29, 9), 23),
        ("Europe/Berlin", berlin(2026, 3, 28, 9), Duration(1440, "m"), berlin(2026, 3, 29, 10), 24),
        ("Europe/Berlin", berlin(2026, 10, 24, 9), Duration(1, "d"), berlin(2026, 10, 25, 9), 25),
        ("Europe/Berlin", berlin(2026, 10, 24, 9), timedelta(days=1), berlin(2026, 10, 25, 8), 24),
    ],
)
def test_days_keep_wall_time_while_hours_and_minutes_are_absolute(
    zone: str,
    start: datetime,
    duration: Duration | timedelta,
    expected: datetime,
    elapsed_hours: int,
) -> None:
    result = BusinessCalendar(timezone=zone).add(start, duration)
    assert result == expected
    assert result - start == timedelta(hours=elapsed_hours)


@pytest.mark.parametrize(
    ("zone", "start", "expected"),
    [
        # 02:30 does not exist on the target day: the moment the clock jumps (03:00).
        ("America/New_York", ny(2026, 3, 7, 2, 30), utc(2026, 3, 8, 7, 0)),
        ("Europe/Berlin", berlin(2026, 3, 28, 2, 30), utc(2026, 3, 29, 1, 0)),
        # 01:30 (New York) / 02:30 (Berlin) happen twice: the first occurrence.
        ("America/New_York", ny(2026, 10, 31, 1, 30), utc(2026, 11, 1, 5, 30)),
        ("Europe/Berlin", berlin(2026, 10, 24, 2, 30), utc(2026, 10, 25, 0, 30)),
    ],
)
def test_a_day_landing_on_a_skipped_or_repeated_wall_time_is_resolved_forward_and_first(
    zone: str, start: datetime, expected: datetime
) -> None:
    assert BusinessCalendar(timezone=zone).add(start, Duration(1, "d")) == expected
