"""EPCIS 2.0 REST capture and query (the standard's paths), and the scan API for our own scanners."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import JSONResponse

from scanning import epcis
from scanning.errors import InvalidDocument
from traceability.api import SessionDep, SettingsDep, allow
from traceability.auth.service import Principal
from traceability.errors import Problem
from traceability.models import Role

__all__ = ["epcis_router"]

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
    next_page_token: Annotated[int, Query(alias="nextPageToken", ge=0)] = 0,
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
