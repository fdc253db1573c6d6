"""A FastAPI service that embeds complaintflow in the host's own database transactions.

Run from the repository root (serves http://127.0.0.1:8000, interactive docs at /docs):

    .venv/bin/python examples/fastapi_service/service.py

The host owns the SQLAlchemy engine and opens one ``Session`` per request; the
complaint engine joins that request's transaction through ``engine.bound(session)``,
so the host's own rows (here: which order a complaint is about) and the complaint are
committed together, or not at all. Callers say who they are with the ``X-User`` and
``X-Role`` headers (a real service takes them from its authentication).

Settings (environment): ``COMPLAINTS_DATABASE_URL`` (default
``sqlite:///complaints-service.db``), ``COMPLAINTS_WORKFLOWS`` (default: the shipped
standard workflow), ``HOST`` and ``PORT``.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import String, create_engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from complaintflow import (
    Actor,
    AuditRecord,
    CalendarError,
    Clock,
    Complaint,
    ComplaintflowError,
    ComplaintNotFoundError,
    ConcurrencyConflictError,
    Engine,
    GuardRejectedError,
    IdempotencyConflictError,
    InvalidInputError,
    MissingFieldsError,
    PermissionDeniedError,
    TriggerNotAllowedError,
    Workflow,
)
from complaintflow.reporting import compute_measures

STANDARD_WORKFLOW = Path(__file__).resolve().parents[2] / "workflows" / "standard.yaml"


# --- the host's own data --------------------------------------------------------------


class Base(DeclarativeBase):
    pass


class OrderComplaint(Base):
    """The host's link from an order to the complaint about it: one complaint per order."""

    __tablename__ = "order_complaints"

    complaint_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    order_number: Mapped[str] = mapped_column(String(40), unique=True)


# --- requests and responses -----------------------------------------------------------


class OpenRequest(BaseModel):
    """An intake record as the service takes it in, plus the host's order number."""

    order_number: str = Field(min_length=1, max_length=40)
    customer_name: str
    customer_contact: str
    channel: str = "online"
    object: str
    reason: str
    demand: str = ""
    customer_ref: str | None = None
    tier: str | None = None
    category: str | None = None


class ActionRequest(BaseModel):
    data: dict[str, Any] = Field(default_factory=dict)
    expected_version: int | None = None


class ClockOut(BaseModel):
    name: str
    status: str
    target: str | None
    deadline: dt.datetime | None
    breached_at: dt.datetime | None


class ComplaintOut(BaseModel):
    id: str
    workflow: str
    state: str
    version: int
    owner: str
    assignee_role: str | None
    tier: str | None
    category: str | None
    escalation_level: int
    reopen_count: int
    opened_at: dt.datetime
    closed_at: dt.datetime | None
    clocks: list[ClockOut]

    @classmethod
    def of(cls, c: Complaint) -> ComplaintOut:
        return cls(
            id=c.id,
            workflow=c.workflow,
            state=c.state,
            version=c.version,
            owner=c.owner,
            assignee_role=c.assignee_role,
            tier=c.tier,
            category=c.category,
            escalation_level=c.escalation_level,
            reopen_count=c.reopen_count,
            opened_at=c.opened_at,
            closed_at=c.closed_at,
            clocks=[
                ClockOut(
                    name=k.name,
                    status=k.status,
                    target=k.target,
                    deadline=k.deadline,
                    breached_at=k.breached_at,
                )
                for k in c.clocks
            ],
        )


class PageOut(BaseModel):
    items: list[ComplaintOut]
    next_cursor: str | None


class RecordOut(BaseModel):
    version: int
    at: dt.datetime
    kind: str
    trigger: str | None
    from_state: str | None
    to_state: str | None
    actor: str
    role: str
    data: dict[str, Any]

    @classmethod
    def of(cls, r: AuditRecord) -> RecordOut:
        return cls(
            version=r.version,
            at=r.at,
            kind=r.kind,
            trigger=r.trigger,
            from_state=r.from_state,
            to_state=r.to_state,
            actor=r.actor,
            role=r.role,
            data=r.data,
        )


# --- errors: the exception tree mapped to HTTP ----------------------------------------

STATUS = [
    (ComplaintNotFoundError, 404),
    (PermissionDeniedError, 403),
    (TriggerNotAllowedError, 409),
    (ConcurrencyConflictError, 409),
    (IdempotencyConflictError, 409),
    (MissingFieldsError, 422),
    (GuardRejectedError, 422),
    (InvalidInputError, 422),
    (CalendarError, 503),
]


def error_response(_request: Request, exc: Exception) -> JSONResponse:
    status = next((code for kind, code in STATUS if isinstance(exc, kind)), 500)
    body: dict[str, Any] = {"error": type(exc).__name__, "detail": str(exc)}
    # the facts stay on the exception as attributes: pass on the useful ones
    for name in ("allowed", "missing", "allowed_roles", "expected", "actual", "errors"):
        if hasattr(exc, name):
            value = getattr(exc, name)
            body[name] = list(value) if isinstance(value, tuple) else value
    return JSONResponse(body, status_code=status)


# --- one session (one transaction) per request ---------------------------------------


# --8<-- [start:session]
def request_session(request: Request) -> Iterator[Session]:
    """The request's session: committed when the endpoint returns, rolled back when it
    raises. With ``scope="function"`` the commit happens before the response is sent."""
    with request.app.state.sessions() as session, session.begin():
        yield session


def caller(x_user: Annotated[str, Header()], x_role: Annotated[str, Header()]) -> Actor:
    return Actor(x_user, x_role)


SessionDep = Annotated[Session, Depends(request_session, scope="function")]
ActorDep = Annotated[Actor, Depends(caller)]


def complaints(request: Request, session: SessionDep) -> Engine:
    """The complaint engine working inside the request's transaction."""
    engine: Engine = request.app.state.flow
    return engine.bound(session)


ComplaintsDep = Annotated[Engine, Depends(complaints)]
# --8<-- [end:session]

router = APIRouter()


@router.post("/complaints", status_code=201)
def open_complaint(
    body: OpenRequest,
    session: SessionDep,
    flow: ComplaintsDep,
    actor: ActorDep,
    idempotency_key: Annotated[str | None, Header()] = None,
) -> ComplaintOut:
    intake = body.model_dump(exclude={"order_number"})
    complaint = flow.open(intake, actor=actor, idempotency_key=idempotency_key)
    if session.get(OrderComplaint, complaint.id) is None:  # a repeated contact is not new
        session.add(OrderComplaint(complaint_id=complaint.id, order_number=body.order_number))
        try:
            session.flush()
        except IntegrityError:
            # raising rolls back the whole request: the complaint was not taken in either
            raise HTTPException(409, f"order {body.order_number} already has a complaint") from None
    return ComplaintOut.of(complaint)


@router.post("/complaints/{complaint_id}/actions/{trigger}")
def act(
    complaint_id: str, trigger: str, body: ActionRequest, flow: ComplaintsDep, actor: ActorDep
) -> ComplaintOut:
    complaint = flow.fire(
        complaint_id, trigger, actor=actor, data=body.data, expected_version=body.expected_version
    )
    return ComplaintOut.of(complaint)


@router.get("/complaints/{complaint_id}")
def get_complaint(complaint_id: str, flow: ComplaintsDep) -> ComplaintOut:
    return ComplaintOut.of(flow.get(complaint_id))


@router.get("/complaints/{complaint_id}/actions")
def allowed_actions(complaint_id: str, flow: ComplaintsDep, actor: ActorDep) -> list[str]:
    return flow.allowed_triggers(complaint_id, actor)


@router.get("/complaints/{complaint_id}/history")
def history(complaint_id: str, flow: ComplaintsDep) -> list[RecordOut]:
    return [RecordOut.of(r) for r in flow.history(complaint_id)]


@router.get("/complaints")
def query(
    session: SessionDep,
    flow: ComplaintsDep,
    state: Annotated[list[str] | None, Query()] = None,
    tier: Annotated[list[str] | None, Query()] = None,
    open: bool | None = None,
    order_number: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> PageOut:
    if order_number is not None:
        # the host's own table, read in the same session
        link = session.scalar(
            select(OrderComplaint).where(OrderComplaint.order_number == order_number)
        )
        found = [] if link is None else [flow.get(link.complaint_id)]
        return PageOut(items=[ComplaintOut.of(c) for c in found], next_cursor=None)
    page = flow.query(state=state, tier=tier, open=open, limit=limit, cursor=cursor)
    return PageOut(items=[ComplaintOut.of(c) for c in page], next_cursor=page.next_cursor)


@router.get("/reports/measures")
def measures(
    request: Request,
    since: dt.datetime,
    until: dt.datetime,
    by: Annotated[list[str] | None, Query()] = None,
) -> dict[str, Any]:
    """The closed loop's measures of the complaints received in ``[since, until)``."""
    report = compute_measures(request.app.state.flow, since=since, until=until, by=by or ["tier"])
    result: dict[str, Any] = report.model_dump(mode="json")
    return result


# --- the application ------------------------------------------------------------------


def create_app(
    database_url: str | None = None,
    *,
    workflows: str | Path | Mapping[str, Workflow] | None = None,
    clock: Clock | None = None,
    run_worker: bool = True,
) -> FastAPI:
    """The service on ``database_url``.

    Args:
        database_url: the host's database; complaintflow's tables go into it too.
        workflows: workflow file or folder, or loaded workflows (default: the shipped
            standard workflow).
        clock: a ``FakeClock`` in tests; the system clock otherwise.
        run_worker: fire due timers (SLA warnings, escalations) in this process.
    """
    url = database_url or os.environ.get(
        "COMPLAINTS_DATABASE_URL", "sqlite:///complaints-service.db"
    )
    # the host's own engine: complaintflow works on it and never disposes of it
    db = create_engine(url)
    Base.metadata.create_all(db)
    if workflows is None:
        workflows = os.environ.get("COMPLAINTS_WORKFLOWS") or STANDARD_WORKFLOW
    flow = Engine.from_url(db, workflows=workflows, clock=clock)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        worker = flow.worker() if run_worker else None
        if worker is not None:
            worker.start()
        try:
            yield
        finally:
            if worker is not None:
                worker.stop()
            flow.close()
            db.dispose()

    app = FastAPI(title="Complaints", lifespan=lifespan)
    app.state.db = db
    app.state.sessions = sessionmaker(db)
    app.state.flow = flow
    app.add_exception_handler(ComplaintflowError, error_response)
    app.include_router(router)
    return app


def main() -> None:
    import uvicorn

    uvicorn.run(
        create_app(),
        host=os.environ.get("HOST", "127.0.0.1"),
        port=int(os.environ.get("PORT", "8000")),
    )


if __name__ == "__main__":
    main()
