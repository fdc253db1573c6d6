"""Properties of business-time arithmetic that hold for any start and any amount."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from complaintflow.time import BusinessCalendar, Duration

CONFIGS: dict[str, dict[str, object]] = {
    # Lunch break, public holidays and make-up working days.
    "china": {
        "name": "china",
        "timezone": "Asia/Shanghai",
        "working_hours": {"mon-fri": ["09:00-12:00", "13:30-18:00"]},
        "holidays_country": "CN",
    },
    # DST switches, a Saturday morning, US federal holidays.
    "new_york": {
        "name": "new_york",
        "timezone": "America/New_York",
        "working_hours": {"mon-fri": ["08:30-17:00"], "sat": ["09:00-12:00"]},
        "holidays_country": "US",
    },
    # Night shifts running over midnight and over both DST switches.
    "berlin_nights": {
        "name": "berlin_nights",
        "timezone": "Europe/Berlin",
        "working_hours": {"mon-fri": ["00:00-06:00", "22:00-24:00"], "sat": ["00:00-06:00"]},
        "holidays_country": "DE",
    },
}
CALENDARS = {name: BusinessCalendar(**config) for name, config in CONFIGS.items()}  # type: ignore[arg-type]

DST_SWITCHES = [  # New York and Berlin, 2024-2025
    datetime(2024, 3, 10, 7, tzinfo=UTC),
    datetime(2024, 3, 31, 1, tzinfo=UTC),
    datetime(2024, 10, 27, 1, tzinfo=UTC),
    datetime(2024, 11, 3, 6, tzinfo=UTC),
    datetime(2025, 3, 9, 7, tzinfo=UTC),
    datetime(2025, 3, 30, 1, tzinfo=UTC),
    datetime(2025, 10, 26, 1, tzinfo=UTC),
    datetime(2025, 11, 2, 6, tzinfo=UTC),
]
# Starts in 2024-2025 keep every result inside China's covered years (to 2026); a third
# of them fall within two days of a DST switch.
instants = st.one_of(
    st.datetimes(
        min_value=datetime(2024, 1, 1), max_value=datetime(2025, 12, 31), timezones=st.just(UTC)
    ),
    st.builds(
        lambda switch, offset: switch + timedelta(seconds=offset),
        st.sampled_from(DST_SWITCHES),
        st.integers(min_value=-2 * 86400, max_value=2 * 86400),
    ),
)
business_hours = st.integers(min_value=1, max_value=400)
business_days = st.integers(min_value=1, max_value=60)
calendar_names = st.sampled_from(sorted(CALENDARS))
examples = settings(max_examples=150, deadline=None)


@examples
@given(calendar_names, instants, business_hours)
def test_elapsed_inverts_adding_business_hours(name: str, start: datetime, hours: int) -> None:
    calendar = CALENDARS[name]
    deadline = calendar.add(start, Duration(hours, "bh"))
    assert calendar.elapsed(start, deadline) == timedelta(hours=hours)


@examples
@given(calendar_names, instants, business_hours)
def test_business_hour_deadline_lies_in_working_time_or_at_a_window_end(
    name: str, start: datetime, hours: int
) -> None:
    calendar = CALENDARS[name]
    deadline = calendar.add(start, Duration(hours, "bh"))
    just_before = deadline - timedelta(microseconds=1)
    assert calendar.is_working_time(just_before)
    assert deadline.tzinfo is UTC


@examples
@given(calendar_names, instants, instants, instants)
def test_elapsed_is_additive(name: str, a: datetime, b: datetime, c: datetime) -> None:
    a, b, c = sorted((a, b, c))
    calendar = CALENDARS[name]
    assert calendar.elapsed(a, b) + calendar.elapsed(b, c) == calendar.elapsed(a, c)


@examples
@given(calendar_names, instants, instants)
def test_elapsed_never_exceeds_wall_clock_time(name: str, a: datetime, b: datetime) -> None:
    elapsed = CALENDARS[name].elapsed(a, b)
    assert timedelta(0) <= elapsed <= max(b - a, timedelta(0))


@examples
@given(
    calendar_names,
    instants,
    instants,
    st.sampled_from(["bh", "bd", "h", "m"]),
    st.integers(min_value=1, max_value=60),
)
def test_later_starts_never_give_earlier_deadlines(
    name: str, first: datetime, second: datetime, unit: str, amount: int
) -> None:
    first, second = sorted((first, second))
    calendar = CALENDARS[name]
    duration = Duration(amount, unit)  # type: ignore[arg-type]
    assert calendar.add(first, duration) <= calendar.add(second, duration)


@examples
@given(calendar_names, instants, business_days, business_days)
def test_more_business_days_never_give_an_earlier_deadline(
    name: str, start: datetime, one: int, other: int
) -> None:
    calendar = CALENDARS[name]
    low, high = sorted((one, other))
    assert calendar.add(start, Duration(low, "bd")) <= calendar.add(start, Duration(high, "bd"))


@examples
@given(calendar_names, instants, business_days)
def test_business_days_end_at_the_close_of_a_later_working_day(
    name: str, start: datetime, days: int
) -> None:
    calendar = CALENDARS[name]
    deadline = calendar.add(start, Duration(days, "bd"))
    # The close of a day whose last window ends at 24:00 falls on the next date.
    local_day = (deadline - timedelta(microseconds=1)).astimezone(calendar.tzinfo).date()
    windows = calendar.working_windows(local_day)
    assert deadline == windows[-1][1]
    assert local_day > start.astimezone(calendar.tzinfo).date()


@examples
@given(calendar_names, instants)
def test_next_working_time_is_working_time_and_nothing_before_it_is(
    name: str, start: datetime
) -> None:
    calendar = CALENDARS[name]
    found = calendar.next_working_time(start)
    assert calendar.is_working_time(found)
    assert found >= start
    assert calendar.elapsed(start, found) == timedelta(0)


@pytest.mark.parametrize("name", sorted(CALENDARS))
def test_sixty_business_days_and_a_year_of_elapsed_time_are_fast(name: str) -> None:
    calendar = BusinessCalendar(**CONFIGS[name])  # type: ignore[arg-type]  # a cold cache
    began = time.perf_counter()
    calendar.add(datetime(2025, 1, 2, 10, tzinfo=UTC), Duration(60, "bd"))
    calendar.elapsed(datetime(2025, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC))
    assert time.perf_counter() - began < 0.5
