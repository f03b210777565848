"""``traceability demo`` as a newcomer runs it, on a small scale: it finishes, writes its reports, and its summary's
figures are exactly what the contract commands (``alerts list``, ``settlement run``) report on the same database."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from demo.network import build_network
from demo.simulate import Month, months_before
from traceability.models import Sale


def test_network_is_the_size_the_issue_asks_for() -> None:
    net = build_network()
    kinds = Counter(p["kind"] for p in net.document["parties"])
    assert kinds == {"store": 500, "distributor": 20, "plant": 2, "warehouse": 1, "brand": 1, "auditor": 1}
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in p["name"]) for p in net.document["parties"])
    assert build_network() == net  # deterministic


def test_months_are_the_two_before_today() -> None:
    assert months_before(datetime(2026, 1, 15)) == [Month(2025, 11), Month(2025, 12)]


@pytest.fixture
def cli(tmp_path: Path, committing_engine: Engine):
    env = {"TRACEABILITY_DB": committing_engine.url.render_as_string(hide_password=False),
           "TRACEABILITY_KEY_DIR": str(tmp_path / "keys"), "PATH": "/usr/bin:/bin"}  # fmt: skip

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([sys.executable, "-m", "cli", *args], cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=300)  # fmt: skip
        assert proc.returncode == 0, proc.stderr[-3000:]
        return proc

    return run


def test_demo_summary_equals_the_contract_commands(cli, tmp_path: Path, committing_engine: Engine) -> None:
    run = cli("demo", "--scale", "0.04", "--out", "reports")
    reports = tmp_path / "reports"
    summary = json.loads((reports / "summary.json").read_text(encoding="utf-8"))
    assert "serve" in run.stdout and "trc_" in run.stdout
    for name in ("labels-sample-a4.pdf", "labels-sample.zpl", "alerts.json", "party-graph.graphml", "demo-keys.txt"):
        assert (reports / name).stat().st_size > 0, name
    first, second = summary["periods"]
    for period in (first, second):
        for ext in ("pdf", "csv", "xlsx"):
            assert (reports / f"settlement-{period}.{ext}").stat().st_size > 0

    alerts = json.loads(cli("alerts", "list", "--format", "json").stdout)
    assert dict(Counter(a["kind"] for a in alerts)) == summary["alerts_by_kind"]
    assert dict(Counter(a["status"] for a in alerts)) == summary["alerts_by_status"]
    # Every planted story is found.
    assert set(summary["alerts_by_kind"]) == {"out_of_territory", "unauthorized_channel", "clone_suspected",
                                              "counterfeit_suspected", "holder_mismatch"}  # fmt: skip
    # Only the planted clone resales (one a month) sell a unit another party holds: honest stores sell what they hold.
    assert summary["alerts_by_kind"]["holder_mismatch"] <= 2
    leakers = [leak["distributor"] for leak in summary["top_leaks"]]
    assert {"D-DG", "D-WZ", "D-GZ"} <= set(leakers[:3])

    for period in (first, second):
        doc = json.loads(cli("settlement", "run", "--period", period, "--format", "json").stdout)
        figures = summary["settlement"][period]
        assert figures["rebates"] == str(sum((Decimal(d["rebate"]) for d in doc["distributors"]), Decimal("0.00")))
        assert figures["fees"] == str(sum((Decimal(s["fee"]) for s in doc["stores"]), Decimal("0.00")))
        assert figures["units_sold"] == sum(int(s["units_sold"]) for s in doc["stores"])
        assert dict(Counter(d["rate"] for d in doc["distributors"])) == figures["distributors_by_rate"]
    assert summary["settlement"][first]["status"] == "locked"
    assert "D-DG" in summary["settlement"][first]["zero_rate"]  # its diversion was confirmed
    # O2O: every order delivered, one after its first offer lapsed, each delivery a sale of the delivering store.
    views = json.loads(cli("orders", "list", "--format", "json").stdout)
    assert dict(Counter(v["status"] for v in views)) == summary["orders"]["by_status"] == {"delivered": len(views)}
    lapsed = [v for v in views if any(s["status"] == "lapsed" for s in v["history"])]
    assert len(lapsed) == summary["orders"]["offers_lapsed"] == 1
    steps = [s for s in lapsed[0]["history"] if s["status"] in ("offered", "delivered")]
    assert steps[-1]["store"] != steps[0]["store"]  # delivered by the store it went on to
    with Session(committing_engine) as session:
        for v in views:
            delivery = next(s for s in v["history"] if s["status"] == "delivered")
            sales = session.exec(select(Sale).where(Sale.event_id == delivery["event_id"])).all()
            assert sales
            assert {sale.store_id for sale in sales} == {v["store"]}
    # The clerks' call list of the day the demo generated, as `tasks list` reads it.
    tasks = json.loads(cli("tasks", "list", "--date", summary["tasks"]["day"], "--format", "json").stdout)
    assert summary["tasks"]["created"] > 0
    assert {t["kind"] for t in tasks} <= set(summary["tasks"]["by_kind"])
