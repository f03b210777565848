"""The clerk's call list on the till (``/app/pos``), thin over ``crm.tasks``: today's tasks at this store with the
reason in plain words, the outcome of each call, and the list printed as a 58 mm ticket (``crm.tickets``).

"Today" is the policy's calendar day (``timezone``), the day the task generator fills. A store's key sees and
records only its own store's tasks: the service scopes both, so another store's task is not found.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from crm import tasks
from crm.schemas import OutcomeIn
from crm.tickets import ticket_html
from rebates.deps import PolicyDep
from rebates.policy import Policy
from traceability.api import RowId, SessionDep
from traceability.auth.service import Principal
from traceability.models import Role
from traceability.models.base import utcnow
from web import service
from web.deps import page_allow, page_lang, refuse_cross_site
from web.routes import PageRoute

__all__ = ["router", "today"]

router = APIRouter(route_class=PageRoute, include_in_schema=False)
Clerk = Annotated[Principal, Depends(page_allow(Role.store))]


def today(policy: Policy, now: datetime | None = None) -> date:
    """The policy's calendar day now: the day whose tasks are on the list."""
    return (now or utcnow()).astimezone(ZoneInfo(policy.timezone)).date()


@router.get("/app/pos/tasks")
def task_list(request: Request, session: SessionDep, principal: Clerk, policy: PolicyDep) -> dict[str, Any]:
    """Today's tasks at this store, whatever their status (an outcome shows beside its task), due first."""
    day = today(policy)
    rows = tasks.list_tasks(session=session, principal=principal, day=day, lang=page_lang(request))
    return {"day": day.isoformat(), "tasks": rows}


@router.get("/app/pos/tasks/ticket", response_class=HTMLResponse)
def task_ticket(request: Request, session: SessionDep, principal: Clerk, policy: PolicyDep) -> HTMLResponse:
    """Today's open tasks as the 58 mm ticket the till's receipt printer prints (it opens in its own tab)."""
    lang = page_lang(request)
    day = today(policy)
    rows = tasks.list_tasks(session=session, principal=principal, day=day, lang=lang)
    name = service.party_names(session=session, ids={principal.party_id}).get(principal.party_id, principal.party_id)
    return HTMLResponse(ticket_html(tasks=rows, day=day, store=name, lang=lang), headers={"Content-Language": lang})


@router.post("/app/pos/tasks/{task_id}/outcome", dependencies=[Depends(refuse_cross_site)])
def record_outcome(request: Request, session: SessionDep, principal: Clerk, task_id: RowId,
                   body: OutcomeIn) -> dict[str, Any]:  # fmt: skip
    """What came of the call (reached, not reached, bought, declined, do not call); a later one replaces it."""
    return tasks.record_outcome(session=session, principal=principal, task_id=task_id, status=body.status,
                                note=body.note, lang=page_lang(request))  # fmt: skip
