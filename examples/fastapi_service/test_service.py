"""The service's own tests, with FastAPI's TestClient and a fake clock.

Run from the repository root: ``.venv/bin/pytest examples/fastapi_service -q``
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from service import STANDARD_WORKFLOW, create_app
from sqlalchemy import text

from complaintflow import FakeClock, Workflow, load_workflows

AGENT = {"X-User": "agent-li", "X-Role": "agent"}
LEADER = {"X-User": "leader-wang", "X-Role": "group_leader"}
MONDAY_9AM_SHANGHAI = dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.UTC)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(MONDAY_9AM_SHANGHAI)


@pytest.fixture(scope="module")
def workflows() -> dict[str, Workflow]:
    return load_workflows(STANDARD_WORKFLOW)


@pytest.fixture
def client(
    tmp_path: Path, clock: FakeClock, workflows: dict[str, Workflow]
) -> Iterator[TestClient]:
    app = create_app(
        f"sqlite:///{tmp_path}/service.db", workflows=workflows, clock=clock, run_worker=False
    )
    with TestClient(app) as test_client:
        yield test_client


def intake(order: str = "SO-1001", **changes: Any) -> dict[str, Any]:
    record = {
        "order_number": order,
        "customer_name": "Zhang Wei",
        "customer_contact": "+86 139 1234 5678",
        "channel": "phone",
        "object": "router X200",
        "reason": "the router drops the connection every evening",
    }
    return record | changes


def open_one(client: TestClient, order: str = "SO-1001", **changes: Any) -> dict[str, Any]:
    response = client.post("/complaints", json=intake(order, **changes), headers=AGENT)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def act(client: TestClient, cid: str, trigger: str, **data: Any) -> Any:
    return client.post(f"/complaints/{cid}/actions/{trigger}", json={"data": data}, headers=AGENT)


def test_open_returns_the_complaint_in_its_initial_state_owned_by_the_caller(
    client: TestClient,
) -> None:
    body = open_one(client)
    assert (body["state"], body["owner"], body["version"]) == ("received", "agent-li", 1)
    assert {c["name"] for c in body["clocks"]} == {"acknowledge", "respond", "overall"}


def test_an_action_moves_the_complaint_and_the_history_records_it(client: TestClient) -> None:
    cid = open_one(client)["id"]
    assert act(client, cid, "acknowledge").json()["state"] == "acknowledged"
    response = act(client, cid, "classify", tier="minor", category="technical")
    assert (response.json()["state"], response.json()["tier"]) == ("classified", "minor")

    history = client.get(f"/complaints/{cid}/history").json()
    moves = [(r["trigger"], r["to_state"]) for r in history if r["kind"] == "transition"]
    assert moves == [("acknowledge", "acknowledged"), ("classify", "classified")]


def test_allowed_actions_depend_on_state_and_the_callers_role(client: TestClient) -> None:
    cid = open_one(client)["id"]
    as_agent = client.get(f"/complaints/{cid}/actions", headers=AGENT).json()
    as_leader = client.get(f"/complaints/{cid}/actions", headers=LEADER).json()
    assert as_agent == ["acknowledge", "add_note", "escalate", "withdraw"]
    assert "acknowledge" in as_leader
    assert "reclassify" not in as_agent


def test_an_action_not_allowed_in_the_state_is_409_and_lists_the_allowed_ones(
    client: TestClient,
) -> None:
    cid = open_one(client)["id"]
    response = act(client, cid, "resolve", solution="replaced")
    assert response.status_code == 409
    assert response.json()["error"] == "TriggerNotAllowedError"
    assert response.json()["allowed"] == ["acknowledge", "add_note", "escalate", "withdraw"]


def test_a_missing_required_field_is_422_naming_it(client: TestClient) -> None:
    cid = open_one(client)["id"]
    act(client, cid, "acknowledge")
    response = act(client, cid, "classify", tier="minor")
    assert response.status_code == 422
    assert response.json()["missing"] == ["category"]


def test_a_role_that_may_not_fire_the_trigger_is_403(client: TestClient) -> None:
    cid = open_one(client)["id"]
    response = client.post(
        f"/complaints/{cid}/actions/acknowledge",
        json={},
        headers={"X-User": "tech-sun", "X-Role": "tech_support"},
    )
    assert response.status_code == 403


def test_an_unknown_complaint_is_404(client: TestClient) -> None:
    assert client.get("/complaints/C-NOPE").status_code == 404
    assert act(client, "C-NOPE", "acknowledge").status_code == 404


def test_a_stale_expected_version_is_409_and_changes_nothing(client: TestClient) -> None:
    cid = open_one(client)["id"]
    act(client, cid, "acknowledge")
    response = client.post(
        f"/complaints/{cid}/actions/add_note",
        json={"data": {"note": "called back"}, "expected_version": 1},
        headers=AGENT,
    )
    assert response.status_code == 409
    assert (response.json()["expected"], response.json()["actual"]) == (1, 2)
    assert client.get(f"/complaints/{cid}").json()["version"] == 2


def test_query_filters_by_state_and_finds_a_complaint_by_the_hosts_order_number(
    client: TestClient,
) -> None:
    first = open_one(client, "SO-1")["id"]
    second = open_one(client, "SO-2", customer_contact="+86 138 0000 0000")["id"]
    act(client, second, "acknowledge")

    received = client.get("/complaints", params={"state": "received"}).json()["items"]
    assert [c["id"] for c in received] == [first]
    by_order = client.get("/complaints", params={"order_number": "SO-2"}).json()["items"]
    assert [c["id"] for c in by_order] == [second]


def test_the_complaint_and_the_hosts_row_commit_in_one_transaction(client: TestClient) -> None:
    cid = open_one(client, "SO-7")["id"]
    with client.app.state.db.connect() as conn:  # type: ignore[attr-defined]
        rows = conn.execute(text("SELECT complaint_id, order_number FROM order_complaints"))
        assert rows.all() == [(cid, "SO-7")]


def test_a_failing_host_write_rolls_the_complaint_back_too(client: TestClient) -> None:
    open_one(client, "SO-7")
    response = client.post(
        "/complaints",
        json=intake("SO-7", customer_contact="+86 138 0000 0000", object="invoice"),
        headers=AGENT,
    )
    assert response.status_code == 409
    assert len(client.get("/complaints").json()["items"]) == 1


def test_a_repeated_request_with_the_same_idempotency_key_opens_one_complaint(
    client: TestClient,
) -> None:
    headers = AGENT | {"Idempotency-Key": "req-42"}
    first = client.post("/complaints", json=intake(), headers=headers).json()
    again = client.post("/complaints", json=intake(), headers=headers).json()
    assert first["id"] == again["id"]
    assert len(client.get("/complaints").json()["items"]) == 1


def test_a_missed_deadline_escalates_once_the_timers_run(
    client: TestClient, clock: FakeClock
) -> None:
    cid = open_one(client)["id"]
    engine = client.app.state.flow  # type: ignore[attr-defined]
    clock.advance(dt.timedelta(hours=19))
    engine.run_due_timers()  # the 75 % warnings
    clock.advance(dt.timedelta(hours=6))
    engine.run_due_timers()  # the breaches
    body = client.get(f"/complaints/{cid}").json()
    assert body["escalation_level"] >= 1
    assert body["assignee_role"] != "agent"


def test_the_report_counts_the_complaints_received_in_the_range(
    client: TestClient, clock: FakeClock
) -> None:
    open_one(client, "SO-1")
    open_one(client, "SO-2", customer_contact="+86 138 0000 0000")
    clock.advance(dt.timedelta(hours=1))
    response = client.get(
        "/reports/measures",
        params={"since": "2026-03-01T00:00:00Z", "until": "2026-03-03T00:00:00Z", "by": "tier"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["total"]["volume"] == 2
