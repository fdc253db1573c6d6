"""BusinessCalendar with country CN agrees with the State Council's published schedule.

The data is NateScarlet/holiday-cn (MIT), one file per year, each day of the official
notice with ``isOffDay`` true (holiday) or false (make-up working day).
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest

from complaintflow.time import BusinessCalendar

DATA = Path(__file__).parents[2].parent / "shared" / "data"
YEARS = (2024, 2025, 2026)


def official_days(year: int) -> dict[date, bool]:
    """Each listed day of ``year``'s notice -> whether it is a working day."""
    path = DATA / f"holiday-cn_{year}.json"
    if not path.exists():
        pytest.skip(f"official calendar {path} is absent (shared data not checked out)")
    days = json.loads(path.read_text(encoding="utf-8"))["days"]
    return {date.fromisoformat(day["date"]): not day["isOffDay"] for day in days}


@pytest.fixture(scope="module")
def calendar() -> BusinessCalendar:
    return BusinessCalendar(name="cn", timezone="Asia/Shanghai", holidays_country="CN")


@pytest.mark.parametrize("year", YEARS)
def test_every_listed_day_of_the_notice_has_the_official_status(
    calendar: BusinessCalendar, year: int
) -> None:
    listed = official_days(year)
    assert listed, f"no days in the {year} file"
    wrong = {
        day: working for day, working in listed.items() if calendar.is_working_day(day) != working
    }
    assert wrong == {}


@pytest.mark.parametrize("year", YEARS)
def test_every_unlisted_day_is_an_ordinary_weekday_or_weekend(
    calendar: BusinessCalendar, year: int
) -> None:
    listed = official_days(year)
    day, wrong = date(year, 1, 1), []
    while day.year == year:
        if day not in listed and calendar.is_working_day(day) != (day.weekday() < 5):
            wrong.append(day)
        day += timedelta(days=1)
    assert wrong == []


@pytest.mark.parametrize("year", YEARS)
def test_notice_contains_both_holidays_and_make_up_working_days(year: int) -> None:
    # Guards the two tests above against a file that lists only one kind of day.
    statuses = set(official_days(year).values())
    assert statuses == {True, False}
