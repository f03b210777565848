"""Each partner's own pages: a distributor's statement (``/app/statement``) and a store's day (``/app/store``).

Every figure comes from the scoped services — :func:`settlement.service.statement_for` and
:func:`~settlement.service.store_summary` (the party in every settlement query), :func:`flow_graph.service.list_alerts`
and :func:`scanning.outbound.list_shipments` with the principal, :func:`members.service.list_members` (a store lists
its own members only) — so a page can show no more than the API shows the same key; no template filters anything.

The brand's admin (and finance, for a statement) may look at one partner's page with ``?party=``: the page is then
built for a principal of that partner's role and party, so it shows exactly what that partner sees, no more. A
partner naming another party is refused (403), worded in the page's language. A distributor answers an alert from
the alert page with a note (``POST /app/alerts/{id}/notes``); the alert's status stays the auditor's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel import Session

from flow_graph import service as flow
from members import service as members
from rebates.policy import Policy, RebateTier, load_policy
from scanning import outbound
from settlement import service as settle
from settlement.errors import NotYourParty
from settlement.periods import next_period, period_of
from traceability.api import RowId, SessionDep, SettingsDep
from traceability.auth.service import Principal
from traceability.errors import InvalidInput, NotFound
from traceability.i18n import Catalogue, format_money, messages
from traceability.masterdata.service import list_parties
from traceability.models import Alert, AlertStatus, PartyKind, Role
from traceability.models.base import utcnow
from web import service
from web.deps import page_allow, page_lang, refuse_cross_site
from web.i18n import Translator, phrase, translator
from web.listing import DEFAULT_SIZE, PageNo, Pager, PageSize, pager
from web.routes import NAV, NavItem, PageRoute, render

_PAGES: Catalogue = messages("web")  # the pages' words, for the errors a page raises (worded when shown)
_SETTLEMENT_WORDS: Catalogue = messages("settlement.errors")  # a partner's refusal, as the API words it

__all__ = [
    "PeriodChoice",
    "StatementPage",
    "StorePage",
    "fee_reason",
    "money",
    "period_choices",
    "rate_reason",
    "router",
    "statement_page_for",
    "store_page_for",
]

router = APIRouter(route_class=PageRoute, include_in_schema=False)
StatementReader = Annotated[Principal, Depends(page_allow(Role.distributor, Role.finance, Role.admin))]
StoreReader = Annotated[Principal, Depends(page_allow(Role.store, Role.admin))]
Noter = Annotated[Principal, Depends(page_allow(Role.distributor, Role.auditor, Role.admin))]

_SHIPMENTS_PAGE = 20
_PERIOD = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
_OPEN_MONTHS = 12
"""With no period locked yet, the picker offers this many months back from the current one."""


def _nav_before(key: str, items: list[NavItem]) -> None:
    """Put the partners' links first in the header, before ``key`` (the shipments link)."""
    at = next((i for i, n in enumerate(NAV) if n.key == key), len(NAV))
    NAV[at:at] = items


_nav_before("nav.shipments", [
    NavItem("nav.statement", "/app/statement", frozenset({Role.distributor})),
    NavItem("nav.store", "/app/store", frozenset({Role.store})),
])  # fmt: skip


# --- formatting ---------------------------------------------------------------------------------------------------

def money(amount: Decimal | str, currency: str, lang: str = "zh-CN") -> str:
    """An amount as the language writes it, two decimals, half-even (``¥1,234.50``; Babel's ``format_money``)."""
    return format_money(amount, currency, lang)


def _pct(value: Decimal) -> str:
    """A fraction as a percentage without trailing zeros: 0.95 → ``95 %``, 0.005 → ``0.5 %``."""
    text = f"{(Decimal(value) * 100).quantize(Decimal('0.01'), rounding=ROUND_HALF_EVEN).normalize():f}"
    return f"{text} %"


def _rule(tier: RebateTier, _: Translator) -> str:
    if tier.max_diverted_share == 0:
        return _("statement.rule.no_alert", coverage=_pct(tier.min_coverage))
    return _("statement.rule.share", coverage=_pct(tier.min_coverage), share=_pct(tier.max_diverted_share))


def rate_reason(line: settle.DistributorLine, policy: Policy, _: Translator) -> str:
    """Why the line earns its rate, in plain words of the page's language, from the line's own figures and the
    rules of the policy it was settled under (the service's reason is the English one of the reports)."""
    if line.units_purchased == 0:
        return _("statement.why.no_purchases")
    facts = _("statement.why.facts", out=line.units_scanned_out, units=line.units_purchased,
              coverage=_pct(line.coverage or Decimal(0)), diverted=line.diverted_units,
              alerts=len(line.alert_ids))  # fmt: skip
    tiers = policy.rebate.tiers
    met = next((t for t in tiers if t.rate == line.rate), None) if line.rate > 0 else None
    if met is not None:
        return _("statement.why.meets", rate=_pct(line.rate), facts=facts, rule=_rule(met, _))
    if not tiers:
        return _("statement.why.no_tiers", facts=facts)
    return _("statement.why.misses", facts=facts, rule=_rule(tiers[-1], _))


def fee_reason(line: settle.StoreLine, policy: Policy, _: Translator, lang: str = "zh-CN") -> str:
    """Why the store's fee is what it is, in the page's language (the words of the line's own figures)."""
    paid = line.units_sold - line.flagged_units
    if line.fee_rate == 0 and policy.store_fee.member_stores_only and policy.store_fee.rate != 0:
        text = _("store.why.not_member")
    else:
        text = _("store.why.fee", rate=_pct(line.fee_rate), value=money(line.sales_value, line.currency, lang),
                 units=paid)
    if line.flagged_units:
        text += _("store.why.flagged", units=line.flagged_units, alerts=", ".join(map(str, line.alert_ids)))
    return text


# --- whose page ---------------------------------------------------------------------------------------------------


def _viewed(session: Session, principal: Principal, party: str | None, role: Role, kind: PartyKind) -> Principal:
    """The principal a page is built for: the partner itself, or — for the brand's roles — the partner named by
    ``party`` (the first of its kind when none is named), as that partner's own key would see it."""
    if not principal.sees_all:
        if party is not None and party != principal.party_id:
            raise NotYourParty.keyed(_SETTLEMENT_WORDS, "other_party", party=principal.party_id,
                                     other=party, detail={"party": party})  # fmt: skip
        return principal
    choices = [p.id for p in list_parties(session=session, principal=principal, kind=kind)]
    target = party or (choices[0] if choices else None)
    if target is None or target not in choices:
        raise NotFound.keyed(_PAGES, "partner.no_party", kind=phrase(f"partner.kind.{kind.value}"), party=target or "—",
                             detail={"party": target, "reason": "unknown_party"})  # fmt: skip
    return Principal(role=role, party_id=target)


def _period(value: str | None, policy: Policy) -> str:
    if value is None or value == "":
        return period_of(utcnow(), policy.timezone)
    if not _PERIOD.fullmatch(value):
        raise InvalidInput.keyed(_PAGES, "statement.bad_period", period=value[:20],
                                 detail={"field": "period", "reason": "bad_period"})  # fmt: skip
    return value


@dataclass(frozen=True, slots=True)
class PeriodChoice:
    period: str
    status: str
    """``open`` or ``locked``."""


def period_choices(*, session: Session, policy: Policy, now: datetime | None = None) -> list[PeriodChoice]:
    """The periods a partner may pick, newest first: the open ones (after the last lock, up to the current month;
    the last twelve months when nothing is locked yet) and every locked one."""
    locked = [p.period for p in settle.list_periods(session=session)]
    current = period_of(now or utcnow(), policy.timezone)
    if locked:
        first_open = next_period(locked[-1])
    else:
        y, m = int(current[:4]), int(current[5:])
        back = y * 12 + (m - 1) - (_OPEN_MONTHS - 1)
        first_open = f"{back // 12:04d}-{back % 12 + 1:02d}"
    open_periods: list[str] = []
    p = first_open
    while p <= current:
        open_periods.append(p)
        p = next_period(p)
    choices = [PeriodChoice(p, "open") for p in open_periods] + [PeriodChoice(p, "locked") for p in locked]
    return sorted(choices, key=lambda c: c.period, reverse=True)


# --- the distributor's statement ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ShipmentLine:
    id: int
    destination_id: str
    destination_name: str
    status: str
    items: int
    opened_at: datetime


@dataclass
class StatementPage:
    """What ``statement.html`` shows: one distributor's line for a period, its alerts, and its shipments."""

    party: str
    party_name: str
    period: str
    periods: list[PeriodChoice]
    settlement: settle.Settlement
    reasons: list[str]
    """One per distributor line: why the rate, in the page's language."""
    alerts: list[Alert]
    """One page of the alerts attributed to it in the period (``alerts_pager`` says which of how many)."""
    alerts_pager: Pager
    alerts_f: dict[str, str]
    """The alert list's search and status filter as typed (for its form)."""
    names: dict[str, str]
    shipments: list[ShipmentLine] | None
    """None when the signed-in role may not list shipments (finance)."""
    offset: int
    next_offset: int | None
    timezone: str
    choices: list[str] = field(default_factory=list)
    """The distributors the brand's roles may pick from (empty for a distributor)."""
    choice_names: dict[str, str] = field(default_factory=dict)
    """Their names: the chooser shows names, not ids."""

    @property
    def prev_offset(self) -> int | None:
        return max(self.offset - _SHIPMENTS_PAGE, 0) if self.offset > 0 else None


def _alert_status(value: str, lang: str) -> list[AlertStatus]:
    """The statement's alert filter: empty means every status; an unknown one is named back in the page's words."""
    if not value:
        return list(AlertStatus)
    try:
        return [AlertStatus(value)]
    except ValueError:
        _ = translator(lang)
        allowed = ", ".join(_(f"status.{s.value}") for s in AlertStatus)
        raise InvalidInput(_("list.bad_status", value=value[:20], allowed=allowed), field="status",
                           reason="bad_status") from None  # fmt: skip


def statement_page_for(*, session: Session, principal: Principal, policy: Policy, period: str | None = None,
                       party: str | None = None, offset: int = 0, lang: str = "zh-CN", search: str = "",
                       status: str = "", page: int = 1, size: int = DEFAULT_SIZE) -> StatementPage:  # fmt: skip
    """A distributor's statement for a period as its own key sees it: the settlement line (statement_for), a page
    of the alerts attributed to it first seen in the period (list_alerts, with their total, a search and a status
    filter), and its shipments, newest first."""
    viewed = _viewed(session, principal, party, Role.distributor, PartyKind.distributor)
    chosen = _period(period, policy)
    statuses = _alert_status(status, lang)
    result = settle.statement_for(session=session, principal=viewed, period=chosen, policy=policy)
    _ = translator(lang)
    # Every status by default, so a distributor also sees what was dismissed or withdrawn; first seen within the
    # period's bounds as settled (the policy's calendar month), attributed to it.
    filters = flow.AlertFilter(status=statuses, distributor=viewed.party_id, since=result.starts_at,
                               until=result.ends_at, search=search.strip() or None)  # fmt: skip
    alerts_f = {"q": search, "status": status}
    alerts_pager = pager(page=page, size=size, total=flow.count_alerts(session=session, filters=filters,
                                                                       principal=viewed),
                         params={**({"party": viewed.party_id} if principal.sees_all else {}), "period": chosen,
                                 **alerts_f})  # fmt: skip
    paged = replace(filters, limit=alerts_pager.size, offset=alerts_pager.offset)
    alerts = flow.list_alerts(session=session, principal=viewed, filters=paged)
    listed: list[outbound.ShipmentListing] | None = None
    next_offset = None
    if principal.role in (Role.distributor, Role.admin):  # finance reads statements, not shipments
        listed = outbound.list_shipments(session=session, principal=viewed, limit=_SHIPMENTS_PAGE + 1, offset=offset)
        if len(listed) > _SHIPMENTS_PAGE:
            listed, next_offset = listed[:_SHIPMENTS_PAGE], offset + _SHIPMENTS_PAGE
    ids = {viewed.party_id} | {p for a in alerts for p in (a.party_id, a.responsible_distributor_id) if p}
    ids |= {row.shipment.destination_id for row in listed or []}
    names = service.party_names(session=session, ids=ids)
    shipments = None if listed is None else [
        ShipmentLine(id=row.shipment.id or 0, destination_id=row.shipment.destination_id,
                     destination_name=names.get(row.shipment.destination_id, ""), status=str(row.shipment.status),
                     items=row.items, opened_at=row.shipment.opened_at)
        for row in listed
    ]  # fmt: skip
    pickable = (list_parties(session=session, principal=principal, kind=PartyKind.distributor)
                if principal.sees_all else [])  # fmt: skip
    choices = [p.id for p in pickable]
    return StatementPage(
        party=viewed.party_id, party_name=names.get(viewed.party_id, viewed.party_id), period=chosen,
        periods=period_choices(session=session, policy=policy), settlement=result,
        reasons=[rate_reason(d, result.policy, _) for d in result.distributors], alerts=alerts,
        alerts_pager=alerts_pager, alerts_f=alerts_f, names=names,
        shipments=shipments, offset=offset, next_offset=next_offset, timezone=policy.timezone, choices=choices,
        choice_names={p.id: p.name for p in pickable},
    )  # fmt: skip


# --- the store's day ----------------------------------------------------------------------------------------------


@dataclass
class StorePage:
    """What ``store.html`` shows: a store's day, its month so far (its own settlement line), and its members."""

    summary: settle.StoreSummary
    reasons: list[str]
    members: list[dict[str, Any]]
    total: int
    """Every member of the store (the search left aside)."""
    pager: Pager
    """Which page of the members the search found."""
    search: str
    timezone: str
    choices: list[str] = field(default_factory=list)
    choice_names: dict[str, str] = field(default_factory=dict)
    """The stores' names, for the chooser."""

    def baby(self, member: dict[str, Any]) -> date | int | None:
        born = member.get("baby_birth_date")
        return date.fromisoformat(born) if born else member.get("baby_stage")


def store_page_for(*, session: Session, principal: Principal, policy: Policy, party: str | None = None,
                   page: int = 1, size: int = DEFAULT_SIZE, search: str = "", lang: str = "zh-CN",
                   now: datetime | None = None) -> StorePage:  # fmt: skip
    """A store's own page: today's sales and the month so far (store_summary) and a page of its members, newest
    first, with a search (list_members: a store naming another store's members is refused there, 403
    ``not_own_store``)."""
    if principal.role is Role.store:
        # The member registry's own rule decides, first: nothing of the page is computed for a refused request.
        store_id, viewed = party, principal
    else:
        viewed = _viewed(session, principal, party, Role.store, PartyKind.store)
        store_id = viewed.party_id
    everyone = members.list_members(session=session, principal=principal, store_id=store_id, limit=1, lang=lang)
    needle = search.strip() or None
    found = everyone.total if needle is None else members.list_members(
        session=session, principal=principal, store_id=store_id, limit=1, lang=lang, search=needle).total
    members_pager = pager(page=page, size=size, total=found,
                          params={**({"party": viewed.party_id} if principal.sees_all else {}), "q": search})
    listed = members.list_members(session=session, principal=principal, store_id=store_id, limit=members_pager.size,
                                  offset=members_pager.offset, lang=lang, search=needle)  # fmt: skip
    summary = settle.store_summary(session=session, principal=viewed, policy=policy, now=now)
    _ = translator(lang)
    pickable = list_parties(session=session, principal=principal, kind=PartyKind.store) if principal.sees_all else []
    choices = [p.id for p in pickable]
    return StorePage(summary=summary, reasons=[fee_reason(s, policy, _, lang) for s in summary.month.stores],
                     members=listed.items, total=everyone.total, pager=members_pager, search=search,
                     timezone=policy.timezone, choices=choices,
                     choice_names={p.id: p.name for p in pickable})  # fmt: skip


# --- routes -------------------------------------------------------------------------------------------------------

Offset = Annotated[int, Query(ge=0, le=2**31 - 1)]
PartyParam = Annotated[str | None, Query(max_length=64)]


@router.get("/app/statement")
def statement_page(request: Request, session: SessionDep, settings: SettingsDep, principal: StatementReader,
                   period: Annotated[str | None, Query(max_length=20)] = None, party: PartyParam = None,
                   offset: Offset = 0, q: Annotated[str, Query(max_length=100)] = "",
                   status: Annotated[str, Query(max_length=20)] = "", page: PageNo = 1,
                   size: PageSize = DEFAULT_SIZE) -> Response:  # fmt: skip
    """A distributor's statement for a period: the overview, its alerts (a page at a time, searched and filtered),
    its shipments."""
    shown = statement_page_for(session=session, principal=principal, policy=load_policy(settings.policy_file),
                               period=period, party=party, offset=offset, lang=page_lang(request), search=q,
                               status=status, page=page, size=size)  # fmt: skip
    return render(request, "statement.html", {"page": shown, "statuses": [s.value for s in AlertStatus],
                                              "_session": session},
                  principal=principal)  # fmt: skip


@router.get("/app/store")
def store_page(request: Request, session: SessionDep, settings: SettingsDep, principal: StoreReader,
               party: PartyParam = None, q: Annotated[str, Query(max_length=100)] = "", page: PageNo = 1,
               size: PageSize = DEFAULT_SIZE) -> Response:  # fmt: skip
    """A store's day: today's sales, the month's sell-through and fee so far, its members (a page at a time, with a
    search)."""
    shown = store_page_for(session=session, principal=principal, policy=load_policy(settings.policy_file),
                           party=party, page=page, size=size, search=q, lang=page_lang(request))  # fmt: skip
    return render(request, "store.html", {"page": shown, "_session": session}, principal=principal)


@router.post("/app/alerts/{alert_id}/notes", dependencies=[Depends(refuse_cross_site)])
def note_alert(request: Request, session: SessionDep, principal: Noter, alert_id: RowId,
               text: Annotated[str, Form(max_length=2000)] = "") -> Response:  # fmt: skip
    """Answer an alert with a note (a distributor: one attributed to it); its status stays as it is."""
    flow.add_note(session=session, alert_id=alert_id, principal=principal, text=text)
    return RedirectResponse(f"/app/alerts/{alert_id}", status_code=303)
