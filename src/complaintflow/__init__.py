"""complaintflow: embeddable complaint-handling workflows.

Process designers describe the lifecycle in YAML; host applications load it with
:func:`load_workflows` and run complaints through it. Everything public is importable
from this namespace.
"""

from complaintflow.definition._compile import CompiledTransition, Guard, Workflow
from complaintflow.definition._graph import to_dot, to_mermaid
from complaintflow.definition._models import (
    Action,
    BreachSpec,
    CalendarSpec,
    ClockSpec,
    Condition,
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
from complaintflow.exceptions import (
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
from complaintflow.time import Clock, Duration, FakeClock, SystemClock

__version__ = "0.1.0"

__all__ = [
    "Action",
    "BreachSpec",
    "CalendarCoverageError",
    "CalendarError",
    "CalendarSpec",
    "Clock",
    "ClockSpec",
    "CompiledTransition",
    "ComplaintError",
    "ComplaintNotFoundError",
    "ComplaintflowError",
    "ConcurrencyConflictError",
    "Condition",
    "DefinitionError",
    "Duration",
    "DurationError",
    "FakeClock",
    "FeedbackSpec",
    "Guard",
    "GuardRejectedError",
    "IdempotencyConflictError",
    "InvalidInputError",
    "InvariantSpec",
    "MissingFieldsError",
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
