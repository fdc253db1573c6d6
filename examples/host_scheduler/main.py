"""A host that already runs APScheduler lends its scheduler to complaintflow's worker.

Run from the repository root:

    .venv/bin/python examples/host_scheduler/main.py

The host's ``BackgroundScheduler`` runs the host's own job; ``engine.worker(scheduler=...)``
adds one more job to it, the timer sweeper, instead of starting a scheduler of its own.
A complaint that arrived by letter yesterday is entered today: its 24-hour deadlines
have already passed, so the worker fires the warnings and the escalations at once.
Stopping the worker removes its job and leaves the host's scheduler running.
"""

from __future__ import annotations

import datetime as dt
import logging
import sys
import tempfile
import time
from pathlib import Path

from apscheduler.schedulers.background import BackgroundScheduler

from complaintflow import Actor, Engine

STANDARD_WORKFLOW = Path(__file__).resolve().parents[2] / "workflows" / "standard.yaml"
AGENT = Actor("agent-li", "agent")


def run(database_url: str, *, timeout: float = 20.0) -> int:
    """Run the host; the escalation level the complaint reached."""
    heartbeats = []
    scheduler = BackgroundScheduler(timezone=dt.UTC)
    scheduler.add_job(lambda: heartbeats.append(time.monotonic()), "interval", seconds=0.5)
    scheduler.start()

    with Engine.from_url(database_url, workflows=STANDARD_WORKFLOW) as engine:
        worker = engine.worker(scheduler=scheduler, safety_interval=dt.timedelta(seconds=1))
        worker.start()
        yesterday = dt.datetime.now(dt.UTC) - dt.timedelta(hours=25)
        complaint = engine.open(
            {
                "customer_name": "Li Na",
                "customer_contact": "li.na@example.com",
                "channel": "letter",
                "received_at": yesterday.isoformat(),
                "object": "installation visit",
                "reason": "the technician did not come",
            },
            actor=AGENT,
        )
        print(f"opened {complaint.id}, received {yesterday:%Y-%m-%d %H:%M} UTC")

        deadline = time.monotonic() + timeout
        while engine.get(complaint.id).escalation_level < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        worker.stop()

        escalated = engine.get(complaint.id)
        print(f"the worker fired {worker.fired} timers on the host's scheduler")
        print(f"now assigned to {escalated.assignee_role!r}, level {escalated.escalation_level}")
        for record in engine.history(complaint.id):
            if record.kind == "timer":
                print(f"  {record.at:%H:%M:%S} {record.data['clock']} {record.trigger}")
            elif record.kind == "effect":
                d = record.data
                print(f"  {record.at:%H:%M:%S} escalated {d['from_role']} -> {d['to_role']}")

    print(f"host job ran {len(heartbeats)} times; scheduler still running: {scheduler.running}")
    scheduler.shutdown()
    return escalated.escalation_level


def main() -> None:
    # the host configures logging: complaintflow's structured events go where it says
    logging.basicConfig(level=logging.INFO, format="%(name)s %(message)s", stream=sys.stdout)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # "skipped: maximum number of running instances reached" only says the sweeper job
    # was still busy when its next run came up
    logging.getLogger("apscheduler").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory() as folder:
        level = run(f"sqlite:///{folder}/complaints.db")
    sys.exit(0 if level >= 2 else 1)


if __name__ == "__main__":
    main()
