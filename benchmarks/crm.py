"""Clerk-task generation and member segmentation over N members and M sales, beside a bare SQL aggregation.

    python -m benchmarks.crm                                   # 1,000,000 members, 10,000,000 sales, both backends
    python -m benchmarks.crm --members 100000 --sales 1000000 --db sqlite
    BENCH_PG=postgresql://postgres@127.0.0.1:55432/tt python -m benchmarks.crm --db postgres

What is loaded into a fresh migrated database, in SQL (recursive CTE / generate_series): 1,000 member stores,
10 products, N members (home store i % 1,000) and M counted ``sale`` rows to them over 180 days (two units per
purchase occasion, member ``(i / 2) % N``), as the capture listener writes them (one event row per 1,000 sales for
the foreign key; crm never reads the event table). Indexes are built after loading.

Measured in the same run, each the best of ``--repeat``:
- bare: the two GROUP BYs the CRM figures rest on, nothing else — per member and day units and days of supply,
  and per member occasions, units, value and last purchase;
- generate: ``crm.tasks.generate_tasks`` for the last day (then once more: the idempotent re-run inserts nothing);
- segments: ``crm.segments.iter_segments`` read to the end (every member's tier), and its peak Python memory;
- ``crm_ratio_to_bare_sql``: (generate + segments) / bare.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from datetime import date
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel

from crm.segments import iter_segments
from crm.tasks import generate_tasks
from rebates.policy import Policy
from traceability.auth.service import Principal
from traceability.database import make_engine, migrate
from traceability.models import Role
from traceability.settings import Settings

STORES = 1000
GTINS = [f"0690123400{100 + k:03d}{k % 10}" for k in range(10)]
DAYS = 180
LAST = date(2026, 6, 29)  # the 180th day from 2026-01-01
BRAND = Principal(role=Role.admin, party_id="BRAND")


def _master(engine: Engine) -> None:
    with engine.begin() as c:
        c.execute(text("INSERT INTO territory (id, name, parent_id) VALUES ('CN', 'China', NULL)"))
        c.execute(text("INSERT INTO party (id, kind, name, gln, territory_id) "
                       "VALUES ('BRAND', 'brand', '品牌', '6901234000009', 'CN')"))  # fmt: skip
        c.execute(text("INSERT INTO party (id, kind, name, gln, territory_id, member_store_no) "
                       "VALUES (:id, 'store', :n, :g, 'CN', :m)"),
                  [{"id": f"S{s:04d}", "n": f"门店 {s}", "g": f"68{s:011d}", "m": f"M{s:06d}"}
                   for s in range(STORES)])  # fmt: skip
        c.execute(text("INSERT INTO product (gtin, name, unit_price, currency) VALUES (:g, :n, :p, 'CNY')"),
                  [{"g": g, "n": f"产品 {i}", "p": f"{268 - i * 17}.00"} for i, g in enumerate(GTINS)])  # fmt: skip
        c.execute(text("INSERT INTO epcis_event (id, seq, event_id, declaration, hash_id, event_type, biz_step, "
                       "event_time, tz_offset, record_time, document, origin, chain_hash) VALUES (:i, :i, :e, "
                       "false, 'h', 'ObjectEvent', 'retail_selling', '2026-01-01 00:00:00', '+00:00', "
                       "'2026-01-01 00:00:00', '{}', 'bench', 'x')"),
                  [{"i": 1, "e": "urn:uuid:bench-1"}])  # fmt: skip


def _load(engine: Engine, n_members: int, n_sales: int) -> None:
    gtin = "CASE i % 10 " + " ".join(f"WHEN {k} THEN '{g}'" for k, g in enumerate(GTINS)) + " END"
    with engine.begin() as c:
        if engine.dialect.name == "sqlite":
            c.execute(text(f"""
                WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < {n_members - 1})
                INSERT INTO member (phone_hash, home_store_id, source, created_at)
                SELECT printf('%064d', i), printf('S%04d', i % {STORES}), 'pos', '2025-12-01 00:00:00.000000'
                FROM n"""))  # fmt: skip
            # occasion k = i / 2 (two units), member k % N, on day (k * 7919) % 180 of 2026 at 10:00
            c.execute(text(f"""
                WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < {n_sales - 1})
                INSERT INTO sale (unit_key, gtin, store_id, event_pk, event_id, event_time, member_hash, counted)
                SELECT 'U' || i, {gtin}, printf('S%04d', ((i / 2) % {n_members}) % {STORES}), 1,
                       'urn:uuid:occ-' || (i / 2),
                       strftime('%Y-%m-%d %H:%M:%S.000000', '2026-01-01 10:00:00',
                                '+' || (((i / 2) * 7919) % {DAYS}) || ' days'),
                       printf('%064d', (i / 2) % {n_members}), 1
                FROM n"""))  # fmt: skip
        else:
            c.execute(text(f"""
                INSERT INTO member (phone_hash, home_store_id, source, created_at)
                SELECT lpad(i::text, 64, '0'), 'S' || lpad((i % {STORES})::text, 4, '0'), 'pos',
                       timestamptz '2025-12-01 00:00:00+00'
                FROM generate_series(0::bigint, {n_members - 1}) AS i"""))  # fmt: skip
            c.execute(text(f"""
                INSERT INTO sale (unit_key, gtin, store_id, event_pk, event_id, event_time, member_hash, counted)
                SELECT 'U' || i, {gtin}, 'S' || lpad((((i / 2) % {n_members}) % {STORES})::text, 4, '0'), 1,
                       'urn:uuid:occ-' || (i / 2),
                       timestamptz '2026-01-01 10:00:00+00' + ((((i / 2) * 7919) % {DAYS}) * interval '1 day'),
                       lpad(((i / 2) % {n_members})::text, 64, '0'), true
                FROM generate_series(0::bigint, {n_sales - 1}) AS i"""))  # fmt: skip


def _reindex(engine: Engine, drop: bool) -> None:
    with engine.begin() as c:
        for index in SQLModel.metadata.tables["sale"].indexes:
            if drop:
                c.execute(text(f"DROP INDEX IF EXISTS {index.name}"))
            else:
                index.create(c)
        if not drop:
            c.execute(text("ANALYZE"))


def bare(engine: Engine) -> int:
    """The floor: per member and day (the consumption input) and per member (the segment input); no rules."""
    day = ("CAST(strftime('%s', event_time) AS INTEGER) / 86400" if engine.dialect.name == "sqlite"
           else "CAST(floor(extract(epoch FROM event_time) / 86400) AS INTEGER)")  # fmt: skip
    with engine.connect() as c:
        days = c.execute(text(f"SELECT count(*) FROM (SELECT member_hash, {day}, count(*) FROM sale WHERE counted "
                              f"GROUP BY member_hash, {day}) x")).scalar_one()  # fmt: skip
        members = 0
        for _ in c.execution_options(yield_per=5000).execute(text(
            "SELECT s.member_hash, count(DISTINCT s.event_id), count(*), sum(p.unit_price), max(s.event_time) "
            "FROM sale s LEFT JOIN product p ON p.gtin = s.gtin WHERE s.counted GROUP BY s.member_hash"
        )):  # fmt: skip
            members += 1
    return int(days) + members


def generate(engine: Engine) -> int:
    with Session(engine) as session:
        made = generate_tasks(session=session, day=LAST, policy=Policy())
        session.rollback()  # every repeat makes the same tasks from nothing
    return made


def segments(engine: Engine) -> int:
    with Session(engine) as session:
        return sum(1 for _ in iter_segments(session=session, principal=BRAND, as_of=LAST, policy=Policy()))


def best(fn: Callable[[Engine], int], engine: Engine, repeat: int) -> tuple[float, int]:
    times, out = [], 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn(engine)
        times.append(time.perf_counter() - t0)
    return min(times), out


def run(name: str, url: str, n_members: int, n_sales: int, repeat: int) -> float:
    engine = make_engine(url)
    migrate(engine)
    t0 = time.perf_counter()
    _master(engine)
    _reindex(engine, drop=True)
    _load(engine, n_members, n_sales)
    _reindex(engine, drop=False)
    print(f"{name}_load_s: {time.perf_counter() - t0:.1f}", flush=True)
    bare_s, _ = best(bare, engine, repeat)
    print(f"{name}_bare_aggregation_s: {bare_s:.2f}", flush=True)
    gen_s, made = best(generate, engine, repeat)
    print(f"{name}_generate_s: {gen_s:.2f}", flush=True)
    print(f"{name}_tasks_made: {made}", flush=True)
    with Session(engine) as session:  # made for real, then again: the re-run inserts nothing
        first = generate_tasks(session=session, day=LAST, policy=Policy())
        again = generate_tasks(session=session, day=LAST, policy=Policy())
        session.commit()
    assert first == made, (first, made)
    assert again == 0, again
    print(f"{name}_generate_again_inserted: {again}", flush=True)
    seg_s, rows = best(segments, engine, repeat)
    assert rows == n_members, (rows, n_members)
    tracemalloc.start()
    segments(engine)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(f"{name}_segments_s: {seg_s:.2f}", flush=True)
    print(f"{name}_segments_peak_python_mib: {peak / 2**20:.1f}", flush=True)
    ratio = (gen_s + seg_s) / bare_s
    print(f"{name}_ratio_to_bare_sql: {ratio:.2f}", flush=True)
    engine.dispose()
    return ratio


def _fresh_postgres(url: str) -> str:
    admin = make_engine(url).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text('DROP DATABASE IF EXISTS "trc_bench_crm" WITH (FORCE)'))
        c.execute(text('CREATE DATABASE "trc_bench_crm"'))
    admin.dispose()
    return url.rsplit("/", 1)[0] + "/trc_bench_crm"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--sales", type=int, default=10_000_000)
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--dir", type=Path, default=None, help="Where the SQLite file goes (default: a temp dir).")
    args = parser.parse_args()
    print(f"members: {args.members}")
    print(f"sales: {args.sales}")
    ratios = []
    if args.db in ("sqlite", "both"):
        with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
            ratios.append(run("sqlite", f"sqlite:///{Path(tmp) / 'bench.db'}", args.members, args.sales, args.repeat))
    if args.db in ("postgres", "both"):
        pg = os.environ.get("BENCH_PG")
        if pg:
            ratios.append(run("postgres", _fresh_postgres(Settings(db=pg).db), args.members, args.sales, args.repeat))
        else:
            print("postgres: skipped (set BENCH_PG to a PostgreSQL URL)")
    print(f"crm_ratio_to_bare_sql: {max(ratios):.2f}")


if __name__ == "__main__":
    main()
