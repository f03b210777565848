"""On SQLite the event query reads outside the writer queue: a capture holding the write lock does not hold up a
query, the query still sees everything committed, and a key revoked a moment ago is refused at once.

The app runs as it does in production (its own sessions, no test override) on a SQLite file of its own; the lock is
held by a second connection, as a capture in another process would hold it.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from scanning.service import ScanRequest, record_scans
from tests.factories import masterdata_doc, signed_codes
from traceability.app import create_app
from traceability.auth.service import Principal, create_api_key, revoke_api_key
from traceability.database import make_engine, migrate, reading
from traceability.masterdata.service import import_masterdata
from traceability.models import Role
from traceability.settings import Settings


@dataclass
class Served:
    client: TestClient
    path: Path
    engine: Engine
    token: str
    key_id: int
    unit: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    path = tmp_path / "own.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    with Session(engine) as session:
        import_masterdata(session=session, raw=masterdata_doc())
        units = signed_codes(session, tmp_path / "keys", 3)
        plant = Principal(role=Role.plant, party_id="PLANT-1")
        record_scans(session=session, principal=plant, request=ScanRequest("commissioning", units))
        key = create_api_key(session=session, role=Role.admin, party_id="BRAND")
        session.commit()
    app = create_app(Settings(db=f"sqlite:///{path}", key_dir=tmp_path / "keys"), engine=engine, run_migrations=False)
    with TestClient(app) as client:
        yield Served(client, path, engine, key.token, key.id, units[0])
    engine.dispose()


def _hold_write_lock(path: Path) -> sqlite3.Connection:
    """A writer in the middle of its transaction (what a long capture is), lock taken, nothing committed."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("UPDATE chain_head SET seq = seq")
    return conn


def test_a_query_answers_while_a_writer_holds_the_lock(served: Served) -> None:
    writer = _hold_write_lock(served.path)
    answered: list[int] = []
    try:
        # In a thread with a deadline: before, the query queued for the write lock (up to 30 s, then refused).
        asking = threading.Thread(target=lambda: answered.append(served.client.get(
            "/epcis/events", params={"MATCH_epc": served.unit}, headers=served.headers).status_code))  # fmt: skip
        asking.start()
        asking.join(10)
        assert answered == [200], "the query waited for the writer"
    finally:
        writer.rollback()
        writer.close()


def test_the_query_sees_what_is_committed_and_a_revocation_at_once(served: Served) -> None:
    body = served.client.get("/epcis/events", params={"MATCH_epc": served.unit}, headers=served.headers).json()
    assert [e["bizStep"] for e in body["epcisBody"]["queryResults"]["resultsBody"]["eventList"]] == ["commissioning"]
    with Session(served.engine) as session:
        revoke_api_key(session=session, key_id=served.key_id)
        session.commit()
    refused = served.client.get("/epcis/events", params={"MATCH_epc": served.unit}, headers=served.headers)
    assert refused.status_code == 401
    assert refused.json()["error"] == "unauthenticated"


def test_a_reading_transaction_cannot_take_the_write_lock_unseen(tmp_path: Path) -> None:
    """``reading()`` only changes how a transaction begins: one that writes after all still needs the lock, and
    while another holds it, fails instead of writing past it."""
    path = tmp_path / "r.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    writer = _hold_write_lock(path)
    try:
        with reading(engine).connect() as conn, conn.begin():
            conn.exec_driver_sql("PRAGMA busy_timeout=100")
            with pytest.raises(OperationalError, match="locked"):
                conn.exec_driver_sql("UPDATE chain_head SET seq = seq + 1")
    finally:
        writer.rollback()
        writer.close()
        engine.dispose()


def test_a_write_routes_key_check_does_not_queue_for_the_write_lock(served: Served) -> None:
    """A scan's key is read outside the writer queue (``traceability.api.key_principal``): a forged or revoked key
    is refused at once while a capture holds the lock, where before the check itself queued for it (up to 30 s)."""
    with Session(served.engine) as session:
        revoked = create_api_key(session=session, role=Role.plant, party_id="PLANT-1")
        revoke_api_key(session=session, key_id=revoked.id)
        session.commit()
    scan = {"biz_step": "inspecting", "codes": [served.unit]}
    writer = _hold_write_lock(served.path)
    answered: list[tuple[int, str]] = []

    def ask() -> None:
        for token in ("trc_nope_0000", revoked.token):
            resp = served.client.post("/api/v1/scans", json=scan, headers={"Authorization": f"Bearer {token}"})
            answered.append((resp.status_code, resp.json()["error"]))

    try:
        asking = threading.Thread(target=ask)
        asking.start()
        asking.join(10)
        assert answered == [(401, "unauthenticated")] * 2, "the key check waited for the writer"
    finally:
        writer.rollback()
        writer.close()
    accepted = served.client.post("/api/v1/scans", json=scan, headers=served.headers)  # the lock free again
    assert accepted.status_code == 200 and accepted.json()["accepted"], accepted.text
