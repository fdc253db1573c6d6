"""The Engine: the public facade host applications call."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection
from sqlalchemy import Engine as SAEngine
from sqlalchemy.orm import Session

from complaintflow import _logging
from complaintflow.core import _apply as core
from complaintflow.core._apply import Change, check_json
from complaintflow.core._conditions import conditions_hold
from complaintflow.core._records import Actor, AuditRecord, Complaint, Intake, Notification
from complaintflow.definition._calendars import CalendarRegistry
from complaintflow.definition._compile import Guard, Workflow
from complaintflow.definition._models import CalendarSpec, did_you_mean
from complaintflow.definition._registry import load_workflows
from complaintflow.engine._dedup import dedup_key
from complaintflow.engine._inputs import (
    bounded,
    check_expected_version,
    encodable,
    optional_text,
    valid_actor,
    valid_intake,
    valid_note,
    valid_text,
)
from complaintflow.exceptions import (
    ComplaintNotFoundError,
    ConcurrencyConflictError,
    IdempotencyConflictError,
    InvalidInputError,
    PermissionDeniedError,
    SchemaOutdatedError,
    StoreError,
)
from complaintflow.store._codec import decode_complaint, encode_complaint
from complaintflow.store._port import (
    DuplicateKeyError,
    Page,
    QueryFilter,
    Store,
    StoredIdempotency,
    StoreTransaction,
)
from complaintflow.store._sql import SqlStore
from complaintflow.store._tables import SCHEMA_REVISION
from complaintflow.time._clock import Clock, SystemClock
from complaintflow.timers._sweeper import Sweeper
from complaintflow.timers._worker import Worker

T = TypeVar("T")
ActorLike = Actor | tuple[str, str]
NotificationCallback = Callable[[Notification], None]
_RETRIES = 8
MAX_PAGE = 1000


def _hash(payload: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


class Engine:
    """Runs complaints through workflows on a store.

    Args:
        workflows: a folder or file of workflow YAML, several of them, or compiled
            ``Workflow`` objects.
        store: where complaints live (``SqlStore``); see :meth:`from_url`.
        clock: the source of "now" (default: the system clock).
        calendars: business calendars by name, overriding those the workflows define.
        guards: named guards the workflows' transitions refer to.
        on_notify: called with each notification after its change committed.
        check_schema: refuse to run on a database whose schema is not current.

    Raises:
        WorkflowValidationError: a workflow is invalid.
        SchemaOutdatedError: the database needs ``complaintflow db upgrade``.
    """

    _workflows: dict[str, Workflow]
    _latest: dict[str, Workflow]
    _calendars: CalendarRegistry
    _clock: Clock
    _on_notify: NotificationCallback | None
    _log: _logging.Logger
    _wake_hooks: list[Callable[[dt.datetime], None]]

    def __init__(
        self,
        workflows: str | Path | Iterable[str | Path] | Mapping[str, Workflow] | Workflow,
        *,
        store: Store,
        clock: Clock | None = None,
        calendars: Mapping[str, CalendarSpec] | None = None,
        guards: Mapping[str, Guard] | None = None,
        on_notify: NotificationCallback | None = None,
        check_schema: bool = True,
        _shared: Engine | None = None,
    ) -> None:
        self._store = store
        if _shared is not None:
            self._workflows = _shared._workflows
            self._latest = _shared._latest
            self._calendars = _shared._calendars
            self._clock = _shared._clock
            self._on_notify = _shared._on_notify
            self._log = _shared._log
            self._in_host_transaction = True
            self._wake_hooks = _shared._wake_hooks
            return
        self._workflows = _as_workflows(workflows, guards=guards, calendars=calendars)
        self._latest = {}
        for wf in sorted(self._workflows.values(), key=lambda w: w.version):
            self._latest[wf.name] = wf
        self._calendars = CalendarRegistry(self._workflows.values(), calendars)
        self._clock = clock or SystemClock()
        self._on_notify = on_notify
        self._log = _logging.get_logger("complaintflow.engine")
        self._in_host_transaction = False
        self._wake_hooks = []
        if check_schema:
            current = store.schema_revision()
            if current != SCHEMA_REVISION:
                raise SchemaOutdatedError(current, SCHEMA_REVISION, _where(store))

    @classmethod
    def from_url(
        cls,
        url: str | SAEngine,
        *,
        workflows: str | Path | Iterable[str | Path] | Mapping[str, Workflow] | Workflow,
        migrate: bool = True,
        table_prefix: str = "cf_",
        schema: str | None = None,
        **options: Any,
    ) -> Engine:
        """An engine on a database URL (or the host's SQLAlchemy ``Engine``).

        ``sqlite:///complaints.db`` is the embedded default; a PostgreSQL URL
        (``postgresql://user@host/db``, driven by psycopg 3) scales out.
        With ``migrate`` the packaged migrations are applied first; pass
        ``migrate=False`` where deployments run ``complaintflow db upgrade``.
        Other keyword arguments go to :class:`Engine`.
        """
        if not isinstance(url, str | SAEngine):
            raise InvalidInputError(
                "url", ["expected a database URL or a SQLAlchemy Engine of the host"]
            )
        store = SqlStore(url, table_prefix=table_prefix, schema=schema)
        try:
            if migrate:
                from complaintflow.store._migrate import upgrade

                upgrade(store.engine, store.tables)
            return cls(workflows, store=store, **options)
        except BaseException:
            store.close()
            raise

    def bound(self, connection: Connection | Session) -> Engine:
        """This engine working inside the host's connection or session.

        Each change runs in a savepoint of the host's transaction and is committed
        (or rolled back) by the host. Notification callbacks are not called, since
        the host may still roll back; the outbox holds the notifications.
        """
        if not isinstance(self._store, SqlStore):
            raise InvalidInputError("bound", ["only an SqlStore can join a host transaction"])
        return Engine({}, store=self._store.bound(connection), _shared=self)

    def close(self) -> None:
        """Release what the engine created (never what the host handed in)."""
        if not self._in_host_transaction:
            self._store.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- workflows ----------------------------------------------------------------------

    @property
    def workflows(self) -> Mapping[str, Workflow]:
        """The loaded workflows by ``name@version``."""
        return dict(self._workflows)

    @property
    def store(self) -> Store:
        return self._store

    @property
    def clock(self) -> Clock:
        return self._clock

    def workflow(self, name: str | None = None) -> Workflow:
        """A workflow by ``name`` (newest version) or ``name@version``; with one loaded,
        ``None`` names it."""
        if name is None:
            if len(self._latest) == 1:
                return next(iter(self._latest.values()))
            raise InvalidInputError(
                "workflow",
                [f"several workflows are loaded; name one of {', '.join(sorted(self._latest))}"],
            )
        if not isinstance(name, str):
            raise InvalidInputError("workflow", ["expected a workflow name or name@version"])
        found = self._workflows.get(name) or self._latest.get(name)
        if found is None:
            raise InvalidInputError(
                "workflow",
                [f"unknown workflow {name!r}; loaded: {', '.join(sorted(self._workflows))}"],
            )
        return found

    def _workflow_of(self, complaint: Complaint) -> Workflow:
        workflow = self._workflows.get(complaint.workflow)
        if workflow is None:
            raise InvalidInputError(
                "workflow",
                [
                    f"complaint {complaint.id} follows {complaint.workflow}, "
                    f"which this engine has not loaded"
                ],
            )
        return workflow

    # --- writing ----------------------------------------------------------------------

    def _run(
        self,
        op: str,
        key: str | None,
        request: Callable[[], Mapping[str, Any]],
        body: Callable[[StoreTransaction, dt.datetime], list[Change]],
        retry_conflicts: bool,
    ) -> tuple[Complaint | None, list[Change]]:
        """Run ``body`` in one transaction, with idempotency and bounded retries.

        ``request`` describes the call for the idempotency key's hash; it is asked for
        only when there is a key.
        """
        request_hash = _hash({"op": op, **request()}) if key is not None else ""
        for attempt in range(_RETRIES):
            try:
                with self._store.transaction() as tx:
                    if key is not None:
                        stored = tx.get_idempotency(key)
                        if stored is not None:
                            if stored.request_hash != request_hash or stored.operation != op:
                                raise IdempotencyConflictError(
                                    key,
                                    f"first used for {stored.operation} "
                                    f"on complaint {stored.complaint_id}",
                                )
                            self._log.debug(
                                "idempotency.replayed",
                                operation=op,
                                complaint_id=stored.complaint_id,
                            )
                            return decode_complaint(stored.result), []
                    now = self._clock.now()
                    changes = body(tx, now)
                    result = changes[-1].after if changes else None
                    if key is not None and result is not None:
                        tx.put_idempotency(
                            key,
                            StoredIdempotency(
                                op, result.id, request_hash, encode_complaint(result)
                            ),
                            now,
                        )
                return result, changes
            except ConcurrencyConflictError:
                if not retry_conflicts or attempt == _RETRIES - 1:
                    raise
            except DuplicateKeyError as error:
                if attempt == _RETRIES - 1:
                    raise StoreError(
                        f"{op}: a unique key was taken concurrently {_RETRIES} times in a row; "
                        f"try again"
                    ) from error
        raise AssertionError("unreachable")  # pragma: no cover

    def _after_commit(self, changes: list[Change], correlation_id: str | None) -> None:
        if not changes:
            return
        if self._in_host_transaction:
            # logged, and the workers woken, once the host commits (never if it rolls the
            # change back); notification callbacks are left to the outbox
            self._store.after_commit(lambda: self._announce(changes, correlation_id))
            return
        self._announce(changes, correlation_id)
        if self._on_notify is None:
            return
        for change in changes:
            for notification in change.notifications:
                try:
                    self._on_notify(notification)
                except Exception as error:  # a host callback must not undo a commit
                    self._log.error(
                        "notification.callback_failed",
                        complaint_id=notification.complaint_id,
                        kind=notification.kind,
                        error=type(error).__name__,
                    )

    def _announce(self, changes: list[Change], correlation_id: str | None) -> None:
        """Log committed changes and wake the workers for the timers they armed."""
        armed = [t.due_at for change in changes for t in change.arm]
        if armed:
            for wake in self._wake_hooks:
                wake(min(armed))
        for change in changes:
            self._log_change(change, correlation_id)

    def _log_change(self, change: Change, correlation_id: str | None) -> None:
        if not self._log.enabled(logging.INFO):
            return
        c = change.after
        for record in change.audit:
            if record.kind == "opened":
                event = "complaint.opened"
            elif record.kind == "clock":
                event = f"clock.{record.data.get('event', 'changed')}"
            elif record.kind == "timer":
                event = "timer.fired"
            elif record.kind == "effect":
                event = (
                    "complaint.escalated"
                    if record.trigger == "escalate"
                    else "complaint.tier_changed"
                )
            elif record.kind == "transition":
                event = "complaint.transitioned"
            elif record.kind == "transfer":
                event = "complaint.transferred"
            elif record.kind == "survey":
                event = "survey.recorded"
            else:
                event = "complaint.contact_recorded"
            self._log.info(
                event,
                complaint_id=c.id,
                workflow=c.workflow,
                trigger=record.trigger,
                from_state=record.from_state,
                to_state=record.to_state,
                actor=record.actor,
                role=record.role,
                version=c.version,
                correlation_id=correlation_id,
                clock=record.data.get("clock"),
            )
        for n in change.notifications:
            self._log.info("notification.queued", complaint_id=c.id, role=n.role, kind=n.kind)

    def open(
        self,
        intake: Intake | Mapping[str, Any],
        *,
        actor: ActorLike,
        workflow: str | None = None,
        idempotency_key: str | None = None,
        correlation_id: str | None = None,
    ) -> Complaint:
        """Take in a complaint; the actor (first contact) owns it.

        A repeated contact about a matter that is already open (same dedup key, as the
        workflow defines it) is recorded on the open complaint, which is returned.

        Raises:
            InvalidInputError: the intake record or actor is invalid.
            IdempotencyConflictError: the key was used for a different request.
        """
        who = valid_actor(actor)
        record = valid_intake(intake)
        wf = self.workflow(workflow)
        if not record.confirmed_with_customer:
            raise InvalidInputError(
                "intake", ["the record must be confirmed with the customer before it is accepted"]
            )
        # checked here too, since a repeated contact never reaches open_complaint
        core.check_intake(wf, record, who)
        key = optional_text(idempotency_key, "idempotency_key")
        optional_text(correlation_id, "correlation_id")
        matter = dedup_key(wf, record)

        def body(tx: StoreTransaction, now: dt.datetime) -> list[Change]:
            if matter is not None:
                existing = tx.find_open_duplicate(wf.key, matter)
                if existing is not None and _within(wf, existing, now):
                    change = core.record_contact(
                        existing,
                        record,
                        who,
                        now=now,
                        correlation_id=correlation_id,
                        idempotency_key=key,
                    )
                    tx.add_contact(
                        existing.id,
                        now,
                        record.channel,
                        who.id,
                        {"received_at": (record.received_at or now).isoformat()},
                    )
                    tx.write(change)
                    return [change]
                if existing is not None:
                    tx.release_dedup_key(existing.id)
            change = core.open_complaint(
                wf,
                record,
                who,
                complaint_id=_new_id(now),
                now=now,
                calendar=self._calendars.get(wf),
                dedup_key=matter,
                correlation_id=correlation_id,
                idempotency_key=key,
            )
            tx.write(change)
            return [change]

        result, changes = self._run(
            "open",
            key,
            lambda: {
                "intake": record.model_dump(mode="json"),
                "actor": str(who),
                "workflow": wf.key,
            },
            body,
            retry_conflicts=True,
        )
        self._after_commit(changes, correlation_id)
        assert result is not None
        return result

    def fire(
        self,
        complaint_id: str,
        trigger: str,
        *,
        actor: ActorLike,
        data: Mapping[str, Any] | None = None,
        expected_version: int | None = None,
        idempotency_key: str | None = None,
        correlation_id: str | None = None,
    ) -> Complaint:
        """Apply a lifecycle event.

        With ``expected_version`` the change is made only if the complaint is still at
        that version; without it, a concurrent change is retried on the new version.

        Raises:
            ComplaintNotFoundError, TriggerNotAllowedError, PermissionDeniedError,
            MissingFieldsError, GuardRejectedError, ConcurrencyConflictError,
            IdempotencyConflictError, InvalidInputError.
        """
        cid = valid_text(complaint_id, "complaint_id", max_length=40)
        name = valid_text(trigger, "trigger", max_length=64)
        who = valid_actor(actor)
        payload = check_json("data", data or {})
        check_expected_version(expected_version)
        key = optional_text(idempotency_key, "idempotency_key")
        optional_text(correlation_id, "correlation_id")

        def body(tx: StoreTransaction, now: dt.datetime) -> list[Change]:
            complaint = _load(tx, cid, expected_version)
            wf = self._workflow_of(complaint)
            change = core.fire(
                wf,
                complaint,
                name,
                who,
                payload,
                now=now,
                calendar=self._calendars.get(wf),
                correlation_id=correlation_id,
                idempotency_key=key,
            )
            tx.write(change)
            return [change]

        result, changes = self._run(
            "fire",
            key,
            lambda: {
                "id": cid,
                "trigger": name,
                "actor": str(who),
                "data": payload,
                "expected_version": expected_version,
            },
            body,
            retry_conflicts=expected_version is None,
        )
        self._after_commit(changes, correlation_id)
        assert result is not None
        return result

    def transfer(
        self,
        complaint_id: str,
        to_owner: ActorLike,
        *,
        actor: ActorLike,
        note: str = "",
        expected_version: int | None = None,
        correlation_id: str | None = None,
    ) -> Complaint:
        """Hand one complaint to a new owner, on the record (首问负责制: never implicit)."""
        cid = valid_text(complaint_id, "complaint_id", max_length=40)
        target = valid_actor(to_owner, "to_owner")
        who = valid_actor(actor)
        text = valid_note(note)
        check_expected_version(expected_version)
        optional_text(correlation_id, "correlation_id")

        def body(tx: StoreTransaction, now: dt.datetime) -> list[Change]:
            complaint = _load(tx, cid, expected_version)
            self._check_roles(complaint, who, target, "transfer")
            change = core.transfer(
                complaint, target, who, text, now=now, correlation_id=correlation_id
            )
            tx.write(change)
            return [change]

        result, changes = self._run(
            "transfer", None, dict, body, retry_conflicts=expected_version is None
        )
        self._after_commit(changes, correlation_id)
        assert result is not None
        return result

    def handover(
        self,
        from_owner: str,
        to_owner: ActorLike,
        *,
        actor: ActorLike,
        note: str = "",
        correlation_id: str | None = None,
    ) -> list[Complaint]:
        """Shift handover (交接班): every open complaint of ``from_owner`` goes to
        ``to_owner`` in one transaction, each recorded on its own complaint."""
        source = valid_text(from_owner, "from_owner")
        target = valid_actor(to_owner, "to_owner")
        who = valid_actor(actor)
        text = valid_note(note)
        optional_text(correlation_id, "correlation_id")
        handed: list[Change] = []

        def body(tx: StoreTransaction, now: dt.datetime) -> list[Change]:
            handed.clear()
            for complaint in tx.open_by_owner(source):
                self._check_roles(complaint, who, target, "handover")
                change = core.transfer(
                    complaint,
                    target,
                    who,
                    text,
                    now=now,
                    kind="handover",
                    correlation_id=correlation_id,
                )
                tx.write(change)
                handed.append(change)
            return list(handed)

        self._run("handover", None, dict, body, retry_conflicts=True)
        self._after_commit(handed, correlation_id)
        return [c.after for c in handed]

    def record_survey(
        self,
        complaint_id: str,
        *,
        score: int,
        actor: ActorLike,
        comment: str = "",
        channel: str | None = None,
        correlation_id: str | None = None,
    ) -> Complaint:
        """Record a satisfaction survey answer (score 1-5) against a complaint, in any
        state; it counts in the satisfaction measures."""
        cid = valid_text(complaint_id, "complaint_id", max_length=40)
        who = valid_actor(actor)
        if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
            raise InvalidInputError("score", ["expected a whole number from 1 to 5"])
        text = valid_note(comment)
        if channel is not None:
            valid_text(channel, "channel", max_length=32)
        optional_text(correlation_id, "correlation_id")

        def body(tx: StoreTransaction, now: dt.datetime) -> list[Change]:
            complaint = _load(tx, cid)
            change = core.record_survey(
                complaint, score, text, who, now=now, channel=channel, correlation_id=correlation_id
            )
            tx.write(change)
            return [change]

        result, changes = self._run("survey", None, dict, body, retry_conflicts=True)
        self._after_commit(changes, correlation_id)
        assert result is not None
        return result

    def _check_roles(self, complaint: Complaint, who: Actor, target: Actor, op: str) -> None:
        wf = self._workflow_of(complaint)
        if who.role not in wf.roles:
            raise PermissionDeniedError(complaint.id, op, who.role, wf.roles)
        if target.role not in wf.roles:
            raise InvalidInputError(
                "to_owner", [f"role {target.role!r} is not one of {', '.join(wf.roles)}"]
            )

    # --- reading ------------------------------------------------------------------------

    def get(self, complaint_id: str) -> Complaint:
        """The complaint as stored now.

        Raises:
            ComplaintNotFoundError: no complaint has this id.
        """
        cid = valid_text(complaint_id, "complaint_id", max_length=40)
        complaint = self._store.get(cid)
        if complaint is None:
            raise ComplaintNotFoundError(cid)
        return complaint

    def history(self, complaint_id: str) -> list[AuditRecord]:
        """Every audit record of the complaint, oldest first."""
        cid = valid_text(complaint_id, "complaint_id", max_length=40)
        records = self._store.history(cid)
        if not records:
            raise ComplaintNotFoundError(cid)
        return records

    def allowed_triggers(self, complaint_id: str, actor: ActorLike) -> list[str]:
        """Triggers ``actor`` may fire now: by state and role, declarative conditions
        evaluated (host guards and required fields are checked when firing)."""
        complaint = self.get(complaint_id)
        who = valid_actor(actor)
        wf = self._workflow_of(complaint)
        allowed = []
        for trigger in wf.allowed_triggers(complaint.state, who.role):
            if any(
                who.role in ct.spec.roles and conditions_hold(ct.spec.conditions, complaint, {})
                for ct in wf.candidates(trigger, complaint.state)
            ):
                allowed.append(trigger)
        return allowed

    def query(self, *, limit: int = 50, cursor: str | None = None, **where: Any) -> Page:
        """Complaints by ``state``, ``tier``, ``category`` (one or several), ``owner``,
        ``customer_ref``, ``workflow`` (``name`` for every version, or ``name@version``),
        ``open``, ``opened_from``/``opened_until``, ``updated_from``/``updated_until``
        (from inclusive, until exclusive); oldest first, ``limit`` per page, the next page
        by ``cursor=page.next_cursor``.

        Raises:
            InvalidInputError: an unknown filter, a value of the wrong type, a state,
                tier, category or workflow no loaded workflow has, or a foreign cursor.
        """
        if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_PAGE:
            raise InvalidInputError("limit", [f"expected 1..{MAX_PAGE}"])
        if cursor is not None and not isinstance(cursor, str):
            raise InvalidInputError("cursor", ["expected the next_cursor of a page"])
        allowed = set(QueryFilter.__dataclass_fields__)
        unknown = sorted(set(where) - allowed)
        if unknown:
            raise InvalidInputError(
                "query",
                [f"unknown filter(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}"],
            )
        errors = self._query_errors(where)
        if errors:
            raise InvalidInputError("query", errors)
        return self._store.query(QueryFilter(**where), limit=limit, cursor=cursor)

    def _query_errors(self, where: Mapping[str, Any]) -> list[str]:
        known = {
            "state": {s for wf in self._workflows.values() for s in wf.states},
            "tier": {t for wf in self._workflows.values() for t in wf.tiers},
            "category": {c for wf in self._workflows.values() for c in wf.spec.categories},
        }
        errors = []
        for name, value in where.items():
            if value is None:
                continue
            if name in known:
                values = [value] if isinstance(value, str) else value
                if not isinstance(values, list | tuple | set | frozenset) or not all(
                    isinstance(v, str) for v in values
                ):
                    errors.append(f"{name} must be a string or a list of strings")
                    continue
                errors.extend(
                    f"unknown {name} {v!r}{did_you_mean(v, known[name])}"
                    for v in sorted(values)
                    if v not in known[name]
                )
            elif name == "workflow":
                if not isinstance(value, str):
                    errors.append("workflow must be a string")
                elif value not in self._workflows and value not in self._latest:
                    errors.append(
                        f"unknown workflow {value!r}; loaded: {', '.join(sorted(self._workflows))}"
                    )
            elif name in ("owner", "customer_ref"):
                if not isinstance(value, str) or len(value) > 200 or not encodable(value):
                    errors.append(f"{name} must be a Unicode string of at most 200 characters")
            elif name == "open":
                if not isinstance(value, bool):
                    errors.append("open must be True or False")
            elif not isinstance(value, dt.datetime) or value.utcoffset() is None:
                errors.append(f"{name} must be a timezone-aware datetime")
        return errors

    def outbox(self, limit: int = 100) -> list[Any]:
        """Undelivered notifications, oldest first (the host delivers them)."""
        if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_PAGE:
            raise InvalidInputError("limit", [f"expected 1..{MAX_PAGE}"])
        return list(self._store.pending_outbox(limit))

    def mark_delivered(self, message_ids: Iterable[int]) -> None:
        """Mark outbox messages delivered."""
        if isinstance(message_ids, str | bytes) or not isinstance(message_ids, Iterable):
            raise InvalidInputError("message_ids", ["expected outbox message ids"])
        ids = list(message_ids)
        if not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
            raise InvalidInputError("message_ids", ["expected outbox message ids (integers)"])
        self._store.mark_delivered(ids, self._clock.now())

    def forget_idempotency_keys(self, older_than: dt.timedelta, *, batch: int = 1000) -> int:
        """Delete the idempotency keys stored more than ``older_than`` ago (by the
        engine's clock), ``batch`` keys per transaction; how many were deleted.

        A request repeated with a forgotten key is a new request: keep the keys longer
        than any client retries (a day is common; a week is generous). Run it now and
        then, e.g. daily from cron with ``complaintflow db forget-keys``.

        Raises:
            InvalidInputError: ``older_than`` is not a positive timedelta, or ``batch``
                not an integer from 1 to 10,000.
        """
        if not isinstance(older_than, dt.timedelta) or older_than <= dt.timedelta(0):
            raise InvalidInputError("older_than", ["expected a positive datetime.timedelta"])
        bounded(batch, "batch", 1, 10_000)
        forgotten = self._store.forget_idempotency_keys(self._clock.now() - older_than, batch=batch)
        self._log.info("idempotency.forgotten", count=forgotten)
        return forgotten

    # --- timers -----------------------------------------------------------------------

    def sweeper(
        self,
        *,
        worker_id: str | None = None,
        batch_size: int | None = None,
        lease: dt.timedelta = dt.timedelta(seconds=60),
    ) -> Sweeper:
        """A sweeper that fires this engine's due timers (see :class:`Sweeper`).

        ``batch_size`` timers are fired per transaction (default 500 on PostgreSQL, where
        a batch's round trips and statements cost less per timer the larger it is, and
        200 on SQLite, where a batch holds the one write lock that requests wait for).

        Raises:
            InvalidInputError: ``batch_size`` is not an integer from 1 to 10,000.
        """
        if batch_size is None:
            batch_size = 500 if self._on_postgresql() else 200
        bounded(batch_size, "batch_size", 1, 10_000)
        return Sweeper(
            self._store,
            workflow_of=self._workflow_of,
            calendar_of=self._calendars.get,
            clock=self._clock,
            after_commit=lambda changes: self._after_commit(changes, None),
            worker_id=worker_id,
            batch_size=batch_size,
            lease=lease,
        )

    def _on_postgresql(self) -> bool:
        return getattr(self._store, "dialect", None) == "postgresql"

    def run_due_timers(self, *, limit: int | None = None, batch_size: int = 200) -> int:
        """Fire every timer due now (by the engine's clock), in batches; how many fired.

        Deterministic with a ``FakeClock``: tests move time, then call this.
        """
        if limit is not None and (not isinstance(limit, int) or limit < 1):
            raise InvalidInputError("limit", ["expected a positive integer"])
        sweeper = self.sweeper(batch_size=min(batch_size, limit or batch_size))
        batches = None if limit is None else -(-limit // sweeper.batch_size)
        return sweeper.run_until_idle(max_batches=batches)

    def worker(
        self,
        *,
        scheduler: Any = None,
        safety_interval: dt.timedelta = dt.timedelta(seconds=5),
        batch_size: int | None = None,
        lease: dt.timedelta = dt.timedelta(seconds=60),
        threads: int | None = None,
    ) -> Worker:
        """A worker that runs the sweeper when timers fall due, woken by APScheduler
        (the host's running scheduler, or one of its own). Timers this engine arms
        wake it early. Call ``start()`` / ``stop()`` or ``run_forever()``.

        ``threads`` sweepers run side by side (1-16; default 2 on PostgreSQL, where a
        sweeper waits on the server about half the time, and 1 elsewhere). ``batch_size``
        as for :meth:`sweeper`.

        Raises:
            InvalidInputError: ``threads`` is not an integer from 1 to 16, or
                ``batch_size`` not one from 1 to 10,000.
        """
        if threads is None:
            threads = 2 if self._on_postgresql() else 1
        bounded(threads, "threads", 1, 16)
        worker = Worker(
            self.sweeper(batch_size=batch_size, lease=lease),
            scheduler=scheduler,
            safety_interval=safety_interval,
            threads=threads,
        )
        self._wake_hooks.append(worker.wake)
        return worker


def _as_workflows(
    source: Any,
    *,
    guards: Mapping[str, Guard] | None,
    calendars: Mapping[str, CalendarSpec] | None,
) -> dict[str, Workflow]:
    if isinstance(source, Workflow):
        return {source.key: source}
    if isinstance(source, Mapping):
        return dict(source)
    if isinstance(source, str | Path):
        return load_workflows(source, guards=guards, calendars=calendars)
    items = list(source)
    if items and all(isinstance(w, Workflow) for w in items):
        return {w.key: w for w in items}
    return load_workflows(items, guards=guards, calendars=calendars)


def _where(store: Store) -> str:
    """The database, and the schema and prefix when not the default (``db upgrade`` must
    be told them too)."""
    if not isinstance(store, SqlStore):
        return ""
    where = store.engine.url.render_as_string(hide_password=True)
    options = []
    if store.tables.schema:
        options.append(f"--schema {store.tables.schema}")
    if store.tables.prefix != "cf_":
        options.append(f"--table-prefix {store.tables.prefix}")
    return f"{where} ({' '.join(options)})" if options else where


def _load(tx: StoreTransaction, cid: str, expected_version: int | None = None) -> Complaint:
    """The complaint a change is made to, locked for the change.

    Raises:
        ComplaintNotFoundError: no complaint has this id.
        ConcurrencyConflictError: it is not at ``expected_version`` (when given).
    """
    complaint = tx.get(cid, lock=True)
    if complaint is None:
        raise ComplaintNotFoundError(cid)
    if expected_version is not None and complaint.version != expected_version:
        raise ConcurrencyConflictError(cid, expected_version, complaint.version)
    return complaint


def _within(wf: Workflow, existing: Complaint, now: dt.datetime) -> bool:
    spec = wf.spec.dedup
    if spec is None or spec.within is None:
        return True
    return existing.updated_at >= now - spec.within.as_timedelta()


def _new_id(now: dt.datetime) -> str:
    from complaintflow.core._records import new_complaint_id

    return new_complaint_id(now)
