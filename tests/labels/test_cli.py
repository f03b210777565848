"""``traceability labels`` as a plant operator drives it: a real SQLite file, key files and output files."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from labels.errors import JobStateError

ROOT = Path(__file__).resolve().parents[2]
MASTERDATA = ROOT / "docs" / "examples" / "masterdata.json"


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TRACEABILITY_KEY_DIR", str(tmp_path / "keys"))
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    db = f"sqlite:///{tmp_path / 'cli.db'}"

    def run(*args: str, ok: bool = True):
        result = runner.invoke(app, ["--db", db, *args])
        if ok:
            assert result.exit_code == 0, (result.output, result.exception)
        return result

    run("masterdata", "import", str(MASTERDATA))
    run("codes", "keys", "create")
    return run


def test_create_print_reprint_void_close_reconcile(cli, tmp_path: Path) -> None:
    job = cli("labels", "create", "--party", "PLANT-1", "--gtin", "06901234000108", "--lot", "L2611", "--expiry",
              "271231", "--quantity", "30", "--template", "a4-3x8", "--by", "alice").stdout.strip()  # fmt: skip
    assert job.isdigit()
    out = tmp_path / "job.pdf"
    cli("labels", "print", job, "--out", str(out), "--by", "alice")
    assert out.read_bytes().startswith(b"%PDF") and not list(tmp_path.glob("*.part"))
    again = cli("labels", "print", job, "--out", str(tmp_path / "again.pdf"), ok=False)
    assert isinstance(again.exception, JobStateError)
    assert not (tmp_path / "again.pdf").exists() and not list(tmp_path.glob("*.part"))  # nothing half-written

    shown = json.loads(cli("labels", "show", job).stdout)
    assert (shown["status"], shown["printed_by"], shown["print_format"]) == ("printed", "alice", "pdf")
    serials = [r[0] for r in sqlite3.connect(tmp_path / "cli.db").execute(
        "select serial from code where batch_id = ? order by id", (shown["batch_id"],))]  # fmt: skip
    cli("labels", "reprint", job, serials[0], "--reason", "torn", "--by", "bob", "--out", str(tmp_path / "r.pdf"),
        "--slot", "5")  # fmt: skip
    assert (tmp_path / "r.pdf").read_bytes().startswith(b"%PDF")
    missing_by = cli("labels", "void", job, serials[1], "--reason", "smudged", ok=False)
    assert missing_by.exit_code == 2 and "--by" in missing_by.output  # who is not optional
    cli("labels", "void", job, serials[1], "--reason", "smudged", "--by", "bob")

    csv = cli("labels", "reconcile", job, "--format", "csv").stdout.splitlines()
    assert csv == ["job_id,party_id,status,issued,printed,reprinted,voided,commissioned,difference",
                   f"{job},PLANT-1,printed,30,30,1,1,0,29"]  # fmt: skip
    zh = cli("labels", "reconcile", job, "--format", "csv", "--lang", "zh-CN").stdout.lstrip("\ufeff").splitlines()
    assert zh == ["打印任务,工厂,状态,已发码,已打印,补打,作废,已激活,差异", f"{job},PLANT-1,已打印,30,30,1,1,0,29"]
    assert "已发码" in cli("labels", "reconcile", job, "--lang", "zh-CN").stdout
    assert cli("labels", "reconcile", job, "--lang", "fr", ok=False).exit_code == 2
    assert cli("labels", "reconcile", job, "--check", ok=False).exit_code == 1
    table = cli("labels", "reconcile", job).stdout
    assert "issued" in table and "29" in table
    cli("labels", "close", job, "--by", "carol")
    assert "closed" in cli("labels", "list").stdout


def test_thermal_labels_as_zpl(cli, tmp_path: Path) -> None:
    job = cli("labels", "create", "--party", "PLANT-1", "--gtin", "06901234000108", "--quantity", "4", "--level",
              "case", "--template", "roll-100x150").stdout.strip()  # fmt: skip
    cli("labels", "print", job, "--out", str(tmp_path / "cases.zpl"))
    text = (tmp_path / "cases.zpl").read_text()
    assert text.startswith("^XA^DF") and text.count("^XA^XF") == 4
    templates = json.loads(cli("labels", "templates", "--format", "json").stdout)
    assert {t["id"] for t in templates} >= {"a4-3x8", "letter-3x10", "roll-50x30", "roll-100x150"}
