"""O2O orders: place, route, accept or decline, the one-hour rule, deliver, cancel and reassign.

An order is offered to **one store at a time** (``orders.routing`` says which and why); the store accepts within the
policy's window (``[orders] offer_minutes``, 60 by default) or the offer **lapses** at its deadline: the worker
(:func:`lapse_due`, run by ``traceability worker`` and ``orders tick``) takes it back, tells the store
(``taken_back``), and offers the order to the next store not tried yet. Delivery is the store's sale: the clerk scans
the units at the door, which captures a ``retail_selling`` event at the store with the order as its
``bizTransaction`` and the member on it, so fees and points follow as for a counter sale.

Concurrency: every step first locks the order's row (``SELECT … FOR UPDATE`` on PostgreSQL; on SQLite every write
transaction holds the database's write lock from its start, ``BEGIN IMMEDIATE``), then re-reads its state, so two
stores accepting at once, or a store accepting while the worker lapses the offer, are decided one after the other;
and the database itself allows one open and one accepted offer per order (partial unique indexes).

Who does what: the call centre (the brand's admin) places, reassigns and cancels; a store sees only the orders
offered to it and answers only its own offers (an admin may act for a named store). Services add and flush; the
request or the command commits. Messages are worded in ``lang`` (zh-CN or en). The member is her phone's keyed hash,
never echoed: views show her member id, if she is registered.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, or_
from sqlmodel import Session, col, select

from codes.errors import MalformedCode
from codes.keyfiles import KeyFileStore
from codes.service import keyring
from codes.signing import verify
from ledger.entitlements import refusals
from ledger.errors import NotEntitled
from ledger.history import codes_for_keys
from ledger.store import EPCIS_CONTEXT, lock_store, own_event
from orders import routing
from orders.errors import DeliveryRefused, NotYourOrder, OrderConflict, OrderInvalid, OrderNotFound, word
from rebates.policy import OrdersPolicy
from scanning.epcis import capture_document
from scanning.parse import ScannedCode, parse_scan
from traceability.auth.service import Principal
from traceability.errors import Forbidden, Problem
from traceability.gs1 import is_valid_gtin14
from traceability.i18n import Catalogue, messages
from traceability.models import (
    Code,
    CodeLevel,
    CodeStatus,
    Member,
    Order,
    OrderChannel,
    OrderLine,
    OrderNotice,
    OrderNoticeKind,
    OrderOffer,
    OrderOfferOutcome,
    OrderStatus,
    OrderStep,
    Party,
    PartyKind,
    Product,
    Role,
    Sale,
)
from traceability.models.base import utcnow
from traceability.privacy import MEMBER_FIELD, MEMBER_NAMESPACE

__all__ = [
    "FINISHED",
    "LapseReport",
    "accept",
    "biz_transaction",
    "cancel",
    "decline",
    "deliver",
    "get_order",
    "lapse_due",
    "lapse_report",
    "list_notices",
    "list_orders",
    "out_for_delivery",
    "place",
    "reassign",
]

_MESSAGES: Catalogue = messages("orders.errors")
_WORDS = {
    "en": {"delivery_not_entitled": "this delivery may not be recorded with this key; nothing was stored"},
    "zh-CN": {"delivery_not_entitled": "此密钥不能记录这次送达；未保存任何内容"},
}

FINISHED = frozenset({OrderStatus.delivered, OrderStatus.cancelled})
MAX_LINES = 20
MAX_CODES = 500
BTT_PO = "urn:epcglobal:cbv:btt:po"


def biz_transaction(order_id: int) -> str:
    """The order as an EPCIS ``bizTransaction`` on its delivery's sale."""
    return f"urn:trc:order:{order_id}"


def _aware(t: datetime) -> datetime:
    return (t if t.tzinfo is not None else t.replace(tzinfo=UTC)).astimezone(UTC)


def _actor(principal: Principal | None) -> str:
    return "worker" if principal is None else f"{principal.role.value}:{principal.party_id}"[:100]


def _call_centre(principal: Principal) -> None:
    if principal.role is not Role.admin:
        raise Forbidden.keyed(_MESSAGES, "not_your_order", own=principal.party_id,
                              detail={"role": principal.role.value})  # fmt: skip


def _acting_store(session: Session, principal: Principal, store_id: str | None) -> str:
    """The store that acts: a store's key its own (and no other); the brand's admin names any store."""
    if principal.role is Role.store:
        if store_id is not None and store_id != principal.party_id:
            raise NotYourOrder.keyed(_MESSAGES, "not_your_order", own=principal.party_id)
        return principal.party_id
    if principal.role is not Role.admin:
        raise NotYourOrder.keyed(_MESSAGES, "not_your_order", own=principal.party_id)
    if store_id is None:
        raise OrderInvalid.keyed(_MESSAGES, "store_required")
    party = session.get(Party, store_id)
    if party is None or party.kind != PartyKind.store:
        raise OrderInvalid.keyed(_MESSAGES, "not_a_member_store", store=store_id[:64])
    return store_id


# --- routing, over the database ----------------------------------------------------------------------------------


@dataclass
class _Routing:
    """The member stores and their k-d tree: loaded once per request or per batch of lapses."""

    index: routing.StoreIndex
    member_stores: set[str]

    @classmethod
    def load(cls, session: Session) -> _Routing:
        rows = session.exec(
            select(Party.id, Party.lat, Party.lon).where(
                Party.kind == PartyKind.store, col(Party.member_store_no).is_not(None), Party.member_store_no != ""
            )
        ).all()
        sites = [routing.Site(i, float(la), float(lo)) for i, la, lo in rows if la is not None and lo is not None]
        return cls(routing.StoreIndex(sites), {i for i, _, _ in rows})


class _Work:
    """One unit of work on orders (a request, a batch of lapses): the clock, who acts, and what it read once."""

    def __init__(self, session: Session, *, now: datetime, by: str, policy: OrdersPolicy) -> None:
        self.session = session
        self.now = _aware(now)
        self.by = by
        self.policy = policy
        self._routing: _Routing | None = None
        self._seq: dict[int, int] = {}
        self._tried: dict[int, set[str]] = {}
        self._member: dict[int, tuple[str | None, str | None]] = {}

    @property
    def routing(self) -> _Routing:
        if self._routing is None:
            self._routing = _Routing.load(self.session)
        return self._routing

    def prefetch(self, orders: Sequence[Order]) -> None:
        """Read for many orders at once what routing them needs: their steps' numbers, the stores tried, and
        each member's home store and last store (set-based, so a batch of lapses costs a few queries)."""
        ids = [o.id for o in orders if o.id is not None and o.id not in self._seq]
        hashes: dict[str, list[int]] = defaultdict(list)
        for o in orders:
            if o.id in ids:
                hashes[o.member_hash].append(o.id)
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            seqs = dict(
                session_rows(
                    self.session.exec(
                        select(OrderStep.order_id, func.max(OrderStep.seq))
                        .where(col(OrderStep.order_id).in_(chunk))
                        .group_by(col(OrderStep.order_id))
                    )
                )
            )
            for i in chunk:
                self._seq[i] = int(seqs.get(i) or 0)
                self._tried[i] = set()
            for order_id, store in self.session.exec(
                select(OrderOffer.order_id, OrderOffer.store_id).where(col(OrderOffer.order_id).in_(chunk))
            ):
                self._tried[order_id].add(store)
        members = list(hashes)
        for start in range(0, len(members), 500):
            chunk_h = members[start : start + 500]
            home = dict(
                session_rows(
                    self.session.exec(
                        select(Member.phone_hash, Member.home_store_id).where(col(Member.phone_hash).in_(chunk_h))
                    )
                )
            )
            latest = (
                select(Sale.member_hash, func.max(Sale.event_time).label("t"))
                .where(col(Sale.member_hash).in_(chunk_h))
                .group_by(col(Sale.member_hash))
                .subquery()
            )
            last: dict[str, str] = {}
            for buyer, bought_at in self.session.exec(
                select(Sale.member_hash, Sale.store_id)
                .join(latest, (col(Sale.member_hash) == latest.c.member_hash) & (col(Sale.event_time) == latest.c.t))
                .order_by(col(Sale.id))
            ):
                if buyer is not None and bought_at is not None:
                    last[buyer] = bought_at
            for h in chunk_h:
                for order_id in hashes[h]:
                    self._member[order_id] = (home.get(h), last.get(h))

    def _ensure(self, order: Order) -> int:
        assert order.id is not None
        if order.id not in self._seq:
            self.prefetch([order])
        return order.id

    def step(
        self, order: Order, status: str, *, store: str | None, reason: str = "", note: str = "",
        at: datetime | None = None, event_id: str | None = None,
    ) -> OrderStep:  # fmt: skip
        order_id = self._ensure(order)
        self._seq[order_id] += 1
        row = OrderStep(order_id=order_id, seq=self._seq[order_id], status=status, store_id=store,
                        at=at or self.now, by=self.by, reason=reason, note=note[:500], event_id=event_id)  # fmt: skip
        self.session.add(row)
        return row

    def _has_stock(self, order: Order) -> Any:
        """Whether a store holds every line's units (units it holds, not sold or voided), when stock-aware."""
        if not self.policy.stock_aware:
            return None
        wanted = dict(
            session_rows(
                self.session.exec(select(OrderLine.gtin, OrderLine.quantity).where(OrderLine.order_id == order.id))
            )
        )
        counts: dict[tuple[str, str], int] = {}
        rows = self.session.exec(
            select(Code.holder_id, Code.gtin, func.count())
            .where(
                col(Code.gtin).in_(sorted(wanted)),
                Code.level == CodeLevel.unit,
                col(Code.status).not_in([CodeStatus.sold, CodeStatus.voided]),
                col(Code.holder_id).in_(sorted(self.routing.member_stores)),
            )
            .group_by(col(Code.holder_id), col(Code.gtin))
        ).all()
        for holder, gtin, n in rows:
            if holder is not None and gtin is not None:
                counts[(holder, gtin)] = int(n)

        def has(store: str) -> bool:
            return all(counts.get((store, g), 0) >= q for g, q in wanted.items())

        return has

    def offer_to(self, order: Order, store: str, reason: str, distance_km: float | None, note: str) -> OrderOffer:
        order_id = self._ensure(order)
        deadline = self.now + timedelta(minutes=self.policy.offer_minutes)
        offer = OrderOffer(order_id=order_id, store_id=store, offered_at=self.now, deadline=deadline, reason=reason,
                           distance_km=distance_km)  # fmt: skip
        self.session.add(offer)
        self._tried[order_id].add(store)
        order.status, order.store_id = OrderStatus.offered, store
        order.offered_at, order.deadline, order.updated_at = self.now, deadline, self.now
        self.session.add(order)
        self.step(order, OrderStatus.offered, store=store, reason=reason, note=note)
        return offer

    def route(self, order: Order) -> OrderOffer | None:
        """Offer the order to the next store (``orders.routing``), or leave it for the call centre (unrouted)."""
        order_id = self._ensure(order)
        tried = self._tried[order_id]
        choice = None
        if len(tried) < self.policy.max_offers:
            home, last = self._member.get(order_id, (None, None))
            r = self.routing
            choice = routing.choose(
                lat=order.lat, lon=order.lon, index=r.index, member_stores=r.member_stores, tried=tried,
                home_store=home, last_store=last, has_stock=self._has_stock(order),
                max_km=self.policy.max_distance_km,
            )  # fmt: skip
        if choice is None:
            order.status, order.store_id, order.offered_at, order.deadline = OrderStatus.unrouted, None, None, None
            order.updated_at = self.now
            self.session.add(order)
            self.step(order, OrderStatus.unrouted, store=None, reason="no_store", note=word("no_store"))
            return None
        km = f"{choice.distance_km:.1f}" if choice.distance_km is not None else "?"
        return self.offer_to(order, choice.store_id, choice.reason, choice.distance_km,
                             word(choice.reason, km=km))  # fmt: skip

    def close_offer(self, order: Order, outcome: str, *, at: datetime | None = None) -> OrderOffer | None:
        """Close the order's current offer (open, or accepted) with ``outcome``; the offer, or None."""
        offer = _current_offer(self.session, order)
        if offer is None:
            return None
        offer.outcome, offer.closed_at = outcome, at or self.now
        self.session.add(offer)
        # Flushed at once: the partial unique index sees the old offer closed before a new one is opened.
        self.session.flush()
        return offer

    def notify(self, order: Order, store: str, kind: str, at: datetime | None = None) -> None:
        assert order.id is not None
        self.session.add(OrderNotice(order_id=order.id, store_id=store, kind=kind, at=at or self.now))


def session_rows(rows: Iterable[Any]) -> Iterable[tuple[Any, Any]]:
    """Rows of two columns as pairs (for ``dict``)."""
    return ((r[0], r[1]) for r in rows)


def _current_offer(session: Session, order: Order) -> OrderOffer | None:
    return session.exec(
        select(OrderOffer)
        .where(
            OrderOffer.order_id == order.id,
            col(OrderOffer.outcome).in_([OrderOfferOutcome.open, OrderOfferOutcome.accepted]),
        )
        .order_by(col(OrderOffer.id).desc())
    ).first()


def _lock(session: Session, order_id: int) -> Order:
    """The order, its row locked until the transaction ends, re-read from the database (never a stale copy)."""
    order = session.exec(
        select(Order).where(Order.id == order_id).with_for_update().execution_options(populate_existing=True)
    ).first()
    if order is None:
        raise OrderNotFound.keyed(_MESSAGES, "order_not_found", order=order_id)
    return order


def _visible(session: Session, principal: Principal, order: Order) -> None:
    """A store sees an order only if it was offered to it; the brand's roles see every order."""
    if principal.sees_all:
        return
    if principal.role is Role.store:
        offered = session.exec(
            select(OrderOffer.id).where(OrderOffer.order_id == order.id, OrderOffer.store_id == principal.party_id)
        ).first()
        if offered is not None:
            return
    raise OrderNotFound.keyed(_MESSAGES, "order_not_found", order=order.id)


# --- the views ---------------------------------------------------------------------------------------------------


def _view(session: Session, order: Order, principal: Principal | None, lang: str) -> dict[str, Any]:
    """The order as ``principal`` may see it: a store that no longer has it sees its own steps, not the address."""
    own = principal is None or principal.sees_all or order.store_id == principal.party_id
    party = None if principal is None or principal.sees_all else principal.party_id
    lines = session.exec(select(OrderLine).where(OrderLine.order_id == order.id).order_by(col(OrderLine.id))).all()
    names = dict(
        session_rows(
            session.exec(select(Product.gtin, Product.name).where(col(Product.gtin).in_([ln.gtin for ln in lines])))
        )
    )
    offers = session.exec(select(OrderOffer).where(OrderOffer.order_id == order.id).order_by(col(OrderOffer.id))).all()
    steps = session.exec(select(OrderStep).where(OrderStep.order_id == order.id).order_by(col(OrderStep.seq))).all()
    member = session.exec(select(Member.id).where(Member.phone_hash == order.member_hash)).first()

    def offer_at(store: str | None, at: datetime) -> OrderOffer | None:
        found = [o for o in offers if o.store_id == store and _aware(o.offered_at) <= _aware(at)]
        return found[-1] if found else None

    history = []
    for s in steps:
        if party is not None and s.store_id != party:
            continue
        o = offer_at(s.store_id, s.at)
        km = f"{o.distance_km:.1f}" if o is not None and o.distance_km is not None else "?"
        minutes = int((_aware(o.deadline) - _aware(o.offered_at)).total_seconds() // 60) if o is not None else "?"
        history.append({
            "seq": s.seq, "status": s.status, "store": s.store_id, "at": _aware(s.at).isoformat(), "by": s.by,
            "reason": s.reason, "message": word(s.reason, lang, km=km, minutes=minutes) if s.reason else "",
            "event_id": s.event_id,
        })  # fmt: skip
    current = offers[-1] if offers and offers[-1].store_id == order.store_id else None
    return {
        "id": order.id,
        "status": order.status if own else "taken_back",
        "store": order.store_id if own else None,
        "channel": order.channel,
        "member": member,
        "address": order.address if own else None,
        "lat": order.lat if own else None,
        "lon": order.lon if own else None,
        "lines": [{"gtin": ln.gtin, "quantity": ln.quantity, "name": names.get(ln.gtin)} for ln in lines],
        "offered_at": _aware(order.offered_at).isoformat() if own and order.offered_at else None,
        "deadline": _aware(order.deadline).isoformat() if own and order.deadline else None,
        "reason": current.reason if own and current is not None else None,
        "distance_km": current.distance_km if own and current is not None else None,
        "created_at": _aware(order.created_at).isoformat(),
        "history": history,
    }


# --- placing -----------------------------------------------------------------------------------------------------


def _checked_lines(session: Session, lines: Sequence[tuple[str, int]]) -> list[tuple[str, int]]:
    if not lines:
        raise OrderInvalid.keyed(_MESSAGES, "no_lines")
    if len(lines) > MAX_LINES:
        raise OrderInvalid.keyed(_MESSAGES, "too_many_lines", max=MAX_LINES)
    seen: set[str] = set()
    for gtin, quantity in lines:
        if not is_valid_gtin14(gtin):
            raise OrderInvalid.keyed(_MESSAGES, "bad_gtin", gtin=gtin[:20])
        if gtin in seen:
            raise OrderInvalid.keyed(_MESSAGES, "duplicate_gtin", gtin=gtin)
        if not 1 <= quantity <= 1000:
            raise OrderInvalid.keyed(_MESSAGES, "bad_quantity", gtin=gtin)
        seen.add(gtin)
    known = set(session.exec(select(Product.gtin).where(col(Product.gtin).in_(sorted(seen)))).all())
    for gtin, _ in lines:
        if gtin not in known:
            raise OrderInvalid.keyed(_MESSAGES, "unknown_gtin", gtin=gtin)
    return list(lines)


def place(
    *,
    session: Session,
    principal: Principal,
    member_hash: str,
    lat: float,
    lon: float,
    lines: Sequence[tuple[str, int]],
    policy: OrdersPolicy,
    channel: str = OrderChannel.call_centre,
    address: str = "",
    now: datetime | None = None,
    lang: str = "en",
) -> dict[str, Any]:
    """Take an order for a member (the call centre) and offer it to the store routing chooses."""
    _call_centre(principal)
    if channel not in {c.value for c in OrderChannel}:
        raise OrderInvalid.keyed(_MESSAGES, "bad_channel")
    if not (-90 <= lat <= 90 and -180 <= lon <= 180) or lat != lat or lon != lon:
        raise OrderInvalid.keyed(_MESSAGES, "bad_position")
    checked = _checked_lines(session, lines)
    work = _Work(session, now=now or utcnow(), by=_actor(principal), policy=policy)
    order = Order(member_hash=member_hash, channel=channel, address=" ".join(address.split())[:500], lat=lat, lon=lon,
                  placed_by=work.by, created_at=work.now, updated_at=work.now)  # fmt: skip
    session.add(order)
    session.flush()
    assert order.id is not None
    session.add_all(OrderLine(order_id=order.id, gtin=g, quantity=q) for g, q in checked)
    session.flush()
    work.step(order, OrderStatus.placed, store=None, reason=channel)
    work.route(order)
    session.flush()
    return _view(session, order, principal, lang)


# --- the store's answers -----------------------------------------------------------------------------------------


def _open_offer_to(session: Session, order: Order, store: str, now: datetime) -> OrderOffer:
    if order.status in FINISHED:
        raise OrderConflict.keyed(_MESSAGES, "finished", order=order.id, status=order.status)
    offer = _current_offer(session, order)
    if offer is None or offer.store_id != store or offer.outcome != OrderOfferOutcome.open:
        raise OrderConflict.keyed(_MESSAGES, "not_offered", order=order.id, store=store)
    return offer


def accept(
    *, session: Session, principal: Principal, order_id: int, policy: OrdersPolicy, store_id: str | None = None,
    now: datetime | None = None, lang: str = "en",
) -> dict[str, Any]:  # fmt: skip
    """Accept the order's offer to this store before its deadline; accepting again changes nothing."""
    store = _acting_store(session, principal, store_id)
    order = _lock(session, order_id)
    _visible(session, principal, order)
    work = _Work(session, now=now or utcnow(), by=_actor(principal), policy=policy)
    if order.status in (OrderStatus.accepted, OrderStatus.out_for_delivery) and order.store_id == store:
        return _view(session, order, principal, lang)
    offer = _open_offer_to(session, order, store, work.now)
    if work.now >= _aware(offer.deadline):
        raise OrderConflict.keyed(_MESSAGES, "offer_lapsed", order=order.id, store=store,
                                  deadline=_aware(offer.deadline).isoformat())  # fmt: skip
    work.close_offer(order, OrderOfferOutcome.accepted)
    order.status, order.deadline, order.updated_at = OrderStatus.accepted, None, work.now
    session.add(order)
    work.step(order, OrderStatus.accepted, store=store)
    session.flush()
    return _view(session, order, principal, lang)


def decline(
    *, session: Session, principal: Principal, order_id: int, policy: OrdersPolicy, store_id: str | None = None,
    note: str = "", now: datetime | None = None, lang: str = "en",
) -> dict[str, Any]:  # fmt: skip
    """Decline the order's offer to this store: it goes at once to the next store not tried yet."""
    store = _acting_store(session, principal, store_id)
    order = _lock(session, order_id)
    _visible(session, principal, order)
    work = _Work(session, now=now or utcnow(), by=_actor(principal), policy=policy)
    _open_offer_to(session, order, store, work.now)
    work.close_offer(order, OrderOfferOutcome.declined)
    work.step(order, "declined", store=store, reason="declined", note=" ".join(note.split()))
    work.route(order)
    session.flush()
    return _view(session, order, principal, lang)


def _accepted_by(session: Session, order: Order, store: str) -> None:
    if order.status in FINISHED:
        raise OrderConflict.keyed(_MESSAGES, "finished", order=order.id, status=order.status)
    if order.status not in (OrderStatus.accepted, OrderStatus.out_for_delivery) or order.store_id != store:
        raise OrderConflict.keyed(_MESSAGES, "not_accepted", order=order.id, store=store)


def out_for_delivery(
    *, session: Session, principal: Principal, order_id: int, policy: OrdersPolicy, store_id: str | None = None,
    now: datetime | None = None, lang: str = "en",
) -> dict[str, Any]:  # fmt: skip
    """The accepting store sets out with the order (idempotent)."""
    store = _acting_store(session, principal, store_id)
    order = _lock(session, order_id)
    _visible(session, principal, order)
    _accepted_by(session, order, store)
    if order.status == OrderStatus.out_for_delivery:
        return _view(session, order, principal, lang)
    work = _Work(session, now=now or utcnow(), by=_actor(principal), policy=policy)
    order.status, order.updated_at = OrderStatus.out_for_delivery, work.now
    session.add(order)
    work.step(order, OrderStatus.out_for_delivery, store=store)
    session.flush()
    return _view(session, order, principal, lang)


# --- delivery: the store's sale ------------------------------------------------------------------------------------


@dataclass
class _Scanned:
    raw: str
    scanned: ScannedCode | None = None
    code: Code | None = None
    reason: str | None = None


def _check_delivery(
    session: Session, order: Order, store: str, raws: Sequence[str], *, company_prefix_length: int,
    key_files: KeyFileStore | None, lang: str,
) -> list[_Scanned]:  # fmt: skip
    """Every scanned code checked as the till checks a sale (signature, life cycle, held by this store), and the
    whole against the order's lines; raises :class:`DeliveryRefused` listing every refused code."""
    if not raws:
        raise OrderInvalid.keyed(_MESSAGES, "no_codes")
    if len(raws) > MAX_CODES:
        raise OrderInvalid.keyed(_MESSAGES, "too_many_codes", max=MAX_CODES)
    items: list[_Scanned] = []
    for raw in raws:
        item = _Scanned(raw)
        try:
            item.scanned = parse_scan(raw, company_prefix_length=company_prefix_length)
        except MalformedCode:
            item.reason = "malformed"
        items.append(item)
    records = codes_for_keys(session, [i.scanned.key for i in items if i.scanned is not None])
    ring = keyring(session=session)
    lines = dict(session_rows(session.exec(select(OrderLine.gtin, OrderLine.quantity).where(
        OrderLine.order_id == order.id))))  # fmt: skip
    seen: set[str] = set()
    for item in items:
        if item.reason is not None or item.scanned is None:
            continue
        s = item.scanned
        item.code = records.get(s.key)
        item.reason = _unit_reason(s, item.code, store, lines, ring, key_files, seen)
        seen.add(s.key)
    counted: dict[str, int] = defaultdict(int)
    for item in items:
        if item.reason is None and item.scanned is not None and item.scanned.gtin is not None:
            counted[item.scanned.gtin] += 1
    rejected: list[dict[str, Any]] = [
        {"code": i.raw[:200], "reason": i.reason, "message": word(i.reason, lang, store=store)}
        for i in items
        if i.reason is not None
    ]
    for gtin, ordered in lines.items():
        if counted.get(gtin, 0) != ordered:
            rejected.append({"code": None, "reason": "quantity_mismatch",
                             "message": word("quantity_mismatch", lang, gtin=gtin, ordered=ordered,
                                             scanned=counted.get(gtin, 0))})  # fmt: skip
    if rejected:
        raise DeliveryRefused.keyed(_MESSAGES, "delivery_refused", count=len(rejected),
                                    detail={"rejected": rejected, "order": order.id})  # fmt: skip
    return items


def _unit_reason(
    s: ScannedCode, code: Code | None, store: str, lines: dict[str, int], ring: Any, key_files: KeyFileStore | None,
    seen: set[str],
) -> str | None:  # fmt: skip
    if s.key in seen:
        return "duplicate"
    if s.kind != "sgtin" or (code is not None and code.level != CodeLevel.unit):
        return "not_a_unit"
    if s.signed is not None:
        secrets_ = None
        if s.signed.mode == "hmac" and key_files is not None:
            try:
                secrets_ = {s.signed.key_id: key_files.load_hmac_secret(s.signed.key_id)}
            except Exception:  # noqa: BLE001 - an unknown compact key is a bad signature below
                secrets_ = None
        if not verify(s.signed, ring, secrets_).ok:
            return "bad_signature"
    elif code is not None and code.key_id is not None:
        return "signature_missing"
    if code is None:
        return "never_issued"
    status = CodeStatus(code.status)
    if status is CodeStatus.voided:
        return "voided"
    if status is CodeStatus.sold:
        return "already_sold"
    if status in (CodeStatus.generated, CodeStatus.printed):
        return "not_commissioned"
    if code.holder_id != store:
        return "not_holder"
    if s.gtin not in lines:
        return "wrong_product"
    return None


def _gln_uri(party: Party) -> str:
    return f"https://id.gs1.org/414/{party.gln}"


def deliver(
    *, session: Session, principal: Principal, order_id: int, codes: Sequence[str], policy: OrdersPolicy,
    store_id: str | None = None, now: datetime | None = None, company_prefix_length: int = 7,
    key_files: KeyFileStore | None = None, lang: str = "en",
) -> dict[str, Any]:  # fmt: skip
    """Deliver an accepted order: the scanned units become the store's ``retail_selling`` with the order as its
    ``bizTransaction`` and the member on it; refused whole (``DeliveryRefused``) unless every unit is right."""
    store_id = _acting_store(session, principal, store_id)
    lock_store(session)  # the ledger's writers one at a time, before the order: the order every capture takes
    order = _lock(session, order_id)
    _visible(session, principal, order)
    _accepted_by(session, order, store_id)
    work = _Work(session, now=now or utcnow(), by=_actor(principal), policy=policy)
    items = _check_delivery(session, order, store_id, codes, company_prefix_length=company_prefix_length,
                            key_files=key_files, lang=lang)  # fmt: skip
    store = session.get(Party, store_id)
    assert store is not None
    offset = work.now.strftime("%z")
    event: dict[str, Any] = {
        "eventID": f"urn:uuid:{uuid.uuid4()}",
        "type": "ObjectEvent",
        "action": "OBSERVE",
        "bizStep": "retail_selling",
        "epcList": [i.scanned.epc_urn for i in items if i.scanned is not None],
        "eventTime": work.now.isoformat(timespec="milliseconds"),
        "eventTimeZoneOffset": f"{offset[:3]}:{offset[3:]}" if offset else "+00:00",
        "readPoint": {"id": _gln_uri(store)},
        "bizLocation": {"id": _gln_uri(store)},
        "bizTransactionList": [{"type": BTT_PO, "bizTransaction": biz_transaction(order.id or 0)}],
        MEMBER_FIELD: order.member_hash,
    }
    # The ledger's rules of who may assert what, checked as the capture would; the capture itself then runs as the
    # scanners' own (principal None), as a till's sale does: the units' signatures were verified above.
    refused = refusals(session, principal, [own_event(event)])
    if refused:
        problems = [Problem("delivery", r.message) for r in refused]
        reasons = [{"eventID": r.event_id, "reason": r.reason} for r in refused]
        raise NotEntitled.keyed(_WORDS, "delivery_not_entitled", detail={"problems": problems, "reasons": reasons})
    document = {"@context": [EPCIS_CONTEXT, {"trc": MEMBER_NAMESPACE}], "type": "EPCISDocument",
                "schemaVersion": "2.0", "creationDate": utcnow().isoformat(timespec="milliseconds"),
                "epcisBody": {"eventList": [event]}}  # fmt: skip
    capture_document(session=session, document=document, origin="scan", party_id=store_id)
    work.close_offer(order, OrderOfferOutcome.delivered)
    order.status, order.updated_at = OrderStatus.delivered, work.now
    session.add(order)
    work.step(order, OrderStatus.delivered, store=store_id, event_id=event["eventID"])
    session.flush()
    return _view(session, order, principal, lang)


# --- the call centre ---------------------------------------------------------------------------------------------


def cancel(
    *, session: Session, principal: Principal, order_id: int, policy: OrdersPolicy, note: str = "",
    now: datetime | None = None, lang: str = "en",
) -> dict[str, Any]:  # fmt: skip
    """Cancel an order not yet delivered (the call centre); the store that has it is told."""
    _call_centre(principal)
    order = _lock(session, order_id)
    if order.status in FINISHED:
        raise OrderConflict.keyed(_MESSAGES, "finished", order=order.id, status=order.status)
    work = _Work(session, now=now or utcnow(), by=_actor(principal), policy=policy)
    offer = work.close_offer(order, OrderOfferOutcome.withdrawn)
    if offer is not None:
        work.notify(order, offer.store_id, OrderNoticeKind.cancelled)
    order.status, order.deadline, order.updated_at = OrderStatus.cancelled, None, work.now
    session.add(order)
    work.step(order, OrderStatus.cancelled, store=order.store_id, reason="cancelled", note=" ".join(note.split()))
    session.flush()
    return _view(session, order, principal, lang)


def reassign(
    *, session: Session, principal: Principal, order_id: int, policy: OrdersPolicy, store_id: str | None = None,
    note: str = "", now: datetime | None = None, lang: str = "en",
) -> dict[str, Any]:  # fmt: skip
    """Take the order from its store (told: ``withdrawn``) and offer it to ``store_id``, or to the next store."""
    _call_centre(principal)
    order = _lock(session, order_id)
    if order.status in FINISHED:
        raise OrderConflict.keyed(_MESSAGES, "finished", order=order.id, status=order.status)
    work = _Work(session, now=now or utcnow(), by=_actor(principal), policy=policy)
    if store_id is not None and store_id not in work.routing.member_stores:
        raise OrderInvalid.keyed(_MESSAGES, "not_a_member_store", store=store_id[:64])
    offer = work.close_offer(order, OrderOfferOutcome.withdrawn)
    if offer is not None:
        work.notify(order, offer.store_id, OrderNoticeKind.withdrawn)
        work.step(order, "withdrawn", store=offer.store_id, reason="withdrawn", note=" ".join(note.split()))
    if store_id is None:
        work.route(order)
    else:
        km = work.routing.index.distance_km(store_id, order.lat, order.lon)
        work.offer_to(order, store_id, "reassigned", round(km, 3) if km is not None else None, word("reassigned"))
    session.flush()
    return _view(session, order, principal, lang)


# --- the one-hour rule -------------------------------------------------------------------------------------------


@dataclass
class LapseReport:
    """What one pass of the worker did: each lapsed offer, and where its order went (None: to the call centre)."""

    lapsed: list[dict[str, Any]] = field(default_factory=list)
    more: bool = False
    """A full batch: more offers may be due; run again."""

    def as_dict(self) -> dict[str, Any]:
        return {"lapsed": self.lapsed, "more": self.more}


def lapse_due(*, session: Session, now: datetime, policy: OrdersPolicy, limit: int = 500) -> LapseReport:
    """Lapse every open offer whose deadline has passed (up to ``limit``), tell the store, offer the order onwards.

    The deadlines are in the database, so whoever runs this (the worker, ``orders tick``), however late or after
    however many restarts, finds every lapse and acts on each exactly once: the orders' rows are locked (skipping
    those another worker holds, on PostgreSQL) and each is re-read before it changes.
    """
    now = _aware(now)
    due = session.exec(
        select(Order)
        .where(Order.status == OrderStatus.offered, col(Order.deadline) <= now)
        .order_by(col(Order.deadline), col(Order.id))
        .limit(limit)
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    ).all()
    report = LapseReport(more=len(due) == limit)
    if not due:
        return report
    work = _Work(session, now=now, by="worker", policy=policy)
    work.prefetch(due)
    offers = {
        o.order_id: o
        for o in session.exec(
            select(OrderOffer).where(
                col(OrderOffer.order_id).in_([o.id for o in due]), OrderOffer.outcome == OrderOfferOutcome.open
            )
        )
    }
    for order in due:
        offer = offers.get(order.id or 0)
        if offer is None:  # pragma: no cover - an offered order without its open offer breaks the model's rules
            continue
        deadline = _aware(offer.deadline)
        offer.outcome, offer.closed_at = OrderOfferOutcome.lapsed, deadline
        session.add(offer)
        minutes = int((deadline - _aware(offer.offered_at)).total_seconds() // 60)
        work.step(order, "lapsed", store=offer.store_id, reason="lapsed", note=word("lapsed", minutes=minutes),
                  at=deadline)  # fmt: skip
        work.notify(order, offer.store_id, OrderNoticeKind.taken_back, at=now)
    session.flush()  # every lapsed offer closed before the next ones open (one open offer per order)
    for order in due:
        offer = offers.get(order.id or 0)
        if offer is None:  # pragma: no cover
            continue
        nxt = work.route(order)
        report.lapsed.append({"order": order.id, "store": offer.store_id,
                              "deadline": _aware(offer.deadline).isoformat(),
                              "next_store": nxt.store_id if nxt is not None else None})  # fmt: skip
    session.flush()
    return report


# --- reading -----------------------------------------------------------------------------------------------------


def get_order(*, session: Session, principal: Principal, order_id: int, lang: str = "en") -> dict[str, Any]:
    """One order as the caller may see it (a store: only one offered to it)."""
    order = session.get(Order, order_id)
    if order is None:
        raise OrderNotFound.keyed(_MESSAGES, "order_not_found", order=order_id)
    _visible(session, principal, order)
    return _view(session, order, principal, lang)


def list_orders(
    *, session: Session, principal: Principal, status: str | None = None, store_id: str | None = None,
    limit: int = 50, offset: int = 0, lang: str = "en",
) -> list[dict[str, Any]]:  # fmt: skip
    """Orders, newest first: a store's those offered to it (``status`` as it sees them), the call centre's all."""
    stmt = select(Order).order_by(col(Order.id).desc())
    party = None if principal.sees_all else principal.party_id
    if principal.role is not Role.store and not principal.sees_all:
        return []
    if party is not None:
        stmt = stmt.where(col(Order.id).in_(select(OrderOffer.order_id).where(OrderOffer.store_id == party)))
    if store_id is not None:
        stmt = stmt.where(Order.store_id == store_id)
    if status == "taken_back" and party is not None:
        stmt = stmt.where(or_(col(Order.store_id).is_(None), col(Order.store_id) != party))
    elif status is not None:
        stmt = stmt.where(Order.status == status)
        if party is not None:
            stmt = stmt.where(Order.store_id == party)
    orders = session.exec(stmt.offset(offset).limit(limit)).all()
    return [_view(session, o, principal, lang) for o in orders]


def list_notices(
    *, session: Session, principal: Principal, after: int = 0, store_id: str | None = None, limit: int = 100,
    lang: str = "en",
) -> list[dict[str, Any]]:  # fmt: skip
    """What stores were told (a store: only itself), oldest first after the notice ``after`` (a page polls)."""
    stmt = select(OrderNotice).where(col(OrderNotice.id) > after).order_by(col(OrderNotice.id)).limit(limit)
    if not principal.sees_all:
        stmt = stmt.where(OrderNotice.store_id == principal.party_id)
    elif store_id is not None:
        stmt = stmt.where(OrderNotice.store_id == store_id)
    return [
        {
            "id": n.id,
            "order": n.order_id,
            "store": n.store_id,
            "kind": n.kind,
            "at": _aware(n.at).isoformat(),
            "message": word(f"notice_{n.kind}", lang, order=n.order_id),
        }  # fmt: skip
        for n in session.exec(stmt)
    ]


def lapse_report(
    *, session: Session, principal: Principal, since: datetime | None = None, until: datetime | None = None,
    lang: str = "en",
) -> list[dict[str, Any]]:  # fmt: skip
    """Per store, its offers and how they ended, the stores that let most lapse first: who keeps customers waiting."""
    _call_centre(principal)
    stmt = select(OrderOffer.store_id, OrderOffer.outcome, func.count()).group_by(
        col(OrderOffer.store_id), col(OrderOffer.outcome)
    )
    if since is not None:
        stmt = stmt.where(col(OrderOffer.offered_at) >= _aware(since))
    if until is not None:
        stmt = stmt.where(col(OrderOffer.offered_at) < _aware(until))
    per: dict[str, dict[str, int]] = defaultdict(lambda: {o.value: 0 for o in OrderOfferOutcome})
    for store, outcome, n in session.exec(stmt):
        per[store][outcome] = int(n)
    rows = []
    for store, counts in per.items():
        offers = sum(counts.values())
        closed = offers - counts["open"]
        rows.append({"store": store, "offers": offers, **counts,
                     "lapse_rate": f"{counts['lapsed'] / closed:.3f}" if closed else "0.000"})  # fmt: skip
    return sorted(rows, key=lambda r: (-r["lapsed"], r["store"]))
