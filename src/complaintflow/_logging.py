"""Structured logging that belongs to the host and never shows personal data.

Library loggers wrap stdlib loggers (``complaintflow.engine``, ...), so the host's
logging configuration decides where lines go and at what level. Events are named
``noun.past_verb`` with key/value context. The library only logs ids, states,
triggers and roles; a redaction processor masks personal keys and anything that
looks like an e-mail address or a phone number, as a second line of defence.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, MutableMapping
from typing import Any

import structlog

PERSONAL_KEYS = frozenset(
    {
        "customer_name",
        "customer_contact",
        "contact",
        "name",
        "phone",
        "email",
        "address",
        "place",
        "reason",
        "demand",
        "note",
        "comment",
        "text",
        "intake",
        "data",
        "extra",
        "solution",
        "outcome",
        "said",
    }
)
REDACTED = "[redacted]"

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
_PHONE = re.compile(r"(?<![\w-])\+?\d[\d\s().-]{6,}\d(?![\w-])")


def scrub(text: str) -> str:
    """``text`` with e-mail addresses and phone-like numbers masked."""
    return _PHONE.sub(REDACTED, _EMAIL.sub(REDACTED, text))


def redact(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: drop personal values, scrub free text."""
    for key in list(event):
        value = event[key]
        if key in PERSONAL_KEYS:
            event[key] = REDACTED
        elif isinstance(value, str):
            event[key] = scrub(value)
        elif isinstance(value, Mapping | list | tuple):
            event[key] = REDACTED
    return event


def _to_stdlib(
    _logger: Any, _method: str, event: MutableMapping[str, Any]
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    name = str(event.pop("event"))
    pairs = " ".join(f"{k}={v}" for k, v in event.items() if v is not None)
    message = f"{name} {pairs}" if pairs else name
    return (message,), {"extra": {"complaintflow_event": name, "complaintflow": dict(event)}}


def get_logger(name: str) -> Logger:
    """A structlog logger over the stdlib logger ``name``."""
    return Logger(logging.getLogger(name))


class Logger:
    """A thin structured logger; cheap when its level is disabled."""

    def __init__(self, stdlib: logging.Logger) -> None:
        self.stdlib = stdlib
        self._log = structlog.wrap_logger(
            stdlib, processors=[redact, _to_stdlib], wrapper_class=structlog.stdlib.BoundLogger
        )

    def enabled(self, level: int) -> bool:
        return self.stdlib.isEnabledFor(level)

    def info(self, event: str, **context: Any) -> None:
        if self.stdlib.isEnabledFor(logging.INFO):
            self._log.info(event, **context)

    def debug(self, event: str, **context: Any) -> None:
        if self.stdlib.isEnabledFor(logging.DEBUG):
            self._log.debug(event, **context)

    def warning(self, event: str, **context: Any) -> None:
        if self.stdlib.isEnabledFor(logging.WARNING):
            self._log.warning(event, **context)

    def error(self, event: str, **context: Any) -> None:
        if self.stdlib.isEnabledFor(logging.ERROR):
            self._log.error(event, **context)
