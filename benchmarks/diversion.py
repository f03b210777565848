"""What diversion detection costs: capture throughput with detection on and off, and the time of a full
re-evaluation and of the party-graph build over a large store, on SQLite.

    python -m benchmarks.diversion                                   # 1,000,000 events, 10,000 parties
    python -m benchmarks.diversion --events 200000 --capture-cases 200

The network: a brand, its plant and warehouse, 30 provinces of 10 cities, a distributor per city authorised for its
city, and 9,697 stores (10,000 parties), each supplied by its city's distributor; parties have coordinates. A case of
12 units of our own codes (code records with a batch) makes 18 events: commissioning, packing, the plant's
shipment to the distributor, its receipt, the distributor's shipment of the case to a store, its receipt, and 12
sales. 2 % of the cases go to a store in another province (out_of_territory and unauthorized_channel for their
units), 0.5 % of units are sold a second time in another store of their city (clone_suspected), and one sale in a
thousand is of a code nobody issued (counterfeit_suspected).

- capture: the same documents (50 events each, in event-time order) captured into two copies of one database,
  with the ``flow_graph`` listener registered and without it; best of ``--repeat`` runs of each;
- full re-evaluation: the events are written straight into the tables (a capture of a million events would be
  measured in tens of minutes and is not what is timed here), then ``flow_graph.service.reevaluate`` raises every
  alert from nothing, and runs a second time over the same store (nothing to change: the steady state);
- party graph: ``flow_graph.graph.build_party_graph`` over the same store.
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import resource
import shutil
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, text
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from flow_graph.graph import build_party_graph
from flow_graph.service import PARTITION, diversion_listener, reevaluate
from ledger.store import Listener, listeners, set_listeners
from scanning.epcis import capture_document
from scanning.parse import sgtin_urn, sscc_urn
from traceability.app import wire_listeners
from traceability.database import make_engine, migrate
from traceability.gs1 import with_check_digit
from traceability.models import Code, CodeBatch, Event, EventEpc

GTIN, CASE_GTIN = "06901234000108", "16901234000105"
PROVINCES, CITIES = 30, 10
STORES = 10_000 - 3 - PROVINCES * CITIES
UNITS_PER_CASE = 12
EVENTS_PER_CASE = 6 + UNITS_PER_CASE
T0 = datetime(2026, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)


def gln(n: int) -> str:
    return with_check_digit(f"69{n:010d}")


class Network:
    """The parties and their places, and the master data rows that describe them."""

    def __init__(self) -> None:
        self.parties: list[dict[str, Any]] = []
        self.territories = [{"id": "CN", "name": "China", "parent_id": None}]
        self.authorised: list[dict[str, str]] = []
        self.supplies: list[dict[str, str]] = []
        self.stores_of: dict[int, list[str]] = {}
        n = 0

        def party(pid: str, kind: str, territory: str, lat: float | None = None, lon: float | None = None,
                  owner: str | None = None, member: str | None = None) -> None:  # fmt: skip
            nonlocal n
            n += 1
            self.parties.append({"id": pid, "kind": kind, "name": pid, "gln": gln(n), "territory_id": territory,
                                 "owner_id": owner, "lat": lat, "lon": lon, "member_store_no": member})  # fmt: skip

        party("BRAND", "brand", "CN")
        party("PLANT", "plant", "CN")
        party("WH", "warehouse", "CN", owner="BRAND")
        for p in range(PROVINCES):
            self.territories.append({"id": f"P{p:02d}", "name": f"Province {p}", "parent_id": "CN"})
            for c in range(CITIES):
                city = f"P{p:02d}-{c}"
                self.territories.append({"id": city, "name": f"City {p}.{c}", "parent_id": f"P{p:02d}"})
                lat, lon = 20 + (p % 6) * 3 + c * 0.05, 100 + (p // 6) * 4 + c * 0.05
                party(self.distributor(p * CITIES + c), "distributor", city, lat, lon)
                self.authorised.append({"party_id": self.distributor(p * CITIES + c), "territory_id": city})
        for s in range(STORES):
            city_no = s % (PROVINCES * CITIES)
            p, c = divmod(city_no, CITIES)
            lat, lon = 20 + (p % 6) * 3 + c * 0.05 + (s % 7) * 0.002, 100 + (p // 6) * 4 + c * 0.05
            party(f"S{s:05d}", "store", f"P{p:02d}-{c}", lat, lon, member=f"M{s:05d}")
            self.supplies.append({"store_id": f"S{s:05d}", "distributor_id": self.distributor(city_no)})
            self.stores_of.setdefault(city_no, []).append(f"S{s:05d}")
        self.gln = {row["id"]: row["gln"] for row in self.parties}

    @staticmethod
    def distributor(city_no: int) -> str:
        return f"D{city_no:03d}"

    def load(self, engine: Engine) -> None:
        from traceability.models import Party, PartyTerritory, Product, StoreSupplier, Territory

        with engine.begin() as c:
            c.execute(insert(Territory), self.territories)
            c.execute(insert(Party), [{k: v for k, v in row.items() if k != "owner_id"} for row in self.parties])
            c.execute(text("UPDATE party SET owner_id = 'BRAND' WHERE id = 'WH'"))
            c.execute(insert(PartyTerritory), self.authorised)
            c.execute(insert(StoreSupplier), self.supplies)
            c.execute(insert(Product), [{"gtin": GTIN, "name": "Formula 800 g", "unit_price": 268, "currency": "CNY",
                                         "case_gtin": CASE_GTIN, "units_per_case": UNITS_PER_CASE}])  # fmt: skip


class Flow:
    """The events of case ``i`` (as EPCIS JSON and as table rows)."""

    def __init__(self, net: Network, rng: random.Random) -> None:
        self.net, self.rng = net, rng

    def case_events(self, i: int) -> Iterator[tuple[str, str, datetime, str | None, str | None, list[tuple[str, str]]]]:
        """(event type, step, time, at, destination, [(epc, role)]) of one case's life, with planted diversion."""
        rng, net = self.rng, self.net
        city = i % (PROVINCES * CITIES)
        distributor = net.distributor(city)
        store = rng.choice(net.stores_of[city])
        if rng.random() < 0.02:  # diverted: to a store of another province
            other = (city + CITIES * rng.randint(1, PROVINCES - 1)) % (PROVINCES * CITIES)
            store = rng.choice(net.stores_of[other])
        units = [sgtin_urn(GTIN, f"{i:07d}{u:02d}") for u in range(UNITS_PER_CASE)]
        case = sscc_urn(with_check_digit(f"069012340{i:08d}"))
        t = T0 + timedelta(seconds=30 * i)
        yield "ObjectEvent", "commissioning", t, "PLANT", None, [(u, "epc") for u in units]
        packed = [(case, "parent"), *((u, "child") for u in units)]
        yield "AggregationEvent", "packing", t + DAY / 4, "PLANT", None, packed
        yield "ObjectEvent", "shipping", t + DAY, "PLANT", distributor, [(case, "epc")]
        yield "ObjectEvent", "receiving", t + 2 * DAY, distributor, None, [(case, "epc")]
        yield "ObjectEvent", "shipping", t + 3 * DAY, distributor, store, [(case, "epc")]
        yield "ObjectEvent", "receiving", t + 4 * DAY, store, None, [(case, "epc")]
        for n, u in enumerate(units):
            sold = t + 5 * DAY + n * timedelta(hours=1)
            if rng.random() < 0.001:
                u = sgtin_urn(GTIN, f"X{i:07d}{n:02d}")  # a code nobody issued
            yield "ObjectEvent", "retail_selling", sold, store, None, [(u, "epc")]
            if rng.random() < 0.005:  # its code sold again, in another store of the city
                again = rng.choice(net.stores_of[city])
                yield "ObjectEvent", "retail_selling", sold + 2 * DAY, again, None, [(u, "epc")]

    def codes(self, cases: int) -> Iterator[dict[str, Any]]:
        for i in range(cases):
            yield {"level": "case", "gtin": None, "serial": None, "sscc": with_check_digit(f"069012340{i:08d}"),
                   "status": "generated"}  # fmt: skip
            for u in range(UNITS_PER_CASE):
                yield {"level": "unit", "gtin": GTIN, "serial": f"{i:07d}{u:02d}", "sscc": None, "status": "generated"}


def epcis_event(net: Network, n: int, kind: str, step: str, t: datetime, at: str | None, dest: str | None,
                epcs: list[tuple[str, str]]) -> dict[str, Any]:  # fmt: skip
    where = {"id": f"https://id.gs1.org/414/{net.gln[at or 'PLANT']}"}
    e: dict[str, Any] = {"eventID": f"urn:uuid:00000000-0000-4000-8000-{n:012d}", "type": kind,
                         "action": "ADD" if step in ("commissioning", "packing") else "OBSERVE", "bizStep": step,
                         "eventTime": t.isoformat(), "eventTimeZoneOffset": "+00:00", "readPoint": where,
                         "bizLocation": where}  # fmt: skip
    if kind == "AggregationEvent":
        e["parentID"] = next(epc for epc, role in epcs if role == "parent")
        e["childEPCs"] = [epc for epc, role in epcs if role == "child"]
    else:
        e["epcList"] = [epc for epc, _ in epcs]
    if dest:
        e["sourceList"] = [{"type": "owning_party", "source": where["id"]}]
        e["destinationList"] = [{"type": "owning_party", "destination": f"https://id.gs1.org/414/{net.gln[dest]}"}]
    return e


def fresh(path: Path, net: Network, cases: int) -> Engine:
    """A migrated SQLite file with the network and the codes of ``cases`` cases."""
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    net.load(engine)
    with engine.begin() as c:
        new_batch = insert(CodeBatch).values(requested=cases, issued=cases).returning(col(CodeBatch.id))
        batch = c.execute(new_batch).scalar_one()
        rows: list[dict[str, Any]] = []
        for row in Flow(net, random.Random(0)).codes(cases):
            rows.append({**row, "batch_id": batch})
            if len(rows) == 50_000:
                c.execute(insert(Code), rows)
                rows = []
        if rows:
            c.execute(insert(Code), rows)
    return engine


def bench_capture(workdir: Path, net: Network, cases: int, repeat: int) -> tuple[float, float, int, float]:
    """Events per second captured without and with the detection listener (best of ``repeat``), and the seconds
    spent inside the listener in the best run with it."""
    flow = Flow(net, random.Random(1))
    events = [e for i in range(cases) for e in flow.case_events(i)]
    events.sort(key=lambda e: e[2])
    docs = [{"type": "EPCISDocument", "schemaVersion": "2.0", "creationDate": "2026-01-01T00:00:00Z",
             "epcisBody": {"eventList": [epcis_event(net, start + k, *e) for k, e in
                                         enumerate(events[start:start + 50])]}}
            for start in range(0, len(events), 50)]  # fmt: skip
    base = workdir / "capture-base.db"
    fresh(base, net, cases).dispose()
    wire_listeners()
    assert diversion_listener.events_stored is not None
    detect = diversion_listener.events_stored
    inside = [0.0]

    def timed(session: Session, stored: Any) -> None:
        started = time.perf_counter()
        detect(session, stored)
        inside[0] += time.perf_counter() - started

    others = [x for x in listeners() if x is not diversion_listener]
    timed_listener = Listener("diversion", events_stored=timed)

    best = {False: 0.0, True: 0.0}
    detection = 0.0
    for run in range(repeat * 2):
        on = run % 2 == 1
        path = workdir / f"capture-{run}.db"
        shutil.copy(base, path)
        engine = make_engine(f"sqlite:///{path}")
        # The benchmark swaps the detection listener for a timed one, or leaves it out.
        saved = listeners()
        set_listeners(([timed_listener] if on else []) + others)
        inside[0] = 0.0
        try:
            started = time.perf_counter()
            for document in docs:
                with Session(engine) as session:
                    capture_document(session=session, document=document)
                    session.commit()
            elapsed = time.perf_counter() - started
        finally:
            set_listeners(saved)
            engine.dispose()
            path.unlink()
        if len(events) / elapsed > best[on]:
            best[on] = len(events) / elapsed
            detection = inside[0] if on else detection
    return best[False], best[True], len(events), detection


def load_store(engine: Engine, net: Network, cases: int) -> int:
    """Write the events of ``cases`` cases straight into the event tables; returns the number of events."""
    flow = Flow(net, random.Random(2))
    now = datetime.now(UTC)
    n = 0
    with engine.begin() as c:
        events: list[dict[str, Any]] = []
        epcs: list[dict[str, Any]] = []
        for i in range(cases):
            for kind, step, t, at, dest, named in flow.case_events(i):
                n += 1
                event_id = f"urn:uuid:00000000-0000-4000-8000-{n:012d}"
                events.append({"id": n, "seq": n, "event_id": event_id, "declaration": False, "hash_id": event_id,
                               "event_type": kind, "action": "ADD" if step in ("commissioning", "packing") else
                               "OBSERVE", "biz_step": step, "event_time": t, "tz_offset": "+00:00",
                               "record_time": now, "location_party_id": at,
                               "source_party_id": at if dest else None, "destination_party_id": dest,
                               "origin": "epcis", "document": "{}", "chain_hash": "0" * 64})  # fmt: skip
                for epc, role in named:
                    if epc.startswith("urn:epc:id:sgtin:"):
                        serial = epc.rsplit(".", 1)[1]
                        key = f"https://id.gs1.org/01/{GTIN}/21/{serial}"
                    else:
                        key = f"https://id.gs1.org/00/{with_check_digit('069012340' + f'{i:08d}')}"
                    epcs.append({"event_pk": n, "key": key, "epc": epc, "role": role})
            if len(events) >= 50_000:
                c.execute(insert(Event), events)
                c.execute(insert(EventEpc), epcs)
                events, epcs = [], []
        if events:
            c.execute(insert(Event), events)
            c.execute(insert(EventEpc), epcs)
        c.execute(text("UPDATE chain_head SET seq = :n"), {"n": n})
    return n


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def high_water_mb() -> float:
    """This process's peak resident set (``VmHWM``): unlike ``ru_maxrss``, not inherited from the parent that
    forked it before ``exec``. Falls back to ``ru_maxrss`` where ``/proc`` has no such line."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return peak_mb()


def reevaluate_twice(url: str, partition: int = PARTITION) -> dict[str, Any]:
    """Raise every alert from nothing, then re-evaluate the same store again (nothing to change), in this process."""
    engine = make_engine(url)
    before = high_water_mb()
    with Session(engine) as session:
        started, cpu = time.perf_counter(), time.process_time()
        first = reevaluate(session=session, partition=partition)
        session.commit()
        first_seconds, first_cpu = time.perf_counter() - started, time.process_time() - cpu
    with Session(engine) as session:
        started = time.perf_counter()
        second = reevaluate(session=session, partition=partition)
        session.commit()
        second_seconds = time.perf_counter() - started
    engine.dispose()
    return {"first": first, "second": second, "first_seconds": first_seconds, "first_cpu": first_cpu,
            "second_seconds": second_seconds, "rss_before_mb": before, "peak_rss_mb": high_water_mb()}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="Events in the store for the full runs.")
    parser.add_argument("--capture-cases", type=int, default=60, help="Cases (~18 events each) for the capture runs.")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--skip-capture", action="store_true")
    parser.add_argument("--partition", type=int, default=PARTITION, help=f"Codes per partition ({PARTITION:,}).")
    args = parser.parse_args()
    net = Network()
    print(f"parties: {len(net.parties)}")
    with tempfile.TemporaryDirectory(prefix="diversion-") as tmp:
        workdir = Path(tmp)
        if not args.skip_capture:
            off, on, n, inside = bench_capture(workdir, net, args.capture_cases, args.repeat)
            print(f"capture_events: {n}")
            print(f"capture_events_per_second_detection_off: {off:.1f}")
            print(f"capture_events_per_second_detection_on: {on:.1f}")
            print(f"detection_listener_ms_per_event: {1000 * inside / n:.2f}")
            print(f"capture_ratio_on_to_off: {on / off:.3f}")
            print(f"detection_cost_percent_of_capture_throughput: {100 * (1 - on / off):.1f}")
        cases = args.events // EVENTS_PER_CASE
        engine = fresh(workdir / "store.db", net, cases)
        started = time.perf_counter()
        events = load_store(engine, net, cases)
        print(f"store_events: {events}")
        print(f"store_load_seconds: {time.perf_counter() - started:.1f}")
        with Session(engine) as session:
            started, cpu = time.perf_counter(), time.process_time()
            graph = build_party_graph(session=session)
            print(f"party_graph_build_seconds: {time.perf_counter() - started:.1f}")
            print(f"party_graph_build_cpu_seconds: {time.process_time() - cpu:.1f}")
            print(f"party_graph_nodes: {graph.number_of_nodes()}")
            print(f"party_graph_edges: {graph.number_of_edges()}")
            del graph
        engine.dispose()
        # In a process of its own, so that its peak RSS is the re-evaluation's (and the interpreter's), not the
        # store load's or the graph build's above.
        with multiprocessing.get_context("spawn").Pool(1) as pool:
            figures = pool.apply(reevaluate_twice, (f"sqlite:///{workdir / 'store.db'}", args.partition))
        first, second = figures["first"], figures["second"]
        first_seconds, first_cpu, second_seconds = (
            figures["first_seconds"],
            figures["first_cpu"],
            figures["second_seconds"],
        )
        print(f"reevaluation_partition_codes: {args.partition}")
        print(f"alerts_raised: {first.raised}")
        print(f"codes_evaluated: {first.evaluated}")
        print(f"full_reevaluation_steady_seconds: {second_seconds:.1f} (changed {second.raised + second.updated})")
        print(f"peak_memory_mb: {peak_mb():.0f} (this process: store load and party graph)")
        print(f"reevaluation_process_rss_before_mb: {figures['rss_before_mb']:.0f}")
        print(f"reevaluation_peak_rss_mb: {figures['peak_rss_mb']:.0f} (VmHWM of the process running both)")
        print(f"full_reevaluation_cpu_seconds: {first_cpu:.1f}")
        print(f"full_reevaluation_seconds: {first_seconds:.1f}")


if __name__ == "__main__":
    main()
