"""Business calendars: working hours, public holidays and make-up working days (调休).

A :class:`BusinessCalendar` turns a duration such as ``8bh`` or ``3bd`` into a deadline
and measures the working time between two instants. The rules are spelled out, with
worked examples, in ``docs/business-time.md``.
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays as holidays_package

from complaintflow.exceptions import CalendarConfigError, CalendarCoverageError, CalendarError
from complaintflow.time._durations import Duration

Window = tuple[datetime, datetime]
"""A span of working time ``[start, end)``, both ends UTC-aware."""

_Minutes = tuple[tuple[int, int], ...]  # windows as minutes after local midnight, end <= 1440

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WINDOW = re.compile(
    r"(?P<sh>[01][0-9]|2[0-3]):(?P<sm>[0-5][0-9])-"
    r"(?:(?P<eh>[01][0-9]|2[0-3]):(?P<em>[0-5][0-9])|(?P<midnight>24:00))"
)
_DEFAULT_WORKING_HOURS: Mapping[str, Sequence[str]] = {"mon-fri": ["09:00-18:00"]}
# No real calendar goes a year without working time; past this we stop instead of looping.
_MAX_IDLE_DAYS = 400


class BusinessCalendar:
    """Working hours in one time zone, minus public holidays, plus make-up working days.

    A date is a working day iff it has working windows: it is listed in
    ``extra_working_days``, or it is a make-up working day of the holiday package, or
    its weekday has working hours and it is neither a public holiday nor listed in
    ``extra_holidays``. The designer's lists win over the package in both directions.

    Immutable and safe to share between threads. Per-day windows are cached.

    Args:
        name: names the calendar in error messages.
        timezone: IANA zone the working hours are written in, e.g. ``Asia/Shanghai``.
        working_hours: ``{"mon-fri": ["09:00-12:00", "13:30-18:00"], "sat": [...]}``;
            keys are days (``mon`` … ``sun``) or forward ranges (``mon-fri``), values are
            windows ``HH:MM-HH:MM`` in order, without overlap; ``24:00`` may end a window.
            Days not mentioned have no working hours. Default: mon-fri 09:00-18:00.
        holidays_country: ISO code known to the ``holidays`` package, e.g. ``CN``.
        holidays_subdiv: subdivision of that country, e.g. ``CA`` for the US.
        extra_holidays: dates that are days off although the package says otherwise.
        extra_working_days: dates that are working days although the package or the
            weekly hours say otherwise.
        make_up_day_hours: windows of a working day whose weekday has no working hours
            (a make-up Saturday, say). Default: the Monday windows, or those of the
            first weekday that has any.
        covered_years: years for which the package's holiday data is to be trusted
            although the package only estimates them.

    Raises:
        CalendarConfigError: a value is invalid; the message names the key and what is
            allowed.
    """

    __slots__ = (
        "_covered_declared",
        "_covered_listed",
        "_extra_holidays",
        "_extra_working_days",
        "_make_up",
        "_name",
        "_source",
        "_timezone",
        "_tz",
        "_weekly",
        "_windows_cached",
    )
    _covered_declared: frozenset[int]
    _covered_listed: frozenset[int]
    _extra_holidays: frozenset[date]
    _extra_working_days: frozenset[date]
    _make_up: _Minutes
    _name: str
    _source: _HolidaySource | None
    _timezone: str
    _tz: ZoneInfo
    _weekly: tuple[_Minutes, ...]
    _windows_cached: Callable[[date], tuple[Window, ...]]

    def __init__(
        self,
        *,
        name: str = "default",
        timezone: str = "UTC",
        working_hours: Mapping[str, Sequence[str]] | None = None,
        holidays_country: str | None = None,
        holidays_subdiv: str | None = None,
        extra_holidays: Iterable[date] = (),
        extra_working_days: Iterable[date] = (),
        make_up_day_hours: Sequence[str] | None = None,
        covered_years: Iterable[int] | None = None,
    ) -> None:
        def fail(field: str, value: object, reason: str) -> CalendarConfigError:
            return CalendarConfigError(str(name), field, value, reason)

        if not isinstance(name, str) or not name:
            raise fail("name", name, "expected a non-empty string")
        tz = _load_zone(timezone, fail)
        if working_hours is None:
            working_hours = _DEFAULT_WORKING_HOURS
        weekly = _parse_week(working_hours, fail)
        if make_up_day_hours is None:
            make_up = next(windows for windows in weekly if windows)
        else:
            make_up = _parse_windows(make_up_day_hours, "make_up_day_hours", fail)
            if not make_up:
                raise fail("make_up_day_hours", make_up_day_hours, "expected at least one window")
        off = _parse_dates(extra_holidays, "extra_holidays", fail)
        on = _parse_dates(extra_working_days, "extra_working_days", fail)
        if both := sorted(off & on):
            raise fail(
                "extra_working_days",
                both[0],
                f"{both[0].isoformat()} is also listed in extra_holidays; list it in one only",
            )
        source = None
        if holidays_country is not None:
            source = _HolidaySource(holidays_country, holidays_subdiv, fail)
        elif holidays_subdiv is not None:
            raise fail("holidays_subdiv", holidays_subdiv, "needs holidays_country as well")
        declared = _parse_years(covered_years, fail)

        setattr_ = object.__setattr__
        setattr_(self, "_name", name)
        setattr_(self, "_timezone", timezone)
        setattr_(self, "_tz", tz)
        setattr_(self, "_weekly", weekly)
        setattr_(self, "_make_up", make_up)
        setattr_(self, "_extra_holidays", off)
        setattr_(self, "_extra_working_days", on)
        setattr_(self, "_source", source)
        setattr_(self, "_covered_declared", declared)
        setattr_(self, "_covered_listed", frozenset(day.year for day in off | on))
        setattr_(self, "_windows_cached", functools.lru_cache(maxsize=4096)(self._compute_windows))

    # --- configuration --------------------------------------------------------------

    @property
    def name(self) -> str:
        """The calendar's name."""
        return self._name

    @property
    def timezone(self) -> str:
        """The IANA name of the calendar's time zone."""
        return self._timezone

    @property
    def tzinfo(self) -> ZoneInfo:
        """The calendar's time zone."""
        return self._tz

    @property
    def working_hours(self) -> dict[str, list[str]]:
        """The weekly hours, normalised: runs of days with equal windows become ranges."""
        result: dict[str, list[str]] = {}
        day = 0
        while day < 7:
            last = day
            while last + 1 < 7 and self._weekly[last + 1] == self._weekly[day]:
                last += 1
            if self._weekly[day]:
                key = _DAYS[day] if last == day else f"{_DAYS[day]}-{_DAYS[last]}"
                result[key] = [_format_window(w) for w in self._weekly[day]]
            day = last + 1
        return result

    @property
    def make_up_day_hours(self) -> list[str]:
        """The windows of a working day whose weekday has no working hours."""
        return [_format_window(w) for w in self._make_up]

    @property
    def holidays_country(self) -> str | None:
        """The ``holidays`` package country code, or ``None``."""
        return None if self._source is None else self._source.country

    @property
    def holidays_subdiv(self) -> str | None:
        """The ``holidays`` package subdivision, or ``None``."""
        return None if self._source is None else self._source.subdiv

    @property
    def extra_holidays(self) -> frozenset[date]:
        """The designer's days off."""
        return self._extra_holidays

    @property
    def extra_working_days(self) -> frozenset[date]:
        """The designer's make-up working days."""
        return self._extra_working_days

    # --- coverage -------------------------------------------------------------------

    @property
    def covered_years(self) -> tuple[int, ...] | None:
        """Every year this calendar can compute through, ascending.

        ``None`` when it covers every year: no ``holidays_country`` is configured.
        Otherwise the years the package has real data for, the years declared in
        ``covered_years`` and the years of the designer's listed days.
        """
        if self._source is None:
            return None
        years = set(self._source.covered_years()) | self._covered_declared | self._covered_listed
        return tuple(sorted(years))

    def covers(self, year: int) -> bool:
        """Whether this calendar has real holiday data for ``year``."""
        return (
            self._source is None
            or year in self._covered_declared
            or year in self._covered_listed
            or self._source.covers(year)
        )

    def check_coverage(self, year: int) -> None:
        """Raise unless this calendar has real holiday data for ``year``.

        Raises:
            CalendarCoverageError: naming the year and the years that are covered.
        """
        if not self.covers(year):
            raise CalendarCoverageError(self._name, year, self.covered_years or ())

    # --- days and instants ----------------------------------------------------------

    def is_working_day(self, day: date) -> bool:
        """Whether ``day`` (a local date in the calendar's zone) has working time.

        Raises:
            CalendarCoverageError: the year of ``day`` is not covered.
            CalendarError: ``day`` is a datetime, not a date.
        """
        return bool(self._windows(_require_date(day)))

    def working_windows(self, day: date) -> list[Window]:
        """The working windows of the local date ``day``, in order, as UTC instants.

        Empty on a day off. A window boundary is the first instant at which the local
        clock shows that time: an ambiguous time (autumn) is its first occurrence, a
        time skipped in spring is the moment the clock jumps past it.

        Raises:
            CalendarCoverageError: the year of ``day`` is not covered.
            CalendarError: ``day`` is a datetime, not a date.
        """
        return list(self._windows(_require_date(day)))

    def is_working_time(self, instant: datetime) -> bool:
        """Whether ``instant`` lies in a working window (start included, end excluded).

        Raises:
            CalendarCoverageError: the instant's year is not covered.
            CalendarError: ``instant`` is naive.
        """
        at = _require_aware(instant)
        return any(start <= at < end for start, end in self._windows(self._local_date(at)))

    def next_working_time(self, instant: datetime) -> datetime:
        """``instant`` itself if it is working time, else the start of the next window.

        Raises:
            CalendarCoverageError: the search reaches an uncovered year.
            CalendarError: ``instant`` is naive, or no working time follows it.
        """
        at = _require_aware(instant)
        for _, windows in self._days_with_work(self._local_date(at)):
            for start, end in windows:
                if end > at:
                    return max(start, at)
        raise AssertionError("unreachable")  # pragma: no cover

    # --- arithmetic -----------------------------------------------------------------

    def add(self, start: datetime, duration: Duration | timedelta) -> datetime:
        """The deadline ``duration`` after ``start``, as a UTC datetime.

        * ``m``, ``h`` and a ``timedelta``: elapsed time, whatever the calendar says.
        * ``d``, ``w``: the same local wall time N calendar days later. A wall time
          that occurs twice (autumn) means its first occurrence; one skipped in spring
          means the moment the clock jumps past it (02:30 becomes 03:00).
        * ``bh``: N hours of working time. Counting begins at the next working instant;
          the deadline is the instant the N-th hour completes, so a count that runs out
          exactly at a window's end returns that end (18:00, not next morning).
        * ``bd``: the close (end of the last window) of the N-th working day after the
          local date of ``start``. The start's own day never counts, whether or not
          ``start`` is in working time: ``1bd`` from Monday 08:00 or 17:00 is Tuesday
          18:00.

        Raises:
            CalendarCoverageError: business units reach a date in an uncovered year.
            CalendarError: ``start`` is naive, or the amount is not positive.
        """
        at = _require_aware(start)
        if isinstance(duration, timedelta):
            if duration < timedelta(0):
                raise CalendarError(f"cannot add a negative time span ({duration})")
            return at + duration
        if not isinstance(duration, Duration):
            raise CalendarError(f"expected a Duration or a timedelta, got {duration!r}")
        if duration.amount <= 0:
            raise CalendarError(f"a deadline needs a positive duration, got {duration}")
        if duration.unit in ("m", "h"):
            return at + duration.as_timedelta()
        if duration.unit in ("d", "w"):
            days = duration.amount * (7 if duration.unit == "w" else 1)
            wall = at.astimezone(self._tz).replace(tzinfo=None) + timedelta(days=days)
            return _first_instant(self._tz, wall)
        if duration.unit == "bh":
            return self.add_working_time(at, timedelta(hours=duration.amount))
        return self._close_of_nth_working_day(at, duration.amount)

    def add_working_time(self, start: datetime, working: timedelta) -> datetime:
        """The instant by which ``working`` of working time has passed since ``start``.

        The inverse of :meth:`elapsed`: ``elapsed(start, add_working_time(start, t)) == t``.
        ``add(start, Duration(n, "bh"))`` is ``add_working_time(start, timedelta(hours=n))``;
        this form also takes the rest of a paused clock, say ``3h 25m``.

        Raises:
            CalendarCoverageError: the count reaches a date in an uncovered year.
            CalendarError: ``start`` is naive or ``working`` is negative.
        """
        at = _require_aware(start)
        if working < timedelta(0):
            raise CalendarError(f"cannot add negative working time ({working})")
        remaining = working
        for _, windows in self._days_with_work(self._local_date(at)):
            for window_start, window_end in windows:
                if window_end <= at:
                    continue
                begin = max(window_start, at)
                if remaining <= window_end - begin:
                    return begin + remaining
                remaining -= window_end - begin
        raise AssertionError("unreachable")  # pragma: no cover

    def elapsed(self, start: datetime, end: datetime) -> timedelta:
        """The working time between ``start`` and ``end``; zero if ``end <= start``.

        Raises:
            CalendarCoverageError: a date between them is in an uncovered year.
            CalendarError: either instant is naive.
        """
        begin, finish = _require_aware(start), _require_aware(end)
        total = timedelta(0)
        if finish <= begin:
            return total
        day, last = self._local_date(begin), self._local_date(finish)
        while day <= last:
            for window_start, window_end in self._windows(day):
                overlap = min(window_end, finish) - max(window_start, begin)
                if overlap > timedelta(0):
                    total += overlap
            day += timedelta(days=1)
        return total

    # --- internals ------------------------------------------------------------------

    def _close_of_nth_working_day(self, start: datetime, n: int) -> datetime:
        first = self._local_date(start) + timedelta(days=1)
        for count, (_, windows) in enumerate(self._days_with_work(first), start=1):
            if count == n:
                return windows[-1][1]
        raise AssertionError("unreachable")  # pragma: no cover

    def _days_with_work(self, first: date) -> Iterator[tuple[date, tuple[Window, ...]]]:
        day, idle = first, 0
        while True:
            windows = self._windows(day)
            if windows:
                idle = 0
                yield day, windows
            else:
                idle += 1
                if idle > _MAX_IDLE_DAYS:
                    raise CalendarError(
                        f"calendar {self._name!r} has no working time in the "
                        f"{_MAX_IDLE_DAYS} days after {first.isoformat()}"
                    )
            day += timedelta(days=1)

    def _local_date(self, instant: datetime) -> date:
        return instant.astimezone(self._tz).date()

    def _windows(self, day: date) -> tuple[Window, ...]:
        return self._windows_cached(day)

    def _compute_windows(self, day: date) -> tuple[Window, ...]:
        self.check_coverage(day.year)
        minutes = self._minutes(day)
        midnight = datetime(day.year, day.month, day.day)
        windows = []
        for start, end in minutes:
            begin = _first_instant(self._tz, midnight + timedelta(minutes=start))
            finish = _first_instant(self._tz, midnight + timedelta(minutes=end))
            # A window lying wholly inside a spring-forward gap never happens.
            if finish > begin:
                windows.append((begin, finish))
        return tuple(windows)

    def _minutes(self, day: date) -> _Minutes:
        weekly = self._weekly[day.weekday()]
        if day in self._extra_holidays:
            return ()
        if day in self._extra_working_days:
            return weekly or self._make_up
        if self._source is not None and self._trusts_package(day.year):
            data = self._source.year(day.year)
            if day in data.make_up_days:
                return weekly or self._make_up
            if day in data.holidays:
                return ()
        return weekly

    def _trusts_package(self, year: int) -> bool:
        # A year covered only by the designer's lists is theirs alone: the package's
        # guesses for it (estimated dates, no make-up days) would silently add errors.
        assert self._source is not None
        return year in self._covered_declared or self._source.covers(year)

    def _key(self) -> tuple[object, ...]:
        return (
            self._name,
            self._timezone,
            self._weekly,
            self._make_up,
            self.holidays_country,
            self.holidays_subdiv,
            self._extra_holidays,
            self._extra_working_days,
            self._covered_declared,
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BusinessCalendar):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        parts = [f"name={self._name!r}", f"timezone={self._timezone!r}"]
        parts.append(f"working_hours={self.working_hours!r}")
        if self._source is not None:
            parts.append(f"holidays_country={self._source.country!r}")
            if self._source.subdiv is not None:
                parts.append(f"holidays_subdiv={self._source.subdiv!r}")
        if self._extra_holidays:
            parts.append(f"extra_holidays=<{len(self._extra_holidays)} dates>")
        if self._extra_working_days:
            parts.append(f"extra_working_days=<{len(self._extra_working_days)} dates>")
        if self._covered_declared:
            parts.append(f"covered_years={sorted(self._covered_declared)!r}")
        return f"BusinessCalendar({', '.join(parts)})"

    def __reduce__(self) -> tuple[Callable[[], BusinessCalendar], tuple[()]]:
        # The per-day cache is not picklable; a copy is rebuilt from the configuration.
        rebuild = functools.partial(
            BusinessCalendar,
            name=self._name,
            timezone=self._timezone,
            working_hours=self.working_hours,
            holidays_country=self.holidays_country,
            holidays_subdiv=self.holidays_subdiv,
            extra_holidays=sorted(self._extra_holidays),
            extra_working_days=sorted(self._extra_working_days),
            make_up_day_hours=self.make_up_day_hours,
            covered_years=sorted(self._covered_declared),
        )
        return rebuild, ()

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"BusinessCalendar is immutable; cannot set {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"BusinessCalendar is immutable; cannot delete {name!r}")


# --- holiday data ------------------------------------------------------------------


@dataclass(frozen=True)
class _YearData:
    holidays: frozenset[date]
    make_up_days: frozenset[date]
    estimated: bool


class _HolidaySource:
    """One country's holidays from the ``holidays`` package, loaded a year at a time.

    Which years hold real data is read off the package itself:

    * only ``start_year`` to ``end_year`` of the country's class;
    * not a year in which any holiday carries the package's "estimated" label
      (lunar and Islamic dates it could only predict);
    * for countries whose government moves working days by yearly decree (the class
      has substituted holidays, as China's 调休), only the years from the first to the
      last decree the package carries: later years are extrapolated from the weekly
      rule and lack make-up days. The package offers no other machine-readable
      statement of which decrees it knows.
    """

    def __init__(
        self, country: str, subdiv: str | None, fail: Callable[..., CalendarConfigError]
    ) -> None:
        if not isinstance(country, str):
            raise fail("holidays_country", country, "expected a country code like 'CN'")
        try:
            probe = holidays_package.country_holidays(country, years=())
        except NotImplementedError as exc:
            raise fail(
                "holidays_country",
                country,
                f"the holidays package does not know country {country!r}; "
                "use an ISO 3166-1 code such as 'CN', 'US' or 'DE'",
            ) from exc
        if subdiv is not None:
            try:
                probe = holidays_package.country_holidays(country, subdiv=subdiv, years=())
            except (NotImplementedError, TypeError) as exc:
                known = ", ".join(sorted(probe.subdivisions)) or "none"
                raise fail(
                    "holidays_subdiv",
                    subdiv,
                    f"country {country!r} has no subdivision {subdiv!r}; allowed: {known}",
                ) from exc
        self.country = country
        self.subdiv = subdiv
        self._first: int = probe.start_year
        self._last: int = probe.end_year
        if decrees := _decree_years(probe):
            self._first, self._last = max(self._first, min(decrees)), min(self._last, max(decrees))
        self._years: dict[int, _YearData] = {}
        self._lock = threading.Lock()

    def covers(self, year: int) -> bool:
        return self._first <= year <= self._last and not self.year(year).estimated

    def covered_years(self) -> list[int]:
        return [year for year in range(self._first, self._last + 1) if self.covers(year)]

    def year(self, year: int) -> _YearData:
        data = self._years.get(year)
        if data is None:
            # The package object mutates itself as it populates: build it under a lock.
            with self._lock:
                data = self._years.get(year)
                if data is None:
                    data = self._years[year] = self._load(year)
        return data

    def _load(self, year: int) -> _YearData:
        found = holidays_package.country_holidays(
            self.country, subdiv=self.subdiv, years=year, expand=False
        )
        days = frozenset(day for day in found if day.year == year)
        make_up = frozenset(day for day in found.weekend_workdays if day.year == year)
        markers = [
            _label_affixes(found.tr(label))
            for label in (
                getattr(found, "estimated_label", None),
                getattr(found, "observed_estimated_label", None),
            )
            if label
        ]
        estimated = any(
            name.startswith(prefix) and name.endswith(suffix)
            for day in days
            for name in found.get_list(day)
            for prefix, suffix in markers
        )
        return _YearData(days, make_up, estimated)


def _decree_years(probe: Any) -> set[int]:
    """Years of the package's make-up-day entries, if the country has such decrees."""
    if not getattr(probe, "has_substituted_holidays", False):
        return set()
    years: set[int] = set()
    for attribute in dir(probe):
        mapping = getattr(probe, attribute) if attribute.startswith("special_") else None
        if isinstance(mapping, dict):
            for year, entries in mapping.items():
                entries = entries if entries and isinstance(entries[0], tuple) else (entries,)
                # (to_month, to_day, from_month, from_day[, from_year]) moves a working day.
                if any(len(entry) >= 4 for entry in entries):
                    years.add(year)
    return years


def _label_affixes(label: str) -> tuple[str, str]:
    prefix, _, suffix = label.partition("%s")
    return prefix, suffix


# --- parsing -----------------------------------------------------------------------


def _load_zone(name: object, fail: Callable[..., CalendarConfigError]) -> ZoneInfo:
    if not isinstance(name, str):
        raise fail("timezone", name, "expected an IANA time zone name like 'Asia/Shanghai'")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise fail(
            "timezone",
            name,
            f"unknown time zone {name!r}; use an IANA name like 'Asia/Shanghai' or 'UTC'",
        ) from exc


def _parse_week(
    spec: Mapping[str, Sequence[str]], fail: Callable[..., CalendarConfigError]
) -> tuple[_Minutes, ...]:
    if not isinstance(spec, Mapping):
        raise fail("working_hours", spec, "expected a mapping like {'mon-fri': ['09:00-18:00']}")
    week: list[_Minutes | None] = [None] * 7
    given_by: dict[int, str] = {}
    for key, windows in spec.items():
        field = f"working_hours[{key!r}]"
        parsed = _parse_windows(windows, field, fail)
        for day in _parse_day_key(key, fail):
            if day in given_by:
                raise fail(
                    "working_hours",
                    key,
                    f"{_DAYS[day]} is given twice ({given_by[day]!r} and {key!r}); "
                    "give each day once",
                )
            given_by[day] = str(key)
            week[day] = parsed
    result = tuple(windows or () for windows in week)
    if not any(result):
        raise fail("working_hours", spec, "no day has working hours; give at least one window")
    return result


def _parse_day_key(key: object, fail: Callable[..., CalendarConfigError]) -> list[int]:
    allowed = "allowed: mon, tue, wed, thu, fri, sat, sun or a range like 'mon-fri'"
    if not isinstance(key, str):
        raise fail("working_hours", key, f"day {key!r} is not a day name; {allowed}")
    first, sep, last = key.strip().lower().partition("-")
    if first not in _DAYS or (sep and last not in _DAYS):
        raise fail("working_hours", key, f"unknown day {key!r}; {allowed}")
    if not sep:
        return [_DAYS.index(first)]
    begin, end = _DAYS.index(first), _DAYS.index(last)
    if end < begin:
        raise fail(
            "working_hours",
            key,
            f"day range {key!r} runs backwards; ranges run from mon towards sun",
        )
    return list(range(begin, end + 1))


def _parse_windows(spec: object, field: str, fail: Callable[..., CalendarConfigError]) -> _Minutes:
    items: Sequence[object]
    if isinstance(spec, str):
        items = [spec]
    elif isinstance(spec, Sequence):
        items = spec
    else:
        raise fail(field, spec, "expected a list of windows like ['09:00-12:00', '13:30-18:00']")
    windows: list[tuple[int, int]] = []
    for index, item in enumerate(items):
        where = f"{field}[{index}]" if not isinstance(spec, str) else field
        match = _WINDOW.fullmatch(item.strip()) if isinstance(item, str) else None
        if match is None:
            raise fail(
                where,
                item,
                f"{item!r} is not a window 'HH:MM-HH:MM' on the 24-hour clock "
                "('24:00' may end a window)",
            )
        start = int(match["sh"]) * 60 + int(match["sm"])
        end = 1440 if match["midnight"] else int(match["eh"]) * 60 + int(match["em"])
        if end <= start:
            raise fail(
                where,
                item,
                f"window {item!r} is empty or runs backwards; a window ends after it starts "
                "on the same day (end at '24:00' and continue with '00:00-…' the next day)",
            )
        if windows and start < windows[-1][1]:
            previous = _format_window(windows[-1])
            problem = "overlaps" if start >= windows[-1][0] else "comes before"
            raise fail(
                where,
                item,
                f"window {item!r} {problem} {previous!r}; list windows in time order "
                "without overlap",
            )
        windows.append((start, end))
    return tuple(windows)


def _parse_dates(
    values: Iterable[date], field: str, fail: Callable[..., CalendarConfigError]
) -> frozenset[date]:
    if isinstance(values, (str, bytes, date)) or not isinstance(values, Iterable):
        raise fail(field, values, "expected a list of dates")
    days = set()
    for value in values:
        if isinstance(value, datetime) or not isinstance(value, date):
            raise fail(field, value, f"{value!r} is not a date (datetime.date, no time of day)")
        days.add(value)
    return frozenset(days)


def _parse_years(
    values: Iterable[int] | None, fail: Callable[..., CalendarConfigError]
) -> frozenset[int]:
    if values is None:
        return frozenset()
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise fail("covered_years", values, "expected a list of years like [2027]")
    years = set()
    for value in values:
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 9999:
            raise fail("covered_years", value, f"{value!r} is not a year like 2027")
        years.add(value)
    return frozenset(years)


def _format_window(window: tuple[int, int]) -> str:
    (sh, sm), (eh, em) = divmod(window[0], 60), divmod(window[1], 60)
    return f"{sh:02d}:{sm:02d}-{eh:02d}:{em:02d}"


# --- instants ----------------------------------------------------------------------


def _require_aware(instant: datetime) -> datetime:
    if not isinstance(instant, datetime):
        raise CalendarError(f"expected a timezone-aware datetime, got {instant!r}")
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise CalendarError(
            f"naive datetime {instant.isoformat()}: pass a timezone-aware datetime, "
            "e.g. datetime(..., tzinfo=UTC)"
        )
    return instant.astimezone(UTC)


def _require_date(day: date) -> date:
    if isinstance(day, datetime) or not isinstance(day, date):
        raise CalendarError(
            f"expected a date, got {day!r}; for an instant use is_working_time / next_working_time"
        )
    return day


def _first_instant(tz: ZoneInfo, wall: datetime) -> datetime:
    """The first UTC instant at which the clock in ``tz`` shows ``wall`` (naive) or later.

    An ambiguous wall time gives its first occurrence (``fold=0``); a wall time inside
    a spring-forward gap gives the instant of the jump. Unlike shifting by the gap,
    this keeps the mapping monotonic, so windows stay ordered and deadlines never
    move backwards.
    """
    instant = wall.replace(tzinfo=tz).astimezone(UTC)
    if instant.astimezone(tz).replace(tzinfo=None) == wall:
        return instant
    # In the gap: fold=1 reads the wall time with the later offset, landing before the
    # jump; fold=0 lands after it. Transitions fall on whole seconds.
    low = int(wall.replace(tzinfo=tz, fold=1).timestamp()) - 1
    high = int(instant.timestamp()) + 1
    while high - low > 1:
        middle = (low + high) // 2
        shown = datetime.fromtimestamp(middle, tz).replace(tzinfo=None)
        if shown >= wall:
            high = middle
        else:
            low = middle
    return datetime.fromtimestamp(high, UTC)
