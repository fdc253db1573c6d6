"""Import historical complaints from a CSV and replay them through a workflow.

Run from the repository root:

    .venv/bin/python examples/csv_replay/main.py [CSV]

A host moving to complaintflow wants to know how its past complaints would have fared
under the new process. Each row of ``complaints.csv`` (a legacy system's export:
ticket, received, acknowledged, channel, category, priority, resolved, closed,
score) becomes a
complaint, and its recorded steps are replayed at their recorded times on a
``FakeClock``. Between steps the clock stops at every due timer, so SLA warnings,
breaches, escalations and the feedback auto-close happen exactly when the workflow's
targets and business calendar say. The measures are then computed from the audit
trail with ``complaintflow.reporting``.
"""

from __future__ import annotations

import csv
import datetime as dt
import sys
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from complaintflow import Actor, ComplaintError, Engine, FakeClock
from complaintflow.reporting import compute_measures, render

HERE = Path(__file__).parent
STANDARD_WORKFLOW = HERE.parents[1] / "workflows" / "standard.yaml"
SHANGHAI = ZoneInfo("Asia/Shanghai")
TIERS = {"P1": "urgent", "P2": "severe", "P3": "moderate", "P4": "minor"}
# who starts and resolves a complaint of each tier (the tier's handler in the workflow)
HANDLERS = {"minor": "agent", "moderate": "tech_support", "severe": "manager", "urgent": "manager"}
AGENT = Actor("agent-import", "agent")


@dataclass(frozen=True)
class Step:
    at: dt.datetime
    order: int  # keeps a row's steps in sequence when they share a time
    ticket: str
    apply: Callable[[Engine], object]


def _time(text: str) -> dt.datetime:
    return dt.datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=SHANGHAI).astimezone(dt.UTC)


def read_steps(path: Path, ids: dict[str, str]) -> list[Step]:
    """The steps every row records, oldest first; ``ids`` maps tickets to complaints."""
    steps: list[Step] = []
    with path.open(newline="", encoding="utf-8") as file:
        for row in csv.DictReader(file):
            ticket, tier = row["ticket"], TIERS[row["priority"]]
            handler = Actor(f"{HANDLERS[tier]}-import", HANDLERS[tier])
            received, accepted, resolved, closed = (
                _time(row[k]) for k in ("received", "acknowledged", "resolved", "closed")
            )

            def open_it(engine: Engine, row: dict[str, str] = row) -> None:
                complaint = engine.open(
                    {
                        "customer_name": "imported",
                        "customer_contact": f"legacy:{row['ticket']}",
                        "channel": row["channel"],
                        "object": row["category"],
                        "reason": "imported from the legacy system",
                        "customer_ref": row["ticket"],
                        "extra": {"legacy_priority": row["priority"]},
                    },
                    actor=AGENT,
                    idempotency_key=f"import-{row['ticket']}",
                )
                ids[row["ticket"]] = complaint.id

            def fire(
                trigger: str, who: Actor, data: dict[str, object] | None = None, t: str = ticket
            ) -> Callable[[Engine], object]:
                return lambda engine: engine.fire(ids[t], trigger, actor=who, data=data)

            steps += [
                Step(received, 0, ticket, open_it),
                Step(accepted, 1, ticket, fire("acknowledge", AGENT)),
                Step(
                    accepted,
                    2,
                    ticket,
                    fire("classify", AGENT, {"tier": tier, "category": row["category"]}),
                ),
                Step(accepted, 3, ticket, fire("start_handling", handler)),
                Step(resolved, 4, ticket, fire("resolve", handler, {"solution": "as recorded"})),
                Step(
                    resolved,
                    5,
                    ticket,
                    fire("send_result", AGENT, {"channel": "phone", "said": "as recorded"}),
                ),
                Step(
                    closed,
                    6,
                    ticket,
                    fire("customer_satisfied", AGENT, {"score": int(row["score"])}),
                ),
            ]
    return sorted(steps, key=lambda s: (s.at, s.ticket, s.order))


def replay(csv_path: Path, database_url: str) -> Counter[str]:
    """Replay every row; counts of what happened. Prints the measures."""
    ids: dict[str, str] = {}
    steps = read_steps(csv_path, ids)
    clock = FakeClock(steps[0].at)
    outcome: Counter[str] = Counter()
    with Engine.from_url(database_url, workflows=STANDARD_WORKFLOW, clock=clock) as engine:
        sweeper = engine.sweeper()
        for step in steps:
            # stop at every timer due before the step, so each fires at its own time
            while (due := sweeper.next_due()) is not None and due <= step.at:
                clock.set(max(due, clock.now()))
                outcome["timers fired"] += engine.run_due_timers()
            clock.set(max(step.at, clock.now()))
            try:
                step.apply(engine)
                outcome["steps replayed"] += 1
            except ComplaintError as error:
                # e.g. the customer's late answer after the workflow auto-closed it
                outcome[f"refused: {type(error).__name__}"] += 1

        first, last = steps[0].at, max(s.at for s in steps if s.order == 0)
        report = compute_measures(
            engine,
            since=first,
            until=last + dt.timedelta(seconds=1),
            by=("tier",),
            timezone="Asia/Shanghai",
        )
        print(f"replayed {len(ids)} complaints from {csv_path.name} through standard-complaint@1")
        for what, count in sorted(outcome.items()):
            print(f"  {what}: {count}")
        print(render(report, "table", title=f"{csv_path.name} under the standard workflow"))
    outcome["complaints"] = len(ids)
    return outcome


def main() -> None:
    csv_path = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "complaints.csv"
    with tempfile.TemporaryDirectory() as folder:
        replay(csv_path, f"sqlite:///{folder}/replay.db")


if __name__ == "__main__":
    main()
