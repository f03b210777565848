"""The member API: register, look up, list and import members; points and free units at the till.

The phone travels in the body (never the URL, which is logged) and is hashed at once. Every rule (who sees which
member, which store a key registers at) is the service's.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import JSONResponse

from members import service
from members.schemas import (
    ImportRead,
    MemberCreate,
    MemberIn,
    MemberLookupRead,
    MemberRead,
    MemberSummaryRead,
    RedeemIn,
    RedemptionRead,
    RegistrationRead,
)
from rebates.deps import PolicyDep
from rebates.service import redeem_free_item
from traceability.api import SessionDep, SettingsDep, allow
from traceability.auth.service import Principal
from traceability.i18n import negotiate
from traceability.models import Role
from traceability.models.base import utcnow
from traceability.privacy import member_hash, member_pepper

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/members", tags=["members"])
Registrar = Annotated[Principal, Depends(allow(Role.store, Role.admin))]
Viewer = Annotated[Principal, Depends(allow(Role.store, Role.auditor, Role.finance, Role.admin))]
Reader = Annotated[Principal, Depends(allow(Role.store, Role.finance, Role.admin))]
Till = Annotated[Principal, Depends(allow(Role.store, Role.admin))]


async def _lang(accept_language: Annotated[str | None, Header(alias="Accept-Language")] = None) -> str:
    """zh-CN or en for the messages of refusals, from the request's Accept-Language (default zh-CN)."""
    return negotiate(accept_language)


def _pepper(settings: SettingsDep) -> bytes:
    return member_pepper(settings.key_dir)


async def _csv(request: Request) -> bytes:
    """The raw body of a CSV upload (bounded by the app's body limit before it is read)."""
    return await request.body()


Lang = Annotated[str, Depends(_lang)]
Pepper = Annotated[bytes, Depends(_pepper)]
CsvBody = Annotated[bytes, Depends(_csv)]


@router.post("", response_model=RegistrationRead, status_code=201, responses={200: {"model": RegistrationRead}})
def register(
    session: SessionDep, principal: Registrar, pepper: Pepper, lang: Lang, body: MemberCreate, response: Response
) -> Any:
    """Register a member at the key's store (an admin names the store): 201 when new; 200 with her existing id and
    unchanged home store when she is a member already."""
    hashed = service.hash_phone(phone=body.member, pepper=pepper, lang=lang)
    consent = utcnow() if body.consent is True else body.consent if isinstance(body.consent, datetime) else None
    done = service.register(
        session=session, principal=principal, phone_hash=hashed, store_id=body.store, name=body.name,
        baby_birth_date=body.baby_birth_date, baby_stage=body.baby_stage, source=body.source, consent_at=consent,
        lang=lang,
    )  # fmt: skip
    if not done.created:
        response.status_code = 200
    return done.as_dict()


@router.get("", response_model=list[MemberRead])
def list_members(
    session: SessionDep,
    principal: Viewer,
    lang: Lang,
    store: Annotated[str | None, Query(max_length=64, description="One store's members (brand roles)")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
    q: Annotated[str | None, Query(max_length=100, description="A member number, or text of name or source")] = None,
) -> Any:
    """The caller's members, newest first (a store: only its own); ``X-Total-Count`` and a ``Link`` to the next page."""
    page = service.list_members(session=session, principal=principal, store_id=store, limit=limit, offset=offset,
                                lang=lang, search=q)  # fmt: skip
    headers = {"X-Total-Count": str(page.total)}
    if page.next_offset is not None:
        query = urlencode({"offset": page.next_offset, "limit": limit} | ({"store": store} if store else {})
                          | ({"q": q} if q else {}))  # fmt: skip
        headers["Link"] = f'</api/v1/members?{query}>; rel="next"'
    return JSONResponse([MemberRead.model_validate(m).model_dump(mode="json") for m in page.items], headers=headers)


@router.post("/lookup", response_model=MemberLookupRead, response_model_exclude_none=True)
def lookup(
    session: SessionDep, principal: Viewer, pepper: Pepper, lang: Lang, policy: PolicyDep, body: MemberIn
) -> Any:
    """The member with this phone: id, home store, whether she is the caller's, brand-wide points; her name and
    baby's age only for her home store and the brand's roles. 404 when no member has the phone."""
    hashed = service.hash_phone(phone=body.member, pepper=pepper, lang=lang)
    return service.lookup(session=session, principal=principal, phone_hash=hashed, policy=policy, lang=lang).as_dict()


@router.post(
    "/import",
    response_model=ImportRead,
    openapi_extra={"requestBody": {"required": True, "content": {"text/csv": {"schema": {"type": "string"}}}}},
)
def import_members(
    session: SessionDep,
    principal: Registrar,
    pepper: Pepper,
    lang: Lang,
    policy: PolicyDep,
    data: CsvBody,
    store: Annotated[str | None, Query(max_length=64, description="Store of rows naming none")] = None,
) -> Any:
    """Import a member list (CSV, UTF-8, header row): all rows or none, every bad row reported with line and column."""
    return service.import_members(
        session=session, principal=principal, data=data, pepper=pepper, store_id=store,
        tz=ZoneInfo(policy.timezone), lang=lang,
    ).as_dict()  # fmt: skip


@router.post("/points", response_model=MemberSummaryRead)
def points(session: SessionDep, settings: SettingsDep, principal: Reader, policy: PolicyDep, body: MemberIn) -> Any:
    """A member's points, six-get-one standing, home store and history (a store sees the history at its own store)."""
    hashed = member_hash(body.member, member_pepper(settings.key_dir))
    return service.member_points(session=session, phone_hash=hashed, policy=policy, principal=principal)


@router.post("/redeem", response_model=RedemptionRead, status_code=201)
def redeem(session: SessionDep, settings: SettingsDep, principal: Till, policy: PolicyDep, body: RedeemIn) -> Any:
    """Give the member the free unit they earned; 409 when none is due."""
    hashed = member_hash(body.member, member_pepper(settings.key_dir))
    return redeem_free_item(
        session=session, member_hash=hashed, store_id=body.store or principal.party_id, policy=policy,
        principal=principal, unit=body.unit, note=body.note, company_prefix_length=settings.company_prefix_length,
    )  # fmt: skip
