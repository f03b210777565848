"""Clerk-task generation and member segmentation over N members and M sales, beside a bare SQL aggregation.

    python -m benchmarks.crm                                    # 1,000,000 members, 10,000,000 sales, both backends
    python -m benchmarks.crm --members 100000 --sales 1000000 --db sqlite
    python -m benchmarks.crm --db postgres --pg postgresql://postgres@127.0.0.1:54329/postgres

Without ``--pg`` the PostgreSQL run starts a throwaway cluster of its own (``benchmarks/postgres.py``) and stops and
removes it after; with ``--pg`` it creates (and drops after) the database ``trc_bench_crm`` on that server.

What is loaded into a fresh migrated database, in SQL (recursive CTE / ``generate_series``, never the ORM): 1,000
member stores, 10 products, N members (home store i % 1,000, registered before the year) and M counted ``sale``
rows over 365 days in time order, as a capture listener writes them: two units per purchase occasion, each
occasion's member drawn by a multiplicative hash (so gaps between a member's purchases vary, some overlap and
stock up, and first purchases fall all through the year). One event row stands for them all (the foreign key; crm
never reads the event table). The sale indexes are built after loading, then ANALYZE.

Every sale before the last day is loaded first, the indexes built, and the stock summary (``crm.stock``) built over
them (``stock_build_s``, committed: the initial build a deployment does once); then the last day's sales arrive
(``day_sales``). Measured in the same run, each the best of ``--repeat``:

- ``bare_aggregation``: one ``GROUP BY member`` over the sale facts with the aggregates segmentation reads
  (occasions, units, value, last purchase), read to the end — no rules, no join to the registry;
- ``stock_refresh_day``: the day's refresh of the summary alone, rolled back;
- ``generate``: ``crm.tasks.generate_tasks`` for the last day — the day's refresh and generation on the summary —
  rolled back (then made for real and once more: the idempotent re-run inserts nothing);
- ``generate_<scan>`` for each read of ``--compare`` (default ``full``: every member's history, the reference),
  once each — each must make the same tasks;
- ``segments``: ``crm.segments.iter_segments`` read to the end (every member's tier); with ``--trace-memory`` its
  peak Python memory (tracemalloc) in one more pass;
- ``peak_rss_mib``: the process's peak resident memory (``getrusage``) after each backend — the SQLite run's
  includes SQLite's own cache and sorter, which work in this process;
- ``crm_ratio_to_bare_sql``: (generate + segments) / bare, the worst of the backends run.
"""

from __future__ import annotations

import argparse
import resource
import sqlite3
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from contextlib import closing
from datetime import date
from functools import partial
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel

from benchmarks.postgres import postgres_database
from crm.segments import iter_segments
from crm.stock import refresh
from crm.tasks import SCANS, generate_tasks
from rebates.policy import Policy
from traceability.auth.service import Principal
from traceability.database import make_engine, migrate
from traceability.models import Role

STORES = 1000
GTINS = [f"0690123400{100 + k:03d}{k % 10}" for k in range(10)]
DAYS = 365
LAST = date(2026, 12, 31)  # the 365th day from 2026-01-01
BRAND = Principal(role=Role.admin, party_id="BRAND")
HASH = 2654435761  # Knuth's multiplicative hash: occasion -> member, scattered but reproducible


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


def last_day_start(n_sales: int) -> int:
    """The first sale row (``i``) of the last day: occasion ``o = i / 2`` falls on day ``o * 365 / occasions``."""
    occasions = max(n_sales // 2, 1)
    return min(2 * -(-(DAYS - 1) * occasions // DAYS), n_sales)


def _load(engine: Engine, n_members: int, n_sales: int, lo: int, hi: int) -> None:
    """Members (with ``lo == 0``) and the sale rows ``lo <= i < hi`` of the year's ``n_sales``."""
    occasions = max(n_sales // 2, 1)
    gtin = "CASE i % 10 " + " ".join(f"WHEN {k} THEN '{g}'" for k, g in enumerate(GTINS)) + " END"
    # occasion k = i / 2 (two units) on day k * 365 / occasions at 10:00 UTC, member (k * HASH mod 2^32) mod N
    member = f"(((i / 2) * {HASH}) % 4294967296) % {n_members}"
    offset = f"((i / 2) * {DAYS} / {occasions})"
    with engine.begin() as c:
        if hi <= lo:
            return
        if engine.dialect.name == "sqlite":
            if lo == 0:
                c.execute(text(f"""
                WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < {n_members - 1})
                INSERT INTO member (phone_hash, home_store_id, source, created_at)
                SELECT printf('%064d', i), printf('S%04d', i % {STORES}), 'pos', '2025-12-01 00:00:00.000000'
                FROM n"""))  # fmt: skip
            c.execute(text(f"""
                WITH RECURSIVE n(i) AS (SELECT {lo} UNION ALL SELECT i + 1 FROM n WHERE i < {hi - 1})
                INSERT INTO sale (unit_key, gtin, store_id, event_pk, event_id, event_time, member_hash, counted)
                SELECT 'U' || i, {gtin}, printf('S%04d', {member} % {STORES}), 1, 'urn:uuid:occ-' || (i / 2),
                       strftime('%Y-%m-%d %H:%M:%S.000000', '2026-01-01 10:00:00', '+' || {offset} || ' days'),
                       printf('%064d', {member}), 1
                FROM n"""))  # fmt: skip
        else:
            if lo == 0:
                c.execute(text(f"""
                INSERT INTO member (phone_hash, home_store_id, source, created_at)
                SELECT lpad(i::text, 64, '0'), 'S' || lpad((i % {STORES})::text, 4, '0'), 'pos',
                       timestamptz '2025-12-01 00:00:00+00'
                FROM generate_series(0::bigint, {n_members - 1}) AS i"""))  # fmt: skip
            c.execute(text(f"""
                INSERT INTO sale (unit_key, gtin, store_id, event_pk, event_id, event_time, member_hash, counted)
                SELECT 'U' || i, {gtin}, 'S' || lpad(({member} % {STORES})::text, 4, '0'), 1,
                       'urn:uuid:occ-' || (i / 2),
                       timestamptz '2026-01-01 10:00:00+00' + ({offset} * interval '1 day'),
                       lpad(({member})::text, 64, '0'), true
                FROM generate_series({lo}::bigint, {hi - 1}) AS i"""))  # fmt: skip


def _reindex(engine: Engine, drop: bool) -> None:
    with engine.begin() as c:
        for index in SQLModel.metadata.tables["sale"].indexes:
            if drop:
                c.execute(text(f"DROP INDEX IF EXISTS {index.name}"))
            else:
                index.create(c)
    if drop:
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        # VACUUM (PostgreSQL) sets the visibility map that index-only scans need
        c.execute(text("ANALYZE" if engine.dialect.name == "sqlite" else "VACUUM ANALYZE"))
    if engine.dialect.name == "sqlite" and engine.url.database:
        # A database in service is checkpointed as it goes; fresh from a bulk load its pages would all still be read
        # through the write-ahead log, several times slower for every query timed here alike.
        engine.dispose()
        with closing(sqlite3.connect(engine.url.database)) as raw:
            raw.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()


def bare(engine: Engine) -> int:
    """The floor: one GROUP BY member over the sale facts with the figures a segment rests on; no rules."""
    with engine.connect() as c:
        members = 0
        for _ in c.execution_options(yield_per=5000).execute(text(
            "SELECT s.member_hash, count(DISTINCT s.event_id), count(*), sum(p.unit_price), max(s.event_time) "
            "FROM sale s LEFT JOIN product p ON p.gtin = s.gtin WHERE s.counted GROUP BY s.member_hash"
        )):  # fmt: skip
            members += 1
    return members


def generate(engine: Engine, *, scan: str = "stock") -> int:
    with Session(engine) as session:
        made = generate_tasks(session=session, day=LAST, policy=Policy(), scan=scan)
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


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def stock_refresh(engine: Engine) -> int:
    """The day's refresh alone (rolled back): the members whose figures it extended or recomputed."""
    with Session(engine) as session:
        done = refresh(session=session, day=LAST, policy=Policy())
        session.rollback()
    return done.extended + done.recomputed


def run(name: str, url: str, n_members: int, n_sales: int, repeat: int, trace: bool = False,
        scans: tuple[str, ...] = ("full",)) -> float:  # fmt: skip
    engine = make_engine(url)
    migrate(engine)
    day_from = last_day_start(n_sales)
    t0 = time.perf_counter()
    _master(engine)
    _reindex(engine, drop=True)
    _load(engine, n_members, n_sales, 0, day_from)
    print(f"{name}_load_s: {time.perf_counter() - t0:.1f}", flush=True)
    t0 = time.perf_counter()
    _reindex(engine, drop=False)
    print(f"{name}_index_s: {time.perf_counter() - t0:.1f}", flush=True)
    # the summary over every sale before the last day: the initial build a deployment does once
    t0 = time.perf_counter()
    with Session(engine) as session:
        built = refresh(session=session, day=LAST, policy=Policy())
        session.commit()
    print(f"{name}_stock_build_s: {time.perf_counter() - t0:.2f}", flush=True)
    print(f"{name}_stock_members: {built.recomputed}", flush=True)
    t0 = time.perf_counter()
    _load(engine, n_members, n_sales, day_from, n_sales)  # the last day's sales arrive, into the indexed table
    print(f"{name}_day_sales: {n_sales - day_from}", flush=True)
    print(f"{name}_day_load_s: {time.perf_counter() - t0:.2f}", flush=True)
    bare_s, grouped = best(bare, engine, repeat)
    print(f"{name}_bare_aggregation_s: {bare_s:.2f}", flush=True)
    print(f"{name}_members_with_sales: {grouped}", flush=True)
    refresh_s, touched = best(stock_refresh, engine, repeat)
    print(f"{name}_stock_refresh_day_s: {refresh_s:.2f}", flush=True)
    print(f"{name}_stock_refresh_members: {touched}", flush=True)
    gen_s, made = best(generate, engine, repeat)  # the day's refresh + generation on the summary
    print(f"{name}_generate_s: {gen_s:.2f}", flush=True)
    print(f"{name}_tasks_made: {made}", flush=True)
    for scan in scans:  # the reference reads once each: the same tasks
        scan_s, scan_made = best(partial(generate, scan=scan), engine, 1)
        assert scan_made == made, (scan, scan_made, made)
        print(f"{name}_generate_{scan}_s: {scan_s:.2f}", flush=True)
    with Session(engine) as session:  # made for real, then again: the re-run inserts nothing
        first = generate_tasks(session=session, day=LAST, policy=Policy())
        again = generate_tasks(session=session, day=LAST, policy=Policy())
        session.commit()
    assert first == made, (first, made)
    assert again == 0, again
    print(f"{name}_generate_again_inserted: {again}", flush=True)
    seg_s, rows = best(segments, engine, repeat)
    assert rows == n_members, (rows, n_members)
    print(f"{name}_segments_s: {seg_s:.2f}", flush=True)
    if trace:  # a traced pass runs several times slower: only when asked
        tracemalloc.start()
        segments(engine)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        print(f"{name}_segments_peak_python_mib: {peak / 2**20:.1f}", flush=True)
    print(f"{name}_peak_rss_mib: {_rss_mib():.0f}", flush=True)
    ratio = (gen_s + seg_s) / bare_s
    print(f"{name}_ratio_to_bare_sql: {ratio:.2f}", flush=True)
    engine.dispose()
    return ratio


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--sales", type=int, default=10_000_000)
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--pg", default=None, help="A PostgreSQL server URL (default: a throwaway local cluster).")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--trace-memory", action="store_true", help="Also trace segmentation's Python memory.")
    parser.add_argument(
        "--compare",
        default="full",
        help="Reference reads timed once each, comma-separated (full, recent, auto; '' for none).",
    )
    parser.add_argument("--dir", type=Path, default=None, help="Where the SQLite file goes (default: a temp dir).")
    args = parser.parse_args()
    if args.members < 1 or args.sales < 2:
        parser.error("--members must be at least 1 and --sales at least 2")
    scans = tuple(x for x in args.compare.split(",") if x)
    if any(x not in SCANS or x == "stock" for x in scans):
        parser.error(f"--compare takes reads among {', '.join(x for x in SCANS if x != 'stock')}")
    print(f"members: {args.members}")
    print(f"sales: {args.sales}")
    ratios = []
    if args.db in ("sqlite", "both"):
        with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
            url = f"sqlite:///{Path(tmp) / 'bench.db'}"
            ratios.append(run("sqlite", url, args.members, args.sales, args.repeat, args.trace_memory, scans))
    if args.db in ("postgres", "both"):
        with postgres_database(args.pg, "trc_bench_crm") as url:
            ratios.append(run("postgres", url, args.members, args.sales, args.repeat, args.trace_memory, scans))
    print(f"crm_ratio_to_bare_sql: {max(ratios):.2f}")


if __name__ == "__main__":
    main()
