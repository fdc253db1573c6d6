"""The one source of "now": an injectable clock."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from datetime import UTC, datetime, timedelta


class Clock(ABC):
    """Tells the current time. Everything in complaintflow asks a ``Clock``, never the OS."""

    @abstractmethod
    def now(self) -> datetime:
        """The current instant, timezone-aware, in UTC."""


class SystemClock(Clock):
    """The real time."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class FakeClock(Clock):
    """A clock that only moves when told to: for tests, simulations and replays.

    Safe to share between threads.
    """

    def __init__(self, start: datetime | None = None) -> None:
        start = start or datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
        self._now = _require_aware(start)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, delta: timedelta) -> datetime:
        """Move forward by ``delta`` (never backwards) and return the new now."""
        if delta < timedelta(0):
            raise ValueError("a FakeClock never moves backwards")
        with self._lock:
            self._now += delta
            return self._now

    def set(self, instant: datetime) -> None:
        """Jump to ``instant``, which must not be earlier than now."""
        instant = _require_aware(instant)
        with self._lock:
            if instant < self._now:
                raise ValueError("a FakeClock never moves backwards")
            self._now = instant


def _require_aware(instant: datetime) -> datetime:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError("datetimes must be timezone-aware")
    return instant.astimezone(UTC)
