"""Member care API: the clerk's tasks (list, outcome, the day's ticket), the effect of the calls, member segments.

A store sees its own tasks and members only; the brand's roles see every store's. Every rule is the service's.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query
from fastapi.responses import HTMLResponse

from crm import segments, tasks
from crm.schemas import EffectRead, OutcomeIn, SegmentRead, SegmentSummaryRead, TaskRead
from crm.tickets import ticket_html
from rebates.policy import Policy, load_policy
from traceability.api import RowId, SessionDep, SettingsDep, allow
from traceability.auth.service import Principal
from traceability.i18n import negotiate
from traceability.models import Role

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["crm"])
Viewer = Annotated[Principal, Depends(allow(Role.store, Role.auditor, Role.finance, Role.admin))]
Clerk = Annotated[Principal, Depends(allow(Role.store, Role.admin))]


def _lang(accept_language: Annotated[str | None, Header(alias="Accept-Language")] = None) -> str:
    return negotiate(accept_language)


def _policy(settings: SettingsDep) -> Policy:
    return load_policy(settings.policy_file)


Lang = Annotated[str, Depends(_lang)]
PolicyDep = Annotated[Policy, Depends(_policy)]
Store = Annotated[str | None, Query(max_length=64, description="One store (brand roles; a store: its own)")]
Day = Annotated[date, Query(alias="date", description="The day, YYYY-MM-DD")]


@router.get("/tasks", response_model=list[TaskRead])
def list_tasks(session: SessionDep, principal: Viewer, lang: Lang, day: Day, store: Store = None) -> Any:
    """The tasks on the list that day (window open), whatever their status; a store sees its own."""
    return tasks.list_tasks(session=session, principal=principal, day=day, store_id=store, lang=lang)


@router.get("/tasks/ticket", response_class=HTMLResponse)
def task_ticket(session: SessionDep, principal: Clerk, lang: Lang, day: Day, store: Store = None) -> HTMLResponse:
    """The day's open tasks as a 58 mm ticket for the POS's receipt printer."""
    rows = tasks.list_tasks(session=session, principal=principal, day=day, store_id=store, lang=lang)
    shown = store or (principal.party_id if principal.role is Role.store else None)
    return HTMLResponse(ticket_html(tasks=rows, day=day, store=shown, lang=lang))


@router.get("/tasks/effect", response_model=EffectRead, response_model_by_alias=True)
def task_effect(
    session: SessionDep,
    principal: Viewer,
    lang: Lang,
    policy: PolicyDep,
    start: Annotated[date, Query(alias="from")],
    end: Annotated[date, Query(alias="to")],
    store: Store = None,
) -> Any:
    """Repurchase rates after worked versus unworked calls whose window opened from ``from`` to ``to``."""
    return tasks.task_effect(session=session, principal=principal, start=start, end=end, policy=policy,
                             store_id=store, lang=lang).as_dict()  # fmt: skip


@router.post("/tasks/{task_id}/outcome", response_model=TaskRead)
def record_outcome(session: SessionDep, principal: Clerk, lang: Lang, task_id: RowId, body: OutcomeIn) -> Any:
    """Record what came of a call (a store: its own tasks)."""
    return tasks.record_outcome(session=session, principal=principal, task_id=task_id, status=body.status,
                                note=body.note, lang=lang)  # fmt: skip


@router.get("/members/segments", response_model=list[SegmentRead])
def list_segments(
    session: SessionDep,
    principal: Viewer,
    lang: Lang,
    policy: PolicyDep,
    as_of: Annotated[date, Query(description="The day, YYYY-MM-DD")],
    store: Store = None,
    after: Annotated[int, Query(ge=0, le=2**31 - 1, description="Members with ids above this (the next page)")] = 0,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
) -> Any:
    """Each member's tier, activity, recency, frequency and value, by member id, a page at a time."""
    return list(segments.iter_segments(session=session, principal=principal, as_of=as_of, policy=policy,
                                       store_id=store, lang=lang, after=after, limit=limit))  # fmt: skip


@router.get("/members/segments/summary", response_model=SegmentSummaryRead)
def segment_summary(
    session: SessionDep,
    principal: Viewer,
    lang: Lang,
    policy: PolicyDep,
    as_of: Annotated[date, Query(description="The day, YYYY-MM-DD")],
    store: Store = None,
) -> Any:
    """Members per tier and active members, by store and overall."""
    return segments.segment_summary(session=session, principal=principal, as_of=as_of, policy=policy,
                                    store_id=store, lang=lang).as_dict()  # fmt: skip
