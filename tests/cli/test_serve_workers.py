"""``traceability serve --workers 2`` as a real process: concurrent scans all answered, none failed, all stored.

On SQLite the two workers share one file: writers queue (traceability.database.WriterQueue) instead of failing
with "database is locked"; on PostgreSQL they share the chain-head row lock. Either way a code two clients race to
commission is commissioned once, and a key cannot scan as another party.
"""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from codes import service as codes
from codes.keyfiles import KeyFileStore
from ledger.store import verify_chain
from tests.factories import GTIN, masterdata_doc
from tests.serving import stop, wait_until_healthy
from traceability.auth.service import create_api_key
from traceability.database import session_scope
from traceability.masterdata.service import import_masterdata
from traceability.models import Code, Event, Role

ROOT = Path(__file__).resolve().parents[2]
CLIENTS = 16
PER_CLIENT = 4


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _children(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (Linux /proc): uvicorn's workers."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


@pytest.fixture
def seeded(committing_engine: Engine, tmp_path: Path) -> dict[str, Any]:
    store = KeyFileStore(tmp_path / "keys")
    with session_scope(committing_engine) as session:
        import_masterdata(session=session, raw=masterdata_doc())
        codes.create_key(session=session, store=store)
        out = io.StringIO()
        codes.generate_codes(session=session, signer=codes.load_signer(session=session, store=store), gtin=GTIN,
                             lot="L1", expiry="281231", count=CLIENTS * PER_CLIENT + 1, out=out,
                             party_id="PLANT-1")  # fmt: skip
        plant = create_api_key(session=session, role=Role.plant, party_id="PLANT-1").token
        other = create_api_key(session=session, role=Role.distributor, party_id="D-GZ").token
    return {"codes": out.getvalue().split(), "plant": plant, "other": other, "keys": tmp_path / "keys"}


@pytest.fixture
def server(committing_engine: Engine, seeded: dict[str, Any]) -> Iterator[tuple[str, int]]:
    port = _free_port()
    url = committing_engine.url.render_as_string(hide_password=False)
    env = {**os.environ, "TRACEABILITY_KEY_DIR": str(seeded["keys"]), "PYTHONPATH": str(ROOT)}
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen([sys.executable, "-m", "cli", "--db", url, "serve", "--port", str(port), "--workers", "2"],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        why = wait_until_healthy(base, proc, 90)
        if why is not None:
            log.seek(0)
            pytest.fail(f"serve --workers 2 did not answer /healthz ({why}):\n{log.read().decode(errors='replace')}")
        yield base, proc.pid
    finally:
        stop(proc)
        log.close()


def test_two_workers_take_concurrent_scans_without_a_failure(
    committing_engine: Engine, seeded: dict[str, Any], server: tuple[str, int]
) -> None:
    base, pid = server
    assert len(_children(pid)) >= 2, "serve --workers 2 started fewer than two worker processes"
    units: list[str] = seeded["codes"]
    raced = units[-1]  # every client also tries to commission this one code: exactly one may win
    barrier = threading.Barrier(CLIENTS)
    answers: list[tuple[int, dict[str, Any]]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def client(k: int) -> None:
        try:
            with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {seeded['plant']}"},
                              timeout=120) as http:  # fmt: skip
                barrier.wait()
                mine = units[k * PER_CLIENT:(k + 1) * PER_CLIENT]
                for raw in [mine[0], raced, *mine[1:]]:
                    r = http.post("/api/v1/scans", json={"biz_step": "commissioning", "codes": [raw]})
                    with lock:
                        answers.append((r.status_code, r.json()))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors, errors
    assert len(answers) == CLIENTS * (PER_CLIENT + 1)
    assert {status for status, _ in answers} == {200}, [a for a in answers if a[0] != 200][:3]
    accepted = [a["code"] for _, body in answers for a in body["accepted"]]
    rejected = [r for _, body in answers for r in body["rejected"]]
    assert sorted(accepted) == sorted([*units[: CLIENTS * PER_CLIENT], raced])
    assert len(rejected) == CLIENTS - 1
    assert {r["reason"] for r in rejected} == {"already_commissioned"}

    # A distributor's key may not scan as the plant, through either worker; nothing it tried is stored.
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {seeded['other']}"}) as http:
        for _ in range(4):
            forged = http.post("/api/v1/scans", json={"biz_step": "commissioning", "codes": [units[0]],
                                                     "party": "PLANT-1"})  # fmt: skip
            assert forged.status_code == 403, forged.text

    with Session(committing_engine) as session:
        events = session.exec(select(func.count()).select_from(Event)
                              .where(col(Event.biz_step) == "commissioning")).one()  # fmt: skip
        assert events == CLIENTS * PER_CLIENT + 1  # one event per accepted scan, none for the refusals
        commissioned = session.exec(select(func.count()).select_from(Code)
                                    .where(col(Code.status) == "commissioned")).one()  # fmt: skip
        assert commissioned == CLIENTS * PER_CLIENT + 1
        report = verify_chain(session=session)
        assert report.ok, report.problems
