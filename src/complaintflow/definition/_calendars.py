"""Building business calendars from workflow definitions, once per calendar."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from complaintflow.definition._models import CalendarSpec
from complaintflow.time._calendar import BusinessCalendar

if TYPE_CHECKING:
    from complaintflow.definition._compile import Workflow


def calendar_from_spec(name: str, spec: CalendarSpec) -> BusinessCalendar:
    """The :class:`BusinessCalendar` a ``calendars:`` entry describes.

    Raises:
        CalendarError: the entry is not a usable calendar.
    """
    return BusinessCalendar(
        name=name,
        timezone=spec.timezone,
        working_hours=spec.working_hours,
        holidays_country=spec.holidays.country if spec.holidays else None,
        holidays_subdiv=spec.holidays.subdiv if spec.holidays else None,
        extra_holidays=spec.extra_holidays,
        extra_working_days=spec.extra_working_days,
        make_up_day_hours=spec.make_up_day_hours,
        covered_years=spec.covered_years,
    )


class CalendarRegistry:
    """The calendar of each workflow, built when first needed and then shared."""

    def __init__(
        self,
        workflows: Iterable[Workflow],
        overrides: Mapping[str, CalendarSpec | BusinessCalendar] | None = None,
    ) -> None:
        self._overrides = dict(overrides or {})
        self._built: dict[str, BusinessCalendar] = {}
        self._names = {wf.key: wf.spec.calendar for wf in workflows}

    def get(self, workflow: Workflow) -> BusinessCalendar | None:
        """The calendar ``workflow`` names, or ``None`` when it names none."""
        name = workflow.spec.calendar
        if name is None:
            return None
        built = self._built.get(name)
        if built is None:
            given = self._overrides.get(name)
            if isinstance(given, BusinessCalendar):
                built = given
            else:
                spec = given if given is not None else workflow.calendars[name]
                built = calendar_from_spec(name, spec)
            self._built[name] = built
        return built
