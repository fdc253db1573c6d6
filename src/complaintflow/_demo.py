"""The main job behind ``complaintflow demo``: a simulated week of complaints on SQLite.

The shipped workflows are validated first. Then a fresh SQLite database is filled through
a real :class:`~complaintflow.Engine` on a :class:`~complaintflow.FakeClock`: synthetic
customers complain over a week starting Monday 2026-03-02 09:00 (Asia/Shanghai), agents
and handlers act on them with realistic delays inside their working hours, and the
clock is advanced in 15-30 minute steps, letting the timer sweeper apply SLA warnings,
breaches and escalations after each step. Finally the database is read back and
summarised. Everything random comes from one seeded ``random.Random``.
"""

from __future__ import annotations

import datetime as dt
import heapq
import random
import statistics
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.panel import Panel
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import func, select

from complaintflow.core._records import Actor, AuditRecord, ClockState, Complaint, Intake
from complaintflow.definition._compile import Workflow
from complaintflow.definition._graph import to_mermaid
from complaintflow.definition._registry import iter_workflow_files, load_workflow
from complaintflow.engine._engine import Engine
from complaintflow.exceptions import ComplaintError
from complaintflow.store._sql import SqlStore
from complaintflow.time._clock import FakeClock

TZ = ZoneInfo("Asia/Shanghai")
START = dt.datetime(2026, 3, 2, 9, 0, tzinfo=TZ)
WEEK = dt.timedelta(days=7)
DEFAULT_DB = Path("demo-output/demo.db")
DEFAULT_COMPLAINTS = 300
DEFAULT_SEED = 2026
SIMULATED_WORKFLOW = "standard.yaml"
UNCLASSIFIED = "no tier"

TIER_MIX = {"minor": 0.55, "moderate": 0.30, "severe": 0.11, "urgent": 0.04}
CHANNELS = {"phone": 0.35, "online": 0.2, "chat": 0.2, "email": 0.15, "on_site": 0.1}
STAFF = {"agent": 12, "group_leader": 2, "supervisor": 1, "tech_support": 5, "manager": 2}
# (weekdays, first hour, last hour) in local time; urgent complaints are worked around the clock
HOURS = {
    "agent": (frozenset(range(7)), 8, 20),
    "customer": (frozenset(range(7)), 8, 22),
    "office": (frozenset(range(5)), 9, 18),
}

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林高罗"
GIVEN = ["伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "杰", "涛", "秀英", "建华"]
GIVEN += ["晓东", "子涵", "一鸣", "雨桐", "浩然", "桂英"]
FIRST = ["James", "Anna", "Michael", "Sophie", "David", "Laura", "Thomas", "Emma", "Daniel"]
FIRST += ["Julia", "Peter", "Maria", "Lukas", "Olivia"]
LAST = ["Miller", "Schmidt", "Smith", "Müller", "Johnson", "Dubois", "Rossi", "Brown", "Weber"]
LAST += ["García", "Wilson", "Novak"]
PLACES = {
    "phone": ["hotline 400-820-1234", "客服热线"],
    "email": ["complaints mailbox"],
    "online": ["web portal", "官网投诉平台"],
    "chat": ["WeChat mini-program", "app chat"],
    "on_site": ["上海徐汇营业厅", "北京朝阳服务中心", "Shenzhen Futian store"],
}
TOPICS: dict[str, tuple[list[str], list[str], str]] = {
    "technical": (
        ["Fibre broadband 500M", "Wi-Fi router AX3000", "手机App (iOS)", "Smart TV box S3"],
        ["the connection drops every evening", "设备频繁死机", "the app crashes at login"],
        "line card replaced and firmware updated; speed test passed",
    ),
    "service": (
        ["hotline agent", "installation engineer", "门店服务人员", "online chat support"],
        ["rude on the phone", "engineer missed the booked slot", "服务态度差"],
        "apology given, engineer coached, new slot honoured",
    ),
    "process": (
        ["refund procedure", "contract cancellation", "实名认证流程", "plan change"],
        ["refund pending for three weeks", "asked for the same documents three times"],
        "procedure completed by the back office, customer informed",
    ),
    "product": (
        ["Air purifier P5", "Electric kettle K2", "扫地机器人 R7", "Water heater W60"],
        ["stopped working after ten days", "产品有异味", "does not match the description"],
        "unit replaced under warranty",
    ),
    "billing": (
        ["March invoice", "roaming charges", "会员自动续费", "installation fee"],
        ["charged twice", "未经同意自动扣费", "promised discount not applied"],
        "overcharge refunded to the original payment method",
    ),
    "delivery": (
        ["parcel delivery", "furniture delivery", "送货上门服务"],
        ["parcel arrived damaged", "three days late", "快递员未送货上门"],
        "replacement shipped with express delivery",
    ),
}
DEMANDS = ["refund", "replacement", "apology", "repair on site", "compensation", "退款", "换货"]


@dataclass
class Case:
    """What the simulation has decided a complaint's story will be."""

    index: int
    tier: str
    category: str
    feedback: list[str]
    info_requests: int
    withdraw_in: str | None
    escalate: bool
    reclassify: bool
    repeat_contact: bool
    return_visit: str | None

    @property
    def urgent(self) -> bool:
        return self.tier == "urgent"


@dataclass
class DemoResult:
    """What a demo run produced (the database itself holds the rest)."""

    db: Path
    complaints: int
    by_tier_state: Counter[tuple[str, str]]
    audit_records: int
    repeat_contacts_joined: int
    handed_over: int
    timers_fired: int
    sweeper: bool
    outbox: int
    seconds: float
    refused: list[str] = field(default_factory=list)


def _print_report(engine: Engine, clock: FakeClock, out: Console, db: Path) -> None:
    """The measures of the week, computed from the audit trail; an HTML copy beside the db."""
    from complaintflow.reporting import compute_measures, render

    report = compute_measures(
        engine, since=START, until=clock.now(), by=("tier",), timezone=str(TZ)
    )
    out.print("\nMeasures of the week (from the audit trail; complaintflow report):")
    out.print(render(report, "table"), markup=False, highlight=False)
    html = db.with_suffix(".report.html")
    html.write_text(render(report, "html", title="complaintflow demo week"), encoding="utf-8")
    out.print(f"HTML report: {html}")


def run_demo(
    *,
    db: Path = DEFAULT_DB,
    complaints: int = DEFAULT_COMPLAINTS,
    seed: int = DEFAULT_SEED,
    workflows: Path = Path("workflows"),
    show_diagrams: bool = False,
    console: Console | None = None,
    progress: bool = True,
) -> DemoResult:
    """Validate the shipped workflows, simulate a week of complaints into ``db``, summarise.

    ``db`` is deleted first when it exists. Returns the counts the summary shows.

    Raises:
        WorkflowValidationError: a shipped workflow is invalid.
        ComplaintflowError: the engine could not run.
    """
    out = console or Console(highlight=False)
    started = time.perf_counter()
    validate_workflows(workflows, out, show_diagrams=show_diagrams)
    _fresh(db)
    clock = FakeClock(START)
    engine = Engine.from_url(
        f"sqlite:///{db}", workflows=workflows / SIMULATED_WORKFLOW, clock=clock
    )
    with engine:
        sim = Simulation(engine, clock, complaints, random.Random(seed))
        out.print(
            f"\nsimulating {complaints} complaints on {sim.workflow.key} from "
            f"{START:%a %Y-%m-%d %H:%M} ({START.tzinfo}) for one week into {db}"
        )
        sim.run(out, progress=progress)
        result = summarise(engine, sim, db, out)
        _print_report(engine, clock, out, db)
    result.seconds = time.perf_counter() - started
    out.print(f"done in {result.seconds:.1f} s; the database is kept at {db}")
    return result


def validate_workflows(folder: Path, out: Console, *, show_diagrams: bool) -> None:
    """Load every workflow file in ``folder``: one line each (or its diagram)."""
    files = list(iter_workflow_files([folder]))
    for file in files:
        workflow = load_workflow(file)
        line = (
            f"{len(workflow.states)} states, {len(workflow.transitions)} transitions, "
            f"clocks: {', '.join(workflow.clocks) or 'none'}"
        )
        if show_diagrams:
            out.print(Panel(to_mermaid(workflow), title=f"{workflow.key} — {file}", subtitle=line))
        else:
            out.print(f"[green]ok[/green]    {file}: {workflow.key} ({line})")
    out.print(f"[green]{len(files)} workflow(s) valid[/green]")


def _fresh(db: Path) -> None:
    db.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm", "-journal"):
        db.with_name(db.name + suffix).unlink(missing_ok=True)


class Simulation:
    """Customers, agents and handlers acting on the engine while the clock moves."""

    def __init__(
        self, engine: Engine, clock: FakeClock, complaints: int, rng: random.Random
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.rng = rng
        self.workflow: Workflow = engine.workflow()
        self.chain = self.workflow.escalation_chain
        self.staff = {
            role: [f"{role.replace('_', '-')}-{i:02d}" for i in range(1, n + 1)]
            for role, n in STAFF.items()
        }
        self.cases: dict[str, Case] = {}
        self.tasks: list[tuple[dt.datetime, int, str, str]] = []
        self.seq = 0
        self.count = complaints
        self.tiers = _quota(TIER_MIX, complaints, rng)
        self.arrived = self.opened = self.closed = self.joined = self.handed_over = 0
        self.timers_fired = 0
        self.refused: list[str] = []
        self.sweep: Callable[..., int] | None = getattr(engine, "run_due_timers", None)
        self.steps: dict[str, Callable[[Complaint, Case], None]] = {
            "acknowledge": self._acknowledge,
            "classify": self._classify,
            "start": self._start,
            "work": self._work,
            "reply": self._reply,
            "send_result": self._send_result,
            "feedback": self._feedback,
            "return_visit": self._return_visit,
            "withdraw": self._withdraw,
            "repeat": self._repeat,
        }

    # --- the loop ----------------------------------------------------------------------

    def run(self, out: Console, *, progress: bool) -> None:
        end = START + WEEK
        arrivals = self._arrivals(end)
        for day in range(5):  # 交接班 on weekday evenings
            self._schedule(START.replace(hour=20) + dt.timedelta(days=day), "", "handover")
        bar = Progress(
            TextColumn("[bold]week[/bold]"),
            BarColumn(),
            TextColumn("{task.fields[now]}"),
            TextColumn("opened {task.fields[opened]} · closed {task.fields[closed]}"),
            TimeElapsedColumn(),
            console=out,
            transient=True,
            disable=not progress,
        )
        with bar:
            task = bar.add_task("week", total=WEEK.total_seconds(), now="", opened=0, closed=0)
            now = self.clock.now()
            while now < end:
                step = dt.timedelta(minutes=self.rng.randint(15, 30))
                now = self.clock.advance(min(step, end - now))
                self._run_timers()
                while arrivals and arrivals[-1] <= now:
                    self._open(arrivals.pop())
                while self.tasks and self.tasks[0][0] <= now:
                    _, _, cid, step_name = heapq.heappop(self.tasks)
                    self._perform(cid, step_name)
                bar.update(
                    task,
                    completed=(now - START).total_seconds(),
                    now=f"{now.astimezone(TZ):%a %m-%d %H:%M}",
                    opened=self.opened,
                    closed=self.closed,
                )

    def _run_timers(self) -> None:
        if self.sweep is None:
            return
        while True:
            fired = self.sweep(limit=500)
            self.timers_fired += fired
            if fired < 500:
                return

    def _arrivals(self, end: dt.datetime) -> list[dt.datetime]:
        """Arrival times over the week: busy office hours, quiet nights, calmer weekend."""
        hours = int((end - START).total_seconds() // 3600)
        weights = []
        for h in range(hours):
            local = START + dt.timedelta(hours=h)
            w = 1.4 if local.hour in (10, 11, 14, 15, 16) else 1.0
            if not 8 <= local.hour < 22:
                w = 0.25 if 6 <= local.hour < 8 or local.hour >= 22 else 0.05
            weights.append(w * (0.6 if local.weekday() >= 5 else 1.0))
        picks = self.rng.choices(range(hours), weights, k=self.count)
        times = [START + dt.timedelta(hours=h, seconds=self.rng.uniform(0, 3600)) for h in picks]
        return sorted(times, reverse=True)

    def _schedule(self, at: dt.datetime, cid: str, step: str) -> None:
        self.seq += 1
        heapq.heappush(self.tasks, (at, self.seq, cid, step))

    def _later(self, c: Complaint, step: str, minutes: float, who: str) -> None:
        """Schedule ``step`` about ``minutes`` from now, when ``who`` is at work."""
        urgent = self.cases[c.id].urgent and who != "customer"
        at = self.clock.now() + dt.timedelta(minutes=minutes)
        self._schedule(self._at_work(who, at, urgent), c.id, step)

    def _at_work(self, who: str, at: dt.datetime, urgent: bool) -> dt.datetime:
        if urgent:
            return at
        days, first, last = HOURS.get(who, HOURS["office"])
        local = at.astimezone(TZ)
        for offset in range(8):
            day = (local + dt.timedelta(days=offset)).date()
            if day.weekday() not in days:
                continue
            opens = dt.datetime.combine(day, dt.time(first), TZ)
            closes = dt.datetime.combine(day, dt.time(last), TZ)
            if offset == 0 and local >= closes:
                continue
            if offset == 0 and local >= opens:
                return at
            return opens + dt.timedelta(minutes=self.rng.uniform(0, 45))
        raise AssertionError("every role works at least once a week")

    def _delay(self, median: float, spread: float = 0.8) -> float:
        return median * self.rng.lognormvariate(0.0, spread)

    # --- actors ------------------------------------------------------------------------

    def _handler(self, c: Complaint) -> str | None:
        """The tier's handler, or the escalation assignee when that is higher up."""
        handler = self.workflow.tiers[c.tier].handled_by if c.tier else None
        if handler and c.assignee_role and self._rank(c.assignee_role) > self._rank(handler):
            return c.assignee_role
        return handler

    def _actor(self, c: Complaint, trigger: str, *, owner: bool = False) -> Actor:
        """Who fires ``trigger``: the owner (first contact) for front-office steps, else
        the handler, falling back to the tier's handler when the escalation assignee
        may not fire it (leadership only takes notes)."""
        allowed = self.workflow.roles_for(trigger, c.state)
        tier_handler = self.workflow.tiers[c.tier].handled_by if c.tier else None
        handlers = [self._handler(c), tier_handler, c.assignee_role]
        for role in [c.owner_role, *handlers] if owner else [*handlers, c.owner_role]:
            if role == c.owner_role and role in allowed:
                return Actor(c.owner, role)
            if role in allowed and role in self.staff:
                pool = self.staff[role]
                return Actor(pool[self.cases[c.id].index % len(pool)], role)
        raise AssertionError(f"no simulated actor may fire {trigger} in {c.state}")

    def _rank(self, role: str) -> int:
        return self.chain.index(role) if role in self.chain else 0

    def _who(self, c: Complaint) -> str:
        """Whose working hours a handling step waits for."""
        tier_handler = self.workflow.tiers[c.tier].handled_by if c.tier else None
        hands = next((r for r in (self._handler(c), tier_handler) if r in self.staff), None)
        return "agent" if hands in (None, "agent") else "office"

    def _fire(
        self, c: Complaint, trigger: str, data: Mapping[str, Any] | None = None, *, owner: bool
    ) -> Complaint | None:
        actor = self._actor(c, trigger, owner=owner)
        try:
            return self.engine.fire(c.id, trigger, actor=actor, data=data or {})
        except ComplaintError as exc:
            self.refused.append(f"{trigger} by {actor}: {exc}")
            return None

    # --- steps -------------------------------------------------------------------------

    def _perform(self, cid: str, step: str) -> None:
        if step == "handover":
            self._handover()
            return
        c = self.engine.get(cid)
        if self.workflow.is_final(c.state) and step not in ("return_visit", "repeat"):
            return
        self.steps[step](c, self.cases[cid])

    def _new_case(self, index: int, tier: str) -> Case:
        r = self.rng.random
        feedback = "satisfied" if r() < 0.85 else "silent"
        first = "unsatisfied" if r() < 0.13 else feedback
        return Case(
            index=index,
            tier=tier,
            category=self.rng.choice(self.workflow.spec.categories),
            feedback=[first, feedback] if first == "unsatisfied" else [first],
            info_requests=0 if r() < 0.78 else (1 if r() < 0.8 else 2),
            withdraw_in=self.rng.choice(["received", "classified", "awaiting_customer"])
            if r() < 0.06
            else None,
            escalate=tier in ("moderate", "severe") and r() < 0.1,
            reclassify=tier == "minor" and r() < 0.05,
            repeat_contact=r() < 0.07,
            return_visit=None if r() < 0.5 else ("reopen" if r() < 0.05 else "ok"),
        )

    def _intake(self, index: int, channel: str, case: Case) -> Intake:
        rng = self.rng
        western = rng.random() < 0.25
        if western:
            first, last = rng.choice(FIRST), rng.choice(LAST)
            name = f"{first} {last}"
            mail = unicodedata.normalize("NFKD", f"{first}.{last}{index}".lower())
            mail = mail.encode("ascii", "ignore").decode()
        else:
            name, mail = rng.choice(SURNAMES) + rng.choice(GIVEN), f"kehu{index:05d}"
        phone = f"+86 1{rng.choice('3456789')}{rng.randrange(10**9):09d}"
        objects, reasons, _ = TOPICS.get(case.category, TOPICS["service"])
        return Intake(
            customer_name=name,
            customer_contact=f"{mail}@example.com" if channel in ("email", "online") else phone,
            channel=channel,
            place=rng.choice(PLACES[channel]),
            object=rng.choice(objects),
            reason=rng.choice(reasons),
            demand=rng.choice(DEMANDS),
            customer_ref=f"CUST-{100000 + index}",
            # the emergency procedure starts at intake: leadership is told at once
            tier="urgent" if case.urgent else None,
        )

    def _open(self, received: dt.datetime) -> None:
        index = self.opened
        case = self._new_case(index, self.tiers[self.arrived])
        self.arrived += 1
        channel = self.rng.choices(list(CHANNELS), list(CHANNELS.values()))[0]
        intake = self._intake(index, channel, case).model_copy(update={"received_at": received})
        agent = Actor(self.rng.choice(self.staff["agent"]), "agent")
        c = self.engine.open(intake, actor=agent, idempotency_key=f"demo-intake-{index}")
        self.opened += 1
        self.cases[c.id] = case
        if case.withdraw_in == "received":
            self._later(c, "withdraw", self._delay(120), "customer")
        else:
            # a few slip through the cracks for a day
            late = 1500.0 if self.rng.random() < 0.04 else 0.0
            self._later(c, "acknowledge", self._delay(15 if case.urgent else 50) + late, "agent")
        if case.repeat_contact:
            self._later(c, "repeat", self.rng.uniform(120, 2880), "customer")

    def _acknowledge(self, c: Complaint, case: Case) -> None:
        if c.state == "received" and self._fire(c, "acknowledge", owner=True):
            self._later(c, "classify", self._delay(25), "agent")

    def _classify(self, c: Complaint, case: Case) -> None:
        data = {"tier": case.tier, "category": case.category}
        if c.state != "acknowledged" or not (after := self._fire(c, "classify", data, owner=True)):
            return
        if case.withdraw_in == "classified":
            self._later(after, "withdraw", self._delay(300), "customer")
        else:
            self._later(after, "start", self._delay(10 if case.urgent else 80), self._who(after))

    def _start(self, c: Complaint, case: Case) -> None:
        if c.state not in ("classified", "reopened"):
            return
        after = self._fire(c, "start_handling", owner=False)
        if after is None:
            return
        if case.escalate:
            case.escalate = False
            reason = "beyond the handler's authority: needs a cross-department decision"
            after = self._fire(after, "escalate", {"reason": reason}, owner=False) or after
        if self.rng.random() < 0.15:
            note = "called the customer to confirm the problem"
            after = self._fire(after, "add_note", {"note": note}, owner=False) or after
        median = {"minor": 240, "moderate": 600, "severe": 1200, "urgent": 150}[case.tier]
        self._later(after, "work", self._delay(median), self._who(after))

    def _work(self, c: Complaint, case: Case) -> None:
        if c.state != "in_progress":
            return
        if case.reclassify:
            case.reclassify = False
            leader = Actor(self.staff["group_leader"][0], "group_leader")
            data = {"tier": "moderate", "reason": "needs the technical team"}
            try:
                c = self.engine.fire(c.id, "reclassify", actor=leader, data=data)
                case.tier = "moderate"
            except ComplaintError as exc:
                self.refused.append(f"reclassify by {leader}: {exc}")
        if case.info_requests:
            case.info_requests -= 1
            question = {"question": "please send the order number and a photo"}
            if after := self._fire(c, "request_info", question, owner=False):
                step = "withdraw" if case.withdraw_in == "awaiting_customer" else "reply"
                self._later(after, step, self._delay(420), "customer")
            return
        _, _, solution = TOPICS.get(case.category, TOPICS["service"])
        if after := self._fire(c, "resolve", {"solution": solution}, owner=False):
            self._later(after, "send_result", self._delay(40), "agent")

    def _reply(self, c: Complaint, case: Case) -> None:
        if c.state == "awaiting_customer" and (
            after := self._fire(c, "customer_replied", {"reply": "sent the photos"}, owner=False)
        ):
            self._later(after, "work", self._delay(180), self._who(after))

    def _send_result(self, c: Complaint, case: Case) -> None:
        channel = self.rng.choice(["phone", "sms", "email", "wechat"])
        if c.state == "resolved" and (
            after := self._fire(
                c,
                "send_result",
                {"channel": channel, "said": "the result was explained"},
                owner=True,
            )
        ):
            self._later(after, "feedback", self._delay(480), "customer")

    def _feedback(self, c: Complaint, case: Case) -> None:
        if c.state != "awaiting_feedback":
            return
        opinion = case.feedback.pop(0) if case.feedback else "silent"
        if opinion == "silent":
            return  # the customer never answers; the workflow's auto_close is the system's
        if opinion == "unsatisfied":
            data = {"score": self.rng.choice([1, 2]), "comment": "the problem is still there"}
            if after := self._fire(c, "customer_unsatisfied", data, owner=True):
                self._later(after, "start", self._delay(60), self._who(after))
            return
        data = {"score": self.rng.choice([4, 5, 5])}
        if self._fire(c, "customer_satisfied", data, owner=True):
            self.closed += 1
            if case.return_visit:
                self._later(c, "return_visit", self.rng.uniform(1440, 4320), "agent")

    def _return_visit(self, c: Complaint, case: Case) -> None:
        if c.state != "closed":
            return
        if case.return_visit == "reopen":
            outcome = {"outcome": "the fault came back after two days"}
            if after := self._fire(c, "return_visit_reopen", outcome, owner=True):
                self.closed -= 1
                case.feedback = ["satisfied"]
                self._later(after, "start", self._delay(60), self._who(after))
        else:
            self._fire(c, "record_return_visit", {"outcome": "customer content"}, owner=True)

    def _withdraw(self, c: Complaint, case: Case) -> None:
        reason = {"reason": "the customer settled the matter directly with the shop"}
        if "withdraw" in self.workflow.allowed_triggers(c.state):
            self._fire(c, "withdraw", reason, owner=True)

    def _repeat(self, c: Complaint, case: Case) -> None:
        """The customer calls again about the same matter (不重复: it joins the open one)."""
        intake = c.intake.model_copy(
            update={"channel": "phone", "received_at": None, "reason": "calling again"}
        )
        agent = Actor(self.rng.choice(self.staff["agent"]), "agent")
        after = self.engine.open(intake, actor=agent)
        if after.id == c.id:
            self.joined += 1
        else:  # the first complaint was over: this is a new one, with a story of its own
            self.opened += 1
            self.cases[after.id] = self._new_case(self.opened - 1, case.tier)
            self._later(after, "acknowledge", self._delay(50), "agent")

    def _handover(self) -> None:
        """交接班: an agent off tomorrow hands every open complaint to a colleague."""
        agents = self.staff["agent"]
        day = (self.clock.now() - START).days
        leader = Actor(self.staff["group_leader"][day % 2], "group_leader")
        handed = self.engine.handover(
            agents[day % len(agents)],
            Actor(agents[(day + 5) % len(agents)], "agent"),
            actor=leader,
            note="shift handover: off tomorrow",
        )
        self.handed_over += len(handed)


def _quota(mix: dict[str, float], n: int, rng: random.Random) -> list[str]:
    """``n`` tiers in the proportions of ``mix`` (each at least once), shuffled."""
    counts = {tier: max(1, round(share * n)) for tier, share in mix.items()}
    counts[next(iter(mix))] += n - sum(counts.values())
    tiers = [tier for tier, k in counts.items() for _ in range(k)]
    rng.shuffle(tiers)
    return tiers or [next(iter(mix))]


# --- the summary -----------------------------------------------------------------------


def _all(engine: Engine) -> Iterator[Complaint]:
    cursor: str | None = None
    while True:
        page = engine.query(limit=1000, cursor=cursor)
        yield from page.items
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


def _breached(clock: ClockState, now: dt.datetime) -> bool:
    if clock.breached_at is not None:
        return True
    if clock.target_seconds is None:
        return False
    if clock.running:
        return clock.deadline is not None and clock.deadline <= now
    used = clock.accrued_business if clock.business else clock.accrued_wall
    return used > clock.target_seconds


def summarise(engine: Engine, sim: Simulation, db: Path, out: Console) -> DemoResult:
    """Read the database back and print what happened."""
    wf = sim.workflow
    now = sim.clock.now()
    complaints = list(_all(engine))
    histories = {c.id: engine.history(c.id) for c in complaints}
    records = [r for h in histories.values() for r in h]
    by_tier_state = Counter((c.tier or UNCLASSIFIED, c.state) for c in complaints)

    out.print()
    out.print(_state_table(wf, by_tier_state))
    out.print(_clock_table(wf, complaints, records, now))
    out.print(_escalation_table(wf, records))
    kinds = _outbox_kinds(engine)
    pending = sum(kinds.values())
    out.print(
        f"outbox: {pending} notification(s) waiting for the host to deliver"
        + (f" ({', '.join(f'{k} {n}' for k, n in kinds.most_common())})" if kinds else "")
    )
    out.print(_kpis(complaints, records, sim))
    if sim.sweep is None:
        out.print(
            "[yellow]note[/yellow]: this engine has no run_due_timers(); SLA warnings, "
            "breaches and escalations by the clock were not applied (breaches above are "
            "computed from the clocks)"
        )
    if sim.refused:
        out.print(f"[yellow]{len(sim.refused)} action(s) refused by the engine[/yellow]:")
        for line in sim.refused[:5]:
            out.print(f"  {line}")
    return DemoResult(
        db=db,
        complaints=len(complaints),
        by_tier_state=by_tier_state,
        audit_records=len(records),
        repeat_contacts_joined=sim.joined,
        handed_over=sim.handed_over,
        timers_fired=sim.timers_fired,
        sweeper=sim.sweep is not None,
        outbox=pending,
        seconds=0.0,
        refused=list(sim.refused),
    )


def _outbox_kinds(engine: Engine) -> Counter[str]:
    """Undelivered notifications by kind (``Engine.outbox`` pages only the oldest)."""
    store = engine.store
    if not isinstance(store, SqlStore):
        return Counter(m.notification.kind for m in engine.outbox(limit=1000))
    o = store.tables.outbox.c
    stmt = select(o.kind, func.count()).where(o.delivered_at.is_(None)).group_by(o.kind)
    with store.engine.connect() as conn:
        return Counter({str(kind): int(n) for kind, n in conn.execute(stmt)})


def _state_table(wf: Workflow, counts: Counter[tuple[str, str]]) -> Table:
    tiers = sorted(wf.tiers, key=wf.tier_level)
    if any(tier == UNCLASSIFIED for tier, _ in counts):
        tiers.append(UNCLASSIFIED)
    table = Table(title="Complaints by state and tier", show_footer=True)
    table.add_column("state", footer="total", no_wrap=True)
    for tier in [*tiers, "total"]:
        total = sum(n for (t, _), n in counts.items() if tier in (t, "total"))
        table.add_column(tier, justify="right", footer=str(total))
    for state in wf.states:
        row = [counts[(tier, state)] for tier in tiers]
        if sum(row):
            table.add_row(state, *(str(n or "") for n in row), str(sum(row)))
    return table


def _clock_table(
    wf: Workflow, complaints: list[Complaint], records: list[AuditRecord], now: dt.datetime
) -> Table:
    table = Table(
        title="SLA clocks (latest run per complaint; warnings and breaches the sweeper fired)"
    )
    table.add_column("clock", no_wrap=True)
    for name in ("started", "stopped on time", "breached", "still running", "warnings", "breaches"):
        table.add_column(name, justify="right")
    fired = Counter((r.data.get("clock"), r.trigger) for r in records if r.kind == "timer")
    for name in wf.clocks:
        clocks = [k for c in complaints if (k := c.clock(name)) is not None]
        breached = [k for k in clocks if _breached(k, now)]
        on_time = [k for k in clocks if k.status == "stopped" and not _breached(k, now)]
        running = [k for k in clocks if k.status != "stopped" and not _breached(k, now)]
        table.add_row(
            name,
            str(len(clocks)),
            str(len(on_time)),
            str(len(breached)),
            str(len(running)),
            str(fired[(name, "warning")]),
            str(fired[(name, "breach")] + fired[(name, "repeat")]),
        )
    return table


def _escalation_table(wf: Workflow, records: list[AuditRecord]) -> Table:
    table = Table(title="Escalations by level (one level at a time up the chain)")
    for name in ("level", "to role", "escalations", "by the clock", "by people / tier"):
        table.add_column(name, justify="left" if name in ("level", "to role") else "right")
    events = [r for r in records if r.kind == "effect" and r.trigger == "escalate"]
    levels: Counter[str] = Counter()
    system: Counter[str] = Counter()
    for r in events:
        level = str(r.data.get("escalation_level", "at top"))
        levels[level] += 1
        system[level] += r.role == "system"
    chain = wf.escalation_chain
    for level in sorted(levels, key=lambda v: (not v.isdigit(), v)):
        role = chain[int(level)] if level.isdigit() else chain[-1]
        table.add_row(
            level, role, str(levels[level]), str(system[level]), str(levels[level] - system[level])
        )
    if not levels:
        table.add_row("—", "—", "0", "0", "0")
    return table


def _kpis(complaints: list[Complaint], records: list[AuditRecord], sim: Simulation) -> str:
    acks = [
        k.accrued_wall / 3600
        for c in complaints
        if (k := c.clock("acknowledge")) is not None and k.status == "stopped"
    ]
    scores = [float(c.facts["score"]) for c in complaints if "score" in c.facts]
    transitions = sum(r.kind == "transition" for r in records)
    finished = sum(c.closed_at is not None for c in complaints)
    reopened = sum(c.reopen_count > 0 for c in complaints)
    median_ack = f"{statistics.median(acks):.1f} h" if acks else "—"
    mean_score = f"{statistics.mean(scores):.2f}/5" if scores else "—"
    return (
        f"{len(complaints)} complaints, {len(records)} audit records ({transitions} "
        f"transitions); finished {finished}, reopened {reopened}; median time to "
        f"acknowledge {median_ack}; satisfaction {mean_score}; repeat contacts joined "
        f"{sim.joined}; handed over at shift change {sim.handed_over}; timers fired "
        f"{sim.timers_fired}"
    )
