"""The command line as a user drives it: a real SQLite file, real key files, real output files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MASTERDATA = ROOT / "docs" / "examples" / "masterdata.json"


@pytest.fixture
def cli(tmp_path: Path):
    env = {"TRACEABILITY_DB": f"sqlite:///{tmp_path / 'cli.db'}", "TRACEABILITY_KEY_DIR": str(tmp_path / "keys"),
           "PATH": "/usr/bin:/bin"}  # fmt: skip

    def run(*args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([sys.executable, "-m", "cli", *args], cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=120)  # fmt: skip
        if ok:
            assert proc.returncode == 0, proc.stderr
        return proc

    return run


def test_from_nothing_to_verified_codes(cli, tmp_path: Path) -> None:
    first = json.loads(cli("masterdata", "import", str(MASTERDATA)).stdout)
    assert first["created"]["parties"] == 8
    again = json.loads(cli("masterdata", "import", str(MASTERDATA)).stdout)
    assert again["unchanged"]["parties"] == 8
    cli("codes", "keys", "create")
    out = tmp_path / "codes.txt"
    gen = cli("codes", "generate", "--gtin", "06901234000108", "--lot", "L1", "--expiry", "271231", "--count", "250",
              "--out", str(out), "--party", "PLANT-1")  # fmt: skip
    assert "issued 250 codes" in gen.stderr
    lines = out.read_text().split("\n")[:-1]
    assert len(lines) == 250 and len(set(lines)) == 250
    cli("codes", "keys", "export-public", "--out", str(tmp_path / "ring.json"))
    offline = json.loads(cli("codes", "verify", lines[0], "--public-key", str(tmp_path / "ring.json"), "--format",
                             "json").stdout)  # fmt: skip
    assert offline["ok"] is True and offline["issued"] is None
    online = json.loads(cli("codes", "verify", lines[0], "--format", "json").stdout)
    assert online["ok"] is True and online["issued"] is True and online["status"] == "generated"
    i = lines[0].index("/21/") + 4
    forged = lines[0][:i] + ("Z" if lines[0][i] != "Z" else "Y") + lines[0][i + 1 :]
    bad = cli("codes", "verify", forged, "--public-key", str(tmp_path / "ring.json"), "--format", "json", ok=False)
    assert bad.returncode == 1 and json.loads(bad.stdout)["reason"] == "bad_signature"
    cli("codes", "keys", "revoke", "K1", "--reason", "test")
    revoked = cli("codes", "verify", lines[0], "--format", "json", ok=False)
    assert json.loads(revoked.stdout)["reason"] == "key_revoked"
    assert not list((tmp_path / "keys").glob("*.pem"))[0].read_text().startswith("-----BEGIN PUBLIC")


def test_errors_are_clear_and_nonzero(cli, tmp_path: Path) -> None:
    broken = tmp_path / "bad.json"
    broken.write_text(json.dumps({"parties": [{"id": "X", "kind": "pirate"}]}))
    proc = cli("masterdata", "import", str(broken), ok=False)
    assert proc.returncode == 1
    assert "/parties/0/kind" in proc.stderr and "Traceback" not in proc.stderr
    proc = cli("codes", "generate", "--gtin", "06901234000108", "--count", "1", "--out", "x.txt", ok=False)
    assert proc.returncode == 1 and "no active signing key" in proc.stderr
    garbage = cli("codes", "verify", "hello", ok=False)
    assert garbage.returncode == 1 and "Traceback" not in garbage.stderr


def test_epcis_capture_and_chain(cli, tmp_path: Path) -> None:
    doc = {"@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"], "type": "EPCISDocument",
           "schemaVersion": "2.0", "creationDate": "2026-01-01T00:00:00Z", "epcisBody": {"eventList": [
               {"type": "ObjectEvent", "action": "OBSERVE", "bizStep": "shipping",
                "epcList": ["urn:epc:id:sgtin:0614141.107346.2017"], "eventTime": "2026-01-01T08:00:00+08:00",
                "eventTimeZoneOffset": "+08:00"}]}}  # fmt: skip
    path = tmp_path / "doc.jsonld"
    path.write_text(json.dumps(doc))
    assert json.loads(cli("epcis", "capture", str(path)).stdout)["stored"] == 1
    assert json.loads(cli("epcis", "capture", str(path)).stdout)["duplicates"] == 1
    assert "chain intact: 1 events" in cli("epcis", "verify-chain").stdout
    exported = tmp_path / "out.jsonld"
    cli("epcis", "export", "--out", str(exported))
    assert len(json.loads(exported.read_text())["epcisBody"]["eventList"]) == 1


def test_scan_and_shipment_commands(cli, tmp_path: Path) -> None:
    cli("masterdata", "import", str(MASTERDATA))
    cli("codes", "keys", "create")
    out = tmp_path / "u.txt"
    cli("codes", "generate", "--gtin", "06901234000108", "--count", "3", "--out", str(out), "--party", "PLANT-1")
    units = out.read_text().split()
    done = json.loads(cli("scan", *units, "--party", "PLANT-1", "--step", "commissioning").stdout)
    assert len(done["accepted"]) == 3
    cli("scan", *units, "--party", "PLANT-1", "--step", "shipping", "--destination", "D-GZ")
    shipment = cli("shipment", "open", "--party", "D-GZ", "--destination", "S-GZ-1").stdout.strip()
    cli("shipment", "scan", shipment, units[0], units[1], "--party", "D-GZ")
    assert "closed" in cli("shipment", "close", shipment, "--party", "D-GZ").stdout
    sold = cli("scan", units[0], "--party", "S-GZ-1", "--step", "retail_selling")
    assert json.loads(sold.stdout)["accepted"]
    again = cli("scan", units[0], "--party", "S-GZ-1", "--step", "retail_selling", ok=False)
    assert again.returncode == 1 and "already_sold" in again.stderr
