"""Member care API: the clerk's tasks (list, outcome, the day's ticket), the effect of the calls, member segments;
campaigns, activity points, the reward catalogue, the yearly top-10, prospects, the return, and their exports.

A store sees its own tasks and members only; the brand's roles see every store's. Every rule is the service's.
Phones travel in bodies only (never URLs, which are logged) and are hashed at once.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Path, Query, Response
from fastapi.responses import HTMLResponse

from crm import campaigns, exports, points, prospects, segments, tasks
from crm.schemas import (
    CampaignCreate,
    CampaignEnd,
    CampaignRead,
    CampaignReturnRead,
    EffectRead,
    GrantIn,
    GrantRead,
    OutcomeIn,
    ProspectLineRead,
    ProspectsIn,
    ProspectsRead,
    RedeemRewardIn,
    RewardIn,
    RewardRead,
    RewardRedemptionRead,
    SegmentRead,
    SegmentSummaryRead,
    SourceReturnRead,
    TaskRead,
    TopMemberRead,
)
from crm.tickets import ticket_html
from members.service import hash_phone
from rebates.deps import PolicyDep
from rebates.policy import Policy
from traceability.api import RowId, SessionDep, SettingsDep, allow
from traceability.auth.service import Principal
from traceability.errors import InvalidInput
from traceability.i18n import negotiate
from traceability.models import Role
from traceability.privacy import member_pepper

__all__ = ["router"]

_WORDS = {
    "en": {"export_needs": "{name} is required for this export"},
    "zh-CN": {"export_needs": "此导出需要填写 {name}"},
}

router = APIRouter(prefix="/api/v1", tags=["crm"])
Viewer = Annotated[Principal, Depends(allow(Role.store, Role.auditor, Role.finance, Role.admin))]
Clerk = Annotated[Principal, Depends(allow(Role.store, Role.admin))]
Admin = Annotated[Principal, Depends(allow(Role.admin))]
Brand = Annotated[Principal, Depends(allow(Role.auditor, Role.finance, Role.admin))]


async def _lang(accept_language: Annotated[str | None, Header(alias="Accept-Language")] = None) -> str:
    return negotiate(accept_language)


def _pepper(settings: SettingsDep) -> bytes:
    return member_pepper(settings.key_dir)


Lang = Annotated[str, Depends(_lang)]
Pepper = Annotated[bytes, Depends(_pepper)]
Code = Annotated[str, Path(min_length=1, max_length=64, description="A campaign's or reward's code")]
AsOf = Annotated[date, Query(description="Up to the end of this day, YYYY-MM-DD")]
Month = Annotated[str, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="YYYY-MM")]
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


# --- campaigns ----------------------------------------------------------------------------------------------------


@router.post("/campaigns", response_model=CampaignRead, status_code=201)
def create_campaign(session: SessionDep, principal: Admin, lang: Lang, policy: PolicyDep, body: CampaignCreate) -> Any:
    """Create a campaign: extra points per unit for sales in its dates, of its products, at its stores."""
    return campaigns.create_campaign(session=session, principal=principal, policy=policy, lang=lang,
                                     **body.model_dump())  # fmt: skip


@router.get("/campaigns", response_model=list[CampaignRead])
def list_campaigns(session: SessionDep, principal: Viewer, policy: PolicyDep) -> Any:
    """Every campaign (brand roles), or those covering the key's store."""
    return campaigns.list_campaigns(session=session, principal=principal, policy=policy)


@router.get("/campaigns/{code}", response_model=CampaignRead)
def show_campaign(session: SessionDep, principal: Viewer, lang: Lang, policy: PolicyDep, code: Code) -> Any:
    """One campaign (a store: one that covers it)."""
    return campaigns.show_campaign(session=session, principal=principal, code=code, policy=policy, lang=lang)


@router.post("/campaigns/{code}/end", response_model=CampaignRead)
def end_campaign(session: SessionDep, principal: Admin, lang: Lang, policy: PolicyDep, code: Code,
                 body: CampaignEnd) -> Any:  # fmt: skip
    """End a campaign after a day (default today); sales up to then keep their extras."""
    return campaigns.end_campaign(session=session, principal=principal, code=code, policy=policy, on=body.on,
                                  lang=lang)  # fmt: skip


@router.get("/crm/return/campaigns", response_model=list[CampaignReturnRead])
def campaign_return(session: SessionDep, principal: Brand, lang: Lang, policy: PolicyDep, as_of: AsOf,
                    campaign: Annotated[str | None, Query(max_length=64)] = None) -> Any:  # fmt: skip
    """Each campaign's members gained, their sales, the sales it rewarded and its points cost."""
    return campaigns.campaign_return(session=session, principal=principal, policy=policy, as_of=as_of, code=campaign,
                                     lang=lang)  # fmt: skip


@router.get("/crm/return/sources", response_model=list[SourceReturnRead], response_model_by_alias=True)
def source_return(session: SessionDep, principal: Brand, lang: Lang, policy: PolicyDep, as_of: AsOf,
                  start: Annotated[date | None, Query(alias="from")] = None) -> Any:  # fmt: skip
    """Per member source: members, those gained, their sales and the points they earned."""
    return campaigns.source_return(session=session, principal=principal, policy=policy, as_of=as_of, start=start,
                                   lang=lang)  # fmt: skip


# --- points and rewards -------------------------------------------------------------------------------------------


@router.post("/members/points/grant", response_model=GrantRead, status_code=201)
def grant_points(session: SessionDep, principal: Clerk, pepper: Pepper, lang: Lang, body: GrantIn) -> Any:
    """Grant activity points with a reason (a store: to its own members only)."""
    hashed = hash_phone(phone=body.member, pepper=pepper, lang=lang)
    return points.grant_points(session=session, principal=principal, member_hash=hashed, points=body.points,
                               reason=body.reason, campaign_code=body.campaign, lang=lang)  # fmt: skip


@router.get("/rewards", response_model=list[RewardRead])
def list_rewards(session: SessionDep, principal: Viewer) -> Any:
    """The reward catalogue, cheapest first (a store: the active rewards)."""
    return points.list_rewards(session=session, active_only=principal.role is Role.store)


@router.post("/rewards", response_model=RewardRead, status_code=201)
def upsert_reward(session: SessionDep, principal: Admin, lang: Lang, body: RewardIn) -> Any:
    """Add or change a reward (its code, name, price in points, whether it is offered)."""
    return points.upsert_reward(session=session, principal=principal, lang=lang, **body.model_dump())


@router.post("/rewards/{code}/redeem", response_model=RewardRedemptionRead, status_code=201)
def redeem_reward(session: SessionDep, principal: Clerk, pepper: Pepper, lang: Lang, policy: PolicyDep, code: Code,
                  body: RedeemRewardIn) -> Any:  # fmt: skip
    """Give a member a reward for its points at the key's store; 409 not_enough_points when she is short."""
    hashed = hash_phone(phone=body.member, pepper=pepper, lang=lang)
    return points.redeem_reward(session=session, principal=principal, member_hash=hashed, reward_code=code,
                                store_id=body.store, policy=policy, lang=lang)  # fmt: skip


@router.get("/members/top10", response_model=list[TopMemberRead])
def top10(session: SessionDep, principal: Viewer, lang: Lang, policy: PolicyDep,
          year: Annotated[int, Query(ge=2000, le=2200)], store: Store = None) -> Any:  # fmt: skip
    """The ten members whose points grew most in the year (a store: among its own members)."""
    return points.top_members(session=session, principal=principal, year=year, policy=policy, store_id=store,
                              lang=lang)  # fmt: skip


# --- prospects ----------------------------------------------------------------------------------------------------


@router.post("/prospects", response_model=ProspectsRead)
def hand_in(session: SessionDep, principal: Clerk, pepper: Pepper, lang: Lang, policy: PolicyDep,
            body: ProspectsIn) -> Any:  # fmt: skip
    """Hand in prospects by phone for the key's store: one outcome per phone, by position."""
    hashes: list[str | None] = []
    for phone in body.members:
        try:
            hashes.append(hash_phone(phone=phone, pepper=pepper, lang=lang))
        except InvalidInput:
            hashes.append(None)
    return prospects.hand_in(session=session, principal=principal, phone_hashes=hashes, policy=policy,
                             store_id=body.store, lang=lang)  # fmt: skip


@router.get("/prospects", response_model=list[ProspectLineRead])
def prospect_report(session: SessionDep, principal: Viewer, lang: Lang, policy: PolicyDep,
                    month: Month, store: Store = None) -> Any:  # fmt: skip
    """Per store: prospects handed in that month against the target, converted, and what they bought."""
    return prospects.prospect_report(session=session, principal=principal, month=month, policy=policy,
                                     store_id=store, lang=lang)  # fmt: skip


# --- exports ------------------------------------------------------------------------------------------------------


@router.get("/crm/exports/{kind}", response_class=Response)
def export(
    session: SessionDep,
    principal: Viewer,
    lang: Lang,
    policy: PolicyDep,
    kind: Annotated[Literal["segments", "top10", "return-campaigns", "return-sources", "prospects"], Path()],
    fmt: Annotated[Literal["csv", "xlsx"], Query(alias="format")] = "csv",
    as_of: Annotated[date | None, Query()] = None,
    year: Annotated[int | None, Query(ge=2000, le=2200)] = None,
    month: Annotated[str | None, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="YYYY-MM")] = None,
    store: Store = None,
) -> Response:
    """A marketing figure as CSV or XLSX, headers in the request's language (the same rows as its API)."""
    rows = _export_rows(session, principal, lang, policy, kind, as_of, year, month, store)
    body = exports.render(kind, rows, fmt, lang)
    name = f"{kind}-{as_of or year or month or 'all'}.{fmt}"
    return Response(body, media_type=exports.MEDIA_TYPES[fmt],
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})  # fmt: skip


def _need(value: Any, name: str) -> Any:
    if value is None:
        raise InvalidInput.keyed(_WORDS, "export_needs", name=name, detail={"field": name, "reason": "missing"})
    return value


def _export_rows(session: Any, principal: Principal, lang: str, policy: Policy, kind: str, as_of: date | None,
                 year: int | None, month: str | None, store: str | None) -> Any:  # fmt: skip
    if kind == "segments":
        return segments.iter_segments(session=session, principal=principal, as_of=_need(as_of, "as_of"),
                                      policy=policy, store_id=store, lang=lang)  # fmt: skip
    if kind == "top10":
        return points.top_members(session=session, principal=principal, year=_need(year, "year"), policy=policy,
                                  store_id=store, lang=lang)  # fmt: skip
    if kind == "return-campaigns":
        return campaigns.campaign_return(session=session, principal=principal, policy=policy,
                                         as_of=_need(as_of, "as_of"), lang=lang)  # fmt: skip
    if kind == "return-sources":
        return campaigns.source_return(session=session, principal=principal, policy=policy,
                                       as_of=_need(as_of, "as_of"), lang=lang)  # fmt: skip
    return prospects.prospect_report(session=session, principal=principal, month=_need(month, "month"),
                                     policy=policy, store_id=store, lang=lang)  # fmt: skip
