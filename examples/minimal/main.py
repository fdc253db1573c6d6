"""The smallest host: open a complaint, drive it to the end, print its history.

Run from the repository root:

    .venv/bin/python examples/minimal/main.py [DATABASE_URL]

Without a URL the complaint goes into a SQLite file in a temporary folder.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from complaintflow import Actor, Engine

WORKFLOW = Path(__file__).with_name("workflow.yaml")
AGENT = Actor("agent-li", "agent")


def run(database_url: str) -> None:
    # from_url applies the packaged migrations first; close() releases the database
    with Engine.from_url(database_url, workflows=WORKFLOW) as engine:
        complaint = engine.open(
            {
                "customer_name": "Zhang Wei",
                "customer_contact": "+86 139 1234 5678",
                "channel": "phone",
                "object": "March invoice",
                "reason": "charged twice for the same month",
                "demand": "refund the second charge",
            },
            actor=AGENT,
        )
        print(f"opened {complaint.id} ({complaint.workflow}) in state {complaint.state!r}")
        print("the agent may now:", ", ".join(engine.allowed_triggers(complaint.id, AGENT)))

        engine.fire(
            complaint.id, "start", actor=AGENT, data={"tier": "minor", "category": "billing"}
        )
        engine.fire(complaint.id, "resolve", actor=AGENT, data={"solution": "refunded"})
        closed = engine.fire(complaint.id, "confirm", actor=AGENT)
        print(f"now {closed.state!r} at version {closed.version}")

        print("history:")
        for record in engine.history(complaint.id):
            if record.kind == "clock":
                what = f"{record.data['clock']} {record.data['event']}"
            else:
                what = record.trigger or ""
            move = f"{record.from_state or '-'} -> {record.to_state or '-'}"
            print(f"  v{record.version} {record.kind:<10} {what:<16} {move:<32} {record.actor}")


def main() -> None:
    if len(sys.argv) > 1:
        run(sys.argv[1])
        return
    with tempfile.TemporaryDirectory() as folder:
        run(f"sqlite:///{folder}/complaints.db")


if __name__ == "__main__":
    main()
