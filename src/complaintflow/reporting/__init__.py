"""Measures of the closed loop, computed from the audit trail (DOMAIN.md §5 and §7).

:func:`compute_measures` reads complaints and their audit records in chunks and returns a
frozen :class:`Report`: volume, on-time rates per clock, time to acknowledge, respond and
resolve, escalation, reopen and first-contact resolution rates, satisfaction, return-visit
completion, the complaint rate and the clocks overdue now, per period, tier, category,
channel, owner or team. :func:`render` turns a report into a table, JSON, CSV or one
self-contained HTML page; :func:`compare` sets two reports side by side. See
``docs/reporting.md``.
"""

from complaintflow.reporting._compare import compare
from complaintflow.reporting._measures import compute_measures
from complaintflow.reporting._models import (
    DIMENSIONS,
    ComplaintRate,
    DurationStats,
    GroupMeasures,
    HistogramBin,
    OverdueClock,
    Ratio,
    Report,
    Satisfaction,
    TimelinePoint,
)
from complaintflow.reporting._render import render

__all__ = [
    "DIMENSIONS",
    "ComplaintRate",
    "DurationStats",
    "GroupMeasures",
    "HistogramBin",
    "OverdueClock",
    "Ratio",
    "Report",
    "Satisfaction",
    "TimelinePoint",
    "compare",
    "compute_measures",
    "render",
]
