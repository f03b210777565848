"""The brand administrator's page (``/app/admin``): API keys and the master-data import, thin over the services.

- **API keys** (``traceability.auth.service``): a page of 20 keys, newest first, with the total and a filter by role
  and party; a new key (role, party, name) is shown once, on the answer to the form that made it (``no-store``, never
  in a URL); a revocation is confirmed on a second page first. The key the administrator is signed in with cannot be
  revoked from here (409 ``own_key``): that would lock the page out under its own feet, and a key is meant to be
  revoked by someone else who still holds one.
- **Master data** (``traceability.masterdata.service.import_masterdata``): a JSON file in the format
  ``traceability masterdata import`` takes. The whole document is checked before anything is written; every problem
  is listed by section, row and field, schema errors worded in the page's language from pydantic's machine codes
  (the domain checks' own words are shown as the service gives them), and the transaction is rolled back whenever
  the document is refused, so nothing is ever half-written.

Only the brand's ``admin`` role may open the page or post its forms (anyone else gets a 403 page in its language,
reason ``admin_only``); every form refuses another site's post (``refuse_cross_site``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from string import Formatter
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlmodel import Session

from traceability.api import RowId, SessionDep
from traceability.auth import service as keys
from traceability.auth.service import Principal
from traceability.errors import Conflict, Forbidden, NotFound, ValidationFailed
from traceability.i18n import Catalogue, messages
from traceability.masterdata.schemas import ImportSummary, MasterDataDocument
from traceability.masterdata.service import import_masterdata, list_parties
from traceability.models import Role
from web import service
from web.deps import PagePrincipal, page_lang, refuse_cross_site
from web.i18n import Translator, catalogue, phrase, translator
from web.routes import NAV, NavItem, PageRoute, render

_PAGES: Catalogue = messages("web")  # the pages' words, for the errors a page raises (worded when shown)

__all__ = ["ADMIN_ROLES", "PAGE_SIZE", "SCHEMA_ERRORS", "ImportProblem", "import_problems", "router"]

router = APIRouter(route_class=PageRoute, include_in_schema=False)
ADMIN_ROLES = frozenset({Role.admin})
PAGE_SIZE = 20
MAX_LISTED_PARTIES = 500
"""Up to this many parties the party fields suggest them all; beyond, the administrator types the id."""
SCHEMA_ERRORS = frozenset({
    "missing", "extra_forbidden", "string_type", "string_too_short", "string_too_long", "string_pattern_mismatch",
    "enum", "greater_than_equal", "less_than_equal", "float_parsing", "float_type", "int_parsing", "int_type",
    "int_from_float", "decimal_parsing", "decimal_type", "decimal_max_digits", "decimal_max_places", "list_type",
    "model_type", "model_attributes_type", "dict_type", "value_error", "finite_number",
})  # fmt: skip
"""Pydantic's error codes the page words itself (``admin.err.<code>``); any other shows pydantic's English text."""
SameSite = [Depends(refuse_cross_site)]

NAV.append(NavItem("nav.admin", "/app/admin", ADMIN_ROLES))


def _admin_only(request: Request, principal: PagePrincipal) -> Principal:
    """The brand's administrator only; anyone else is told so in the page's language (``admin_only``)."""
    if principal.role not in ADMIN_ROLES:
        raise Forbidden.keyed(_PAGES, "admin.refused", role=phrase(f"role.{principal.role.value}"),
                              detail={"role": principal.role.value, "reason": "admin_only"})  # fmt: skip
    return principal


_admin_only.allowed_roles = ADMIN_ROLES  # type: ignore[attr-defined]  # read by the authorisation matrix test
Admin = Annotated[Principal, Depends(_admin_only)]


# --- master-data problems in the page's words ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ImportProblem:
    """One problem of an uploaded document: where (section, 1-based row, field, and the raw path) and why."""

    path: str
    section: str
    row: int | None
    field: str
    message: str


def _locate(parts: list[str], message: str) -> ImportProblem:
    section = parts[0] if parts else ""
    row = int(parts[1]) + 1 if len(parts) > 1 and parts[1].isdigit() else None
    rest = parts[2:] if row is not None else parts[1:]
    return ImportProblem(path="/" + "/".join(parts), section=section, row=row, field="/".join(rest), message=message)


def _schema_message(err: Any, lang: str) -> str:
    code = str(err.get("type", ""))
    wording = catalogue(lang).get(f"admin.err.{code}") or catalogue("en").get(f"admin.err.{code}")
    if code not in SCHEMA_ERRORS or wording is None:
        return str(err.get("msg", code))
    ctx = {k: str(v) for k, v in (err.get("ctx") or {}).items() if not isinstance(v, BaseException)}
    fields = {name for _, name, _, _ in Formatter().parse(wording) if name}
    if not fields <= ctx.keys():  # a wording whose field pydantic did not give: pydantic's own text then
        return str(err.get("msg", code))
    return wording.format(**ctx)


def import_problems(*, raw: Any, error: ValidationFailed | None, lang: str) -> list[ImportProblem]:
    """Every problem of a refused document, worded for the page: schema errors from pydantic's codes in ``lang``,
    the domain checks (duplicates, unknown references, check digits) as the service words them in ``lang``."""
    try:
        MasterDataDocument.model_validate(raw)
    except ValidationError as exc:
        return [_locate([str(p) for p in e["loc"]], _schema_message(e, lang)) for e in exc.errors(include_url=False)]
    if error is None:
        return []
    return [_locate([p for p in problem.path.split("/") if p], problem.reason) for problem in error.problems]


def _read_document(data: bytes, _: Translator) -> tuple[Any, list[ImportProblem]]:
    """The uploaded file as JSON, or the one problem that it is not JSON (where, in the page's language)."""
    try:
        return json.loads(data.decode("utf-8-sig")), []
    except UnicodeDecodeError:
        return None, [ImportProblem("/", "", None, "", _("admin.err.encoding"))]
    except json.JSONDecodeError as exc:
        return None, [ImportProblem("/", "", None, "", _("admin.err.json", line=exc.lineno, column=exc.colno))]
    except RecursionError:
        return None, [ImportProblem("/", "", None, "", _("admin.err.too_deep"))]


# --- the page ------------------------------------------------------------------------------------------------------


def _page_context(
    session: Session, principal: Principal, *, role: Role | None = None, party: str | None = None, page: int = 1
) -> dict[str, Any]:
    """What the page shows whatever was posted: the filtered page of keys, its total, the parties to pick from."""
    rows, total = keys.page_api_keys(session=session, role=role, party_id=party, limit=PAGE_SIZE,
                                     offset=(page - 1) * PAGE_SIZE)  # fmt: skip
    pages = max(1, -(-total // PAGE_SIZE))
    if page > pages:  # past the last page: show the last, as the other lists do
        page = pages
        rows, total = keys.page_api_keys(session=session, role=role, party_id=party, limit=PAGE_SIZE,
                                         offset=(page - 1) * PAGE_SIZE)  # fmt: skip
    names = service.party_names(session=session, ids={r.party_id for r in rows})
    parties = list_parties(session=session, principal=principal)[:MAX_LISTED_PARTIES]
    return {"keys": rows, "names": names, "total": total, "page": page, "pages": pages, "roles": list(Role),
            "f_role": role.value if role else "", "f_party": party or "", "parties": parties,
            "own_key": principal.api_key_id, "issued": None, "revoked": None, "summary": None, "problems": [],
            "filename": "", "key_error": None, "_session": session}  # fmt: skip


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/app/admin", response_class=HTMLResponse)
def admin_page(
    request: Request, session: SessionDep, principal: Admin,
    role: Annotated[Role | Literal[""], Query()] = "",
    party: Annotated[str, Query(max_length=64)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    revoked: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
) -> Response:  # fmt: skip
    """The keys (a page at a time, filtered), the form for a new key and the master-data upload."""
    context = _page_context(session, principal, role=role or None, party=party.strip() or None, page=page)
    if revoked is not None:
        try:
            context["revoked"] = keys.get_api_key(session=session, key_id=revoked)
        except NotFound:
            context["revoked"] = None
    return render(request, "admin.html", context, principal=principal)


@router.post("/app/admin/keys", response_class=HTMLResponse, dependencies=SameSite)
def create_key(
    request: Request, session: SessionDep, principal: Admin,
    role: Annotated[Role, Form()],
    party: Annotated[str, Form(min_length=1, max_length=64)],
    name: Annotated[str, Form(max_length=200)] = "",
) -> Response:  # fmt: skip
    """Issue a key and show its token this once (the answer is not cached; only the key's hash is kept)."""
    party = party.strip()
    try:
        issued = keys.create_api_key(session=session, role=role, party_id=party, name=name.strip())
    except NotFound:
        context = _page_context(session, principal)
        context["key_error"] = translator(page_lang(request))("admin.unknown_party", party=party)
        return render(request, "admin.html", context, principal=principal, status_code=422)
    context = _page_context(session, principal)
    context["issued"] = issued
    context["issued_party"] = service.party_names(session=session, ids={party}).get(party, party)
    return _no_store(render(request, "admin.html", context, principal=principal, status_code=201))


@router.post("/app/admin/keys/{key_id}/revoke", response_class=HTMLResponse, dependencies=SameSite)
def revoke_key(
    request: Request, session: SessionDep, principal: Admin, key_id: RowId,
    confirm: Annotated[str, Form(max_length=10)] = "",
) -> Response:  # fmt: skip
    """First the confirmation page (which key, whose), then, confirmed, the revocation; never the signed-in key."""
    row = keys.get_api_key(session=session, key_id=key_id)
    if key_id == principal.api_key_id:
        raise Conflict.keyed(_PAGES, "admin.own_key", detail={"reason": "own_key"})
    if confirm != "yes":
        names = service.party_names(session=session, ids={row.party_id})
        return render(request, "admin_revoke.html", {"key": row, "names": names, "_session": session},
                      principal=principal)  # fmt: skip
    keys.revoke_api_key(session=session, key_id=key_id)
    return RedirectResponse(f"/app/admin?revoked={key_id}", status_code=303)


@router.post("/app/admin/masterdata", response_class=HTMLResponse, dependencies=SameSite)
def import_page(
    request: Request, session: SessionDep, principal: Admin,
    document: Annotated[UploadFile, File(description="A master-data JSON document")],
) -> Response:  # fmt: skip
    """Import the uploaded document whole, or list every problem and write nothing."""
    lang = page_lang(request)
    raw, problems = _read_document(document.file.read(), translator(lang))
    summary: ImportSummary | None = None
    if not problems:
        try:
            summary = import_masterdata(session=session, raw=raw, lang=lang)
        except ValidationFailed as exc:
            problems = import_problems(raw=raw, error=exc, lang=lang)
    if problems:
        session.rollback()  # nothing of a refused document stays, whatever the service had begun
    context = _page_context(session, principal)
    context.update(summary=summary, problems=problems, filename=document.filename or "")
    return render(request, "admin.html", context, principal=principal, status_code=422 if problems else 200)
