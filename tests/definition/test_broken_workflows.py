"""Broken workflow files are rejected with every problem, each placed and explained.

Every fixture in ``broken/`` is a small workflow with deliberate defects (its first
line says which); the table holds the exact problems it must produce, in file order,
as ``str(problem)`` gives them: ``file:line:column: path: message``. The fixtures are
loaded from inside ``broken/`` so that the file names in the messages are stable.
"""

# The table holds whole messages; wrapped, they would no longer read as a user sees them.
# ruff: noqa: E501

from __future__ import annotations

from pathlib import Path

import pytest

from complaintflow import load_workflow
from complaintflow.exceptions import Problem, WorkflowValidationError

BROKEN = Path(__file__).parent / "broken"
SHARED = {"calendars.yaml"}
"""Files in ``broken/`` that fixtures import rather than fixtures themselves."""

EXPECTED: dict[str, list[str]] = {
    "yaml_syntax_error": [
        "yaml_syntax_error.yaml:5:11: YAML syntax error: expected ',' or ']', but got ':' (while parsing a flow sequence that starts on line 4)",
    ],
    "tab_indentation": [
        "tab_indentation.yaml:5:1: YAML syntax error: a tab character cannot be used here; YAML indents with spaces only, never tabs",
    ],
    "duplicate_key": [
        "duplicate_key.yaml:20:5: transitions[0].dest: duplicate key 'dest' (first given on line 18)",
    ],
    "python_tag": [
        "python_tag.yaml:4:14: description: tag '!!python/object/apply:os.system' is not allowed: workflow files are read as safe YAML, which never builds Python objects",
    ],
    "other_tags": [
        "other_tags.yaml:4:14: description: tag '!!binary' is not allowed: write plain text, numbers, true/false, dates, lists and mappings, without tags",
        "other_tags.yaml:5:8: roles: tag '!roles' is not allowed: write plain text, numbers, true/false, dates, lists and mappings, without tags",
        "other_tags.yaml:7:13: categories: tag '!!set' is not allowed: write plain text, numbers, true/false, dates, lists and mappings, without tags",
        "other_tags.yaml:21:5: transitions[0]: merge keys (<<) are not supported; write the keys out",
    ],
    "empty": [
        "empty.yaml:1:1: the file is empty",
    ],
    "top_level_list": [
        "top_level_list.yaml:1:1: a workflow file is a mapping of keys (workflow:, version:, states:, ...), got a list",
    ],
    "several_documents": [
        "several_documents.yaml:5:1: a workflow file holds one YAML document, found several",
    ],
    "unknown_top_level_key": [
        "unknown_top_level_key.yaml:6:1: categorys: unknown key 'categorys' (did you mean 'categories'?)",
    ],
    "missing_required_key": [
        "missing_required_key.yaml:2:1: missing required key 'version'",
        "missing_required_key.yaml:15:5: transitions[0]: missing required key 'roles'",
    ],
    "transition_key_words": [
        "transition_key_words.yaml:17:5: transitions[0].from: unknown key 'from' (did you mean 'source'?)",
        "transition_key_words.yaml:18:5: transitions[0].to: unknown key 'to' (did you mean 'dest'?)",
        "transition_key_words.yaml:22:5: transitions[1].destination: unknown key 'destination' (did you mean 'dest'?)",
        "transition_key_words.yaml:24:5: transitions[1].when: unknown key 'when' (did you mean 'conditions'?)",
        "transition_key_words.yaml:25:5: transitions[1].priority: unknown key 'priority'; allowed: trigger, source, dest, roles, description, requires, guards, conditions, actions, bypasses_feedback",
    ],
    "invalid_names": [
        "invalid_names.yaml:2:11: workflow: 'mini workflow' is not a valid name: names start with a letter or digit and hold only letters, digits, _ . -",
        "invalid_names.yaml:4:16: roles[1]: 'team lead' is not a valid name: names start with a letter and hold only letters, digits and _",
        "invalid_names.yaml:6:23: categories[1]: 'after sales' is not a valid name: names start with a letter or digit and hold only letters, digits, _ . -",
        "invalid_names.yaml:11:3: tiers.2urgent: '2urgent' is not a valid key: names start with a letter and hold only letters, digits and _",
        "invalid_names.yaml:16:14: transitions[0].trigger: 'close now' is not a valid name: names start with a letter and hold only letters, digits and _",
    ],
    "yaml_boolean_name": [
        "yaml_boolean_name.yaml:14:5: states[1]: on is read by YAML as the boolean true; to mean the text, write it in quotes: 'on'",
        "yaml_boolean_name.yaml:15:12: states[2].name: off is read by YAML as the boolean false; to mean the text, write it in quotes: 'off'",
        "yaml_boolean_name.yaml:19:11: transitions[0].dest: on is read by YAML as the boolean true; to mean the text, write it in quotes: 'on'",
    ],
    "yaml_sexagesimal": [
        "yaml_sexagesimal.yaml:22:18: clocks.daily_report.description: 13:30 is read by YAML 1.1 as the base-60 number 810; to mean the text, write it in quotes: '13:30'",
    ],
    "unknown_state": [
        "unknown_state.yaml:18:13: transitions[0].source: unknown state 'recieved' (did you mean 'received'?)",
        "unknown_state.yaml:22:24: transitions[1].source[1]: unknown state 'in_progres' (did you mean 'in_progress'?)",
        "unknown_state.yaml:23:11: transitions[1].dest: unknown state 'resovled' (did you mean 'resolved'?)",
        "unknown_state.yaml:28:16: clocks.respond.stops_in[0]: unknown state 'inprogress' (did you mean 'in_progress'?)",
    ],
    "unknown_role": [
        "unknown_role.yaml:5:36: escalation_chain[2]: unknown role 'director'",
        "unknown_role.yaml:9:36: tiers.moderate.handled_by: unknown role 'agnet' (did you mean 'agent'?)",
        "unknown_role.yaml:19:20: transitions[0].roles[1]: unknown role 'mangaer' (did you mean 'manager'?)",
        "unknown_role.yaml:21:27: transitions[0].actions[0].notify[1]: unknown role 'supervisor'",
    ],
    "unknown_tier": [
        "unknown_tier.yaml:24:27: transitions[1].conditions[0].in: unknown tier 'moderat' (did you mean 'moderate'?)",
        "unknown_tier.yaml:26:19: transitions[1].actions[0].set_tier: unknown tier 'urgnt' (did you mean 'urgent'?)",
    ],
    "unknown_clock_in_tier": [
        "unknown_clock_in_tier.yaml:9:60: tiers.moderate.clocks.respnd: unknown clock 'respnd' (did you mean 'respond'?)",
    ],
    "unknown_trigger_in_stops_on": [
        "unknown_trigger_in_stops_on.yaml:26:16: clocks.acknowledge.stops_on[0]: unknown trigger 'acknowledged' (did you mean 'acknowledge'?)",
    ],
    "unknown_action": [
        "unknown_action.yaml:11:54: tiers.urgent.on_enter[0]: unknown action 'escalte' (did you mean 'escalate'?); an action is escalate, raise_tier, or a mapping with one of: notify, assign, set_tier",
        "unknown_action.yaml:21:9: transitions[0].actions[0]: an action has exactly one of: notify, assign, set_tier, escalate, raise_tier (got notify, assign)",
        "unknown_action.yaml:26:16: clocks.respond.on_breach: unknown breach action 'escalation' (did you mean 'escalate'?); write escalate, notify, none, or a mapping (escalate, notify, raise_tier, repeat_every)",
    ],
    "malformed_durations": [
        "malformed_durations.yaml:8:58: tiers.minor.clocks.respond: invalid duration '3 days': expected a whole number followed by one unit: m, h, d, w (calendar time) or bh, bd (business hours / days), e.g. '24h' or '3bd'",
        "malformed_durations.yaml:9:61: tiers.moderate.clocks.respond: invalid duration '1.5h': expected a whole number followed by one unit: m, h, d, w (calendar time) or bh, bd (business hours / days), e.g. '24h' or '3bd'",
        "malformed_durations.yaml:10:61: tiers.severe.clocks.respond: invalid duration '0h': a duration must be greater than zero",
        "malformed_durations.yaml:11:61: tiers.urgent.clocks.respond: invalid duration 4: expected a string like '24h', '30m', '8bh' or '3bd'",
        "malformed_durations.yaml:24:31: clocks.respond.on_breach.repeat_every: invalid duration '1 week': expected a whole number followed by one unit: m, h, d, w (calendar time) or bh, bd (business hours / days), e.g. '24h' or '3bd'",
    ],
    "bad_percent": [
        "bad_percent.yaml:24:20: clocks.respond.warn_at[1]: a warning threshold is a percentage of the target between 0% and 100%, like '75%'; got '150%'",
        "bad_percent.yaml:24:26: clocks.respond.warn_at[2]: a warning threshold is a percentage of the target between 0% and 100%, like '75%'; got '0%'",
        "bad_percent.yaml:24:30: clocks.respond.warn_at[3]: a warning threshold is a percentage of the target between 0% and 100%, like '75%'; got 'half'",
    ],
    "unsorted_warn_at": [
        "unsorted_warn_at.yaml:24:14: clocks.respond.warn_at: warning thresholds must be increasing and distinct, got 90%, 50%, 75%, 75%",
    ],
    "three_tiers": [
        "three_tiers.yaml:8:3: tiers: exactly four severity tiers are needed (minor, moderate, severe, urgent by default), found 3: minor, moderate, severe",
    ],
    "tier_levels_not_increasing": [
        "tier_levels_not_increasing.yaml:8:3: tiers: tier levels must increase in the order written (minor=1, moderate=2, severe=3, urgent=3)",
    ],
    "tier_level_out_of_range": [
        "tier_level_out_of_range.yaml:8:18: tiers.minor.level: must be at least 1, got 0",
        "tier_level_out_of_range.yaml:11:19: tiers.urgent.level: must be at most 4, got 5",
    ],
    "two_initial_states": [
        "two_initial_states.yaml:13:3: states: exactly one state must be marked initial: true (found received, open)",
    ],
    "no_initial_state": [
        "no_initial_state.yaml:13:3: states: exactly one state must be marked initial: true (found none)",
    ],
    "no_final_state": [
        "no_final_state.yaml:13:3: states: at least one state must be marked final: true",
    ],
    "unreachable_state": [
        "unreachable_state.yaml:15:5: states[2]: state 'archived' is unreachable from the initial state 'open'",
    ],
    "dead_end_state": [
        "dead_end_state.yaml:14:5: states[1]: state 'parked' is not final and has no transition out of it; add one, or mark it final: true",
    ],
    "cycle_without_exit": [
        "cycle_without_exit.yaml:14:5: states[1]: no final state can be reached from state 'review': from there a complaint only ever moves among review, rework",
        "cycle_without_exit.yaml:15:5: states[2]: no final state can be reached from state 'rework': from there a complaint only ever moves among review, rework",
    ],
    "feedback_bypassed": [
        "feedback_bypassed.yaml:25:5: transitions[2]: 'close' reaches the final state 'closed' from 'open' without passing the customer-feedback step 'awaiting_feedback'; route it through 'awaiting_feedback' or mark the transition bypasses_feedback: true",
    ],
    "ambiguous_transitions": [
        "ambiguous_transitions.yaml:21:5: transitions[1]: ambiguous: trigger 'close' from state 'open' is also defined by transitions[0] with the same guards and conditions",
    ],
    "clock_never_starts": [
        "clock_never_starts.yaml:22:5: clocks.respond: clock 'respond' never starts: give starts_in or starts_on",
    ],
    "clock_never_stops": [
        "clock_never_stops.yaml:32:5: clocks.respond: clock 'respond' starts in state 'resolved', but none of its stops (stops_in: in_progress; stops_on: start) can be reached from there, so it would run until the complaint is closed",
    ],
    "clock_missing_targets": [
        "clock_missing_targets.yaml:22:5: clocks.resolve: clock 'resolve' has no target for tier(s) moderate, urgent: give them one under tiers.<tier>.clocks.resolve, or a default under clocks.resolve.target",
    ],
    "business_time_without_calendar": [
        "business_time_without_calendar.yaml:10:61: tiers.severe.clocks.resolve: business durations like '8bh' count working time, but the workflow names no calendar; add calendar: with a calendar's name",
    ],
    "unknown_calendar": [
        "unknown_calendar.yaml:4:11: calendar: unknown calendar 'ofice' (did you mean 'office'?)",
    ],
    "missing_calendar_import": [
        "missing_calendar_import.yaml:5:27: imports[1]: calendar file 'holidays.yaml' does not exist (imports are looked up next to the workflow file)",
    ],
    "escalate_without_chain": [
        "escalate_without_chain.yaml:10:54: tiers.urgent.on_enter[0].escalate: escalate moves a complaint one level up the escalation_chain, but the workflow has none; list the roles under escalation_chain:, lowest first",
    ],
    "condition_two_operators": [
        "condition_two_operators.yaml:21:9: transitions[0].conditions[0]: a condition has exactly one operator of: equals, not_equals, in, not_in, gt, gte, lt, lte, exists (got equals, in)",
        "condition_two_operators.yaml:22:9: transitions[0].conditions[1]: a condition has exactly one operator of: equals, not_equals, in, not_in, gt, gte, lt, lte, exists (got none)",
    ],
    "condition_unknown_field": [
        "condition_unknown_field.yaml:20:31: transitions[0].requires[1]: unknown field 'soluton' (did you mean 'data.solution'?); use one of category, channel, customer_ref, escalation_level, owner, owner_role, reopen_count, state, tier, or data.<key> / intake.<key>",
        "condition_unknown_field.yaml:22:17: transitions[0].conditions[0].field: unknown field 'catgory' (did you mean 'category'?); use one of category, channel, customer_ref, escalation_level, owner, owner_role, reopen_count, state, tier, or data.<key> / intake.<key>",
        "condition_unknown_field.yaml:23:17: transitions[0].conditions[1].field: unknown field 'data.'; use one of category, channel, customer_ref, escalation_level, owner, owner_role, reopen_count, state, tier, or data.<key> / intake.<key>",
    ],
    "many_problems": [
        "many_problems.yaml:3:10: version: must be at least 1, got 0",
        "many_problems.yaml:4:1: calender: unknown key 'calender' (did you mean 'calendar'?)",
        "many_problems.yaml:7:23: categories[1]: duplicate category 'service'",
        "many_problems.yaml:9:58: tiers.minor.clocks.respond: invalid duration '2 days': expected a whole number followed by one unit: m, h, d, w (calendar time) or bh, bd (business hours / days), e.g. '24h' or '3bd'",
        "many_problems.yaml:10:36: tiers.moderate.handled_by: unknown role 'agnet' (did you mean 'agent'?)",
        "many_problems.yaml:12:65: tiers.urgent.on_enter[0].set_tier: unknown tier 'critical'",
        "many_problems.yaml:15:5: states[1]: duplicate state 'open'",
        "many_problems.yaml:16:33: states[2].finale: unknown key 'finale' (did you mean 'final'?)",
        "many_problems.yaml:19:13: transitions[0].source: unknown state 'opne' (did you mean 'open'?)",
        "many_problems.yaml:24:11: transitions[1].dest: unknown state 'clsoed' (did you mean 'closed'?)",
        "many_problems.yaml:25:13: transitions[1].roles[0]: unknown role 'supervisor'",
        "many_problems.yaml:26:22: transitions[1].requires[1]: unknown field 'categroy' (did you mean 'category'?); use one of category, channel, customer_ref, escalation_level, owner, owner_role, reopen_count, state, tier, or data.<key> / intake.<key>",
        "many_problems.yaml:30:16: clocks.respond.stops_on[0]: stops_on names triggers, but 'closed' is a state; list it under stops_in",
        "many_problems.yaml:35:20: clocks.resolve.warn_at[1]: a warning threshold is a percentage of the target between 0% and 100%, like '75%'; got '120%'",
        "many_problems.yaml:37:10: feedback.state: unknown state 'awaiting_feedback'",
    ],
}


@pytest.fixture
def in_broken(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(BROKEN)


def problems_of(name: str) -> tuple[Problem, ...]:
    with pytest.raises(WorkflowValidationError) as info:
        load_workflow(f"{name}.yaml")
    return info.value.problems


@pytest.mark.usefixtures("in_broken")
@pytest.mark.parametrize(("fixture", "expected"), EXPECTED.items(), ids=list(EXPECTED))
def test_broken_workflow_reports_exactly_its_problems(fixture: str, expected: list[str]) -> None:
    assert [str(p) for p in problems_of(fixture)] == expected


def test_every_fixture_file_has_an_entry_in_the_table() -> None:
    fixtures = {p.stem for p in BROKEN.glob("*.yaml") if p.name not in SHARED}
    assert fixtures == set(EXPECTED)


def test_the_table_holds_at_least_thirty_fixtures() -> None:
    assert len(EXPECTED) >= 30


@pytest.mark.usefixtures("in_broken")
def test_a_problem_keeps_file_line_column_path_and_message_as_attributes() -> None:
    first = problems_of("unknown_state")[0]
    assert (first.file, first.line, first.column, first.path) == (
        "unknown_state.yaml",
        18,
        13,
        "transitions[0].source",
    )
    assert first.message == "unknown state 'recieved' (did you mean 'received'?)"


@pytest.mark.usefixtures("in_broken")
def test_the_error_names_the_file_and_counts_its_problems() -> None:
    with pytest.raises(WorkflowValidationError) as info:
        load_workflow("unknown_state.yaml")
    assert info.value.file == "unknown_state.yaml"
    assert str(info.value).splitlines()[0] == "unknown_state.yaml: 4 problems"


@pytest.mark.usefixtures("in_broken")
def test_a_file_with_many_problems_reports_them_all_in_line_order() -> None:
    problems = problems_of("many_problems")
    places = [(p.line or 0, p.column or 0) for p in problems]
    assert places == sorted(places)
    assert len({p.line for p in problems}) == len(problems) >= 15
