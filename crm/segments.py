"""Member segments: recency, frequency, monetary value, cans per purchase, membership length, baby stage, and tiers.

One ``GROUP BY`` over the sale facts per member (counted sales, up to the end of the as-of day), joined to the
member registry; the tier is a ``CASE`` over thresholds from the policy (``[crm.loyal]``, ``[crm.advocate]``):

- ``potential``: registered, no purchase yet;
- ``advocate`` / ``loyal``: every threshold of the tier met (frequency, value, cans per purchase at least; recency
  at most), advocate checked first;
- ``ordinary``: every other buyer.

``active`` is a purchase within ``active_days`` (3 months). A member counts from the earlier of her registration
and her first purchase (a member first seen on a sale may be registered after it), so a past as-of day shows who
was a member then. Rows stream from the database (nothing per member is
held in Python), so memory stays flat in the number of members; the summary is a second ``GROUP BY`` over the same.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, text
from sqlmodel import Session
from sqlmodel.sql.sqltypes import UTCDateTime

from crm.errors import NotOwnStore
from crm.sql import Clock, clock
from rebates.policy import CrmTier, Policy
from traceability.auth.service import Principal
from traceability.errors import Forbidden
from traceability.i18n import Catalogue, messages
from traceability.models import Role

__all__ = ["TIERS", "SegmentSummary", "iter_segments", "segment_summary", "segments_sql"]

_MESSAGES: Catalogue = messages("crm.errors")
_WORDS = {
    "en": {
        "see_segments": "role {role!r} may not see member segments",
    },
    "zh-CN": {
        "see_segments": "{role} 角色无权查看会员分层",
    },
}

TIERS = ("potential", "ordinary", "loyal", "advocate")
_CENT = Decimal("0.01")


def _meets(prefix: str) -> str:
    return (f"(o.frequency >= :{prefix}_f AND o.monetary >= :{prefix}_m AND :dn - o.last_day <= :{prefix}_r "
            f"AND o.units >= :{prefix}_u * o.frequency)")  # fmt: skip


def segments_sql(c: Clock, *, store: bool) -> str:
    """The per-member segment query (bound: ``hi``, ``dn``, ``active``, the tier thresholds, ``store``)."""
    only = "AND m.home_store_id = :store" if store else ""
    return f"""
        SELECT m.id AS member, m.home_store_id AS store, m.baby_stage, m.source,
               :dn - (CASE WHEN o.first_day IS NOT NULL AND o.first_day < {c.day("m.created_at")} THEN o.first_day
                           ELSE {c.day("m.created_at")} END) AS membership_days,
               CASE WHEN o.frequency IS NULL THEN 'potential'
                    WHEN {_meets("adv")} THEN 'advocate'
                    WHEN {_meets("loy")} THEN 'loyal'
                    ELSE 'ordinary' END AS tier,
               CASE WHEN o.last_day IS NOT NULL AND :dn - o.last_day <= :active THEN 1 ELSE 0 END AS active,
               :dn - o.last_day AS recency_days,
               COALESCE(o.frequency, 0) AS frequency,
               COALESCE(o.units, 0) AS units,
               COALESCE(o.monetary, 0) AS monetary
        FROM member m
        LEFT JOIN (
            SELECT g.member_hash, g.frequency, g.units, g.monetary, {c.day("g.last_time")} AS last_day,
                   {c.day("g.first_time")} AS first_day
            FROM (SELECT s.member_hash, COUNT(DISTINCT s.event_id) AS frequency, COUNT(*) AS units,
                         SUM(COALESCE(p.unit_price, 0)) AS monetary, MAX(s.event_time) AS last_time,
                         MIN(s.event_time) AS first_time
                  FROM sale s LEFT JOIN product p ON p.gtin = s.gtin
                  WHERE s.counted AND s.member_hash IS NOT NULL AND s.event_time < :hi
                  GROUP BY s.member_hash) g
        ) o ON o.member_hash = m.phone_hash
        WHERE (m.created_at < :hi OR o.member_hash IS NOT NULL) {only}"""


def _params(c: Clock, as_of: date, policy: Policy, store: str | None) -> dict[str, Any]:
    crm = policy.crm
    params: dict[str, Any] = {"hi": c.end(as_of), "dn": c.number(as_of), "active": crm.active_days}
    for prefix, tier in (("adv", crm.advocate), ("loy", crm.loyal)):
        params.update(_tier(prefix, tier))
    if store is not None:
        params["store"] = store
    return params


def _tier(prefix: str, tier: CrmTier) -> dict[str, Any]:
    return {f"{prefix}_f": tier.min_frequency, f"{prefix}_m": float(tier.min_monetary),
            f"{prefix}_r": tier.max_recency_days, f"{prefix}_u": float(tier.min_units_per_purchase)}  # fmt: skip


def _scope(principal: Principal, store_id: str | None) -> str | None:
    if principal.role is Role.store:
        if store_id is not None and store_id != principal.party_id:
            raise NotOwnStore.keyed(_MESSAGES, "not_own_store", own=principal.party_id, detail={"store": store_id})
        return principal.party_id
    if not principal.sees_all:
        raise Forbidden.keyed(_WORDS, "see_segments", role=principal.role.value, detail={"role": principal.role.value})
    return store_id


def _money(value: Any) -> str:
    return str(Decimal(str(value or 0)).quantize(_CENT))


def iter_segments(
    *,
    session: Session,
    principal: Principal,
    as_of: date,
    policy: Policy,
    store_id: str | None = None,
    lang: str = "en",
    after: int = 0,
    limit: int | None = None,
    batch: int = 5000,
) -> Iterator[dict[str, Any]]:
    """Each member's segment as of the end of ``as_of`` (a store: its own members), by member id, streamed; a page
    of ``limit`` members with ids above ``after`` when asked."""
    target = _scope(principal, store_id)
    c = clock(session, policy.timezone, as_of)
    sql = segments_sql(c, store=target is not None) + " AND m.id > :after ORDER BY m.id"
    params = _params(c, as_of, policy, target) | {"after": after}
    if limit is not None:
        sql += " LIMIT :limit"
        params["limit"] = limit
    stmt = text(sql).bindparams(bindparam("hi", type_=UTCDateTime()))
    # Streamed, as an option of this statement: on the connection it would stay set and turn the session's next
    # SAVEPOINT into a server-side cursor on PostgreSQL.
    result = session.connection().execute(stmt.execution_options(yield_per=batch), params)
    # Rows unpacked as tuples (the columns in the order segments_sql gives them): attribute access on each row costs
    # more than the database's work per member.
    for member, store, baby_stage, source, membership_days, tier, active, recency, frequency, units, monetary in result:
        yield {
            "member": member,
            "store": store,
            "tier": tier,
            "active": bool(active),
            "recency_days": None if recency is None else int(recency),
            "frequency": int(frequency),
            "monetary": _money(monetary),
            "units": int(units),
            "units_per_purchase": str((Decimal(int(units)) / int(frequency)).quantize(_CENT)) if frequency else None,
            "membership_days": int(membership_days),
            "baby_stage": baby_stage,
            "source": source,
        }


@dataclass
class SegmentSummary:
    """Members per tier and active members, per store and overall."""

    as_of: date
    tiers: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TIERS, 0))
    active: int = 0
    members: int = 0
    stores: dict[str, dict[str, Any]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"as_of": self.as_of.isoformat(), "members": self.members, "active": self.active, "tiers": self.tiers,
                "stores": [{"store": s, **v} for s, v in sorted(self.stores.items())]}  # fmt: skip


def segment_summary(
    *,
    session: Session,
    principal: Principal,
    as_of: date,
    policy: Policy,
    store_id: str | None = None,
    lang: str = "en",
) -> SegmentSummary:
    """How many members are in each tier and active, by store and overall (one GROUP BY over the segments)."""
    target = _scope(principal, store_id)
    c = clock(session, policy.timezone, as_of)
    sql = f"""SELECT seg.store, seg.tier, COUNT(*) AS n, SUM(seg.active) AS active
              FROM ({segments_sql(c, store=target is not None)}) seg GROUP BY seg.store, seg.tier"""
    stmt = text(sql).bindparams(bindparam("hi", type_=UTCDateTime()))
    out = SegmentSummary(as_of=as_of)
    for store, tier, n, active in session.execute(stmt, _params(c, as_of, policy, target)).all():
        line = out.stores.setdefault(store, {"members": 0, "active": 0, "tiers": dict.fromkeys(TIERS, 0)})
        line["members"] += int(n)
        line["active"] += int(active or 0)
        line["tiers"][tier] += int(n)
        out.members += int(n)
        out.active += int(active or 0)
        out.tiers[tier] += int(n)
    return out
