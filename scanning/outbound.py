"""Outbound checks at the scan: goods going where the distributor may not send them are flagged on the dock, while
they can still be stopped, not only by an alert after they arrived.

The facts and the decisions are the flow graph's: its master data (``flow_graph.history.load_masterdata``) and its
pure rules (``flow_graph.rules.channel_breach``, ``outside_territories``, ``attribute``), so a warning at the scan
is the alert the diversion rules raise once the goods move, and the two cannot drift apart.

- ``unauthorized_channel`` (red): the sender is (or belongs to) a distributor and the destination is a store that
  does not list it among its suppliers;
- ``out_of_territory`` (red): the destination is a market party outside the territories of the distributor
  responsible for the goods (the distributor the brand last shipped the code to, else the sender's);
- ``not_holder`` (amber): the code is held by a party that is not on the sender's side;
- ``wrong_product`` (amber): the shipment's order names its products and the code is (or holds) another one;
- ``over_quantity`` / ``under_quantity`` (amber, at close): units scanned against the order's expected quantity;
- ``duplicate_order`` (amber, at close): the sender already closed a shipment for the same order reference.

Red are the ones that raise a diversion alert against the distributor once shipped. The brand's policy
(``[outbound]`` in the policy file, ``rebates.policy.OutboundPolicy``) decides per scan check whether a failing code
is accepted with its warning or refused (rejected with the check as its reason). A brand-owned sender is not
checked for channel or territory: its shipments are what makes a distributor responsible.

Warnings are stored language-neutral (kind and parameters) and worded when shown, in zh-CN or en
(``traceability.i18n.negotiate``); issue 17 moves these few messages into the catalogues with Babel.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from flow_graph.history import history_of, load_masterdata, load_view
from flow_graph.rules import MasterData, attribute, channel_breach, outside_territories, same_side
from ledger.state import fold
from traceability.auth.service import Principal, scope_to_party
from traceability.i18n import Catalogue, messages, wording
from traceability.models import Code, Party, Product, Shipment, ShipmentItem

__all__ = [
    "CLOSING_KINDS",
    "POLICY_KINDS",
    "RED",
    "CodeToShip",
    "OutboundWarning",
    "ShipmentListing",
    "closing_warnings",
    "code_warnings",
    "destination_warnings",
    "dump",
    "list_shipments",
    "load",
    "products_behind",
    "receipt_warnings",
]

POLICY_KINDS = ("unauthorized_channel", "out_of_territory", "not_holder", "wrong_product")
"""The checks of a scanned code; the policy says for each whether it warns or refuses."""
CLOSING_KINDS = ("over_quantity", "under_quantity", "duplicate_order")
"""The checks of a whole shipment when it is closed; they ask for confirmation, never refuse."""
RED = frozenset({"unauthorized_channel", "out_of_territory"})
"""Warnings that become a diversion alert against the distributor once the goods move."""

_MESSAGES: Catalogue = messages("scanning.outbound")


@dataclass(frozen=True, slots=True)
class OutboundWarning:
    """One failed check: its kind and the facts its message names (party labels, territories, counts)."""

    kind: str
    params: dict[str, str] = field(default_factory=dict)

    @property
    def severity(self) -> str:
        """``high`` (red on the page: a diversion alert once shipped) or ``medium`` (amber)."""
        return "high" if self.kind in RED else "medium"

    def message(self, lang: str) -> str:
        return wording(_MESSAGES, self.kind, lang, **self.params)

    def as_dict(self, lang: str) -> dict[str, str]:
        """The contract's shape: ``kind`` and ``message`` (in ``lang``), with the ``severity`` the page colours."""
        return {"kind": self.kind, "severity": self.severity, "message": self.message(lang)}

    def stored(self) -> dict[str, Any]:
        return {"kind": self.kind, "params": self.params}


def dump(warnings: Iterable[OutboundWarning]) -> str | None:
    """Warnings as stored (JSON, language-neutral); None when there are none."""
    rows = [w.stored() for w in warnings]
    return json.dumps(rows, ensure_ascii=False, sort_keys=True) if rows else None


def load(text: str | None) -> list[OutboundWarning]:
    """Warnings read back from their stored JSON."""
    if not text:
        return []
    return [OutboundWarning(str(row["kind"]), {str(k): str(v) for k, v in (row.get("params") or {}).items()})
            for row in json.loads(text)]  # fmt: skip


@dataclass(frozen=True, slots=True)
class CodeToShip:
    """A validated code about to be shipped: its matching key, its record, and the products it is or holds."""

    key: str
    code: Code | None
    gtins: frozenset[str]


def _names(session: Session, ids: Iterable[str | None]) -> dict[str, str]:
    wanted = sorted({i for i in ids if i})
    if not wanted:
        return {}
    return dict(session.exec(select(Party.id, Party.name).where(col(Party.id).in_(wanted))).all())


def _label(names: dict[str, str], party: str) -> str:
    name = names.get(party)
    return f"{name} ({party})" if name and name != party else party


def _channel(md: MasterData, names: dict[str, str], sender: str, destination: str) -> OutboundWarning | None:
    breaker = channel_breach(md, sender, destination)
    if breaker is None:
        return None
    return OutboundWarning("unauthorized_channel", {"distributor": _label(names, breaker),
                                                    "store": _label(names, destination)})  # fmt: skip


def _territory(md: MasterData, names: dict[str, str], distributor: str | None, destination: str,
               ) -> OutboundWarning | None:  # fmt: skip
    if distributor is None or not outside_territories(md, distributor, destination):
        return None
    allowed = ", ".join(sorted(md.authorised.get(distributor, ()))) or "—"
    return OutboundWarning("out_of_territory", {
        "place": _label(names, destination), "territory": md.territory(destination) or "—",
        "distributor": _label(names, distributor), "allowed": allowed,
    })  # fmt: skip


def destination_warnings(*, session: Session, sender: str, destination: str) -> list[OutboundWarning]:
    """What shipping anything from ``sender`` to ``destination`` breaks: its channel, its territories."""
    md = load_masterdata(session, [sender, destination])
    if md.brand_owned(sender):
        return []
    names = _names(session, [sender, destination, md.distributor_of(sender)])
    found = [_channel(md, names, sender, destination), _territory(md, names, md.distributor_of(sender), destination)]
    return [w for w in found if w is not None]


def code_warnings(
    *, session: Session, sender: str, destination: str | None, codes: Sequence[CodeToShip],
    order_ref: str | None = None, order_gtins: Iterable[str] = (),
) -> list[list[OutboundWarning]]:  # fmt: skip
    """The warnings of each code shipped from ``sender`` (to ``destination`` when known), in order.

    Territories are those of the distributor responsible for the code (the destination of the brand's latest
    shipment of it, as the rules attribute it), or of the sender's distributor when the brand never shipped it to
    one; so goods that came from another distributor are judged by that distributor's territories, as their alert
    would be.
    """
    if not codes:
        return []
    view = load_view(session, [c.key for c in codes])
    holders = {c.code.holder_id for c in codes if c.code is not None and c.code.holder_id}
    md = load_masterdata(session, view.parties() | holders | {sender} | ({destination} if destination else set()))
    brand = md.brand_owned(sender)
    own = md.distributor_of(sender)
    responsible: dict[str, str | None] = {}
    for c in codes:
        timeline = attribute(history_of(view, c.key).sightings, md)
        responsible[c.key] = timeline[-1][0] if timeline and timeline[-1] is not None else own
    names = _names(session, {sender, destination, *holders, *(d for d in responsible.values() if d)})
    channel = _channel(md, names, sender, destination) if destination and not brand else None
    ordered = frozenset(order_gtins)
    out: list[list[OutboundWarning]] = []
    for c in codes:
        found: list[OutboundWarning] = []
        if channel is not None:
            found.append(channel)
        if destination and not brand:
            territory = _territory(md, names, responsible[c.key], destination)
            if territory is not None:
                found.append(territory)
        holder = c.code.holder_id if c.code is not None else None
        if holder and not same_side(md, holder, sender):
            found.append(OutboundWarning("not_holder", {"holder": _label(names, holder),
                                                        "party": _label(names, sender)}))  # fmt: skip
        stray = sorted(c.gtins - ordered) if ordered else []
        if stray:
            found.append(OutboundWarning("wrong_product", {"gtin": stray[0], "order": order_ref or "—"}))
        out.append(found)
    return out


def products_behind(session: Session, codes: Sequence[tuple[str | None, Code | None]]) -> list[frozenset[str]]:
    """For each (scanned GTIN, record): the product GTINs it is (a unit, a case GTIN's product) or holds (packed)."""
    case_products = {case: gtin for gtin, case in session.exec(select(Product.gtin, Product.case_gtin)).all() if case}
    out: list[frozenset[str]] = []
    for gtin, code in codes:
        found: set[str] = set()
        if gtin is not None and (code is None or code.level == "unit"):
            found.add(case_products.get(gtin, gtin))
        elif code is not None:
            frontier = [code.id]
            while frontier:
                children = session.exec(select(Code).where(col(Code.parent_id).in_(frontier))).all()
                found.update(case_products.get(c.gtin, c.gtin) for c in children if c.level == "unit" and c.gtin)
                frontier = [c.id for c in children if c.level != "unit"]
            if not found and gtin is not None:
                found.add(case_products.get(gtin, gtin))
        out.append(frozenset(found))
    return out


def closing_warnings(
    *, units: int, expected: int | None, order_ref: str | None, earlier_shipment: int | None,
) -> list[OutboundWarning]:  # fmt: skip
    """What closing a shipment finds: more or fewer units than expected, an order already shipped."""
    found: list[OutboundWarning] = []
    if expected is not None and units != expected:
        kind = "over_quantity" if units > expected else "under_quantity"
        found.append(OutboundWarning(kind, {"scanned": str(units), "expected": str(expected),
                                            "diff": str(abs(units - expected))}))  # fmt: skip
    if order_ref and earlier_shipment is not None:
        found.append(OutboundWarning("duplicate_order", {"order": order_ref, "shipment": str(earlier_shipment)}))
    return found


# --- the sender's own shipments -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ShipmentListing:
    """One shipment in a list, with the number of codes scanned into it (the units behind them are in its detail)."""

    shipment: Shipment
    items: int


def list_shipments(
    *, session: Session, principal: Principal, limit: int = 50, offset: int = 0
) -> list[ShipmentListing]:
    """The shipments the principal's party sent (every party's for the brand's full-view roles), newest first."""
    stmt = scope_to_party(select(Shipment), principal, Shipment.party_id)
    shipments = list(session.exec(stmt.order_by(col(Shipment.id).desc()).offset(offset).limit(limit)).all())
    ids = [s.id for s in shipments if s.id is not None]
    counts: dict[int, int] = {}
    if ids:
        per = (select(ShipmentItem.shipment_id, func.count()).where(col(ShipmentItem.shipment_id).in_(ids))
               .group_by(col(ShipmentItem.shipment_id)))  # fmt: skip
        counts = {sid: int(n) for sid, n in session.exec(per).all()}
    return [ShipmentListing(shipment=s, items=counts.get(s.id or 0, 0)) for s in shipments]


def holder_warnings(*, session: Session, party: str, codes: Sequence[Code | None]) -> list[OutboundWarning | None]:
    """``not_holder`` for each code held by a party not on ``party``'s side (None when it may dispose of it).

    What the scan API asks before a sale or a packing, as shipping asks it in :func:`code_warnings`: a key that
    knows a code does not hold its unit. A brand-owned party may move any of its goods.
    """
    holders = {c.holder_id for c in codes if c is not None and c.holder_id}
    if not holders:
        return [None] * len(codes)
    md = load_masterdata(session, holders | {party})
    if md.brand_owned(party):
        return [None] * len(codes)
    foreign = {h for h in holders if not same_side(md, h, party)}
    names = _names(session, foreign | {party}) if foreign else {}
    return [
        OutboundWarning("not_holder", {"holder": _label(names, c.holder_id), "party": _label(names, party)})
        if c is not None and c.holder_id in foreign else None
        for c in codes
    ]  # fmt: skip


def receipt_warnings(*, session: Session, receiver: str, keys: Sequence[str]) -> list[list[OutboundWarning]]:
    """What receiving each code at ``receiver`` reveals: a distributor not authorised to supply this store.

    The sender is the source of the latest shipment of the code (a case's counts for its units), else the party
    that held it: goods that arrive from a distributor the store may not buy from warn at the counter, at once.
    """
    if not keys:
        return []
    view = load_view(session, list(keys))
    md = load_masterdata(session, view.parties() | {receiver})
    senders: list[str | None] = []
    for key in keys:
        sightings = history_of(view, key).sightings
        shipped = [s.event for s in sightings if s.event.biz_step == "shipping"]
        senders.append((shipped[-1].source or shipped[-1].location) if shipped else fold(
            s.event for s in sightings).holder_id)  # fmt: skip
    breakers = {s: channel_breach(md, s, receiver) for s in set(senders) if s}
    names = _names(session, {receiver, *(b for b in breakers.values() if b)})
    out: list[list[OutboundWarning]] = []
    for sender in senders:
        breaker = breakers.get(sender) if sender else None
        out.append([OutboundWarning("unauthorized_channel", {"distributor": _label(names, breaker),
                                                             "store": _label(names, receiver)})]
                   if breaker else [])  # fmt: skip
    return out
