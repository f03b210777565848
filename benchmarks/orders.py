"""O2O order routing and the one-hour rule at scale: orders routed per second over 10,000 member stores with the
k-d tree (``orders.routing.StoreIndex``, scipy's ``cKDTree``) beside a brute-force nearest search in the same run, and
the worker's lapse handling for 100,000 open offers.

    python -m benchmarks.orders              # 10,000 stores, 100,000 open offers, SQLite
    python -m benchmarks.orders --quick      # 10,000 stores, 10,000 open offers

Routing: the stores and the delivery points are drawn uniformly over mainland China's box (lat 20–45, lon 100–125)
with a fixed seed. ``tree`` routes one order at a time through ``StoreIndex.nearest`` (the call routing makes, with no
store skipped); ``brute_force`` measures the great-circle distance to every store per order, vectorised with numpy
(the strongest brute force, not a Python loop; ``brute_force_python`` is the loop, on fewer orders). Both answers are
compared: ``routing_mismatches`` must be 0.

Lapses: a fresh SQLite file (WAL, synchronous=FULL, as ``make_engine`` sets it up) with the 10,000 member stores and N
orders, each offered to its nearest store with its deadline passed, written with SQLAlchemy Core; then the worker's own
job (``orders.worker.JOBS`` through ``traceability.worker.run_due``, 500 per transaction) lapses every offer, tells each
store and offers each order to its next nearest store. Its wall time gives lapses per second; the run checks that
every order has exactly one open offer afterwards.

Output is one ``name: value`` per line on stdout, the last ``routing_ratio_to_brute_force: R`` (tree over brute force,
orders per second); progress goes to stderr.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta

import numpy as np
from sqlalchemy import func, insert, select
from sqlmodel import col

from orders.routing import EARTH_RADIUS_KM, Site, StoreIndex, brute_force_nearest
from orders.worker import JOBS
from traceability.app import wire_listeners
from traceability.database import make_engine, migrate
from traceability.models import Order, OrderOffer, OrderStep, Party, Territory
from traceability.settings import Settings
from traceability.worker import run_due

STORES = 10_000
SEED = 15


def _say(message: str) -> None:
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


def _points(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    return rng.uniform(20.0, 45.0, n), rng.uniform(100.0, 125.0, n)


def _brute_numpy(lat_s: np.ndarray, lon_s: np.ndarray, lat: float, lon: float) -> int:
    p1, p2 = np.radians(lat), np.radians(lat_s)
    a = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(np.radians(lon_s - lon) / 2) ** 2
    return int(np.argmin(2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(a))))


def routing(out: dict[str, str], orders: int) -> list[Site]:
    rng = np.random.default_rng(SEED)
    lat_s, lon_s = _points(rng, STORES)
    sites = [Site(f"S{i:05d}", float(a), float(b)) for i, (a, b) in enumerate(zip(lat_s, lon_s, strict=True))]
    lat_o, lon_o = _points(rng, orders)

    started = time.perf_counter()
    index = StoreIndex(sites)
    out["tree_build_ms"] = f"{(time.perf_counter() - started) * 1000:.1f}"

    started = time.perf_counter()
    tree = [index.nearest(float(a), float(b)) for a, b in zip(lat_o, lon_o, strict=True)]
    tree_rate = orders / (time.perf_counter() - started)

    started = time.perf_counter()
    brute = [_brute_numpy(lat_s, lon_s, float(a), float(b)) for a, b in zip(lat_o, lon_o, strict=True)]
    brute_rate = orders / (time.perf_counter() - started)

    few = min(orders, 300)
    started = time.perf_counter()
    for a, b in zip(lat_o[:few], lon_o[:few], strict=True):
        brute_force_nearest(sites, float(a), float(b))
    python_rate = few / (time.perf_counter() - started)

    started = time.perf_counter()
    index.nearest_many(lat_o, lon_o)
    batch_rate = orders / (time.perf_counter() - started)

    mismatches = sum(1 for t, b in zip(tree, brute, strict=True) if t is None or t[0] != sites[b].id)
    out["member_stores"] = str(STORES)
    out["orders_routed"] = str(orders)
    out["tree_orders_per_s"] = f"{tree_rate:.0f}"
    out["tree_batch_orders_per_s"] = f"{batch_rate:.0f}"
    out["brute_force_orders_per_s"] = f"{brute_rate:.0f}"
    out["brute_force_python_orders_per_s"] = f"{python_rate:.0f}"
    out["routing_mismatches"] = str(mismatches)
    out["_ratio"] = f"{tree_rate / brute_rate:.1f}"
    return sites


def lapses(out: dict[str, str], sites: list[Site], offers: int) -> None:
    folder = tempfile.mkdtemp(prefix="bench-orders-")
    url = f"sqlite:///{os.path.join(folder, 'orders.db')}"
    engine = make_engine(url)
    migrate(engine)
    wire_listeners()
    index = StoreIndex(sites)
    rng = np.random.default_rng(SEED + 1)
    lat_o, lon_o = _points(rng, offers)
    placed = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
    deadline = placed + timedelta(hours=1)
    _say(f"writing {len(sites):,} stores and {offers:,} open offers …")
    with engine.begin() as conn:
        conn.execute(insert(Territory), [{"id": "CN", "name": "China", "parent_id": None}])
        conn.execute(insert(Party), [
            {"id": s.id, "kind": "store", "name": s.id, "gln": f"{i:013d}", "territory_id": "CN", "owner_id": None,
             "member_store_no": f"M-{i:06d}", "lat": s.lat, "lon": s.lon}
            for i, s in enumerate(sites)
        ])  # fmt: skip
        first = index.nearest_many(lat_o, lon_o)
        for start in range(0, offers, 20_000):
            end = min(offers, start + 20_000)
            conn.execute(insert(Order), [
                {"id": i + 1, "member_hash": f"{i:064x}", "channel": "app", "address": "", "lat": float(lat_o[i]),
                 "lon": float(lon_o[i]), "status": "offered", "store_id": first[i], "offered_at": placed,
                 "deadline": deadline, "placed_by": "bench", "created_at": placed, "updated_at": placed}
                for i in range(start, end)
            ])  # fmt: skip
            conn.execute(insert(OrderOffer), [
                {"order_id": i + 1, "store_id": first[i], "offered_at": placed, "deadline": deadline, "outcome": "open",
                 "closed_at": None, "reason": "nearest", "distance_km": None}
                for i in range(start, end)
            ])  # fmt: skip
            conn.execute(insert(OrderStep), [
                row
                for i in range(start, end)
                for row in (
                    {"order_id": i + 1, "seq": 1, "status": "placed", "store_id": None, "at": placed, "by": "bench",
                     "reason": "app", "note": "", "event_id": None},
                    {"order_id": i + 1, "seq": 2, "status": "offered", "store_id": first[i], "at": placed,
                     "by": "bench", "reason": "nearest", "note": "", "event_id": None},
                )
            ])  # fmt: skip
    settings = Settings(db=url, key_dir=os.path.join(folder, "keys"))
    _say("lapsing …")
    started = time.perf_counter()
    report = run_due(engine, JOBS, settings=settings, now=deadline + timedelta(minutes=1))
    elapsed = time.perf_counter() - started
    lapsed = sum(len(r["lapsed"]) for r in report)
    with engine.connect() as conn:
        open_offers = conn.execute(
            select(func.count()).select_from(OrderOffer).where(col(OrderOffer.outcome) == "open")
        ).scalar_one()
        moved = conn.execute(
            select(func.count())
            .select_from(Order)
            .where(col(Order.status) == "offered", col(Order.deadline) > deadline)
        ).scalar_one()
    engine.dispose()
    out["open_offers"] = str(offers)
    out["offers_lapsed"] = str(lapsed)
    out["orders_reoffered"] = str(moved)
    out["open_offers_after"] = str(open_offers)
    out["lapse_seconds"] = f"{elapsed:.1f}"
    out["lapses_per_s"] = f"{lapsed / elapsed:.0f}"
    out["lapse_transactions"] = str(len(report))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="10,000 open offers instead of 100,000")
    parser.add_argument("--orders", type=int, default=20_000, help="orders routed (default 20,000)")
    args = parser.parse_args()
    out: dict[str, str] = {}
    _say("routing …")
    sites = routing(out, args.orders)
    lapses(out, sites, 10_000 if args.quick else 100_000)
    ratio = out.pop("_ratio")
    for name, value in out.items():
        print(f"{name}: {value}")
    print(f"routing_ratio_to_brute_force: {ratio}")


if __name__ == "__main__":
    main()
