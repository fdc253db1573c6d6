"""Work that waits for the host's commit: a change made in the host's transaction is
logged (and wakes the workers) once the host commits it, never if the host rolls it back.

A bound engine's change commits into the host's transaction, not the database: the host
may still roll it back, or roll back a savepoint of its own around it. Each deferred
callback is kept with the innermost transaction of the host at the time of the change;
a rollback of that transaction, or of one around it, drops it; the host's commit runs
what is left, in order; the end of the host's transaction, however it ends, forgets the
rest. SQLAlchemy's events tell us: on a ``Session``, ``after_soft_rollback`` (every
rollback, savepoints included), ``after_commit`` and ``after_transaction_end``; on a
``Connection``, ``rollback_savepoint``, ``commit`` and ``rollback``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, event
from sqlalchemy.orm import Session

_KEY = "complaintflow_after_commit"


class _Pending:
    """The callbacks waiting for one host session's or connection's commit."""

    def __init__(self) -> None:
        self.items: list[tuple[Any, Callable[[], None]]] = []

    def add(self, transaction: Any, callback: Callable[[], None]) -> None:
        self.items.append((transaction, callback))

    def drop_within(self, transaction: Any, parent: Callable[[Any], Any]) -> None:
        """Forget the callbacks of changes made inside ``transaction`` (rolled back)."""
        self.items = [
            (tx, callback) for tx, callback in self.items if not _within(tx, transaction, parent)
        ]

    def run(self) -> None:
        items, self.items = self.items, []
        for _, callback in items:
            callback()

    def clear(self) -> None:
        self.items = []


def _within(tx: Any, outer: Any, parent: Callable[[Any], Any]) -> bool:
    while tx is not None:
        if tx is outer:
            return True
        tx = parent(tx)
    return False


def after_host_commit(host: Connection | Session, callback: Callable[[], None]) -> None:
    """Run ``callback`` once ``host``'s transaction commits; never if the change it
    stands for is rolled back."""
    pending: _Pending | None = host.info.get(_KEY)
    if pending is None:
        pending = host.info[_KEY] = _Pending()
        _listen(host, pending)
    # the innermost transaction the change is in (our own savepoint is already released)
    transaction: Any = host.get_nested_transaction() or host.get_transaction()
    pending.add(transaction, callback)


def _listen(host: Connection | Session, pending: _Pending) -> None:
    if isinstance(host, Session):

        def soft_rollback(_session: Session, previous: Any) -> None:
            pending.drop_within(previous, lambda tx: tx.parent)

        def commit(_session: Session) -> None:
            pending.run()

        def ended(_session: Session, transaction: Any) -> None:
            if transaction.parent is None:  # the host's transaction is over
                pending.clear()

        event.listen(host, "after_soft_rollback", soft_rollback)
        event.listen(host, "after_commit", commit)
        event.listen(host, "after_transaction_end", ended)
        return

    def rollback_savepoint(conn: Connection, name: str, _context: Any) -> None:
        # the savepoint's transaction object is still the innermost one here
        nested = conn.get_nested_transaction()
        if nested is not None:
            pending.drop_within(nested, _connection_parent)

    def commit_root(_conn: Connection) -> None:
        pending.run()

    def rollback_root(_conn: Connection) -> None:
        pending.clear()

    event.listen(host, "rollback_savepoint", rollback_savepoint)
    event.listen(host, "commit", commit_root)
    event.listen(host, "rollback", rollback_root)


def _connection_parent(transaction: Any) -> Any:
    # a NestedTransaction knows the transaction it was begun in only privately; the
    # nesting is recorded as the chain of ``_previous_nested`` savepoints
    return getattr(transaction, "_previous_nested", None)
