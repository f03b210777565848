"""Prospects: the names a store hands in before they are members, the monthly target, and the credit.

A store hands in prospects by phone; the phone is hashed at the door with the members' key (as the registry does),
so a prospect and the member she becomes are the same hash and nothing in clear is kept. The **first** store to
name her keeps the credit (``phone_hash`` is unique; a concurrent hand-in of the same phone loses quietly, through
``ON CONFLICT DO NOTHING``); a store may not name someone who is a member already (or has bought as one), so no store
claims another's member.

Matching needs no step of its own: a prospect is *converted* once a member with her hash registered, or a sale to
her was made, at or after the hand-in, whatever the order the rows arrived in. Her purchases from the hand-in on are
credited to the store that named her, wherever she buys. Per store and month (the local month of the hand-in):
handed in against the policy's target (``[crm] prospect_target``, 20), converted, and the units and value credited.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from crm.errors import InvalidProspects, NotOwnStore, StoreNotFound, word
from rebates.policy import Policy
from traceability.auth.service import Principal
from traceability.errors import Forbidden
from traceability.i18n import Catalogue, messages
from traceability.models import Member, Party, PartyKind, Prospect, Role, Sale
from traceability.models.base import utcnow
from traceability.privacy import is_member_hash

__all__ = ["MAX_HAND_IN", "MONTH", "hand_in", "prospect_report"]

_MESSAGES: Catalogue = messages("crm.errors")
_WORDS = {
    "en": {
        "hand_in_role": "role {role!r} may not hand in prospects; allowed: store, admin",
        "see_prospects": "role {role!r} may not see prospects",
    },
    "zh-CN": {
        "hand_in_role": "{role} 角色无权提交潜在会员；仅门店和管理员可以",
        "see_prospects": "{role} 角色无权查看潜在会员",
    },
}

MAX_HAND_IN = 1000
MONTH = re.compile(r"(\d{4})-(0[1-9]|1[0-2])")
_CENT = Decimal("0.01")


def _store(session: Session, principal: Principal, store_id: str | None) -> str:
    if principal.role not in (Role.store, Role.admin):
        raise Forbidden.keyed(_WORDS, "hand_in_role", role=principal.role.value, detail={"role": principal.role.value})
    target = store_id or principal.party_id
    if principal.role is Role.store and target != principal.party_id:
        raise NotOwnStore.keyed(_MESSAGES, "not_own_store", own=principal.party_id, detail={"store": target})
    party = session.get(Party, target)
    if party is None or party.kind != PartyKind.store:
        raise StoreNotFound.keyed(_MESSAGES, "unknown_store", store=target, detail={"store": target})
    return target


def _insert(session: Session, row: dict[str, Any]) -> bool:
    table: Any = Prospect.__table__  # type: ignore[attr-defined]
    dialect = session.get_bind().dialect.name
    insert: Any = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(table).on_conflict_do_nothing(index_elements=["phone_hash"]).returning(table.c.id)
    return session.connection().execute(stmt, row).first() is not None


def hand_in(
    *,
    session: Session,
    principal: Principal,
    phone_hashes: list[str | None],
    policy: Policy,
    store_id: str | None = None,
    lang: str = "en",
    now: datetime | None = None,
) -> dict[str, Any]:
    """Hand in prospects (phone hashes, None for a phone that was not one) for a store (a store's key: its own);
    one outcome per phone, in order: ``added``, ``already_yours``, ``already_named``, ``already_member``,
    ``invalid_phone``."""
    target = _store(session, principal, store_id)
    if not 1 <= len(phone_hashes) <= MAX_HAND_IN:
        raise InvalidProspects.keyed(_MESSAGES, "prospects_count", max=MAX_HAND_IN,
                                     detail={"field": "members", "reason": "prospects_count"})  # fmt: skip
    now = now or utcnow()
    month = now.astimezone(ZoneInfo(policy.timezone)).strftime("%Y-%m")
    wanted = sorted({h for h in phone_hashes if h is not None and is_member_hash(h)})
    members = set(session.exec(select(Member.phone_hash).where(col(Member.phone_hash).in_(wanted))))
    buyers = session.exec(select(Sale.member_hash).where(col(Sale.member_hash).in_(wanted))).all()
    members |= {h for h in buyers if h is not None}
    outcomes: list[dict[str, Any]] = []
    counts: dict[str, int] = {}
    for i, h in enumerate(phone_hashes):
        if h is None or not is_member_hash(h):
            status = "invalid_phone"
        elif h in members:
            status = "already_member"
        elif _insert(session, {"phone_hash": h, "store_id": target, "month": month, "handed_at": now}):
            status = "added"
        else:
            owner = session.exec(select(Prospect.store_id).where(Prospect.phone_hash == h)).first()
            status = "already_yours" if owner == target else "already_named"
        counts[status] = counts.get(status, 0) + 1
        outcomes.append({"index": i, "status": status, "message": word(f"prospect.{status}", lang, store=target)})
    session.flush()
    return {"store": target, "month": month, "counts": counts, "items": outcomes}


def prospect_report(
    *,
    session: Session,
    principal: Principal,
    month: str,
    policy: Policy,
    store_id: str | None = None,
    lang: str = "en",
) -> list[dict[str, Any]]:
    """Per store, the prospects handed in that month against the target, how many converted, and the units and
    value credited to the store from them; every member store is listed, those that handed in none too."""
    if not MONTH.fullmatch(month or ""):
        raise InvalidProspects.keyed(_MESSAGES, "bad_month", month=month,
                                     detail={"field": "month", "reason": "bad_month"})  # fmt: skip
    if principal.role is Role.store:
        if store_id is not None and store_id != principal.party_id:
            raise NotOwnStore.keyed(_MESSAGES, "not_own_store", own=principal.party_id, detail={"store": store_id})
        store_id = principal.party_id
    elif not principal.sees_all:
        raise Forbidden.keyed(_WORDS, "see_prospects", role=principal.role.value, detail={"role": principal.role.value})
    only = "AND st.id = :store" if store_id is not None else ""
    sql = f"""
        WITH pm AS (
            SELECT pr.id, pr.store_id, pr.phone_hash, pr.handed_at,
                   CASE WHEN EXISTS (SELECT 1 FROM member m WHERE m.phone_hash = pr.phone_hash
                                                              AND m.created_at >= pr.handed_at)
                          OR EXISTS (SELECT 1 FROM sale s WHERE s.member_hash = pr.phone_hash AND s.counted
                                                            AND s.event_time >= pr.handed_at)
                        THEN 1 ELSE 0 END AS converted
            FROM crm_prospect pr WHERE pr.month = :month),
        cred AS (
            SELECT pm.store_id, COUNT(*) AS units, SUM(COALESCE(p.unit_price, 0)) AS value
            FROM pm JOIN sale s ON s.member_hash = pm.phone_hash AND s.counted AND s.event_time >= pm.handed_at
            LEFT JOIN product p ON p.gtin = s.gtin
            GROUP BY pm.store_id),
        per AS (SELECT pm.store_id, COUNT(*) AS handed_in, SUM(pm.converted) AS converted FROM pm
                GROUP BY pm.store_id)
        SELECT st.id, st.name, COALESCE(per.handed_in, 0), COALESCE(per.converted, 0),
               COALESCE(cred.units, 0), COALESCE(cred.value, 0)
        FROM party st
        LEFT JOIN per ON per.store_id = st.id
        LEFT JOIN cred ON cred.store_id = st.id
        WHERE st.kind = 'store' AND (st.member_store_no IS NOT NULL OR per.store_id IS NOT NULL) {only}
        ORDER BY st.id"""
    params: dict[str, Any] = {"month": month}
    if store_id is not None:
        params["store"] = store_id
    target = policy.crm.prospect_target_per_month
    out = []
    for sid, name, handed, converted, units, value in session.execute(text(sql), params).all():
        handed, converted = int(handed), int(converted or 0)
        money = str(Decimal(str(value or 0)).quantize(_CENT, rounding=ROUND_HALF_EVEN))
        out.append({"store": sid, "name": name, "month": month, "handed_in": handed, "target": target,
                    "short_of_target": max(0, target - handed), "met_target": handed >= target,
                    "converted": converted, "credited_units": int(units or 0),
                    "credited_value": money})  # fmt: skip
    return out
