"""Two months of goods through the demo network, with diversion planted where an auditor should find it.

Who records what, as in the field:

- the brand's systems (plants, their ERP) send EPCIS 2.0 documents: commissioning of each production run and the
  shipments from the plants to the distributors (``scanning.epcis.capture_document``, the repository's door);
- distributors scan their outbound shipments to stores, and stores scan each sale at the till, through the scan
  service (``scanning.service.record_scans``): every code is validated and a bad one is kept with its reason;
- consumers check codes on the Digital Link page (``web.service.record_inspection``).

Planted diversion (each one a story the auditor pages tell):

- ``D-DG`` (东莞) ships to two Chengdu stores it does not supply: unauthorised channel, and out of territory when
  they sell;
- ``D-GZ`` (广州) ships to a Shenzhen store: the same, inside its own province;
- ``D-WZ`` (温州) lets goods out unscanned; they are sold in Beijing stores: out of territory, found only by the sale;
- a unit sold in Hangzhou is sold again by another POS system in Qingdao two hours later: a clone;
- forged and unknown-key codes are scanned at a Guangzhou store: counterfeits;
- ``D-SU`` and ``D-NB`` scan out only part of what they receive: their coverage (and rebate) drops.

Everything is seeded, so the same seed gives the same network, volumes and diversion (codes differ: serials are
random by design).
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from codes.identity import CodeIdentity
from codes.keyfiles import KeyFileStore
from codes.render import to_digital_link
from codes.signing import SignedCode
from demo.network import Network
from members import service as members
from scanning.epcis import capture_document
from scanning.parse import sgtin_urn
from scanning.service import ScanRequest, record_scans
from traceability.auth.service import Principal
from traceability.models import Code, Party, Role
from traceability.privacy import MEMBER_FIELD, MEMBER_NAMESPACE, member_hash, member_pepper

__all__ = ["CST", "Month", "SimulationStats", "Simulator", "capture_events", "gln_uri", "months_before", "object_event"]

CST = timezone(timedelta(hours=8), "CST")
"""Events carry China Standard Time, as the scanners there would."""

SLOPPY = {"D-SU": 0.86, "D-NB": 0.93}
"""Distributors that scan out only this share of what they ship to their stores."""


@dataclass(frozen=True, slots=True)
class Month:
    year: int
    month: int

    @property
    def period(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    def at(self, day: int, hour: int = 10, minute: int = 0) -> datetime:
        return datetime(self.year, self.month, day, hour, minute, tzinfo=CST)


def months_before(today: datetime, n: int = 2) -> list[Month]:
    """The ``n`` whole calendar months before ``today``'s, oldest first."""
    y, m = today.year, today.month
    out: list[Month] = []
    for _ in range(n):
        y, m = (y - 1, 12) if m == 1 else (y, m - 1)
        out.append(Month(y, m))
    return out[::-1]


@dataclass
class SimulationStats:
    units_issued: int = 0
    brand_shipments: int = 0
    store_shipments: int = 0
    units_to_stores: int = 0
    sales: int = 0
    units_sold: int = 0
    rejected_scans: int = 0
    inspections: int = 0
    members_registered: int = 0
    planted: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    """What was planted, as message keys of ``demo.words`` and their fields (worded in the run's language)."""


@dataclass
class _Stock:
    """Codes (Digital Link texts) a distributor received and has not yet passed on."""

    units: list[str] = field(default_factory=list)


_SURNAMES = ("王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周")


def gln_uri(party: Party) -> str:
    return f"https://id.gs1.org/414/{party.gln}"


def capture_events(session: Session, events: list[dict[str, Any]], party: str) -> None:
    document = {
        "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld", {"trc": MEMBER_NAMESPACE}],
        "type": "EPCISDocument", "schemaVersion": "2.0", "creationDate": events[0]["eventTime"],
        "epcisBody": {"eventList": events},
    }  # fmt: skip
    capture_document(session=session, document=document, origin="epcis", party_id=party)


def object_event(step: str, when: datetime, epcs: list[str], where: Party, **extra: Any) -> dict[str, Any]:
    return {
        "eventID": f"urn:uuid:{uuid.uuid4()}", "type": "ObjectEvent",
        "action": "ADD" if step == "commissioning" else "OBSERVE", "bizStep": step, "epcList": epcs,
        "eventTime": when.isoformat(timespec="seconds"), "eventTimeZoneOffset": "+08:00",
        "readPoint": {"id": gln_uri(where)}, "bizLocation": {"id": gln_uri(where)}, **extra,
    }  # fmt: skip


class Simulator:
    """Runs the months in order against one session; the caller commits after each step it wants durable."""

    def __init__(self, *, session: Session, network: Network, store: KeyFileStore, key_dir: Path, resolver: str,
                 rng: random.Random, scale: float, company_prefix_length: int = 7) -> None:  # fmt: skip
        self.session = session
        self.network = network
        self.store = store
        self.resolver = resolver
        self.rng = rng
        self.scale = scale
        self.cpl = company_prefix_length
        self.stats = SimulationStats()
        self.parties = {p.id: p for p in session.execute(select(Party)).scalars()}
        self.pepper = member_pepper(key_dir)
        self.stock: dict[str, _Stock] = {d: _Stock() for d in network.distributors}
        self.members: dict[str, list[str]] = {}
        """Each store's members registered at its POS (keyed hashes)."""
        self.sold: list[tuple[str, str, datetime]] = []
        """(code, store, when) of every sale, for clones and consumer checks."""
        self.shelf: dict[str, list[str]] = {}
        """Each store's units received and not sold yet (Digital Link URIs), for the O2O deliveries."""

    # --- helpers -------------------------------------------------------------------------------------------------

    def _scan(self, step: str, party: str, codes: list[str], *, when: datetime, destination: str | None = None,
              member: str | None = None) -> Any:  # fmt: skip
        principal = Principal(role=Role.admin, party_id=party)
        request = ScanRequest(biz_step=step, codes=codes, party_id=party, destination_id=destination, event_time=when,
                              member_hash=member)  # fmt: skip
        outcome = record_scans(session=self.session, principal=principal, request=request,
                               company_prefix_length=self.cpl, store=self.store)  # fmt: skip
        self.stats.rejected_scans += len(outcome.rejected)
        return outcome

    def texts(self, rows: list[Code]) -> Iterator[tuple[str, str]]:
        """(Digital Link printed in the QR, SGTIN URN) of issued codes."""
        for r in rows:
            assert r.gtin
            assert r.serial
            assert r.key_id
            assert r.signature
            code = SignedCode(CodeIdentity(gtin=r.gtin, serial=r.serial, lot=r.lot, expiry=r.expiry), r.key_id,
                              r.signature, "ed25519")  # fmt: skip
            yield to_digital_link(code, self.resolver), sgtin_urn(r.gtin, r.serial, self.cpl)

    def _member(self, store: str, when: datetime) -> str | None:
        """The member a sale is to, if any: mostly one the store registered at its POS, sometimes a walk-in phone
        (registered by the sale itself, at that store)."""
        if self.rng.random() > 0.6:
            return None
        if self.rng.random() < 0.3:
            return member_hash(f"13{self.rng.randrange(10**9):09d}", self.pepper)
        pool = self.members.get(store)
        if pool is None:
            pool = self.members[store] = [self._register(store, when) for _ in range(self.rng.randint(2, 4))]
        return self.rng.choice(pool)

    def _register(self, store: str, when: datetime) -> str:
        """A member registered on the spot at the store's POS: the phone's keyed hash, a name, the baby's age."""
        hashed = member_hash(f"15{self.rng.randrange(10**9):09d}", self.pepper)
        born = (when - timedelta(days=self.rng.randint(20, 700))).date()
        members.register(session=self.session, principal=Principal(role=Role.store, party_id=store), phone_hash=hashed,
                         name=self.rng.choice(_SURNAMES) + "女士", baby_birth_date=born, source="pos", consent_at=when,
                         now=when)  # fmt: skip
        self.stats.members_registered += 1
        return hashed

    # --- a month -------------------------------------------------------------------------------------------------

    def produce(self, month: Month, make_codes: Callable[[str, str, str, int], list[Code]]) -> None:
        """Each plant makes the month's goods for its distributors, commissions them, and ships them out."""
        south = {"440000", "510000", "500000", "430000", "420000"}
        by_plant: dict[str, list[str]] = {"PLANT-GZ": [], "PLANT-SU": []}
        for did, city in self.network.distributors.items():
            by_plant["PLANT-GZ" if city.province in south else "PLANT-SU"].append(did)
        for plant_id, dists in by_plant.items():
            plant = self.parties[plant_id]
            demand = {d: max(6, round(self.rng.randint(110, 150) * self.scale)) for d in dists}
            made: dict[str, list[tuple[str, str]]] = {d: [] for d in dists}
            brand_events: list[dict[str, Any]] = []
            for gtin in self.network.gtins:
                share = {d: n // len(self.network.gtins) + (1 if i < n % len(self.network.gtins) else 0)
                         for i, (d, n) in enumerate(demand.items())}  # fmt: skip
                rows = make_codes(plant_id, gtin, f"L{month.period.replace('-', '')[2:]}{plant_id[-2:]}",
                                  sum(share.values()))
                texts = list(self.texts(rows))
                self.stats.units_issued += len(texts)
                brand_events.append(object_event("commissioning", month.at(1, 8), [u for _, u in texts], plant))
                start = 0
                for d, n in share.items():
                    made[d].extend(texts[start : start + n])
                    start += n
            for i, d in enumerate(dists):
                dist = self.parties[d]
                items = made[d]
                when = month.at(2 + i % 3, 9 + i % 8)
                extra = {"sourceList": [{"type": "owning_party", "source": gln_uri(plant)}],
                         "destinationList": [{"type": "owning_party", "destination": gln_uri(dist)}]}  # fmt: skip
                brand_events.append(object_event("shipping", when, [u for _, u in items], plant, **extra))
                self.stats.brand_shipments += 1
                self.stock[d].units.extend(dl for dl, _ in items)
                self.rng.shuffle(self.stock[d].units)
            # The plant's ERP uploads the month's commissioning and shipments as one EPCIS document.
            capture_events(self.session, brand_events, plant_id)

    def distribute_and_sell(self, month: Month, *, hold_back: int = 0) -> None:
        """Distributors ship to their stores and stores sell most of it; both arrive as daily EPCIS uploads.

        A distributor's warehouse system and its stores' tills upload their scans in batches (one document per
        distributor and month here), which is how volume reaches the repository; the scan service is what the
        pages and handheld scanners use, one scan at a time, and the planted diversion goes through it.

        ``hold_back`` stores (the first of as many distributors) keep one unit off the counter, for an online order
        they deliver later in the month (``demo.care``), so that there is one to deliver at any scale.
        """
        for d, stores in self.network.stores.items():
            dist = self.parties[d]
            units = self.stock[d].units
            self.stock[d].units = []
            # A sloppy distributor ships the tail of its stock without scanning it out (its coverage shows it); the
            # stores scan those goods in when they arrive, since a store sells only what it holds.
            n_scanned = round(len(units) * SLOPPY.get(d, 1.0))
            per_store: dict[str, list[tuple[str, bool]]] = {s: [] for s in stores}
            for i, u in enumerate(units):
                per_store[stores[i % len(stores)]].append((u, i < n_scanned))
            shipping: list[dict[str, Any]] = []
            selling: list[dict[str, Any]] = []
            for j, (s, items) in enumerate(per_store.items()):
                if not items:
                    continue
                store = self.parties[s]
                scanned = [self._urn_of(u) for u, ok in items if ok]
                if scanned:
                    shipping.append(object_event(
                        "shipping", month.at(5 + j % 8, 9 + j % 9, j % 60), scanned, dist,
                        sourceList=[{"type": "owning_party", "source": gln_uri(dist)}],
                        destinationList=[{"type": "owning_party", "destination": gln_uri(store)}],
                    ))  # fmt: skip
                unscanned = [self._urn_of(u) for u, ok in items if not ok]
                if unscanned:  # the store scans in what arrived without a shipment: it holds it, and may sell it
                    selling.append(object_event("receiving", month.at(6 + j % 2, 8, j % 60), unscanned, store))
                self.stats.units_to_stores += len(items)
                codes = [u for u, _ in items]
                sold = codes[: max(1, round(len(codes) * self.rng.uniform(0.7, 0.95)))]
                if j == 0 and hold_back > 0 and len(sold) == len(codes):
                    sold, hold_back = sold[:-1], hold_back - 1
                self.shelf.setdefault(s, []).extend(codes[len(sold) :])
                half = (len(sold) + 1) // 2
                for k, batch in enumerate((sold[:half], sold[half:])):
                    if not batch:
                        continue
                    # From the 13th: after the store's delivery (by the 12th), since a store sells what it holds.
                    when = month.at(min(27, 13 + j % 5 + 7 * k + self.rng.randint(0, 4)), self.rng.randint(10, 20),
                                    self.rng.randint(0, 59))  # fmt: skip
                    event = object_event("retail_selling", when, [self._urn_of(u) for u in batch], store)
                    if (member := self._member(store.id, when)) is not None:
                        event[MEMBER_FIELD] = member
                    selling.append(event)
                    self.stats.sales += 1
                    self.stats.units_sold += len(batch)
                    self.sold.extend((u, s, when) for u in batch)
            if shipping:
                capture_events(self.session, shipping, d)
                self.stats.store_shipments += len(shipping)
            if selling:
                capture_events(self.session, selling, d)

    def _sell(self, month: Month, store: str, items: list[str], *, first_day: int) -> None:
        """Sales scanned at the till one visit at a time (the scan service validates every code)."""
        sold = items[: max(1, round(len(items) * self.rng.uniform(0.7, 0.95)))]
        when = month.at(min(27, first_day + self.rng.randint(0, 4)), self.rng.randint(10, 20), self.rng.randint(0, 59))
        outcome = self._scan("retail_selling", store, sold, when=when, member=self._member(store, when))
        self.stats.sales += 1
        self.stats.units_sold += len(outcome.accepted)
        self.sold.extend((a["code"], store, when) for a in outcome.accepted)

    # --- diversion -----------------------------------------------------------------------------------------------

    def plant_diversion(self, month: Month, make_codes: Callable[[str, str, str, int], list[Code]]) -> None:
        """The leaks of the module notes, each with a few units, whatever the scale."""
        extra: dict[str, list[str]] = {}
        for d in ("D-DG", "D-GZ", "D-WZ"):
            plant_id = "PLANT-GZ" if d != "D-WZ" else "PLANT-SU"
            rows = make_codes(plant_id, self.network.gtins[0], f"X{month.period.replace('-', '')[2:]}", 18)
            texts = list(self.texts(rows))
            plant, dist = self.parties[plant_id], self.parties[d]
            shipping = {"sourceList": [{"type": "owning_party", "source": gln_uri(plant)}],
                        "destinationList": [{"type": "owning_party", "destination": gln_uri(dist)}]}  # fmt: skip
            capture_events(self.session, [
                object_event("commissioning", month.at(1, 7), [u for _, u in texts], plant),
                object_event("shipping", month.at(3, 7), [u for _, u in texts], plant, **shipping),
            ], plant_id)  # fmt: skip
            self.stats.units_issued += len(texts)
            extra[d] = [dl for dl, _ in texts]
        # 东莞 ships into Chengdu, which it does not supply; the stores sell.
        for k, store in enumerate(("S-CD-003", "S-CD-007")):
            items = extra["D-DG"][k * 8 : k * 8 + 8]
            self._scan("shipping", "D-DG", items, when=month.at(6 + k, 15), destination=store)
            self._sell(month, store, items, first_day=10)
        # 广州 ships into Shenzhen (same province, not its city).
        items = extra["D-GZ"][:6]
        self._scan("shipping", "D-GZ", items, when=month.at(9, 11), destination="S-SZ-012")
        self._sell(month, "S-SZ-012", items, first_day=12)
        # 温州's goods go out unscanned; Beijing stores scan them in at receipt and sell them.
        for store, items, day in (("S-CY-004", extra["D-WZ"][:8], 14), ("S-HD-009", extra["D-WZ"][8:14], 15)):
            self._scan("receiving", store, items, when=month.at(day - 2, 9))
            self._sell(month, store, items, first_day=day)
        self.stats.planted.append(("planted.diversion", {"period": month.period}))

    def plant_clone_and_fakes(self, month: Month) -> None:
        """A unit sold twice far apart (by another POS system, through EPCIS: a ``holder_mismatch`` against that
        store, since the 杭州 store holds the unit), and fake codes at a till."""
        hz = [(c, s, t) for c, s, t in self.sold if s.startswith("S-HZ-")]
        if hz:
            code, _, when = hz[0]
            qd = self.parties["S-QD-010"]
            urn = self._urn_of(code)
            resale = object_event("retail_selling", when + timedelta(hours=2), [urn], qd)
            capture_events(self.session, [resale], "S-QD-010")
            self.stats.planted.append(("planted.clone", {"period": month.period}))
        genuine = self.sold[-1][0] if self.sold else None
        if genuine is not None:
            head, _, tail = genuine.partition("/21/")
            forged = [f"{head}/21/{'Z' + tail[1:]}", f"{head}/21/{'Y' + tail[1:]}",
                      genuine.replace("&91=K", "&91=Q")]  # fmt: skip
            self._scan("retail_selling", "S-GZ-011", forged, when=month.at(20, 16))
            self.stats.planted.append(("planted.fakes", {"period": month.period, "n": len(forged)}))

    def _urn_of(self, dl: str) -> str:
        gtin = dl.split("/01/")[1][:14]
        serial = dl.split("/21/")[1].split("?")[0]
        return sgtin_urn(gtin, serial, self.cpl)
