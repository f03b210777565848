"""The till's API (a store's key for its own store; the brand's admin names one): sell, undo, receipts, receiving,
opening cases, and the store's receipt printer. Thin: one service call each."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Path, Query
from fastapi.responses import HTMLResponse, Response

from codes.service import key_store
from pos import receipts, service
from pos.errors import PrinterInvalid
from pos.schemas import CaseIn, PrinterIn, PrinterRead, ReceiveIn, SaleIn, SaleRead, SaleResultRead
from rebates.deps import PolicyDep
from scanning.schemas import ScanResult
from traceability.api import SessionDep, SettingsDep, allow
from traceability.auth.service import Principal
from traceability.i18n import Catalogue, messages, negotiate
from traceability.models import PrinterMode, Role
from traceability.privacy import member_pepper

__all__ = ["router"]

_MESSAGES: Catalogue = messages("pos.errors")

router = APIRouter(prefix="/api/v1/pos", tags=["pos"])
Till = Annotated[Principal, Depends(allow(Role.store, Role.admin))]
SaleId = Annotated[str, Path(min_length=1, max_length=300, description="The sale's id (its eventID)")]
StoreQuery = Annotated[str | None, Query(max_length=64, description="The store (admins); a store key: its own")]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)]


async def _lang(accept_language: Annotated[str | None, Header(alias="Accept-Language")] = None) -> str:
    """zh-CN or en for the till's messages, from the request's Accept-Language (default zh-CN)."""
    return negotiate(accept_language)


Lang = Annotated[str, Depends(_lang)]


@router.post("/sales", response_model=SaleResultRead)
def sell(
    session: SessionDep, settings: SettingsDep, principal: Till, policy: PolicyDep, lang: Lang, body: SaleIn,
    idempotency_key: IdempotencyKey = None,
) -> Any:  # fmt: skip
    """Ring up a sale in one round trip: the scan (every check of the scan API), the member's points earned, balance
    and six-get-one progress; ``redeem`` gives the member her free unit. ``sale_id`` names it for receipt and undo."""
    from members.service import hash_phone

    member = hash_phone(phone=body.member, pepper=member_pepper(settings.key_dir), lang=lang) if body.member else None
    return service.sell(
        session=session, principal=principal, codes=body.codes, policy=policy, member_hash=member,
        redeem=body.redeem, store_id=body.store, idempotency_key=idempotency_key,
        company_prefix_length=settings.company_prefix_length, key_files=key_store(settings), lang=lang,
        event_time=body.event_time,
    ).as_dict()  # fmt: skip


@router.get("/sales", response_model=list[SaleRead])
def todays_sales(session: SessionDep, principal: Till, policy: PolicyDep, lang: Lang, store: StoreQuery = None) -> Any:
    """Today's sales at the till (the policy's time zone), newest first; undone ones marked."""
    rows = service.todays_sales(session=session, principal=principal, policy=policy, store_id=store, lang=lang)
    return [r.as_dict() for r in rows]


@router.get("/sales/{sale_id}", response_model=SaleRead)
def get_sale(
    session: SessionDep, principal: Till, policy: PolicyDep, lang: Lang, sale_id: SaleId, store: StoreQuery = None
) -> Any:
    """One sale of the till: items, member standing, whether it is undone or may still be."""
    return service.get_sale(session=session, principal=principal, sale_id=sale_id, policy=policy, store_id=store,
                            lang=lang).as_dict()  # fmt: skip


@router.post("/sales/{sale_id}/undo", response_model=SaleRead)
def undo(
    session: SessionDep, principal: Till, policy: PolicyDep, lang: Lang, sale_id: SaleId, store: StoreQuery = None
) -> Any:
    """Undo a sale made today (an EPCIS errorDeclaration, never a delete); its points return. Again: a no-op."""
    return service.undo(session=session, principal=principal, sale_id=sale_id, policy=policy, store_id=store,
                        lang=lang).as_dict()  # fmt: skip


@router.get(
    "/sales/{sale_id}/receipt",
    response_class=Response,
    responses={200: {"content": {"text/html": {}, "application/octet-stream": {}}}},
)
def receipt(
    session: SessionDep,
    principal: Till,
    policy: PolicyDep,
    lang: Lang,
    sale_id: SaleId,
    format: Annotated[
        Literal["html", "escpos"], Query(description="html: the 58 mm page; escpos: printer bytes")
    ] = "html",
    store: StoreQuery = None,
) -> Response:
    """The sale's receipt: the printable 58 mm page, or ESC/POS bytes for a thermal printer."""
    record = service.get_sale(session=session, principal=principal, sale_id=sale_id, policy=policy, store_id=store,
                              lang=lang)  # fmt: skip
    if format == "escpos":
        name = f"receipt-{sale_id.rsplit(':', 1)[-1][:36]}.bin"
        return Response(receipts.escpos_bytes(record, lang), media_type="application/octet-stream",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})  # fmt: skip
    return HTMLResponse(receipts.receipt_html(record, lang), headers={"Content-Language": lang})


@router.post("/sales/{sale_id}/print")
def print_receipt(
    session: SessionDep, principal: Till, policy: PolicyDep, lang: Lang, sale_id: SaleId, store: StoreQuery = None
) -> dict[str, Any]:
    """Send the sale's receipt to the store's network ESC/POS printer; 502 when the printer does not answer."""
    record = service.get_sale(session=session, principal=principal, sale_id=sale_id, policy=policy, store_id=store,
                              lang=lang)  # fmt: skip
    party = service.till_store(session=session, principal=principal, store_id=store, lang=lang)
    printer = service.get_printer(session=session, store=party)
    if printer.mode != PrinterMode.escpos or not printer.host:
        raise PrinterInvalid.keyed(_MESSAGES, "printer_not_network")
    sent = receipts.send_to_printer(receipts.escpos_bytes(record, lang), host=printer.host, port=printer.port or 9100)
    return {"sent": sent, "host": printer.host, "port": printer.port or 9100}


@router.get("/printer", response_model=PrinterRead)
def get_printer(session: SessionDep, principal: Till, lang: Lang, store: StoreQuery = None) -> Any:
    """The store's receipt printer: ``browser`` (the 58 mm page) unless it chose ``escpos``."""
    party = service.till_store(session=session, principal=principal, store_id=store, lang=lang)
    return service.get_printer(session=session, store=party)


@router.put("/printer", response_model=PrinterRead)
def set_printer(session: SessionDep, principal: Till, lang: Lang, body: PrinterIn) -> Any:
    """Choose the store's receipt printer: ``browser``, or ``escpos`` with a network printer's host (and port)."""
    return service.set_printer(session=session, principal=principal, mode=body.mode, host=body.host, port=body.port,
                               store_id=body.store, lang=lang)  # fmt: skip


@router.post("/receive", response_model=ScanResult)
def receive(
    session: SessionDep, settings: SettingsDep, principal: Till, policy: PolicyDep, lang: Lang, body: ReceiveIn,
    idempotency_key: IdempotencyKey = None,
) -> Any:  # fmt: skip
    """Receive inbound cases or units; each carries a warning, at once, when its distributor may not supply us."""
    return service.receive(
        session=session, principal=principal, codes=body.codes, policy=policy, store_id=body.store,
        idempotency_key=idempotency_key, company_prefix_length=settings.company_prefix_length,
        key_files=key_store(settings), lang=lang,
    ).as_dict()  # fmt: skip


@router.post("/open-case", response_model=ScanResult)
def open_case(session: SessionDep, settings: SettingsDep, principal: Till, lang: Lang, body: CaseIn) -> Any:
    """Open a case at the store (unpacking), so that its units are sold one by one."""
    return service.open_case(session=session, principal=principal, code=body.code, store_id=body.store,
                             company_prefix_length=settings.company_prefix_length, lang=lang).as_dict()  # fmt: skip
