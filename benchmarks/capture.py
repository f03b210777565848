"""EPCIS capture throughput: events per second through the real capture path, against a bare bulk insert.

    python -m benchmarks.capture                          # 100,000 events, SQLite
    python -m benchmarks.capture --quick                  # 10,000 events
    python -m benchmarks.capture --db both                # also PostgreSQL, on a throwaway cluster
    python -m benchmarks.capture --pg postgresql://postgres@127.0.0.1:54329/bench         # also PostgreSQL, that one
    TRACEABILITY_BENCH_PG=postgresql://… python -m benchmarks.capture                    # the same

One large EPCIS 2.0 JSON document is built in memory: a brand warehouse commissions units (SGTIN URNs or Digital
Links) and packs them into cases (SSCCs), ships the cases to distributors (sourceList / destinationList as SGLN URNs),
the distributors receive them and ship them on to their member stores (owning parties as master-data ids), the stores
receive them and sell the units one or two at a time (``retail_selling`` with Digital Links). It is captured in one
``scanning.epcis.capture_document`` call and committed, with the capture-time listeners (diversion rules, settlement
facts) wired as the app wires them; that wall time gives events per second.

The baseline is what the same rows cost the database alone: one SQLAlchemy Core ``executemany`` per table into copies
of ``epcis_event`` and ``epcis_event_epc`` (same columns, constraints and indexes, other names), one transaction,
committed. The ratio says how much of the capture time is the database's and how much is ours (validation, hashing,
the chain, unit state, the listeners). Each database is fresh for every run: a new SQLite file (WAL, synchronous=FULL,
as ``make_engine`` sets it up) and, on PostgreSQL, two schemas of this run's own (``bench_capture_<pid>``,
``bench_bare_<pid>``), created empty and dropped at the end, so that runs sharing a database do not meet.

``measure_reads`` then gives the peak memory of reading a 50,000-event document streamed (``read_json``, issue 18)
against ``json.loads`` of the whole (``read_*`` lines, before the last two).

Output is one ``name: value`` per line on stdout; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import importlib
import json
import os
import random
import resource
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Column, ForeignKey, Index, MetaData, Table, UniqueConstraint, create_engine, func, insert, select
from sqlalchemy import text as sql
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session

from benchmarks.postgres import postgres_database
from scanning.epcis import capture_document
from traceability.database import make_engine, migrate
from traceability.masterdata.service import import_masterdata
from traceability.models import Alert, Event, EventEpc, Sale

COMPANY_PREFIX = "6901234"
GTIN = "06901234000108"
CASE_GTIN = "16901234000105"
UNITS_PER_CASE = 12
CASES_PER_SHIPMENT = 8  # warehouse → distributor
CASES_PER_DELIVERY = 2  # distributor → store
DISTRIBUTORS = 4
CITIES_PER_PROVINCE = 3
STORES_PER_DISTRIBUTOR = 10
T0 = datetime(2026, 3, 1, 0, 0, tzinfo=UTC)
RESOLVER = "https://id.gs1.org"
PG_CAPTURE_SCHEMA, PG_BARE_SCHEMA = f"bench_capture_{os.getpid()}", f"bench_bare_{os.getpid()}"
DEFAULT_EVENTS, QUICK_EVENTS = 100_000, 10_000


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def emit(name: str, value: object) -> None:
    print(f"{name}: {value}", flush=True)


# --- GS1 identifiers (written out here, so the benchmark does not lean on modules being moved) ------------------


def check_digit(body: str) -> str:
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return str((10 - total % 10) % 10)


def gln(location: int) -> str:
    body = f"{COMPANY_PREFIX}{location:05d}"
    return body + check_digit(body)


def sgln_urn(location: int) -> str:
    return f"urn:epc:id:sgln:{COMPANY_PREFIX}.{location:05d}.0"


def sgtin_urn(serial: str) -> str:
    return f"urn:epc:id:sgtin:{GTIN[1:8]}.{GTIN[0]}{GTIN[8:13]}.{serial}"


def sgtin_link(serial: str) -> str:
    return f"{RESOLVER}/01/{GTIN}/21/{serial}"


def sscc(case: int) -> str:
    body = f"0{COMPANY_PREFIX}{case:09d}"
    return body + check_digit(body)


def sscc_urn(case: int) -> str:
    digits = sscc(case)
    return f"urn:epc:id:sscc:{digits[1:8]}.{digits[0]}{digits[8:17]}"


def sscc_link(case: int) -> str:
    return f"{RESOLVER}/00/{sscc(case)}"


# --- master data --------------------------------------------------------------------------------------------------


@dataclass
class Place:
    id: str
    location: int  # the GLN's location reference

    @property
    def sgln(self) -> str:
        return sgln_urn(self.location)


@dataclass
class Network:
    brand: Place = field(default_factory=lambda: Place("BRAND", 0))
    warehouse: Place = field(default_factory=lambda: Place("WH", 1))
    distributors: list[Place] = field(default_factory=list)
    stores_of: dict[str, list[Place]] = field(default_factory=dict)
    document: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def build(cls) -> Network:
        net = cls()
        territories: list[dict[str, Any]] = [{"id": "CN", "name": "China"}]
        parties: list[dict[str, Any]] = [
            {"id": "BRAND", "kind": "brand", "name": "Brand HQ", "gln": gln(0), "territory": "CN"},
            {"id": "WH", "kind": "warehouse", "name": "Central warehouse", "gln": gln(1), "territory": "CN-P0-C0",
             "owner": "BRAND"},
        ]  # fmt: skip
        member = 0
        for d in range(DISTRIBUTORS):
            province = f"CN-P{d}"
            territories.append({"id": province, "name": f"Province {d}", "parent": "CN"})
            for c in range(CITIES_PER_PROVINCE):
                territories.append({"id": f"{province}-C{c}", "name": f"City {d}.{c}", "parent": province})
            dist = Place(f"D-{d}", 10 + d)
            net.distributors.append(dist)
            parties.append({"id": dist.id, "kind": "distributor", "name": f"Distributor {d}", "gln": gln(dist.location),
                            "territory": f"{province}-C0", "authorized_territories": [province]})  # fmt: skip
            stores = []
            for s in range(STORES_PER_DISTRIBUTOR):
                member += 1
                store = Place(f"S-{d}-{s:02d}", 100 + d * STORES_PER_DISTRIBUTOR + s)
                stores.append(store)
                city = s % CITIES_PER_PROVINCE
                parties.append({"id": store.id, "kind": "store", "name": f"Store {d}.{s}", "gln": gln(store.location),
                                "territory": f"{province}-C{city}", "supplied_by": [dist.id],
                                "member_store_no": f"M-{member:06d}", "lat": 23.0 + 2 * d + 0.1 * city + 0.01 * s,
                                "lon": 113.0 + 0.1 * city + 0.01 * s})  # fmt: skip
            net.stores_of[dist.id] = stores
        net.document = {
            "territories": territories,
            "parties": parties,
            "products": [{"gtin": GTIN, "name": "Infant formula 800 g", "unit_price": "268.00", "currency": "CNY",
                          "case_gtin": CASE_GTIN, "units_per_case": UNITS_PER_CASE}],
        }  # fmt: skip
        return net


# --- the document -------------------------------------------------------------------------------------------------


@dataclass
class Workload:
    document: dict[str, Any]
    events: int
    epcs: int
    cases: int
    units: int


def build_document(net: Network, target: int, seed: int = 7) -> Workload:
    """An EPCISDocument of exactly ``target`` events, in event-time order."""
    rng = random.Random(seed)
    events: list[tuple[datetime, int, dict[str, Any]]] = []
    counter = 0

    def add(
        kind: str, action: str, step: str, at: Place, when: datetime, *, epcs: list[str] | None = None,
        parent: str | None = None, children: list[str] | None = None, source: str | None = None,
        destination: str | None = None,
    ) -> None:  # fmt: skip
        nonlocal counter
        counter += 1
        e: dict[str, Any] = {
            "type": kind,
            "eventID": f"urn:uuid:{uuid_of(counter)}",
            "eventTime": when.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "eventTimeZoneOffset": "+08:00",
            "action": action,
            "bizStep": step,
        }
        if kind == "AggregationEvent":
            e["parentID"] = parent
            e["childEPCs"] = children
        else:
            e["epcList"] = epcs
        if step in ("commissioning", "receiving", "retail_selling"):
            e["disposition"] = {"commissioning": "active", "receiving": "in_progress", "retail_selling": "retail_sold"}[
                step
            ]
        e["readPoint"] = {"id": at.sgln}
        e["bizLocation"] = {"id": at.sgln}
        if source is not None and destination is not None:
            e["sourceList"] = [{"type": "owning_party", "source": source}]
            e["destinationList"] = [{"type": "owning_party", "destination": destination}]
        events.append((when, counter, e))

    case_no = 0
    shipment = 0
    while len(events) < target:
        dist = net.distributors[shipment % len(net.distributors)]
        start = T0 + timedelta(minutes=30 * CASES_PER_SHIPMENT * shipment)
        cases: list[tuple[int, list[str]]] = []
        for k in range(CASES_PER_SHIPMENT):
            case_no += 1
            serials = [f"{rng.getrandbits(64):016X}" for _ in range(UNITS_PER_CASE)]
            as_link = case_no % 2 == 0  # half the brand's systems speak Digital Link, half EPC URNs
            named = [sgtin_link(s) if as_link else sgtin_urn(s) for s in serials]
            made = start + timedelta(minutes=30 * k)
            add("ObjectEvent", "ADD", "commissioning", net.warehouse, made, epcs=named)
            add("AggregationEvent", "ADD", "packing", net.warehouse, made + timedelta(minutes=5),
                parent=sscc_urn(case_no), children=named)  # fmt: skip
            cases.append((case_no, serials))
        shipped = start + timedelta(hours=30 * CASES_PER_SHIPMENT / 60 + 2)
        ids = [sscc_urn(c) for c, _ in cases]
        add("ObjectEvent", "OBSERVE", "shipping", net.warehouse, shipped, epcs=ids,
            source=net.warehouse.sgln, destination=dist.sgln)  # fmt: skip
        arrived = shipped + timedelta(hours=20 + rng.random() * 8)
        add("ObjectEvent", "OBSERVE", "receiving", dist, arrived, epcs=ids,
            source=net.warehouse.sgln, destination=dist.sgln)  # fmt: skip
        for d in range(0, len(cases), CASES_PER_DELIVERY):
            batch = cases[d : d + CASES_PER_DELIVERY]
            store = rng.choice(net.stores_of[dist.id])
            out = arrived + timedelta(hours=12 + rng.random() * 48)
            delivery = [sscc_link(c) if c % 3 == 0 else sscc_urn(c) for c, _ in batch]
            add("ObjectEvent", "OBSERVE", "shipping", dist, out, epcs=delivery, source=dist.id, destination=store.id)
            received = out + timedelta(hours=2 + rng.random() * 4)
            add("ObjectEvent", "OBSERVE", "receiving", store, received, epcs=delivery,
                source=dist.id, destination=store.id)  # fmt: skip
            units = [s for _, serials in batch for s in serials]
            i = 0
            while i < len(units):
                take = 2 if rng.random() < 0.15 and i + 1 < len(units) else 1
                sold = received + timedelta(hours=1 + rng.random() * 24 * 14)
                add("ObjectEvent", "OBSERVE", "retail_selling", store, sold,
                    epcs=[sgtin_link(s) for s in units[i : i + take]])  # fmt: skip
                i += take
        shipment += 1
    # The tail of the last shipment (the latest store receipts and sales) is cut: not yet happened.
    del events[target:]
    events.sort(key=lambda x: (x[0], x[1]))
    body = [e for _, _, e in events]
    epcs = sum(len(e.get("epcList") or e.get("childEPCs") or []) + (1 if "parentID" in e else 0) for e in body)
    document = {
        "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-06-01T00:00:00.000Z",
        "epcisBody": {"eventList": body},
    }
    return Workload(document, len(body), epcs, case_no, case_no * UNITS_PER_CASE)


def uuid_of(n: int) -> str:
    h = hashlib.blake2b(n.to_bytes(8, "big"), digest_size=16).hexdigest()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-8{h[17:20]}-{h[20:32]}"


# --- the baseline's rows and tables -------------------------------------------------------------------------------


def baseline_rows(net: Network, document: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The rows the capture stores, built without the project: query columns, canonical JSON, a chain of hashes."""
    by_name: dict[str, str] = {}
    for place in [net.brand, net.warehouse, *net.distributors, *(s for v in net.stores_of.values() for s in v)]:
        by_name[place.sgln] = by_name[place.id] = place.id
    received = datetime.now(UTC)
    link = "0" * 64
    events: list[dict[str, Any]] = []
    epcs: list[dict[str, Any]] = []
    for n, e in enumerate(document["epcisBody"]["eventList"], start=1):
        stored = dict(e, **{"@context": document["@context"]})
        canonical = json.dumps(stored, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        hash_id = "ni:///sha-256;" + hashlib.sha256(canonical.encode()).hexdigest() + "?ver=CBV2.0"
        link = hashlib.sha256((link + hash_id).encode()).hexdigest()
        src = e.get("sourceList", [{}])[0].get("source")
        dst = e.get("destinationList", [{}])[0].get("destination")
        events.append({
            "id": n, "seq": n, "event_id": e["eventID"], "declaration": False, "hash_id": hash_id,
            "event_type": e["type"], "action": e["action"], "biz_step": e["bizStep"],
            "disposition": e.get("disposition"),
            "event_time": datetime.strptime(e["eventTime"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC),
            "tz_offset": e["eventTimeZoneOffset"], "record_time": received, "read_point": e["readPoint"]["id"],
            "biz_location": e["bizLocation"]["id"], "location_party_id": by_name[e["bizLocation"]["id"]],
            "source_party_id": by_name.get(src) if src else None,
            "destination_party_id": by_name.get(dst) if dst else None, "capture_id": None, "origin": "epcis",
            "document": canonical, "warnings": None, "chain_hash": link,
        })  # fmt: skip
        named = [(x, "epc") for x in e.get("epcList", [])] + [(x, "child") for x in e.get("childEPCs", [])]
        if "parentID" in e:
            named.append((e["parentID"], "parent"))
        epcs.extend({"event_pk": n, "key": key_of(x), "epc": x, "role": role} for x, role in named)
    return events, epcs


def key_of(epc: str) -> str:
    """The canonical Digital Link of the identifiers this benchmark writes."""
    if epc.startswith(RESOLVER):
        return epc
    if epc.startswith("urn:epc:id:sgtin:"):
        return sgtin_link(epc.rsplit(".", 1)[1])
    body = epc.rsplit(":", 1)[1].replace(".", "")
    digits = body[len(COMPANY_PREFIX)] + body[: len(COMPANY_PREFIX)] + body[len(COMPANY_PREFIX) + 1 :]
    return f"{RESOLVER}/00/{digits + check_digit(digits)}"


def bare_tables(metadata: MetaData) -> tuple[Table, Table]:
    """Copies of the event and identifier tables: same columns, unique constraints and indexes, other names."""
    source_event = cast(Table, Event.__table__)  # type: ignore[attr-defined]
    source_epc = cast(Table, EventEpc.__table__)  # type: ignore[attr-defined]

    def copy(src: Table, name: str, fks: dict[str, str]) -> Table:
        columns = [
            Column(c.name, c.type, *([ForeignKey(fks[c.name])] if c.name in fks else []),
                   primary_key=c.primary_key, nullable=c.nullable, autoincrement=c.autoincrement)
            for c in src.columns
        ]  # fmt: skip
        table = Table(name, metadata, *columns)
        for constraint in src.constraints:
            if isinstance(constraint, UniqueConstraint):
                cols = [c.name for c in constraint.columns]
                table.append_constraint(UniqueConstraint(*cols, name=f"{name}_uq_{'_'.join(cols)}"))
        for index in src.indexes:
            cols = [c.name for c in index.columns]
            Index(f"{name}_ix_{'_'.join(cols)}", *(table.c[c] for c in cols), unique=bool(index.unique))
        return table

    # The event's foreign key to its own table is kept; the one to ``capture`` is not (no capture row here).
    event = copy(source_event, "bare_epcis_event", {})
    epc = copy(source_epc, "bare_epcis_event_epc", {"event_pk": "bare_epcis_event.id"})
    return event, epc


# --- wiring, databases, the two measurements ----------------------------------------------------------------------


def wire_listeners() -> str:
    """Wire the capture-time listeners as the app does (``traceability.app.wire_listeners``) and name them.

    Before the ledger (commit 2e7b1c5 and earlier) listeners registered themselves on import: importing the two
    modules is then the same wiring, so the script also measures the previous code for an A/B comparison.
    """
    app = importlib.import_module("traceability.app")
    wire = getattr(app, "wire_listeners", None)
    if callable(wire):
        wire()
        store = importlib.import_module("ledger.store")
        return "wire_listeners(): " + ", ".join(listener.name for listener in store.listeners())
    importlib.import_module("flow_graph.service")
    importlib.import_module("rebates.facts")
    hooks = importlib.import_module("traceability.hooks")
    names = [f"{fn.__module__}.{fn.__name__}" for fn in getattr(hooks, "_event_listeners", [])]
    return "by import: " + ", ".join(names)


def pg_url(url: str, schema: str | None = None) -> str:
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            url = "postgresql+psycopg://" + url[len(prefix) :]
    if schema is None:
        return url
    parsed = make_url(url).update_query_dict({"options": f"-csearch_path={schema}"})
    return parsed.render_as_string(hide_password=False)


def pg_schemas(url: str, *, create: bool) -> None:
    """Drop this run's schemas, and (``create``) make them again, empty."""
    admin = create_engine(pg_url(url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for schema in (PG_CAPTURE_SCHEMA, PG_BARE_SCHEMA):
            conn.execute(sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            if create:
                conn.execute(sql(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()


def count(engine: Engine, model: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(model)).scalar_one())


def measure_capture(engine: Engine, net: Network, work: Workload, prefix: str) -> dict[str, Any]:
    migrate(engine)
    with Session(engine) as session:
        import_masterdata(session=session, raw=net.document)
        session.commit()
    gc.collect()
    log(f"{prefix}: capturing {work.events} events in one document …")
    started, cpu = time.perf_counter(), time.process_time()
    with Session(engine) as session:
        result = capture_document(session=session, document=work.document)
        session.commit()
        stored, refused = len(result.stored), len(result.refused)
        del result
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu
    log(f"{prefix}: captured in {seconds:.1f} s")
    return {
        "capture_seconds": f"{seconds:.2f}",
        "capture_cpu_seconds": f"{cpu_seconds:.2f}",
        "capture_events_per_second": f"{work.events / seconds:.1f}",
        "capture_epcs_per_second": f"{work.epcs / seconds:.1f}",
        "stored_events": stored,
        "refused_events": refused,
        "stored_epc_rows": count(engine, EventEpc),
        "alerts": count(engine, Alert),
        "sale_rows": count(engine, Sale),
    }


def measure_bare(engine: Engine, rows: tuple[list[dict[str, Any]], list[dict[str, Any]]], events: int,
                 prefix: str) -> dict[str, Any]:  # fmt: skip
    metadata = MetaData()
    event_table, epc_table = bare_tables(metadata)
    metadata.create_all(engine)
    gc.collect()
    log(f"{prefix}: bare insert of {len(rows[0])} + {len(rows[1])} rows …")
    started = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(insert(event_table), rows[0])
        conn.execute(insert(epc_table), rows[1])
    seconds = time.perf_counter() - started
    log(f"{prefix}: bare insert in {seconds:.1f} s")
    return {"bare_insert_seconds": f"{seconds:.2f}", "bare_insert_events_per_second": f"{events / seconds:.1f}"}


def run_database(
    prefix: str, capture_engine: Callable[[], Engine], bare_engine: Callable[[], Engine], net: Network,
    work: Workload, rows: Callable[[], tuple[list[dict[str, Any]], list[dict[str, Any]]]],
) -> dict[str, Any]:  # fmt: skip
    out: dict[str, Any] = {}
    engine = capture_engine()
    started = time.perf_counter()
    try:
        out.update(measure_capture(engine, net, work, prefix))
    except Exception as exc:  # a finding to report, not a reason to stop the other measurements
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        out["capture_error"] = f"{type(exc).__name__}: {first}"[:300]
        out["capture_failed_after_seconds"] = f"{time.perf_counter() - started:.1f}"
        where = [f for f in traceback.extract_tb(exc.__traceback__) if "site-packages" not in f.filename]
        log(f"{prefix}: capture failed: {out['capture_error']}")
        log("".join(traceback.format_list(where[-6:])).rstrip())
    finally:
        engine.dispose()
    engine = bare_engine()
    try:
        out.update(measure_bare(engine, rows(), work.events, prefix))
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        out["bare_insert_error"] = f"{type(exc).__name__}: {first}"[:300]
        log(f"{prefix}: bare insert failed: {out['bare_insert_error']}")
    finally:
        engine.dispose()
    if "capture_events_per_second" in out and "bare_insert_events_per_second" in out:
        ratio = float(out["capture_events_per_second"]) / float(out["bare_insert_events_per_second"])
        out["ratio_to_bare_insert"] = f"{ratio:.4f}"
    return out


READ_EVENTS = 50_000


def measure_reads(net: Network, events: int = READ_EVENTS) -> dict[str, Any]:
    """Peak memory (tracemalloc) of reading one document of ``events`` events as capture reads a large body: streamed
    (``scanning.epcis_stream.read_json``, every event parsed a chunk at a time and let go) against ``json.loads``
    of the whole. The bytes themselves are not counted: they are there before either reader starts."""
    import tracemalloc

    from scanning.epcis_stream import StreamedDocument, read_json

    raw = json.dumps(build_document(net, events).document, ensure_ascii=False).encode("utf-8")
    gc.collect()

    def peak(read: Callable[[], object]) -> tuple[float, float]:
        tracemalloc.start()
        started = time.perf_counter()
        try:
            read()
            return tracemalloc.get_traced_memory()[1] / 2**20, time.perf_counter() - started
        finally:
            tracemalloc.stop()
            gc.collect()

    def streamed() -> None:
        document = read_json(raw)
        assert isinstance(document, StreamedDocument), "a large plain document is streamed"
        for _chunk in document.chunks():
            pass

    log(f"reads: {events} events, {len(raw) / 2**20:.1f} MB, streamed and whole …")
    streamed_mb, streamed_s = peak(streamed)
    whole_mb, whole_s = peak(lambda: json.loads(raw))
    return {
        "read_events": events,
        "read_document_mb": f"{len(raw) / 2**20:.1f}",
        "read_streamed_peak_mb": f"{streamed_mb:.1f}",
        "read_json_loads_peak_mb": f"{whole_mb:.1f}",
        "read_streamed_to_json_loads": f"{streamed_mb / whole_mb:.4f}",
        "read_streamed_seconds": f"{streamed_s:.2f}",
        "read_json_loads_seconds": f"{whole_s:.2f}",
    }


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--events", type=int, default=DEFAULT_EVENTS, help="Events in the document (100,000).")
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_EVENTS:,} events.")
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default=None,
                        help="Where to measure (default: sqlite, or both when a PostgreSQL URL is given).")  # fmt: skip
    parser.add_argument(
        "--pg",
        "--postgres",
        dest="postgres",
        metavar="URL",
        default=os.environ.get("TRACEABILITY_BENCH_PG"),
        help="A PostgreSQL database (default: env TRACEABILITY_BENCH_PG, else a throwaway cluster when --db asks for "
        "PostgreSQL); the run works in two schemas of its own (bench_capture_<pid>, bench_bare_<pid>), dropped at "
        "the end.",
    )
    args = parser.parse_args(argv)
    db = args.db or ("both" if args.postgres else "sqlite")
    target = QUICK_EVENTS if args.quick else args.events
    if target < 1:
        parser.error("--events must be positive")

    wiring = wire_listeners()
    log(f"listeners: {wiring}")
    net = Network.build()
    started = time.perf_counter()
    work = build_document(net, target)
    log(f"document of {work.events} events, {work.epcs} EPCs built in {time.perf_counter() - started:.1f} s")
    cached: list[tuple[list[dict[str, Any]], list[dict[str, Any]]]] = []

    def rows() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        if not cached:
            cached.append(baseline_rows(net, work.document))
        return cached[0]

    emit("events", work.events)
    emit("epcs", work.epcs)
    emit("epcs_per_event", f"{work.epcs / work.events:.2f}")
    emit("cases", work.cases)
    emit("units", work.units)
    emit("parties", len(net.document["parties"]))
    emit("listeners", wiring)

    results: dict[str, dict[str, Any]] = {}
    if db in ("sqlite", "both"):
        with tempfile.TemporaryDirectory(prefix="capture-bench-") as tmp:
            results["sqlite"] = run_database(
                "sqlite",
                lambda: make_engine(f"sqlite:///{Path(tmp) / 'capture.db'}"),
                lambda: make_engine(f"sqlite:///{Path(tmp) / 'bare.db'}"),
                net, work, rows,
            )  # fmt: skip
        for name, value in results["sqlite"].items():
            emit(f"sqlite_{name}", value)
    if db in ("postgres", "both"):
        with ExitStack() as stack:
            url = args.postgres or stack.enter_context(postgres_database(None, "trc_bench_capture"))
            pg_schemas(url, create=True)
            try:
                results["postgresql"] = run_database(
                    "postgresql",
                    lambda: make_engine(pg_url(url, PG_CAPTURE_SCHEMA)),
                    lambda: make_engine(pg_url(url, PG_BARE_SCHEMA)),
                    net, work, rows,
                )  # fmt: skip
            finally:
                pg_schemas(url, create=False)
        for name, value in results["postgresql"].items():
            emit(f"postgresql_{name}", value)
    emit("peak_rss_mb", f"{peak_rss_mb():.0f}")  # of the captures: the reads below are measured with tracemalloc
    for name, value in measure_reads(net).items():
        emit(name, value)
    last = results.get("sqlite") or results["postgresql"]  # the issue asks for SQLite's; PostgreSQL's when alone
    emit("capture_events_per_second", last.get("capture_events_per_second", "nan"))
    emit("ratio_to_bare_insert", last.get("ratio_to_bare_insert", "nan"))


if __name__ == "__main__":
    main()
