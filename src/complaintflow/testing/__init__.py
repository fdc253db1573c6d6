"""The QA kit: property-based testing of any workflow's lifecycle rules with Hypothesis.

Point it at a workflow file and Hypothesis drives a real engine (a fresh SQLite file
per run) with permitted and forbidden events, people in every role and jumps of time,
checking the built-in lifecycle rules and the workflow's own ``invariants:`` after
every step. A broken rule is shrunk to the fewest steps and told as a story.

- :func:`workflow_state_machine`: the state machine, for a test module.
- :func:`check_workflow`: one search, as ``complaintflow check`` and the pytest plugin
  (``pytest --complaintflow-workflow PATH``) run it.
- Strategies for your own properties: :func:`intakes`, :func:`invalid_intakes`,
  :func:`hostile_texts`, :func:`invalid_texts`, :func:`actors`, :func:`roles`,
  :func:`tiers`, :func:`categories`, :func:`permitted_events`,
  :func:`forbidden_events`, :func:`event_sequences`.
- :func:`engine_on_temp_sqlite`: a ready engine on a temporary SQLite file, and
  :class:`FakeClock` to move its time.

See ``docs/qa-guide.md``.
"""

from complaintflow.testing._engine import engine_on_temp_sqlite
from complaintflow.testing._invariants import BUILTIN_INVARIANTS, InvariantViolation, Violation
from complaintflow.testing._machine import (
    DEFAULT_EXAMPLES,
    DEFAULT_SHRINK_SECONDS,
    DEFAULT_STEPS,
    WorkflowMachine,
    kit_settings,
    workflow_state_machine,
)
from complaintflow.testing._run import CheckResult, check_workflow
from complaintflow.testing._strategies import (
    CHANNELS,
    Event,
    actors,
    categories,
    event_sequences,
    forbidden_events,
    hostile_texts,
    intakes,
    invalid_intakes,
    invalid_texts,
    permitted_events,
    roles,
    tiers,
)
from complaintflow.time._clock import FakeClock

__all__ = [
    "BUILTIN_INVARIANTS",
    "CHANNELS",
    "DEFAULT_EXAMPLES",
    "DEFAULT_SHRINK_SECONDS",
    "DEFAULT_STEPS",
    "CheckResult",
    "Event",
    "FakeClock",
    "InvariantViolation",
    "Violation",
    "WorkflowMachine",
    "actors",
    "categories",
    "check_workflow",
    "engine_on_temp_sqlite",
    "event_sequences",
    "forbidden_events",
    "hostile_texts",
    "intakes",
    "invalid_intakes",
    "invalid_texts",
    "kit_settings",
    "permitted_events",
    "roles",
    "tiers",
    "workflow_state_machine",
]
