"""The four diversion rules, as pure functions of one unit's history and the master data.

Nothing here touches the database. :mod:`flow_graph.history` turns the ledger's histories into :class:`UnitHistory`
objects, and both the capture-time listener and the full re-evaluation hand them to :func:`evaluate_unit`: one
function decides, so the incremental alerts and the re-evaluated ones cannot disagree, and because a history is
ordered by event time (ties by eventID), not by arrival, neither can two stores that received the same events in
different orders.

The rules (``docs/diversion.md`` gives the reasons for every choice DESIGN.md leaves open):

- attribution: the responsible distributor at a sighting is the destination of the latest shipment at or before it
  from a brand-owned party (``brand``, ``plant``, or owned by one) to a distributor (or a party a distributor owns);
- ``out_of_territory``: a unit seen (an event with a location) at a market party (not brand-owned, not an auditor)
  outside the territories its responsible distributor is authorised for;
- ``unauthorized_channel``: a distributor ships a unit to a store it is not authorised to supply; the shipping
  distributor is the responsible one;
- ``clone_suspected``: a unit sold twice, or seen at two places with coordinates whose distance over the time between
  consecutive sightings, widened by the clock-skew tolerance (:data:`CLOCK_SKEW`), implies more than
  :data:`MAX_SPEED_KMH`; a receipt at the declared destination of the shipment the unit travels on is the expected
  hop, never a speed violation;
- ``counterfeit_suspected``: a GTIN + serial that we never issued and no brand-owned party commissioned, wherever it
  is seen; or a scan of ours rejected for a reason that means the code is not genuine;
- ``unauthorized_channel`` also: a unit seen at a store without a member authorisation number (only member stores
  may sell the brand's goods), attributed to its responsible distributor;
- ``holder_mismatch``: a party ships, sells or packs (:data:`MOVE_STEPS`) a unit that a party not on its side holds
  (the holder as :func:`ledger.state.step` folds it). The alert names the party that asserted the move and its
  distributor, never the holder's: knowing a unit's code is not holding it, so a key cannot frame a competitor by
  "selling" its units. From that move on, the mover answers for where the unit goes (:func:`attribute`). A brand-owned
  party's moves are never mismatches: the brand may recall or re-route its goods.

A finding is *verified* when it would hold without unverified sightings (anonymous consumer checks,
``EventRow.verified``): a violation counts as verified only when every sighting it rests on is. An alert whose
findings are all unverified waits, with status ``unverified``, for an auditor; settlement ignores it.

One finding per unit, rule and place; its evidence is every event that supports it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import NamedTuple

from flow_graph import details
from ledger.history import EventRow, Sighting
from ledger.keys import is_sgtin_key
from ledger.state import UNKNOWN, UnitState, step
from traceability.models import AlertKind

__all__ = [
    "CLOCK_SKEW",
    "COUNTERFEIT_REASONS",
    "MAX_SPEED_KMH",
    "MOVE_STEPS",
    "RECEIPT_STEPS",
    "WITHDRAWABLE_REASONS",
    "Finding",
    "MasterData",
    "PartyInfo",
    "Rejection",
    "UnitHistory",
    "attribute",
    "channel_breach",
    "delivered_to",
    "distance_km",
    "evaluate_unit",
    "holder_breach",
    "known",
    "mover",
    "outside_territories",
    "same_side",
]

MAX_SPEED_KMH = 300.0
"""Implied speed between two sightings above which one physical unit cannot have made the trip."""

CLOCK_SKEW = timedelta(minutes=10)
"""How far two parties' scanner clocks may disagree: the time between two sightings is widened by it before the speed
is judged, so two honest scans minutes apart are never "too fast" because one clock runs late. The deployment
changes it with ``TRACEABILITY_CLONE_CLOCK_SKEW_MINUTES`` (``traceability.settings``)."""

RECEIPT_STEPS = frozenset({"receiving", "arriving", "accepting"})
"""The CBV steps that record goods arriving at a place."""

MOVE_STEPS = frozenset({"shipping", "retail_selling", "packing"})
"""The steps that dispose of a unit on its holder's authority: only the holder's side may assert them."""

COUNTERFEIT_REASONS = frozenset({"bad_signature", "key_revoked", "unknown_key", "never_issued", "malformed"})
"""Rejection reasons of our scanners that say the code is not genuine (others, like ``already_sold``, do not)."""

WITHDRAWABLE_REASONS = frozenset({"never_issued"})
"""Rejections that stop counting once the code becomes known (its commissioning arrived late)."""

class Rejection(NamedTuple):
    """A scan of ours rejected as counterfeit evidence."""

    id: int
    party: str | None
    reason: str
    time: datetime
    epc: str


@dataclass(slots=True)
class UnitHistory:
    """Everything the rules need about one code: its sightings in event-time order and what we know of it."""

    key: str
    sightings: list[Sighting]
    is_unit: bool
    """A trade-item unit, not a case or pallet: the unit-level rules apply to it."""
    issued: bool
    """We issued it (a code record of our own serialization)."""
    rejections: list[Rejection] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class PartyInfo:
    kind: str
    territory: str | None
    owner: str | None
    lat: float | None
    lon: float | None
    member: bool = True
    """A member store: it holds a member authorisation number (only member stores may sell the brand's goods)."""


@dataclass
class MasterData:
    """The master data the rules consult: parties, the territory tree, authorisations and supply links."""

    parties: dict[str, PartyInfo]
    ancestors: dict[str, frozenset[str]]
    """Territory → itself and its ancestors."""
    authorised: dict[str, frozenset[str]]
    """Distributor → the territory nodes it may sell into."""
    suppliers: set[tuple[str, str]]
    """(store, distributor) pairs."""
    _brand: dict[str, bool] = field(default_factory=dict, repr=False)
    _distributor: dict[str, str | None] = field(default_factory=dict, repr=False)
    _market: dict[str | None, bool] = field(default_factory=dict, repr=False)
    _inside: dict[tuple[str, str], bool] = field(default_factory=dict, repr=False)
    _coords: dict[str | None, tuple[float, float] | None] = field(default_factory=dict, repr=False)

    def kind(self, party: str | None) -> str | None:
        info = self.parties.get(party) if party else None
        return info.kind if info else None

    def territory(self, party: str | None) -> str | None:
        info = self.parties.get(party) if party else None
        return info.territory if info else None

    def brand_owned(self, party: str | None) -> bool:
        """``brand``, ``plant``, or owned (through any chain of owners) by a brand-owned party."""
        if not party:
            return False
        cached = self._brand.get(party)
        if cached is None:
            cached = False
            seen: set[str] = set()
            node: str | None = party
            while node is not None and node not in seen and node in self.parties:
                seen.add(node)
                info = self.parties[node]
                if info.kind in ("brand", "plant"):
                    cached = True
                    break
                node = info.owner
            self._brand[party] = cached
        return cached

    def distributor_of(self, party: str | None) -> str | None:
        """The distributor a party is or belongs to (a distributor's own warehouse counts as the distributor)."""
        if not party:
            return None
        if party not in self._distributor:
            found: str | None = None
            seen: set[str] = set()
            node: str | None = party
            while node is not None and node not in seen and node in self.parties:
                seen.add(node)
                if self.parties[node].kind == "distributor":
                    found = node
                    break
                node = self.parties[node].owner
            self._distributor[party] = found
        return self._distributor[party]

    def is_market(self, party: str | None) -> bool:
        """A known party in the market: neither brand-owned nor an auditor."""
        found = self._market.get(party)
        if found is None:
            info = self.parties.get(party) if party else None
            found = self._market[party] = info is not None and info.kind != "auditor" and not self.brand_owned(party)
        return found

    def authorised_at(self, distributor: str, place: str) -> bool:
        """Whether ``place`` lies inside one of the distributor's authorised territory nodes (ancestor-or-self)."""
        found = self._inside.get((distributor, place))
        if found is None:
            territory = self.territory(place)
            found = territory is not None and not self.ancestors.get(territory, frozenset({territory})).isdisjoint(
                self.authorised.get(distributor, frozenset())
            )
            self._inside[(distributor, place)] = found
        return found

    def supplies(self, distributor: str, store: str) -> bool:
        return (store, distributor) in self.suppliers

    def coords(self, party: str | None) -> tuple[float, float] | None:
        if party in self._coords:
            return self._coords[party]
        info = self.parties.get(party) if party else None
        point = None if info is None or info.lat is None or info.lon is None else (info.lat, info.lon)
        self._coords[party] = point
        return point


def distance_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance (haversine, mean Earth radius)."""
    lat1, lon1, lat2, lon2 = map(math.radians, (a[0], a[1], b[0], b[1]))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371.0088 * math.asin(min(1.0, math.sqrt(h)))


def channel_breach(md: MasterData, shipper: str | None, destination: str | None) -> str | None:
    """The distributor that breaks its channel by shipping from ``shipper`` to ``destination``, if it does.

    A party that is or belongs to a distributor (not brand-owned) shipping to a store that does not list that
    distributor as its supplier. The rule ``unauthorized_channel`` and the outbound check at the scan both ask this.
    """
    if destination is None or md.brand_owned(shipper):
        return None
    sender = md.distributor_of(shipper)
    if sender and md.kind(destination) == "store" and not md.supplies(sender, destination):
        return sender
    return None


def outside_territories(md: MasterData, distributor: str, place: str | None) -> bool:
    """Whether ``place`` is a market party outside every territory ``distributor`` is authorised for."""
    return bool(place) and md.is_market(place) and not md.authorised_at(distributor, place or "")


def delivered_to(md: MasterData, place: str | None, declared: str | None) -> bool:
    """Whether ``place`` is the declared destination ``declared``, or a place it owns (a distributor's warehouse)."""
    seen: set[str] = set()
    node = place
    while node is not None and node not in seen:
        if node == declared:
            return True
        seen.add(node)
        info = md.parties.get(node)
        node = info.owner if info else None
    return False


def same_side(md: MasterData, a: str, b: str) -> bool:
    """Whether two parties hold goods for the same business: the same party, both the brand's, one owning the
    other, or both belonging to the same distributor."""
    if a == b or (md.brand_owned(a) and md.brand_owned(b)):
        return True
    if delivered_to(md, a, b) or delivered_to(md, b, a):
        return True
    mine = md.distributor_of(a)
    return mine is not None and mine == md.distributor_of(b)


def mover(event: EventRow) -> str | None:
    """The party an event of :data:`MOVE_STEPS` speaks for: a shipment's source (else where it was scanned), the
    place of a sale or a packing."""
    return (event.source or event.location) if event.biz_step == "shipping" else event.location


def holder_breach(md: MasterData, before: UnitState, event: EventRow) -> str | None:
    """The holder whose unit ``event`` moves without being on its side, if it does (the ``holder_mismatch`` rule).

    Nothing is judged when the holder or the mover is unknown, or the mover is brand-owned; nor when a shipment goes
    to the holder itself (its receipt, stamped by a clock a little early, came first: the same hop).
    """
    if event.biz_step not in MOVE_STEPS:
        return None
    sender, holder = mover(event), before.holder_id
    if sender is None or holder is None or md.brand_owned(sender) or same_side(md, holder, sender):
        return None
    if event.biz_step == "shipping" and delivered_to(md, holder, event.destination):
        return None
    return holder


@dataclass(frozen=True, slots=True)
class Finding:
    """One alert as the rules see it: unit, rule and place, with its evidence and responsible distributor."""

    kind: AlertKind
    key: str
    party: str | None
    responsible: str | None
    evidence: tuple[EventRow, ...]
    rejected: tuple[int, ...]
    first_seen: datetime
    last_seen: datetime
    detail: str
    territory: str | None
    verified: bool = True
    """It holds without unverified sightings (see the module); an unverified finding waits for an auditor."""

    @property
    def event_ids(self) -> list[str]:
        return [e.event_id for e in self.evidence]


@dataclass(slots=True)
class _Acc:
    responsible: str | None
    detail: str
    last: tuple[datetime, int, str]
    first: datetime
    events: dict[int, EventRow] = field(default_factory=dict)
    rejected: set[int] = field(default_factory=set)
    verified: bool = False


class _Findings:
    """Collects violations into one finding per (rule, place); the latest violation names the responsible one."""

    def __init__(self) -> None:
        self.acc: dict[tuple[AlertKind, str | None], _Acc] = {}

    def add(
        self, kind: AlertKind, place: str | None, responsible: str | None, detail: str, *,
        at: tuple[datetime, int, str], events: Iterable[EventRow] = (), rejected: int | None = None,
        resting_on: Iterable[EventRow] = (),
    ) -> None:  # fmt: skip
        """Record one violation; ``resting_on`` are the sightings it needs (all verified: a verified violation)."""
        slot = self.acc.get((kind, place))
        if slot is None:
            slot = self.acc[(kind, place)] = _Acc(responsible, detail, at, at[0])
        elif at >= slot.last:
            slot.responsible, slot.detail, slot.last = responsible, detail, at
        slot.first = min(slot.first, at[0])
        for e in events:
            slot.events[e.pk] = e
        if rejected is not None:
            slot.rejected.add(rejected)
        slot.verified = slot.verified or all(e.verified for e in resting_on)

    def findings(self, key: str, md: MasterData) -> list[Finding]:
        out = []
        for (kind, place), a in sorted(self.acc.items(), key=lambda kv: (kv[0][0].value, kv[0][1] or "")):
            evidence = tuple(sorted(a.events.values(), key=lambda e: (e.time, e.event_id)))
            out.append(
                Finding(
                    kind=kind,
                    key=key,
                    party=place,
                    responsible=a.responsible,
                    evidence=evidence,
                    rejected=tuple(sorted(a.rejected)),
                    first_seen=a.first,
                    last_seen=a.last[0],
                    detail=a.detail,
                    territory=md.territory(place),
                    verified=a.verified,
                )  # fmt: skip
            )
        return out


def known(history: UnitHistory, md: MasterData) -> EventRow | bool:
    """Whether the code is genuine as far as the store knows: issued by us, or commissioned by a brand-owned party.

    Returns the commissioning event when that is what makes it known (for the reason of a withdrawal).
    """
    if history.issued:
        return True
    for s in history.sightings:
        e = s.event
        if (
            s.via is None and s.role == "epc" and e.biz_step == "commissioning" and e.action == "ADD"
            and e.event_type == "ObjectEvent" and md.brand_owned(e.location or e.source)
        ):  # fmt: skip
            return e
    return False


def _where(place: str | None) -> str:
    return place or details.UNKNOWN_PLACE


def _at(e: EventRow) -> tuple[datetime, int, str]:
    return (e.time, 0, e.event_id)


def attribute(sightings: Sequence[Sighting], md: MasterData) -> list[tuple[str, EventRow] | None]:
    """The responsible distributor at each sighting, with the event that made it responsible.

    It is the destination of the latest shipment at or before the sighting (a shipment of a case or pallet counts
    for the units inside) from a brand-owned party to a distributor; after a move by a party that did not hold the
    unit (:func:`holder_breach`), the mover's distributor (none for a store), until the brand ships the unit again.
    """
    return _walk(sightings, md)[0]


_Walk = tuple[list[tuple[str, EventRow] | None], list[str | None]]


def _walk(sightings: Sequence[Sighting], md: MasterData) -> _Walk:
    """:func:`attribute`'s timeline, with the :func:`holder_breach` of each sighting (by the state before it): the
    rules judge each sighting by both, and the fold is a good part of a full re-evaluation's time, so it runs once."""
    out: list[tuple[str, EventRow] | None] = []
    breaches: list[str | None] = []
    current: tuple[str, EventRow] | None = None
    state = UNKNOWN
    for s in sightings:
        e = s.event
        breach = None
        if e.biz_step == "shipping" and md.brand_owned(e.source or e.location):
            # a brand-owned shipper is never in breach (holder_breach): nothing to ask
            receiver = md.distributor_of(e.destination)
            if receiver is not None:
                current = (receiver, e)
        elif (breach := holder_breach(md, state, e)) is not None:
            taker = md.distributor_of(mover(e))
            current = (taker, e) if taker is not None else None
        breaches.append(breach)
        state = step(state, e)
        out.append(current)
    return out, breaches


def evaluate_unit(
    history: UnitHistory, md: MasterData, *, max_speed_kmh: float = MAX_SPEED_KMH, clock_skew: timedelta = CLOCK_SKEW,
) -> list[Finding]:  # fmt: skip
    """Every finding for one code, each with its evidence; empty when nothing is wrong."""
    out = _Findings()
    genuine = bool(known(history, md))
    counterfeit = not genuine and is_sgtin_key(history.key)
    timeline, breaches = _walk(history.sightings, md)
    last_sale: EventRow | None = None
    last_located: tuple[EventRow, tuple[float, float]] | None = None
    transit: EventRow | None = None
    """The shipment the unit travels on: the latest shipping event with no located sighting after it."""
    skew_hours = clock_skew.total_seconds() / 3600
    tolerance = f" (allowing {skew_hours * 60:.0f} min of clock skew)" if skew_hours else ""
    for s, current, holder in zip(history.sightings, timeline, breaches, strict=True):
        e = s.event
        place = e.location
        responsible = current[0] if current else None
        if history.is_unit:
            if holder is not None:
                taker = mover(e)
                detail = details.write("holder", taker=taker, step=e.biz_step, holder=holder)
                out.add(AlertKind.holder_mismatch, taker, md.distributor_of(taker), detail, at=_at(e), events=[e],
                        resting_on=[e])  # fmt: skip
            sender = channel_breach(md, e.source or e.location, e.destination) if e.biz_step == "shipping" else None
            if sender is not None:
                detail = details.write("channel", sender=sender, store=e.destination)
                out.add(AlertKind.unauthorized_channel, e.destination, sender, detail, at=_at(e), events=[e],
                        resting_on=[e])  # fmt: skip
            if place is not None and md.kind(place) == "store" and not md.parties[place].member:
                detail = details.write("not_member", place=place)
                out.add(AlertKind.unauthorized_channel, place, responsible, detail, at=_at(e),
                        events=[e] if current is None else [e, current[1]], resting_on=[e])  # fmt: skip
            if current is not None and outside_territories(md, current[0], place):
                allowed = ", ".join(sorted(md.authorised.get(current[0], ()))) or details.NO_TERRITORY
                detail = details.write("territory", place=place, territory=md.territory(place),
                                       distributor=current[0], allowed=allowed)  # fmt: skip
                out.add(AlertKind.out_of_territory, place, responsible, detail, at=_at(e), events=[e, current[1]],
                        resting_on=[e])  # fmt: skip
            if e.biz_step == "retail_selling":
                if last_sale is not None:
                    detail = details.write("sold_twice", first=_where(last_sale.location), second=_where(place))
                    out.add(AlertKind.clone_suspected, place, responsible, detail, at=_at(e), events=[last_sale, e],
                            resting_on=[last_sale, e])  # fmt: skip
                last_sale = e
            point = md.coords(place)
            if point is not None:
                arrived_early = False
                if last_located is not None and last_located[0].location != place:
                    before, where = last_located
                    # The expected hop: a receipt at the declared destination of the shipment the unit travels on.
                    # A receipt stamped up to the clock skew *before* its dispatch is the same hop seen by two
                    # clocks; the unit is then at the destination, so the dispatch does not move it back.
                    expected = e.biz_step in RECEIPT_STEPS and transit is not None and delivered_to(
                        md, place, transit.destination
                    )
                    arrived_early = (
                        e.biz_step == "shipping" and before.biz_step in RECEIPT_STEPS
                        and delivered_to(md, before.location, e.destination) and e.time - before.time <= clock_skew
                    )  # fmt: skip
                    km = distance_km(where, point)
                    hours = (e.time - before.time).total_seconds() / 3600
                    window = hours + skew_hours
                    if not (expected or arrived_early) and km > 0 and (window <= 0 or km / window > max_speed_kmh):
                        speed = details.INSTANT if window <= 0 else f"{km / window:.0f} km/h"
                        detail = details.write("speed", before=before.location, place=place, km=f"{km:.0f}",
                                               minutes=f"{hours * 60:.0f}", speed=speed, tolerance=tolerance,
                                               max=f"{max_speed_kmh:.0f}")  # fmt: skip
                        out.add(AlertKind.clone_suspected, place, responsible, detail, at=_at(e), events=[before, e],
                                resting_on=[before, e])  # fmt: skip
                if not arrived_early:
                    last_located = (e, point)
                transit = e if e.biz_step == "shipping" and not arrived_early else None
            elif e.biz_step == "shipping":
                transit = e
        if counterfeit:
            detail = details.write("counterfeit")
            out.add(AlertKind.counterfeit_suspected, place, responsible, detail, at=_at(e), events=[e], resting_on=[e])
    for r in history.rejections:
        if r.reason in WITHDRAWABLE_REASONS and genuine:
            continue
        responsible = None
        for s, current in zip(history.sightings, timeline, strict=True):
            if s.event.time <= r.time and current is not None:
                responsible = current[0]
        detail = details.write("rejected", reason=r.reason)
        out.add(AlertKind.counterfeit_suspected, r.party, responsible, detail, at=(r.time, 1, str(r.id)), rejected=r.id)
    return out.findings(history.key, md)
