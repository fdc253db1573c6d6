"""Evaluating declarative conditions: data, never code (no eval, no exec)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from complaintflow.core._records import Complaint
from complaintflow.definition._models import Condition


def field_value(complaint: Complaint, data: Mapping[str, Any], name: str) -> Any:
    """The value a condition names: the event's data wins over what is stored."""
    if name.startswith("data.") and name[5:] in data:
        return data[name[5:]]
    if name in ("tier", "category") and name in data:
        return data[name]
    return complaint.value(name)


def _compare(op: str, actual: Any, operand: Any) -> bool:
    if op == "exists":
        return (actual is not None) == bool(operand)
    if op == "equals":
        return bool(actual == operand)
    if op == "not_equals":
        return bool(actual != operand)
    if op == "in":
        return actual in operand
    if op == "not_in":
        return actual not in operand
    if actual is None or isinstance(actual, bool) or not isinstance(actual, int | float):
        return False
    if op == "gt":
        return bool(actual > operand)
    if op == "gte":
        return bool(actual >= operand)
    if op == "lt":
        return bool(actual < operand)
    return bool(actual <= operand)


def failing_condition(
    conditions: Iterable[Condition], complaint: Complaint, data: Mapping[str, Any]
) -> Condition | None:
    """The first condition that does not hold, or ``None`` when all hold."""
    for condition in conditions:
        op = condition.operator
        if not _compare(op, field_value(complaint, data, condition.field), condition.operand(op)):
            return condition
    return None


def conditions_hold(
    conditions: Iterable[Condition], complaint: Complaint, data: Mapping[str, Any]
) -> bool:
    """True when every condition holds."""
    return failing_condition(conditions, complaint, data) is None
