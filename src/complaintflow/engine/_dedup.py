"""The matter key that makes a repeated contact join its open complaint (不重复)."""

from __future__ import annotations

import hashlib
import unicodedata

from complaintflow.core._records import Intake
from complaintflow.definition._compile import Workflow


def _normal(value: object) -> str:
    text = unicodedata.normalize("NFKC", str(value)).casefold()
    return " ".join(text.split())


def dedup_key(workflow: Workflow, intake: Intake) -> str | None:
    """A hash of the workflow's dedup fields, normalised (case, width, spacing).

    Only the hash is stored: the key itself is personal data. ``None`` when the
    workflow declares no dedup rule or a field is empty.
    """
    spec = workflow.spec.dedup
    if spec is None:
        return None
    parts = []
    for name in spec.fields:
        key = name.removeprefix("intake.")
        value = getattr(intake, key, None) if key in Intake.model_fields else intake.extra.get(key)
        if value is None or value == "":
            return None
        parts.append(_normal(value))
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:40]
