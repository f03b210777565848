"""The background worker: a tiny registry of named jobs, run every few seconds, each in its own transaction.

A job is a dotted name and a function of a :class:`JobContext` (a session, the clock, the settings) that does what
is due *now* and says what it did. Jobs keep their state in the database (an order offer's deadline, a task's due
day), never in the worker, so a worker killed at any instant and started again loses nothing: the next pass finds
what is due and does it once, since each job locks and re-reads the rows it changes.

The core names no domain: the assembly (``cli/worker.py``) lists the jobs, in a stated order, as it wires the
capture listeners. A job that reports ``more`` (a full batch) is run again at once, in a new transaction, so a backlog
(a worker down for an hour) is worked off in bounded transactions.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from traceability.database import session_scope
from traceability.models.base import utcnow
from traceability.settings import Settings

__all__ = ["Job", "JobContext", "JobResult", "run_due", "run_forever"]

log = logging.getLogger("traceability.worker")


@dataclass(frozen=True, slots=True)
class JobContext:
    """What a job gets: its transaction, the clock it runs at, and the settings (policy file, key directory)."""

    session: Session
    now: datetime
    settings: Settings


@dataclass(frozen=True, slots=True)
class JobResult:
    """What a job did (JSON-ready) and whether more may be due at once (a full batch)."""

    done: dict[str, Any]
    more: bool = False


@dataclass(frozen=True, slots=True)
class Job:
    """A named job: ``orders.lapse_offers`` — a dotted string, as the logs and ``orders tick`` name it."""

    name: str
    run: Callable[[JobContext], JobResult]


def run_due(
    engine: Engine,
    jobs: Sequence[Job],
    *,
    settings: Settings,
    now: datetime | None = None,
    max_rounds: int = 1000,
    isolate: bool = False,
) -> list[dict[str, Any]]:
    """Run every job once at ``now`` (each again while it reports more), each round committed on its own.

    ``isolate`` (the long-running worker): a job that fails is rolled back, logged and reported as ``error``, and the
    jobs after it still run, so one job's trouble never holds up another's deadlines; without it (``orders tick``,
    a test) the failure is raised.
    """
    now = now or utcnow()
    report: list[dict[str, Any]] = []
    for job in jobs:
        for _ in range(max_rounds):
            try:
                with session_scope(engine) as session:
                    result = job.run(JobContext(session=session, now=now, settings=settings))
            except Exception as exc:
                if not isolate:
                    raise
                log.exception("job %s failed; it runs again on the next pass", job.name)
                report.append({"job": job.name, "error": type(exc).__name__})
                break
            report.append({"job": job.name, **result.done})
            if not result.more:
                break
    return report


def run_forever(
    engine: Engine,
    jobs: Sequence[Job],
    *,
    settings: Settings,
    interval: float,
    stop: threading.Event,
    clock: Callable[[], datetime] = utcnow,
    on_pass: Callable[[list[dict[str, Any]]], None] | None = None,
) -> None:
    """Run the due jobs every ``interval`` seconds until ``stop`` is set; a failing pass is logged, never fatal."""
    while not stop.is_set():
        started = time.monotonic()
        try:
            done = run_due(engine, jobs, settings=settings, now=clock(), isolate=True)
            if on_pass is not None:
                on_pass(done)
        except Exception:  # noqa: BLE001 - a database hiccup must not end the worker; the next pass retries
            log.exception("worker pass failed; retrying in %.1f s", interval)
        stop.wait(max(0.0, interval - (time.monotonic() - started)))
