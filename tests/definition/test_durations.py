from datetime import timedelta

import pytest

from complaintflow import Duration, DurationError


@pytest.mark.parametrize(
    ("text", "amount", "unit"),
    [
        ("24h", 24, "h"),
        ("30m", 30, "m"),
        ("8w", 8, "w"),
        ("60d", 60, "d"),
        ("8bh", 8, "bh"),
        ("3bd", 3, "bd"),
    ],
)
def test_each_unit_parses(text: str, amount: int, unit: str) -> None:
    parsed = Duration.parse(text)
    assert (parsed.amount, parsed.unit) == (amount, unit)
    assert str(parsed) == text


@pytest.mark.parametrize(
    "text",
    [
        "",
        "h",
        "24",
        "24 h",
        " 24h",
        "24h ",
        "1.5h",
        "-1h",
        "0h",
        "1h30m",
        "3BD",
        "3x",
        "２h",
        "1e3h",
    ],
)
def test_malformed_durations_are_refused(text: str) -> None:
    with pytest.raises(DurationError) as info:
        Duration.parse(text)
    assert info.value.text == text
    assert repr(text) in str(info.value)


@pytest.mark.parametrize("value", [3, 3.0, None, True, ["3h"]])
def test_non_strings_are_refused(value: object) -> None:
    with pytest.raises(DurationError, match="expected a string"):
        Duration.parse(value)


def test_calendar_durations_have_elapsed_lengths() -> None:
    assert Duration.parse("2w").as_timedelta() == timedelta(days=14)
    assert Duration.parse("8bh").as_timedelta() == timedelta(hours=8)


def test_business_days_have_no_fixed_length() -> None:
    with pytest.raises(DurationError, match="no fixed length"):
        Duration.parse("2bd").as_timedelta()


def test_business_units_are_flagged() -> None:
    assert Duration.parse("2bd").is_business
    assert not Duration.parse("2d").is_business
