"""Every role's landing page (``/app/overview``): the day's figures at a glance, a small chart beside each table.

One route picks the signed-in role's panel, so every key lands on one address and the header's first link is the
same for all. The figures come from :mod:`web.overview` (aggregates in SQL, scoped to the caller's party); the charts
are :func:`web.charts.bar_chart` (server-side SVG, each with its table, so a screen reader and a printout read the
same numbers). The module is mounted last: it makes the overview the home of every role and the header's first link.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from markupsafe import Markup
from sqlmodel import Session

import web.pages  # noqa: F401  (they set their NAV links and ROLE_HOME at import; the overview goes before them)
import web.pos_pages  # noqa: F401
from rebates.deps import PolicyDep
from rebates.policy import Policy
from traceability.api import SessionDep
from traceability.auth.service import Principal
from traceability.models import AlertKind, PrintJobStatus, Role, ShipmentStatus
from traceability.models.crm import TaskStatus
from web import overview
from web.charts import Bar, bar_chart
from web.deps import page_allow, page_lang
from web.i18n import Translator, translator
from web.routes import NAV, ROLE_HOME, NavItem, PageRoute, render

__all__ = ["overview_for", "router"]

router = APIRouter(route_class=PageRoute, include_in_schema=False)
Anyone = Annotated[Principal, Depends(page_allow(*Role))]

NAV.insert(0, NavItem("nav.overview", "/app/overview", frozenset(Role)))
ROLE_HOME.update(dict.fromkeys(Role, "/app/overview"))

_STORE_TASKS = [s.value for s in TaskStatus]


def _bars(rows: list[tuple[str, int]], tone: str = "") -> list[Bar]:
    return [Bar(label, n, f"{n:,}", tone) for label, n in rows]


def _chart(key: str, title: str, desc: str, rows: list[tuple[str, int]], tone: str = "") -> Markup:
    return bar_chart(key=key, title=title, desc=desc, bars=_bars(rows, tone))


def _distributor(session: Session, principal: Principal, policy: Policy, _: Translator) -> dict[str, Any]:
    f = overview.distributor_figures(session=session, principal=principal, policy=policy)
    ships = [(s.value, f.shipments_today.get(s.value, 0)) for s in ShipmentStatus]
    warnings = [(k.value, f.warnings.get(k.value, 0)) for k in AlertKind if f.warnings.get(k.value)]
    return {"f": f, "ships": ships, "warnings": warnings, "charts": {
        "ships": _chart("ships-today", _("overview.dist.ships"), _("overview.dist.ships_desc", day=f.day.isoformat()),
                        [(_("shipment.status." + s), n) for s, n in ships]),
        "warnings": _chart("warnings", _("overview.dist.warnings"), _("overview.dist.warnings_desc"),
                           [(_("kind." + k), n) for k, n in warnings], "bad"),
    }}  # fmt: skip


def _auditor(session: Session, principal: Principal, policy: Policy, _: Translator) -> dict[str, Any]:
    f = overview.auditor_figures(session=session, principal=principal, policy=policy)
    kinds = [(k.value, f.by_kind.get(k.value, 0)) for k in AlertKind]
    unnamed = _("overview.none_named")
    return {"f": f, "kinds": kinds, "charts": {
        "kinds": _chart("by-kind", _("overview.aud.by_kind"), _("overview.aud.open_desc"),
                        [(_("kind." + k), n) for k, n in kinds], "bad"),
        "dists": _chart("by-distributor", _("overview.aud.by_distributor"), _("overview.aud.open_desc"),
                        [(name or unnamed, n) for _id, name, n in f.by_distributor]),
        "terrs": _chart("by-territory", _("overview.aud.by_territory"), _("overview.aud.open_desc"),
                        [(name or unnamed, n) for _id, name, n in f.by_territory]),
        "weeks": _chart("by-week", _("overview.aud.by_week"), _("overview.aud.week_desc", weeks=overview.WEEKS),
                        [(_("overview.aud.week_of", day=d.strftime("%m-%d")), n) for d, n in f.weeks]),
    }}  # fmt: skip


def _finance(session: Session, principal: Principal, policy: Policy, _: Translator) -> dict[str, Any]:
    f = overview.finance_figures(session=session, policy=policy)
    states = [(s, f.status_counts.get(s, 0)) for s in ("open", "locked")]
    return {"f": f, "charts": {
        "periods": _chart("periods", _("overview.fin.periods"), _("overview.fin.periods_desc"),
                          [(_("settlement.status." + s), n) for s, n in states]),
    }}  # fmt: skip


def _plant(session: Session, principal: Principal, policy: Policy, _: Translator) -> dict[str, Any]:
    f = overview.plant_figures(session=session, principal=principal)
    jobs = [(s.value, f.jobs.get(s.value, 0)) for s in PrintJobStatus]
    return {"f": f, "jobs": jobs, "charts": {
        "jobs": _chart("jobs", _("overview.plant.jobs"), _("overview.plant.jobs_desc"),
                       [(_("jobs.status." + s), n) for s, n in jobs]),
        "gaps": _chart("gaps", _("overview.plant.gaps"), _("overview.plant.gaps_desc"),
                       [(f"#{g.job_id} {g.product}", g.loose) for g in f.gaps], "bad"),
    }}  # fmt: skip


def _store(session: Session, principal: Principal, policy: Policy, _: Translator) -> dict[str, Any]:
    f = overview.store_figures(session=session, principal=principal, policy=policy)
    tasks = [(s, f.tasks.get(s, 0)) for s in _STORE_TASKS]
    others = f.units_sold - f.member_units - f.free_units
    sales = [("member", f.member_units), ("other", others), ("free", f.free_units)]
    return {"f": f, "tasks": tasks, "sales": sales, "charts": {
        "sales": _chart("sales-today", _("overview.store.sales"), _("overview.store.sales_desc", day=f.day.isoformat()),
                        [(_("overview.store.sale." + k), n) for k, n in sales], "good"),
        "tasks": _chart("tasks-today", _("overview.store.tasks"), _("overview.store.tasks_desc"),
                        [(_("pos.tasks.status." + s), n) for s, n in tasks]),
    }}  # fmt: skip


def _admin(session: Session, principal: Principal, policy: Policy, _: Translator) -> dict[str, Any]:
    f = overview.admin_figures(session=session, principal=principal)
    return {"f": f, "charts": {
        "parties": _chart("parties", _("overview.admin.parties"), _("overview.admin.parties_desc"),
                          [(_("overview.party." + k), n) for k, n in f.parties.items()]),
    }}  # fmt: skip


_PANELS: dict[Role, Callable[[Session, Principal, Policy, Translator], dict[str, Any]]] = {
    Role.distributor: _distributor, Role.auditor: _auditor, Role.finance: _finance, Role.plant: _plant,
    Role.store: _store, Role.admin: _admin,
}  # fmt: skip


def overview_for(*, session: Session, principal: Principal, policy: Policy, lang: str) -> dict[str, Any]:
    """The signed-in role's panel: its figures and their charts, worded in ``lang``."""
    return _PANELS[principal.role](session, principal, policy, translator(lang))


@router.get("/app/overview")
def overview_page(request: Request, session: SessionDep, principal: Anyone, policy: PolicyDep) -> Response:
    """The role's figures at a glance, with links to the pages where the work is done."""
    panel = overview_for(session=session, principal=principal, policy=policy, lang=page_lang(request))
    return render(request, "overview.html", {"o": panel, "role": principal.role.value,
                                             "_session": session}, principal=principal)  # fmt: skip
