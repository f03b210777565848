"""The auditor's, finance's and plant's pages: thin handlers over ``flow_graph``, ``settlement`` and ``labels``."""

from __future__ import annotations

import io
from dataclasses import replace
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from codes.service import key_store
from flow_graph import details
from flow_graph import service as flow
from flow_graph.errors import AlertNotFound, InvalidTransition
from labels import service as labels
from rebates.policy import load_policy
from settlement import reports as settlement_reports
from settlement import service as settle
from traceability.api import RowId, SessionDep, SettingsDep
from traceability.auth.service import Principal
from traceability.errors import InvalidInput
from traceability.i18n import Catalogue, messages
from traceability.masterdata.service import list_products
from traceability.models import AlertKind, AlertStatus, CodeLevel, PartyKind, PrintFormat, PrintJobStatus, Role
from web import service
from web.deps import page_allow, page_lang, refuse_cross_site
from web.i18n import phrase, translator
from web.listing import DEFAULT_SIZE, SIZES, PageNo, PageSize, pager
from web.routes import NAV, ROLE_HOME, NavItem, PageRoute, render

_PAGES: Catalogue = messages("web")  # the pages' words, for the errors a page raises (worded when shown)

__all__ = ["router"]

router = APIRouter(route_class=PageRoute, include_in_schema=False)
Auditor = Annotated[Principal, Depends(page_allow(Role.auditor, Role.admin))]
AlertReader = Annotated[Principal, Depends(page_allow(Role.distributor, Role.auditor, Role.admin))]
Finance = Annotated[Principal, Depends(page_allow(Role.finance, Role.admin))]
Plant = Annotated[Principal, Depends(page_allow(Role.plant, Role.admin))]

NAV[:0] = [
    NavItem("nav.alerts", "/app/alerts", frozenset({Role.auditor, Role.admin})),
    NavItem("nav.graph", "/app/graph", frozenset({Role.auditor, Role.admin})),
    NavItem("nav.settlement", "/app/settlement", frozenset({Role.finance, Role.admin})),
    NavItem("nav.print_jobs", "/app/print-jobs", frozenset({Role.plant, Role.admin})),
]
ROLE_HOME.update({Role.auditor: "/app/alerts", Role.finance: "/app/settlement", Role.plant: "/app/print-jobs"})

_WORDS: Catalogue = messages("web.pages:words")

_REPORT_TYPES = {"pdf": "application/pdf", "csv": "text/csv; charset=utf-8",
                 "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}  # fmt: skip


def _by(principal: Principal) -> str:
    return f"{principal.role.value}:{principal.party_id}"


# --- auditor ------------------------------------------------------------------------------------------------------


def _choice(enum: type[AlertKind] | type[AlertStatus], value: str) -> list[Any] | None:
    """An optional filter from a form: empty means any; an unknown value is the user's error, not ours."""
    if not value:
        return None
    try:
        return [enum(value)]
    except ValueError:
        raise InvalidInput.keyed(_WORDS, "not_one_of", value=value, allowed=", ".join(e.value for e in enum),
                                 detail={"value": value}) from None  # fmt: skip


@router.get("/app/alerts")
def alerts_page(
    request: Request,
    session: SessionDep,
    principal: Auditor,
    kind: Annotated[str, Query(max_length=40)] = "",
    status: Annotated[str, Query(max_length=40)] = "",
    distributor: Annotated[str, Query(max_length=64)] = "",
    territory: Annotated[str, Query(max_length=64)] = "",
    period: Annotated[str, Query(max_length=7)] = "",
    q: Annotated[str, Query(max_length=100)] = "",
    page: PageNo = 1,
    size: PageSize = DEFAULT_SIZE,
) -> Response:
    """The alert queue with filters and a search (an empty field means any), newest first, a page at a time with
    the total; the page's alerts can be moved on together (``POST /app/alerts/bulk``)."""
    filters = flow.AlertFilter(kind=_choice(AlertKind, kind), status=_choice(AlertStatus, status),
                               distributor=distributor or None, territory=territory or None, period=period or None,
                               search=q.strip() or None)  # fmt: skip
    f = {"kind": kind, "status": status, "distributor": distributor, "territory": territory, "period": period, "q": q}
    pages = pager(page=page, size=size, total=flow.count_alerts(session=session, filters=filters, principal=principal),
                  params=f)  # fmt: skip
    rows = flow.list_alerts(session=session, filters=replace(filters, limit=pages.size, offset=pages.offset),
                            principal=principal)  # fmt: skip
    ids = {p for a in rows for p in (a.party_id, a.responsible_distributor_id) if p}
    distributors = service.party_names(session=session, ids=set(service.party_ids(session=session,
                                                                                     kind=PartyKind.distributor)))
    return render(request, "alerts.html", {
        "rows": rows, "names": service.party_names(session=session, ids=ids), "distributors": distributors,
        "territories": service.territory_names(session=session), "kinds": list(AlertKind),
        "statuses": list(AlertStatus), "f": f, "pager": pages, "done": request.query_params.get("done", ""),
        "_session": session,
    }, principal=principal)  # fmt: skip


@router.post("/app/alerts/bulk", dependencies=[Depends(refuse_cross_site)])
def update_alerts(
    request: Request,
    session: SessionDep,
    principal: Auditor,
    status: Annotated[str, Form(max_length=20)] = "",
    ids: Annotated[list[int], Form(max_length=SIZES[-1])] = [],  # noqa: B006 (FastAPI copies a default)
    note: Annotated[str, Form(max_length=4000)] = "",
    back: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Move the alerts ticked on the list to one status with one note: each change is kept in that alert's history
    as the single change keeps it; an alert that does not exist, or may not move there, refuses them all."""
    chosen = _choice(AlertStatus, status)
    if not ids or not chosen:
        key = "alerts.bulk.none" if not ids else "alerts.bulk.no_status"
        raise InvalidInput.keyed(_PAGES, key, detail={"reason": "nothing_chosen"})
    target = chosen[0]
    try:
        changed = flow.update_alerts(session=session, alert_ids=ids, author=_by(principal), status=target,
                                     note=note.strip() or None, principal=principal)  # fmt: skip
    except AlertNotFound as exc:
        raise AlertNotFound.keyed(_PAGES, "alerts.bulk.not_found", ids=", ".join(map(str, exc.detail["alerts"])) or "—",
                                  detail=exc.detail) from None  # fmt: skip
    except InvalidTransition as exc:
        raise InvalidTransition.keyed(_PAGES, "alerts.bulk.refused", ids=", ".join(map(str, exc.detail["alerts"])),
                                      status=phrase(f"status.{target.value}"), detail=exc.detail) from None  # fmt: skip
    query = back if back.startswith("?") else ""
    sep = "&" if query else "?"
    return RedirectResponse(f"/app/alerts{query}{sep}done={len(changed)}", status_code=303)


@router.get("/app/alerts/{alert_id}")
def alert_detail(request: Request, session: SessionDep, principal: AlertReader, alert_id: RowId) -> Response:
    """One alert: evidence, the unit's trail, the case history, and the status form; a distributor (an alert
    attributed to it) gets the note form instead, and no trail (web.partner_pages posts the note)."""
    page = service.alert_page(session=session, principal=principal, alert_id=alert_id)
    partner = principal.role is Role.distributor
    _ = translator(page_lang(request))
    alert, known = page["case"].alert, {"names": page["names"], "territories": page["territories"]}
    words = {
        "why": service.explain(alert, **known, _=_), "unworded": details.parse(alert.detail) is None,
        "withdrawn_why": service.note_words(alert.withdrawn_reason or "", **known, _=_),
        "notes": [service.note_words(n.text, **known, _=_) for n in page["case"].history],
        # What a person typed (no template of the system's notes reads it back) is shown as a quotation: their words.
        "said": [details.parse(n.text or "", details.NOTES) is None for n in page["case"].history],
        "withdrawn_said": details.parse(alert.withdrawn_reason or "", details.NOTES) is None,
        "authors": [service.author_words(n.author, names=page["names"], _=_) for n in page["case"].history],
        "step_word": service.step_word,
    }
    return render(request, "alert.html", {**page, **({"transitions": []} if partner else {}), "can_note": partner,
                                          **words, "_session": session}, principal=principal)  # fmt: skip


@router.post("/app/alerts/{alert_id}")
def update_alert(
    session: SessionDep,
    principal: Auditor,
    alert_id: RowId,
    status: Annotated[str, Form(max_length=20)] = "",
    note: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    """Move the case on and/or add a note; the history keeps who and when."""
    new_status = _choice(AlertStatus, status)  # an unknown status is the user's error (422), not ours
    flow.update_alert(session=session, alert_id=alert_id, author=_by(principal),
                      status=new_status[0] if new_status else None, note=note.strip() or None)  # fmt: skip
    return RedirectResponse(f"/app/alerts/{alert_id}", status_code=303)


@router.get("/app/graph")
def graph_page(
    request: Request, session: SessionDep, principal: Auditor,
    distributor: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:  # fmt: skip
    """The party graph around a distributor, where its goods leaked highlighted (Cytoscape.js, served locally)."""
    ids = service.party_ids(session=session, kind=PartyKind.distributor)
    chosen = distributor or (ids[0] if ids else None)
    graph = service.graph_around(session=session, distributor=chosen) if chosen else None
    names = service.party_names(session=session, ids=set(ids))
    places = {t for t, _ in graph["report"].by_territory} if graph else set()
    return render(request, "graph.html", {"graph": graph, "chosen": chosen, "distributors": names,
                                          "territories": service.territory_names(session=session, ids=places),
                                          "_session": session}, principal=principal)  # fmt: skip


# --- finance ------------------------------------------------------------------------------------------------------


@router.get("/app/settlement")
def settlement_page(
    request: Request, session: SessionDep, settings: SettingsDep, principal: Finance,
    period: Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}$")] = None,
    q: Annotated[str, Query(max_length=100)] = "",
    page: PageNo = 1,
    size: PageSize = DEFAULT_SIZE,
) -> Response:  # fmt: skip
    """Run a period's settlement and see its figures; lock it; download the reports. The store lines come a page
    at a time with their total and a search (a store's id or name): a network has hundreds of member stores."""
    policy = load_policy(settings.policy_file)
    result = settle.run_settlement(session=session, period=period, policy=policy) if period else None
    locked = settle.list_periods(session=session)
    needle = q.strip().casefold()
    stores = [s for s in (result.stores if result else []) if not needle or needle in s.party.casefold()
              or needle in s.name.casefold()]  # fmt: skip
    pages = pager(page=page, size=size, total=len(stores), params={"period": period or "", "q": q})
    return render(request, "settlement.html", {"result": result, "period": period or "", "locked": locked,
                                               "stores": stores[pages.offset:pages.offset + pages.size],
                                               "pager": pages, "f": {"q": q}, "_session": session},
                  principal=principal)  # fmt: skip


@router.post("/app/settlement/lock")
def lock_period(
    session: SessionDep, settings: SettingsDep, principal: Finance,
    period: Annotated[str, Form(pattern=r"^\d{4}-\d{2}$")],
) -> Response:  # fmt: skip
    policy = load_policy(settings.policy_file)
    settle.lock_period(session=session, period=period, policy=policy, locked_by=_by(principal),
                       keys=key_store(settings))  # fmt: skip
    return RedirectResponse(f"/app/settlement?period={period}", status_code=303)


@router.get("/app/settlement/{period}/report.{fmt}")
def settlement_report(
    request: Request, session: SessionDep, settings: SettingsDep, _: Finance, period: str, fmt: str
) -> Response:
    """The report of a period as PDF, CSV or XLSX (a locked period exactly as it was locked), its headers in the
    page's language."""
    if fmt not in _REPORT_TYPES:
        raise InvalidInput.keyed(_WORDS, "report_format", detail={"format": fmt})
    result = settle.run_settlement(session=session, period=period, policy=load_policy(settings.policy_file))
    body = settlement_reports.render_report(session=session, settlement=result, fmt=fmt, lang=page_lang(request))
    return Response(body, media_type=_REPORT_TYPES[fmt],
                    headers={"Content-Disposition": f'attachment; filename="settlement-{period}.{fmt}"'})  # fmt: skip


# --- plant --------------------------------------------------------------------------------------------------------


@router.get("/app/print-jobs")
def print_jobs_page(
    request: Request,
    session: SessionDep,
    principal: Plant,
    status: Annotated[str, Query(max_length=20)] = "",
    q: Annotated[str, Query(max_length=100)] = "",
    page: PageNo = 1,
    size: PageSize = DEFAULT_SIZE,
) -> Response:
    """The plant's print jobs, a page at a time with the total, each with its reconciliation; the form to create
    one."""
    state = _state(request, status)
    search = q.strip() or None
    total = labels.count_jobs(session=session, principal=principal, status=state, search=search)
    pages = pager(page=page, size=size, total=total, params={"status": status, "q": q})
    jobs = labels.list_jobs(session=session, principal=principal, status=state, search=search, limit=pages.size,
                            offset=pages.offset)  # fmt: skip
    recon = {j.id: labels.reconcile(session=session, job_id=j.id, principal=principal) for j in jobs if j.id}
    templates = [t for t in labels.list_templates() if CodeLevel.unit in t.levels]
    products = list_products(session=session)
    return render(request, "print_jobs.html", {"jobs": jobs, "recon": recon, "products": products,
                                               "names": {p.gtin: p.name for p in products}, "templates": templates,
                                               "pager": pages, "f": {"status": status, "q": q},
                                               "statuses": list(PrintJobStatus), "_session": session},
                  principal=principal)  # fmt: skip


def _state(request: Request, value: str) -> PrintJobStatus | None:
    """A job state from the list's filter: empty means any; anything else is named back in the user's words."""
    if not value:
        return None
    try:
        return PrintJobStatus(value)
    except ValueError:
        allowed = phrase(*(f"jobs.status.{s.value}" for s in PrintJobStatus))
        raise InvalidInput.keyed(_PAGES, "list.bad_status", value=value[:20], allowed=allowed,
                                 detail={"field": "status", "reason": "bad_status"}) from None  # fmt: skip


@router.post("/app/print-jobs")
def create_print_job(
    session: SessionDep,
    settings: SettingsDep,
    principal: Plant,
    gtin: Annotated[str, Form(min_length=14, max_length=14)],
    quantity: Annotated[int, Form(ge=1, le=100_000)],
    template: Annotated[str, Form(max_length=64)],
    lot: Annotated[str, Form(max_length=20)] = "",
    expiry: Annotated[str, Form(max_length=6)] = "",
) -> Response:
    job = labels.create_job(session=session, store=key_store(settings), party_id=principal.party_id, gtin=gtin,
                            lot=lot.strip() or None, expiry=expiry.strip() or None, quantity=quantity,
                            level=CodeLevel.unit, template=template, by=_by(principal))  # fmt: skip
    return RedirectResponse(f"/app/print-jobs/{job.id}", status_code=303)


@router.get("/app/print-jobs/{job_id}")
def print_job_page(request: Request, session: SessionDep, principal: Plant, job_id: RowId) -> Response:
    job = labels.get_job(session=session, job_id=job_id, principal=principal)
    recon = labels.reconcile(session=session, job_id=job_id, principal=principal)
    return render(request, "print_job.html", {"job": job, "r": recon, "_session": session}, principal=principal)


@router.get("/app/print-jobs/{job_id}/reconciliation.csv")
def reconciliation_csv(request: Request, session: SessionDep, principal: Plant, job_id: RowId) -> Response:
    """The job's reconciliation as CSV, its headers in the page's language (the API's gives machine names)."""
    lang = page_lang(request)
    recon = labels.reconcile(session=session, job_id=job_id, principal=principal)
    return Response(labels.reconciliation_csv([recon], lang=lang), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="reconciliation-{job_id}.csv"',
                             "Content-Language": lang})  # fmt: skip


def _file(body: bytes, fmt: PrintFormat, name: str) -> Response:
    media = "application/pdf" if fmt is PrintFormat.pdf else "text/plain; charset=utf-8"
    return Response(body, media_type=media,
                    headers={"Content-Disposition": f'attachment; filename="{name}.{fmt.value}"'})  # fmt: skip


@router.post("/app/print-jobs/{job_id}/print")
def print_labels(
    session: SessionDep, settings: SettingsDep, principal: Plant, job_id: RowId, fmt: Annotated[PrintFormat, Form()]
) -> Response:
    """Print the job once: the PDF sheet or the ZPL for a thermal printer, as a download."""
    out = io.BytesIO()
    labels.print_job(session=session, job_id=job_id, fmt=fmt, out=out, by=_by(principal), resolver=settings.resolver,
                     principal=principal)  # fmt: skip
    return _file(out.getvalue(), fmt, f"print-job-{job_id}")


@router.post("/app/print-jobs/{job_id}/reprint")
def reprint_label(
    session: SessionDep, settings: SettingsDep, principal: Plant, job_id: RowId,
    code: Annotated[str, Form(min_length=1, max_length=2000)],
    reason: Annotated[str, Form(min_length=1, max_length=500)],
    fmt: Annotated[PrintFormat, Form()] = PrintFormat.pdf,
) -> Response:  # fmt: skip
    """Print one damaged label again, with the same code; logged with the reason."""
    out = io.BytesIO()
    labels.reprint_label(session=session, job_id=job_id, code=code.strip(), reason=reason, by=_by(principal), out=out,
                         resolver=settings.resolver, fmt=fmt, principal=principal,
                         api_key_id=principal.api_key_id)  # fmt: skip
    return _file(out.getvalue(), fmt, f"reprint-{job_id}")


@router.post("/app/print-jobs/{job_id}/void")
def void_label(
    session: SessionDep, principal: Plant, job_id: RowId,
    code: Annotated[str, Form(min_length=1, max_length=2000)],
    reason: Annotated[str, Form(min_length=1, max_length=500)],
) -> Response:  # fmt: skip
    """Void a label before it is applied: its code can never be commissioned."""
    labels.void_label(session=session, job_id=job_id, code=code.strip(), reason=reason, by=_by(principal),
                      principal=principal, api_key_id=principal.api_key_id)  # fmt: skip
    return RedirectResponse(f"/app/print-jobs/{job_id}", status_code=303)

