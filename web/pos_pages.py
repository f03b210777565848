"""The store clerk's pages: the till (``/app/pos``) and receiving (``/app/pos/receive``), thin over ``pos.service``
and ``members.service``. The pages' script posts JSON here with the signed-in cookie (the API wants a bearer key)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field

from codes.service import key_store
from members import service as members
from pos import receipts
from pos import service as till
from pos.errors import PrinterInvalid
from pos.schemas import CaseIn, PrinterIn, ReceiveIn, SaleIn
from rebates.deps import PolicyDep
from traceability.api import SessionDep, SettingsDep
from traceability.auth.service import Principal
from traceability.i18n import Catalogue, messages
from traceability.models import PrinterMode, Role
from traceability.models.base import utcnow
from traceability.privacy import member_pepper
from web.deps import page_allow, page_lang
from web.routes import NAV, ROLE_HOME, NavItem, PageRoute, js_messages, render

__all__ = ["router"]

_POS_WORDS: Catalogue = messages("pos.errors")  # the till's refusals, worded as its API words them

router = APIRouter(route_class=PageRoute, include_in_schema=False)
Clerk = Annotated[Principal, Depends(page_allow(Role.store))]
SaleId = Annotated[str, Path(min_length=1, max_length=300)]

NAV[:0] = [
    NavItem("nav.pos", "/app/pos", frozenset({Role.store})),
    NavItem("nav.pos_receive", "/app/pos/receive", frozenset({Role.store})),
]
ROLE_HOME[Role.store] = "/app/pos"


def _messages(request: Request) -> dict[str, str]:
    return js_messages(request, "pos.", "reason.", "warning.", "camera.", "scan.")


class PhoneIn(BaseModel):
    member: str = Field(min_length=1, max_length=40)


class RegisterIn(PhoneIn):
    name: str | None = Field(default=None, max_length=200)
    baby_birth_date: date | None = None
    baby_stage: int | None = None
    source: str | None = Field(default=None, max_length=200)
    consent: bool = False


@router.get("/app/pos", response_class=HTMLResponse)
def pos_page(request: Request, session: SessionDep, principal: Clerk, policy: PolicyDep) -> Response:
    """The till: scan to sell, the member's phone, points and six-get-one at once, today's sales with undo."""
    sales = till.todays_sales(session=session, principal=principal, policy=policy, lang=page_lang(request))
    store = till.till_store(session=session, principal=principal)
    printer = till.get_printer(session=session, store=store)
    return render(request, "pos.html", {"sales": [s.as_dict() for s in sales], "printer": printer,
                                        "messages": _messages(request), "free_after": policy.points.free_after,
                                        "_session": session}, principal=principal)  # fmt: skip


@router.post("/app/pos/lookup")
def lookup(request: Request, session: SessionDep, settings: SettingsDep, principal: Clerk, policy: PolicyDep,
           body: PhoneIn) -> dict[str, Any]:  # fmt: skip
    """The member with this phone (404 ``member_not_found``: the page offers to register her)."""
    lang = page_lang(request)
    hashed = members.hash_phone(phone=body.member, pepper=member_pepper(settings.key_dir), lang=lang)
    return members.lookup(session=session, principal=principal, phone_hash=hashed, policy=policy, lang=lang).as_dict()


@router.post("/app/pos/members", status_code=201)
def register(request: Request, session: SessionDep, settings: SettingsDep, principal: Clerk, policy: PolicyDep,
             body: RegisterIn) -> dict[str, Any]:  # fmt: skip
    """Register her on the spot at this store; the answer is her standing, as a look-up gives it."""
    lang = page_lang(request)
    hashed = members.hash_phone(phone=body.member, pepper=member_pepper(settings.key_dir), lang=lang)
    members.register(session=session, principal=principal, phone_hash=hashed, name=body.name,
                     baby_birth_date=body.baby_birth_date, baby_stage=body.baby_stage, source=body.source,
                     consent_at=utcnow() if body.consent else None, lang=lang)  # fmt: skip
    return members.lookup(session=session, principal=principal, phone_hash=hashed, policy=policy, lang=lang).as_dict()


@router.post("/app/pos/sales")
def sell(request: Request, session: SessionDep, settings: SettingsDep, principal: Clerk, policy: PolicyDep,
         body: SaleIn) -> dict[str, Any]:  # fmt: skip
    """Ring up a sale (or the free unit); the page's script sends an Idempotency-Key so a retry is safe."""
    lang = page_lang(request)
    member = members.hash_phone(phone=body.member, pepper=member_pepper(settings.key_dir), lang=lang) \
        if body.member else None  # fmt: skip
    result = till.sell(session=session, principal=principal, codes=body.codes, policy=policy, member_hash=member,
                       redeem=body.redeem, idempotency_key=request.headers.get("idempotency-key", "")[:200] or None,
                       company_prefix_length=settings.company_prefix_length, key_files=key_store(settings),
                       lang=lang)  # fmt: skip
    return result.as_dict()


@router.post("/app/pos/sales/{sale_id}/undo")
def undo(request: Request, session: SessionDep, principal: Clerk, policy: PolicyDep, sale_id: SaleId) -> dict[str, Any]:
    return till.undo(session=session, principal=principal, sale_id=sale_id, policy=policy,
                     lang=page_lang(request)).as_dict()  # fmt: skip


@router.get("/app/pos/sales/{sale_id}/receipt")
def receipt(
    request: Request, session: SessionDep, principal: Clerk, policy: PolicyDep, sale_id: SaleId,
    format: Annotated[Literal["html", "escpos"], Query()] = "html",
) -> Response:  # fmt: skip
    """The 58 mm receipt page (it opens in its own tab), or the ESC/POS bytes to download."""
    lang = page_lang(request)
    record = till.get_sale(session=session, principal=principal, sale_id=sale_id, policy=policy, lang=lang)
    if format == "escpos":
        return Response(receipts.escpos_bytes(record, lang), media_type="application/octet-stream",
                        headers={"Content-Disposition": 'attachment; filename="receipt.bin"'})  # fmt: skip
    return HTMLResponse(receipts.receipt_html(record, lang), headers={"Content-Language": lang})


@router.post("/app/pos/sales/{sale_id}/print")
def print_receipt(request: Request, session: SessionDep, principal: Clerk, policy: PolicyDep,
                  sale_id: SaleId) -> dict[str, Any]:  # fmt: skip
    """Send the receipt to the store's network ESC/POS printer."""
    lang = page_lang(request)
    record = till.get_sale(session=session, principal=principal, sale_id=sale_id, policy=policy, lang=lang)
    printer = till.get_printer(session=session, store=till.till_store(session=session, principal=principal))
    if printer.mode != PrinterMode.escpos or not printer.host:
        raise PrinterInvalid.keyed(_POS_WORDS, "printer_not_network")
    sent = receipts.send_to_printer(receipts.escpos_bytes(record, lang), host=printer.host, port=printer.port or 9100)
    return {"sent": sent}


@router.post("/app/pos/printer")
def set_printer(request: Request, session: SessionDep, principal: Clerk, body: PrinterIn) -> dict[str, Any]:
    row = till.set_printer(session=session, principal=principal, mode=body.mode, host=body.host, port=body.port,
                           lang=page_lang(request))  # fmt: skip
    return {"mode": row.mode, "host": row.host, "port": row.port}


@router.get("/app/pos/receive", response_class=HTMLResponse)
def receive_page(request: Request, session: SessionDep, principal: Clerk) -> Response:
    """Receiving: scan inbound cases and units (warnings in red at once), and open a case to sell it unit by unit."""
    return render(request, "pos_receive.html", {"messages": _messages(request), "_session": session},
                  principal=principal)  # fmt: skip


@router.post("/app/pos/receive")
def receive(request: Request, session: SessionDep, settings: SettingsDep, principal: Clerk, policy: PolicyDep,
            body: ReceiveIn) -> dict[str, Any]:  # fmt: skip
    return till.receive(session=session, principal=principal, codes=body.codes, policy=policy,
                        company_prefix_length=settings.company_prefix_length, key_files=key_store(settings),
                        lang=page_lang(request)).as_dict()  # fmt: skip


@router.post("/app/pos/open-case")
def open_case(request: Request, session: SessionDep, settings: SettingsDep, principal: Clerk,
              body: CaseIn) -> dict[str, Any]:  # fmt: skip
    return till.open_case(session=session, principal=principal, code=body.code,
                          company_prefix_length=settings.company_prefix_length,
                          lang=page_lang(request)).as_dict()  # fmt: skip
