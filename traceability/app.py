"""The assembly: the FastAPI app factory (one engine, the domain routers, one renderer for every domain error, the
request body limits) and the wiring of the capture listeners, which the app and the CLI both call."""

from __future__ import annotations

import re

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline
from sqlalchemy.engine import Engine
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ledger.store import Listener, set_listeners
from traceability.api import JSON_DEPTH_SCOPE_KEY, RequestRefused, checked_json_depth
from traceability.database import make_engine, migrate, reading
from traceability.errors import JsonTooDeep, PayloadTooLarge, TraceabilityError
from traceability.i18n import negotiate
from traceability.problems import PROBLEM_JSON, RequestInvalid, http_problem
from traceability.settings import Settings, get_settings

__all__ = ["RequestLimits", "capture_listeners", "create_app", "wire_listeners"]



def _problem(request: Request, error: TraceabilityError) -> JSONResponse:
    headers = None
    if error.code == PayloadTooLarge.code and request.url.path.startswith("/epcis"):
        # the EPCIS 2.0 REST binding's way of telling a client the size it may send
        headers = {"GS1-EPCIS-Capture-File-Size-Limit": str(error.detail["limit"])}
    lang = negotiate(request.headers.get("accept-language"))
    return JSONResponse(error.to_problem(lang), status_code=error.status_code, media_type=PROBLEM_JSON,
                        headers=headers)  # fmt: skip


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, TraceabilityError)
    return _problem(request, exc)


async def _body_refused(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestRefused)
    return _problem(request, exc.error)


async def _request_invalid(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return _problem(request, RequestInvalid(exc.errors()))  # plain words in the caller's language, not pydantic's


async def _http_refused(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    return http_problem(request, exc)


_JSON_TYPE = re.compile(r"^\s*application/([\w.-]+\+)?json\s*(;|$)", re.IGNORECASE)
_THREAD_ABOVE = 64 * 1024  # bytes; measuring a smaller body costs less than the hop to a worker thread


class RequestLimits:
    """Body size and JSON depth limits for every route, applied as a route reads its body (pure ASGI).

    A declared ``Content-Length`` over the limit is refused before a byte is read, a streamed body as soon as it
    passes the limit; a JSON body is read whole (it is bounded) and its depth measured before any parser sees it,
    since ``json`` recurses and a deep one would end in a 500. The refusal is raised inside the route, so the API
    answers problem JSON and a page shows an error page; a route that never reads its body is not affected.
    """

    def __init__(self, app: ASGIApp, *, max_body_bytes: int, max_json_depth: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_json_depth = max_json_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.app(scope, _LimitedBody(self, scope, receive), send)


class _LimitedBody:
    """The ``receive`` a route sees under :class:`RequestLimits`."""

    def __init__(self, limits: RequestLimits, scope: Scope, receive: Receive) -> None:
        headers = Headers(scope=scope)
        length = headers.get("content-length", "")
        self.declared = int(length) if length.isdigit() else None
        self.json = bool(_JSON_TYPE.match(headers.get("content-type", "")))
        self.limits = limits
        self.scope = scope
        self.receive = receive
        self.read = 0
        self.done = False

    async def __call__(self) -> Message:
        if self.done:
            return await self.receive()
        if self.declared is not None and self.declared > self.limits.max_body_bytes:
            raise self._too_large(self.declared)
        if not self.json:
            return self._counted(await self.receive())
        chunks: list[bytes] = []
        while not self.done:
            message = self._counted(await self.receive())
            if message["type"] != "http.request":
                return message  # the client went away mid-body
            chunks.append(message.get("body", b""))
        body, limit = b"".join(chunks), self.limits.max_json_depth
        try:
            if len(body) <= _THREAD_ABOVE:
                depth = checked_json_depth(body, limit=limit)
            else:
                depth = await run_in_threadpool(checked_json_depth, body, limit=limit)
        except JsonTooDeep as exc:
            raise RequestRefused(exc) from None
        self.scope[JSON_DEPTH_SCOPE_KEY] = depth
        return {"type": "http.request", "body": body, "more_body": False}

    def _counted(self, message: Message) -> Message:
        if message["type"] == "http.request":
            self.read += len(message.get("body", b""))
            if self.read > self.limits.max_body_bytes:
                raise self._too_large(None)
            self.done = not message.get("more_body", False)
        return message

    def _too_large(self, declared: int | None) -> RequestRefused:
        limit = self.limits.max_body_bytes
        size = f"of {declared:,} bytes " if declared is not None else ""
        return RequestRefused(PayloadTooLarge(
            f"request body {size}is larger than the {limit:,} bytes accepted", limit=limit
        ))  # fmt: skip


def capture_listeners() -> tuple[Listener, ...]:
    """The work that runs inside every capture, in this order, and why the order.

    1. ``diversion`` (flow_graph): alerts; it also records codes another system commissioned, which unit state and
       the settlement facts then find as code records;
    2. ``settlement_facts`` (rebates): sales, purchases and dispatches; they read unit history only, not alerts, so
       they could run first, but after the foreign codes are recorded their facts are the same on every path;
    3. ``members`` (members): a member first seen on a sale is registered at that sale's store; it reads the events
       only, so its place is free, and last it changes nothing the others read.
    """
    from flow_graph.service import diversion_listener
    from members.service import members_listener
    from rebates.facts import facts_listener

    return (diversion_listener, facts_listener, members_listener)


def wire_listeners() -> None:
    """Set the capture listeners on the ledger: the one place they are wired (idempotent)."""
    set_listeners(capture_listeners())
    from crm.points import points_extra
    from rebates.service import set_points_extras

    set_points_extras(points_extra)  # a member's points include crm's campaign extras, grants and rewards


def worker_app() -> FastAPI:
    """The app of one ``serve --workers N`` process (uvicorn's factory): settings from the environment the parent
    set, the schema already migrated by the parent (N processes must not race to migrate one database)."""
    return create_app(get_settings(), run_migrations=False)


def create_app(
    settings: Settings | None = None, *, engine: Engine | None = None, run_migrations: bool = True
) -> FastAPI:
    """Build the app; tests pass their own engine, production builds one from settings."""
    from codes.routes import router as codes_router
    from crm.routes import router as crm_router
    from flow_graph.routes import alerts_router, flow_router
    from labels.routes import router as labels_router
    from members.routes import router as members_router
    from orders.routes import router as orders_router
    from pos.routes import router as pos_router
    from scanning.rest import EpcisHeaders
    from scanning.routes import EventQueryShortcut, epcis_router, scans_router
    from settlement.routes import router as settlement_router
    from settlement.routes import stores_router
    from traceability.auth.routes import router as apikeys_router
    from traceability.masterdata.routes import router as masterdata_router

    wire_listeners()
    settings = settings or get_settings()
    engine = engine or make_engine(settings.db)
    if run_migrations:
        migrate(engine)

    # FastAPIOffline: /docs and /redoc load Swagger UI and ReDoc from the package's files, not from a CDN, so the
    # API's documentation opens on a network without the internet (and its validator badge is off: no call out).
    app = FastAPIOffline(
        title="Traceability",
        version="0.1.0",
        description="One item, one code: signed serialization, EPCIS capture and channel-diversion detection.",
        favicon_url="/static/favicon.svg",
        swagger_ui_parameters={"validatorUrl": None},
    )
    app.state.settings = settings
    app.state.engine = engine
    # Reads that may be stale go to the replica when one is set (traceability.api.ReadSessionDep); else the primary,
    # through its read-only view (made once here: every event query uses it).
    app.state.read_engine = make_engine(settings.read_db) if settings.read_db else None
    app.state.reading_engine = reading(engine)
    app.add_exception_handler(TraceabilityError, _domain_error)
    app.add_exception_handler(RequestRefused, _body_refused)
    app.add_exception_handler(RequestValidationError, _request_invalid)
    app.add_exception_handler(StarletteHTTPException, _http_refused)  # the pages put theirs in its place (web.app)
    app.add_middleware(EventQueryShortcut)  # innermost: behind every limit and header the route's answers get
    app.add_middleware(RequestLimits, max_body_bytes=settings.max_body_bytes, max_json_depth=settings.max_json_depth)
    app.add_middleware(EpcisHeaders, capture_limit=settings.max_capture_events, file_size_limit=settings.max_body_bytes)

    @app.get("/healthz", tags=["meta"])
    async def healthz() -> dict[str, str]:
        # On the event loop, not in the thread pool: it touches nothing, and so it answers while every worker
        # thread is busy with captures.
        return {"status": "ok"}

    # The busiest doors first: a request is matched against the routes in order, and FastAPI tries every route of
    # an included router before the next one (its prefix does not rule it out), so a scan behind the 65 EPCIS routes
    # spent a quarter of a millisecond being routed (10 µs now). No path of these three can be another router's.
    for router in (scans_router, pos_router, epcis_router, masterdata_router, apikeys_router, codes_router,
                   labels_router, alerts_router, flow_router, settlement_router, stores_router, members_router,
                   orders_router):  # fmt: skip
        app.include_router(router)
    app.include_router(crm_router)
    from web.app import mount_web
    from web.limits import install_limits

    install_limits(app, settings)  # the public doors' rate limits (web/limits.py says which and why)
    mount_web(app)
    return app
