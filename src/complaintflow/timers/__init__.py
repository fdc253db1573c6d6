"""Timers: the sweeper that fires due deadlines exactly once, and the worker that wakes it."""

from complaintflow.timers._sweeper import Sweeper, SweepResult, default_worker_id
from complaintflow.timers._worker import JOB_ID, Worker

__all__ = ["JOB_ID", "SweepResult", "Sweeper", "Worker", "default_worker_id"]
