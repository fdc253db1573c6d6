"""The exceptions complaintflow raises.

Every error the library raises derives from :class:`ComplaintflowError`, so a host
can catch them all in one place, and a few families let it catch by kind::

    ComplaintflowError
    ├── DefinitionError                  a workflow or calendar file is wrong
    │   └── WorkflowValidationError      every problem found in one file (.problems)
    ├── DurationError                    a duration like "3bd" does not parse
    ├── CalendarError                    business-time arithmetic cannot be done
    │   ├── CalendarCoverageError        no real holiday data for a year
    │   └── CalendarConfigError          a calendar's configuration is invalid
    ├── ComplaintError                   an operation on a complaint was refused
    │   ├── ComplaintNotFoundError
    │   ├── TriggerNotAllowedError       not allowed from the current state
    │   ├── PermissionDeniedError        the actor's role may not fire it
    │   ├── GuardRejectedError           a guard or condition said no
    │   ├── MissingFieldsError           required fields were not supplied
    │   ├── ConcurrencyConflictError     expected version differs from stored
    │   ├── IdempotencyConflictError     key reused with a different request
    │   └── InvalidInputError            the input data itself is invalid
    └── StoreError                       the database failed or is not usable
        └── SchemaOutdatedError          migrations have not been applied

Every exception keeps the facts its message is made of as attributes, so a host
can react to them without parsing text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class ComplaintflowError(Exception):
    """Root of every error raised by complaintflow."""


# --- definitions -----------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a definition file, with where it is.

    Attributes:
        message: what is wrong, e.g. ``unknown state 'resovled' (did you mean 'resolved'?)``.
        path: the YAML path, e.g. ``transitions[6].dest``; empty for the whole file.
        file: the file name, or ``<string>`` for text given directly.
        line: 1-based line, or ``None`` when the place is unknown.
        column: 1-based column, or ``None``.
    """

    message: str
    path: str = ""
    file: str = "<string>"
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class DefinitionError(ComplaintflowError):
    """A workflow or calendar definition is not valid."""


class WorkflowValidationError(DefinitionError):
    """One or more problems in a definition file, all reported together.

    Attributes:
        problems: every problem found, in file order.
        file: the file they were found in.
    """

    def __init__(self, problems: Sequence[Problem], file: str = "<string>") -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        self.file = file
        count = len(self.problems)
        head = f"{file}: {count} problem{'s' if count != 1 else ''}"
        super().__init__(head + "\n" + "\n".join(str(p) for p in self.problems))


class DurationError(ComplaintflowError, ValueError):
    """A duration string is malformed.

    Attributes:
        text: the text that failed to parse.
    """

    def __init__(self, text: object, reason: str) -> None:
        self.text = text
        self.reason = reason
        super().__init__(f"invalid duration {text!r}: {reason}")


# --- business time ---------------------------------------------------------------


class CalendarError(ComplaintflowError):
    """Business-time arithmetic cannot be done with this calendar."""


class CalendarCoverageError(CalendarError):
    """The calendar has no real holiday data for a year it was asked to compute through.

    Attributes:
        calendar: the calendar's name.
        year: the uncovered year.
        covered: the years the calendar does have real data for.
    """

    def __init__(self, calendar: str, year: int, covered: Sequence[int]) -> None:
        self.calendar = calendar
        self.year = year
        self.covered = tuple(covered)
        span = f"{min(covered)}-{max(covered)}" if covered else "none"
        super().__init__(
            f"calendar {calendar!r} has no real holiday data for {year} (covered: {span}); "
            f"list that year's holidays and working days under extra_holidays / "
            f"extra_working_days, or set covered_years"
        )


class CalendarConfigError(CalendarError, ValueError):
    """A business calendar was configured with an invalid value.

    Attributes:
        calendar: the calendar's name.
        field: the configuration key at fault, e.g. ``working_hours['mon-fri'][1]``.
        value: the offending value.
        reason: what is wrong and what is allowed.
    """

    def __init__(self, calendar: str, field: str, value: object, reason: str) -> None:
        self.calendar = calendar
        self.field = field
        self.value = value
        self.reason = reason
        super().__init__(f"calendar {calendar!r}: {field}: {reason}")


# --- complaints ------------------------------------------------------------------


class ComplaintError(ComplaintflowError):
    """An operation on a complaint was refused; nothing was written."""


class InvalidInputError(ComplaintError, ValueError):
    """Input to a public operation is invalid.

    Attributes:
        what: the operation or record being validated.
        errors: one line per problem.
    """

    def __init__(self, what: str, errors: Sequence[str]) -> None:
        self.what = what
        self.errors = tuple(errors)
        super().__init__(f"invalid {what}: " + "; ".join(self.errors))


class ComplaintNotFoundError(ComplaintError, LookupError):
    """No complaint has this id.

    Attributes:
        complaint_id: the id asked for.
    """

    def __init__(self, complaint_id: str) -> None:
        self.complaint_id = complaint_id
        super().__init__(f"complaint {complaint_id} does not exist")


class TriggerNotAllowedError(ComplaintError):
    """The trigger is not allowed from the complaint's current state.

    Attributes:
        complaint_id, trigger, state: what was attempted where.
        allowed: the triggers that are allowed from that state.
    """

    def __init__(self, complaint_id: str, trigger: str, state: str, allowed: Sequence[str]) -> None:
        self.complaint_id = complaint_id
        self.trigger = trigger
        self.state = state
        self.allowed = tuple(allowed)
        listed = ", ".join(self.allowed) if self.allowed else "none"
        super().__init__(
            f"event {trigger!r} is not allowed for complaint {complaint_id} "
            f"in state {state!r}; allowed: {listed}"
        )


class PermissionDeniedError(ComplaintError):
    """The actor's role may not fire this trigger.

    Attributes:
        complaint_id, trigger, role: what was attempted by whom.
        allowed_roles: the roles that may fire it.
    """

    def __init__(
        self, complaint_id: str, trigger: str, role: str, allowed_roles: Sequence[str]
    ) -> None:
        self.complaint_id = complaint_id
        self.trigger = trigger
        self.role = role
        self.allowed_roles = tuple(allowed_roles)
        super().__init__(
            f"role {role!r} may not fire {trigger!r} on complaint {complaint_id}; "
            f"allowed roles: {', '.join(self.allowed_roles) or 'none'}"
        )


class GuardRejectedError(ComplaintError):
    """A guard or declarative condition rejected the trigger.

    Attributes:
        complaint_id, trigger: what was attempted.
        guard: the guard's name or the condition's text.
        reason: why it said no.
    """

    def __init__(self, complaint_id: str, trigger: str, guard: str, reason: str) -> None:
        self.complaint_id = complaint_id
        self.trigger = trigger
        self.guard = guard
        self.reason = reason
        super().__init__(
            f"event {trigger!r} on complaint {complaint_id} rejected by {guard}: {reason}"
        )


class MissingFieldsError(ComplaintError):
    """The trigger requires fields that were not supplied.

    Attributes:
        complaint_id, trigger: what was attempted.
        missing: the field names that are missing.
    """

    def __init__(self, complaint_id: str, trigger: str, missing: Sequence[str]) -> None:
        self.complaint_id = complaint_id
        self.trigger = trigger
        self.missing = tuple(missing)
        super().__init__(
            f"event {trigger!r} on complaint {complaint_id} requires: {', '.join(self.missing)}"
        )


class ConcurrencyConflictError(ComplaintError):
    """The complaint changed since the caller read it.

    Attributes:
        complaint_id: the complaint.
        expected: the version the caller expected.
        actual: the version stored now.
    """

    def __init__(self, complaint_id: str, expected: int, actual: int) -> None:
        self.complaint_id = complaint_id
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"complaint {complaint_id} is at version {actual}, not the expected {expected}; "
            f"reload it and try again"
        )


class IdempotencyConflictError(ComplaintError):
    """An idempotency key was reused for a different request.

    Attributes:
        key: the idempotency key.
    """

    def __init__(self, key: str, detail: str = "") -> None:
        self.key = key
        suffix = f" ({detail})" if detail else ""
        super().__init__(
            f"idempotency key {key!r} was already used for a different request{suffix}"
        )


# --- storage ---------------------------------------------------------------------


class StoreError(ComplaintflowError):
    """The store failed or cannot be used."""


class SchemaOutdatedError(StoreError):
    """The database schema is not at the revision this version of the library needs.

    Attributes:
        current: the revision found (``None`` for an empty database).
        required: the revision required.
    """

    def __init__(self, current: str | None, required: str, url: str = "") -> None:
        self.current = current
        self.required = required
        where = f" at {url}" if url else ""
        super().__init__(
            f"database schema{where} is at revision {current or 'none'}, "
            f"this library needs {required}; run `complaintflow db upgrade URL`"
        )
