"""The scan API under load: one scan per request from 1, 8 and 32 loopback clients, beside ``/healthz``.

    python -m benchmarks.scan_api                                  # SQLite and a throwaway PostgreSQL, 20 s a step
    python -m benchmarks.scan_api --db sqlite --seconds 5
    python -m benchmarks.scan_api --db postgres --pg postgresql://postgres@127.0.0.1:54329/postgres
    python -m benchmarks.scan_api --py-spy /tmp/scan.txt           # the server sampled by py-spy (collapsed stacks)

A real ``traceability serve --workers N`` process on a free local port serves a fresh database this benchmark
seeds first: the test master data (``tests.factories``), an Ed25519 key in a temporary key folder, ``--codes``
distinct signed unit codes of PLANT-1, and a plant API key. Each client is an ``httpx.AsyncClient`` in one asyncio
loop of this process that posts ``POST /api/v1/scans`` with one fresh code (``commissioning``) and waits for the
answer before the next; every code is used once. Before the scans of each step the same clients call ``/healthz``
of the same server for as long — the bare baseline: what the server, the loopback and this load generator manage
with no database work at all (it shares the machine's cores with the server, as the clients do in every step).

Printed per backend, workers and clients: ``healthz_rps``, ``healthz_p99_ms``, ``scans_per_second`` (accepted
scans), ``scan_p50_ms`` / ``p95`` / ``p99``, ``failed`` (any answer but 200 with the code accepted, or a transport
error), ``ratio_to_healthz``. After the run every acknowledged scan is looked up: its code must be commissioned and
its event stored (``acked_stored``). Last line: ``scans_per_second`` for PostgreSQL, 32 clients, 2 workers (or the
largest run when that was not measured).

Without ``--pg`` the PostgreSQL run starts a throwaway cluster of its own (``benchmarks/postgres.py``; note its
``fsync=off`` / ``synchronous_commit=off``, which flatter commit latency); with ``--pg`` it creates (and drops
after) the database ``trc_bench_scan`` on that server.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import BindParameter, bindparam, text

from benchmarks.postgres import bench_database, free_port, throwaway_postgres
from codes import service as codes
from codes.keyfiles import KeyFileStore
from tests.factories import GTIN, masterdata_doc
from tests.serving import stop, wait_until_healthy
from traceability.auth.service import create_api_key
from traceability.database import make_engine, migrate, session_scope
from traceability.masterdata.service import import_masterdata
from traceability.models import Role

ROOT = Path(__file__).resolve().parents[1]
BENCH_DB = "trc_bench_scan"


@dataclass
class Step:
    """What one step of clients saw."""

    latencies: list[float] = field(default_factory=list)
    failed: int = 0
    acked: list[tuple[str, str]] = field(default_factory=list)  # (code, event id) of every accepted scan
    seconds: float = 0.0
    out_of_codes: bool = False


def seed(url: str, key_dir: Path, n_codes: int) -> tuple[str, list[str]]:
    """A fresh migrated database with master data, a key, ``n_codes`` unit codes and a plant key's token."""
    engine = make_engine(url)
    migrate(engine)
    store = KeyFileStore(key_dir)
    with session_scope(engine) as session:
        import_masterdata(session=session, raw=masterdata_doc())
        codes.create_key(session=session, store=store)
        out = io.StringIO()
        codes.generate_codes(session=session, signer=codes.load_signer(session=session, store=store), gtin=GTIN,
                             lot="L1", expiry="281231", count=n_codes, out=out, party_id="PLANT-1")  # fmt: skip
        token = create_api_key(session=session, role=Role.plant, party_id="PLANT-1").token
    engine.dispose()
    return token, out.getvalue().split()


@contextmanager
def server(url: str, key_dir: Path, workers: int, py_spy: Path | None) -> Iterator[str]:
    """``traceability serve --workers N`` on a free port, until the block ends."""
    port = free_port()
    env = {**os.environ, "TRACEABILITY_KEY_DIR": str(key_dir), "TRACEABILITY_RATE_LIMIT_ENABLED": "false",
           "PYTHONPATH": str(ROOT)}  # fmt: skip
    cmd = [sys.executable, "-m", "cli", "--db", url, "serve", "--port", str(port), "--workers", str(workers)]
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        why = wait_until_healthy(base, proc, 120)
        if why is not None:
            log.seek(0)
            raise SystemExit(f"the server did not answer /healthz ({why}):\n{log.read().decode(errors='replace')}")
        spy = None if py_spy is None else subprocess.Popen(
            ["py-spy", "record", "--format", "raw", "--subprocesses", "--nonblocking", "-r", "100",
             "-o", str(py_spy), "--pid", str(proc.pid)], stdout=subprocess.DEVNULL)  # fmt: skip
        try:
            yield base
        finally:
            if spy is not None:  # py-spy writes its file when interrupted
                spy.send_signal(signal.SIGINT)
                spy.wait(timeout=60)
    finally:
        stop(proc)
        log.close()


async def _clients(base: str, n: int, seconds: float, token: str | None, codes_left: list[str]) -> Step:
    step = Step()
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    stop = time.perf_counter() + seconds

    async def one() -> None:
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=120) as client:
            while time.perf_counter() < stop:
                if token is None:
                    t0 = time.perf_counter()
                    try:
                        ok = (await client.get("/healthz")).status_code == 200
                    except httpx.HTTPError:
                        ok = False
                    step.latencies.append(time.perf_counter() - t0)
                    step.failed += not ok
                    continue
                if not codes_left:
                    step.out_of_codes = True
                    return
                code = codes_left.pop()
                t0 = time.perf_counter()
                try:
                    r = await client.post("/api/v1/scans", json={"biz_step": "commissioning", "codes": [code]})
                except httpx.HTTPError:
                    step.failed += 1
                    continue
                step.latencies.append(time.perf_counter() - t0)
                body = r.json() if r.headers.get("content-type", "").startswith("application/json") else {}
                if r.status_code == 200 and len(body.get("accepted", ())) == 1:
                    step.acked.append((code, body["event_id"]))
                else:
                    step.failed += 1
                    if step.failed <= 3:
                        print(f"  failed: {r.status_code} {r.text[:300]}", file=sys.stderr, flush=True)

    t0 = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(n)))
    step.seconds = time.perf_counter() - t0
    return step


def _pct(values: list[float], q: int) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0] * 1000
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] * 1000


def check_stored(url: str, acked: list[tuple[str, str]]) -> int:
    """How many acknowledged scans are stored: the event by its id, and the code commissioned."""
    engine = make_engine(url)
    found = 0
    with engine.connect() as c:
        for start in range(0, len(acked), 500):
            chunk = acked[start:start + 500]
            events = {e for (e,) in c.execute(text("SELECT event_id FROM epcis_event WHERE event_id IN :ids")
                                              .bindparams(_expanding("ids")), {"ids": [e for _, e in chunk]})}
            serials = {s for (s,) in c.execute(text("SELECT serial FROM code WHERE status = 'commissioned' AND "
                                                    "serial IN :s").bindparams(_expanding("s")),
                                               {"s": [_serial(code) for code, _ in chunk]})}  # fmt: skip
            found += sum(1 for code, e in chunk if e in events and _serial(code) in serials)
    engine.dispose()
    return found


def _expanding(name: str) -> BindParameter[Any]:
    return bindparam(name, expanding=True)


def _serial(code: str) -> str:
    # A Digital Link: https://host/01/<gtin>/21/<serial>/10/<lot>/17/<expiry>?s=…
    parts = code.split("?", 1)[0].split("/")
    return parts[parts.index("21") + 1]


def run(name: str, url: str, args: argparse.Namespace) -> dict[tuple[int, int], float]:
    rates: dict[tuple[int, int], float] = {}
    for workers in args.workers:
        with tempfile.TemporaryDirectory() as keys, ExitStack() as stack:
            if url.startswith("sqlite"):
                db_dir = tempfile.mkdtemp(dir=args.dir)
                db_url = f"sqlite:///{Path(db_dir) / 'bench.db'}"
            else:
                db_url = stack.enter_context(bench_database(url, BENCH_DB))  # fresh for each worker count
            t0 = time.perf_counter()
            token, fresh = seed(db_url, Path(keys), args.codes)
            print(f"{name}_w{workers}_seed_s: {time.perf_counter() - t0:.1f}", flush=True)
            acked: list[tuple[str, str]] = []
            with server(db_url, Path(keys), workers, args.py_spy) as base:
                for n in args.clients:
                    tag = f"{name}_w{workers}_c{n}"
                    health = asyncio.run(_clients(base, n, args.seconds, None, fresh))
                    print(f"{tag}_healthz_rps: {len(health.latencies) / health.seconds:.0f}", flush=True)
                    print(f"{tag}_healthz_p99_ms: {_pct(health.latencies, 99):.1f}", flush=True)
                    step = asyncio.run(_clients(base, n, args.seconds, token, fresh))
                    rate = len(step.acked) / step.seconds
                    rates[(workers, n)] = rate
                    acked.extend(step.acked)
                    print(f"{tag}_scans_per_second: {rate:.1f}", flush=True)
                    for q in (50, 95, 99):
                        print(f"{tag}_scan_p{q}_ms: {_pct(step.latencies, q):.1f}", flush=True)
                    print(f"{tag}_failed: {step.failed}", flush=True)
                    if step.out_of_codes:
                        print(f"{tag}_out_of_codes: true (raise --codes)", flush=True)
                    health_rps = len(health.latencies) / health.seconds
                    print(f"{tag}_ratio_to_healthz: {rate / health_rps:.3f}", flush=True)
            stored = check_stored(db_url, acked)
            print(f"{name}_w{workers}_acked_stored: {stored}/{len(acked)}", flush=True)
            if stored != len(acked):
                raise SystemExit(f"{len(acked) - stored} acknowledged scans are not stored")
    return rates


def _ints(value: str) -> list[int]:
    try:
        out = [int(v) for v in value.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a comma-separated list of numbers") from None
    if not out or min(out) < 1:
        raise argparse.ArgumentTypeError("every number must be at least 1")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--pg", default=None, help="A PostgreSQL server URL (default: a throwaway local cluster).")
    parser.add_argument("--seconds", type=float, default=20.0, help="How long each step runs (default 20).")
    parser.add_argument("--clients", type=_ints, default=[1, 8, 32], help="Client counts (default 1,8,32).")
    parser.add_argument("--workers", type=_ints, default=[2], help="Server worker processes (default 2).")
    parser.add_argument("--codes", type=int, default=40_000, help="Distinct codes seeded (default 40,000).")
    parser.add_argument("--dir", type=Path, default=None, help="Where the SQLite file goes (default: a temp dir).")
    parser.add_argument("--py-spy", type=Path, default=None, help="Record the server with py-spy into this file.")
    args = parser.parse_args()
    if args.seconds <= 0 or args.codes < 1:
        parser.error("--seconds must be positive and --codes at least 1")
    print(f"seconds_per_step: {args.seconds:g}")
    print(f"cpu_count: {os.cpu_count()}")
    last: dict[tuple[int, int], float] = {}
    if args.db in ("sqlite", "both"):
        last = run("sqlite", "sqlite", args)
    if args.db in ("postgres", "both"):
        with throwaway_postgres() if args.pg is None else nullcontext(args.pg) as server:
            last = run("postgres", server, args)  # each run on a database of its own there, dropped after
    wanted = (2, 32) if (2, 32) in last else max(last, key=lambda k: (k[1], k[0]))
    print(f"scans_per_second: {last[wanted]:.1f}")


if __name__ == "__main__":
    main()
