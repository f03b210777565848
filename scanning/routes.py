"""EPCIS 2.0 REST capture and query (the standard's paths), and the scan API for our own scanners."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Header, Query, Request, UploadFile
from fastapi.responses import JSONResponse

from codes.service import key_store
from scanning import epcis, service
from scanning.errors import InvalidDocument
from scanning.schemas import PackIn, RejectedScanRead, ScanIn, ScanResult, ShipmentIn, ShipmentRead, ShipmentScanIn
from scanning.service import ScanRequest
from traceability.api import RowId, SessionDep, SettingsDep, allow
from traceability.auth.service import Principal
from traceability.errors import Problem
from traceability.models import Role, Shipment
from traceability.privacy import member_hash, member_pepper

__all__ = ["epcis_router", "scans_router"]

epcis_router = APIRouter(prefix="/epcis", tags=["EPCIS 2.0"])
Capturer = Annotated[Principal, Depends(allow(Role.plant, Role.distributor, Role.store, Role.admin))]
Anyone = Annotated[Principal, Depends(allow(*Role))]


async def _json_body(request: Request) -> Any:
    raw = await request.body()
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidDocument(f"request body is not JSON: {exc}", [Problem("", "not JSON")]) from None


@epcis_router.post("/capture", status_code=202, responses={409: {"description": "eventID conflict"}})
async def capture(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: Capturer,
    behaviour: Annotated[str | None, Header(alias="GS1-Capture-Error-Behaviour")] = None,
) -> JSONResponse:
    """Capture an EPCISDocument (JSON / JSON-LD). All or nothing unless ``GS1-Capture-Error-Behaviour: proceed``."""
    document = await _json_body(request)
    result = epcis.capture_document(
        session=session,
        document=document,
        proceed=(behaviour or "").lower() == "proceed",
        party_id=principal.party_id,
        schema_path=settings.epcis_schema,
    )
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


@scans_router.post("/scans", response_model=ScanResult)
def post_scans(
    session: SessionDep,
    settings: SettingsDep,
    principal: Scanner,
    body: ScanIn,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)] = None,
) -> Any:
    """Record raw scans for a business step; each code is accepted or rejected with its reason."""
    member = member_hash(body.member, member_pepper(settings.key_dir)) if body.member else None
    request = ScanRequest(biz_step=body.biz_step, codes=body.codes, party_id=body.party,
                          destination_id=body.destination, event_time=body.event_time, member_hash=member)  # fmt: skip
    return service.record_scans(
        session=session, principal=principal, request=request, idempotency_key=idempotency_key,
        company_prefix_length=settings.company_prefix_length, store=key_store(settings),
    ).as_dict()  # fmt: skip


@scans_router.post("/scans/image", response_model=ScanResult)
async def post_image_scan(
    session: SessionDep,
    settings: SettingsDep,
    principal: Scanner,
    image: Annotated[UploadFile, File(description="Photo or scanner image (PNG, JPEG, WebP, …)")],
    biz_step: Annotated[str, Form()],
    destination: Annotated[str | None, Form()] = None,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)] = None,
) -> Any:
    """Decode every code on a photo (a case top holds dozens) and record them as one scan."""
    data = await image.read()
    request = ScanRequest(biz_step=biz_step, codes=[], destination_id=destination)
    return service.record_image_scan(
        session=session, principal=principal, image=data, request=request, idempotency_key=idempotency_key,
        company_prefix_length=settings.company_prefix_length, store=key_store(settings),
    ).as_dict()  # fmt: skip


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


def _shipment_read(session: SessionDep, shipment: Shipment) -> ShipmentRead:
    assert shipment.id is not None
    items = len(service.shipment_items(session=session, shipment_id=shipment.id))
    return ShipmentRead(**shipment.model_dump(warnings=False), items=items)


@scans_router.post("/shipments", response_model=ShipmentRead, status_code=201)
def open_shipment(session: SessionDep, principal: Shipper, body: ShipmentIn) -> ShipmentRead:
    """Open an outbound shipment to a destination party."""
    shipment = service.open_shipment(session=session, principal=principal, destination_id=body.destination)
    return _shipment_read(session, shipment)


@scans_router.get("/shipments/{shipment_id}", response_model=ShipmentRead)
def get_shipment(session: SessionDep, principal: Shipper, shipment_id: RowId) -> ShipmentRead:
    return _shipment_read(session, service.get_shipment(session=session, principal=principal, shipment_id=shipment_id))


@scans_router.post("/shipments/{shipment_id}/scans", response_model=ScanResult)
def scan_into_shipment(
    session: SessionDep, settings: SettingsDep, principal: Shipper, shipment_id: RowId, body: ShipmentScanIn
) -> Any:
    """Scan codes (a case stands for its units) into an open shipment."""
    return service.scan_into_shipment(
        session=session, principal=principal, shipment_id=shipment_id, codes=body.codes,
        company_prefix_length=settings.company_prefix_length, store=key_store(settings),
    ).as_dict()  # fmt: skip


@scans_router.post("/shipments/{shipment_id}/close", response_model=ShipmentRead)
def close_shipment(session: SessionDep, principal: Shipper, shipment_id: RowId) -> ShipmentRead:
    """Close the shipment: one shipping event from the sender to the destination."""
    shipment = service.close_shipment(session=session, principal=principal, shipment_id=shipment_id)
    return _shipment_read(session, shipment)
