"""Durations as process designers write them: ``24h``, ``30m``, ``8w``, ``8bh``, ``3bd``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

from complaintflow.exceptions import DurationError

Unit = Literal["m", "h", "d", "w", "bh", "bd"]

_PATTERN = re.compile(r"(?P<amount>[0-9]+)(?P<unit>bh|bd|m|h|d|w)")
_CALENDAR_SECONDS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_UNIT_NAMES = {
    "m": "minutes",
    "h": "hours",
    "d": "days",
    "w": "weeks",
    "bh": "business hours",
    "bd": "business days",
}
DURATION_PATTERN = r"^[0-9]+(m|h|d|w|bh|bd)$"


@dataclass(frozen=True, order=True)
class Duration:
    """An amount of calendar time (``m h d w``) or business time (``bh bd``).

    Calendar minutes and hours are elapsed time; calendar days and weeks keep the
    local time of day (see ``docs/business-time.md``). Business hours count only
    working time; business days end at the close of the N-th working day.
    """

    amount: int
    unit: Unit

    @property
    def is_business(self) -> bool:
        """True for business hours and business days."""
        return self.unit in ("bh", "bd")

    def as_timedelta(self) -> timedelta:
        """The elapsed time of a calendar duration, or of business hours.

        Raises:
            DurationError: for business days, whose length depends on the calendar.
        """
        if self.unit == "bd":
            raise DurationError(str(self), "business days have no fixed length")
        if self.unit == "bh":
            return timedelta(hours=self.amount)
        return timedelta(seconds=self.amount * _CALENDAR_SECONDS[self.unit])

    def describe(self) -> str:
        """Human form, e.g. ``3 business days``."""
        return f"{self.amount} {_UNIT_NAMES[self.unit]}"

    def __str__(self) -> str:
        return f"{self.amount}{self.unit}"

    @classmethod
    def parse(cls, text: object) -> Duration:
        """Parse ``24h``, ``30m``, ``8w``, ``60d``, ``8bh`` or ``3bd`` strictly.

        A whole number followed by exactly one unit; no spaces, signs, fractions
        or compound forms.

        Raises:
            DurationError: with what was wrong and what is allowed.
        """
        if isinstance(text, Duration):
            return text
        if isinstance(text, bool) or not isinstance(text, str):
            raise DurationError(text, "expected a string like '24h', '30m', '8bh' or '3bd'")
        match = _PATTERN.fullmatch(text)
        if match is None:
            raise DurationError(
                text,
                "expected a whole number followed by one unit: m, h, d, w "
                "(calendar time) or bh, bd (business hours / days), e.g. '24h' or '3bd'",
            )
        amount = int(match["amount"])
        if amount <= 0:
            raise DurationError(text, "a duration must be greater than zero")
        return cls(amount, match["unit"])  # type: ignore[arg-type]

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: type[Any], handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        def validate(value: object) -> Duration:
            try:
                return cls.parse(value)
            except DurationError as exc:
                raise ValueError(exc.reason) from exc

        return core_schema.no_info_plain_validator_function(
            validate, serialization=core_schema.plain_serializer_function_ser_schema(str)
        )

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {
            "type": "string",
            "pattern": DURATION_PATTERN,
            "description": "m/h/d/w = calendar time, bh/bd = business hours/days",
            "examples": ["24h", "30m", "8bh", "3bd"],
        }
