"""``traceability worker``: the long-running process that runs the due background jobs every few seconds.

The jobs are listed here, in order, by the assembly (as ``traceability.app`` wires the capture listeners): today the
orders' lapses (``orders.lapse_offers``). Their state lives in the database, so the worker may be killed at any
instant (SIGKILL included) and started again: the next pass finds every lapse due and acts on it once. SIGTERM and
Ctrl-C end it after the pass under way. Each pass that did something prints one JSON line.
"""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
from types import FrameType
from typing import Any

import typer

from cli.context import state
from traceability.worker import Job, run_due, run_forever

__all__ = ["worker", "worker_jobs"]


def worker_jobs() -> tuple[Job, ...]:
    """Every background job, in the order a pass runs them."""
    from crm.jobs import JOBS as CRM_JOBS
    from orders.worker import JOBS as ORDER_JOBS
    from scanning.subscriptions import JOBS as EPCIS_JOBS

    return (*ORDER_JOBS, *CRM_JOBS, *EPCIS_JOBS)


def _print_pass(done: list[dict[str, Any]]) -> None:
    busy = [d for d in done if any(v for k, v in d.items() if k != "job")]
    if busy:
        sys.stdout.write(json.dumps({"pass": busy}, ensure_ascii=False, default=str) + "\n")
        sys.stdout.flush()


def worker(
    ctx: typer.Context,
    interval: float | None = typer.Option(
        None, "--interval", min=0.01, max=3600, help="Seconds between passes (default: the settings', 15)."
    ),
    once: bool = typer.Option(False, "--once", help="Run one pass now and exit."),
) -> None:
    """Run the background jobs (order offers that lapse, …) every few seconds, until stopped."""
    st = state(ctx)
    jobs = worker_jobs()
    if once:
        _print_pass(run_due(st.engine, jobs, settings=st.settings))
        return
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    stop = threading.Event()

    def _stop(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    every = interval or st.settings.worker_interval_seconds
    logging.getLogger("traceability.worker").info(
        "worker started: %s every %.2f s", ", ".join(j.name for j in jobs), every
    )
    sys.stdout.write(json.dumps({"started": [j.name for j in jobs], "interval": every}) + "\n")
    sys.stdout.flush()
    run_forever(st.engine, jobs, settings=st.settings, interval=every, stop=stop, on_pass=_print_pass)
