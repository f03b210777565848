"""EPCIS query throughput: events per second that ``GET /epcis/events?MATCH_epc=…`` returns, beside the same SELECT.

    python -m benchmarks.query                 # 1,000,000 events, SQLite
    python -m benchmarks.query --events 100000 # a smaller store
    python -m benchmarks.query --db postgres   # on a throwaway PostgreSQL cluster (benchmarks/postgres.py)
    python -m benchmarks.query --db postgres --pg postgresql://postgres@127.0.0.1:54329/postgres

The store is bulk-loaded straight into ``epcis_event`` and ``epcis_event_epc`` (Core ``executemany``, as
``benchmarks/capture.py`` does for its baseline): every event names one unit, each unit has ``events / units`` events
(its history), spread over a month. Then the same random units are asked for twice: through the app (the real route:
key check, query parsing, party scope, paging token, JSON) of a real ``traceability serve`` on loopback, over one
keep-alive connection (``http.client``; see :class:`Client`), with ``perPage=100``; and as the bare SELECT the query
service runs (the identifier subquery, ordered by event time and row id, 101 rows with their JSON), fetched with
Core. Both sides parse the JSON they get. ``GET /healthz`` of the same server, timed in the same run, is the floor
of any HTTP answer. The ratio says what the REST layer costs on top of the database.

The two sides are timed in rounds (``--rounds``, 5), each round one side right after the other over the same units,
the side that goes first alternating. On a shared machine the load changes between minutes, and a bare SELECT timed
once, a minute after the API, moved 2.4x between runs (stop 25); within a round both sides meet the same load. The
last line is the median of the rounds' ratios; the pooled ratio of all rounds and every round's ratio are printed
above it.

Output is one ``name: value`` per line on stdout (the last ``query_ratio_to_bare_select``); progress on stderr.
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import insert, text
from sqlalchemy.engine import Engine
from sqlmodel import Session

from benchmarks.pos import serve
from benchmarks.postgres import postgres_database
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


class Client:
    """One keep-alive connection of the standard library's ``http.client``: the instrument, chosen for costing little
    of its own — httpx spends about 1 ms a request on itself (``/healthz`` 1.1–1.6 ms against 0.4–0.5 ms here, on the
    same server), more than the server's HTTP work, and that is no part of what the REST layer costs."""

    def __init__(self, base: str, token: str) -> None:
        host, port = base.removeprefix("http://").rsplit(":", 1)
        self._conn = http.client.HTTPConnection(host, int(port), timeout=60)
        self._headers = {"Authorization": f"Bearer {token}"}

    def get(self, path: str) -> tuple[int, bytes]:
        self._conn.request("GET", path, headers=self._headers)
        resp = self._conn.getresponse()
        return resp.status, resp.read()

    def events(self, epc: str) -> list[object]:
        status, body = self.get(f"/epcis/events?MATCH_epc={epc}&perPage=100")
        assert status == 200, body[:500]
        listed: list[object] = json.loads(body)["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
        return listed

    def close(self) -> None:
        self._conn.close()


@dataclass
class Round:
    api_events: int
    api_seconds: float
    bare_events: int
    bare_seconds: float

    @property
    def ratio(self) -> float:
        return (self.api_events / self.api_seconds) / (self.bare_events / self.bare_seconds)


def measure_round(engine: Engine, client: Client, asked: list[str], *, api_first: bool) -> Round:
    """Both sides over the same units, one right after the other (which first alternates between rounds), so that
    a change in the machine's load between rounds moves both sides of a round's ratio alike."""

    def api() -> tuple[int, float]:
        returned, t = 0, time.perf_counter()
        for wanted in asked:
            returned += len(client.events(wanted))
        return returned, time.perf_counter() - t

    def bare() -> tuple[int, float]:
        rows, t = 0, time.perf_counter()
        with engine.connect() as conn:
            for wanted in asked:
                fetched = conn.execute(BARE, {"key": wanted}).all()
                rows += min(len(fetched), 100)
                for row in fetched[:100]:
                    json.loads(row.document)  # the JSON a client gets is parsed once on both sides
        return rows, time.perf_counter() - t

    if api_first:
        (a_n, a_s), (b_n, b_s) = api(), bare()
    else:
        (b_n, b_s), (a_n, a_s) = bare(), api()
    log(f"round: api {a_s / len(asked) * 1000:.2f} ms, bare {b_s / len(asked) * 1000:.2f} ms per query")
    return Round(a_n, a_s, b_n, b_s)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=300, help="queries per side in each round")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of both sides, taken in turn (default 5)")
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite", help="the store's database")
    parser.add_argument("--pg", default=None, help="a PostgreSQL server URL (default: a throwaway local cluster)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        url = f"sqlite:///{Path(tmp) / 'query.db'}"
        if args.db == "postgres":
            url = stack.enter_context(postgres_database(args.pg, "trc_bench_query"))
        emit("db", args.db)
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
        proc, base = serve(url, Path(tmp) / "keys")
        try:
            client = Client(base, token)
            client.events(asked[0])  # warm up
            t = time.perf_counter()
            for _ in range(args.queries):
                assert client.get("/healthz")[0] == 200
            healthz_ms = (time.perf_counter() - t) / args.queries * 1000
            rounds = [measure_round(engine, client, asked, api_first=r % 2 == 1) for r in range(args.rounds)]
            client.close()
            with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60) as slow:
                t = time.perf_counter()  # the same queries through httpx, for comparison only
                for wanted in asked:
                    slow.get(f"/epcis/events?MATCH_epc={wanted}&perPage=100").json()
                httpx_ms = (time.perf_counter() - t) / args.queries * 1000
        finally:
            proc.terminate()
            proc.wait(30)
        returned = sum(r.api_events for r in rounds)
        bare_rows = sum(r.bare_events for r in rounds)
        api_seconds = sum(r.api_seconds for r in rounds)
        bare_seconds = sum(r.bare_seconds for r in rounds)
        ratios = sorted(r.ratio for r in rounds)
        asked_total = args.queries * args.rounds
        emit("queries", args.queries)
        emit("rounds", args.rounds)
        emit("healthz_ms", round(healthz_ms, 2))
        emit("api_ms_per_query", round(api_seconds / asked_total * 1000, 2))
        emit("api_ms_per_query_httpx_client", round(httpx_ms, 2))
        emit("bare_ms_per_query", round(bare_seconds / asked_total * 1000, 2))
        emit("events_returned", returned)
        emit("api_seconds", round(api_seconds, 3))
        emit("bare_select_seconds", round(bare_seconds, 3))
        emit("api_events_per_second", round(returned / api_seconds))
        emit("bare_select_events_per_second", round(bare_rows / bare_seconds))
        emit("pooled_ratio", round((returned / api_seconds) / (bare_rows / bare_seconds), 3))
        emit("round_ratios", " ".join(f"{r:.3f}" for r in ratios))
        emit("query_ratio_to_bare_select", round(statistics.median(ratios), 3))
        engine.dispose()


if __name__ == "__main__":
    main()
