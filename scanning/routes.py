"""EPCIS 2.0 REST capture and query (the standard's paths), and the scan API for our own scanners."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Header, Query, Request, UploadFile
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from codes.service import key_store
from rebates.policy import OutboundPolicy, load_policy
from scanning import epcis, outbound, service
from scanning.errors import InvalidDocument
from scanning.schemas import (
    PackIn,
    RejectedScanRead,
    ScanIn,
    ScanResult,
    ShipmentCloseIn,
    ShipmentIn,
    ShipmentRead,
    ShipmentScanIn,
    WarningRead,
)
from scanning.service import ScanRequest
from traceability.api import JSON_DEPTH_SCOPE_KEY, RowId, SessionDep, SettingsDep, allow, checked_json_depth
from traceability.auth.service import Principal
from traceability.errors import Problem
from traceability.i18n import negotiate
from traceability.models import Role, Shipment, ShipmentStatus
from traceability.privacy import member_hash, member_pepper
from traceability.settings import Settings

__all__ = ["epcis_router", "scans_router"]

epcis_router = APIRouter(prefix="/epcis", tags=["EPCIS 2.0"])
Capturer = Annotated[Principal, Depends(allow(Role.plant, Role.distributor, Role.store, Role.admin))]
Anyone = Annotated[Principal, Depends(allow(*Role))]


async def _capture_body(request: Request) -> bytes:
    """The raw body, read before the key is checked (no transaction is open while a client uploads), within the
    depth limit: the body limits measured a JSON-typed one already; one sent as another type is measured here."""
    raw = await request.body()
    if JSON_DEPTH_SCOPE_KEY not in request.scope:
        settings: Settings = request.app.state.settings
        await run_in_threadpool(checked_json_depth, raw, limit=settings.max_json_depth)
    return raw


def _parsed(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError as exc:  # not JSON, not UTF-8/16/32, or an integer of more than 4,300 digits
        raise InvalidDocument(f"request body is not JSON: {exc}", [Problem("", "not JSON")]) from None


@epcis_router.post("/capture", status_code=202, responses={409: {"description": "eventID conflict"}})
def capture(
    body: Annotated[bytes, Depends(_capture_body)],
    session: SessionDep,
    settings: SettingsDep,
    principal: Capturer,
    behaviour: Annotated[str | None, Header(alias="GS1-Capture-Error-Behaviour")] = None,
) -> JSONResponse:
    """Capture an EPCISDocument (JSON / JSON-LD). All or nothing unless ``GS1-Capture-Error-Behaviour: proceed``."""
    result = epcis.capture_document(
        session=session,
        document=_parsed(body),
        proceed=(behaviour or "").lower() == "proceed",
        party_id=principal.party_id,
        principal=principal,
        member_pepper=member_pepper(settings.key_dir),
        schema_path=settings.epcis_schema,
    )
    # Committed here, in this worker thread: the chain head stays locked until the commit, and the session
    # dependency would commit only after a hop through the event loop (it then finds nothing left to do).
    session.commit()
    return JSONResponse(result.as_dict(), status_code=202, headers={"GS1-EPCIS-Version": "2.0.0"})


@epcis_router.get("/events")
def events(
    session: SessionDep,
    principal: Anyone,
    event_type: Annotated[list[str] | None, Query(alias="eventType")] = None,
    biz_step: Annotated[list[str] | None, Query(alias="EQ_bizStep")] = None,
    action: Annotated[list[str] | None, Query(alias="EQ_action")] = None,
    match_epc: Annotated[list[str] | None, Query(alias="MATCH_anyEPC")] = None,
    biz_location: Annotated[list[str] | None, Query(alias="EQ_bizLocation")] = None,
    ge_event_time: Annotated[datetime | None, Query(alias="GE_eventTime")] = None,
    lt_event_time: Annotated[datetime | None, Query(alias="LT_eventTime")] = None,
    per_page: Annotated[int, Query(alias="perPage", ge=1, le=1000)] = 100,
    next_page_token: Annotated[int, Query(alias="nextPageToken", ge=0, le=2**31 - 1)] = 0,
) -> JSONResponse:
    """Query events with the common EPCIS filters; a caller sees events at, from or to its own party only."""
    query = epcis.EventQuery(
        event_type=event_type, biz_step=biz_step, action=action, match_epc=match_epc, biz_location=biz_location,
        ge_event_time=ge_event_time, lt_event_time=lt_event_time, after=next_page_token, limit=per_page,
    )  # fmt: skip
    found, cursor = epcis.query_events(session=session, query=query, principal=principal)
    body = {
        "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
        "type": "EPCISQueryDocument",
        "schemaVersion": "2.0",
        "epcisBody": {"queryResults": {"queryName": "SimpleEventQuery", "resultsBody": {"eventList": found}}},
    }
    headers = {"GS1-EPCIS-Version": "2.0.0"}
    if cursor is not None:
        headers["Link"] = f'<?nextPageToken={cursor}&perPage={per_page}>; rel="next"'
        body["nextPageToken"] = str(cursor)
    return JSONResponse(body, headers=headers)


scans_router = APIRouter(prefix="/api/v1", tags=["scans"])
Scanner = Annotated[Principal, Depends(allow(Role.plant, Role.distributor, Role.store, Role.admin))]
Shipper = Annotated[Principal, Depends(allow(Role.plant, Role.distributor, Role.admin))]
RejectionViewer = Annotated[Principal, Depends(allow(*Role))]


def _lang(accept_language: Annotated[str | None, Header(alias="Accept-Language")] = None) -> str:
    """zh-CN or en for the messages of warnings and refusals, from the request's Accept-Language (default zh-CN)."""
    return negotiate(accept_language)


def _outbound(settings: SettingsDep) -> OutboundPolicy:
    """The ``[outbound]`` section of the brand's policy: which outbound checks warn and which refuse."""
    return load_policy(settings.policy_file).outbound


Lang = Annotated[str, Depends(_lang)]
Outbound = Annotated[OutboundPolicy, Depends(_outbound)]


@scans_router.post("/scans", response_model=ScanResult)
def post_scans(
    session: SessionDep,
    settings: SettingsDep,
    principal: Scanner,
    body: ScanIn,
    lang: Lang,
    policy: Outbound,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)] = None,
) -> Any:
    """Record raw scans for a business step; each code is accepted (a shipment's with its outbound ``warnings``) or
    rejected with its reason."""
    member = member_hash(body.member, member_pepper(settings.key_dir)) if body.member else None
    request = ScanRequest(biz_step=body.biz_step, codes=body.codes, party_id=body.party,
                          destination_id=body.destination, event_time=body.event_time, member_hash=member)  # fmt: skip
    return service.record_scans(
        session=session, principal=principal, request=request, idempotency_key=idempotency_key,
        company_prefix_length=settings.company_prefix_length, store=key_store(settings), policy=policy, lang=lang,
    ).as_dict()  # fmt: skip


@scans_router.post("/scans/image", response_model=ScanResult)
def post_image_scan(
    session: SessionDep,
    settings: SettingsDep,
    principal: Scanner,
    lang: Lang,
    policy: Outbound,
    image: Annotated[UploadFile, File(description="Photo or scanner image (PNG, JPEG, WebP, …)")],
    biz_step: Annotated[str, Form()],
    destination: Annotated[str | None, Form()] = None,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)] = None,
) -> Any:
    """Decode every code on a photo (a case top holds dozens) and record them as one scan."""
    request = ScanRequest(biz_step=biz_step, codes=[], destination_id=destination)
    outcome = service.record_image_scan(
        session=session, principal=principal, image=image.file.read(), request=request,
        idempotency_key=idempotency_key, company_prefix_length=settings.company_prefix_length,
        store=key_store(settings), max_pixels=settings.max_image_pixels, policy=policy, lang=lang,
    )  # fmt: skip
    session.commit()  # in this worker thread, as capture does: the chain head is not held across an await
    return outcome.as_dict()


@scans_router.post("/scans/pack", response_model=ScanResult)
def post_pack(session: SessionDep, settings: SettingsDep, principal: Shipper, body: PackIn) -> Any:
    """Pack units into a case or cases onto a pallet (an AggregationEvent)."""
    return service.pack(
        session=session, principal=principal, parent=body.parent, children=body.children,
        company_prefix_length=settings.company_prefix_length,
    ).as_dict()  # fmt: skip


@scans_router.get("/scans/rejected", response_model=list[RejectedScanRead])
def rejected_scans(
    session: SessionDep, principal: RejectionViewer, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> list[Any]:
    """Rejected scans with their reasons, newest first."""
    return service.list_rejected(session=session, principal=principal, limit=limit)


def _shipment_read(session: SessionDep, shipment: Shipment, lang: str) -> ShipmentRead:
    view = service.describe_shipment(session=session, shipment=shipment)
    closing = view.confirmed_warnings if shipment.confirmed_warnings else view.to_confirm()
    data = shipment.model_dump(warnings=False, exclude={"order_gtins", "confirmed_warnings", "confirmed_key_id"})
    return ShipmentRead(
        **data, items=len(view.items), units=view.units, order_gtins=view.order_gtins,
        warnings=[WarningRead(**w.as_dict(lang)) for w in view.warnings],
        close_warnings=[WarningRead(**w.as_dict(lang)) for w in closing],
    )  # fmt: skip


@scans_router.post("/shipments", response_model=ShipmentRead, status_code=201,
                   responses={403: {"description": "the brand's policy refuses shipping to this destination"}})
def open_shipment(
    session: SessionDep, principal: Shipper, body: ShipmentIn, lang: Lang, policy: Outbound
) -> ShipmentRead:
    """Open an outbound shipment to a destination party (optionally for an order); answers with its ``warnings``."""
    shipment = service.open_shipment(
        session=session, principal=principal, destination_id=body.destination, order_ref=body.order,
        order_gtins=body.gtins, expected_quantity=body.expected_quantity, policy=policy, lang=lang,
    )  # fmt: skip
    return _shipment_read(session, shipment, lang)


class ShipmentListRead(BaseModel):
    """A shipment in the sender's list; its warnings and units are in ``GET /api/v1/shipments/{id}``."""

    id: int
    party_id: str
    destination_id: str
    status: ShipmentStatus
    opened_at: datetime
    closed_at: datetime | None
    event_id: str | None
    order_ref: str | None
    expected_quantity: int | None
    items: int
    confirmed_by: str | None
    confirmed_at: datetime | None


@scans_router.get("/shipments", response_model=list[ShipmentListRead])
def list_shipments(
    session: SessionDep, principal: Shipper, limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
) -> list[ShipmentListRead]:  # fmt: skip
    """The caller's own shipments (it sent them), newest first, a page at a time (``limit``, ``offset``)."""
    listed = outbound.list_shipments(session=session, principal=principal, limit=limit, offset=offset)
    return [ShipmentListRead(**row.shipment.model_dump(warnings=False), items=row.items) for row in listed]


@scans_router.get("/shipments/{shipment_id}", response_model=ShipmentRead)
def get_shipment(session: SessionDep, principal: Shipper, shipment_id: RowId, lang: Lang) -> ShipmentRead:
    shipment = service.get_shipment(session=session, principal=principal, shipment_id=shipment_id)
    return _shipment_read(session, shipment, lang)


@scans_router.post("/shipments/{shipment_id}/scans", response_model=ScanResult)
def scan_into_shipment(
    session: SessionDep, settings: SettingsDep, principal: Shipper, shipment_id: RowId, body: ShipmentScanIn,
    lang: Lang, policy: Outbound,
) -> Any:  # fmt: skip
    """Scan codes (a case stands for its units) into an open shipment; each carries its outbound ``warnings``."""
    return service.scan_into_shipment(
        session=session, principal=principal, shipment_id=shipment_id, codes=body.codes,
        company_prefix_length=settings.company_prefix_length, store=key_store(settings), policy=policy, lang=lang,
    ).as_dict()  # fmt: skip


@scans_router.post("/shipments/{shipment_id}/close", response_model=ShipmentRead,
                   responses={409: {"description": "the shipment has warnings: confirm them to close it"}})
def close_shipment(
    session: SessionDep, principal: Shipper, shipment_id: RowId, lang: Lang, body: ShipmentCloseIn | None = None
) -> ShipmentRead:
    """Close the shipment: one shipping event from the sender to the destination. With warnings, only with
    ``{"confirm": true}``, recorded with who confirmed."""
    shipment = service.close_shipment(session=session, principal=principal, shipment_id=shipment_id,
                                      confirm=body is not None and body.confirm, lang=lang)  # fmt: skip
    return _shipment_read(session, shipment, lang)
