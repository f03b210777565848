"""Points beyond the regular rule: campaign extras, activity grants, the reward catalogue, the yearly top-10.

A member's points are ``regular + campaign extras + grants - rewards bought``, all derived in SQL:

- *regular*: ``per_unit`` for every counted sale to her (``rebates.service.member_summary``);
- *campaign extras*: for each counted sale inside a campaign (its local dates, its GTINs, its stores or a store
  whose territory has one of its territories as ancestor-or-self), ``per_unit x (multiplier - 1) + bonus`` per
  unit. They are never stored per sale, so a sale that arrives late earns them too. Campaigns that overlap add up.
  Multipliers have two decimals: extras are summed in hundredths of a point (integers, exact on both databases) and
  rounded down to whole points once per member (per member and year for the top-10);
- *grants*: points given by hand for taking part in an activity, with the reason and who gave them;
- *rewards*: gifts bought with points (the free unit stays six-get-one's and costs no points).

Who may do what: the brand's admin grants to any member and keeps the catalogue; a store grants only to its own
members (her home store) and redeems only at its own store, for any member who gives her phone (points are
brand-wide). A redemption locks the member's row first, so two tills cannot both spend the same points.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import bindparam, text
from sqlmodel import Session, col, select
from sqlmodel.sql.sqltypes import UTCDateTime

from crm.errors import (
    InvalidGrant,
    InvalidReward,
    MemberUnknown,
    NotEnoughPoints,
    NotOwnMember,
    NotOwnStore,
    RewardNotFound,
    StoreNotFound,
)
from crm.sql import Clock, clock
from rebates.policy import Policy
from traceability.auth.service import Principal
from traceability.errors import Forbidden
from traceability.i18n import Catalogue, messages
from traceability.models import Member, Party, PartyKind, PointsGrant, Reward, RewardRedemption, Role
from traceability.models.base import utcnow

__all__ = [
    "Balance",
    "SqlDialect",
    "balance",
    "campaign_extras_sql",
    "grant_points",
    "list_rewards",
    "points_extra",
    "redeem_reward",
    "top_members",
    "upsert_reward",
]

_MESSAGES: Catalogue = messages("crm.errors")
_WORDS = {
    "en": {
        "grant_role": "role {role!r} may not grant points; allowed: store, admin",
        "catalogue_role": "role {role!r} may not change the reward catalogue; allowed: admin",
        "redeem_role": "role {role!r} may not redeem rewards; allowed: store, admin",
        "see_points": "role {role!r} may not see the members' points",
    },
    "zh-CN": {
        "grant_role": "{role} 角色无权赠送积分；仅门店和管理员可以",
        "catalogue_role": "{role} 角色无权修改兑换目录；仅管理员可以",
        "redeem_role": "{role} 角色无权兑换礼品；仅门店和管理员可以",
        "see_points": "{role} 角色无权查看会员积分",
    },
}

MAX_GRANT = 100_000
TOP_N = 10


class SqlDialect:
    """The JSON-list spellings of the two databases, for a campaign's ``gtins`` / ``stores`` / ``territories``."""

    def __init__(self, session: Session) -> None:
        self.name = session.get_bind().dialect.name

    def items(self, column: str) -> str:
        """A subquery of a JSON list's text items."""
        if self.name == "postgresql":
            return f"SELECT json_array_elements_text(CAST({column} AS json))"
        return f"SELECT value FROM json_each({column})"


def campaign_extras_sql(c: Clock, d: SqlDialect, *, sale_filter: str = "") -> str:
    """The CTEs ``anc`` and ``cx``: one ``cx`` row per counted member sale and campaign it falls in, with
    ``extra_c``, its extra points in hundredths (bound: ``pu``; ``sale_filter`` an extra condition on ``s``).

    Starts with ``WITH RECURSIVE``; a caller appends ``, name AS (…)`` CTEs and its SELECT."""
    where = f"s.counted AND s.member_hash IS NOT NULL {sale_filter}"
    return f"""
        WITH RECURSIVE anc(store_id, tid) AS (
            SELECT p.id, p.territory_id FROM party p
            WHERE p.id IN (SELECT s.store_id FROM sale s WHERE {where})
            UNION ALL
            SELECT anc.store_id, t.parent_id FROM anc JOIN territory t ON t.id = anc.tid
            WHERE t.parent_id IS NOT NULL),
        cx AS (
            SELECT s.member_hash, s.event_time, s.gtin, s.store_id, cp.id AS campaign_id,
                   :pu * (CAST(ROUND(cp.multiplier * 100) AS INTEGER) - 100) + 100 * cp.bonus AS extra_c
            FROM sale s JOIN crm_campaign cp
              ON {c.day("s.event_time")} BETWEEN {c.day_of_date("cp.starts_on")} AND {c.day_of_date("cp.ends_on")}
            WHERE {where}
              AND (cp.gtins = '[]' OR s.gtin IN ({d.items("cp.gtins")}))
              AND ((cp.stores = '[]' AND cp.territories = '[]')
                   OR s.store_id IN ({d.items("cp.stores")})
                   OR EXISTS (SELECT 1 FROM anc WHERE anc.store_id = s.store_id
                                                  AND anc.tid IN ({d.items("cp.territories")}))))"""


@dataclass(frozen=True, slots=True)
class Balance:
    """A member's points by source; ``points`` is what she may spend."""

    regular: int
    campaign: int
    granted: int
    redeemed: int

    @property
    def points(self) -> int:
        return self.regular + self.campaign + self.granted - self.redeemed

    def as_dict(self) -> dict[str, int]:
        return {"points": self.points, "regular": self.regular, "campaign": self.campaign, "granted": self.granted,
                "redeemed": self.redeemed}  # fmt: skip


def balance(*, session: Session, member_hash: str, policy: Policy, on: date | None = None) -> Balance:
    """A member's points by source, in one statement over the sale facts and the CRM tables."""
    c = clock(session, policy.timezone, on or utcnow().date())
    sql = (
        campaign_extras_sql(c, SqlDialect(session), sale_filter="AND s.member_hash = :h")
        + """
        SELECT (SELECT COUNT(*) FROM sale s WHERE s.counted AND s.member_hash = :h) * :pu,
               (SELECT COALESCE(SUM(cx.extra_c), 0) FROM cx) / 100,
               (SELECT COALESCE(SUM(g.points), 0) FROM crm_points_grant g JOIN member m ON m.id = g.member_id
                WHERE m.phone_hash = :h),
               (SELECT COALESCE(SUM(r.points), 0) FROM crm_reward_redemption r JOIN member m ON m.id = r.member_id
                WHERE m.phone_hash = :h)"""
    )
    regular, extra, granted, redeemed = session.execute(
        text(sql), {"h": member_hash, "pu": policy.points.per_unit}
    ).one()
    return Balance(int(regular or 0), int(extra or 0), int(granted or 0), int(redeemed or 0))


def points_extra(session: Session, member_hash: str, policy: Policy) -> int:
    """Points beyond the regular rule (campaign extras + grants - rewards): the source wired into
    ``rebates.service.member_summary`` by the assembly."""
    b = balance(session=session, member_hash=member_hash, policy=policy)
    return b.campaign + b.granted - b.redeemed


# --- grants -----------------------------------------------------------------------------------------------------


def _member(session: Session, member_hash: str) -> Member:
    member = session.exec(select(Member).where(Member.phone_hash == member_hash)).first()
    if member is None or member.id is None:
        raise MemberUnknown.keyed(_MESSAGES, "member_unknown")
    return member


def _by(principal: Principal, by: str | None) -> str:
    who = f"{principal.role.value}:{principal.party_id}"
    return f"{who} ({' '.join(by.split())[:40]})" if by and by.strip() else who


def _clean(value: str, limit: int) -> str:
    return " ".join("".join(ch if ch.isprintable() else " " for ch in value).split())[:limit]


def grant_points(
    *,
    session: Session,
    principal: Principal,
    member_hash: str,
    points: int,
    reason: str,
    campaign_code: str | None = None,
    by: str | None = None,
    lang: str = "en",
    now: datetime | None = None,
) -> dict[str, Any]:
    """Grant activity points with a reason: the brand's admin to any member, a store only to its own members."""
    if principal.role not in (Role.admin, Role.store):
        raise Forbidden.keyed(_WORDS, "grant_role", role=principal.role.value, detail={"role": principal.role.value})
    if not 1 <= points <= MAX_GRANT:
        raise InvalidGrant.keyed(_MESSAGES, "grant_points", max=MAX_GRANT,
                                 detail={"field": "points", "reason": "grant_points"})  # fmt: skip
    why = _clean(reason, 200)
    if not why:
        raise InvalidGrant.keyed(_MESSAGES, "grant_reason", detail={"field": "reason", "reason": "grant_reason"})
    member = _member(session, member_hash)
    assert member.id is not None  # a stored row
    if principal.role is Role.store and member.home_store_id != principal.party_id:
        raise NotOwnMember.keyed(_MESSAGES, "not_own_member", own=principal.party_id)
    campaign_id = None
    if campaign_code:
        from crm.campaigns import get_campaign

        campaign_id = get_campaign(session=session, code=campaign_code, lang=lang).id
    row = PointsGrant(member_id=member.id, points=points, reason=why, campaign_id=campaign_id,
                      granted_by=_by(principal, by), granted_at=now or utcnow())  # fmt: skip
    session.add(row)
    session.flush()
    return {"id": row.id, "member": member.id, "points": row.points, "reason": row.reason,
            "campaign": campaign_code, "granted_by": row.granted_by,
            "granted_at": row.granted_at.isoformat()}  # fmt: skip


# --- rewards ----------------------------------------------------------------------------------------------------


def _reward_view(r: Reward) -> dict[str, Any]:
    return {"code": r.code, "name": r.name, "points_price": r.points_price, "active": r.active}


def upsert_reward(
    *,
    session: Session,
    principal: Principal,
    code: str,
    name: str,
    points_price: int,
    active: bool = True,
    lang: str = "en",
) -> dict[str, Any]:
    """Add a reward to the catalogue or change one (the brand's admin); a price is whole points, at least 1."""
    if principal.role is not Role.admin:
        role = principal.role.value
        raise Forbidden.keyed(_WORDS, "catalogue_role", role=role, detail={"role": role})
    from crm.campaigns import CODE

    if not CODE.fullmatch(code):
        raise InvalidReward.keyed(_MESSAGES, "reward_code", detail={"field": "code", "reason": "reward_code"})
    title = _clean(name, 200)
    if not title:
        raise InvalidReward.keyed(_MESSAGES, "reward_name", detail={"field": "name", "reason": "reward_name"})
    if not 1 <= points_price <= 10_000_000:
        raise InvalidReward.keyed(_MESSAGES, "reward_price", detail={"field": "points_price", "reason": "reward_price"})
    row = session.get(Reward, code) or Reward(code=code, name=title, points_price=points_price)
    row.name, row.points_price, row.active = title, points_price, active
    session.add(row)
    session.flush()
    return _reward_view(row)


def list_rewards(*, session: Session, active_only: bool = False) -> list[dict[str, Any]]:
    """The reward catalogue, cheapest first."""
    stmt = select(Reward)
    if active_only:
        stmt = stmt.where(col(Reward.active).is_(True))
    return [_reward_view(r) for r in session.exec(stmt.order_by(col(Reward.points_price), col(Reward.code)))]


def redeem_reward(
    *,
    session: Session,
    principal: Principal,
    member_hash: str,
    reward_code: str,
    store_id: str | None,
    policy: Policy,
    by: str | None = None,
    lang: str = "en",
    now: datetime | None = None,
) -> dict[str, Any]:
    """Give a member a reward at a store for its points price; 409 ``not_enough_points`` when she has too few.

    The member's row is locked (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite's write lock is taken at BEGIN) before
    her balance is read, so concurrent redemptions are serialised and never spend the same points twice."""
    if principal.role not in (Role.admin, Role.store):
        raise Forbidden.keyed(_WORDS, "redeem_role", role=principal.role.value, detail={"role": principal.role.value})
    target = store_id or principal.party_id
    if principal.role is Role.store and target != principal.party_id:
        raise NotOwnStore.keyed(_MESSAGES, "not_own_store", own=principal.party_id, detail={"store": target})
    store = session.get(Party, target)
    if store is None or store.kind != PartyKind.store:
        raise StoreNotFound.keyed(_MESSAGES, "unknown_store", store=target, detail={"store": target})
    reward = session.get(Reward, reward_code)
    if reward is None or not reward.active:
        raise RewardNotFound.keyed(_MESSAGES, "reward_not_found", code=reward_code, detail={"code": reward_code})
    member = session.exec(select(Member).where(Member.phone_hash == member_hash).with_for_update()).first()
    if member is None or member.id is None:
        raise MemberUnknown.keyed(_MESSAGES, "member_unknown")
    have = balance(session=session, member_hash=member_hash, policy=policy).points
    if have < reward.points_price:
        price = reward.points_price
        raise NotEnoughPoints.keyed(_MESSAGES, "not_enough_points", code=reward.code, price=price, points=have,
                                    detail={"reason": "not_enough_points", "points": have, "price": price})  # fmt: skip
    row = RewardRedemption(member_id=member.id, reward_code=reward.code, points=reward.points_price,
                           store_id=target, redeemed_at=now or utcnow(), redeemed_by=_by(principal, by))  # fmt: skip
    session.add(row)
    session.flush()
    return {"id": row.id, "member": member.id, "reward": reward.code, "name": reward.name, "points": row.points,
            "store": row.store_id, "redeemed_at": row.redeemed_at.isoformat(), "redeemed_by": row.redeemed_by,
            "balance": have - row.points}  # fmt: skip


# --- yearly top-10 ----------------------------------------------------------------------------------------------


def top_members(
    *,
    session: Session,
    principal: Principal,
    year: int,
    policy: Policy,
    store_id: str | None = None,
    limit: int = TOP_N,
    lang: str = "en",
) -> list[dict[str, Any]]:
    """The members whose points grew most in ``year`` (local): regular + campaign extras + grants earned in it, one
    ``GROUP BY`` in SQL; ties by member id. A store sees the ranking of its own members only."""
    if principal.role is Role.store:
        if store_id is not None and store_id != principal.party_id:
            raise NotOwnStore.keyed(_MESSAGES, "not_own_store", own=principal.party_id, detail={"store": store_id})
        store_id = principal.party_id
    elif not principal.sees_all:
        raise Forbidden.keyed(_WORDS, "see_points", role=principal.role.value, detail={"role": principal.role.value})
    first = date(year, 1, 1)
    c = clock(session, policy.timezone, first)
    lo, hi = c.start(first), c.start(date(year + 1, 1, 1))
    window = "AND s.event_time >= :lo AND s.event_time < :hi"
    only = "AND m.home_store_id = :store" if store_id is not None else ""
    sql = (
        campaign_extras_sql(c, SqlDialect(session), sale_filter=window)
        + f""",
        per AS (
            SELECT u.h, SUM(u.regular) AS regular, SUM(u.extra_c) AS extra_c, SUM(u.granted) AS granted
            FROM (SELECT s.member_hash AS h, COUNT(*) * :pu AS regular, 0 AS extra_c, 0 AS granted
                  FROM sale s WHERE s.counted AND s.member_hash IS NOT NULL {window} GROUP BY s.member_hash
                  UNION ALL
                  SELECT cx.member_hash, 0, SUM(cx.extra_c), 0 FROM cx GROUP BY cx.member_hash
                  UNION ALL
                  SELECT m.phone_hash, 0, 0, SUM(g.points) FROM crm_points_grant g JOIN member m ON m.id = g.member_id
                  WHERE g.granted_at >= :lo AND g.granted_at < :hi GROUP BY m.phone_hash) u
            GROUP BY u.h)
        SELECT m.id, m.home_store_id, m.name, per.regular, per.extra_c / 100 AS campaign, per.granted,
               per.regular + per.extra_c / 100 + per.granted AS earned
        FROM per JOIN member m ON m.phone_hash = per.h
        WHERE 1 = 1 {only}
        ORDER BY earned DESC, m.id
        LIMIT :n"""
    )
    stmt = text(sql).bindparams(bindparam("lo", type_=UTCDateTime()), bindparam("hi", type_=UTCDateTime()))
    params: dict[str, Any] = {"lo": lo, "hi": hi, "pu": policy.points.per_unit, "n": limit}
    if store_id is not None:
        params["store"] = store_id
    out = []
    for rank, row in enumerate(session.execute(stmt, params).all(), start=1):
        out.append({"rank": rank, "member": row[0], "store": row[1], "name": row[2], "year": year,
                    "regular": int(row[3] or 0), "campaign": int(row[4] or 0), "granted": int(row[5] or 0),
                    "earned": int(row[6] or 0)})  # fmt: skip
    return out
