"""BusinessCalendar: configuration, working days, and the semantics of each unit."""

from __future__ import annotations

import copy
import pickle
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from complaintflow.exceptions import CalendarConfigError, CalendarCoverageError, CalendarError
from complaintflow.time import BusinessCalendar, Duration

SHANGHAI = ZoneInfo("Asia/Shanghai")
LUNCH_BREAK = {"mon-fri": ["09:00-12:00", "13:30-18:00"]}


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def cst(*args: int) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


def china(**kwargs: object) -> BusinessCalendar:
    return BusinessCalendar(
        name="cn",
        timezone="Asia/Shanghai",
        holidays_country="CN",
        **kwargs,  # type: ignore[arg-type]
    )


# --- configuration ------------------------------------------------------------------


def test_default_calendar_works_monday_to_friday_nine_to_six_utc() -> None:
    calendar = BusinessCalendar()
    assert calendar.working_hours == {"mon-fri": ["09:00-18:00"]}
    assert calendar.working_windows(date(2026, 1, 5)) == [(utc(2026, 1, 5, 9), utc(2026, 1, 5, 18))]
    assert calendar.working_windows(date(2026, 1, 10)) == []


def test_working_hours_are_normalised_into_day_ranges() -> None:
    calendar = BusinessCalendar(
        working_hours={"mon": ["09:00-18:00"], "tue-fri": ["09:00-18:00"], "sat": ["10:00-14:00"]}
    )
    assert calendar.working_hours == {"mon-fri": ["09:00-18:00"], "sat": ["10:00-14:00"]}


@pytest.mark.parametrize(
    ("kwargs", "field", "fragment"),
    [
        ({"timezone": "Mars/Olympus"}, "timezone", "unknown time zone 'Mars/Olympus'"),
        ({"timezone": ""}, "timezone", "IANA name"),
        ({"working_hours": {"mon": ["9-18"]}}, "working_hours['mon'][0]", "'HH:MM-HH:MM'"),
        ({"working_hours": {"mon": ["18:00-09:00"]}}, "working_hours['mon'][0]", "backwards"),
        ({"working_hours": {"mon": ["09:00-09:00"]}}, "working_hours['mon'][0]", "empty"),
        ({"working_hours": {"mon": ["24:00-24:00"]}}, "working_hours['mon'][0]", "HH:MM"),
        (
            {"working_hours": {"mon": ["09:00-13:00", "12:00-18:00"]}},
            "working_hours['mon'][1]",
            "overlaps '09:00-13:00'",
        ),
        (
            {"working_hours": {"mon": ["13:00-18:00", "09:00-12:00"]}},
            "working_hours['mon'][1]",
            "comes before '13:00-18:00'",
        ),
        ({"working_hours": {"monday": ["09:00-18:00"]}}, "working_hours", "unknown day 'monday'"),
        ({"working_hours": {"fri-mon": ["09:00-18:00"]}}, "working_hours", "runs backwards"),
        (
            {"working_hours": {"mon-fri": ["09:00-18:00"], "fri": ["09:00-12:00"]}},
            "working_hours",
            "fri is given twice ('mon-fri' and 'fri')",
        ),
        ({"working_hours": {"mon-sun": []}}, "working_hours", "no day has working hours"),
        ({"working_hours": {}}, "working_hours", "no day has working hours"),
        ({"make_up_day_hours": []}, "make_up_day_hours", "at least one window"),
        ({"holidays_country": "ZZ"}, "holidays_country", "does not know country 'ZZ'"),
        (
            {"holidays_country": "US", "holidays_subdiv": "XX"},
            "holidays_subdiv",
            "no subdivision 'XX'; allowed: AK, AL",
        ),
        ({"holidays_subdiv": "CA"}, "holidays_subdiv", "needs holidays_country"),
        (
            {"extra_holidays": [datetime(2026, 5, 6, 9)]},
            "extra_holidays",
            "is not a date (datetime.date",
        ),
        ({"extra_holidays": "2026-05-06"}, "extra_holidays", "expected a list of dates"),
        (
            {"extra_holidays": [date(2026, 5, 6)], "extra_working_days": [date(2026, 5, 6)]},
            "extra_working_days",
            "2026-05-06 is also listed in extra_holidays",
        ),
        ({"covered_years": ["2027"]}, "covered_years", "is not a year"),
        ({"covered_years": 2027}, "covered_years", "expected a list of years"),
    ],
)
def test_invalid_configuration_raises_config_error_naming_the_field(
    kwargs: dict[str, object], field: str, fragment: str
) -> None:
    with pytest.raises(CalendarConfigError) as caught:
        BusinessCalendar(name="support", **kwargs)
    assert caught.value.calendar == "support"
    assert caught.value.field == field
    assert fragment in str(caught.value)
    assert str(caught.value).startswith(f"calendar 'support': {field}: ")


def test_config_error_is_a_calendar_error_and_a_value_error() -> None:
    with pytest.raises(CalendarConfigError) as caught:
        BusinessCalendar(timezone="Nowhere/Town")
    assert isinstance(caught.value, CalendarError)
    assert isinstance(caught.value, ValueError)
    assert caught.value.value == "Nowhere/Town"


def test_naive_datetimes_are_refused() -> None:
    calendar = BusinessCalendar()
    with pytest.raises(CalendarError, match="naive datetime 2026-01-05T10:00:00"):
        calendar.add(datetime(2026, 1, 5, 10), Duration(1, "bh"))
    with pytest.raises(CalendarError, match="naive"):
        calendar.elapsed(utc(2026, 1, 5), datetime(2026, 1, 6))


def test_a_datetime_is_refused_where_a_date_is_expected() -> None:
    with pytest.raises(CalendarError, match="expected a date"):
        BusinessCalendar().is_working_day(utc(2026, 1, 5, 10))


@pytest.mark.parametrize("duration", [Duration(0, "bh"), Duration(-1, "bd"), timedelta(hours=-1)])
def test_non_positive_durations_are_refused(duration: Duration | timedelta) -> None:
    with pytest.raises(CalendarError):
        BusinessCalendar().add(utc(2026, 1, 5, 10), duration)


def test_calendar_is_immutable() -> None:
    calendar = BusinessCalendar()
    with pytest.raises(AttributeError, match="immutable"):
        calendar.name = "other"
    with pytest.raises(AttributeError, match="immutable"):
        calendar._tz = ZoneInfo("UTC")


def test_calendars_with_equal_configuration_are_equal_and_hash_alike() -> None:
    one = BusinessCalendar(working_hours={"mon": ["09:00-18:00"], "tue-fri": ["09:00-18:00"]})
    two = BusinessCalendar(working_hours={"mon-fri": ["09:00-18:00"]})
    assert one == two
    assert hash(one) == hash(two)
    assert one != BusinessCalendar(timezone="Asia/Shanghai")
    assert one != "default"


@pytest.mark.parametrize("clone", [copy.deepcopy, lambda c: pickle.loads(pickle.dumps(c))])
def test_copies_and_pickles_are_equal_working_calendars(clone: object) -> None:
    calendar = china(
        working_hours=LUNCH_BREAK,
        extra_holidays=[date(2026, 1, 6)],
        extra_working_days=[date(2026, 1, 10)],
        make_up_day_hours=["09:00-12:00"],
        covered_years=[2027],
    )
    calendar.is_working_day(date(2026, 1, 5))  # fill the cache first
    copied = clone(calendar)  # type: ignore[operator]
    assert copied == calendar
    assert copied is not calendar
    saturday = date(2026, 1, 10)
    assert copied.working_windows(saturday) == [(cst(2026, 1, 10, 9), cst(2026, 1, 10, 12))]


def test_repr_shows_name_zone_hours_and_country() -> None:
    text = repr(china(working_hours=LUNCH_BREAK, covered_years=[2027]))
    assert text == (
        "BusinessCalendar(name='cn', timezone='Asia/Shanghai', "
        "working_hours={'mon-fri': ['09:00-12:00', '13:30-18:00']}, "
        "holidays_country='CN', covered_years=[2027])"
    )


# --- working days and instants ------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (date(2026, 1, 4), True),  # Sunday, make-up working day for New Year
        (date(2026, 2, 14), True),  # Saturday, make-up working day for Spring Festival
        (date(2026, 10, 1), False),  # National Day
        (date(2026, 1, 5), True),  # ordinary Monday
        (date(2026, 1, 10), False),  # ordinary Saturday
    ],
)
def test_china_working_days_follow_the_state_council_notice(day: date, working: bool) -> None:
    assert china().is_working_day(day) is working


def test_make_up_day_on_a_weekend_uses_the_monday_windows_by_default() -> None:
    calendar = china(working_hours=LUNCH_BREAK)
    assert calendar.make_up_day_hours == ["09:00-12:00", "13:30-18:00"]
    assert calendar.working_windows(date(2026, 2, 14)) == [
        (cst(2026, 2, 14, 9), cst(2026, 2, 14, 12)),
        (cst(2026, 2, 14, 13, 30), cst(2026, 2, 14, 18)),
    ]


def test_make_up_day_hours_replace_the_default_windows() -> None:
    calendar = china(make_up_day_hours=["09:00-12:00"])
    assert calendar.working_windows(date(2026, 2, 14)) == [
        (cst(2026, 2, 14, 9), cst(2026, 2, 14, 12))
    ]


def test_extra_holidays_and_extra_working_days_override_the_package() -> None:
    calendar = china(
        extra_holidays=[date(2026, 1, 6), date(2026, 1, 4)],
        extra_working_days=[date(2026, 10, 2), date(2026, 1, 10)],
    )
    assert not calendar.is_working_day(date(2026, 1, 6))  # ordinary Tuesday
    assert not calendar.is_working_day(date(2026, 1, 4))  # package make-up day
    assert calendar.is_working_day(date(2026, 10, 2))  # National Day
    assert calendar.is_working_day(date(2026, 1, 10))  # ordinary Saturday


def test_working_windows_are_returned_in_utc() -> None:
    calendar = BusinessCalendar(timezone="Asia/Shanghai", working_hours=LUNCH_BREAK)
    windows = calendar.working_windows(date(2026, 1, 5))
    assert windows == [
        (utc(2026, 1, 5, 1), utc(2026, 1, 5, 4)),
        (utc(2026, 1, 5, 5, 30), utc(2026, 1, 5, 10)),
    ]
    assert all(start.tzinfo is UTC and end.tzinfo is UTC for start, end in windows)


@pytest.mark.parametrize(
    ("instant", "working"),
    [
        (cst(2026, 1, 5, 8, 59), False),
        (cst(2026, 1, 5, 9, 0), True),  # a window includes its start
        (cst(2026, 1, 5, 11, 59), True),
        (cst(2026, 1, 5, 12, 0), False),  # ... and excludes its end
        (cst(2026, 1, 5, 13, 0), False),  # lunch
        (cst(2026, 1, 5, 13, 30), True),
        (cst(2026, 1, 10, 10, 0), False),  # Saturday
        (utc(2026, 1, 5, 2), True),  # 10:00 in Shanghai, asked in UTC
    ],
)
def test_is_working_time_respects_windows(instant: datetime, working: bool) -> None:
    calendar = BusinessCalendar(timezone="Asia/Shanghai", working_hours=LUNCH_BREAK)
    assert calendar.is_working_time(instant) is working


@pytest.mark.parametrize(
    ("instant", "expected"),
    [
        (cst(2026, 1, 5, 10, 15), cst(2026, 1, 5, 10, 15)),
        (cst(2026, 1, 5, 12, 0), cst(2026, 1, 5, 13, 30)),
        (cst(2026, 1, 5, 18, 0), cst(2026, 1, 6, 9, 0)),
        (cst(2026, 1, 9, 19, 0), cst(2026, 1, 12, 9, 0)),
        (cst(2026, 9, 30, 18, 0), cst(2026, 10, 8, 9, 0)),  # across National Day week
    ],
)
def test_next_working_time_is_the_instant_itself_or_the_next_window_start(
    instant: datetime, expected: datetime
) -> None:
    result = china(working_hours=LUNCH_BREAK).next_working_time(instant)
    assert result == expected
    assert result.tzinfo is UTC


# --- business hours -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "hours", "expected"),
    [
        (cst(2026, 1, 5, 9, 0), 3, cst(2026, 1, 5, 12, 0)),  # ends exactly at lunch
        (cst(2026, 1, 5, 10, 0), 3, cst(2026, 1, 5, 14, 30)),  # skips the lunch break
        (cst(2026, 1, 5, 12, 30), 1, cst(2026, 1, 5, 14, 30)),  # starts in the break
        (cst(2026, 1, 5, 8, 0), 8, cst(2026, 1, 6, 9, 30)),  # a day holds 8.5 hours
        (cst(2026, 1, 5, 13, 30), 4, cst(2026, 1, 5, 17, 30)),
        (cst(2026, 1, 5, 14, 0), 4, cst(2026, 1, 5, 18, 0)),  # window end, not next morning
        (cst(2026, 1, 9, 17, 0), 2, cst(2026, 1, 12, 10, 0)),  # over the weekend
        (cst(2026, 1, 10, 11, 0), 1, cst(2026, 1, 12, 10, 0)),  # from a Saturday
        (cst(2026, 9, 30, 17, 0), 2, cst(2026, 10, 8, 10, 0)),  # over National Day
        (cst(2026, 2, 13, 17, 0), 2, cst(2026, 2, 14, 10, 0)),  # into a make-up Saturday
    ],
)
def test_business_hours_count_only_working_time(
    start: datetime, hours: int, expected: datetime
) -> None:
    result = china(working_hours=LUNCH_BREAK).add(start, Duration(hours, "bh"))
    assert result == expected
    assert result.tzinfo is UTC


def test_business_hours_run_through_a_window_ending_at_midnight() -> None:
    calendar = BusinessCalendar(working_hours={"mon-fri": ["18:00-24:00"]})
    assert calendar.add(utc(2026, 1, 5, 22), Duration(2, "bh")) == utc(2026, 1, 6, 0)
    assert calendar.add(utc(2026, 1, 5, 23), Duration(2, "bh")) == utc(2026, 1, 6, 19)
    assert calendar.add(utc(2026, 1, 9, 23), Duration(2, "bh")) == utc(2026, 1, 12, 19)


def test_business_hours_run_straight_through_an_overnight_shift() -> None:
    calendar = BusinessCalendar(working_hours={"mon-sun": ["00:00-06:00", "22:00-24:00"]})
    assert calendar.add(utc(2026, 1, 5, 23), Duration(3, "bh")) == utc(2026, 1, 6, 2)
    assert calendar.elapsed(utc(2026, 1, 5, 21), utc(2026, 1, 6, 7)) == timedelta(hours=8)


def test_elapsed_counts_only_working_time() -> None:
    calendar = china(working_hours=LUNCH_BREAK)
    assert calendar.elapsed(cst(2026, 1, 5, 10), cst(2026, 1, 5, 14)) == timedelta(
        hours=2, minutes=30
    )
    assert calendar.elapsed(cst(2026, 1, 9, 17), cst(2026, 1, 12, 10)) == timedelta(hours=2)
    assert calendar.elapsed(cst(2026, 1, 5, 14), cst(2026, 1, 5, 10)) == timedelta(0)


def test_elapsed_over_a_year_of_china_counts_the_official_working_days() -> None:
    # 2025: 248 working days (365 - 104 weekend days - 19 holidays + 6 make-up days ...).
    calendar = china()
    assert calendar.elapsed(cst(2025, 1, 1), cst(2026, 1, 1)) == timedelta(hours=9 * 248)


def test_add_working_time_takes_a_timedelta_of_business_time() -> None:
    calendar = china(working_hours=LUNCH_BREAK)
    rest = timedelta(hours=3, minutes=25)
    deadline = calendar.add_working_time(cst(2026, 1, 5, 16), rest)
    assert deadline == cst(2026, 1, 6, 10, 25)
    assert calendar.elapsed(cst(2026, 1, 5, 16), deadline) == rest


# --- business days ------------------------------------------------------------------


@pytest.mark.parametrize(
    "start",
    [
        utc(2026, 1, 5, 0, 0),
        utc(2026, 1, 5, 8, 0),  # before opening
        utc(2026, 1, 5, 10, 0),  # in working time
        utc(2026, 1, 5, 17, 59),
        utc(2026, 1, 5, 23, 59),  # after closing
    ],
)
def test_one_business_day_from_any_time_on_monday_ends_at_tuesday_close(start: datetime) -> None:
    assert BusinessCalendar().add(start, Duration(1, "bd")) == utc(2026, 1, 6, 18)


@pytest.mark.parametrize(
    ("start", "days", "expected"),
    [
        (utc(2026, 1, 9, 10), 1, utc(2026, 1, 12, 18)),  # Friday -> Monday
        (utc(2026, 1, 10, 10), 1, utc(2026, 1, 12, 18)),  # Saturday -> Monday
        (utc(2026, 1, 11, 10), 1, utc(2026, 1, 12, 18)),  # Sunday -> Monday
        (utc(2026, 1, 5, 10), 5, utc(2026, 1, 12, 18)),
        (utc(2026, 1, 5, 10), 10, utc(2026, 1, 19, 18)),
    ],
)
def test_business_days_skip_the_start_day_and_days_off(
    start: datetime, days: int, expected: datetime
) -> None:
    assert BusinessCalendar().add(start, Duration(days, "bd")) == expected


@pytest.mark.parametrize(
    ("days", "expected"),
    [
        (1, cst(2026, 10, 8, 18)),  # Oct 1-7 are the National Day holiday
        (2, cst(2026, 10, 9, 18)),
        (3, cst(2026, 10, 10, 18)),  # Saturday 10 Oct is a make-up working day
        (4, cst(2026, 10, 12, 18)),
    ],
)
def test_business_days_in_china_skip_holidays_and_count_make_up_days(
    days: int, expected: datetime
) -> None:
    calendar = china(working_hours=LUNCH_BREAK)
    assert calendar.add(cst(2026, 9, 30, 10), Duration(days, "bd")) == expected


def test_business_day_close_is_the_end_of_the_last_window_of_that_day() -> None:
    calendar = china(make_up_day_hours=["09:00-12:00"])
    assert calendar.add(cst(2026, 10, 9, 10), Duration(1, "bd")) == cst(2026, 10, 10, 12)


# --- calendar units -----------------------------------------------------------------


def test_minutes_hours_and_timedeltas_are_elapsed_time_regardless_of_the_calendar() -> None:
    calendar = china()
    start = cst(2026, 10, 1, 23, 50)  # a holiday, at night
    assert calendar.add(start, Duration(30, "m")) == cst(2026, 10, 2, 0, 20)
    assert calendar.add(start, Duration(24, "h")) == cst(2026, 10, 2, 23, 50)
    assert calendar.add(start, timedelta(hours=1)) == cst(2026, 10, 2, 0, 50)


def test_days_and_weeks_keep_the_local_wall_time() -> None:
    calendar = BusinessCalendar(timezone="Asia/Shanghai")
    start = cst(2026, 1, 5, 23, 30)
    assert calendar.add(start, Duration(3, "d")) == cst(2026, 1, 8, 23, 30)
    assert calendar.add(start, Duration(2, "w")) == cst(2026, 1, 19, 23, 30)


def test_calendar_units_need_no_holiday_data() -> None:
    calendar = china()
    assert calendar.add(cst(2030, 1, 1, 10), Duration(1, "d")) == cst(2030, 1, 2, 10)


# --- coverage -----------------------------------------------------------------------


def test_china_business_time_into_an_uncovered_year_raises_coverage_error() -> None:
    calendar = china()
    with pytest.raises(CalendarCoverageError) as caught:
        calendar.add(cst(2026, 12, 20, 10), Duration(20, "bd"))
    error = caught.value
    assert (error.calendar, error.year) == ("cn", 2027)
    assert error.covered[0] <= 2024
    assert error.covered[-1] == 2026
    assert "no real holiday data for 2027" in str(error)
    assert "extra_holidays / extra_working_days, or set covered_years" in str(error)


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.is_working_day(date(2027, 3, 1)),
        lambda c: c.working_windows(date(2027, 3, 1)),
        lambda c: c.is_working_time(cst(2027, 3, 1, 10)),
        lambda c: c.elapsed(cst(2026, 12, 31, 10), cst(2027, 1, 4, 10)),
        lambda c: c.add(cst(2026, 12, 31, 17), Duration(8, "bh")),
        lambda c: c.check_coverage(2027),
    ],
)
def test_every_business_query_touching_an_uncovered_year_raises(call: object) -> None:
    with pytest.raises(CalendarCoverageError):
        call(china())


def test_covered_years_of_china_come_from_the_package_decrees() -> None:
    calendar = china()
    covered = calendar.covered_years
    assert covered is not None
    assert {2024, 2025, 2026} <= set(covered)
    assert 2027 not in covered
    assert calendar.covers(2026)
    assert not calendar.covers(2027)


def test_declared_covered_years_trust_the_package_for_that_year() -> None:
    calendar = china(covered_years=[2027])
    assert calendar.add(cst(2026, 12, 31, 17), Duration(1, "bd")) == cst(2027, 1, 4, 18)
    assert not calendar.is_working_day(date(2027, 2, 9))  # the package's guess applies
    assert calendar.covered_years is not None
    assert 2027 in calendar.covered_years


def test_listed_days_cover_their_year_and_replace_the_package_guesses() -> None:
    calendar = china(extra_holidays=[date(2027, 1, 1)])
    assert calendar.covers(2027)
    assert not calendar.is_working_day(date(2027, 1, 1))
    assert calendar.is_working_day(date(2027, 2, 9))  # the package guesses a holiday here
    assert calendar.add(cst(2026, 12, 31, 17), Duration(1, "bd")) == cst(2027, 1, 4, 18)


def test_calendar_without_country_covers_every_year() -> None:
    calendar = BusinessCalendar()
    assert calendar.covered_years is None
    assert calendar.covers(2150)
    assert calendar.is_working_day(date(2150, 1, 5))


def test_years_with_estimated_holidays_are_not_covered() -> None:
    # holidays 0.109 only estimates Egypt's Islamic holidays from 2026 on; the US has none.
    egypt = BusinessCalendar(holidays_country="EG")
    assert egypt.covers(2025)
    assert not egypt.covers(2027)
    assert BusinessCalendar(holidays_country="US").covers(2027)


def test_reads_from_many_threads_agree_with_a_single_thread() -> None:
    days = [date(2024, 1, 1) + timedelta(days=n) for n in range(3 * 365)]
    reference = china()
    expected = [reference.is_working_day(day) for day in days]
    calendar = china()
    barrier = threading.Barrier(8)

    def read(offset: int) -> list[bool]:
        barrier.wait()
        shifted = days[offset:] + days[:offset]
        results = [calendar.is_working_day(day) for day in shifted]
        return results[-offset:] + results[:-offset] if offset else results

    with ThreadPoolExecutor(max_workers=8) as pool:
        for result in pool.map(read, range(0, 800, 100)):
            assert result == expected
