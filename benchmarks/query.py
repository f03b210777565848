"""EPCIS query throughput: events per second that ``GET /epcis/events?MATCH_epc=…`` returns, beside the same SELECT.

    python -m benchmarks.query                 # 1,000,000 events, SQLite
    python -m benchmarks.query --events 100000 # a smaller store
    python -m benchmarks.query --postgres postgresql://postgres@127.0.0.1:54329/bench

The store is bulk-loaded straight into ``epcis_event`` and ``epcis_event_epc`` (Core ``executemany``, as
``benchmarks/capture.py`` does for its baseline): every event names one unit, each unit has ``events / units`` events
(its history), spread over a month. Then the same random units are asked for twice: through the app (the real route:
key check, query parsing, party scope, paging token, JSON) of a real ``traceability serve`` on loopback, over one
keep-alive connection, with ``perPage=100``; and as the bare SELECT the query service runs (the identifier
subquery, ordered by event time and row id, 101 rows with their JSON), fetched with Core. Both sides parse the JSON
they get. ``GET /healthz`` of the same server, timed in the same run, is the floor of any HTTP answer. The ratio
says what the REST layer costs on top of the database.

Output is one ``name: value`` per line on stdout (the last ``query_ratio_to_bare_select``); progress on stderr.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import insert, text
from sqlalchemy.engine import Engine
from sqlmodel import Session

from benchmarks.pos import serve
from ledger.store import EPCIS_CONTEXT, canonical_json
from traceability.auth.service import create_api_key
from traceability.database import make_engine, migrate
from traceability.masterdata.service import import_masterdata
from traceability.models import Event, EventEpc, Role

GTIN = "06901234000108"
T0 = datetime(2026, 3, 1, tzinfo=UTC)
EVENTS_PER_UNIT = 100
STEPS = ("commissioning", "shipping", "receiving", "inspecting", "storing")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def emit(name: str, value: object) -> None:
    print(f"{name}: {value}", flush=True)


def key(unit: int) -> str:
    return f"https://id.gs1.org/01/{GTIN}/21/U{unit:08d}"


def load(engine: Engine, events: int) -> int:
    """Bulk-load ``events`` events over ``events / EVENTS_PER_UNIT`` units; returns the number of units."""
    units = max(1, events // EVENTS_PER_UNIT)
    rng = random.Random(16)
    chunk = 50_000
    with engine.begin() as conn:
        import_masterdata(session=Session(bind=conn), raw={"territories": [{"id": "CN", "name": "China"}], "parties": [
            {"id": "BRAND", "kind": "brand", "name": "Brand", "gln": "6901234000009", "territory": "CN"}]})  # fmt: skip
    seq = 0
    for start in range(0, events, chunk):
        rows, epcs = [], []
        for i in range(start, min(events, start + chunk)):
            seq += 1
            unit = i % units
            when = T0 + timedelta(seconds=rng.randrange(30 * 86400))
            step = STEPS[rng.randrange(len(STEPS))]
            epc = f"urn:epc:id:sgtin:6901234.000010.U{unit:08d}"
            document = {"@context": [EPCIS_CONTEXT], "type": "ObjectEvent", "action": "OBSERVE", "bizStep": step,
                        "epcList": [epc],
                        "eventTime": when.isoformat(), "eventTimeZoneOffset": "+00:00",
                        "eventID": f"urn:uuid:bench-{seq}",
                        "bizLocation": {"id": "https://id.gs1.org/414/6901234000009"}}  # fmt: skip
            rows.append({"id": seq, "seq": seq, "event_id": f"urn:uuid:bench-{seq}", "declaration": False,
                         "hash_id": f"ni:///sha-256;{seq:064x}?ver=CBV2.0", "event_type": "ObjectEvent",
                         "action": "OBSERVE", "biz_step": step, "event_time": when, "tz_offset": "+00:00",
                         "record_time": when, "biz_location": "https://id.gs1.org/414/6901234000009",
                         "location_party_id": "BRAND", "origin": "bench", "document": canonical_json(document),
                         "chain_hash": f"{seq:064x}"})  # fmt: skip
            epcs.append({"event_pk": seq, "key": key(unit), "epc": epc, "role": "epc"})
        with engine.begin() as conn:
            conn.execute(insert(Event), rows)
            conn.execute(insert(EventEpc), epcs)
        log(f"loaded {min(events, start + chunk):,} events")
    with engine.begin() as conn:
        conn.execute(text("UPDATE chain_head SET seq = :s"), {"s": seq})
        conn.execute(text("ANALYZE"))
    return units


BARE = text(
    "SELECT * FROM epcis_event WHERE epcis_event.declaration = false AND epcis_event.id IN "
    "(SELECT event_pk FROM epcis_event_epc WHERE role IN ('epc', 'child') AND key = :key) "
    "ORDER BY epcis_event.event_time, epcis_event.id LIMIT 101"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--postgres", default=None, help="a PostgreSQL URL instead of a fresh SQLite file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.postgres or f"sqlite:///{Path(tmp) / 'query.db'}"
        engine = make_engine(url)
        migrate(engine)
        started = time.perf_counter()
        units = load(engine, args.events)
        emit("events", args.events)
        emit("units", units)
        emit("load_seconds", round(time.perf_counter() - started, 1))
        with Session(engine) as session:
            token = create_api_key(session=session, role=Role.admin, party_id="BRAND").token
            session.commit()
        rng = random.Random(3)
        asked = [key(rng.randrange(units)) for _ in range(args.queries)]
        with engine.connect() as conn:  # both sides then find the same pages in the OS cache, whoever goes first
            for wanted in asked:
                conn.execute(BARE, {"key": wanted}).all()
        engine.dispose()
        proc, base = serve(url, Path(tmp) / "keys")
        try:
            with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60) as client:
                client.get(f"/epcis/events?MATCH_epc={asked[0]}&perPage=100")  # warm up
                t = time.perf_counter()
                for _ in range(args.queries):
                    assert client.get("/healthz").status_code == 200
                healthz_ms = (time.perf_counter() - t) / args.queries * 1000
                returned, t = 0, time.perf_counter()
                for wanted in asked:
                    resp = client.get(f"/epcis/events?MATCH_epc={wanted}&perPage=100")
                    assert resp.status_code == 200, resp.text
                    returned += len(resp.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"])
                api_seconds = time.perf_counter() - t
        finally:
            proc.terminate()
            proc.wait(30)
        bare_rows, t = 0, time.perf_counter()
        with engine.connect() as conn:
            for wanted in asked:
                fetched = conn.execute(BARE, {"key": wanted}).all()
                bare_rows += min(len(fetched), 100)
                for row in fetched[:100]:
                    json.loads(row.document)  # the JSON a client gets is parsed once on both sides
        bare_seconds = time.perf_counter() - t
        api_eps, bare_eps = returned / api_seconds, bare_rows / bare_seconds
        emit("queries", args.queries)
        emit("healthz_ms", round(healthz_ms, 2))
        emit("api_ms_per_query", round(api_seconds / args.queries * 1000, 2))
        emit("bare_ms_per_query", round(bare_seconds / args.queries * 1000, 2))
        emit("events_returned", returned)
        emit("api_seconds", round(api_seconds, 3))
        emit("bare_select_seconds", round(bare_seconds, 3))
        emit("api_events_per_second", round(api_eps))
        emit("bare_select_events_per_second", round(bare_eps))
        emit("query_ratio_to_bare_select", round(api_eps / bare_eps, 3))
        engine.dispose()


if __name__ == "__main__":
    main()
