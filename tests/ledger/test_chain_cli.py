"""`epcis checkpoint` and `epcis verify-chain` as finance or an auditor runs them, on a real SQLite file."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _document(path: Path) -> Path:
    place = {"id": "urn:epc:id:sgln:6901234.00003.0"}
    events = [
        {"type": "ObjectEvent", "action": "OBSERVE", "bizStep": "shipping", "eventTime": "2026-01-02T10:00:00+08:00",
         "eventTimeZoneOffset": "+08:00", "epcList": [f"urn:epc:id:sgtin:6901234.000010.C{i}" for i in range(3)],
         "sourceList": [{"type": "owning_party", "source": "BRAND"}],
         "destinationList": [{"type": "owning_party", "destination": "D-GZ"}]},
        {"type": "ObjectEvent", "action": "OBSERVE", "bizStep": "retail_selling",
         "eventTime": "2026-01-05T10:00:00+08:00", "eventTimeZoneOffset": "+08:00",
         "epcList": ["urn:epc:id:sgtin:6901234.000010.C0"], "readPoint": place, "bizLocation": place},
    ]  # fmt: skip
    path.write_text(json.dumps({"type": "EPCISDocument", "schemaVersion": "2.0", "creationDate": "2026-01-06T00:00:00Z",
                                "epcisBody": {"eventList": events}}))  # fmt: skip
    return path


@pytest.fixture
def cli(tmp_path: Path):
    env = {"TRACEABILITY_DB": f"sqlite:///{tmp_path / 'cli.db'}", "TRACEABILITY_KEY_DIR": str(tmp_path / "keys"),
           "PATH": "/usr/bin:/bin"}  # fmt: skip

    def run(*args: str, code: int = 0) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([sys.executable, "-m", "cli", *args], cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=120)  # fmt: skip
        assert proc.returncode == code, proc.stderr
        assert "Traceback" not in proc.stderr
        return proc

    return run


def test_checkpoint_then_tamper_then_verify(cli, tmp_path: Path) -> None:
    cli("masterdata", "import", str(ROOT / "docs" / "examples" / "masterdata.json"))
    cli("epcis", "capture", str(_document(tmp_path / "doc.json")))
    checkpoint = tmp_path / "checkpoint.json"
    cli("epcis", "checkpoint", "--out", str(checkpoint))
    assert (tmp_path / "keys" / "chain.pem").exists()  # the signing key lives outside the database
    ok = cli("epcis", "verify-chain", "--checkpoint", str(checkpoint)).stdout
    assert "chain intact: 2 events" in ok and "unchanged since the checkpoint" in ok

    db = sqlite3.connect(tmp_path / "cli.db")
    with db:  # a purchase moved to another distributor, straight in the database
        db.execute("UPDATE purchase SET distributor_id = 'D-NJ' WHERE id = (SELECT min(id) FROM purchase)")
    bad = " ".join(cli("epcis", "verify-chain", code=1).stderr.split())
    assert "table purchase" in bad
    with db:
        db.execute("UPDATE purchase SET distributor_id = 'D-GZ'")
        db.execute("UPDATE epcis_event SET destination_party_id = 'D-NJ' WHERE seq = 1")
    assert "was altered" in " ".join(cli("epcis", "verify-chain", code=1).stderr.split())
    db.close()

    forged = json.loads(checkpoint.read_text()) | {"head": "0" * 64}
    (tmp_path / "forged.json").write_text(json.dumps(forged))
    forged_run = cli("epcis", "verify-chain", "--checkpoint", str(tmp_path / "forged.json"), code=1)
    refused = " ".join(forged_run.stderr.split())
    assert "not signed by this system's checkpoint key" in refused
    missing = " ".join(cli("epcis", "verify-chain", "--checkpoint", str(tmp_path / "nope.json"), code=1).stderr.split())
    assert "not found" in missing
