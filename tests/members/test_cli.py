"""``traceability members`` on a real SQLite file: register, list, import, points (with the home store)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app, main
from tests.factories import masterdata_doc


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TRACEABILITY_KEY_DIR", str(tmp_path / "keys"))
    monkeypatch.delenv("TRACEABILITY_POLICY_FILE", raising=False)
    runner = CliRunner()
    db = ["--db", f"sqlite:///{tmp_path / 'cli.db'}"]

    def run(*args: str) -> str:
        result = runner.invoke(app, [*db, *args], catch_exceptions=False, env={"COLUMNS": "200"})
        assert result.exit_code == 0, result.output
        return result.stdout

    (tmp_path / "md.json").write_text(json.dumps(masterdata_doc()), encoding="utf-8")
    run("masterdata", "import", str(tmp_path / "md.json"))
    return run


def test_register_list_and_points(cli, tmp_path: Path) -> None:
    first = json.loads(cli("members", "register", "--store", "S-GZ-1", "--phone", "138 0013 8000", "--name", "王芳",
                           "--baby-birth-date", "2025-09-01", "--consent"))  # fmt: skip
    assert first["home_store"] == "S-GZ-1" and first["created"] is True
    again = json.loads(cli("members", "register", "--store", "S-NJ-1", "--phone", "13800138000"))
    assert again == {"id": first["id"], "home_store": "S-GZ-1", "created": False}
    cli("members", "register", "--store", "S-NJ-1", "--phone", "13900139000", "--source", "campaign:SPRING")
    listed = json.loads(cli("members", "list", "--store", "S-GZ-1", "--format", "json"))
    assert [(m["id"], m["name"], m["baby_birth_date"], m["source"]) for m in listed] == [
        (first["id"], "王芳", "2025-09-01", "cli")]  # fmt: skip
    assert listed[0]["consent_at"] is not None
    assert len(json.loads(cli("members", "list", "--format", "json", "--limit", "5"))) == 2
    assert "campaign:SPRING" in cli("members", "list")
    points = json.loads(cli("members", "points", "--phone", "13800138000"))
    assert {"points", "free_available", "free_redeemed", "home_store"} <= points.keys()
    assert (points["points"], points["home_store"]) == (0, "S-GZ-1")
    assert json.loads(cli("members", "points", "--phone", "13700137000"))["home_store"] is None
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("cli.db*"))  # the database and its write-ahead log
    assert b"13800138000" not in stored and "王芳".encode() in stored


def test_import_good_and_bad(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    good = tmp_path / "members.csv"
    good.write_bytes("\ufeff手机号,姓名,门店\n13800138000,王芳,S-GZ-1\n13900139000,李娜,M-000002\n".encode())
    assert json.loads(cli("members", "import", str(good))) == {"rows": 2, "created": 2, "existing": 0,
                                                               "ignored_columns": []}  # fmt: skip
    assert json.loads(cli("members", "import", str(good), "--store", "S-NJ-1"))["existing"] == 2
    nj = json.loads(cli("members", "list", "--store", "S-NJ-1", "--format", "json"))
    assert [m["name"] for m in nj] == ["李娜"]

    bad = tmp_path / "bad.csv"
    bad.write_text("phone,baby_birth_date\n13700137000,2025-09-01\n13600,someday\n", encoding="utf-8")
    monkeypatch.setenv("TRACEABILITY_DB", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setattr(sys, "argv", ["traceability", "members", "import", str(bad), "--store", "S-GZ-1"])
    with pytest.raises(SystemExit) as done:
        main()
    err = capsys.readouterr().err
    assert done.value.code == 1, err
    assert "1 bad row(s)" in err and "line 3/phone:" in err and "line 3/baby_birth_date:" in err
    assert "13600" not in err and "Traceback" not in err
    assert len(json.loads(cli("members", "list", "--format", "json"))) == 2  # nothing of the bad file was written
