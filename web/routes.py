"""Page routes: thin handlers that call ``web.service`` (and the domain services) and render a template.

Every page route either requires a key (``page_allow(...)``, the API's role check with the key from the cookie) or
is public (sign-in, language switch, the consumer check of a printed code). Errors on pages render as pages: a
missing or stale key sends the browser to the sign-in page, a refused role or an unknown object shows a short page;
scripts that ask for JSON get the same problem JSON as the API.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from inspect import signature
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, File, Form, Header, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, Field
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from codes.service import key_store
from rebates.policy import load_policy
from scanning import service as scans
from scanning.decode import decode_image
from scanning.errors import ConfirmationRequired
from scanning.schemas import ScanResult
from traceability.api import RequestRefused, RowId, SessionDep, SettingsDep, get_session
from traceability.auth.service import Principal, authenticate
from traceability.errors import TraceabilityError, Unauthenticated
from traceability.models import Role
from traceability.problems import RequestInvalid, http_problem
from web import service
from web.deps import KEY_COOKIE, OptionalPrincipal, page_allow, page_lang, refuse_cross_site, wants_html
from web.i18n import LANG_COOKIE, SUPPORTED, catalogue, formats, translator
from web.limits import limit_check_page, limit_code, limit_login, limit_public, limit_resolver
from web.listing import ShipmentList, shipment_list

__all__ = ["NAV", "NavItem", "http_error_page", "render", "router", "templates"]

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
_FAVICON = Path(__file__).parent / "static" / "favicon.svg"


class PageRoute(APIRoute):
    """Renders domain errors (and invalid forms) as pages for browsers; scripts still get problem JSON."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def page_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except (TraceabilityError, RequestValidationError, RequestRefused) as exc:
                if not wants_html(request):
                    raise
                # in the thread pool: the page's navigation reads the signed-in key from the database
                return await run_in_threadpool(_error_page, request, exc.error if isinstance(exc, RequestRefused)
                                               else exc)  # fmt: skip

        return page_handler


router = APIRouter(route_class=PageRoute, include_in_schema=False)


@dataclass(frozen=True, slots=True)
class NavItem:
    key: str
    path: str
    roles: frozenset[Role]


NAV: list[NavItem] = [
    NavItem("nav.shipments", "/app/shipments", frozenset({Role.distributor, Role.plant, Role.admin})),
    NavItem("nav.check", "/check", frozenset(Role)),
]
"""The header's links; a page module appends its own when it is included."""

ROLE_HOME: dict[Role, str] = {
    Role.distributor: "/app/shipments",
    Role.plant: "/app/shipments",
    Role.admin: "/app/shipments",
    Role.store: "/check",
    Role.auditor: "/check",
    Role.finance: "/check",
}
"""Where each role lands after signing in; page modules point their role at their page when it exists."""


@lru_cache(maxsize=8)
def _policy_zone(path: str, _mtime_ns: int) -> str:
    return load_policy(path).timezone


def _brand_zone(request: Request) -> str:
    """The policy's time zone, the clock the pages show moments on (read again only when the file changes); UTC
    when there is no policy file or it cannot be read — a broken policy is reported where it is applied."""
    path = getattr(request.app.state, "settings", None) and request.app.state.settings.policy_file
    if not path:
        return "UTC"
    try:
        return _policy_zone(str(path), Path(path).stat().st_mtime_ns)
    except (OSError, TraceabilityError):
        return "UTC"


def render(
    request: Request, name: str, context: dict[str, Any], *, principal: Principal | None = None, status_code: int = 200
) -> HTMLResponse:
    """Render a page with what every page needs: language, translator, navigation for the role, who is signed in."""
    lang = page_lang(request)
    nav = [n for n in NAV if principal is not None and principal.role in n.roles]
    session = context.pop("_session", None)
    party_name = None
    if principal is not None and session is not None:
        party_name = service.party_names(session=session, ids={principal.party_id}).get(principal.party_id)
    response = templates.TemplateResponse(
        request,
        name,
        {"lang": lang, "_": translator(lang), "principal": principal, "party_name": party_name, "nav": nav,
         "path": request.url.path, "langs": SUPPORTED, **formats(lang, _brand_zone(request)), **context},
        status_code=status_code,
    )  # fmt: skip
    response.headers["Content-Language"] = lang
    response.headers["Vary"] = "Accept, Accept-Language, Cookie"
    return response


def js_messages(request: Request, *prefixes: str) -> dict[str, str]:
    """The catalogue entries a page's script shows (reasons, statuses), in the page's language."""
    lang = page_lang(request)
    merged = {**catalogue("en"), **catalogue(lang)}
    return {k: v for k, v in merged.items() if k.startswith(prefixes)}


def _check_messages(request: Request) -> dict[str, str]:
    """What the check page's script says (the geolocation's refusals, a lost network), in the page's language."""
    return js_messages(request, "inspect.")


def _scan_messages(request: Request) -> dict[str, str]:
    return js_messages(request, "reason.", "scan.", "camera.", "shipment.count", "shipment.units", "warning.")


def _error_page(request: Request, exc: Exception) -> Response:
    if isinstance(exc, Unauthenticated):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
    lang = page_lang(request)
    if isinstance(exc, RequestValidationError):  # a form or query a page refused: every problem in plain words
        status, message = 422, ("；" if lang == "zh-CN" else "; ").join(RequestInvalid(exc.errors()).sentences(lang))
    else:
        status = exc.status_code if isinstance(exc, TraceabilityError) else 422
        message = exc.text(lang) if isinstance(exc, TraceabilityError) else str(exc)
    return _error_response(request, status, message)


_API_PATHS = ("/api/", "/epcis", "/openapi.json", "/static", "/healthz")
"""Paths whose unknown routes answer problem JSON even to a browser: they are the machines' doors."""


def _missing_page(request: Request, status: int) -> Response:
    """The error page for a path no route serves."""
    _ = translator(page_lang(request))
    return _error_response(request, status, _("error.no_page") if status == 404 else _(f"error.{status}"))


@contextmanager
def _request_session(request: Request) -> Iterator[Session]:
    """A session got as the routes get theirs, through ``get_session`` or what the app put in its place (the tests'
    session in a rolled-back transaction), for a page rendered outside a route (an error page)."""
    provider = request.app.dependency_overrides.get(get_session)
    if provider is None:
        with Session(request.app.state.engine, expire_on_commit=False) as session:
            yield session
            session.commit()  # ends the read as get_session does
        return
    sessions = provider(request) if signature(provider).parameters else provider()
    try:
        yield next(sessions)
    finally:
        next(sessions, None)


def _error_response(request: Request, status: int, message: str) -> Response:
    """The error page with the navigation of whoever is signed in, so that an error is never a dead end (a stale
    or refused key is ignored: the page is then the one a visitor sees)."""
    with _request_session(request) as session:
        header = request.headers.get("authorization", "")
        token = header[7:].strip() if header.lower().startswith("bearer ") else request.cookies.get(KEY_COOKIE)
        principal = None
        if token:
            try:
                principal = authenticate(session=session, token=token)
            except Unauthenticated:
                principal = None
        return render(request, "error.html", {"status": status, "message": message, "_session": session},
                      principal=principal, status_code=status)  # fmt: skip


async def http_error_page(request: Request, exc: Exception) -> Response:
    """Starlette's own errors (no route for the path: 404; a route without the method: 405): a page with the
    navigation for a browser, problem JSON (as every domain error) for the API and for scripts."""
    assert isinstance(exc, StarletteHTTPException)
    if wants_html(request) and not request.url.path.startswith(_API_PATHS) and exc.status_code in (404, 405):
        response = await run_in_threadpool(_missing_page, request, exc.status_code)
        response.headers.update(exc.headers or {})
        return response
    return http_problem(request, exc)  # worded in the caller's language, as the API's own


def _local(next_path: str | None) -> str | None:
    """Only a path on this site may follow sign-in or a language switch (no open redirect)."""
    if next_path and next_path.startswith("/") and not next_path.startswith("//") and "\\" not in next_path:
        return next_path
    return None


# --- public: sign-in, language -----------------------------------------------------------------------------------


@router.get("/", response_class=HTMLResponse)
def home(principal: OptionalPrincipal) -> Response:
    """Signed in: the role's page; else the sign-in page."""
    return RedirectResponse(ROLE_HOME[principal.role] if principal else "/login", status_code=303)


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, principal: OptionalPrincipal, next: str | None = None) -> Response:
    return render(request, "login.html", {"next": _local(next) or "", "error": None}, principal=principal)


@router.post("/login", response_class=HTMLResponse, dependencies=[Depends(refuse_cross_site), Depends(limit_login)])
def login(
    request: Request,
    session: SessionDep,
    key: Annotated[str, Form(max_length=200)],
    next: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Check the key and keep it in an HttpOnly cookie; a wrong key re-shows the form with a 401.

    Another site's form may not post here: it would sign the browser in with the attacker's key, and what the
    victim then scans or records would land in the attacker's account (login CSRF).
    """
    try:
        principal = authenticate(session=session, token=key.strip())
    except Unauthenticated:
        return render(request, "login.html", {"next": _local(next) or "", "error": "login.bad_key"}, status_code=401)
    response = RedirectResponse(_local(next) or ROLE_HOME[principal.role], status_code=303)
    response.set_cookie(KEY_COOKIE, key.strip(), httponly=True, samesite="lax", secure=request.url.scheme == "https",
                        path="/")  # fmt: skip
    return response


@router.post("/logout", dependencies=[Depends(refuse_cross_site)])
def logout() -> Response:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(KEY_COOKIE, path="/")
    return response


@router.get("/favicon.ico")
def favicon() -> Response:
    """The site's icon where browsers and bookmark tools look for it without reading the page (the SVG)."""
    return FileResponse(_FAVICON, media_type="image/svg+xml", headers={"Cache-Control": "public, max-age=86400"})


@router.get("/lang/{lang}")
def switch_language(lang: str, next: str | None = None) -> Response:
    """The language switch: remembered in a cookie for a year, over the browser's preference."""
    response = RedirectResponse(_local(next) or "/", status_code=303)
    if lang in SUPPORTED:
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 24 * 3600, samesite="lax", path="/")
    return response


# --- public: the consumer / inspector check ----------------------------------------------------------------------


@router.get("/check", response_class=HTMLResponse, dependencies=[Depends(limit_check_page)])
def check_page(
    request: Request, session: SessionDep, settings: SettingsDep, principal: OptionalPrincipal, code: str | None = None
) -> Response:
    """Check any printed form of a code typed or pasted by an inspector (element string, Digital Link, or the
    human-readable line under the symbol, which is looked up); a signed-in inspector also sees the unit's channel."""
    verdict = channel = None
    if code and code.strip():
        verdict = service.check_code(session=session, text=code.strip()[:2000], store=key_store(settings),
                                     count=True, zone=load_policy(settings.policy_file).timezone)  # fmt: skip
        channel = service.channel_view(session=session, principal=principal, verdict=verdict)
    return render(request, "check.html", {"verdict": verdict, "code": code or "", "channel": channel,
                                          "messages": _check_messages(request), "_session": session},
                  principal=principal)  # fmt: skip


@router.get("/01/{gtin}/21/{serial}", response_class=HTMLResponse, include_in_schema=True, tags=["web"],
            dependencies=[Depends(limit_resolver)])  # fmt: skip
def digital_link(
    request: Request, session: SessionDep, settings: SettingsDep, principal: OptionalPrincipal, gtin: str, serial: str
) -> Response:
    """The GS1 Digital Link resolver: the page a phone opens from the QR, saying whether the code is genuine."""
    text = str(request.url)
    verdict = service.check_code(session=session, text=text, store=key_store(settings), count=True,
                                 zone=load_policy(settings.policy_file).timezone)  # fmt: skip
    channel = service.channel_view(session=session, principal=principal, verdict=verdict)
    return render(request, "check.html", {"verdict": verdict, "code": text, "resolver": True, "channel": channel,
                                          "messages": _check_messages(request), "_session": session},
                  principal=principal)  # fmt: skip


class InspectionIn(BaseModel):
    code: str = Field(min_length=1, max_length=2000, description="The scanned code (the Digital Link URI)")
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


class InspectionOut(BaseModel):
    recorded: bool
    reason: str = Field(description="recorded, rejected, or no_store_nearby")
    message: str


def _limit_inspected_code(request: Request, body: InspectionIn) -> None:
    """The inspected code's per-code limit (FastAPI parses the body once, for this and for the route)."""
    limit_code(request, body.code)


@router.post("/check/inspect", response_model=InspectionOut, include_in_schema=True, tags=["web"],
             dependencies=[Depends(limit_public), Depends(_limit_inspected_code)])  # fmt: skip
def inspect(
    request: Request, session: SessionDep, settings: SettingsDep, principal: OptionalPrincipal, body: InspectionIn
) -> InspectionOut:
    """Record a check, with the position the browser shared, as an ``inspecting`` observation: unverified when
    anonymous, counted at once when a signed-in auditor made it."""
    result = service.record_inspection(session=session, text=body.code, lat=body.lat, lon=body.lon,
                                       store=key_store(settings), inspector=principal,
                                       company_prefix_length=settings.company_prefix_length)  # fmt: skip
    # Not counted as a check: the resolver page the position was shared from counted this person's check already.
    _ = translator(page_lang(request))
    return InspectionOut(recorded=result.recorded, reason=result.reason, message=_(f"inspect.{result.reason}"))


# --- distributor / warehouse: outbound shipments ------------------------------------------------------------------

Shipper = Annotated[Principal, Depends(page_allow(Role.plant, Role.distributor, Role.admin))]
Scanner = Annotated[Principal, Depends(page_allow(Role.plant, Role.distributor, Role.store, Role.admin))]


@router.get("/app/shipments", response_class=HTMLResponse)
def shipments_page(request: Request, session: SessionDep, principal: Shipper,
                   listing: Annotated[ShipmentList, Depends(shipment_list)]) -> Response:  # fmt: skip
    """The principal's shipments, a page at a time with the total and filters, and the form to open a new one."""
    rows = listing.rows(session=session, principal=principal)
    destinations = service.destinations_for(session=session, principal=principal)
    return render(request, "shipments.html", {**rows, "destinations": destinations, "_session": session},
                  principal=principal)  # fmt: skip


@router.post("/app/shipments")
def open_shipment(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: Shipper,
    destination: Annotated[str, Form(min_length=1, max_length=64)],
    order: Annotated[str, Form(max_length=200)] = "",
    gtin: Annotated[str, Form(max_length=200, description="The ordered products' GTINs, comma-separated")] = "",
    expected: Annotated[str, Form(max_length=9, pattern=r"^\s*\d*\s*$")] = "",
) -> Response:
    """Open a shipment (optionally for an order); its page shows at once what shipping there breaks."""
    shipment = scans.open_shipment(
        session=session, principal=principal, destination_id=destination.strip(), order_ref=order.strip() or None,
        order_gtins=[g for g in gtin.replace(";", ",").split(",") if g.strip()],
        expected_quantity=int(expected) if expected.strip() else None,
        policy=load_policy(settings.policy_file).outbound, lang=page_lang(request),
    )  # fmt: skip
    return RedirectResponse(f"/app/shipments/{shipment.id}", status_code=303)


@router.get("/app/shipments/{shipment_id}", response_class=HTMLResponse)
def shipment_detail(request: Request, session: SessionDep, principal: Shipper, shipment_id: RowId) -> Response:
    """The scanning page: keyboard wedge input, camera, each code's outcome, close."""
    page = service.shipment_page(session=session, principal=principal, shipment_id=shipment_id)
    return render(request, "shipment.html", {"page": page, "outcome": None, "_session": session,
                  "messages": _scan_messages(request)}, principal=principal)  # fmt: skip


@router.post("/app/shipments/{shipment_id}/scans", response_model=ScanResult)
def scan_into_shipment(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: Shipper,
    shipment_id: RowId,
    codes: Annotated[str, Form(min_length=1, max_length=500_000, description="Scanned codes, one per line")],
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)] = None,
) -> Response:
    """Scan codes into the shipment: JSON for the page's script, the page itself for a plain form post. The
    offline queue's resend carries the scan's Idempotency-Key, so it is answered once and never counted twice."""
    lines = [line.strip() for line in codes.replace("\r", "\n").split("\n") if line.strip()][:5000]
    outcome = scans.scan_into_shipment(
        session=session, principal=principal, shipment_id=shipment_id, codes=lines,
        company_prefix_length=settings.company_prefix_length, store=key_store(settings),
        policy=load_policy(settings.policy_file).outbound, lang=page_lang(request), idempotency_key=idempotency_key,
    )  # fmt: skip
    if not wants_html(request):
        return JSONResponse(outcome.as_dict())
    page = service.shipment_page(session=session, principal=principal, shipment_id=shipment_id)
    return render(request, "shipment.html", {"page": page, "outcome": outcome, "_session": session,
                  "messages": _scan_messages(request)}, principal=principal)  # fmt: skip


@router.post("/app/shipments/{shipment_id}/close")
def close_shipment(
    request: Request, session: SessionDep, principal: Shipper, shipment_id: RowId,
    confirm: Annotated[bool, Form()] = False,
) -> Response:  # fmt: skip
    """Close the shipment; one with warnings first shows them and asks to confirm (the confirmation is recorded)."""
    try:
        scans.close_shipment(session=session, principal=principal, shipment_id=shipment_id, confirm=confirm,
                             lang=page_lang(request))  # fmt: skip
    except ConfirmationRequired:
        if not wants_html(request):
            raise
        page = service.shipment_page(session=session, principal=principal, shipment_id=shipment_id)
        return render(request, "shipment.html", {"page": page, "outcome": None, "confirming": True,
                      "_session": session, "messages": _scan_messages(request)}, principal=principal,
                      status_code=409)  # fmt: skip
    return RedirectResponse(f"/app/shipments/{shipment_id}", status_code=303)


class DecodedFrame(BaseModel):
    codes: list[str]
    unreadable: int


@router.post("/app/decode", response_model=DecodedFrame)
def decode_frame(
    _: Scanner,
    settings: SettingsDep,
    frame: Annotated[UploadFile, File(description="One camera frame (JPEG / PNG / WebP)")],
) -> DecodedFrame:
    """Decode a camera frame with the server's decoder; the page then scans what it read (and only once)."""
    # A plain def, so in the thread pool: other pages keep answering while a phone streams frames.
    result = decode_image(frame.file.read(), try_harder=False, max_pixels=settings.max_image_pixels)
    return DecodedFrame(codes=[s.text for s in result.symbols], unreadable=len(result.unreadable_regions))
