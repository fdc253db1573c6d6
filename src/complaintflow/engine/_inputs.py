"""Checks of what hosts hand to the engine's public methods: each refuses bad input with
an ``InvalidInputError`` that names the argument, before anything is read or written."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import ValidationError

from complaintflow.core._records import Actor, Intake
from complaintflow.exceptions import InvalidInputError


def valid_actor(value: object, what: str = "actor") -> Actor:
    if isinstance(value, Actor):
        actor = value
    elif isinstance(value, tuple) and len(value) == 2:
        actor = Actor(*value)
    else:
        raise InvalidInputError(what, ["expected Actor(id, role) or an (id, role) tuple"])
    if (
        not isinstance(actor.id, str)
        or not isinstance(actor.role, str)
        or not actor.id
        or not actor.role
        or len(actor.id) > 200
        or len(actor.role) > 64
        or not encodable(actor.id)
        or not encodable(actor.role)
    ):
        raise InvalidInputError(
            what,
            ["id and role must be non-empty Unicode strings (id at most 200, role 64 characters)"],
        )
    return actor


def encodable(value: str) -> bool:
    """False for text no database can store: lone surrogates are not Unicode text."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def valid_text(value: object, what: str, *, max_length: int = 200) -> str:
    if not isinstance(value, str) or not value or len(value) > max_length or not encodable(value):
        raise InvalidInputError(
            what, [f"expected a non-empty Unicode string of at most {max_length} characters"]
        )
    return value


def validation_errors(error: ValidationError) -> list[str]:
    # never echo the input: it is personal data
    return [
        f"{'.'.join(str(p) for p in e['loc']) or 'record'}: {e['msg']}"
        for e in error.errors(include_url=False, include_input=False, include_context=False)
    ]


def valid_intake(value: object) -> Intake:
    if isinstance(value, Intake):
        return value
    if not isinstance(value, Mapping):
        raise InvalidInputError("intake", ["expected an Intake or a mapping"])
    try:
        return Intake.model_validate(dict(value))
    except ValidationError as error:
        raise InvalidInputError("intake", validation_errors(error)) from None


def bounded(value: object, what: str, low: int, high: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise InvalidInputError(what, [f"expected an integer from {low} to {high}"])


def check_expected_version(value: object) -> None:
    if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
        raise InvalidInputError("expected_version", ["expected an integer"])


def optional_text(value: object, what: str) -> str | None:
    return None if value is None else valid_text(value, what)


def valid_note(value: object) -> str:
    if not isinstance(value, str) or len(value) > 2000:
        raise InvalidInputError("note", ["expected a string of at most 2000 characters"])
    return value
