"""The O2O order pages, thin over ``orders.service`` and ``members.service``.

- The store's side lives on the till (``/app/pos``): its script polls ``GET /app/pos/offers`` every few seconds for
  the offers open to this store, the orders it accepted and what it was told (an order taken back), then accepts,
  declines with a reason, sets out and delivers by scanning the units at the door through the routes below. The
  store acting is always the signed-in key's own: no route takes a store from the page, so a clerk of one store can
  never answer, see or deliver another store's order (the service refuses it the same way the API does).
- The call centre (``/app/orders``, the brand's admin: the role ``orders.service`` lets place, reassign and cancel)
  looks a member up by phone, places an order, sees where it went and why (the stored reason), follows its history
  live and intervenes.

The pages' scripts post JSON with the signed-in cookie; every unsafe route refuses another site's request
(``refuse_cross_site``) and the services' errors come back as problem JSON with their machine ``reason``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal, get_args

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field
from sqlmodel import Session

from codes.service import key_store
from members import service as members
from members.errors import MemberNotFound
from orders import service as orders
from orders.schemas import LineIn
from rebates.deps import PolicyDep
from traceability.api import RowId, SessionDep, SettingsDep
from traceability.auth.service import Principal
from traceability.masterdata.service import list_parties, list_products
from traceability.models import OrderStatus, PartyKind, Role
from traceability.models.base import utcnow
from traceability.privacy import member_pepper
from web import service
from web.deps import page_allow, page_lang, refuse_cross_site
from web.routes import NAV, NavItem, PageRoute, js_messages, render

__all__ = ["DECLINE_REASONS", "PAGE_SIZE", "STATUS_FILTERS", "recent_notices", "router", "store_offers"]

router = APIRouter(route_class=PageRoute, include_in_schema=False)
Clerk = Annotated[Principal, Depends(page_allow(Role.store))]
CallCentre = Annotated[Principal, Depends(page_allow(Role.admin))]
SameSite = [Depends(refuse_cross_site)]

NAV.append(NavItem("nav.orders", "/app/orders", frozenset({Role.admin})))

DeclineReason = Literal["out_of_stock", "no_staff", "too_far", "closed", "other"]
"""Why a store declines, as a machine code the note starts with (the call centre reads it in the history)."""
DECLINE_REASONS: tuple[str, ...] = get_args(DeclineReason)
StatusFilter = Literal["offered", "accepted", "out_for_delivery", "delivered", "cancelled", "unrouted"]
STATUS_FILTERS: tuple[str, ...] = get_args(StatusFilter)
PAGE_SIZE = 20
NOTICE_HOURS = 24
"""Notices older than this are not shown when the till opens (the till then polls for new ones only)."""
MAX_LISTED_STORES = 500
"""Up to this many member stores the reassign field suggests them all; beyond, the call centre types the store."""


# --- what the pages need, over the services ----------------------------------------------------------------------


def recent_notices(
    *, session: Session, principal: Principal, after: int, lang: str, now: datetime
) -> list[dict[str, Any]]:
    """The notices after ``after`` (a poll), or on the first poll (``after`` 0) the last day's, newest last.

    ``orders.service.list_notices`` pages oldest first; the first poll walks its pages to the newest, keeping only
    what is recent, so a till opened after years of orders still shows today's notices and not the first ones.
    """
    if after > 0:
        return orders.list_notices(session=session, principal=principal, after=after, limit=100, lang=lang)
    since = now - timedelta(hours=NOTICE_HOURS)
    kept: list[dict[str, Any]] = []
    cursor = 0
    while True:
        page = orders.list_notices(session=session, principal=principal, after=cursor, limit=500, lang=lang)
        if not page:
            break
        cursor = int(page[-1]["id"])
        kept.extend(n for n in page if datetime.fromisoformat(n["at"]) >= since)
        kept = kept[-20:]
        if len(page) < 500:
            break
    return kept


def store_offers(*, session: Session, principal: Principal, lang: str) -> dict[str, list[dict[str, Any]]]:
    """The store's open offers and the orders it accepted (to set out with and deliver), newest first."""
    found: dict[str, list[dict[str, Any]]] = {}
    for status in (OrderStatus.offered, OrderStatus.accepted, OrderStatus.out_for_delivery):
        found[status.value] = orders.list_orders(session=session, principal=principal, status=status.value,
                                                 limit=100, lang=lang)  # fmt: skip
    return {"offers": found["offered"], "active": found["accepted"] + found["out_for_delivery"]}


def _store_names(session: Session, views: list[dict[str, Any]]) -> dict[str, str]:
    ids = {v["store"] for v in views if v.get("store")}
    for v in views:
        ids.update(s["store"] for s in v.get("history", []) if s.get("store"))
    return service.party_names(session=session, ids=ids) if ids else {}


# --- the store: offers on the till -------------------------------------------------------------------------------


class DeclineIn(BaseModel):
    reason: DeclineReason = "other"
    note: str = Field(default="", max_length=300)


class DeliverCodesIn(BaseModel):
    codes: list[Annotated[str, Field(min_length=1, max_length=2000)]] = Field(min_length=1, max_length=500)


@router.get("/app/pos/offers")
def offers(
    request: Request, session: SessionDep, principal: Clerk,
    after: Annotated[int, Query(ge=0, le=2**31 - 1, description="Only notices after this id")] = 0,
) -> dict[str, Any]:  # fmt: skip
    """What the till polls: open offers (with their deadlines), accepted orders, new notices, the server's clock."""
    lang = page_lang(request)
    now = utcnow()
    found = store_offers(session=session, principal=principal, lang=lang)
    notices = recent_notices(session=session, principal=principal, after=after, lang=lang, now=now)
    return {**found, "notices": notices, "now": now.astimezone(UTC).isoformat()}


@router.post("/app/pos/offers/{order_id}/accept", dependencies=SameSite)
def accept(request: Request, session: SessionDep, principal: Clerk, policy: PolicyDep,
           order_id: RowId) -> dict[str, Any]:  # fmt: skip
    """Accept this store's offer before its deadline (409 ``offer_lapsed`` after it, 404 for another's order)."""
    return orders.accept(session=session, principal=principal, order_id=order_id, policy=policy.orders,
                         lang=page_lang(request))  # fmt: skip


@router.post("/app/pos/offers/{order_id}/decline", dependencies=SameSite)
def decline(request: Request, session: SessionDep, principal: Clerk, policy: PolicyDep, order_id: RowId,
            body: DeclineIn) -> dict[str, Any]:  # fmt: skip
    """Decline with a reason: the order goes at once to the next store; the reason is kept in its history."""
    note = " ".join(f"{body.reason}: {body.note}".split()).rstrip(":")
    return orders.decline(session=session, principal=principal, order_id=order_id, policy=policy.orders, note=note,
                          lang=page_lang(request))  # fmt: skip


@router.post("/app/pos/offers/{order_id}/out-for-delivery", dependencies=SameSite)
def out_for_delivery(request: Request, session: SessionDep, principal: Clerk, policy: PolicyDep,
                     order_id: RowId) -> dict[str, Any]:  # fmt: skip
    return orders.out_for_delivery(session=session, principal=principal, order_id=order_id, policy=policy.orders,
                                   lang=page_lang(request))  # fmt: skip


@router.post("/app/pos/offers/{order_id}/deliver", dependencies=SameSite)
def deliver(request: Request, session: SessionDep, settings: SettingsDep, principal: Clerk, policy: PolicyDep,
            order_id: RowId, body: DeliverCodesIn) -> dict[str, Any]:  # fmt: skip
    """The units scanned at the door: this store's sale with the order as its bizTransaction (or 422, each unit's
    reason, nothing recorded)."""
    return orders.deliver(session=session, principal=principal, order_id=order_id, codes=body.codes,
                          policy=policy.orders, company_prefix_length=settings.company_prefix_length,
                          key_files=key_store(settings), lang=page_lang(request))  # fmt: skip


# --- the call centre ---------------------------------------------------------------------------------------------


class PhoneIn(BaseModel):
    member: str = Field(min_length=1, max_length=40)


class PlaceIn(BaseModel):
    member: str = Field(min_length=1, max_length=40)
    address: str = Field(default="", max_length=500)
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    lines: list[LineIn] = Field(min_length=1, max_length=20)
    channel: Literal["call_centre", "web", "app"] = "call_centre"


class ReassignPageIn(BaseModel):
    store: str | None = Field(default=None, max_length=64, description="None or empty: the next store")
    note: str = Field(default="", max_length=500)


class CancelPageIn(BaseModel):
    note: str = Field(default="", max_length=500)


def _messages(request: Request) -> dict[str, str]:
    return js_messages(request, "orders.")


@router.get("/app/orders", response_class=HTMLResponse)
def orders_page(
    request: Request, session: SessionDep, principal: CallCentre,
    status: Annotated[StatusFilter | None, Query()] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:  # fmt: skip
    """Take an order (the member by phone) and the orders, newest first, a page at a time, by status."""
    lang = page_lang(request)
    rows = orders.list_orders(session=session, principal=principal, status=status, limit=PAGE_SIZE + 1,
                              offset=(page - 1) * PAGE_SIZE, lang=lang)  # fmt: skip
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    context = {"rows": rows, "names": _store_names(session, rows), "status": status or "", "page": page,
               "more": more, "statuses": STATUS_FILTERS, "products": list_products(session=session),
               "messages": _messages(request), "_session": session}  # fmt: skip
    return render(request, "orders.html", context, principal=principal)


@router.post("/app/orders/lookup", dependencies=SameSite)
def lookup(request: Request, session: SessionDep, settings: SettingsDep, principal: CallCentre, policy: PolicyDep,
           body: PhoneIn) -> dict[str, Any]:  # fmt: skip
    """The member with this phone and her home store, or ``{"member": null}``: a new customer goes to the nearest."""
    lang = page_lang(request)
    hashed = members.hash_phone(phone=body.member, pepper=member_pepper(settings.key_dir), lang=lang)
    try:
        view = members.lookup(session=session, principal=principal, phone_hash=hashed, policy=policy, lang=lang)
    except MemberNotFound:
        return {"member": None}
    found = view.as_dict()
    names = service.party_names(session=session, ids={view.home_store})
    return {"member": {"id": found["id"], "name": found.get("name"), "home_store": view.home_store,
                       "home_store_name": names.get(view.home_store, view.home_store),
                       "points": found.get("points")}}  # fmt: skip


@router.post("/app/orders", status_code=201, dependencies=SameSite)
def place(request: Request, session: SessionDep, settings: SettingsDep, principal: CallCentre, policy: PolicyDep,
          body: PlaceIn) -> dict[str, Any]:  # fmt: skip
    """Place the order; the answer is the order with where it was routed and why (the page then opens it)."""
    lang = page_lang(request)
    hashed = members.hash_phone(phone=body.member, pepper=member_pepper(settings.key_dir), lang=lang)
    return orders.place(session=session, principal=principal, member_hash=hashed, lat=body.lat, lon=body.lon,
                        lines=[(ln.gtin, ln.quantity) for ln in body.lines], policy=policy.orders,
                        channel=body.channel, address=body.address, lang=lang)  # fmt: skip


@router.get("/app/orders/{order_id}", response_class=HTMLResponse)
def order_page(request: Request, session: SessionDep, principal: CallCentre, order_id: RowId) -> Response:
    """One order: where it went and why, its history (the script keeps it live), reassign and cancel."""
    lang = page_lang(request)
    view = orders.get_order(session=session, principal=principal, order_id=order_id, lang=lang)
    stores = list_parties(session=session, principal=principal, kind=PartyKind.store)
    suggested = [p for p in stores if p.member_store_no][:MAX_LISTED_STORES]
    context = {"order": view, "names": _store_names(session, [view]), "stores": suggested,
               "finished": view["status"] in orders.FINISHED, "messages": _messages(request),
               "_session": session}  # fmt: skip
    return render(request, "orders_detail.html", context, principal=principal)


@router.get("/app/orders/{order_id}/state")
def order_state(request: Request, session: SessionDep, principal: CallCentre, order_id: RowId) -> dict[str, Any]:
    """The order as the detail page polls it, with its stores' names and the server's clock."""
    view = orders.get_order(session=session, principal=principal, order_id=order_id, lang=page_lang(request))
    return {"order": view, "names": _store_names(session, [view]), "now": utcnow().astimezone(UTC).isoformat()}


@router.post("/app/orders/{order_id}/reassign", dependencies=SameSite)
def reassign(request: Request, session: SessionDep, principal: CallCentre, policy: PolicyDep, order_id: RowId,
             body: ReassignPageIn) -> dict[str, Any]:  # fmt: skip
    store = (body.store or "").strip() or None
    return orders.reassign(session=session, principal=principal, order_id=order_id, policy=policy.orders,
                           store_id=store, note=body.note, lang=page_lang(request))  # fmt: skip


@router.post("/app/orders/{order_id}/cancel", dependencies=SameSite)
def cancel(request: Request, session: SessionDep, principal: CallCentre, policy: PolicyDep, order_id: RowId,
           body: CancelPageIn) -> dict[str, Any]:  # fmt: skip
    return orders.cancel(session=session, principal=principal, order_id=order_id, policy=policy.orders,
                         note=body.note, lang=page_lang(request))  # fmt: skip
