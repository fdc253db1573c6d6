"""Benchmarks of complaintflow: ``python -m benchmarks`` (or ``make bench``).

They measure the end-to-end lifecycle (events per second through the Engine) against
two baselines run in the same invocation: the floor (plain SQLAlchemy Core writing the
same rows with the same commits) and the naive pattern (an ORM row, a ``transitions``
Machine built per complaint, an audit ORM object, commit). They also measure a process's
memory against the number of stored complaints, and profile the engine's path.
``docs/performance.md`` explains the figures and is rewritten by a full run.
"""
