"""Time to settle one period with N sell-through events and 10,000 stores, beside a bare SQL aggregation of the rows.

    python -m benchmarks.settlement                        # 10,000,000 sales on SQLite and a throwaway PostgreSQL
    python -m benchmarks.settlement --events 1000000 --db sqlite
    python -m benchmarks.settlement --db postgres --pg postgresql://postgres@127.0.0.1:55432/postgres

What is loaded, per backend, into a fresh migrated database: 10,000 member stores, 100 distributors, 10 products;
N ``sale`` rows (1 % of them a second sale of a unit, not counted) and N ``purchase`` rows (95 % scanned out), all in
April 2026, plus 500 diversion alerts. Rows are generated inside the database (recursive CTE / generate_series) and
indexed after loading; the ``sale`` and ``purchase`` rows are what the capture listener writes for retail_selling
and shipping events (one event per 1,000 rows here, as the foreign key needs an event and settlement never reads
the event table).

Measured in the same run, each timed as the best of ``--repeat`` runs:
- bare: per store, distinct units sold and their fee; per distributor, units shipped and their value (two SQL
  GROUP BYs joined to the product prices, nothing else);
- settle: ``settlement.service.run_settlement`` for 2026-04 with the default policy (everything finance gets);
- peak Python memory of one settle (tracemalloc), which stays flat as N grows.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session

from benchmarks.postgres import postgres_database
from rebates.policy import Policy
from settlement.periods import period_bounds
from settlement.service import run_settlement
from traceability.database import make_engine, migrate

STORES = 10_000
DISTRIBUTORS = 100
GTINS = [f"0690123400{100 + k:03d}{k % 10}" for k in range(10)]
PRICES = [Decimal("268.00") - k * Decimal("17.35") for k in range(10)]


def _master(engine: Engine) -> None:
    with engine.begin() as c:
        c.execute(text("INSERT INTO territory (id, name, parent_id) VALUES ('CN', 'China', NULL)"))
        for t in range(31):
            c.execute(text("INSERT INTO territory (id, name, parent_id) VALUES (:i, :n, 'CN')"),
                      {"i": f"CN-{t:02d}", "n": f"省 {t:02d}"})  # fmt: skip
        c.execute(text("INSERT INTO party (id, kind, name, gln, territory_id) "
                       "VALUES ('BRAND', 'brand', '品牌', '6901234000009', 'CN')"))
        rows = [{"id": f"D{d:03d}", "kind": "distributor", "name": f"经销商 {d:03d}", "gln": f"69{d:011d}",
                 "t": f"CN-{d % 31:02d}", "m": None} for d in range(DISTRIBUTORS)]  # fmt: skip
        rows += [{"id": f"S{s:05d}", "kind": "store", "name": f"门店 {s:05d}", "gln": f"68{s:011d}",
                  "t": f"CN-{s % 31:02d}", "m": f"M{s:06d}"} for s in range(STORES)]  # fmt: skip
        c.execute(text("INSERT INTO party (id, kind, name, gln, territory_id, member_store_no) "
                       "VALUES (:id, :kind, :name, :gln, :t, :m)"), rows)  # fmt: skip
        c.execute(text("INSERT INTO product (gtin, name, unit_price, currency) VALUES (:g, :n, :p, 'CNY')"),
                  [{"g": g, "n": f"产品 {i}", "p": str(p)}
                   for i, (g, p) in enumerate(zip(GTINS, PRICES, strict=True))])  # fmt: skip


def _events(engine: Engine, n_events: int) -> None:
    rows = [{"seq": i + 1, "eid": f"urn:uuid:bench-{i}", "t": "2026-04-15 00:00:00.000000"} for i in range(n_events)]
    with engine.begin() as c:
        c.execute(text("INSERT INTO epcis_event (id, seq, event_id, declaration, hash_id, event_type, biz_step, "
                       "event_time, tz_offset, record_time, document, origin, chain_hash) VALUES (:seq, :seq, :eid, "
                       "false, 'h', 'ObjectEvent', 'retail_selling', '2026-04-15 00:00:00', '+00:00', "
                       "'2026-04-15 00:00:00', '{}', 'bench', 'x')"), rows)  # fmt: skip


def _load_sqlite(engine: Engine, n: int) -> None:
    gtin_case = "CASE i % 10 " + " ".join(f"WHEN {k} THEN '{g}'" for k, g in enumerate(GTINS)) + " END"
    time_expr = ("printf('2026-04-%02d %02d:%02d:%02d.000000', 1 + (i / 86400) % 30, (i / 3600) % 24, "
                 "(i / 60) % 60, i % 60)")  # fmt: skip
    events = max(1, n // 1000)
    with engine.begin() as c:
        c.execute(text(f"""
            WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < {n - 1})
            INSERT INTO sale (unit_key, gtin, store_id, event_pk, event_id, event_time, member_hash, counted)
            SELECT 'https://id.gs1.org/01/' || {gtin_case} || '/21/U' || (CASE WHEN i % 100 = 99 THEN i - 1 ELSE i END),
                   {gtin_case}, printf('S%05d', (i * 7919 + i / 100) % {STORES}), 1 + i % {events},
                   'urn:uuid:bench-' || (i % {events}),
                   {time_expr}, CASE WHEN i % 3 = 0 THEN printf('%064d', i % 50000) END, i % 100 != 99
            FROM n"""))  # fmt: skip
        c.execute(text(f"""
            WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < {n - 1})
            INSERT INTO purchase (unit_key, gtin, distributor_id, source_id, event_pk, event_id, event_time, counted,
                                  scanned_out)
            SELECT 'https://id.gs1.org/01/' || {gtin_case} || '/21/U' || i, {gtin_case},
                   printf('D%03d', i % {DISTRIBUTORS}),
                   'BRAND', 1 + i % {events}, 'urn:uuid:bench-' || (i % {events}), {time_expr}, 1, i % 20 != 0
            FROM n"""))  # fmt: skip


def _load_postgres(engine: Engine, n: int) -> None:
    gtin_case = "CASE i % 10 " + " ".join(f"WHEN {k} THEN '{g}'" for k, g in enumerate(GTINS)) + " END"
    time_expr = "timestamptz '2026-04-01 00:00:00+00' + ((i % 2592000) * interval '1 second')"
    events = max(1, n // 1000)
    with engine.begin() as c:
        c.execute(text(f"""
            INSERT INTO sale (unit_key, gtin, store_id, event_pk, event_id, event_time, member_hash, counted)
            SELECT 'https://id.gs1.org/01/' || {gtin_case} || '/21/U' || (CASE WHEN i % 100 = 99 THEN i - 1 ELSE i END),
                   {gtin_case}, 'S' || lpad(((i * 7919 + i / 100) % {STORES})::text, 5, '0'), 1 + i % {events},
                   'urn:uuid:bench-' || (i % {events}), {time_expr},
                   CASE WHEN i % 3 = 0 THEN lpad((i % 50000)::text, 64, '0') END, i % 100 != 99
            FROM generate_series(0::bigint, {n - 1}) AS i"""))  # fmt: skip
        c.execute(text(f"""
            INSERT INTO purchase (unit_key, gtin, distributor_id, source_id, event_pk, event_id, event_time, counted,
                                  scanned_out)
            SELECT 'https://id.gs1.org/01/' || {gtin_case} || '/21/U' || i, {gtin_case},
                   'D' || lpad((i % {DISTRIBUTORS})::text, 3, '0'), 'BRAND', 1 + i % {events},
                   'urn:uuid:bench-' || (i % {events}), {time_expr}, true, i % 20 != 0
            FROM generate_series(0::bigint, {n - 1}) AS i"""))  # fmt: skip


def _alerts(engine: Engine) -> None:
    if not _has_table(engine, "alert"):
        return
    with engine.begin() as c:
        rows = [{"k": "out_of_territory", "u": f"https://id.gs1.org/01/{GTINS[i % 10]}/21/U{i * 977}",
                 "p": f"S{i % STORES:05d}", "d": f"D{(i * 13) % DISTRIBUTORS:03d}", "t": f"CN-{i % 31:02d}",
                 "e": "[]", "f": "2026-04-10 00:00:00"} for i in range(500)]  # fmt: skip
        c.execute(text("INSERT INTO alert (kind, unit_key, epc, party_id, responsible_distributor_id, territory_id, "
                       "event_ids, rejected_scan_ids, detail, first_seen, last_seen, status, created_at, updated_at, "
                       "status_changed_at) VALUES (:k, :u, :u, :p, :d, :t, :e, '[]', '', :f, :f, 'open', :f, :f, :f)"),
                  rows)  # fmt: skip


def _has_table(engine: Engine, name: str) -> bool:
    from sqlalchemy import inspect

    return inspect(engine).has_table(name)


def _reindex(engine: Engine, drop: bool) -> None:
    from sqlmodel import SQLModel

    with engine.begin() as c:
        for table in ("sale", "purchase"):
            for index in SQLModel.metadata.tables[table].indexes:
                if drop:
                    c.execute(text(f"DROP INDEX IF EXISTS {index.name}"))
                else:
                    index.create(c)
        if engine.dialect.name == "sqlite":
            c.execute(text("ANALYZE"))
        else:
            c.execute(text("ANALYZE sale"))
            c.execute(text("ANALYZE purchase"))


def bare(engine: Engine) -> int:
    """The floor: per store distinct units and fee, per distributor units and value; two GROUP BYs, no rules."""
    start, end = period_bounds("2026-04")
    with engine.connect() as c:
        stores = c.execute(text(
            "SELECT s.store_id, count(DISTINCT s.unit_key), sum(p.unit_price) * 0.03 FROM sale s "
            "JOIN product p ON p.gtin = s.gtin WHERE s.counted AND s.event_time >= :a AND s.event_time < :b "
            "GROUP BY s.store_id"
        ), {"a": start, "b": end}).all()  # fmt: skip
        dist = c.execute(text(
            "SELECT u.distributor_id, count(*), sum(p.unit_price) FROM purchase u JOIN product p ON p.gtin = u.gtin "
            "WHERE u.event_time >= :a AND u.event_time < :b GROUP BY u.distributor_id"
        ), {"a": start, "b": end}).all()  # fmt: skip
    return len(stores) + len(dist)


def settle(engine: Engine) -> int:
    with Session(engine) as session:
        result = run_settlement(session=session, period="2026-04", policy=Policy())
        return len(result.stores) + len(result.distributors)


def best(fn: Callable[[Engine], int], engine: Engine, repeat: int) -> tuple[float, int]:
    times = []
    out = 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn(engine)
        times.append(time.perf_counter() - t0)
    return min(times), out


def run(name: str, url: str, n: int, repeat: int) -> None:
    engine = make_engine(url)
    migrate(engine)
    t0 = time.perf_counter()
    _master(engine)
    _events(engine, max(1, n // 1000))
    _reindex(engine, drop=True)
    (_load_sqlite if engine.dialect.name == "sqlite" else _load_postgres)(engine, n)
    _reindex(engine, drop=False)
    _alerts(engine)
    print(f"{name}_load_s: {time.perf_counter() - t0:.1f}", flush=True)
    bare_s, bare_rows = best(bare, engine, repeat)
    print(f"{name}_bare_aggregation_s: {bare_s:.2f}", flush=True)
    settle_s, lines = best(settle, engine, repeat)
    tracemalloc.start()
    settle(engine)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert lines == bare_rows, (lines, bare_rows)
    print(f"{name}_settle_peak_python_mib: {peak / 2**20:.1f}", flush=True)
    print(f"{name}_settle_s: {settle_s:.2f}", flush=True)
    print(f"{name}_settle_over_bare: {settle_s / bare_s:.2f}", flush=True)
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--pg", default=os.environ.get("BENCH_PG"),
                        help="A PostgreSQL server URL (default: env BENCH_PG, else a throwaway cluster).")  # fmt: skip
    parser.add_argument("--dir", type=Path, default=None, help="Where the SQLite file goes (default: a temp dir).")
    parser.add_argument("--sample-pdf", type=Path, default=None, help="Only write the sample report PDF of docs/.")
    args = parser.parse_args()
    if args.sample_pdf is not None:
        sample(args.sample_pdf)
        return
    print(f"events: {args.events}")
    print(f"stores: {STORES}")
    if args.db in ("sqlite", "both"):
        with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
            run("sqlite", f"sqlite:///{Path(tmp) / 'bench.db'}", args.events, args.repeat)
    if args.db in ("postgres", "both"):
        with postgres_database(args.pg, "trc_bench_settlement") as url:
            run("postgres", url, args.events, args.repeat)



# --- the sample report in docs/ -----------------------------------------------------------------------------------

_SAMPLE_DISTRIBUTORS = ["广州恒通商贸", "深圳万家供应链", "南京金陵母婴", "杭州西湖贸易",
                        "成都蓉城分销", "武汉江城商行", "上海浦江实业", "北京京华渠道"]  # fmt: skip
_SAMPLE_CITIES = ["广州", "深圳", "南京", "杭州", "成都", "武汉", "上海", "北京"]


def sample(out: Path) -> None:
    """Render the sample settlement PDF of docs/ from a small, varied April (eight distributors, 48 stores)."""
    import random

    from settlement.reports import report_data, to_pdf

    rng = random.Random(20260401)
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'sample.db'}")
        migrate(engine)
        with engine.begin() as c:
            c.execute(text("INSERT INTO territory (id, name) VALUES ('CN', '中国')"))
            for i, city in enumerate(_SAMPLE_CITIES):
                c.execute(text("INSERT INTO territory (id, name, parent_id) VALUES (:i, :n, 'CN')"),
                          {"i": f"T{i}", "n": city})  # fmt: skip
            c.execute(text("INSERT INTO party (id, kind, name, gln, territory_id) "
                           "VALUES ('BRAND', 'brand', '品牌总部', '6901234000009', 'CN')"))  # fmt: skip
            for d, name in enumerate(_SAMPLE_DISTRIBUTORS):
                c.execute(text("INSERT INTO party (id, kind, name, gln, territory_id) VALUES (:i, 'distributor', :n, "
                               ":g, :t)"),
                          {"i": f"D-{d + 1:02d}", "n": name, "g": f"69{d:011d}", "t": f"T{d}"})  # fmt: skip
                for s in range(6):
                    c.execute(text("INSERT INTO party (id, kind, name, gln, territory_id, member_store_no) VALUES "
                                   "(:i, 'store', :n, :g, :t, :m)"),
                              {"i": f"S-{d + 1:02d}-{s + 1}", "n": f"{_SAMPLE_CITIES[d]}母婴店 {s + 1} 号",
                               "g": f"68{d * 10 + s:011d}", "t": f"T{d}", "m": f"M{d}{s}"})  # fmt: skip
            c.execute(text("INSERT INTO product (gtin, name, unit_price, currency) VALUES "
                           "('06901234000108', '婴儿配方奶粉 1段 800 g', '268.00', 'CNY'), "
                           "('06901234000115', '会员装 婴儿米粉 225 g', '99.50', 'CNY')"))  # fmt: skip
        _events(engine, 1)
        sales, buys = [], []
        coverage = [0.99, 0.97, 0.96, 0.90, 0.86, 0.82, 0.70, 0.97]
        for d in range(len(_SAMPLE_DISTRIBUTORS)):
            for u in range(rng.randint(300, 1200)):
                gtin = "06901234000108" if u % 3 else "06901234000115"
                key = f"https://id.gs1.org/01/{gtin}/21/D{d}U{u}"
                day = rng.randint(1, 30)
                buys.append({"k": key, "g": gtin, "d": f"D-{d + 1:02d}", "t": f"2026-04-{day:02d} 09:00:00.000000",
                             "o": rng.random() < coverage[d]})  # fmt: skip
                if rng.random() < 0.55:
                    sale_day = min(30, day + rng.randint(0, 10))
                    sales.append({"k": key, "g": gtin, "s": f"S-{d + 1:02d}-{rng.randint(1, 6)}",
                                  "t": f"2026-04-{sale_day:02d} 15:00:00.000000"})  # fmt: skip
        alerts = _has_table(engine, "alert")
        with engine.begin() as c:
            c.execute(text("INSERT INTO purchase (unit_key, gtin, distributor_id, source_id, event_pk, event_id, "
                           "event_time, counted, scanned_out) VALUES (:k, :g, :d, 'BRAND', 1, 'urn:uuid:bench-0', "
                           ":t, 1, :o)"), buys)  # fmt: skip
            c.execute(text("INSERT INTO sale (unit_key, gtin, store_id, event_pk, event_id, event_time, counted) "
                           "VALUES (:k, :g, :s, 1, 'urn:uuid:bench-0', :t, 1)"), sales)  # fmt: skip
            if alerts:
                diverted = {2: (1, "T0"), 4: (9, "T6"), 6: (14, "T7"), 5: (3, "T1")}
                rows = []
                for d, (n, where) in diverted.items():
                    for u in range(n):
                        unit = f"https://id.gs1.org/01/06901234000108/21/D{d}U{u + 1}"
                        rows.append({"k": "out_of_territory", "u": unit,
                                     "p": "S-01-1", "d": f"D-{d + 1:02d}", "t": where, "e": "[]",
                                     "f": "2026-04-18 00:00:00"})  # fmt: skip
                c.execute(text("INSERT INTO alert (kind, unit_key, epc, party_id, responsible_distributor_id, "
                               "territory_id, event_ids, rejected_scan_ids, detail, first_seen, last_seen, status, "
                               "created_at, updated_at, status_changed_at) VALUES (:k, :u, :u, :p, :d, :t, :e, '[]', "
                               "'', :f, :f, 'open', :f, :f, :f)"), rows)  # fmt: skip
        with Session(engine) as session:
            result = run_settlement(session=session, period="2026-04", policy=Policy(timezone="UTC"))
            out.write_bytes(to_pdf(report_data(session=session, settlement=result)))
        engine.dispose()


if __name__ == "__main__":
    main()
