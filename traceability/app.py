"""The assembly: the FastAPI app factory (one engine, the domain routers, one renderer for every domain error) and
the wiring of the capture listeners, which the app and the CLI both call."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.engine import Engine

from ledger.store import Listener, set_listeners
from traceability.database import make_engine, migrate
from traceability.errors import Problem, TraceabilityError, ValidationFailed
from traceability.settings import Settings, get_settings

__all__ = ["capture_listeners", "create_app", "wire_listeners"]

PROBLEM_JSON = "application/problem+json"


async def _domain_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, TraceabilityError)
    return JSONResponse(exc.to_problem(), status_code=exc.status_code, media_type=PROBLEM_JSON)


async def _request_invalid(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = [
        Problem(path="/" + "/".join(str(p) for p in err.get("loc", ())), reason=str(err.get("msg", "invalid")))
        for err in exc.errors()
    ]
    error = ValidationFailed("request is invalid", problems)
    return JSONResponse(error.to_problem(), status_code=error.status_code, media_type=PROBLEM_JSON)


def capture_listeners() -> tuple[Listener, ...]:
    """The work that runs inside every capture, in this order, and why the order.

    1. ``diversion`` (flow_graph): alerts; it also records codes another system commissioned, which unit state and
       the settlement facts then find as code records;
    2. ``settlement_facts`` (rebates): sales, purchases and dispatches; they read unit history only, not alerts, so
       they could run first, but after the foreign codes are recorded their facts are the same on every path.
    """
    from flow_graph.service import diversion_listener
    from rebates.facts import facts_listener

    return (diversion_listener, facts_listener)


def wire_listeners() -> None:
    """Set the capture listeners on the ledger: the one place they are wired (idempotent)."""
    set_listeners(capture_listeners())


def create_app(
    settings: Settings | None = None, *, engine: Engine | None = None, run_migrations: bool = True
) -> FastAPI:
    """Build the app; tests pass their own engine, production builds one from settings."""
    from codes.routes import router as codes_router
    from flow_graph.routes import alerts_router, flow_router
    from labels.routes import router as labels_router
    from rebates.routes import router as members_router
    from scanning.routes import epcis_router, scans_router
    from settlement.routes import router as settlement_router
    from traceability.auth.routes import router as apikeys_router
    from traceability.masterdata.routes import router as masterdata_router

    wire_listeners()
    settings = settings or get_settings()
    engine = engine or make_engine(settings.db)
    if run_migrations:
        migrate(engine)

    app = FastAPI(
        title="Traceability",
        version="0.1.0",
        description="One item, one code: signed serialization, EPCIS capture and channel-diversion detection.",
    )
    app.state.settings = settings
    app.state.engine = engine
    app.add_exception_handler(TraceabilityError, _domain_error)
    app.add_exception_handler(RequestValidationError, _request_invalid)

    @app.get("/healthz", tags=["meta"])
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    for router in (masterdata_router, apikeys_router, codes_router, epcis_router, scans_router, labels_router,
                   alerts_router, flow_router, settlement_router, members_router):  # fmt: skip
        app.include_router(router)
    from web.app import mount_web

    mount_web(app)
    return app
