"""The POS sale round trip at the counter, with 10,000 members and 1,000,000 sales already stored.

    python -m benchmarks.pos                                   # SQLite, and a throwaway PostgreSQL cluster
    python -m benchmarks.pos --db sqlite --sales 100000
    python -m benchmarks.pos --db postgres --pg postgresql://postgres@127.0.0.1:54329/postgres

One round trip is what a clerk waits for after scanning a can with the member's phone: ``POST /api/v1/pos/sales``
over real HTTP to a ``traceability serve`` process (uvicorn, one worker), which authenticates the store's key, looks
the member up by the phone's keyed hash, validates the signed code (signature, status, holder), captures the sale
as an EPCIS event through the ledger (chain link, unit state, the diversion and settlement listeners) and answers
with the points earned, the balance and the six-get-one progress.

What is loaded into a fresh migrated database first: a brand, a plant, a distributor and 8 member stores (one per
clerk); 10,000 members (keyed hashes of synthetic phones, home stores spread over the 8); 1,000,000 ``sale`` rows of
last month, 70 % of them to members (about 70 per member, so the member's points are a real aggregation); and the
units sold during the run: real signed codes, commissioned, shipped to the distributor and on to the stores, and
received there, all through our scanners.

Measured in the same run: the bare HTTP round trip of ``GET /healthz`` on the same server (the floor of any
request here), then the sale round trip with 1 clerk and with 8 concurrent clerks (one store each). Each prints
p50 and p99 in milliseconds; the last line is ``pos_sale_p99_ms`` (8 clerks, on PostgreSQL when it ran).
"""

from __future__ import annotations

import argparse
import io
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session

from benchmarks.postgres import free_port, postgres_database
from codes import service as codes
from codes.keyfiles import KeyFileStore
from scanning.service import ScanRequest, record_scans
from traceability.app import wire_listeners
from traceability.auth.service import Principal, create_api_key
from traceability.database import make_engine, migrate
from traceability.masterdata.service import import_masterdata
from traceability.models import Role
from traceability.privacy import member_hash, member_pepper

GTIN = "06901234000108"
CLERKS = 8
STORES = [f"S-{k}" for k in range(1, CLERKS + 1)]


def _gln(n: int) -> str:
    body = f"690123400{n:03d}"
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return body + str((10 - total % 10) % 10)


def masterdata() -> dict[str, Any]:
    parties: list[dict[str, Any]] = [
        {"id": "BRAND", "kind": "brand", "name": "品牌总部", "gln": _gln(1), "territory": "CN"},
        {"id": "PLANT", "kind": "plant", "name": "工厂", "gln": _gln(2), "territory": "CN-44"},
        {"id": "D-GZ", "kind": "distributor", "name": "广州经销商", "gln": _gln(3), "territory": "CN-44",
         "authorized_territories": ["CN-44"]},
    ]  # fmt: skip
    for k, store in enumerate(STORES):
        parties.append({"id": store, "kind": "store", "name": f"门店 {k + 1}", "gln": _gln(10 + k),
                        "territory": "CN-44", "supplied_by": ["D-GZ"], "member_store_no": f"M-{k + 1:06d}",
                        "lat": 23.1 + k / 100, "lon": 113.3})  # fmt: skip
    return {
        "territories": [{"id": "CN", "name": "中国"}, {"id": "CN-44", "name": "广东省", "parent": "CN"}],
        "parties": parties,
        "products": [{"gtin": GTIN, "name": "婴儿配方奶粉 1段 800 g", "unit_price": "268.00", "currency": "CNY"}],
    }


def phone(i: int) -> str:
    return f"+86139{i:08d}"


def load(engine: Engine, key_dir: Path, *, members: int, sales: int, units: int) -> dict[str, list[str]]:
    """Everything the run reads, stored before it; returns each store's units, ready to sell."""
    wire_listeners()
    store = KeyFileStore(key_dir)
    pepper = member_pepper(key_dir)
    with Session(engine) as session:
        import_masterdata(session=session, raw=masterdata())
        codes.create_key(session=session, store=store)
        session.commit()
    rows = [{"h": member_hash(phone(i), pepper), "s": STORES[i % CLERKS]} for i in range(members)]
    with engine.begin() as c:
        c.execute(text("INSERT INTO member (phone_hash, home_store_id, source, created_at) "
                       "VALUES (:h, :s, 'import', CURRENT_TIMESTAMP)"), rows)  # fmt: skip
        c.execute(text("INSERT INTO epcis_event (seq, event_id, declaration, hash_id, event_type, biz_step, "
                       "event_time, tz_offset, record_time, document, origin, chain_hash) VALUES (:q, :e, false, "
                       "'h', 'ObjectEvent', 'retail_selling', '2026-11-15 00:00:00', '+00:00', '2026-11-15 00:00:00', "
                       "'{}', 'bench', 'x')"), [{"q": -(i + 1), "e": f"urn:uuid:bench-{i}"} for i in range(1000)])
        first = c.execute(text("SELECT min(id) FROM epcis_event")).scalar_one()
        series = ("generate_series(0, :n - 1) AS i" if engine.dialect.name == "postgresql" else
                  "(WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < :n - 1) SELECT i FROM n)")
        member_of = "(SELECT phone_hash FROM member WHERE id = 1 + (i * 7) % :m)"
        c.execute(text(f"""
            INSERT INTO sale (unit_key, gtin, store_id, event_pk, event_id, event_time, member_hash, counted)
            SELECT 'https://id.gs1.org/01/{GTIN}/21/OLD' || i, '{GTIN}', 'S-' || (1 + i % {CLERKS}),
                   :first + i % 1000, 'urn:uuid:bench-' || (i % 1000), '2026-11-15 10:00:00',
                   CASE WHEN i % 10 < 7 THEN {member_of} END, true
            FROM {series}"""), {"n": sales, "m": members, "first": first})  # fmt: skip
    out = io.StringIO()
    with Session(engine) as session:
        signer = codes.load_signer(session=session, store=store)
        codes.generate_codes(session=session, signer=signer, gtin=GTIN, lot="L2612", expiry="281231", count=units,
                             out=out, party_id="PLANT")  # fmt: skip
        session.commit()
    made = out.getvalue().split()
    plant = Principal(role=Role.plant, party_id="PLANT")
    dist = Principal(role=Role.distributor, party_id="D-GZ")
    per_store = {s: made[k::CLERKS] for k, s in enumerate(STORES)}
    with Session(engine) as session:
        for step, who, codes_, dest in [("commissioning", plant, made, None), ("shipping", plant, made, "D-GZ"),
                                        ("receiving", dist, made, None)]:  # fmt: skip
            for i in range(0, len(codes_), 500):
                record_scans(session=session, principal=who, store=store,
                             request=ScanRequest(biz_step=step, codes=codes_[i : i + 500], destination_id=dest))
        for s, mine in per_store.items():
            record_scans(session=session, principal=dist, store=store,
                         request=ScanRequest(biz_step="shipping", codes=mine, destination_id=s))
            record_scans(session=session, principal=Principal(role=Role.store, party_id=s), store=store,
                         request=ScanRequest(biz_step="receiving", codes=mine))
        session.commit()
    with engine.begin() as c:  # statistics, as a database in service has them after a bulk load
        c.execute(text("ANALYZE"))
    return per_store


def serve(url: str, key_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, "TRACEABILITY_DB": url, "TRACEABILITY_KEY_DIR": str(key_dir),
           "TRACEABILITY_RATE_LIMIT_ENABLED": "false"}  # fmt: skip
    log = open(key_dir.parent / "serve.log", "wb")  # noqa: SIM115 - the server's, closed with the temp dir
    proc = subprocess.Popen([sys.executable, "-m", "cli", "serve", "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=log)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"the server did not start: {(key_dir.parent / 'serve.log').read_text()[-2000:]}")


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return statistics.median(ordered), p99


def clerks(n: int, work: Callable[[int, httpx.Client], list[float]], base: str) -> list[float]:
    """Run ``work`` on ``n`` threads at once (one keep-alive connection each); every latency, in ms."""
    samples: list[float] = []
    lock = threading.Lock()
    barrier = threading.Barrier(n)
    failures: list[BaseException] = []

    def run(k: int) -> None:
        try:
            with httpx.Client(base_url=base, timeout=60) as client:
                barrier.wait()
                got = work(k, client)
            with lock:
                samples.extend(got)
        except BaseException as exc:  # noqa: BLE001 - reported after the run
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(k,)) for k in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures:
        raise failures[0]
    return samples


def run(name: str, url: str, *, members: int, sales: int, ops: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        key_dir = Path(tmp) / "keys"
        engine = make_engine(url)
        migrate(engine)
        t0 = time.perf_counter()
        units = load(engine, key_dir, members=members, sales=sales, units=CLERKS * (2 * ops + 10))
        with Session(engine) as session:
            tokens = {s: create_api_key(session=session, role=Role.store, party_id=s).token for s in STORES}
            session.commit()
        engine.dispose()
        print(f"{name}_load_s: {time.perf_counter() - t0:.1f}", flush=True)
        proc, base = serve(url, key_dir)
        try:
            queues = {s: list(u) for s, u in units.items()}
            rng = random.Random(11)

            def health(_: int, client: httpx.Client) -> list[float]:
                out = []
                for _ in range(ops):
                    t = time.perf_counter()
                    assert client.get("/healthz").status_code == 200
                    out.append((time.perf_counter() - t) * 1000)
                return out

            def selling(count: int) -> Callable[[int, httpx.Client], list[float]]:
                def work(k: int, client: httpx.Client) -> list[float]:
                    store = STORES[k]
                    headers = {"Authorization": f"Bearer {tokens[store]}", "Accept-Language": "zh-CN"}
                    out = []
                    for _ in range(count):
                        body = {"codes": [queues[store].pop()], "member": phone(rng.randrange(members))}
                        t = time.perf_counter()
                        r = client.post("/api/v1/pos/sales", json=body, headers=headers)
                        out.append((time.perf_counter() - t) * 1000)
                        if r.status_code not in (200, 201):
                            tail = (key_dir.parent / "serve.log").read_text(errors="replace")[-3000:]
                            raise AssertionError(f"{r.status_code} {r.text}\n{tail}")
                        assert r.json()["accepted"], r.text
                    return out

                return work

            clerks(CLERKS, selling(5), base)  # warm-up: connections, caches, the first statements
            bare50, bare99 = percentiles(clerks(1, health, base))
            print(f"{name}_bare_http_p50_ms: {bare50:.2f}", flush=True)
            print(f"{name}_bare_http_p99_ms: {bare99:.2f}", flush=True)
            one50, one99 = percentiles(clerks(1, selling(ops), base))
            print(f"{name}_sale_1_clerk_p50_ms: {one50:.1f}", flush=True)
            print(f"{name}_sale_1_clerk_p99_ms: {one99:.1f}", flush=True)
            started = time.perf_counter()
            eight = clerks(CLERKS, selling(ops), base)
            wall = time.perf_counter() - started
            p50, p99 = percentiles(eight)
            print(f"{name}_sale_8_clerks_p50_ms: {p50:.1f}", flush=True)
            print(f"{name}_sale_8_clerks_p99_ms: {p99:.1f}", flush=True)
            print(f"{name}_sale_8_clerks_per_s: {len(eight) / wall:.0f}", flush=True)
            print(f"{name}_sale_1_clerk_p50_over_bare_http: {one50 / bare50:.1f}", flush=True)
            return p99
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--sales", type=int, default=1_000_000)
    parser.add_argument("--ops", type=int, default=100, help="Sales per clerk per measured run.")
    parser.add_argument("--pg", default=os.environ.get("BENCH_PG"),
                        help="A PostgreSQL server URL (default: env BENCH_PG, else a throwaway cluster).")  # fmt: skip
    args = parser.parse_args()
    print(f"members: {args.members}")
    print(f"sales_stored: {args.sales}")
    last: float | None = None
    if args.db in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as tmp:
            last = run("sqlite", f"sqlite:///{Path(tmp) / 'pos.db'}", members=args.members, sales=args.sales,
                       ops=args.ops)  # fmt: skip
    if args.db in ("postgres", "both"):
        with postgres_database(args.pg, "trc_bench_pos") as url:
            last = run("postgres", url, members=args.members, sales=args.sales, ops=args.ops)
    if last is not None:
        print(f"pos_sale_p99_ms: {last:.1f}")


if __name__ == "__main__":
    main()
