"""What the QA tests share: an agent and an intake record to open complaints with."""

from __future__ import annotations

from typing import Any

AGENT = ("li.na", "agent")
INTAKE: dict[str, Any] = {
    "customer_name": "Zhang Wei",
    "customer_contact": "+86 139 0000 0000",
    "channel": "phone",
    "object": "router X200",
    "reason": "the line drops every evening",
}
