"""The QA kit's parts: its public namespace, its rules on tampered data, the story, the
temporary engine, the ``check`` command."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import typer
from typer.testing import CliRunner

import complaintflow._cli
import complaintflow.testing
from complaintflow import Engine, load_workflow
from complaintflow.store import SqlStore
from complaintflow.testing import (
    BUILTIN_INVARIANTS,
    FakeClock,
    InvariantViolation,
    Violation,
    engine_on_temp_sqlite,
    workflow_state_machine,
)
from complaintflow.testing._facts import facts_of
from complaintflow.testing._invariants import Observed, TimerRow, check, violation_class
from complaintflow.testing._story import Story, show_value

from ._support import AGENT, INTAKE

ROOT = Path(__file__).resolve().parents[2]
STANDARD_FILE = ROOT / "workflows" / "standard.yaml"
STANDARD = load_workflow(STANDARD_FILE)
SEEDED = Path(__file__).resolve().parent / "seeded"
BROKEN = ROOT / "tests" / "definition" / "broken" / "unknown_state.yaml"


def test_the_public_namespace_is_sorted_and_complete() -> None:
    names = complaintflow.testing.__all__
    # the order ruff keeps (RUF022): constants, then classes, then functions
    kind = {True: 0, False: 1}
    assert list(names) == sorted(names, key=lambda n: (kind[n.isupper()], n[0].islower(), n))
    # pytest's assertion rewriting (the plugin's package is rewritten) adds "@py_..." names
    public = {n for n in vars(complaintflow.testing) if not n.startswith(("_", "@"))}
    assert public - {"annotations"} <= set(names) | {"testing"}
    for name in names:
        assert getattr(complaintflow.testing, name) is not None


# --- rules ------------------------------------------------------------------------------


def observe(engine: Engine, cid: str) -> Observed:
    store = engine.store
    assert isinstance(store, SqlStore)
    t = store.tables
    with store.engine.connect() as conn:
        rows = conn.execute(
            sa.select(
                t.timers.c.clock,
                t.timers.c.kind,
                t.timers.c.threshold,
                t.timers.c.sequence,
                t.timers.c.due_at,
                t.timers.c.status,
            ).where(t.timers.c.complaint_id == cid)
        ).all()
    return Observed(engine.get(cid), engine.history(cid), [TimerRow(*r) for r in rows], [])


def broken(engine: Engine, cid: str, clock: FakeClock) -> set[str]:
    found = check(facts_of(STANDARD), observe(engine, cid), "C-1", now=clock.now(), calendar=None)
    return {v.invariant for v in found}


@pytest.fixture
def classified() -> Any:
    clock = FakeClock(dt.datetime(2026, 1, 5, 1, 0, tzinfo=dt.UTC))
    with engine_on_temp_sqlite(STANDARD, clock=clock) as engine:
        cid = engine.open(INTAKE, actor=AGENT).id
        engine.fire(cid, "acknowledge", actor=AGENT)
        engine.fire(cid, "classify", actor=AGENT, data={"tier": "minor", "category": "service"})
        yield engine, cid, clock


def tamper(engine: Engine, table: str, where: Any, **values: Any) -> None:
    store = engine.store
    assert isinstance(store, SqlStore)
    target = getattr(store.tables, table)
    with store.engine.begin() as conn:
        conn.execute(sa.update(target).where(where(target.c)).values(**values))


def test_a_complaint_handled_by_the_book_breaks_no_rule(classified: Any) -> None:
    engine, cid, clock = classified
    assert broken(engine, cid, clock) == set()


def test_a_state_changed_behind_the_audit_trail_breaks_state_matches_audit(
    classified: Any,
) -> None:
    engine, cid, clock = classified
    tamper(engine, "complaints", lambda c: c.id == cid, state="in_progress")
    assert "state-matches-audit" in broken(engine, cid, clock)


def test_an_owner_changed_without_a_transfer_breaks_owner_accountable(classified: Any) -> None:
    engine, cid, clock = classified
    tamper(engine, "complaints", lambda c: c.id == cid, owner="someone.else")
    assert broken(engine, cid, clock) == {"owner-accountable"}


def test_a_second_pending_timer_breaks_clock_timers(classified: Any) -> None:
    engine, cid, clock = classified
    store = engine.store
    assert isinstance(store, SqlStore)
    timers = store.tables.timers
    with store.engine.begin() as conn:
        row = (
            conn.execute(
                sa.select(timers).where(timers.c.clock == "resolve", timers.c.status == "pending")
            )
            .mappings()
            .one()
        )
        conn.execute(sa.insert(timers).values({k: v for k, v in row.items() if k != "id"}))
    assert broken(engine, cid, clock) == {"clock-timers"}


def test_a_cancelled_timer_of_a_running_clock_breaks_clock_timers(classified: Any) -> None:
    engine, cid, clock = classified
    tamper(engine, "timers", lambda t: t.clock == "resolve", status="cancelled")
    assert broken(engine, cid, clock) == {"clock-timers"}


def test_an_escalation_record_skipping_a_level_breaks_escalation_one_level(
    classified: Any,
) -> None:
    engine, cid, clock = classified
    engine.fire(cid, "escalate", actor=AGENT)
    data = {"escalation_level": 2, "from_role": "agent", "to_role": "supervisor", "reason": "x"}
    tamper(engine, "audit", lambda a: (a.kind == "effect") & (a.trigger == "escalate"), data=data)
    tamper(engine, "complaints", lambda c: c.id == cid, escalation_level=2)
    assert broken(engine, cid, clock) == {"escalation-one-level"}


def test_an_audit_time_before_the_previous_one_breaks_time_forward(classified: Any) -> None:
    engine, cid, clock = classified
    early = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    tamper(engine, "audit", lambda a: (a.complaint_id == cid) & (a.version == 3), at=early)
    assert broken(engine, cid, clock) == {"time-forward"}


def test_every_built_in_rule_has_a_description() -> None:
    assert all(text for text in BUILTIN_INVARIANTS.values())
    assert "clock-timers" in BUILTIN_INVARIANTS


def test_each_rule_fails_with_a_type_of_its_own() -> None:
    cls = violation_class("clock-timers")
    assert cls.__name__ == "ClockTimersViolation"
    assert issubclass(cls, InvariantViolation)
    assert violation_class("clock-timers") is cls
    assert violation_class("2nd.rule").__name__ == "Rule2ndRuleViolation"
    error = cls([Violation("clock-timers", "C-1", "two timers")], "story", "wf@1")
    assert error.invariant == "clock-timers"
    assert error.names == {"clock-timers"}


# --- story ------------------------------------------------------------------------------


def test_the_story_escapes_control_characters_and_cuts_long_text() -> None:
    assert show_value("li.na") == "li.na"
    assert show_value("a\x00b") == "'a\\x00b'"
    assert show_value(" padded ") == "' padded '"
    assert show_value("x" * 500).endswith("… (500 chars)")


def test_the_story_tells_times_in_the_given_zone_and_names_complaints_in_order() -> None:
    story = Story("title", dt.timezone(dt.timedelta(hours=8)))
    assert story.alias("C-01ABC") == "C-1"
    assert story.alias("C-01XYZ") == "C-2"
    assert story.alias("C-01ABC") == "C-1"
    story.say(dt.datetime(2026, 1, 5, 1, 0, tzinfo=dt.UTC), "agent li.na opens C-1")
    story.detail("clocks: acknowledge started")
    assert story.render(["!! rule broken"]).splitlines() == [
        "title",
        "  Mon 01-05 09:00   agent li.na opens C-1",
        "                      clocks: acknowledge started",
        "!! rule broken",
    ]


# --- the temporary engine and the machine ------------------------------------------------


def test_the_temporary_engine_is_a_real_sqlite_file_removed_afterwards() -> None:
    with engine_on_temp_sqlite(STANDARD_FILE) as engine:
        store = engine.store
        assert isinstance(store, SqlStore)
        path = Path(str(store.engine.url.database))
        assert path.is_file()
        engine.open(INTAKE, actor=AGENT)
    assert not path.exists()
    assert not path.parent.exists()


def test_the_machine_is_a_test_case_with_the_kits_settings() -> None:
    machine = workflow_state_machine(STANDARD)
    assert machine.__name__ == "StandardComplaintLifecycle"
    assert machine.TestCase.settings.stateful_step_count == complaintflow.testing.DEFAULT_STEPS
    with pytest.raises(ValueError, match="timezone-aware"):
        workflow_state_machine(STANDARD, start=dt.datetime(2026, 1, 5))


def test_the_machine_runs_under_unittest_and_finds_a_seeded_bug() -> None:
    from hypothesis import seed

    machine = workflow_state_machine(SEEDED / "clock_stop_bypassed.yaml", shrink_seconds=2)
    test_case = seed(1)(machine.TestCase)("runTest")
    with pytest.raises(InvariantViolation) as caught:
        test_case.runTest()
    assert "resolved-before-feedback" in caught.value.names


# --- the check command ------------------------------------------------------------------


def cli() -> typer.Typer:
    return complaintflow._cli.app


def test_check_exits_0_when_every_rule_holds() -> None:
    result = CliRunner().invoke(
        cli(), ["check", str(STANDARD_FILE), "--examples", "3", "--seed", "7"]
    )
    assert result.exit_code == 0, result.output
    assert "ok    standard-complaint@1" in result.output
    assert "seed 7" in result.output


def test_check_exits_1_and_prints_the_story_when_a_rule_breaks() -> None:
    result = CliRunner().invoke(
        cli(),
        ["check", str(SEEDED / "clock_stop_bypassed.yaml"), "--seed", "1", "--shrink-seconds", "5"],
    )
    assert result.exit_code == 1, result.output
    assert "FAIL  seeded-clock-stop-bypassed@1" in result.output
    assert "rerun with --seed 1" in result.output
    assert "Counterexample for seeded-clock-stop-bypassed@1" in result.output
    assert "!! rule broken: resolved-before-feedback" in result.output


def test_check_tells_the_kits_own_defaults() -> None:
    from complaintflow.testing import DEFAULT_EXAMPLES, DEFAULT_SHRINK_SECONDS, DEFAULT_STEPS

    output = CliRunner().invoke(cli(), ["check", "--help"]).output
    text = " ".join(output.replace("│", " ").split())
    assert f"per workflow (default {DEFAULT_EXAMPLES})" in text
    assert f"Steps per run (default {DEFAULT_STEPS})" in text
    assert f"(default {DEFAULT_SHRINK_SECONDS} s)" in text


def test_check_without_hypothesis_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "complaintflow.testing", None)
    result = CliRunner().invoke(cli(), ["check", str(STANDARD_FILE)])
    assert result.exit_code == 2
    assert "pip install 'complaintflow[testing]'" in result.output


def test_check_exits_2_on_an_invalid_workflow_file() -> None:
    result = CliRunner().invoke(cli(), ["check", str(BROKEN)])
    assert result.exit_code == 2
    assert "unknown state" in result.output


def test_a_result_reports_its_budget_and_seed() -> None:
    from complaintflow.testing import CheckResult

    result = CheckResult("wf@1", "wf.yaml", 5, 10, 42, None, 1.0)
    assert result.passed
    assert (
        result.report()
        == "ok    wf@1 (wf.yaml): no rule broken in 5 runs of up to 10 steps, seed 42"
    )
    assert dataclasses.replace(result, seed=1).report().endswith("seed 1")


# --- guards the host registers ---------------------------------------------------------

GUARDED = Path(__file__).resolve().parent / "guarded" / "reopen_skips_feedback.yaml"


def test_a_stand_in_guard_says_both_yes_and_no_and_the_same_again() -> None:
    from complaintflow.testing._engine import stand_in_guard

    guard = stand_in_guard("customer_reachable")
    complaint = dataclasses.make_dataclass("C", ["state", "version"])
    answers = [guard(complaint("resolved", v), {})[0] for v in range(1, 40)]
    assert set(answers) == {True, False}
    assert answers == [guard(complaint("resolved", v), {})[0] for v in range(1, 40)]
    assert guard(complaint("resolved", answers.index(False) + 1), {}) == (
        False,
        "the kit's stand-in for guard 'customer_reachable' said no",
    )


def test_check_plays_the_guards_it_is_not_given_and_finds_the_bug_behind_them() -> None:
    result = CliRunner().invoke(
        cli(), ["check", str(GUARDED), "--seed", "1", "--shrink-seconds", "1"]
    )
    assert result.exit_code == 1, result.output
    assert "guards played by stand-ins: customer_reachable" in result.output
    assert "!! rule broken: feedback-before-close" in result.output


def test_check_uses_the_hosts_guards(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The host's guard never lets send_result through: the bug behind it is unreachable."""
    (tmp_path / "host_guards.py").write_text(
        "GUARDS = {'customer_reachable': lambda complaint, data: (False, 'no phone number')}\n",
        encoding="utf-8",
    )
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(
        cli(), ["check", str(GUARDED), "--guards", "host_guards:GUARDS", "--examples", "20"]
    )
    assert result.exit_code == 0, result.output
    assert "stand-ins" not in result.output


@pytest.mark.parametrize(
    ("spec", "said"),
    [
        ("bad_guards", "expected module:NAME"),
        ("no_such_module:GUARDS", "cannot import no_such_module:GUARDS"),
        ("bad_guards:NOT_A_MAPPING", "is not a mapping of guard names to functions"),
    ],
)
def test_check_refuses_guards_it_cannot_import(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spec: str, said: str
) -> None:
    (tmp_path / "bad_guards.py").write_text("NOT_A_MAPPING = 3\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli(), ["check", str(GUARDED), "--guards", spec])
    assert result.exit_code == 2
    assert said in result.output


def test_the_qa_guide_lists_every_built_in_rule_as_the_kit_describes_it() -> None:
    guide = (ROOT / "docs" / "qa-guide.md").read_text(encoding="utf-8")
    rows = dict(re.findall(r"^\| `([a-z-]+)` \| (.+?) \|$", guide, flags=re.MULTILINE))
    assert {name: rows.get(name) for name in BUILTIN_INVARIANTS} == dict(BUILTIN_INVARIANTS)


def test_the_story_tells_a_detail_repeated_line_after_line_once() -> None:
    story = Story("Counterexample", dt.UTC)
    at = dt.datetime(2026, 1, 5, 1, 0, tzinfo=dt.UTC)
    story.say(at, "7d pass; the sweeper runs as timers fall due")
    for _ in range(3):
        story.detail("C-1: escalation at the top (leadership)")
    story.detail("C-1: clocks: resolve breached")
    story.say(at, "7d pass; the sweeper runs as timers fall due")
    lines = story.render().splitlines()[1:]
    assert [line.strip() for line in lines[1:3]] == [
        "C-1: escalation at the top (leadership) (x3)",
        "C-1: clocks: resolve breached",
    ]
    assert len(lines) == 4
