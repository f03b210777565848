"""The CLI contracts on a real SQLite file: ``tasks generate`` (idempotent), ``tasks list``, ``tasks outcome``,
``tasks effect`` and ``members segments``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from tests.factories import masterdata_doc
from tests.settlement.scenario import GLN, P1, unit
from traceability.privacy import member_hash, member_pepper


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

    (tmp_path / "md.json").write_text(json.dumps(masterdata_doc()), encoding="utf-8")
    run("masterdata", "import", str(tmp_path / "md.json"))
    return run


def _sale(tmp_path: Path, phone: str, when: str, n: int, serial: str) -> Path:
    h = member_hash(phone, member_pepper(tmp_path / "keys"))
    loc = f"urn:epc:id:sgln:6901234.{GLN['S-GZ-1'][7:12]}.0"
    doc = {"type": "EPCISDocument", "schemaVersion": "2.0", "creationDate": "2026-04-01T00:00:00Z",
           "epcisBody": {"eventList": [{
               "eventID": f"urn:uuid:00000000-0000-4000-8000-{serial:0>12}", "type": "ObjectEvent",
               "action": "OBSERVE", "bizStep": "retail_selling", "eventTime": when, "eventTimeZoneOffset": "+00:00",
               "bizLocation": {"id": loc}, "epcList": [unit(P1, f"{serial}{i}") for i in range(n)],
               "trc:member": h}]}}  # fmt: skip
    path = tmp_path / f"sale-{serial}.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def test_tasks_and_segments_through_the_cli(cli, tmp_path: Path) -> None:
    member = json.loads(cli("members", "register", "--store", "S-NJ-1", "--phone", "13800138000"))["id"]
    cli("epcis", "capture", str(_sale(tmp_path, "13800138000", "2026-04-01T10:00:00Z", 3, "77")))
    first = json.loads(cli("tasks", "generate", "--date", "2026-04-04"))
    assert first == {"date": "2026-04-04", "created": 1}
    assert json.loads(cli("tasks", "generate", "--date", "2026-04-04"))["created"] == 0
    listed = json.loads(cli("tasks", "list", "--store", "S-NJ-1", "--date", "2026-04-04", "--format", "json"))
    assert [(t["member"], t["kind"], t["due"], t["status"]) for t in listed] == [
        (member, "follow_up", "2026-04-06", "open")]  # fmt: skip
    assert json.loads(cli("tasks", "list", "--store", "S-GZ-1", "--date", "2026-04-04", "--format", "json")) == []
    assert "回访" in cli("tasks", "list", "--date", "2026-04-04")
    done = json.loads(cli("tasks", "outcome", str(listed[0]["id"]), "--status", "reached", "--by", "clerk 1"))
    assert (done["status"], done["outcome_by"]) == ("reached", "clerk 1")
    cli("tasks", "outcome", str(listed[0]["id"]), "--status", "maybe", code=2)
    for d in range(5, 25):
        cli("tasks", "generate", "--date", f"2026-04-{d:02d}")
    refill = json.loads(cli("tasks", "list", "--store", "S-NJ-1", "--date", "2026-04-19", "--format", "json"))
    assert [(t["kind"], t["opens"], t["due"]) for t in refill] == [("replenish", "2026-04-17", "2026-04-20")]
    effect = json.loads(cli("tasks", "effect", "--from", "2026-04-01", "--to", "2026-04-30"))
    assert effect["overall"]["worked"] == 1 and effect["overall"]["unworked"] == 1
    segments = json.loads(cli("members", "segments", "--as-of", "2026-04-30", "--format", "json"))
    assert segments == [{"member": member, "store": "S-NJ-1", "tier": "ordinary", "active": True, "recency_days": 29,
                         "frequency": 1, "monetary": "804.00", "units": 3, "units_per_purchase": "3.00",
                         "membership_days": segments[0]["membership_days"], "baby_stage": None,
                         "source": "cli"}]  # fmt: skip
    assert json.loads(cli("members", "segments", "--as-of", "2020-01-01", "--format", "json")) == []
    summary = json.loads(cli("members", "segments", "--as-of", "2026-04-30", "--summary"))
    assert summary["tiers"]["ordinary"] == 1 and summary["active"] == 1
