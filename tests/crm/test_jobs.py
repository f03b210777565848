"""The worker's CRM job: today's tasks once, nothing doubled after a restart (a new process, the same day)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import func
from sqlmodel import Session, select

from crm import jobs
from tests.crm.helpers import Shop, seed
from traceability.models import Task
from traceability.worker import run_due


def test_the_job_generates_today_once_and_a_restart_doubles_nothing(committing_engine, settings) -> None:
    with Session(committing_engine) as session:
        seed(session)
        shop = Shop(session, settings.key_dir)
        for name in ("a", "b"):
            shop.member(name)
            shop.buy(name, date(2026, 4, 1), 2)
        session.commit()
    at = datetime(2026, 4, 4, 9, 0, tzinfo=UTC)
    jobs._done.clear()
    first = run_due(committing_engine, jobs.JOBS, settings=settings, now=at)
    assert first == [{"job": "crm.generate_tasks", "date": "2026-04-04", "created": 2}]
    assert run_due(committing_engine, jobs.JOBS, settings=settings, now=at) == [{"job": "crm.generate_tasks",
                                                                                  "created": 0}]  # fmt: skip
    jobs._done.clear()  # a restarted worker remembers nothing and generates today again
    again = run_due(committing_engine, jobs.JOBS, settings=settings, now=at)
    assert again == [{"job": "crm.generate_tasks", "created": 0}]
    with Session(committing_engine) as session:
        assert session.exec(select(func.count()).select_from(Task)).one() == 2
