"""Cases from other business-time libraries' published test suites, in our semantics.

Only the case data (start, amount, expected) is taken; each group names its source.
Where the source's semantics differ from ours, the comment says how and the case is
translated (or left out).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from complaintflow.time import BusinessCalendar, Duration


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


NINE_TO_FIVE = {"mon-fri": ["09:00-17:00"]}
PLUS_THREE = timezone(timedelta(hours=3))

# --- Ruby business_time gem (bokmann/business_time) ---------------------------------
# test/test_business_hours.rb and test/test_calculating_business_duration.rb. Default
# hours 09:00-17:00 Mon-Fri; work_hours {day: ["0:00", "0:00"]} means the whole day,
# which we write "00:00-24:00". Their business *days* keep the time of day (1 business
# day after Tue 11:00 is Wed 11:00) where ours end at the close of the day, so only
# their hour cases are used.

MON_FRI_SAT = {"mon": ["09:00-17:00"], "fri": ["09:00-17:00"], "sat": ["10:00-15:00"]}
WHOLE_MON_FRI = {"mon": ["00:00-24:00"], "fri": ["00:00-24:00"], "sat": ["11:00-15:00"]}


@pytest.mark.parametrize(
    ("hours", "extra_holidays", "start", "amount", "expected"),
    [
        (NINE_TO_FIVE, [], utc(2010, 8, 4, 9, 35), 8, utc(2010, 8, 5, 9, 35)),
        (NINE_TO_FIVE, [], utc(2010, 4, 9, 16, 50), 1, utc(2010, 4, 12, 9, 50)),
        (NINE_TO_FIVE, [date(2010, 7, 5)], utc(2010, 7, 2, 16, 50), 1, utc(2010, 7, 6, 9, 50)),
        (NINE_TO_FIVE, [], utc(2010, 4, 12, 9, 50), 3, utc(2010, 4, 12, 12, 50)),
        (MON_FRI_SAT, [], utc(2010, 12, 24, 15), 9, utc(2010, 12, 27, 11)),
        (MON_FRI_SAT, [], utc(2010, 12, 24, 8), 15, utc(2010, 12, 27, 11)),
        (WHOLE_MON_FRI, [], utc(2010, 12, 24, 15), 24, utc(2010, 12, 27, 11)),
        ({"fri": ["09:00-17:00"]}, [], utc(2010, 12, 24, 8), 8, utc(2010, 12, 24, 17)),
        (WHOLE_MON_FRI, [], utc(2010, 12, 25, 8), 15, utc(2010, 12, 27, 11)),
    ],
)
def test_business_time_gem_hour_cases(
    hours: dict[str, list[str]],
    extra_holidays: list[date],
    start: datetime,
    amount: int,
    expected: datetime,
) -> None:
    calendar = BusinessCalendar(working_hours=hours, extra_holidays=extra_holidays)
    assert calendar.add(start, Duration(amount, "bh")) == expected


@pytest.mark.parametrize(
    ("hours", "start", "end", "expected"),
    [
        (MON_FRI_SAT, utc(2010, 12, 24, 15), utc(2010, 12, 27, 11), timedelta(hours=9)),
        (WHOLE_MON_FRI, utc(2010, 12, 24, 15), utc(2010, 12, 27, 11), timedelta(hours=24)),
        (
            {"mon": ["00:00-24:00"], "fri-sun": ["00:00-24:00"]},
            utc(2010, 12, 24, 15),
            utc(2010, 12, 27, 11),
            timedelta(hours=68),
        ),
        (  # "May 28 11:04:26 +0300 2012" to "May 29 17:56:45 +0300 2012", hours in UTC
            {"mon-wed": ["09:00-18:00"]},
            datetime(2012, 5, 28, 11, 4, 26, tzinfo=PLUS_THREE),
            datetime(2012, 5, 29, 17, 56, 45, tzinfo=PLUS_THREE),
            timedelta(seconds=53805),
        ),
        (  # overnight: Monday 20:50 to Tuesday 08:10 with 08:00-20:00 days
            {"mon-tue": ["08:00-20:00"]},
            utc(2014, 5, 12, 20, 50),
            utc(2014, 5, 13, 8, 10),
            timedelta(minutes=10),
        ),
    ],
)
def test_business_time_gem_duration_cases(
    hours: dict[str, list[str]], start: datetime, end: datetime, expected: timedelta
) -> None:
    assert BusinessCalendar(working_hours=hours).elapsed(start, end) == expected


# --- Python businesstimedelta (seppemans/businesstimedelta) --------------------------
# businesstimedelta/test/businesstimedelta_tests.py: WorkDayRule 09:00-17:00 Mon-Fri
# in UTC; the README case adds a 12:00-13:00 LunchTimeRule to 09:00-18:00 days, which
# we write as two windows, and pyholidays.US(state="CA") as holidays.


@pytest.mark.parametrize(
    ("start", "amount", "expected"),
    [
        (utc(2016, 1, 23, 13, 14), 2, utc(2016, 1, 25, 11)),  # from a Saturday
        (utc(2016, 1, 22, 9), 8, utc(2016, 1, 22, 17)),  # exactly one day: its end
        (utc(2016, 1, 23, 13, 14), 12, utc(2016, 1, 26, 13)),
    ],
)
def test_businesstimedelta_addition_cases(start: datetime, amount: int, expected: datetime) -> None:
    calendar = BusinessCalendar(working_hours=NINE_TO_FIVE)
    assert calendar.add(start, Duration(amount, "bh")) == expected


def test_businesstimedelta_readme_lunch_break_week() -> None:
    calendar = BusinessCalendar(working_hours={"mon-fri": ["09:00-12:00", "13:00-18:00"]})
    start, end = utc(2016, 1, 18, 9), utc(2016, 1, 25, 9)
    assert calendar.elapsed(start, end) == timedelta(hours=40)
    assert calendar.add(start, Duration(40, "bh")) == utc(2016, 1, 22, 18)


def test_businesstimedelta_readme_california_christmas_week() -> None:
    calendar = BusinessCalendar(
        working_hours={"mon-fri": ["09:00-12:00", "13:00-18:00"]},
        holidays_country="US",
        holidays_subdiv="CA",
    )
    assert calendar.elapsed(utc(2015, 12, 21, 9), utc(2015, 12, 28, 9)) == timedelta(hours=32)


def test_businesstimedelta_readme_santiago_hours_seen_from_san_francisco() -> None:
    calendar = BusinessCalendar(
        timezone="America/Santiago", working_hours={"mon-fri": ["09:00-12:00", "13:00-18:00"]}
    )
    san_francisco = ZoneInfo("America/Los_Angeles")
    start = datetime(2016, 1, 18, 9, tzinfo=san_francisco)
    end = datetime(2016, 1, 18, 18, tzinfo=san_francisco)
    assert calendar.elapsed(start, end) == timedelta(hours=4)


# --- TypeScript ts-business-time (freetrade-io/ts-business-time) ---------------------
# tests/unit/BusinessTime/AddBusinessHours.test.ts: default 09:00-17:00 Mon-Fri in UTC.
# Their fractional hours (0.25, 8.25 ...) and negative amounts have no ``bh`` form; the
# lunch case excludes 13:00-14:00, which we write as two windows.


@pytest.mark.parametrize(
    ("start", "amount", "expected"),
    [
        (utc(2018, 5, 14, 0), 1, utc(2018, 5, 14, 10)),
        (utc(2018, 5, 14, 9, 15), 1, utc(2018, 5, 14, 10, 15)),
        (utc(2018, 5, 14, 16), 1, utc(2018, 5, 14, 17)),
        (utc(2018, 5, 14, 17), 1, utc(2018, 5, 15, 10)),
        (utc(2018, 5, 14, 23), 1, utc(2018, 5, 15, 10)),
        (utc(2018, 5, 18, 16), 1, utc(2018, 5, 18, 17)),
        (utc(2018, 5, 18, 17), 1, utc(2018, 5, 21, 10)),
        (utc(2018, 5, 19, 18), 1, utc(2018, 5, 21, 10)),
        (utc(2018, 5, 20, 7), 1, utc(2018, 5, 21, 10)),
        (utc(2018, 5, 14, 9), 8, utc(2018, 5, 14, 17)),
        (utc(2018, 5, 14, 9), 9, utc(2018, 5, 15, 10)),
        (utc(2018, 5, 14, 9), 16, utc(2018, 5, 15, 17)),
        (utc(2018, 5, 14, 9), 23, utc(2018, 5, 16, 16)),
        (utc(2018, 5, 14, 9), 24, utc(2018, 5, 16, 17)),
    ],
)
def test_ts_business_time_addition_cases(start: datetime, amount: int, expected: datetime) -> None:
    calendar = BusinessCalendar(working_hours=NINE_TO_FIVE)
    assert calendar.add(start, Duration(amount, "bh")) == expected


@pytest.mark.parametrize(
    ("amount", "expected"),
    [(4, utc(2018, 5, 14, 13)), (5, utc(2018, 5, 14, 15)), (12, utc(2018, 5, 15, 15))],
)
def test_ts_business_time_lunch_cases(amount: int, expected: datetime) -> None:
    calendar = BusinessCalendar(working_hours={"mon-fri": ["09:00-13:00", "14:00-17:00"]})
    assert calendar.add(utc(2018, 5, 14, 9), Duration(amount, "bh")) == expected


# --- Ruby biz gem (zendesk/biz) -----------------------------------------------------
# spec/biz_spec.rb: hours {sun: 11:00-12:00} in Africa/Abidjan (UTC+0).
# spec/time_spec.rb resolves a skipped 02:30 (spring) to 03:30, an hour later; we use
# 03:00, the moment the clock jumps, which keeps the mapping monotonic. Ambiguous
# times: both take the first (DST) occurrence.


def test_biz_sunday_only_schedule() -> None:
    calendar = BusinessCalendar(timezone="Africa/Abidjan", working_hours={"sun": ["11:00-12:00"]})
    assert calendar.add(utc(2006, 1, 1), Duration(2, "bh")) == utc(2006, 1, 8, 12)
    assert calendar.elapsed(utc(2006, 1, 1, 11, 30), utc(2006, 1, 8, 11, 30)) == timedelta(hours=1)
    assert calendar.is_working_time(utc(2006, 1, 1, 11))


def test_biz_ambiguous_window_boundary_takes_the_dst_occurrence() -> None:
    los_angeles = ZoneInfo("America/Los_Angeles")
    calendar = BusinessCalendar(
        timezone="America/Los_Angeles", working_hours={"sun": ["01:30-12:00"]}
    )
    [(start, _)] = calendar.working_windows(date(2014, 11, 2))
    assert start == datetime(2014, 11, 2, 1, 30, tzinfo=los_angeles, fold=0).astimezone(UTC)


# --- Perl Date::Manip, business mode ------------------------------------------------
# t/date.calc.date_delta_business.{2,3}.t as mirrored in autotest/autotest-client-tests
# (linux-tools/perl_Date_Manip): workday 09:00-17:30 (file 2) or 05:00-16:30 (file 3),
# Mon-Fri, America/New_York. Their deltas mix hours and minutes; ours are whole hours,
# so fractional ones go through add_working_time. Their "+ 2 days" keeps the time of
# day and is left out.

NEW_YORK = ZoneInfo("America/New_York")


@pytest.mark.parametrize(
    ("hours", "start", "working", "expected"),
    [
        ("09:00-17:30", (1996, 11, 20, 12, 0, 0), timedelta(hours=5), (1996, 11, 20, 17, 0, 0)),
        ("09:00-17:30", (1997, 3, 31, 16, 59, 59), timedelta(seconds=1), (1997, 3, 31, 17, 0, 0)),
        (
            "09:00-17:30",
            (2012, 4, 6, 17, 25, 0),
            timedelta(hours=8, minutes=15),
            (2012, 4, 9, 17, 10, 0),
        ),
        (
            "05:00-16:30",
            (2012, 4, 6, 16, 25, 0),
            timedelta(hours=10, minutes=15),
            (2012, 4, 9, 15, 10, 0),
        ),
    ],
)
def test_date_manip_business_delta_cases(
    hours: str, start: tuple[int, ...], working: timedelta, expected: tuple[int, ...]
) -> None:
    calendar = BusinessCalendar(timezone="America/New_York", working_hours={"mon-fri": [hours]})
    result = calendar.add_working_time(datetime(*start, tzinfo=NEW_YORK), working)
    assert result == datetime(*expected, tzinfo=NEW_YORK)


# --- RPCFN #10 "Business Hours" (rubylearning.com, 2010) -----------------------------
# As used in Sanghati/dry-cleaner-problem-in-ruby (dry_cleaner.rb): 09:00-15:00 by
# default, Friday 10:00-17:00, closed Sunday and Wednesday. Their per-date hours
# (Dec 24: 08:00-13:00) have no equivalent here and are left out.


def test_rpcfn_business_hours_cases() -> None:
    calendar = BusinessCalendar(
        working_hours={
            "mon-tue": ["09:00-15:00"],
            "thu": ["09:00-15:00"],
            "fri": ["10:00-17:00"],
            "sat": ["09:00-15:00"],
        }
    )
    assert calendar.add(utc(2010, 6, 7, 9, 10), Duration(2, "bh")) == utc(2010, 6, 7, 11, 10)
    # 15 minutes from Tuesday 14:48: 12 minutes Tuesday, Wednesday closed, 3 on Thursday.
    later = calendar.add_working_time(utc(2010, 6, 8, 14, 48), timedelta(minutes=15))
    assert later == utc(2010, 6, 10, 9, 3)
