"""Time: durations, the injectable clock and business calendars."""

from complaintflow.time._calendar import BusinessCalendar
from complaintflow.time._clock import Clock, FakeClock, SystemClock
from complaintflow.time._durations import Duration

__all__ = ["BusinessCalendar", "Clock", "Duration", "FakeClock", "SystemClock"]
