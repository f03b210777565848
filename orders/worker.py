"""The orders' background job: lapse the offers whose hour has passed and offer their orders onwards.

Run by ``traceability worker`` every few seconds and by ``traceability orders tick --at TIME`` once, with the same
function, so a test (or an operator) can drive the clock.
"""

from __future__ import annotations

from orders.service import lapse_due
from rebates.policy import load_policy
from traceability.worker import Job, JobContext, JobResult

__all__ = ["BATCH", "JOBS", "lapse_offers"]

BATCH = 500
"""Lapses per transaction: a backlog (a worker down for an hour) is worked off in bounded transactions."""


def lapse_offers(ctx: JobContext) -> JobResult:
    """Lapse every offer due at ``ctx.now`` (a batch at a time) and reassign its order."""
    policy = load_policy(ctx.settings.policy_file).orders
    report = lapse_due(session=ctx.session, now=ctx.now, policy=policy, limit=BATCH)
    return JobResult({"lapsed": report.lapsed}, more=report.more)


JOBS = (Job("orders.lapse_offers", lapse_offers),)
