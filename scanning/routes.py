"""EPCIS 2.0 REST capture and query (the standard's paths), and the scan API for our own scanners."""

from __future__ import annotations

import functools
import inspect
import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, File, Form, Header, Query, Request, UploadFile, WebSocket
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from codes.service import key_store
from rebates.policy import OutboundPolicy, load_policy
from scanning import epcis, epcis_masterdata, epcis_xml, outbound, service, subscriptions
from scanning.epcis_errors import HeaderInvalid, NotAcceptable
from scanning.epcis_stream import read_json
from scanning.errors import InvalidDocument
from scanning.query import (
    MAX_PER_PAGE,
    EventPage,
    event_document,
    event_page,
    list_values,
    page_secret,
    parse_query,
    resource_value,
)
from scanning.rest import (
    collection,
    discovery_headers,
    next_link,
    problem_type,
    query_document,
    query_document_json,
    wants_xml,
)
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
from traceability.api import (
    JSON_DEPTH_SCOPE_KEY,
    Caller,
    ReadSessionDep,
    RowId,
    SessionDep,
    SettingsDep,
    allow,
    allow_later,
    checked_json_depth,
    read_session,
)
from traceability.auth.service import Principal, authenticate
from traceability.errors import Problem, TraceabilityError, Unauthenticated
from traceability.i18n import negotiate
from traceability.models import Role, Shipment, ShipmentStatus
from traceability.models.base import utcnow
from traceability.privacy import member_hash, member_pepper
from traceability.settings import Settings

__all__ = ["EventQueryShortcut", "epcis_router", "scans_router"]

epcis_router = APIRouter(prefix="/epcis", tags=["EPCIS 2.0"])
Capturer = Annotated[Principal, Depends(allow(Role.plant, Role.distributor, Role.store, Role.admin))]
Anyone = Annotated[Principal, Depends(allow(*Role))]
AnyoneLater = Annotated[Caller, Depends(allow_later(*Role))]
"""Anyone, checked in the route's thread with its query (``traceability.api.allow_later``)."""


async def _epcis_lang(accept_language: Annotated[str | None, Header(alias="Accept-Language")] = None) -> str:
    """zh-CN or en for the binding's error messages (default zh-CN)."""
    return negotiate(accept_language)


EpcisLang = Annotated[str, Depends(_epcis_lang)]
PerPage = Annotated[int, Query(alias="perPage", ge=1, le=MAX_PER_PAGE)]
_TOKEN_CHARS = 2000
"""The longest ``nextPageToken`` taken: the route's bound and the shortcut's (:class:`EventQueryShortcut`)."""
_EVENTS_PER_PAGE = 100
"""A page of events where the request names no ``perPage``: the routes' default and the shortcut's."""
PageToken = Annotated[str | None, Query(alias="nextPageToken", max_length=_TOKEN_CHARS)]
_XML = "application/xml"


async def _capture_body(request: Request) -> bytes:
    """The raw body, read before the key is checked (no transaction is open while a client uploads), within the
    depth limit: the body limits measured a JSON-typed one already; one sent as another type is measured here."""
    raw = await request.body()
    if JSON_DEPTH_SCOPE_KEY not in request.scope and not _is_xml(request.headers.get("content-type")):
        settings: Settings = request.app.state.settings
        await run_in_threadpool(checked_json_depth, raw, limit=settings.max_json_depth)
    return raw


def _is_xml(content_type: str | None) -> bool:
    kind = (content_type or "").split(";", 1)[0].strip().lower()
    return kind in ("application/xml", "text/xml") or kind.endswith("+xml")


def _parsed(raw: bytes) -> Any:
    """The body as JSON: a large EPCISDocument streamed a chunk of events at a time (``scanning.epcis_stream``),
    anything else as ``json.loads`` reads it, with its errors."""
    try:
        return read_json(raw)
    except ValueError as exc:  # not JSON, not UTF-8/16/32, or an integer of more than 4,300 digits
        raise InvalidDocument(f"request body is not JSON: {exc}", [Problem("", "not JSON")]) from None


def _secret(settings: Settings) -> bytes:
    return _page_secret(settings.key_dir)


@functools.lru_cache(maxsize=16)
def _page_secret(key_dir: Path) -> bytes:
    """Read once per key directory: the pepper never changes once made, and a page of events should not read a
    file."""
    return page_secret(member_pepper(key_dir))


def _options(allow_methods: str, *, capture: bool = False) -> Response:
    return Response(status_code=204, headers=discovery_headers(allow_methods, capture=capture))


def _paged(body: Any, request: Request, token: str | None) -> JSONResponse:
    headers = {"Link": next_link(request.url.path, request.query_params.multi_items(), token)} if token else None
    return JSONResponse(body, headers=headers)


def _events_response(request: Request, page: EventPage) -> Response:
    headers = {"Link": next_link(request.url.path, request.query_params.multi_items(), page.next_token)} \
        if page.next_token else None  # fmt: skip
    if wants_xml(request.headers.get("accept")):
        return Response(epcis_xml.query_document_xml(page.events), media_type=_XML, headers=headers)
    return Response(query_document_json(page.documents), media_type="application/json", headers=headers)


@epcis_router.options("/", include_in_schema=False)
def discover(_: Anyone) -> Response:
    return _options("OPTIONS, GET")


@epcis_router.get("/")
def top_level(_: Anyone) -> JSONResponse:
    """The top-level resources of this repository."""
    return JSONResponse(collection(["queries", "capture", "events", "eventTypes", "epcs", "readPoints",
                                    "bizLocations", "dispositions", "bizSteps"]))  # fmt: skip


@epcis_router.options("/capture", include_in_schema=False)
def discover_capture(_: Anyone) -> Response:
    return _options("OPTIONS, POST, GET", capture=True)


_BEHAVIOURS = ("rollback", "proceed", "all")


def _proceeds(behaviour: str | None, lang: str) -> bool:
    """Whether ``GS1-Capture-Error-Behaviour`` asks to store the valid events and refuse the others; a value the
    binding does not define is refused (a typo must not mean all or nothing), not taken for the default."""
    value = (behaviour or "rollback").strip().lower()
    if value not in _BEHAVIOURS:
        raise HeaderInvalid(lang, header="GS1-Capture-Error-Behaviour", value=behaviour or "", allowed=_BEHAVIOURS)
    return value == "proceed"


@epcis_router.post(
    "/capture",
    status_code=202,
    responses={409: {"description": "eventID conflict"}, 413: {"description": "more events than the capture limit"}},
)
def capture(
    body: Annotated[bytes, Depends(_capture_body)],
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: Capturer,
    lang: EpcisLang,
    behaviour: Annotated[str | None, Header(alias="GS1-Capture-Error-Behaviour")] = None,
) -> JSONResponse:
    """Capture an EPCISDocument (JSON / JSON-LD, or EPCIS 2.0 XML as ``application/xml``). All or nothing unless
    ``GS1-Capture-Error-Behaviour: proceed``: ``rollback`` and ``all`` (the binding's "All or nothing") are the
    default. The capture is done when 202 is sent; ``Location`` names its job."""
    proceed = _proceeds(behaviour, lang)
    xml = _is_xml(request.headers.get("content-type"))
    document = epcis_xml.parse_document(body, xsd_dir=settings.epcis_xsd_dir, lang=lang) if xml else _parsed(body)
    result = epcis.capture_document(
        session=session,
        document=document,
        proceed=proceed,
        party_id=principal.party_id,
        principal=principal,
        member_pepper=member_pepper(settings.key_dir),
        schema_path=settings.epcis_schema,
        max_events=settings.max_capture_events,
        lang=lang,
    )
    # Committed here, in this worker thread: the chain head stays locked until the commit, and the session
    # dependency would commit only after a hop through the event loop (it then finds nothing left to do).
    session.commit()
    return JSONResponse(result.as_dict(), status_code=202, headers={"Location": f"/epcis/capture/{result.capture_id}"})


@epcis_router.get("/capture")
def capture_jobs(
    request: Request, session: SessionDep, settings: SettingsDep, principal: Anyone, lang: EpcisLang,
    per_page: PerPage = 30, next_page_token: PageToken = None,
) -> JSONResponse:  # fmt: skip
    """The caller's capture jobs, newest first (a brand's full-view roles: every party's). JSON only, as the binding
    describes this list: ``Accept: application/xml`` is answered 406 (one job, ``/capture/{id}``, has XML)."""
    if wants_xml(request.headers.get("accept")):
        raise NotAcceptable(lang, accept=request.headers.get("accept", ""), json_only=True)
    jobs, token = epcis.capture_jobs(session=session, principal=principal, per_page=per_page,
                                     token=next_page_token, secret=_secret(settings), lang=lang)  # fmt: skip
    return _paged(jobs, request, token)


@epcis_router.options("/capture/{capture_id}", include_in_schema=False)
def discover_capture_job(_: Anyone, capture_id: str) -> Response:
    return _options("OPTIONS, GET")


@epcis_router.get("/capture/{capture_id}")
def capture_job(request: Request, session: SessionDep, principal: Anyone, lang: EpcisLang, capture_id: str) -> Response:
    """One capture job: finished, whether it succeeded, and the events it refused (``errors``); in the binding's XML
    (``EPCISCaptureJob``) for ``Accept: application/xml``."""
    job = epcis.capture_job(session=session, principal=principal, capture_id=capture_id, lang=lang)
    if wants_xml(request.headers.get("accept")):
        return Response(epcis_xml.capture_job_xml(job), media_type=_XML)
    return JSONResponse(job)


@epcis_router.options("/vocabularies", include_in_schema=False)
def discover_vocabularies(_: Anyone) -> Response:
    return _options("OPTIONS, GET")


@epcis_router.get("/vocabularies")
def vocabularies(
    request: Request, session: SessionDep, settings: SettingsDep, principal: Anyone, lang: EpcisLang,
    vocabulary_type: Annotated[list[str] | None, Query(alias="type", max_length=300)] = None,
    element_id: Annotated[list[str] | None, Query(alias="id", max_length=300)] = None,
    per_page: PerPage = _EVENTS_PER_PAGE, next_page_token: PageToken = None,
) -> Response:  # fmt: skip
    """Master data captured in document headers (``epcisMasterData``), in the header's own shape, filtered by
    vocabulary ``type`` and element ``id`` (each repeatable): the caller's party's elements (a brand's full-view
    roles: all). Not in GS1's binding, which has no master-data resource (``scanning.epcis_masterdata``).
    ``Accept: application/xml`` answers the XML binding's ``EPCISMasterDataDocument``."""
    document, token = epcis_masterdata.vocabulary_page(
        session=session, principal=principal, types=vocabulary_type or [], ids=element_id or [], per_page=per_page,
        token=next_page_token, secret=_secret(settings), lang=lang,
    )  # fmt: skip
    if wants_xml(request.headers.get("accept")):
        headers = {"Link": next_link(request.url.path, request.query_params.multi_items(), token)} if token else None
        return Response(epcis_xml.vocabulary_document_xml(document), media_type=_XML, headers=headers)
    return _paged(document, request, token)


@epcis_router.options("/events", include_in_schema=False)
def discover_events(_: Anyone) -> Response:
    return _options("OPTIONS, GET")


def _query(
    request: Request, session: Session, settings: Settings, principal: Principal, lang: str, per_page: int,
    token: str | None, fixed: dict[str, list[str]] | None = None,
) -> Response:  # fmt: skip
    flt = parse_query(request.query_params.multi_items(), lang=lang, fixed=fixed)
    page = event_page(session=session, flt=flt, principal=principal, per_page=per_page, token=token,
                      secret=_secret(settings), lang=lang)  # fmt: skip
    session.commit()  # the read ends here, in this thread, so the session dependency has nothing left to end
    return _events_response(request, page)


@epcis_router.get("/events")
def events(
    request: Request, settings: SettingsDep, caller: AnyoneLater, lang: EpcisLang, per_page: PerPage = _EVENTS_PER_PAGE,
    next_page_token: PageToken = None,
) -> Response:  # fmt: skip
    """Query events with the EPCIS Query Language's parameters (``docs/epcis.md`` lists them); a caller sees events
    at, from or to its own party only. ``Accept: application/xml`` answers in the XML binding. Read from the replica
    when ``read_db`` is set (the key on the primary)."""
    with read_session(request) as read:
        return _query(request, read, settings, caller.principal(read), lang, per_page, next_page_token)


_EVERYONE = tuple(Role)
_EVENTS_PATH = "/epcis/events"


class EventQueryShortcut:
    """``GET /epcis/events`` answered without the router: the busiest read of the binding, asked by every
    integrator's poll, spent a fifth of its time being routed and having its dependencies solved (``benchmarks/
    query.py``). The shortcut answers only a request the route would answer with a page, through the same functions
    (:func:`_query`, :meth:`Caller.principal`), in one worker thread; anything else (no key or a bad one, a
    parameter the query refuses, a ``perPage`` that is not a plain number in range, a repeated one) is handed to the
    route untouched, which refuses it in the caller's language. A request is only read, so trying it twice is
    harmless. Installed innermost, inside the binding's headers and the body limits."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and scope["path"] == _EVENTS_PATH:
            response = await run_in_threadpool(_shortcut, Request(scope, receive))
            if response is not None:
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _single(params: list[tuple[str, str]], name: str) -> tuple[bool, str | None]:
    """Whether ``name`` appears at most once, and its value."""
    values = [v for k, v in params if k == name]
    return len(values) <= 1, values[0] if values else None


def _shortcut(request: Request) -> Response | None:
    scheme, _, token = (request.headers.get("authorization") or "").partition(" ")
    if scheme.lower() != "bearer" or not token or " " in token:  # what HTTPBearer would not hand over as it is
        return None
    params = request.query_params.multi_items()
    once, per_page = _single(params, "perPage")
    once_too, page_token = _single(params, "nextPageToken")
    if not (once and once_too) or (page_token is not None and len(page_token) > _TOKEN_CHARS):
        return None
    if per_page is not None and not (per_page.isascii() and per_page.isdigit() and 1 <= int(per_page) <= MAX_PER_PAGE):
        return None
    settings: Settings = request.app.state.settings
    lang = negotiate(request.headers.get("accept-language"))
    try:
        with read_session(request) as read:
            principal = Caller(token, _EVERYONE).principal(read)
            return _query(request, read, settings, principal, lang, int(per_page or _EVENTS_PER_PAGE), page_token)
    except TraceabilityError:
        return None


@epcis_router.options("/events/{event_id:path}", include_in_schema=False)
def discover_event(_: Anyone, event_id: str) -> Response:
    return _options("OPTIONS, GET")


@epcis_router.get("/events/{event_id:path}")
def event(request: Request, session: ReadSessionDep, principal: Anyone, lang: EpcisLang, event_id: str) -> Response:
    """One event by its eventID (percent-encoded in the path), with its error declaration if any."""
    found = event_document(session=session, event_id=event_id, principal=principal, lang=lang)
    return _events_response(request, EventPage([found], None))


def _resource_routes(resource: str, parameter: str, filter_name: str) -> None:
    """``/{resource}``, ``/{resource}/{value}`` and ``/{resource}/{value}/events`` of one top-level resource; the
    path parameter has the binding's name (``epc``, ``bizStep`` …)."""

    @epcis_router.options(f"/{resource}", include_in_schema=False, name=f"discover_{resource}")
    def discover_list(_: Anyone) -> Response:
        return _options("OPTIONS, GET")

    @epcis_router.get(f"/{resource}", name=f"list_{resource}")
    def listing(
        request: Request, session: SessionDep, settings: SettingsDep, principal: Anyone, lang: EpcisLang,
        per_page: PerPage = 30, next_page_token: PageToken = None,
    ) -> JSONResponse:  # fmt: skip
        page = list_values(session=session, resource=resource, principal=principal, per_page=per_page,
                           token=next_page_token, secret=_secret(settings), lang=lang)  # fmt: skip
        return _paged(collection(page.values), request, page.next_token)

    def discover_events_of(_: Anyone, value: str) -> Response:
        return _options("OPTIONS, GET")

    def events_of(
        request: Request, settings: SettingsDep, caller: AnyoneLater, lang: EpcisLang, value: str,
        per_page: PerPage = _EVENTS_PER_PAGE, next_page_token: PageToken = None,
    ) -> Response:  # fmt: skip
        with read_session(request) as read:
            return _query(request, read, settings, caller.principal(read), lang, per_page, next_page_token,
                          fixed={filter_name: [value]})  # fmt: skip

    def discover_one(_: Anyone, value: str) -> Response:
        return _options("OPTIONS, GET")

    def one(session: SessionDep, principal: Anyone, lang: EpcisLang, value: str) -> JSONResponse:
        resource_value(session=session, resource=resource, value=value, principal=principal, lang=lang)
        return JSONResponse(collection(["events"]))

    # The value's routes, ``…/events`` first (a ``path`` parameter would swallow it), with the binding's name.
    each = f"/{resource}/{{{parameter}:path}}"
    epcis_router.add_api_route(f"{each}/events", _named(discover_events_of, parameter), methods=["OPTIONS"],
                               include_in_schema=False, name=f"discover_{resource}_events")  # fmt: skip
    epcis_router.add_api_route(f"{each}/events", _named(events_of, parameter), methods=["GET"],
                               name=f"{resource}_events")  # fmt: skip
    epcis_router.add_api_route(each, _named(discover_one, parameter), methods=["OPTIONS"], include_in_schema=False,
                               name=f"discover_{resource}_one")  # fmt: skip
    epcis_router.add_api_route(each, _named(one, parameter), methods=["GET"], name=f"{resource}_one")


def _named(endpoint: Callable[..., Response], parameter: str) -> Callable[..., Response]:
    """``endpoint`` with its ``value`` parameter renamed ``parameter`` (FastAPI reads the signature)."""
    signature = inspect.signature(endpoint)
    renamed = [p.replace(name=parameter) if p.name == "value" else p for p in signature.parameters.values()]

    @functools.wraps(endpoint)
    def call(**kwargs: Any) -> Response:
        kwargs["value"] = kwargs.pop(parameter)
        return endpoint(**kwargs)

    call.__signature__ = signature.replace(parameters=renamed)  # type: ignore[attr-defined]
    return call


for _resource, _parameter, _filter in (
    ("eventTypes", "eventType", "eventType"),
    ("epcs", "epc", "MATCH_anyEPC"),
    ("bizSteps", "bizStep", "EQ_bizStep"),
    ("bizLocations", "bizLocation", "EQ_bizLocation"),
    ("readPoints", "readPoint", "EQ_readPoint"),
    ("dispositions", "disposition", "EQ_disposition"),
):
    _resource_routes(_resource, _parameter, _filter)


@epcis_router.options("/queries", include_in_schema=False)
def discover_queries(_: Anyone) -> Response:
    return _options("OPTIONS, GET, POST")


@epcis_router.post("/queries", status_code=201, responses={409: {"description": "a query of that name exists"}})
def create_query(body: subscriptions.QueryIn, session: SessionDep, principal: Anyone, lang: EpcisLang) -> JSONResponse:
    """Store a named query (the parameters ``GET /epcis/events`` takes) for the caller's party."""
    stored = subscriptions.create_query(session=session, principal=principal, body=body, lang=lang)
    return JSONResponse(subscriptions.query_read(stored), status_code=201,
                        headers={"Location": f"/epcis/queries/{stored.name}"})  # fmt: skip


@epcis_router.get("/queries")
def list_queries(
    request: Request, session: SessionDep, settings: SettingsDep, principal: Anyone, lang: EpcisLang,
    per_page: PerPage = 30, next_page_token: PageToken = None,
) -> JSONResponse:  # fmt: skip
    """The named queries the caller's party owns (a brand's full-view roles: every party's)."""
    found, token = subscriptions.list_queries(session=session, principal=principal, per_page=per_page,
                                              token=next_page_token, secret=_secret(settings), lang=lang)  # fmt: skip
    return _paged([subscriptions.query_read(q) for q in found], request, token)


@epcis_router.options("/queries/{name}", include_in_schema=False)
def discover_query(_: Anyone, name: str) -> Response:
    return _options("OPTIONS, GET, DELETE")


@epcis_router.get("/queries/{name}")
def get_query(session: SessionDep, principal: Anyone, lang: EpcisLang, name: str) -> JSONResponse:
    """One named query's definition."""
    stored = subscriptions.get_query(session=session, principal=principal, name=name, lang=lang)
    return JSONResponse(subscriptions.query_read(stored))


@epcis_router.delete("/queries/{name}", status_code=204)
def delete_query(session: SessionDep, principal: Anyone, lang: EpcisLang, name: str) -> Response:
    """Remove a named query and every subscription to it."""
    subscriptions.delete_query(session=session, principal=principal, name=name, lang=lang)
    return Response(status_code=204)


@epcis_router.options("/queries/{name}/events", include_in_schema=False)
def discover_query_events(_: Anyone, name: str) -> Response:
    return _options("OPTIONS, GET")


@epcis_router.get("/queries/{name}/events")
def query_events(
    request: Request, session: SessionDep, settings: SettingsDep, principal: Anyone, lang: EpcisLang, name: str,
    per_page: PerPage = _EVENTS_PER_PAGE, next_page_token: PageToken = None,
) -> Response:  # fmt: skip
    """Run a named query with the caller's party scope, paged as ``GET /epcis/events``."""
    page = subscriptions.query_events(session=session, principal=principal, name=name, per_page=per_page,
                                      token=next_page_token, secret=_secret(settings), lang=lang)  # fmt: skip
    return _events_response(request, page)


@epcis_router.options("/queries/{name}/subscriptions", include_in_schema=False)
def discover_subscriptions(_: Anyone, name: str) -> Response:
    return _options("OPTIONS, GET, POST")


@epcis_router.post("/queries/{name}/subscriptions", status_code=201)
def create_subscription(
    body: subscriptions.SubscriptionIn, session: SessionDep, settings: SettingsDep, principal: Anyone, lang: EpcisLang,
    name: str,
) -> JSONResponse:  # fmt: skip
    """Subscribe a webhook (``dest``) to a named query: ``stream: true``, GS1's ``schedule`` (``{"minute": "0,30"}``,
    UTC) or ours, ``schedule: {"interval": seconds}``; each
    POST is signed in ``GS1-Signature`` (hex HMAC-SHA256 of the body keyed with ``signatureToken``). A ``dest`` in a
    private, loopback or link-local range is refused (400, ``dest_private``) unless the settings allow it."""
    sub = subscriptions.create_subscription(session=session, principal=principal, name=name, body=body,
                                            now=utcnow(), lang=lang,
                                            allow_private=settings.epcis_webhook_allow_private)  # fmt: skip
    return JSONResponse(subscriptions.subscription_read(sub), status_code=201,
                        headers={"Location": f"/epcis/queries/{name}/subscriptions/{sub.subscription_id}"})  # fmt: skip


@epcis_router.get("/queries/{name}/subscriptions")
def list_subscriptions(session: SessionDep, principal: Anyone, lang: EpcisLang, name: str) -> JSONResponse:
    """The subscriptions to a named query (never their secrets)."""
    found = subscriptions.list_subscriptions(session=session, principal=principal, name=name, lang=lang)
    return JSONResponse([subscriptions.subscription_read(s) for s in found])


@epcis_router.options("/queries/{name}/subscriptions/{subscription_id}", include_in_schema=False)
def discover_subscription(_: Anyone, name: str, subscription_id: str) -> Response:
    return _options("OPTIONS, GET, DELETE")


@epcis_router.get("/queries/{name}/subscriptions/{subscription_id}")
def get_subscription(
    session: SessionDep, principal: Anyone, lang: EpcisLang, name: str, subscription_id: str
) -> JSONResponse:
    sub = subscriptions.get_subscription(session=session, principal=principal, name=name,
                                         subscription_id=subscription_id, lang=lang)  # fmt: skip
    return JSONResponse(subscriptions.subscription_read(sub))


@epcis_router.delete("/queries/{name}/subscriptions/{subscription_id}", status_code=204)
def delete_subscription(
    session: SessionDep, principal: Anyone, lang: EpcisLang, name: str, subscription_id: str
) -> Response:
    """Unsubscribe."""
    subscriptions.delete_subscription(session=session, principal=principal, name=name,
                                      subscription_id=subscription_id, lang=lang)  # fmt: skip
    return Response(status_code=204)


STREAM_POLL_SECONDS = 0.25
"""How often a websocket stream looks for new events (it reads the store, so captures by any process reach it)."""
_SCHEDULE_PARAMETERS = ("second", "minute", "hour", "dayOfMonth", "month", "dayOfWeek")
_PROBLEM_JSON = "application/problem+json"


def _stream_refusal(error: TraceabilityError, lang: str) -> JSONResponse:
    body = error.to_problem(lang)
    body["type"] = problem_type(error.status_code, error.code)
    return JSONResponse(body, status_code=error.status_code, media_type=_PROBLEM_JSON)


def _open(engine: Any, token: str | None, name: str, initial: str | None, lang: str) -> tuple[Principal, Any]:
    """The key and the stream's start, in one short transaction of its own (a stream holds none while it waits)."""
    if not token:
        raise Unauthenticated("missing API key; send Authorization: Bearer <key>")
    when = None
    if initial is not None:
        try:
            when = datetime.fromisoformat(initial.replace("Z", "+00:00"))
        except ValueError:
            raise subscriptions.SubscriptionInvalid(lang, reason="when") from None
    with Session(engine, expire_on_commit=False) as session:
        principal = authenticate(session=session, token=token)
        start = subscriptions.open_stream(session=session, principal=principal, name=name, initial_record_time=when,
                                          lang=lang)  # fmt: skip
    return principal, start


def _batch(engine: Any, principal: Principal, query_pk: int, cursor: int) -> Any:
    with Session(engine, expire_on_commit=False) as session:
        return subscriptions.stream_batch(session=session, principal=principal, query_pk=query_pk, cursor=cursor)


async def _stream(websocket: WebSocket, name: str) -> None:
    """The binding's streaming subscription over a websocket: ``GET /epcis/queries/{name}/events?stream=true`` with
    ``Upgrade: websocket`` (and the same on ``…/subscriptions``), the key in ``Authorization: Bearer``. Each new
    event the named query matches and the key may see is pushed as it is stored, in store order, in an
    EPCISQueryDocument text message (at most 100 events a message). A refused handshake is an HTTP problem
    (401, 404, 400 — ``stream=true`` is the one mode served here; schedules are the webhooks'); deleting the query
    closes its streams (1000). The stream holds no transaction while it waits."""
    lang = negotiate(websocket.headers.get("accept-language"))
    params = websocket.query_params
    engine = websocket.app.state.engine
    auth_header = websocket.headers.get("authorization", "")
    token = auth_header[7:].strip() if auth_header.lower().startswith("bearer ") else None
    try:
        if params.get("stream", "").lower() != "true" or any(p in params for p in _SCHEDULE_PARAMETERS):
            raise subscriptions.SubscriptionInvalid(lang, reason="when")
        principal, start = await run_in_threadpool(_open, engine, token, name, params.get("initialRecordTime"), lang)
    except TraceabilityError as error:
        if "websocket.http.response" in websocket.scope.get("extensions", {}):
            await websocket.send_denial_response(_stream_refusal(error, lang))
        else:
            await websocket.close(code=1008, reason=error.code)
        return
    await websocket.accept()
    cursor = start.cursor

    async def push(scope: anyio.CancelScope) -> None:
        nonlocal cursor
        while True:
            batch = await run_in_threadpool(_batch, engine, principal, start.query_pk, cursor)
            if batch is None:
                await websocket.close(code=1000, reason="query deleted")
                scope.cancel()
                return
            if batch.events:
                document = query_document(batch.events, query_name=start.name)
                await websocket.send_text(json.dumps(document, ensure_ascii=False))
            cursor = batch.cursor
            if not batch.full:
                await anyio.sleep(STREAM_POLL_SECONDS)

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(push, tasks.cancel_scope)
        while True:  # the client says nothing; its disconnect ends the stream
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                tasks.cancel_scope.cancel()
                return


@epcis_router.websocket("/queries/{name}/events")
async def stream_query_events(websocket: WebSocket, name: str) -> None:
    await _stream(websocket, name)


@epcis_router.websocket("/queries/{name}/subscriptions")
async def stream_query_subscription(websocket: WebSocket, name: str) -> None:
    await _stream(websocket, name)


scans_router = APIRouter(prefix="/api/v1", tags=["scans"])
Scanner = Annotated[Principal, Depends(allow(Role.plant, Role.distributor, Role.store, Role.admin))]
Shipper = Annotated[Principal, Depends(allow(Role.plant, Role.distributor, Role.admin))]
RejectionViewer = Annotated[Principal, Depends(allow(*Role))]


async def _lang(accept_language: Annotated[str | None, Header(alias="Accept-Language")] = None) -> str:
    """zh-CN or en for the messages of warnings and refusals, from the request's Accept-Language (default zh-CN)."""
    return negotiate(accept_language)


async def _outbound(settings: SettingsDep) -> OutboundPolicy:
    """The ``[outbound]`` section of the brand's policy: which outbound checks warn and which refuse. On the event
    loop: the policy file is parsed once per content (``load_policy``), so this is a small read, not a hop."""
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
    outcome = service.record_scans(
        session=session, principal=principal, request=request, idempotency_key=idempotency_key,
        company_prefix_length=settings.company_prefix_length, store=key_store(settings), policy=policy, lang=lang,
    )  # fmt: skip
    session.commit()  # in this worker thread: the next scan's writer waits for no hop through the event loop
    return outcome.as_dict()


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


@scans_router.post(
    "/shipments",
    response_model=ShipmentRead,
    status_code=201,
    responses={403: {"description": "the brand's policy refuses shipping to this destination"}},
)
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
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)] = None,
) -> Any:  # fmt: skip
    """Scan codes (a case stands for its units) into an open shipment; each carries its outbound ``warnings``.
    A resend with the same ``Idempotency-Key`` gets the first answer (``replayed``) and changes nothing."""
    return service.scan_into_shipment(
        session=session, principal=principal, shipment_id=shipment_id, codes=body.codes,
        company_prefix_length=settings.company_prefix_length, store=key_store(settings), policy=policy, lang=lang,
        idempotency_key=idempotency_key,
    ).as_dict()  # fmt: skip


@scans_router.post(
    "/shipments/{shipment_id}/close",
    response_model=ShipmentRead,
    responses={409: {"description": "the shipment has warnings: confirm them to close it"}},
)
def close_shipment(
    session: SessionDep, principal: Shipper, shipment_id: RowId, lang: Lang, body: ShipmentCloseIn | None = None
) -> ShipmentRead:
    """Close the shipment: one shipping event from the sender to the destination. With warnings, only with
    ``{"confirm": true}``, recorded with who confirmed."""
    shipment = service.close_shipment(session=session, principal=principal, shipment_id=shipment_id,
                                      confirm=body is not None and body.confirm, lang=lang)  # fmt: skip
    return _shipment_read(session, shipment, lang)
