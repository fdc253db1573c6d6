"""The closed loop (反馈, 闭环): waiting for the customer's answer, reopening, return visits.

Two durable timers belong to the loop rather than to an SLA clock; they live in the
same timers table under reserved names that no clock can have (clock names start
with a letter):

- ``_feedback``: armed on entering the feedback state, cancelled on leaving it; when
  it fires, the system fires the workflow's auto-close trigger.
- ``_return_visit``: armed on closing (回访 due by customer class or tier), cancelled
  when the visit is recorded or the complaint reopens; when it fires, the role that
  owns the complaint is told the visit is due.

Both carry the complaint's reopen count as their sequence, so a timer from an earlier
round is recognised as stale.
"""

from __future__ import annotations

import datetime as dt

from complaintflow.core._clocks import WorkingTime
from complaintflow.core._records import Complaint, TimerSpec
from complaintflow.definition._compile import Workflow
from complaintflow.definition._models import ReturnVisitSpec
from complaintflow.exceptions import GuardRejectedError
from complaintflow.time._durations import Duration

FEEDBACK_TIMER = "_feedback"
RETURN_VISIT_TIMER = "_return_visit"


def _add(start: dt.datetime, duration: Duration, calendar: WorkingTime | None) -> dt.datetime:
    if calendar is not None:
        return calendar.add(start, duration)
    return start + duration.as_timedelta()


def is_reopen(workflow: Workflow, before: Complaint, after_state: str) -> bool:
    """True when a change takes a complaint back into handling: out of the feedback step
    or out of a final state, into a state that is neither."""
    feedback = workflow.spec.feedback.state if workflow.spec.feedback else None
    return (
        after_state != before.state
        and not workflow.is_final(after_state)
        and after_state != feedback
        and (workflow.is_final(before.state) or before.state == feedback)
    )


def check_reopen_window(
    workflow: Workflow, complaint: Complaint, trigger: str, dest: str, now: dt.datetime
) -> None:
    """Refuse to reopen a closed complaint after the workflow's reopen window.

    Raises:
        GuardRejectedError: the window has passed; the host opens a new complaint
            with ``related_to`` instead.
    """
    spec = workflow.spec.feedback
    if (
        spec is None
        or spec.reopen_window is None
        or complaint.closed_at is None
        or not workflow.is_final(complaint.state)
        or workflow.is_final(dest)
    ):
        return
    if now - complaint.closed_at > spec.reopen_window.as_timedelta():
        raise GuardRejectedError(
            complaint.id,
            trigger,
            "the reopen window",
            f"closed at {complaint.closed_at.isoformat()}, more than "
            f"{spec.reopen_window.describe()} ago; open a new complaint with "
            f"related_to={complaint.id!r}",
        )


def reopen_escalates(workflow: Workflow, reopen_count: int) -> bool:
    """True when this many reopens call for an escalation."""
    spec = workflow.spec.feedback
    threshold = spec.reopen_escalates_after if spec else None
    return threshold is not None and reopen_count >= threshold


def _return_visit_interval(spec: ReturnVisitSpec, c: Complaint) -> Duration:
    klass = c.intake.customer_class
    if klass is not None and klass in spec.by_customer_class:
        return spec.by_customer_class[klass]
    if c.tier is not None and c.tier in spec.by_tier:
        return spec.by_tier[c.tier]
    return spec.after


def _arms_return_visit(
    workflow: Workflow, spec: ReturnVisitSpec, before: Complaint, after: Complaint
) -> bool:
    if not workflow.is_final(after.state) or workflow.is_final(before.state):
        return False
    if spec.states:
        return after.state in spec.states
    feedback = workflow.spec.feedback.state if workflow.spec.feedback else None
    return feedback is None or before.state == feedback


def loop_timers(
    workflow: Workflow,
    before: Complaint,
    after: Complaint,
    trigger: str,
    now: dt.datetime,
    calendar: WorkingTime | None,
) -> tuple[frozenset[str], tuple[TimerSpec, ...]]:
    """The loop timers a change cancels and arms."""
    cancel: set[str] = set()
    arm: list[TimerSpec] = []
    feedback = workflow.spec.feedback
    if feedback is not None and before.state != after.state:
        if before.state == feedback.state:
            cancel.add(FEEDBACK_TIMER)
        if after.state == feedback.state and feedback.no_answer_after is not None:
            arm.append(
                TimerSpec(
                    after.id,
                    FEEDBACK_TIMER,
                    "feedback",
                    _add(now, feedback.no_answer_after, calendar),
                    None,
                    after.reopen_count,
                )
            )
    visits = workflow.spec.return_visits
    if visits is not None:
        leaving_final = workflow.is_final(before.state) and not workflow.is_final(after.state)
        if leaving_final or trigger == visits.record_trigger:
            cancel.add(RETURN_VISIT_TIMER)
        if _arms_return_visit(workflow, visits, before, after):
            arm.append(
                TimerSpec(
                    after.id,
                    RETURN_VISIT_TIMER,
                    "return_visit",
                    _add(now, _return_visit_interval(visits, after), calendar),
                    None,
                    after.reopen_count,
                )
            )
    return frozenset(cancel), tuple(arm)


def loop_timer_is_current(workflow: Workflow, complaint: Complaint, timer: TimerSpec) -> bool:
    """True when a loop timer still applies to the complaint as it is now."""
    if timer.sequence != complaint.reopen_count:
        return False
    if timer.clock == FEEDBACK_TIMER:
        feedback = workflow.spec.feedback
        return feedback is not None and complaint.state == feedback.state
    if timer.clock == RETURN_VISIT_TIMER:
        return workflow.is_final(complaint.state)
    return False
