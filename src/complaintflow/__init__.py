"""complaintflow: embeddable complaint-handling workflows.

Process designers describe the lifecycle in YAML; host applications load it with
:func:`load_workflows` and run complaints through it. Everything public is importable
from this namespace.
"""

from complaintflow.core._records import (
    Actor,
    AuditRecord,
    ClockState,
    Complaint,
    Intake,
    Notification,
)
from complaintflow.definition._compile import CompiledTransition, Guard, Workflow
from complaintflow.definition._graph import to_dot, to_mermaid
from complaintflow.definition._models import (
    Action,
    BreachSpec,
    CalendarSpec,
    ClockSpec,
    Condition,
    DedupSpec,
    FeedbackSpec,
    InvariantSpec,
    StateSpec,
    TierSpec,
    TransitionSpec,
    WorkflowSpec,
)
from complaintflow.definition._registry import (
    dump_workflow,
    load_workflow,
    load_workflows,
    workflow_json_schema,
)
from complaintflow.engine._engine import Engine
from complaintflow.exceptions import (
    CalendarConfigError,
    CalendarCoverageError,
    CalendarError,
    ComplaintError,
    ComplaintflowError,
    ComplaintNotFoundError,
    ConcurrencyConflictError,
    DefinitionError,
    DurationError,
    GuardRejectedError,
    IdempotencyConflictError,
    InvalidInputError,
    MissingFieldsError,
    PermissionDeniedError,
    Problem,
    SchemaOutdatedError,
    StoreError,
    TriggerNotAllowedError,
    WorkflowValidationError,
)
from complaintflow.store._port import Page
from complaintflow.time import BusinessCalendar, Clock, Duration, FakeClock, SystemClock

__version__ = "0.1.0"

__all__ = [
    "Action",
    "Actor",
    "AuditRecord",
    "BreachSpec",
    "BusinessCalendar",
    "CalendarConfigError",
    "CalendarCoverageError",
    "CalendarError",
    "CalendarSpec",
    "Clock",
    "ClockSpec",
    "ClockState",
    "CompiledTransition",
    "Complaint",
    "ComplaintError",
    "ComplaintNotFoundError",
    "ComplaintflowError",
    "ConcurrencyConflictError",
    "Condition",
    "DedupSpec",
    "DefinitionError",
    "Duration",
    "DurationError",
    "Engine",
    "FakeClock",
    "FeedbackSpec",
    "Guard",
    "GuardRejectedError",
    "IdempotencyConflictError",
    "Intake",
    "InvalidInputError",
    "InvariantSpec",
    "MissingFieldsError",
    "Notification",
    "Page",
    "PermissionDeniedError",
    "Problem",
    "SchemaOutdatedError",
    "StateSpec",
    "StoreError",
    "SystemClock",
    "TierSpec",
    "TransitionSpec",
    "TriggerNotAllowedError",
    "Workflow",
    "WorkflowSpec",
    "WorkflowValidationError",
    "__version__",
    "dump_workflow",
    "load_workflow",
    "load_workflows",
    "to_dot",
    "to_mermaid",
    "workflow_json_schema",
]
