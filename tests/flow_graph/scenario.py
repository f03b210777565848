"""A generator of supply networks with known diversion, for checking that every rule finds exactly what was planted.

The network: a brand with a plant, provinces each with a distributor authorised for the province and stores it
supplies; a province with two cities also has a city distributor authorised for its second city only, supplying
one store there. Parties have coordinates (provinces ~550 km apart, stores within a few km of their city), and the
steps of a flow are 12 hours apart, so no honest flow implies more than ~200 km/h, except a delivery's receipt: it
comes 12 hours after the dispatch, or minutes after it, or minutes *before* it (the store's clock runs late), and
either way it is the expected hop to the declared destination, never a clone.

Each flow method adds the events of one flow and the alerts it must raise (kind, EPC, place, responsible
distributor); honest flows add events and no alerts. Every code enters through a commissioning event of the plant
(codes of "another serialization system"), so the plant's commissioning is what makes a code genuine.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, settings

from scanning.parse import sgtin_urn, sscc_urn
from traceability.gs1 import with_check_digit

GTIN = "06901234000108"
CASE_GTIN = "16901234000105"
T0 = datetime(2026, 3, 1, tzinfo=UTC)
STEP = timedelta(hours=12)
RECEIPT_DELAYS = (STEP, timedelta(minutes=2), -timedelta(minutes=4))
"""A delivery is received half a day later, minutes later, or stamped minutes before its dispatch (clock skew)."""


@dataclass(frozen=True)
class Expected:
    kind: str
    epc: str
    party: str | None
    responsible: str | None


@dataclass
class Network:
    provinces: int
    cities: int
    stores_per_city: int
    doc: dict[str, Any] = field(default_factory=dict)
    gln: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        territories: list[dict[str, Any]] = [{"id": "C", "name": "Country"}]
        parties: list[dict[str, Any]] = []
        counter = iter(range(1, 10_000))

        def party(pid: str, kind: str, territory: str, lat: float | None = None, lon: float | None = None,
                  **extra: Any) -> None:  # fmt: skip
            self.gln[pid] = with_check_digit(f"690123{next(counter):06d}")
            row = {"id": pid, "kind": kind, "name": pid, "gln": self.gln[pid], "territory": territory, **extra}
            if lat is not None:
                row.update(lat=lat, lon=lon)
            parties.append(row)

        party("BRAND", "brand", "C")
        party("PLANT", "plant", "C")
        party("WH", "warehouse", "C", owner="BRAND")
        for p in range(self.provinces):
            base_lat, base_lon = 22.0 + 5 * p, 110.0
            territories.append({"id": f"P{p}", "name": f"Province {p}", "parent": "C"})
            for c in range(self.cities):
                territories.append({"id": f"P{p}-{c}", "name": f"City {p}.{c}", "parent": f"P{p}"})
            party(self.distributor(p), "distributor", f"P{p}-0", base_lat, base_lon, authorized_territories=[f"P{p}"])
            if self.cities > 1:
                party(self.city_distributor(p), "distributor", f"P{p}-1", base_lat + 0.3, base_lon,
                      authorized_territories=[f"P{p}-1"])  # fmt: skip
                party(self.city_store(p), "store", f"P{p}-1", base_lat + 0.31, base_lon,
                      supplied_by=[self.city_distributor(p)], member_store_no=f"M-{self.city_store(p)}")  # fmt: skip
            for c in range(self.cities):
                for k in range(self.stores_per_city):
                    party(self.store(p, c, k), "store", f"P{p}-{c}", base_lat + 0.3 * c + 0.01 * (k + 1), base_lon,
                          supplied_by=[self.distributor(p)], member_store_no=f"M-{self.store(p, c, k)}")  # fmt: skip
            party(self.outsider(p), "store", f"P{p}-0", base_lat + 0.02, base_lon + 0.01,
                  supplied_by=[self.distributor(p)])  # fmt: skip
        products = [{"gtin": GTIN, "name": "Formula", "unit_price": "268.00", "currency": "CNY",
                     "case_gtin": CASE_GTIN, "units_per_case": 6}]  # fmt: skip
        self.doc = {"territories": territories, "parties": parties, "products": products}

    @staticmethod
    def distributor(p: int) -> str:
        return f"D{p}"

    @staticmethod
    def city_distributor(p: int) -> str:
        return f"E{p}"

    @staticmethod
    def city_store(p: int) -> str:
        return f"X{p}"

    @staticmethod
    def store(p: int, c: int = 0, k: int = 0) -> str:
        return f"S{p}-{c}-{k}"

    @staticmethod
    def outsider(p: int) -> str:
        """A store of the province with no member authorisation number."""
        return f"N{p}"

    def stores(self, p: int) -> list[str]:
        return [self.store(p, c, k) for c in range(self.cities) for k in range(self.stores_per_city)]


@dataclass
class Scenario:
    """Events and expected alerts, built flow by flow."""

    net: Network
    rng: random.Random
    events: list[dict[str, Any]] = field(default_factory=list)
    declarations: list[dict[str, Any]] = field(default_factory=list)
    rejections: list[tuple[str, str, str]] = field(default_factory=list)
    """(party, raw scanned text, reason) of scans our scanners rejected."""
    expected: set[Expected] = field(default_factory=set)
    flows: int = 0
    serials: int = 0

    # --- building blocks ---------------------------------------------------------------------------------------

    def _loc(self, party: str) -> str:
        return f"https://id.gs1.org/414/{self.net.gln[party]}"

    def unit(self) -> str:
        self.serials += 1
        return sgtin_urn(GTIN, f"U{self.serials:06d}")

    def case(self) -> str:
        self.serials += 1
        return sscc_urn(with_check_digit(f"0690123400{self.serials:07d}"))

    def _event(self, step: str, epcs: list[str], at: str, when: datetime, *, dest: str | None = None,
               parent: str | None = None, action: str = "OBSERVE") -> dict[str, Any]:  # fmt: skip
        e: dict[str, Any] = {
            "eventID": f"urn:uuid:00000000-0000-4000-8000-{len(self.events) + 1:012d}",
            "type": "AggregationEvent" if parent else "ObjectEvent", "action": action, "bizStep": step,
            "eventTime": when.isoformat(), "eventTimeZoneOffset": "+00:00",
            "readPoint": {"id": self._loc(at)}, "bizLocation": {"id": self._loc(at)},
        }  # fmt: skip
        if parent:
            e["parentID"], e["childEPCs"] = parent, epcs
        else:
            e["epcList"] = epcs
        if dest:
            e["sourceList"] = [{"type": "owning_party", "source": self._loc(at)}]
            e["destinationList"] = [{"type": "owning_party", "destination": self._loc(dest)}]
        self.events.append(e)
        return e

    def _start(self) -> datetime:
        self.flows += 1
        return T0 + timedelta(days=20 * self.flows)

    def _made(self, n: int, when: datetime, *, cased: bool) -> tuple[list[str], str | None, datetime]:
        """Commissioned units (packed into a case when ``cased``) at the plant."""
        units = [self.unit() for _ in range(n)]
        self._event("commissioning", units, "PLANT", when, action="ADD")
        case = None
        if cased:
            case = self.case()
            self._event("packing", units, "PLANT", when + STEP / 2, parent=case, action="ADD")
        return units, case, when + STEP

    def _to_distributor(self, distributor: str, n: int, *, cased: bool) -> tuple[list[str], str | None, datetime]:
        """Units made and shipped by the plant to a distributor, which receives them."""
        units, case, t = self._made(n, self._start(), cased=cased)
        shipped = [case] if case else units
        self._event("shipping", shipped, "PLANT", t, dest=distributor)
        self._event("receiving", shipped, distributor, t + STEP)
        return units, case, t + 2 * STEP

    def _deliver(self, epcs: list[str], sender: str, store: str, t: datetime) -> tuple[dict[str, Any], datetime]:
        ship = self._event("shipping", epcs, sender, t, dest=store)
        self._event("receiving", epcs, store, t + self.rng.choice(RECEIPT_DELAYS))
        return ship, t + 2 * STEP

    def _sell(self, units: list[str], store: str, t: datetime) -> datetime:
        for u in units:
            self._event("retail_selling", [u], store, t)
            t += STEP
        return t

    def _expect(self, kind: str, units: list[str], party: str | None, responsible: str | None) -> None:
        self.expected.update(Expected(kind, u, party, responsible) for u in units)

    def _other(self, p: int) -> int:
        return self.rng.choice([q for q in range(self.net.provinces) if q != p])

    # --- honest flows --------------------------------------------------------------------------------------------

    def honest(self, p: int, n: int, *, cased: bool) -> None:
        d = self.net.distributor(p)
        units, case, t = self._to_distributor(d, n, cased=cased)
        store = self.rng.choice(self.net.stores(p))
        _, t = self._deliver([case] if case and self.rng.random() < 0.5 else units, d, store, t)
        self._sell(units, store, t)

    # --- planted diversion ---------------------------------------------------------------------------------------

    def direct_cross(self, p: int, n: int) -> None:
        """The province distributor ships units straight to a store of another province and they are sold there."""
        d, q = self.net.distributor(p), self._other(p)
        units, _, t = self._to_distributor(d, n, cased=self.rng.random() < 0.5)
        store = self.rng.choice(self.net.stores(q))
        _, t = self._deliver(units, d, store, t)
        self._sell(units, store, t)
        self._expect("unauthorized_channel", units, store, d)
        self._expect("out_of_territory", units, store, d)

    def in_province_unauthorized(self, p: int, n: int) -> None:
        """The province distributor supplies the city distributor's store: inside its territory, wrong channel."""
        d, store = self.net.distributor(p), self.net.city_store(p)
        units, _, t = self._to_distributor(d, n, cased=False)
        _, t = self._deliver(units, d, store, t)
        self._sell(units, store, t)
        self._expect("unauthorized_channel", units, store, d)

    def small_territory(self, p: int, n: int) -> None:
        """The city distributor (one city) supplies a store of the other city: outside its territory and channel."""
        e, store = self.net.city_distributor(p), self.net.store(p, 0, 0)
        units, _, t = self._to_distributor(e, n, cased=True)
        _, t = self._deliver(units, e, store, t)
        self._sell(units, store, t)
        self._expect("unauthorized_channel", units, store, e)
        self._expect("out_of_territory", units, store, e)

    def via_distributor(self, p: int, n: int) -> None:
        """Goods leak to another province's distributor, which sells them on through its own (authorised) store."""
        d, q = self.net.distributor(p), self._other(p)
        other = self.net.distributor(q)
        units, case, t = self._to_distributor(d, n, cased=True)
        moved = [case] if case and self.rng.random() < 0.5 else units
        self._event("shipping", moved, d, t, dest=other)
        self._event("receiving", moved, other, t + STEP)
        store = self.rng.choice(self.net.stores(q))
        _, t = self._deliver(units, other, store, t + 2 * STEP)
        self._sell(units, store, t)
        self._expect("out_of_territory", units, other, d)
        self._expect("out_of_territory", units, store, d)

    def case_to_wrong_store(self, p: int, n: int) -> None:
        """A whole case goes to another province's store; its units are seen one by one when sold."""
        d, q = self.net.distributor(p), self._other(p)
        units, case, t = self._to_distributor(d, n, cased=True)
        assert case is not None
        store = self.rng.choice(self.net.stores(q))
        _, t = self._deliver([case], d, store, t)
        self._sell(units, store, t)
        self._expect("unauthorized_channel", units, store, d)
        self._expect("out_of_territory", units, store, d)

    def sold_twice(self, p: int) -> None:
        """A genuine unit sold, and its code sold again in another store of the same province."""
        d = self.net.distributor(p)
        units, _, t = self._to_distributor(d, 1, cased=False)
        first, second = self.rng.choice(self.net.stores(p)), self.rng.choice(self.net.stores(p))
        _, t = self._deliver(units, d, first, t)
        t = self._sell(units, first, t)
        self._sell(units, second, t + 2 * STEP)
        if first == second:
            self._expect("clone_suspected", units, second, d)
        else:  # the second store sells a unit the first holds: it answers for it, not d
            self._expect("clone_suspected", units, second, None)
            self._expect("holder_mismatch", units, second, None)

    def sold_by_non_holder(self, p: int) -> None:
        """A store of another province 'sells' a unit that d's store holds, without ever receiving it: the store
        is named, and d (whose unit it is) is never blamed for the sighting outside its territory."""
        d, q = self.net.distributor(p), self._other(p)
        units, _, t = self._to_distributor(d, 1, cased=False)
        holder = self.rng.choice(self.net.stores(p))
        _, t = self._deliver(units, d, holder, t)
        taker = self.rng.choice(self.net.stores(q))
        self._sell(units, taker, t + STEP)
        self._expect("holder_mismatch", units, taker, None)

    def shipped_by_non_holder(self, p: int) -> None:
        """Another province's distributor ships a unit d holds to its own store, which receives and sells it: the
        shipper is named and answers for the unit from then on, so nothing is attributed to d."""
        d, q = self.net.distributor(p), self._other(p)
        other = self.net.distributor(q)
        units, _, t = self._to_distributor(d, 1, cased=False)
        store = self.rng.choice(self.net.stores(q))
        self._event("shipping", units, other, t, dest=store)
        self._event("receiving", units, store, t + STEP)  # after the shipment: a receipt alone is a sighting
        self._sell(units, store, t + 2 * STEP)
        self._expect("holder_mismatch", units, other, other)

    def non_member_store(self, p: int) -> None:
        """d supplies a store of its own province that holds no member authorisation number, which sells."""
        d, store = self.net.distributor(p), self.net.outsider(p)
        units, _, t = self._to_distributor(d, 1, cased=False)
        _, t = self._deliver(units, d, store, t)
        self._sell(units, store, t)
        self._expect("unauthorized_channel", units, store, d)

    def seen_far_too_soon(self, p: int) -> None:
        """A genuine unit sold, and its code scanned an hour later in a store of another province."""
        d, q = self.net.distributor(p), self._other(p)
        units, _, t = self._to_distributor(d, 1, cased=False)
        store = self.rng.choice(self.net.stores(p))
        _, t = self._deliver(units, d, store, t)
        self._sell(units, store, t)
        far = self.rng.choice(self.net.stores(q))
        self._event("inspecting", units, far, t + timedelta(hours=1))
        self._expect("clone_suspected", units, far, d)
        self._expect("out_of_territory", units, far, d)

    def seen_elsewhere_in_transit(self, p: int) -> None:
        """On its way to an authorised store, the code is scanned minutes later in another province: a clone."""
        d, q = self.net.distributor(p), self._other(p)
        units, _, t = self._to_distributor(d, 1, cased=False)
        store, far = self.rng.choice(self.net.stores(p)), self.rng.choice(self.net.stores(q))
        self._event("shipping", units, d, t, dest=store)
        self._event(self.rng.choice(("receiving", "inspecting")), units, far, t + timedelta(minutes=5))
        self._event("receiving", units, store, t + STEP)
        self._sell(units, store, t + 2 * STEP)
        self._expect("clone_suspected", units, far, d)
        self._expect("out_of_territory", units, far, d)

    def forged_sale(self, p: int) -> None:
        """A code nobody issued is sold in a store."""
        store = self.rng.choice(self.net.stores(p))
        unit = self.unit()
        self._event("retail_selling", [unit], store, self._start())
        self._expect("counterfeit_suspected", [unit], store, None)

    def forged_scan(self, p: int) -> None:
        """Our scanner refuses a code whose signature does not verify."""
        store = self.rng.choice(self.net.stores(p))
        self.serials += 1
        raw = f"https://id.example.com/01/{GTIN}/21/F{self.serials:06d}"
        self.rejections.append((store, raw, "bad_signature"))
        self._expect("counterfeit_suspected", [f"https://id.gs1.org/01/{GTIN}/21/F{self.serials:06d}"], store, None)

    def commissioned_by_distributor(self, p: int) -> None:
        """A distributor 'commissions' codes of its own and sells them: never issued by the brand."""
        d = self.net.distributor(p)
        unit = self.unit()
        t = self._start()
        self._event("commissioning", [unit], d, t, action="ADD")
        store = self.rng.choice(self.net.stores(p))
        _, t = self._deliver([unit], d, store, t + STEP)
        self._sell([unit], store, t)
        for place in (d, store):
            self._expect("counterfeit_suspected", [unit], place, None)

    def retracted_diversion(self, p: int) -> None:
        """A cross-territory delivery that was recorded by mistake and retracted with errorDeclarations."""
        d, q = self.net.distributor(p), self._other(p)
        units, _, t = self._to_distributor(d, 1, cased=False)
        store = self.rng.choice(self.net.stores(q))
        ship = self._event("shipping", units, d, t, dest=store)
        receive = self._event("receiving", units, store, t + STEP)
        for wrong in (ship, receive):
            retraction = dict(wrong)
            retraction["errorDeclaration"] = {"declarationTime": (t + 3 * STEP).isoformat(), "reason": "incorrect_data"}
            self.declarations.append(retraction)


PLANTS = (
    "direct_cross", "in_province_unauthorized", "small_territory", "via_distributor", "case_to_wrong_store",
    "sold_twice", "seen_far_too_soon", "seen_elsewhere_in_transit", "forged_sale", "forged_scan",
    "commissioned_by_distributor", "retracted_diversion", "sold_by_non_holder", "shipped_by_non_holder",
    "non_member_store",
)  # fmt: skip
NEEDS_TWO_CITIES = frozenset({"in_province_unauthorized", "small_territory"})


def build(net: Network, rng: random.Random, plan: dict[str, int], honest: int) -> Scenario:
    """A scenario with ``honest`` honest flows and ``plan[name]`` planted flows of each kind, in random provinces."""
    sc = Scenario(net, rng)
    jobs = [(name, i) for name, n in plan.items() for i in range(n)] + [("honest", i) for i in range(honest)]
    rng.shuffle(jobs)
    for name, _ in jobs:
        p = rng.randrange(net.provinces)
        if name == "honest":
            sc.honest(p, rng.randint(1, 3), cased=rng.random() < 0.6)
        elif name in ("direct_cross", "in_province_unauthorized", "small_territory", "via_distributor",
                      "case_to_wrong_store"):  # fmt: skip
            if name in NEEDS_TWO_CITIES and net.cities < 2:
                continue
            getattr(sc, name)(p, rng.randint(1, 3))
        else:
            getattr(sc, name)(p)
    return sc


def document(events: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "EPCISDocument", "schemaVersion": "2.0", "creationDate": "2026-01-01T00:00:00Z",
            "epcisBody": {"eventList": events}}  # fmt: skip


def scenario_examples(n: int) -> settings:
    """Hypothesis settings for a property over whole captured scenarios: ``n`` examples, no deadline, and the
    health checks that do not fit off — each example reuses the test's rolled-back session (a function-scoped
    fixture), captures a network's events (slow) and draws large orders and splits of them."""
    return settings(
        max_examples=n,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
    )
