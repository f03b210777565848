"""The CRM's background job: generate the clerk's tasks for today, once a day, under ``traceability worker``.

Generation is idempotent per member, kind and window (``crm.tasks``), so the job needs no state of its own to be
correct: after a restart it generates today again and inserts nothing that exists. It only remembers, in the
process, the last day it generated for, so that a worker passing every few seconds scans the sale facts once a day
rather than on every pass.
"""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

from crm.tasks import generate_tasks
from rebates.policy import load_policy
from traceability.worker import Job, JobContext, JobResult

__all__ = ["JOBS", "generate_today"]

_done: dict[str, date] = {}
"""Per database URL, the last local day generated in this process."""


def generate_today(ctx: JobContext) -> JobResult:
    """Generate the tasks of the local day of ``ctx.now`` unless this process did so already."""
    policy = load_policy(ctx.settings.policy_file)
    today = ctx.now.astimezone(ZoneInfo(policy.timezone)).date()
    key = str(ctx.session.get_bind().engine.url)
    if _done.get(key) == today:
        return JobResult({"created": 0})
    created = generate_tasks(session=ctx.session, day=today, policy=policy, now=ctx.now)
    _done[key] = today
    # a quiet pass says nothing: the worker prints only the jobs that did something
    return JobResult({"date": today.isoformat(), "created": created} if created else {"created": 0})


JOBS = (Job("crm.generate_tasks", generate_today),)
