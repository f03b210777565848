"""The auditor's alert queue (one page of 50 with the total) and overview, with few and with many alerts stored.

    python -m benchmarks.lists                       # 1,000 and 100,000 alerts, SQLite
    python -m benchmarks.lists --alerts 1000 20000

Each size is a fresh migrated SQLite file with a small network (2 distributors, 40 stores in 8 territories) and that
many alerts (kinds, statuses, places and first-seen times spread over 12 weeks), written with one Core insert. The
requests go through the app in process (``TestClient``, the auditor's key as a bearer token): ``GET /healthz`` (the
floor of any request), ``GET /app/alerts`` (page 1: one COUNT and one page of 50 with names), ``GET /app/alerts?page=
<middle>&kind=out_of_territory`` and ``GET /app/overview``. Each prints the median of 15 requests in ms. The last
line is the queue's page time with the most alerts over its time with the fewest: 1.0 would be a list whose cost
does not grow with what is stored; the COUNT (and the overview's GROUP BYs) read every matching alert, the rows of
a page do not.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import insert

from traceability.app import create_app
from traceability.auth.service import create_api_key
from traceability.database import make_engine, migrate, session_scope
from traceability.masterdata.service import import_masterdata
from traceability.models import Alert, Role
from traceability.settings import Settings

KINDS = ["out_of_territory", "unauthorized_channel", "clone_suspected", "counterfeit_suspected", "holder_mismatch"]
STATUSES = ["open", "open", "open", "investigating", "unverified", "confirmed", "dismissed"]
RUNS = 15


def _gln(n: int) -> str:
    body = f"690123{n:06d}"
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return body + str((10 - total % 10) % 10)


def masterdata() -> dict[str, Any]:
    territories = [{"id": "CN", "name": "中国"}] + [
        {"id": f"CN-{t}", "name": f"城市 {t}", "parent": "CN"} for t in range(8)
    ]
    parties: list[dict[str, Any]] = [
        {"id": "BRAND", "kind": "brand", "name": "品牌总部", "gln": _gln(1), "territory": "CN"},
        {"id": "AUD", "kind": "auditor", "name": "稽查组", "gln": _gln(2), "territory": "CN"},
        {"id": "D-1", "kind": "distributor", "name": "一号经销商", "gln": _gln(3), "territory": "CN-0",
         "authorized_territories": ["CN-0", "CN-1", "CN-2", "CN-3"]},
        {"id": "D-2", "kind": "distributor", "name": "二号经销商", "gln": _gln(4), "territory": "CN-4",
         "authorized_territories": ["CN-4", "CN-5", "CN-6", "CN-7"]},
    ]  # fmt: skip
    for k in range(40):
        parties.append({"id": f"S-{k}", "kind": "store", "name": f"门店 {k}", "gln": _gln(100 + k),
                        "territory": f"CN-{k % 8}", "supplied_by": ["D-1" if k % 8 < 4 else "D-2"]})  # fmt: skip
    return {"territories": territories, "parties": parties, "products": []}


def seed(db: str, n: int) -> str:
    engine = make_engine(db)
    migrate(engine)
    now = datetime.now(UTC)
    with session_scope(engine) as session:
        import_masterdata(session=session, raw=masterdata())
        session.flush()
        token = create_api_key(session=session, role=Role.auditor, party_id="AUD").token
        rows = [{"kind": KINDS[i % 5], "unit_key": f"sgtin:06901234000108.B{i}", "epc": f"urn:epc:id:sgtin:B{i}",
                 "party_id": f"S-{i % 40}", "responsible_distributor_id": "D-1" if i % 3 else "D-2",
                 "territory_id": f"CN-{i % 8}", "event_ids": "[]", "rejected_scan_ids": "[]", "detail": "",
                 "status": STATUSES[i % 7], "first_seen": now - timedelta(minutes=(i * 127) % (12 * 7 * 24 * 60)),
                 "last_seen": now, "created_at": now, "updated_at": now, "status_changed_at": now}
                for i in range(n)]  # fmt: skip
        for start in range(0, n, 20_000):
            session.execute(insert(Alert), rows[start : start + 20_000])
    engine.dispose()
    return token


def median_ms(client: TestClient, path: str, token: str) -> float:
    headers = {"Authorization": f"Bearer {token}", "Accept": "text/html"}
    assert client.get(path, headers=headers).status_code == 200, path
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        resp = client.get(path, headers=headers)
        times.append((time.perf_counter() - start) * 1000)
        assert resp.status_code == 200
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--alerts", type=int, nargs="+", default=[1_000, 100_000])
    args = parser.parse_args()
    pages: dict[int, float] = {}
    for n in args.alerts:
        with tempfile.TemporaryDirectory() as tmp:
            db = f"sqlite:///{Path(tmp) / 'lists.db'}"
            token = seed(db, n)
            settings = Settings(db=db, key_dir=Path(tmp) / "keys")
            with TestClient(create_app(settings, run_migrations=False)) as client:
                floor = median_ms(client, "/healthz", token)
                pages[n] = median_ms(client, "/app/alerts", token)
                middle = max(1, n // 5 // 50 // 2)
                deep = median_ms(client, f"/app/alerts?kind=out_of_territory&page={middle}", token)
                over = median_ms(client, "/app/overview", token)
            print(f"alerts_{n}_healthz_ms: {floor:.1f}")
            print(f"alerts_{n}_queue_page1_ms: {pages[n]:.1f}")
            print(f"alerts_{n}_queue_filtered_page{middle}_ms: {deep:.1f}")
            print(f"alerts_{n}_overview_ms: {over:.1f}")
            print(f"alerts_{n}_queue_vs_healthz: {pages[n] / floor:.1f}")
    few, most = min(pages), max(pages)
    print(f"queue_page1_{most}_vs_{few}_ratio: {pages[most] / pages[few]:.2f}")


if __name__ == "__main__":
    main()
