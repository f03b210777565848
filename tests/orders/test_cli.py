"""``traceability orders`` on a real SQLite file, per the contract: place, show, tick, answer, reassign, cancel."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from tests.factories import GTIN, masterdata_doc
from tests.orders.helpers import EXTRA_STORES, HOME, PHONE


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TRACEABILITY_KEY_DIR", str(tmp_path / "keys"))
    monkeypatch.delenv("TRACEABILITY_POLICY_FILE", raising=False)
    runner = CliRunner()
    db = ["--db", f"sqlite:///{tmp_path / 'cli.db'}"]

    def run(*args: str, code: int = 0) -> str:
        result = runner.invoke(app, [*db, *args], catch_exceptions=False, env={"COLUMNS": "200"})
        assert result.exit_code == code, result.output
        return result.stdout

    doc = masterdata_doc()
    doc["parties"].extend(EXTRA_STORES)
    (tmp_path / "md.json").write_text(json.dumps(doc), encoding="utf-8")
    run("masterdata", "import", str(tmp_path / "md.json"))
    return run


def test_place_show_tick_per_the_contract(cli, tmp_path: Path) -> None:
    placed = json.loads(cli("orders", "place", "--member", PHONE, "--lat", str(HOME[0]), "--lon", str(HOME[1]),
                            "--gtin", GTIN, "--quantity", "2", "--at", "2026-11-20T18:00:00+08:00"))  # fmt: skip
    assert {"id", "store"} <= placed.keys() and placed["store"] == "S-GZ-1"
    assert placed["deadline"] == "2026-11-20T11:00:00+00:00"
    # Not yet due: the tick does nothing.
    early = json.loads(cli("orders", "tick", "--at", "2026-11-20T18:59:00+08:00"))
    assert early["lapsed"] == []
    done = json.loads(cli("orders", "tick", "--at", "2026-11-20T19:00:00+08:00"))
    assert done["lapsed"] == [{"order": placed["id"], "store": "S-GZ-1", "deadline": "2026-11-20T11:00:00+00:00",
                               "next_store": "S-GZ-2"}]  # fmt: skip
    assert json.loads(cli("orders", "tick", "--at", "2026-11-20T19:00:00+08:00"))["lapsed"] == []
    shown = json.loads(cli("orders", "show", str(placed["id"]), "--format", "json"))
    assert (shown["status"], shown["store"]) == ("offered", "S-GZ-2")
    assert [(s["status"], s["store"], s["reason"]) for s in shown["history"]] == [
        ("placed", None, "call_centre"), ("offered", "S-GZ-1", "nearest"), ("lapsed", "S-GZ-1", "lapsed"),
        ("offered", "S-GZ-2", "nearest"),
    ]  # fmt: skip
    assert all(s["at"].endswith("+00:00") for s in shown["history"])
    # The store declines, the next one accepts; the call centre moves it and then cancels it.
    cli("orders", "decline", str(placed["id"]), "--store", "S-GZ-2", "--at", "2026-11-20T19:05:00+08:00")
    accepted = json.loads(cli("orders", "accept", str(placed["id"]), "--store", "S-GZ-3",
                              "--at", "2026-11-20T19:10:00+08:00"))  # fmt: skip
    assert (accepted["status"], accepted["store"]) == ("accepted", "S-GZ-3")
    moved = json.loads(cli("orders", "reassign", str(placed["id"]), "--store", "S-GZ-1"))
    assert (moved["status"], moved["store"], moved["reason"]) == ("offered", "S-GZ-1", "reassigned")
    assert json.loads(cli("orders", "cancel", str(placed["id"])))["status"] == "cancelled"
    listed = json.loads(cli("orders", "list", "--format", "json"))
    assert [o["id"] for o in listed] == [placed["id"]]
    lapses = json.loads(cli("orders", "lapses"))
    assert {r["store"]: r["lapsed"] for r in lapses}["S-GZ-1"] == 1
    # The phone is never stored, nor printed.
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("cli.db*"))
    assert PHONE.encode() not in stored
    assert PHONE not in json.dumps(shown)


def test_times_without_an_offset_are_usage_errors(cli) -> None:
    cli("orders", "tick", "--at", "2026-11-20T19:00:00", code=2)
    cli("orders", "tick", "--at", "tomorrow", code=2)
    cli("orders", "place", "--member", PHONE, "--lat", "23.1", "--lon", "113.2", "--gtin", GTIN, "--quantity", "1",
        "--quantity", "2", code=2)  # fmt: skip
