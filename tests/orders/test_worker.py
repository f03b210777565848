"""The worker as a real process: killed (SIGKILL) mid-window and started again, it loses no lapse and reassigns
exactly once, even with two workers running at once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from cli.main import app
from tests.factories import GTIN, masterdata_doc
from tests.orders.helpers import EXTRA_STORES, HOME, PHONE
from traceability.database import make_engine
from traceability.models import Order, OrderNotice, OrderOffer, OrderStep

ROOT = Path(__file__).resolve().parents[2]
WINDOW = 12.0
"""Seconds between placing the order and its deadline: time for a worker to start, work and be killed."""


def _worker(db: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "cli", "--db", db, "worker", "--interval", "0.2"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip


def _started(proc: subprocess.Popen[str], timeout: float = 60) -> None:
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line, proc.stderr.read() if proc.stderr else "worker ended"
    assert "orders.lapse_offers" in json.loads(line)["started"]


def _state(db: str, order_id: int) -> tuple[str, str | None, list[tuple[str, str]], list[tuple[str, str | None]]]:
    engine = make_engine(db)
    try:
        with Session(engine) as s:
            order = s.get(Order, order_id)
            assert order is not None
            offers = s.exec(
                select(OrderOffer).where(OrderOffer.order_id == order_id).order_by(col(OrderOffer.id))
            ).all()
            steps = s.exec(select(OrderStep).where(OrderStep.order_id == order_id).order_by(col(OrderStep.seq))).all()
            return (order.status, order.store_id, [(o.store_id, o.outcome) for o in offers],
                    [(st.status, st.store_id) for st in steps])  # fmt: skip
    finally:
        engine.dispose()


@pytest.mark.slow
def test_a_worker_killed_mid_window_and_restarted_reassigns_exactly_once(tmp_path: Path, committing_engine) -> None:
    db = committing_engine.url.render_as_string(hide_password=False)
    env = {**os.environ, "TRACEABILITY_KEY_DIR": str(tmp_path / "keys"), "PYTHONPATH": str(ROOT)}
    env.pop("TRACEABILITY_POLICY_FILE", None)
    runner = CliRunner()
    doc = masterdata_doc()
    doc["parties"].extend(EXTRA_STORES)
    (tmp_path / "md.json").write_text(json.dumps(doc), encoding="utf-8")
    assert runner.invoke(app, ["--db", db, "masterdata", "import", str(tmp_path / "md.json")], env=env).exit_code == 0
    # Placed so that its hour ends WINDOW seconds from now.
    at = datetime.now(UTC) - timedelta(hours=1) + timedelta(seconds=WINDOW)
    placed = runner.invoke(app, ["--db", db, "orders", "place", "--member", PHONE, "--lat", str(HOME[0]),
                                 "--lon", str(HOME[1]), "--gtin", GTIN, "--quantity", "1", "--at", at.isoformat()],
                           env=env)  # fmt: skip
    assert placed.exit_code == 0, placed.output
    order_id = json.loads(placed.stdout)["id"]
    deadline = at + timedelta(hours=1)

    first = _worker(db, env)
    try:
        _started(first)
        time.sleep(0.6)  # a few passes, with nothing due yet
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    assert first.returncode == -signal.SIGKILL
    assert datetime.now(UTC) < deadline, "the worker started too slowly to be killed mid-window; raise WINDOW"
    assert _state(db, order_id)[:2] == ("offered", "S-GZ-1")

    # Nobody runs while the hour ends: the lapse waits in the database.
    time.sleep(max(0.0, (deadline - datetime.now(UTC)).total_seconds()) + 0.5)
    assert _state(db, order_id)[:2] == ("offered", "S-GZ-1")

    # Two workers at once, after a restart: the order is reassigned once, to one store.
    workers = [_worker(db, env), _worker(db, env)]
    try:
        for w in workers:
            _started(w)
        until = time.monotonic() + 30
        while _state(db, order_id)[1] != "S-GZ-2" and time.monotonic() < until:
            time.sleep(0.2)
        time.sleep(1.0)  # several more passes of both
    finally:
        for w in workers:
            w.send_signal(signal.SIGTERM)
        outputs = [w.communicate(timeout=20) for w in workers]
    assert [w.returncode for w in workers] == [0, 0], outputs
    status, store, offers, steps = _state(db, order_id)
    assert (status, store) == ("offered", "S-GZ-2")
    assert offers == [("S-GZ-1", "lapsed"), ("S-GZ-2", "open")]
    assert steps == [("placed", None), ("offered", "S-GZ-1"), ("lapsed", "S-GZ-1"), ("offered", "S-GZ-2")]
    passes = [json.loads(line) for out, _ in outputs for line in out.splitlines() if line.startswith('{"pass"')]
    assert sum(len(job["lapsed"]) for p in passes for job in p["pass"] if job["job"] == "orders.lapse_offers") == 1, (
        outputs
    )
    engine = make_engine(db)
    with Session(engine) as s:
        assert [(n.store_id, n.kind) for n in s.exec(select(OrderNotice))] == [("S-GZ-1", "taken_back")]
    engine.dispose()
