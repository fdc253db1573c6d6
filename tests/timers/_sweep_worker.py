"""A sweeper process for the fault tests (run as a script, killed at random by the test).

    python _sweep_worker.py URL PREFIX WORKFLOWS WORKER_ID [--lease S] [--batch N]
        [--seconds S] [--die-before-commit]

It sweeps in a loop with the system clock until ``--seconds`` have passed (a bound,
so a forgotten process cannot outlive its test). With ``--die-before-commit`` it
leases one batch, writes its effects inside the transaction, and then
SIGKILLs itself before the commit; the test hook is patched in here, not in the
library.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import signal
import sys
import time
from collections.abc import Sequence
from typing import Any

from complaintflow import Engine, StoreError
from complaintflow.store import _sql


def die_before_commit() -> None:
    settle = _sql._SqlTransaction.settle_timers

    def settle_then_die(self: Any, outcomes: Sequence[Any], at: dt.datetime) -> None:
        settle(self, outcomes, at)
        # the effects and 'fired' are written, the transaction is open: die here
        print(f"dying timer={outcomes[0].claimed.id}", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)

    _sql._SqlTransaction.settle_timers = settle_then_die  # type: ignore[method-assign]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("prefix")
    parser.add_argument("workflows")
    parser.add_argument("worker_id")
    parser.add_argument("--lease", type=float, default=2.0)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--die-before-commit", action="store_true")
    args = parser.parse_args()

    if args.die_before_commit:
        die_before_commit()
    engine = Engine.from_url(
        args.url, workflows=args.workflows, migrate=False, table_prefix=args.prefix
    )
    sweeper = engine.sweeper(
        worker_id=args.worker_id,
        batch_size=args.batch,
        lease=dt.timedelta(seconds=args.lease),
    )
    print("ready", flush=True)
    deadline = time.monotonic() + args.seconds
    fired = 0
    while time.monotonic() < deadline:
        try:
            result = sweeper.run_once()
        except StoreError as exc:  # lock timeouts, a busy SQLite file: the lease expires
            print(f"store error: {exc}", file=sys.stderr, flush=True)
            time.sleep(0.05)
            continue
        fired += result.fired
        if result.leased == 0:
            time.sleep(0.02)
    print(f"done fired={fired}", flush=True)
    engine.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
