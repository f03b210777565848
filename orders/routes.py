"""The orders API: the call centre places, reassigns and cancels (admin); a store lists the orders offered to it,
accepts or declines, sets out and delivers by scanning. Every rule is the service's; routes are its doors."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query

from codes.service import key_store
from members.service import hash_phone
from orders import service
from orders.schemas import (
    AnswerIn,
    CancelIn,
    DeliverIn,
    LapseRow,
    NoticeRead,
    OrderCreate,
    OrderRead,
    ReassignIn,
)
from rebates.policy import OrdersPolicy, load_policy
from traceability.api import RowId, SessionDep, SettingsDep, allow
from traceability.auth.service import Principal
from traceability.i18n import negotiate
from traceability.models import Role
from traceability.privacy import member_pepper

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/orders", tags=["orders"])
CallCentre = Annotated[Principal, Depends(allow(Role.admin))]
Store = Annotated[Principal, Depends(allow(Role.store, Role.admin))]


async def _lang(accept_language: Annotated[str | None, Header(alias="Accept-Language")] = None) -> str:
    """zh-CN or en for the messages, from the request's Accept-Language (default zh-CN)."""
    return negotiate(accept_language)


async def _policy(settings: SettingsDep) -> OrdersPolicy:
    return load_policy(settings.policy_file).orders  # parsed once per content of the file: no hop to a thread


Lang = Annotated[str, Depends(_lang)]
PolicyDep = Annotated[OrdersPolicy, Depends(_policy)]


@router.post("", response_model=OrderRead, status_code=201)
def place(
    session: SessionDep, settings: SettingsDep, principal: CallCentre, policy: PolicyDep, lang: Lang, body: OrderCreate
) -> Any:
    """Take an order for a member and offer it to her store, or the nearest member store; 201 with where it went."""
    hashed = hash_phone(phone=body.member, pepper=member_pepper(settings.key_dir), lang=lang)
    return service.place(
        session=session, principal=principal, member_hash=hashed, lat=body.lat, lon=body.lon,
        lines=[(ln.gtin, ln.quantity) for ln in body.lines], policy=policy, channel=body.channel,
        address=body.address, lang=lang,
    )  # fmt: skip


@router.get("", response_model=list[OrderRead])
def list_orders(
    session: SessionDep,
    principal: Store,
    lang: Lang,
    status: Annotated[str | None, Query(max_length=20, description="offered, accepted, …, taken_back")] = None,
    store: Annotated[str | None, Query(max_length=64, description="One store's orders (the call centre)")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
) -> Any:
    """Orders, newest first: a store's those offered to it; the call centre's every one."""
    return service.list_orders(session=session, principal=principal, status=status, store_id=store, limit=limit,
                               offset=offset, lang=lang)  # fmt: skip


@router.get("/notices", response_model=list[NoticeRead])
def notices(
    session: SessionDep,
    principal: Store,
    lang: Lang,
    after: Annotated[int, Query(ge=0, le=2**31 - 1, description="Only notices after this id (poll with the last)")] = 0,
    store: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> Any:
    """What the store was told: orders taken back after a lapse, withdrawn or cancelled."""
    return service.list_notices(session=session, principal=principal, after=after, store_id=store, limit=limit,
                                lang=lang)  # fmt: skip


@router.get("/lapses", response_model=list[LapseRow])
def lapses(
    session: SessionDep,
    principal: CallCentre,
    lang: Lang,
    since: Annotated[datetime | None, Query(description="Offers made from (ISO 8601 with offset)")] = None,
    until: Annotated[datetime | None, Query(description="Offers made before")] = None,
) -> Any:
    """Per store, how its offers ended: the stores that let most lapse first."""
    return service.lapse_report(session=session, principal=principal, since=since, until=until, lang=lang)


@router.get("/{order_id}", response_model=OrderRead)
def get_order(session: SessionDep, principal: Store, lang: Lang, order_id: RowId) -> Any:
    """One order, its status, where it was routed and why, and its history."""
    return service.get_order(session=session, principal=principal, order_id=order_id, lang=lang)


@router.post("/{order_id}/accept", response_model=OrderRead)
def accept(
    session: SessionDep, principal: Store, policy: PolicyDep, lang: Lang, order_id: RowId, body: AnswerIn | None = None
) -> Any:
    """Accept the order's offer to this store before its deadline (409 ``offer_lapsed`` after it)."""
    return service.accept(session=session, principal=principal, order_id=order_id, policy=policy,
                          store_id=body.store if body else None, lang=lang)  # fmt: skip


@router.post("/{order_id}/decline", response_model=OrderRead)
def decline(
    session: SessionDep, principal: Store, policy: PolicyDep, lang: Lang, order_id: RowId, body: AnswerIn | None = None
) -> Any:
    """Decline the offer: the order goes at once to the next store."""
    return service.decline(session=session, principal=principal, order_id=order_id, policy=policy,
                           store_id=body.store if body else None, note=body.note if body else "",
                           lang=lang)  # fmt: skip


@router.post("/{order_id}/out-for-delivery", response_model=OrderRead)
def out_for_delivery(
    session: SessionDep, principal: Store, policy: PolicyDep, lang: Lang, order_id: RowId, body: AnswerIn | None = None
) -> Any:
    """The accepting store sets out with the order."""
    return service.out_for_delivery(session=session, principal=principal, order_id=order_id, policy=policy,
                                    store_id=body.store if body else None, lang=lang)  # fmt: skip


@router.post("/{order_id}/deliver", response_model=OrderRead)
def deliver(
    session: SessionDep, settings: SettingsDep, principal: Store, policy: PolicyDep, lang: Lang, order_id: RowId,
    body: DeliverIn,
) -> Any:  # fmt: skip
    """Deliver: the units scanned at the door become the store's sale, with the order as its bizTransaction."""
    return service.deliver(
        session=session, principal=principal, order_id=order_id, codes=body.codes, policy=policy,
        store_id=body.store, company_prefix_length=settings.company_prefix_length, key_files=key_store(settings),
        lang=lang,
    )  # fmt: skip


@router.post("/{order_id}/reassign", response_model=OrderRead)
def reassign(
    session: SessionDep, principal: CallCentre, policy: PolicyDep, lang: Lang, order_id: RowId,
    body: ReassignIn | None = None,
) -> Any:  # fmt: skip
    """Take the order from its store and offer it to the named store, or the next one."""
    return service.reassign(session=session, principal=principal, order_id=order_id, policy=policy,
                            store_id=body.store if body else None, note=body.note if body else "",
                            lang=lang)  # fmt: skip


@router.post("/{order_id}/cancel", response_model=OrderRead)
def cancel(
    session: SessionDep, principal: CallCentre, policy: PolicyDep, lang: Lang, order_id: RowId,
    body: CancelIn | None = None,
) -> Any:  # fmt: skip
    """Cancel an order not yet delivered; the store that has it is told."""
    return service.cancel(session=session, principal=principal, order_id=order_id, policy=policy,
                          note=body.note if body else "", lang=lang)  # fmt: skip
