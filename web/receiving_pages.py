"""Receiving for distributors and the brand's warehouses: the inbound shipments (``/app/receiving``) and the receipt
of one (``/app/receiving/{id}``), scanned with the shipment page's scanner (``scan.js``: barcode gun, camera, the
offline queue with its Idempotency-Keys), thin over ``scanning.receiving``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Header, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from codes.service import key_store
from pos.errors import reject_message
from scanning import receiving
from scanning.schemas import ScanResult
from traceability.api import RowId, SessionDep, SettingsDep
from traceability.auth.service import Principal
from traceability.errors import InvalidInput
from traceability.models import Role
from web import service
from web.deps import page_allow, page_lang, wants_html
from web.i18n import translator
from web.listing import DEFAULT_SIZE, PageNo, PageSize, pager
from web.routes import NAV, NavItem, PageRoute, js_messages, render

__all__ = ["router"]

router = APIRouter(route_class=PageRoute, include_in_schema=False)
Receiver = Annotated[Principal, Depends(page_allow(Role.distributor, Role.plant, Role.admin))]
"""A distributor, or the brand's warehouse (a plant-role key of a warehouse party), or an admin for any party."""

NAV.append(NavItem("nav.receiving", "/app/receiving", frozenset({Role.distributor, Role.plant, Role.admin})))

_OWN_REASONS = ("not_on_shipment", "already_received")


def _messages(request: Request) -> dict[str, str]:
    """The scanner's messages, with the receipt's own reasons under the names the script looks them up by."""
    messages = js_messages(request, "reason.", "scan.", "camera.", "warning.", "receiving.")
    _ = translator(page_lang(request))
    messages.update({f"reason.{r}": _(f"receiving.reason.{r}") for r in _OWN_REASONS})
    return messages


def _page(request: Request, session: SessionDep, principal: Principal, shipment_id: int, *, status_code: int = 200,
          outcome: dict[str, object] | None = None) -> Response:  # fmt: skip
    shipment = receiving.get_inbound(session=session, principal=principal, shipment_id=shipment_id,
                                     lang=page_lang(request))  # fmt: skip
    view = receiving.describe_receipt(session=session, shipment=shipment)
    names = service.party_names(session=session, ids={shipment.party_id, shipment.destination_id})
    return render(request, "receipt.html", {"view": view, "s": shipment, "names": names, "outcome": outcome,
                                            "messages": _messages(request), "_session": session},
                  principal=principal, status_code=status_code)  # fmt: skip


@router.get("/app/receiving", response_class=HTMLResponse)
def receiving_page(
    request: Request,
    session: SessionDep,
    principal: Receiver,
    state: Annotated[str, Query(max_length=20)] = "",
    q: Annotated[str, Query(max_length=100)] = "",
    page: PageNo = 1,
    size: PageSize = DEFAULT_SIZE,
) -> Response:
    """The shipments sent to the caller's party, each with units expected and received so far, a page at a time
    with the total, a search and the receipt's state as filters."""
    if state and state not in receiving.INBOUND_STATES:
        _ = translator(page_lang(request))
        allowed = ", ".join(_(f"receiving.status.{s}") for s in receiving.INBOUND_STATES)
        raise InvalidInput(_("list.bad_status", value=state[:20], allowed=allowed), field="state",
                           reason="bad_status")  # fmt: skip
    filters = receiving.InboundFilter(state=state or None, search=q.strip() or None)
    f = {"state": state, "q": q}
    pages = pager(page=page, size=size, total=receiving.count_inbound(session=session, principal=principal,
                                                                      filters=filters), params=f)  # fmt: skip
    rows = receiving.list_inbound(session=session, principal=principal, limit=pages.size, offset=pages.offset,
                                  filters=filters)  # fmt: skip
    names = service.party_names(session=session, ids={r.shipment.party_id for r in rows})
    return render(request, "receiving.html", {"rows": rows, "names": names, "pager": pages, "f": f,
                                              "states": receiving.INBOUND_STATES, "_session": session},
                  principal=principal)  # fmt: skip


@router.get("/app/receiving/{shipment_id}", response_class=HTMLResponse)
def receipt_page(request: Request, session: SessionDep, principal: Receiver, shipment_id: RowId) -> Response:
    """Receive one shipment: scan its cases and units; expected, received, missing and extra side by side."""
    return _page(request, session, principal, shipment_id)


@router.post("/app/receiving/{shipment_id}/scans", response_model=ScanResult)
def receive_scans(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: Receiver,
    shipment_id: RowId,
    codes: Annotated[str, Form(min_length=1, max_length=500_000, description="Scanned codes, one per line")],
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)] = None,
) -> Response:
    """Receive scanned codes: JSON (with the receipt's counters) for the page's script, the page for a plain post."""
    lang = page_lang(request)
    lines = [line.strip() for line in codes.replace("\r", "\n").split("\n") if line.strip()][:5000]
    outcome = receiving.receive_scans(
        session=session, principal=principal, shipment_id=shipment_id, codes=lines,
        company_prefix_length=settings.company_prefix_length, store=key_store(settings), lang=lang,
        idempotency_key=idempotency_key,
    )  # fmt: skip
    body = outcome.as_dict()
    body["rejected"] = [{**r, "message": reject_message(str(r.get("reason")), str(r.get("message", "")), lang)}
                        for r in outcome.rejected]  # fmt: skip
    shipment = receiving.get_inbound(session=session, principal=principal, shipment_id=shipment_id, lang=lang)
    body["receipt"] = receiving.describe_receipt(session=session, shipment=shipment).summary()
    if not wants_html(request):
        return JSONResponse(body)
    return _page(request, session, principal, shipment_id, outcome=body)


@router.post("/app/receiving/{shipment_id}/close")
def close_receipt(request: Request, session: SessionDep, principal: Receiver, shipment_id: RowId) -> Response:
    """Close the receipt; its page then lists what is missing, for good."""
    view = receiving.close_receipt(session=session, principal=principal, shipment_id=shipment_id,
                                   lang=page_lang(request))  # fmt: skip
    if not wants_html(request):
        return JSONResponse({"shipment": shipment_id, **view.summary(), "missing_units": view.missing})
    return RedirectResponse(f"/app/receiving/{shipment_id}", status_code=303)
