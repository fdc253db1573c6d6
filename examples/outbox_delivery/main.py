"""Deliver escalation notifications from the outbox through the host's task queue.

Run from the repository root:

    .venv/bin/python examples/outbox_delivery/main.py

Every notification a change makes (an SLA warning, an escalation, a severe complaint
reported to leadership) is written to the outbox in the same transaction as the
change, so none is lost when the process dies. The host reads the outbox, hands each
message to its own task queue (here a ``queue.Queue`` drained by a thread; Celery,
RQ or a message broker in production), and marks a message delivered once its task
has sent it. A crash between sending and marking sends the message again: delivery
is at least once, so the task skips message ids it has already sent.
"""

from __future__ import annotations

import datetime as dt
import queue
import tempfile
import threading
from pathlib import Path

from complaintflow import Actor, Engine, FakeClock
from complaintflow.store import OutboxMessage

STANDARD_WORKFLOW = Path(__file__).resolve().parents[2] / "workflows" / "standard.yaml"
AGENT = Actor("agent-li", "agent")
# Monday 2 March 2026, 09:00 in Shanghai: a fixed clock makes the run repeatable
MONDAY_9AM = dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.UTC)
CHANNEL = {"escalated": "pager", "clock_warning": "e-mail"}


class DeliveryQueue:
    """The host's task queue: one thread sends what is put on it."""

    def __init__(self) -> None:
        self.tasks: queue.Queue[OutboxMessage | None] = queue.Queue()
        self.sent: dict[int, str] = {}  # message id -> what was sent: makes resends harmless
        self.done: list[int] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._work, name="delivery", daemon=True)
        self._thread.start()

    def _work(self) -> None:
        while (message := self.tasks.get()) is not None:
            try:
                with self._lock:
                    if message.id not in self.sent:
                        self.sent[message.id] = send(message)
                    self.done.append(message.id)
            finally:
                self.tasks.task_done()

    def take_done(self) -> list[int]:
        with self._lock:
            done, self.done = self.done, []
        return done

    def close(self) -> None:
        self.tasks.put(None)
        self._thread.join()


def send(message: OutboxMessage) -> str:
    """Stand-in for the host's mailer or pager: build the text (ids and roles only)."""
    n = message.notification
    channel = CHANNEL.get(n.kind, "e-mail")
    if n.kind == "escalated":
        text = f"complaint {n.complaint_id} escalated to you ({n.payload['reason']})"
    elif n.kind == "clock_warning":
        text = f"complaint {n.complaint_id}: {n.payload['clock']} due {n.payload['deadline']}"
    else:
        text = f"complaint {n.complaint_id}: {n.kind}"
    line = f"{channel:<6} to {n.role:<12} {text}"
    print(f"  sent {line}")
    return line


def relay(engine: Engine, deliveries: DeliveryQueue) -> int:
    """Hand every undelivered message to the queue, wait, mark the sent ones delivered."""
    pending = engine.outbox(limit=100)
    for message in pending:
        deliveries.tasks.put(message)
    deliveries.tasks.join()
    engine.mark_delivered(deliveries.take_done())
    return len(pending)


def run(database_url: str) -> int:
    """Run the host; how many messages are left undelivered (0)."""
    clock = FakeClock(MONDAY_9AM)
    deliveries = DeliveryQueue()
    with Engine.from_url(database_url, workflows=STANDARD_WORKFLOW, clock=clock) as engine:
        for contact, thing in [("+86 139 1234 5678", "router X200"), ("li@example.com", "bill")]:
            engine.open(
                {
                    "customer_name": "a customer",
                    "customer_contact": contact,
                    "channel": "phone",
                    "object": thing,
                    "reason": "no answer yet",
                },
                actor=AGENT,
            )
        print("two complaints opened; nobody acknowledges them")
        for hours in (19, 6):  # past the 75 % warnings, then past the 24-hour deadlines
            clock.advance(dt.timedelta(hours=hours))
            fired = engine.run_due_timers()
            print(f"{clock.now():%a %H:%M} UTC: {fired} timers fired; relaying the outbox")
            relay(engine, deliveries)
        left = len(engine.outbox())
    deliveries.close()
    print(f"{len(deliveries.sent)} messages sent, {left} left in the outbox")
    return left


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        left = run(f"sqlite:///{folder}/complaints.db")
    raise SystemExit(0 if left == 0 else 1)


if __name__ == "__main__":
    main()
