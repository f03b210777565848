"""The brand's marketing page (``/app/marketing``), thin over the member-care services (``crm``).

One page, in the order the marketing team reads it: members by tier and the active ones (``segment_summary``), the
measured effect of the clerks' calls (``task_effect``), the return of each campaign and each member source
(``campaign_return``, ``source_return``), the year's top-10 by points growth (``top_members``) and the prospects
each store handed in against its monthly target (``prospect_report``), paginated and searchable here. Every figure
is the service's own, computed for the signed-in key, so the page can show no more than the API shows that key;
the page only picks, pages and draws (``web.charts``: inline SVG, each chart's numbers in a table beside it).

Who: the brand's roles the return API admits (admin, auditor, finance: ``crm.routes``' ``Brand``). A store's or a
distributor's key is refused with a page in its own language (the services scope a store to its own members, but
the return of campaigns and sources is the brand's alone, so the page as a whole is too). Downloads are
``crm.exports``' CSV / XLSX with the headers in the page's language.
"""

from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Annotated, Any, Literal
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from markupsafe import Markup
from sqlmodel import Session

from crm import campaigns, exports, points, prospects, segments, tasks
from rebates.deps import PolicyDep
from rebates.policy import Policy
from traceability.api import SessionDep
from traceability.auth.service import Principal
from traceability.errors import Forbidden
from traceability.i18n import Catalogue, messages
from traceability.masterdata.service import list_products
from traceability.models import Role
from traceability.models.base import utcnow
from web import service
from web.charts import Bar, bar_chart
from web.deps import PagePrincipal, page_lang
from web.i18n import Translator, phrase, translator
from web.partner_pages import money
from web.routes import NAV, NavItem, PageRoute, render

_PAGES: Catalogue = messages("web")  # the pages' words, for the errors a page raises (worded when shown)

__all__ = [
    "BRAND_ROLES",
    "EXPORT_KINDS",
    "PAGE_SIZE",
    "MarketingPage",
    "ProspectPage",
    "marketing_page_for",
    "pct",
    "prospect_page",
    "router",
    "today",
]

router = APIRouter(route_class=PageRoute, include_in_schema=False)
BRAND_ROLES = frozenset({Role.admin, Role.auditor, Role.finance})
"""The roles of ``crm.routes.Brand`` (the return of campaigns and sources): the page shows it, so only they."""
PAGE_SIZE = 20
"""Stores per page of the prospects table."""
EXPORT_KINDS = ("segments", "return-campaigns", "return-sources", "top10", "prospects")
ExportKind = Literal["segments", "return-campaigns", "return-sources", "top10", "prospects"]
_YEARS_BACK = 4
_TIER_TONES = {"potential": "t-potential", "ordinary": "t-ordinary", "loyal": "t-loyal", "advocate": "t-advocate"}

NAV.append(NavItem("nav.marketing", "/app/marketing", BRAND_ROLES))


def _brand_only(request: Request, principal: PagePrincipal) -> Principal:
    """The brand's roles only; anyone else is told so in the page's language (``marketing_brand_only``)."""
    if principal.role not in BRAND_ROLES:
        raise Forbidden.keyed(_PAGES, "marketing.refused", role=phrase(f"role.{principal.role.value}"),
                              detail={"role": principal.role.value, "reason": "marketing_brand_only"})  # fmt: skip
    return principal


_brand_only.allowed_roles = BRAND_ROLES  # type: ignore[attr-defined]  # read by the authorisation matrix test
Brand = Annotated[Principal, Depends(_brand_only)]


def today(policy: Policy, now: datetime | None = None) -> date:
    """The policy's calendar day now: the day the figures are as of unless the user picks another."""
    return (now or utcnow()).astimezone(ZoneInfo(policy.timezone)).date()


# --- formatting ---------------------------------------------------------------------------------------------------


def pct(rate: str | Decimal | None) -> str:
    """A fraction (``"0.6667"``) as a percentage with up to two decimals (``66.67 %``); none as a dash."""
    if rate is None:
        return "—"
    value = (Decimal(rate) * 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN).normalize()
    return f"{value:f} %"


def _share(part: int, whole: int) -> str:
    return pct(Decimal(part) / whole) if whole else "—"


# --- the prospects table ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProspectPage:
    """One page of the prospects report after the search: its rows, the total matched, where the page is."""

    rows: list[dict[str, Any]]
    total: int
    page: int
    pages: int
    short: int
    """Stores short of their target among those matched (all pages)."""


def prospect_page(rows: list[dict[str, Any]], *, q: str = "", page: int = 1, size: int = PAGE_SIZE) -> ProspectPage:
    """The stores whose id or name holds ``q`` (case and width folded), a page of ``size`` of them; a page past the
    last shows the last (a search that narrows the list never strands the user on an empty page)."""
    needle = _fold(q)
    matched = [r for r in rows if not needle or needle in _fold(r["store"]) or needle in _fold(r.get("name") or "")]
    pages = max(1, math.ceil(len(matched) / size))
    at = min(max(page, 1), pages)
    return ProspectPage(rows=matched[(at - 1) * size : at * size], total=len(matched), page=at, pages=pages,
                        short=sum(1 for r in matched if r["short_of_target"] > 0))  # fmt: skip


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold().strip()


# --- the page -----------------------------------------------------------------------------------------------------


@dataclass
class MarketingPage:
    """What ``marketing.html`` shows; every figure as its service returned it."""

    as_of: date
    since: date
    year: int
    month: str
    q: str
    summary: dict[str, Any]
    effect: dict[str, Any]
    campaign_return: list[dict[str, Any]]
    source_return: list[dict[str, Any]]
    top10: list[dict[str, Any]]
    prospects: ProspectPage
    target: int
    names: dict[str, str]
    currency: str
    years: list[int]
    charts: dict[str, Markup] = field(default_factory=dict)
    lang: str = "zh-CN"

    def money(self, value: str | Decimal) -> str:
        return money(value, self.currency, self.lang) if self.currency else f"{Decimal(value):,.2f}"

    def name(self, party: str | None) -> str:
        return self.names.get(party or "", party or "—")

    def query(self, **changed: Any) -> str:
        """The page's query string with some parameters changed (pager and section links keep the others)."""
        params = {"as_of": self.as_of.isoformat(), "since": self.since.isoformat(), "year": self.year,
                  "month": self.month, "q": self.q, "page": self.prospects.page} | changed  # fmt: skip
        return urlencode({k: v for k, v in params.items() if v not in ("", None)})


def _currency(session: Session) -> str:
    """The products' one currency (the services sum unit prices); none when they are priced in several."""
    found = {p.currency for p in list_products(session=session) if p.currency}
    return found.pop() if len(found) == 1 else ""


def marketing_page_for(
    *,
    session: Session,
    principal: Principal,
    policy: Policy,
    as_of: date | None = None,
    since: date | None = None,
    year: int | None = None,
    month: str | None = None,
    q: str = "",
    page: int = 1,
    lang: str = "zh-CN",
) -> MarketingPage:
    """The marketing page's figures for a brand key: tiers and active members as of ``as_of`` (default today),
    the calls whose window opened from ``since`` (default three months back) and the return of each source from
    then, each campaign's return, the top-10 of ``year`` and the prospects of ``month`` (both default to the as-of
    day's), the prospects searched by ``q`` and paged."""
    if principal.role not in BRAND_ROLES:  # the route refuses first; a caller of this function is held to it too
        raise Forbidden.keyed(_PAGES, "marketing.refused", role=phrase(f"role.{principal.role.value}"),
                              detail={"role": principal.role.value, "reason": "marketing_brand_only"})  # fmt: skip
    day = as_of or today(policy)
    start = since or day - timedelta(days=policy.crm.active_days - 1)
    chosen_year = year or day.year
    chosen_month = month or f"{day.year:04d}-{day.month:02d}"
    common: dict[str, Any] = {"session": session, "principal": principal, "policy": policy, "lang": lang}
    summary = segments.segment_summary(as_of=day, **common).as_dict()
    effect = tasks.task_effect(start=start, end=day, **common).as_dict()
    by_campaign = campaigns.campaign_return(as_of=day, **common)
    by_source = campaigns.source_return(as_of=day, start=start, **common)
    top = points.top_members(year=chosen_year, **common)
    report = prospects.prospect_report(month=chosen_month, **common)
    ids = {s["store"] for s in summary["stores"]} | {s["store"] for s in effect["stores"]}
    ids |= {t["store"] for t in top if t["store"]}
    page_data = MarketingPage(
        as_of=day, since=start, year=chosen_year, month=chosen_month, q=q.strip(), summary=summary, effect=effect,
        campaign_return=by_campaign, source_return=by_source, top10=top,
        prospects=prospect_page(report, q=q, page=page), target=policy.crm.prospect_target,
        names={**service.party_names(session=session, ids=ids), **{r["store"]: r["name"] for r in report}},
        currency=_currency(session), years=_years(day.year, chosen_year), lang=lang,
    )  # fmt: skip
    page_data.charts = _charts(page_data, translator(lang))
    return page_data


def _years(current: int, chosen: int) -> list[int]:
    return sorted({*range(current - _YEARS_BACK, current + 1), chosen}, reverse=True)


def _charts(p: MarketingPage, _: Translator) -> dict[str, Markup]:
    """The page's charts, each titled and described in the page's language (its numbers are in a table too)."""
    s = p.summary
    tiers = [Bar(_(f"marketing.tier.{t}"), n, str(n), _TIER_TONES[t]) for t, n in s["tiers"].items()]
    active = [
        Bar(_("marketing.active"), s["active"], str(s["active"]), "good"),
        Bar(_("marketing.inactive"), s["members"] - s["active"], str(s["members"] - s["active"]), "muted"),
    ]
    o = p.effect["overall"]
    rates = [
        Bar(_("marketing.effect.called"), Decimal(o["worked_rate"] or 0), pct(o["worked_rate"]), "good"),
        Bar(_("marketing.effect.not_called"), Decimal(o["unworked_rate"] or 0), pct(o["unworked_rate"]), "muted"),
    ]
    gained = [Bar(c["name"] or c["campaign"], c["members_gained"], str(c["members_gained"])) for c in p.campaign_return]
    sources = [Bar(_source(r["source"], _), r["members"], str(r["members"])) for r in p.source_return]
    growth = [Bar(f"{t['rank']}. {t['name'] or t['member']}", t["earned"], str(t["earned"]), "t-advocate")
              for t in p.top10]  # fmt: skip
    day = p.as_of.isoformat()
    return {
        "tiers": bar_chart(key="tiers", title=_("marketing.chart.tiers"), desc=_("marketing.chart.tiers_desc", day=day),
                           bars=tiers),
        "active": bar_chart(key="active", title=_("marketing.chart.active"),
                            desc=_("marketing.chart.active_desc", day=day), bars=active),
        "effect": bar_chart(key="effect", title=_("marketing.chart.effect"),
                            desc=_("marketing.chart.effect_desc", since=p.since.isoformat(), day=day), bars=rates),
        "campaigns": bar_chart(key="campaigns", title=_("marketing.chart.campaigns"),
                               desc=_("marketing.chart.campaigns_desc", day=day), bars=gained),
        "sources": bar_chart(key="sources", title=_("marketing.chart.sources"),
                             desc=_("marketing.chart.sources_desc", day=day), bars=sources),
        "top10": bar_chart(key="top10", title=_("marketing.chart.top10", year=p.year),
                           desc=_("marketing.chart.top10_desc", year=p.year), bars=growth),
    }  # fmt: skip


def _source(source: str, _: Translator) -> str:
    """A member source in words (``campaign:SPRING`` → 活动 SPRING); an unknown one as it is stored."""
    if source.startswith("campaign:"):
        return _("marketing.source.campaign", code=source.split(":", 1)[1])
    key = f"marketing.source.{source}"
    worded = _(key)
    return source if worded == key else worded


# --- routes -------------------------------------------------------------------------------------------------------

AsOf = Annotated[date | None, Query(description="As of the end of this day")]
Since = Annotated[date | None, Query(description="The calls' windows and the sources' gains from this day")]
Year = Annotated[int | None, Query(ge=2000, le=2200)]
Month = Annotated[str | None, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")]
Search = Annotated[str, Query(max_length=64)]
PageNo = Annotated[int, Query(ge=1, le=1_000_000)]


@router.get("/app/marketing")
def marketing_page(request: Request, session: SessionDep, principal: Brand, policy: PolicyDep, as_of: AsOf = None,
                   since: Since = None, year: Year = None, month: Month = None, q: Search = "",
                   page: PageNo = 1) -> Response:  # fmt: skip
    """Tiers and active members, the calls' effect, campaign and source return, the top-10, prospects per store."""
    lang = page_lang(request)
    data = marketing_page_for(session=session, principal=principal, policy=policy, as_of=as_of, since=since,
                              year=year, month=month, q=q, page=page, lang=lang)  # fmt: skip
    return render(request, "marketing.html", {"m": data, "pct": pct, "share": _share,
                                              "source_name": lambda s: _source(s, translator(lang)),
                                              "_session": session}, principal=principal)  # fmt: skip


@router.get("/app/marketing/export/{kind}")
def marketing_export(request: Request, session: SessionDep, principal: Brand, policy: PolicyDep, kind: ExportKind,
                     fmt: Annotated[Literal["csv", "xlsx"], Query(alias="format")] = "csv", as_of: AsOf = None,
                     since: Since = None, year: Year = None, month: Month = None,
                     q: Search = "") -> Response:  # fmt: skip
    """A table of the page as CSV or XLSX (``crm.exports``), its headers in the page's language; the prospects as
    searched on the page (every page of them)."""
    lang = page_lang(request)
    day = as_of or today(policy)
    common: dict[str, Any] = {"session": session, "principal": principal, "policy": policy, "lang": lang}
    rows: Any
    if kind == "segments":
        rows, tag = segments.iter_segments(as_of=day, **common), day.isoformat()
    elif kind == "return-campaigns":
        rows, tag = campaigns.campaign_return(as_of=day, **common), day.isoformat()
    elif kind == "return-sources":
        start = since or day - timedelta(days=policy.crm.active_days - 1)
        rows, tag = campaigns.source_return(as_of=day, start=start, **common), day.isoformat()
    elif kind == "top10":
        chosen = year or day.year
        rows, tag = points.top_members(year=chosen, **common), str(chosen)
    else:
        chosen_month = month or f"{day.year:04d}-{day.month:02d}"
        report = prospects.prospect_report(month=chosen_month, **common)
        rows, tag = prospect_page(report, q=q, size=max(len(report), 1)).rows, chosen_month
    body = exports.render(kind, rows, fmt, lang)
    return Response(body, media_type=exports.MEDIA_TYPES[fmt], headers={
        "Content-Disposition": f'attachment; filename="{kind}-{tag}.{fmt}"', "Content-Language": lang})  # fmt: skip
