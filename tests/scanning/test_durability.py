"""Nothing acknowledged is lost, nothing is half-applied, and one unit scanned twice at once is applied once."""

from __future__ import annotations

import io
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, text
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from codes import service as codes
from codes.keyfiles import KeyFileStore
from ledger.store import verify_chain
from scanning.service import ScanRequest, record_scans
from tests.factories import GTIN, masterdata_doc
from traceability.auth.service import Principal
from traceability.database import session_scope
from traceability.masterdata.service import import_masterdata
from traceability.models import Event, Role

ROOT = Path(__file__).resolve().parents[2]
DOC_SIZE = 1500


def test_sigkill_mid_capture_loses_no_acknowledged_event(committing_engine: Engine) -> None:
    url = committing_engine.url.render_as_string(hide_password=False)
    proc = subprocess.Popen([sys.executable, "-m", "tests.scanning.capture_worker", url, str(DOC_SIZE)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    acked: list[int] = []
    assert proc.stdout is not None
    try:
        while len(acked) < 2:
            line = proc.stdout.readline()
            assert line, proc.stderr.read() if proc.stderr else "worker died"
            acked.append(int(line.split()[1]))
        # Kill somewhere inside the next document's capture (each takes a good fraction of a second).
        time.sleep(random.uniform(0.05, 0.6))
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    # Any ACK printed before the kill counts too.
    rest = proc.stdout.read()
    acked.extend(int(line.split()[1]) for line in rest.splitlines() if line.startswith("ACK"))

    with Session(committing_engine) as session:
        total = session.exec(select(func.count()).select_from(Event)).one()
        assert total % DOC_SIZE == 0, f"{total} events: a document was half applied"
        for doc_no in acked:
            n = session.exec(
                select(func.count()).select_from(Event).where(Event.event_id.like(f"%-{doc_no:06d}%"))  # type: ignore[attr-defined]
            ).one()
            assert n == DOC_SIZE, f"acknowledged document {doc_no} lost events"
        assert total // DOC_SIZE in (len(acked), len(acked) + 1)
        report = verify_chain(session=session)
        assert report.ok, report.problems
        if committing_engine.dialect.name == "sqlite":
            assert session.execute(text("PRAGMA synchronous")).scalar_one() == 2  # FULL


def _ready_unit(engine: Engine, key_dir: Path) -> str:
    store = KeyFileStore(key_dir)
    with session_scope(engine) as session:
        import_masterdata(session=session, raw=masterdata_doc())
        codes.create_key(session=session, store=store)
        out = io.StringIO()
        signer = codes.load_signer(session=session, store=store)
        codes.generate_codes(session=session, signer=signer, gtin=GTIN, lot=None, expiry=None, count=1, out=out,
                             party_id="PLANT-1")  # fmt: skip
    unit = out.getvalue().strip()
    plant = Principal(role=Role.plant, party_id="PLANT-1")
    shop = Principal(role=Role.store, party_id="S-GZ-1")
    with session_scope(engine) as session:
        record_scans(session=session, principal=plant, request=ScanRequest("commissioning", [unit]))
        record_scans(session=session, principal=shop, request=ScanRequest("receiving", [unit]))  # it holds it
    return unit


@pytest.mark.parametrize("clients", [2, 4])
def test_same_unit_sold_by_concurrent_clients_is_applied_once(
    committing_engine: Engine, tmp_path: Path, clients: int
) -> None:
    unit = _ready_unit(committing_engine, tmp_path / "keys")
    store = Principal(role=Role.store, party_id="S-GZ-1")
    barrier = threading.Barrier(clients)
    results: list[dict[str, Any]] = []
    errors: list[BaseException] = []

    def sell() -> None:
        try:
            barrier.wait()
            with session_scope(committing_engine) as session:
                outcome = record_scans(session=session, principal=store, request=ScanRequest("retail_selling", [unit]))
            results.append(outcome.as_dict())
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=sell) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    accepted = [r for r in results if r["accepted"]]
    rejected = [r for r in results if r["rejected"]]
    assert len(accepted) == 1
    assert len(rejected) == clients - 1
    assert {r["rejected"][0]["reason"] for r in rejected} == {"already_sold"}
    with Session(committing_engine) as session:
        sales = session.exec(select(func.count()).select_from(Event).where(Event.biz_step == "retail_selling")).one()
        assert sales == 1
