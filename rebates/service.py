"""Members: points on sell-through and the six-get-one rule, from the sales the capture listener materialised.

A member is known only by the keyed hash of their phone (:mod:`traceability.privacy`). Points and purchases count a
unit once (its counted sale), so a clone sold twice earns nothing twice. Redemptions are recorded rows: a free unit
is given only while the member has earned more than they redeemed, and the free unit itself, when scanned, does not
count towards the next one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from codes.errors import MalformedCode
from ledger.keys import is_sgtin_key, key_of
from rebates.errors import NoFreeItem
from rebates.policy import Policy
from traceability.auth.service import Principal
from traceability.errors import Forbidden, NotFound
from traceability.i18n import Catalogue, messages
from traceability.models import Party, PartyKind, Redemption, Role, Sale

_WORDS: Catalogue = messages("rebates.service")

__all__ = ["MemberSummary", "PointsExtra", "member_summary", "redeem_free_item", "set_points_extras"]

PointsExtra = Callable[[Session, str, Policy], int]
"""Points of a member (by phone hash) on top of the regular rule, such as member care's campaign extras, activity
grants less rewards bought (``crm.points.points_extra``). ``rebates`` sits below ``crm`` and never imports it: the
assembly (``traceability.app.wire_listeners``) hands the source in, as it wires the capture listeners."""
_extras: tuple[PointsExtra, ...] = ()


def set_points_extras(*sources: PointsExtra) -> None:
    """Replace the sources of points beyond the regular rule (idempotent; none: the regular rule alone)."""
    global _extras
    _extras = tuple(sources)


@dataclass
class MemberSummary:
    """A member's points balance, six-get-one standing and history (newest first)."""

    points: int
    units_bought: int
    qualifying_units: int
    free_earned: int
    free_redeemed: int
    free_available: int
    next_free_after: int
    """Qualifying units still to buy before the next free one."""
    history: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "points": self.points,
            "units_bought": self.units_bought,
            "qualifying_units": self.qualifying_units,
            "free_earned": self.free_earned,
            "free_redeemed": self.free_redeemed,
            "free_available": self.free_available,
            "next_free_after": self.next_free_after,
            "history": self.history,
        }


def _aware(t: datetime) -> datetime:
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)


def _counts(session: Session, member: str, policy: Policy) -> tuple[int, int, int]:
    """(units bought, qualifying units, free units redeemed) for a member, aggregated in SQL."""
    bought = select(func.count()).select_from(Sale).where(Sale.member_hash == member, col(Sale.counted).is_(True))
    units = int(session.exec(bought).one())
    free_units = select(Redemption.unit_key).where(Redemption.member_hash == member,
                                                   col(Redemption.unit_key).is_not(None))  # fmt: skip
    qualifying = bought.where(col(Sale.unit_key).not_in(free_units))
    if policy.points.member_pack_gtins:
        qualifying = qualifying.where(col(Sale.gtin).in_(policy.points.member_pack_gtins))
    q = int(session.exec(qualifying).one())
    redeemed = int(
        session.exec(select(func.count()).select_from(Redemption).where(Redemption.member_hash == member)).one()
    )
    return units, q, redeemed


def member_summary(
    *, session: Session, member_hash: str, policy: Policy, principal: Principal | None = None, limit: int = 100
) -> MemberSummary:
    """Points, six-get-one standing and history of a member; a store's key sees the history at its own store only."""
    units, qualifying, redeemed = _counts(session, member_hash, policy)
    earned = qualifying // policy.points.free_after
    summary = MemberSummary(
        points=units * policy.points.per_unit + sum(extra(session, member_hash, policy) for extra in _extras),
        units_bought=units,
        qualifying_units=qualifying,
        free_earned=earned,
        free_redeemed=redeemed,
        free_available=max(0, earned - redeemed),
        next_free_after=policy.points.free_after - qualifying % policy.points.free_after,
    )
    sales = select(Sale).where(Sale.member_hash == member_hash, col(Sale.counted).is_(True))
    gifts = select(Redemption).where(Redemption.member_hash == member_hash)
    if principal is not None and principal.role is Role.store:
        sales = sales.where(Sale.store_id == principal.party_id)
        gifts = gifts.where(Redemption.store_id == principal.party_id)
    history: list[dict[str, Any]] = []
    for s in session.exec(sales.order_by(col(Sale.event_time).desc(), col(Sale.id).desc()).limit(limit)):
        history.append({"at": _aware(s.event_time).isoformat(), "kind": "purchase", "store": s.store_id,
                        "unit": s.unit_key, "event_id": s.event_id, "points": policy.points.per_unit})  # fmt: skip
    for r in session.exec(gifts.order_by(col(Redemption.redeemed_at).desc()).limit(limit)):
        history.append({"at": _aware(r.redeemed_at).isoformat(), "kind": "free_item", "store": r.store_id,
                        "unit": r.unit_key, "redemption_id": r.id, "points": 0})  # fmt: skip
    history.sort(key=lambda h: h["at"], reverse=True)
    summary.history = history[:limit]
    return summary


def redeem_free_item(
    *, session: Session, member_hash: str, store_id: str, policy: Policy, principal: Principal,
    unit: str | None = None, note: str = "", company_prefix_length: int = 7,
) -> Redemption:  # fmt: skip
    """Give a member the free unit they earned (six-get-one) at a store, and record it; 409 if none is due."""
    if principal.role is Role.store and store_id != principal.party_id:
        raise Forbidden.keyed(_WORDS, "own_store_only", store=principal.party_id)
    store = session.get(Party, store_id)
    if store is None or store.kind != PartyKind.store:
        raise NotFound.keyed(_WORDS, "unknown_store", store=store_id, detail={"party": store_id})
    key = key_of(unit) if unit else None
    if key is not None and not is_sgtin_key(key):
        raise MalformedCode.keyed(_WORDS, "not_a_unit", unit=unit, detail={"field": "unit"})
    # Serialise redemptions of one member: the row count decides, so two tills cannot both give the last one away.
    session.exec(select(Redemption.id).where(Redemption.member_hash == member_hash).with_for_update()).all()
    summary = member_summary(session=session, member_hash=member_hash, policy=policy, limit=0)
    if summary.free_available < 1:
        raise NoFreeItem.keyed(
            _WORDS, "no_free_item", bought=summary.qualifying_units, given=summary.free_redeemed,
            every=policy.points.free_after, detail={"next_free_after": summary.next_free_after},
        )
    row = Redemption(member_hash=member_hash, store_id=store_id, unit_key=key, note=note)
    session.add(row)
    session.flush()
    return row
