"""Campaigns (extra points on top of the regular rule) and the return of each campaign and each member source.

A campaign has a code, local dates (inclusive, in the policy's time zone), optional GTINs, stores and territories
(empty: every product / every store), and a rule: per unit ``per_unit x (multiplier - 1) + bonus``
(:mod:`crm.points` derives the extras from the sale facts). Only the brand's admin creates or ends one; there is
no separate marketing role in the system, so marketing works with an admin key. A store lists the campaigns that
cover it (to tell its customers); the brand's roles list every one.

**Return**, in SQL over the sale facts and the registry, up to the end of a day:

- per campaign: ``members_gained`` (members whose source is ``campaign:<code>``), their sales (``gained_units``,
  ``gained_value``), the sales that earned the campaign's extras (``campaign_units``, ``campaign_value``) and its
  points cost (``extra_points`` + ``granted_points`` tied to it = ``points_cost``);
- per source (``pos``, ``import``, ``sale``, ``campaign:<code>``, ``call_centre``, ``online``, …): members, those
  gained in the range, buyers, their units and value in the range, and the points they earned in it (regular +
  campaign extras + grants) — the points cost of that source.
"""

from __future__ import annotations

import json
import re
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

from sqlalchemy import bindparam, text
from sqlmodel import Session, col, select
from sqlmodel.sql.sqltypes import UTCDateTime

from crm.errors import CampaignExists, CampaignNotFound, InvalidCampaign, InvalidRange
from crm.points import SqlDialect, campaign_extras_sql
from crm.sql import clock
from rebates.policy import Policy
from traceability.auth.service import Principal
from traceability.errors import Forbidden
from traceability.gs1 import is_valid_gtin14
from traceability.i18n import Catalogue, messages
from traceability.masterdata.service import territory_ancestors
from traceability.models import Campaign, Party, PartyKind, Product, Role, Territory
from traceability.models.base import utcnow

__all__ = [
    "CODE",
    "campaign_return",
    "campaign_view",
    "create_campaign",
    "end_campaign",
    "get_campaign",
    "list_campaigns",
    "show_campaign",
    "source_return",
]

_MESSAGES: Catalogue = messages("crm.errors")
_WORDS = {
    "en": {
        "see_campaigns": "role {role!r} may not see campaigns",
        "see_return": "role {role!r} may not see the return of campaigns and sources",
    },
    "zh-CN": {
        "see_campaigns": "{role} 角色无权查看活动",
        "see_return": "{role} 角色无权查看活动和会员来源的回报",
    },
}

CODE = re.compile(r"[A-Za-z0-9_-]{1,64}")
MAX_DAYS = 3660
MAX_ITEMS = 500
_CENT = Decimal("0.01")
_EPOCH = date(1970, 1, 1)


def _admin(principal: Principal) -> None:
    if principal.role is not Role.admin:
        raise Forbidden.keyed(_MESSAGES, "campaign_admin", role=principal.role.value,
                              detail={"role": principal.role.value, "reason": "campaign_admin"})  # fmt: skip


def _bad(field: str, why: InvalidCampaign) -> InvalidCampaign:
    """The campaign's ``field`` breaks a rule: ``why`` (made with the rule's key) is quoted, its key is the reason."""
    assert why.words is not None
    return InvalidCampaign.keyed(_MESSAGES, "campaign_field", field=field, why=why,
                                 detail={"field": field, "reason": why.words[1]})  # fmt: skip


def _money(value: Any) -> str:
    return str(Decimal(str(value or 0)).quantize(_CENT, rounding=ROUND_HALF_EVEN))


def _today(policy: Policy) -> date:
    from zoneinfo import ZoneInfo

    return utcnow().astimezone(ZoneInfo(policy.timezone)).date()


def campaign_view(cp: Campaign, policy: Policy, today: date | None = None) -> dict[str, Any]:
    """A campaign as the API and the CLI give it, with its extra points per unit and its status on ``today``."""
    today = today or _today(policy)
    status = "scheduled" if today < cp.starts_on else "ended" if today > cp.ends_on else "running"
    extra = Decimal(policy.points.per_unit) * (Decimal(cp.multiplier) - 1) + cp.bonus
    return {"code": cp.code, "name": cp.name, "starts_on": cp.starts_on.isoformat(),
            "ends_on": cp.ends_on.isoformat(), "gtins": json.loads(cp.gtins), "stores": json.loads(cp.stores),
            "territories": json.loads(cp.territories), "multiplier": str(Decimal(cp.multiplier).quantize(_CENT)),
            "bonus": cp.bonus, "extra_per_unit": str(extra.quantize(_CENT)), "status": status,
            "created_by": cp.created_by, "created_at": cp.created_at.isoformat()}  # fmt: skip


def _known(session: Session, model: Any, key: Any, wanted: list[str], kind: PartyKind | None = None) -> set[str]:
    stmt = select(key).where(col(key).in_(wanted))
    if kind is not None:
        stmt = stmt.where(Party.kind == kind)
    return set(session.exec(stmt))


def _items(values: list[str] | None, field: str) -> list[str]:
    items = sorted({v.strip() for v in (values or []) if v and v.strip()})
    if len(items) > MAX_ITEMS:
        raise _bad(field, InvalidCampaign.keyed(_MESSAGES, "campaign_too_many", max=MAX_ITEMS))
    return items


def create_campaign(
    *,
    session: Session,
    principal: Principal,
    policy: Policy,
    code: str,
    name: str,
    starts_on: date,
    ends_on: date,
    gtins: list[str] | None = None,
    stores: list[str] | None = None,
    territories: list[str] | None = None,
    multiplier: Decimal | str | int = 1,
    bonus: int = 0,
    lang: str = "en",
) -> dict[str, Any]:
    """Create a campaign (the brand's admin only); every field is checked and the first bad one named."""
    _admin(principal)
    if not CODE.fullmatch(code or ""):
        raise _bad("code", InvalidCampaign.keyed(_MESSAGES, "campaign_code"))
    title = " ".join("".join(ch if ch.isprintable() else " " for ch in name or "").split())
    if not 1 <= len(title) <= 200:
        raise _bad("name", InvalidCampaign.keyed(_MESSAGES, "campaign_name"))
    if ends_on < starts_on or (ends_on - starts_on).days > MAX_DAYS:
        raise _bad("ends_on", InvalidCampaign.keyed(_MESSAGES, "campaign_dates"))
    try:
        m = Decimal(str(multiplier))
    except InvalidOperation:
        raise _bad("multiplier", InvalidCampaign.keyed(_MESSAGES, "campaign_multiplier")) from None
    if not m.is_finite() or not Decimal(1) <= m <= Decimal(100) or m != m.quantize(_CENT):
        raise _bad("multiplier", InvalidCampaign.keyed(_MESSAGES, "campaign_multiplier"))
    if not 0 <= bonus <= 10_000:
        raise _bad("bonus", InvalidCampaign.keyed(_MESSAGES, "campaign_bonus"))
    if m == 1 and bonus == 0:
        raise _bad("multiplier", InvalidCampaign.keyed(_MESSAGES, "campaign_no_extra"))
    g, s, t = _items(gtins, "gtins"), _items(stores, "stores"), _items(territories, "territories")
    bad_gtins = [x for x in g if not is_valid_gtin14(x)]
    unknown = bad_gtins or sorted(set(g) - _known(session, Product, Product.gtin, g))
    if unknown:
        raise _bad("gtins", InvalidCampaign.keyed(_MESSAGES, "campaign_unknown", items=", ".join(unknown[:10])))
    unknown = sorted(set(s) - _known(session, Party, Party.id, s, PartyKind.store))
    if unknown:
        raise _bad("stores", InvalidCampaign.keyed(_MESSAGES, "campaign_unknown", items=", ".join(unknown[:10])))
    unknown = sorted(set(t) - _known(session, Territory, Territory.id, t))
    if unknown:
        raise _bad("territories", InvalidCampaign.keyed(_MESSAGES, "campaign_unknown", items=", ".join(unknown[:10])))
    if session.exec(select(Campaign.id).where(Campaign.code == code)).first() is not None:
        raise CampaignExists.keyed(_MESSAGES, "campaign_exists", code=code, detail={"code": code})
    row = Campaign(code=code, name=title, starts_on=starts_on, ends_on=ends_on, gtins=json.dumps(g),
                   stores=json.dumps(s), territories=json.dumps(t), multiplier=m, bonus=bonus,
                   created_by=f"{principal.role.value}:{principal.party_id}")  # fmt: skip
    session.add(row)
    session.flush()
    return campaign_view(row, policy)


def get_campaign(*, session: Session, code: str, lang: str = "en") -> Campaign:
    """The campaign with this code; 404 when there is none."""
    row = session.exec(select(Campaign).where(Campaign.code == code)).first()
    if row is None:
        raise CampaignNotFound.keyed(_MESSAGES, "campaign_not_found", code=code, detail={"code": code})
    return row


def _covers(cp: Campaign, store: str, ancestors: set[str]) -> bool:
    stores, territories = json.loads(cp.stores), json.loads(cp.territories)
    return (not stores and not territories) or store in stores or bool(ancestors & set(territories))


def list_campaigns(*, session: Session, principal: Principal, policy: Policy) -> list[dict[str, Any]]:
    """Campaigns, newest first: every one for the brand's roles, those covering the store for a store's key."""
    if principal.role is not Role.store and not principal.sees_all:
        raise Forbidden.keyed(_WORDS, "see_campaigns", role=principal.role.value, detail={"role": principal.role.value})
    rows = list(session.exec(select(Campaign).order_by(col(Campaign.starts_on).desc(), col(Campaign.code))))
    if principal.role is Role.store:
        party = session.get(Party, principal.party_id)
        ancestors = set(territory_ancestors(session, party.territory_id)) if party is not None else set()
        rows = [cp for cp in rows if _covers(cp, principal.party_id, ancestors)]
    today = _today(policy)
    return [campaign_view(cp, policy, today) for cp in rows]


def show_campaign(*, session: Session, principal: Principal, code: str, policy: Policy, lang: str = "en") -> Any:
    """One campaign (a store: only one that covers it, else 404)."""
    for cp in list_campaigns(session=session, principal=principal, policy=policy):
        if cp["code"] == code:
            return cp
    raise CampaignNotFound.keyed(_MESSAGES, "campaign_not_found", code=code, detail={"code": code})


def end_campaign(
    *, session: Session, principal: Principal, code: str, policy: Policy, on: date | None = None, lang: str = "en"
) -> dict[str, Any]:
    """End a campaign after the local day ``on`` (default today): sales up to then keep their extras."""
    _admin(principal)
    cp = get_campaign(session=session, code=code, lang=lang)
    last = on or _today(policy)
    if not cp.starts_on <= last <= cp.ends_on:
        raise _bad("ends_on", InvalidCampaign.keyed(_MESSAGES, "campaign_end", start=cp.starts_on.isoformat(),
                                                  end=cp.ends_on.isoformat()))  # fmt: skip
    cp.ends_on = last
    session.add(cp)
    session.flush()
    return campaign_view(cp, policy)


# --- return -----------------------------------------------------------------------------------------------------


def _brand(principal: Principal) -> None:
    if not principal.sees_all:
        raise Forbidden.keyed(_WORDS, "see_return", role=principal.role.value, detail={"role": principal.role.value})


def _bounds(session: Session, policy: Policy, start: date | None, end: date) -> tuple[Any, Any, Any]:
    if start is not None and (start > end or (end - start).days > MAX_DAYS):
        raise InvalidRange.keyed(_MESSAGES, "bad_range", start=start, end=end, max=MAX_DAYS,
                                 detail={"reason": "bad_range"})  # fmt: skip
    c = clock(session, policy.timezone, end)
    return c, c.start(start or _EPOCH), c.end(end)


def campaign_return(
    *,
    session: Session,
    principal: Principal,
    policy: Policy,
    as_of: date,
    code: str | None = None,
    lang: str = "en",
) -> list[dict[str, Any]]:
    """Each campaign's return up to the end of ``as_of``: members gained and their sales, the sales that earned its
    extras, and its points cost (see the module)."""
    _brand(principal)
    if code is not None:
        get_campaign(session=session, code=code, lang=lang)
    c, _, hi = _bounds(session, policy, None, as_of)
    upto = "AND s.event_time < :hi"
    only = "AND cp.code = :code" if code is not None else ""
    sql = (
        campaign_extras_sql(c, SqlDialect(session), sale_filter=upto)
        + f""",
        ext AS (SELECT cx.campaign_id, COUNT(*) AS units, SUM(COALESCE(p.unit_price, 0)) AS value,
                       SUM(cx.extra_c) AS extra_c
                FROM cx LEFT JOIN product p ON p.gtin = cx.gtin GROUP BY cx.campaign_id),
        gr AS (SELECT g.campaign_id, SUM(g.points) AS pts FROM crm_points_grant g
               WHERE g.campaign_id IS NOT NULL AND g.granted_at < :hi GROUP BY g.campaign_id),
        gm AS (SELECT m.source, COUNT(*) AS members FROM member m
               WHERE m.source LIKE 'campaign:%' AND m.created_at < :hi GROUP BY m.source),
        gs AS (SELECT m.source, COUNT(*) AS units, SUM(COALESCE(p.unit_price, 0)) AS value
               FROM sale s JOIN member m ON m.phone_hash = s.member_hash LEFT JOIN product p ON p.gtin = s.gtin
               WHERE s.counted {upto} AND m.source LIKE 'campaign:%' AND m.created_at < :hi GROUP BY m.source)
        SELECT cp.code, cp.name, cp.starts_on, cp.ends_on, COALESCE(ext.units, 0), COALESCE(ext.value, 0),
               COALESCE(ext.extra_c, 0) / 100, COALESCE(gr.pts, 0), COALESCE(gm.members, 0),
               COALESCE(gs.units, 0), COALESCE(gs.value, 0)
        FROM crm_campaign cp
        LEFT JOIN ext ON ext.campaign_id = cp.id
        LEFT JOIN gr ON gr.campaign_id = cp.id
        LEFT JOIN gm ON gm.source = 'campaign:' || cp.code
        LEFT JOIN gs ON gs.source = 'campaign:' || cp.code
        WHERE 1 = 1 {only}
        ORDER BY cp.starts_on, cp.code"""
    )
    stmt = text(sql).bindparams(bindparam("hi", type_=UTCDateTime()))
    params: dict[str, Any] = {"hi": hi, "pu": policy.points.per_unit}
    if code is not None:
        params["code"] = code
    out = []
    for r in session.execute(stmt, params).all():
        extra, granted = int(r[6] or 0), int(r[7] or 0)
        out.append({"campaign": r[0], "name": r[1], "starts_on": str(r[2])[:10], "ends_on": str(r[3])[:10],
                    "as_of": as_of.isoformat(), "members_gained": int(r[8] or 0), "gained_units": int(r[9] or 0),
                    "gained_value": _money(r[10]), "campaign_units": int(r[4] or 0),
                    "campaign_value": _money(r[5]), "extra_points": extra, "granted_points": granted,
                    "points_cost": extra + granted})  # fmt: skip
    return out


def source_return(
    *,
    session: Session,
    principal: Principal,
    policy: Policy,
    as_of: date,
    start: date | None = None,
    lang: str = "en",
) -> list[dict[str, Any]]:
    """Per member source: members (registered by the end of ``as_of``), those gained from ``start``, buyers, their
    units and value from ``start`` to ``as_of``, and the points they earned then (regular + extras + grants)."""
    _brand(principal)
    c, lo, hi = _bounds(session, policy, start, as_of)
    window = "AND s.event_time >= :lo AND s.event_time < :hi"
    sql = (
        campaign_extras_sql(c, SqlDialect(session), sale_filter=window)
        + f""",
        reg AS (SELECT s.member_hash AS h, COUNT(*) AS units, SUM(COALESCE(p.unit_price, 0)) AS value
                FROM sale s LEFT JOIN product p ON p.gtin = s.gtin
                WHERE s.counted AND s.member_hash IS NOT NULL {window} GROUP BY s.member_hash),
        ex AS (SELECT cx.member_hash AS h, SUM(cx.extra_c) / 100 AS extra FROM cx GROUP BY cx.member_hash),
        gr AS (SELECT g.member_id, SUM(g.points) AS pts FROM crm_points_grant g
               WHERE g.granted_at >= :lo AND g.granted_at < :hi GROUP BY g.member_id)
        SELECT m.source, COUNT(*) AS members,
               SUM(CASE WHEN m.created_at >= :lo THEN 1 ELSE 0 END) AS gained,
               COUNT(reg.h) AS buyers, COALESCE(SUM(reg.units), 0) AS units, COALESCE(SUM(reg.value), 0) AS value,
               COALESCE(SUM(reg.units), 0) * :pu + COALESCE(SUM(ex.extra), 0) + COALESCE(SUM(gr.pts), 0) AS points
        FROM member m
        LEFT JOIN reg ON reg.h = m.phone_hash
        LEFT JOIN ex ON ex.h = m.phone_hash
        LEFT JOIN gr ON gr.member_id = m.id
        WHERE m.created_at < :hi
        GROUP BY m.source
        ORDER BY m.source"""
    )
    stmt = text(sql).bindparams(bindparam("lo", type_=UTCDateTime()), bindparam("hi", type_=UTCDateTime()))
    rows = session.execute(stmt, {"lo": lo, "hi": hi, "pu": policy.points.per_unit}).all()
    first = (start or _EPOCH).isoformat()
    return [{"source": r[0], "from": first, "as_of": as_of.isoformat(), "members": int(r[1]),
             "gained": int(r[2] or 0), "buyers": int(r[3] or 0), "units": int(r[4] or 0), "value": _money(r[5]),
             "points_cost": int(r[6] or 0)} for r in rows]  # fmt: skip
