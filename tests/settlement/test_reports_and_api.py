"""Reports (PDF with Chinese names, CSV with BOM, XLSX), the finance API and the CLI on a small April."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

from fastapi.testclient import TestClient
from sqlmodel import Session

from rebates.policy import Policy
from settlement.reports import report_data, to_csv, to_pdf, to_xlsx
from settlement.service import run_settlement
from tests.factories import api_key, auth
from tests.settlement.scenario import seed
from tests.settlement.test_scenario import april  # noqa: F401  (fixture)
from traceability.models import Role
from traceability.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def test_csv_has_a_bom_and_keeps_chinese_names(session: Session, april) -> None:  # noqa: F811
    body = to_csv(run_settlement(session=session, period="2026-04", policy=Policy()))
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
    gz = next(r for r in rows if r["party"] == "D-GZ")
    assert gz["name"] == "广州经销商" and gz["amount"] == "107.20" and gz["rate"] == "0.02"
    assert [r["section"] for r in rows][-1] == "total"


def test_xlsx_has_numbers_and_names(session: Session, april) -> None:  # noqa: F811
    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(to_xlsx(run_settlement(session=session, period="2026-04", policy=Policy()))))
    assert wb.sheetnames == ["Summary", "Distributors", "Stores", "Adjustments"]
    rows = list(wb["Distributors"].iter_rows(values_only=True))
    assert rows[1][1] == "广州经销商" and float(rows[1][9]) == 107.20


def test_pdf_renders_chinese_and_charts(session: Session, april, tmp_path: Path) -> None:  # noqa: F811
    result = run_settlement(session=session, period="2026-04", policy=Policy())
    pdf = to_pdf(report_data(session=session, settlement=result))
    assert pdf.startswith(b"%PDF")  # its fonts: tests/settlement/test_pdf_fonts.py
    target = tmp_path / "s.pdf"
    target.write_bytes(pdf)
    text = subprocess.run(["pdftotext", str(target), "-"], capture_output=True, text=True)
    if text.returncode == 0:
        assert "广州经销商" in text.stdout and "107.20" in text.stdout


def test_finance_api(client: TestClient, session: Session, april) -> None:  # noqa: F811
    finance = auth(api_key(session, Role.finance))
    r = client.get("/api/v1/settlement/2026-04", headers=finance)
    assert r.status_code == 200, r.text
    assert {d["party"]: d["rebate"] for d in r.json()["distributors"]} == {"D-GZ": "107.20", "D-NJ": "9.95"}
    pdf = client.get("/api/v1/settlement/2026-04/report?format=pdf", headers=finance)
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert client.get("/api/v1/settlement/2026-04/report?format=csv", headers=finance).content[:3] == b"\xef\xbb\xbf"
    units = client.get("/api/v1/settlement/2026-04/units?party=S-NJ-1", headers=finance).json()
    assert [u["kind"] for u in units] == ["sale"]
    assert client.get("/api/v1/settlement/2026-13", headers=finance).json()["error"] == "bad_period"
    locked = client.post("/api/v1/settlement/2026-04/lock", headers=finance)
    assert locked.status_code == 200 and locked.json()["status"] == "locked"
    again = client.post("/api/v1/settlement/2026-04/lock", headers=finance)
    assert again.status_code == 409 and again.json()["error"] == "period_locked"
    assert [p["period"] for p in client.get("/api/v1/settlement/periods", headers=finance).json()] == ["2026-04"]
    plant = auth(api_key(session, Role.plant))  # partners read their own line: tests/settlement/test_partner_views.py
    assert client.get("/api/v1/settlement/2026-04", headers=plant).status_code == 403


def test_policy_file_errors_are_clear(client: TestClient, session: Session, tmp_path: Path, settings: Settings) -> None:
    seed(session)
    bad = tmp_path / "policy.toml"
    bad.write_text(
        '[store_fee]\nrate = "1.5"\n[rebate]\ntiers = [{rate = "0.01", min_coverage = "0.8", max_diverted_share = "0"},'
        ' {rate = "0.02", min_coverage = "0.9", max_diverted_share = "0"}]\n'
    )
    settings.policy_file = bad  # the app's one settings object (TRACEABILITY_POLICY_FILE)
    r = client.get("/api/v1/settlement/2026-04", headers=auth(api_key(session, Role.finance)))
    assert r.status_code == 422 and r.json()["error"] == "policy_invalid"
    paths = {p["path"] for p in r.json()["problems"]}
    assert paths == {"store_fee.rate", "rebate.tiers"}


def test_cli_run_lock_and_files(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    env = {"TRACEABILITY_DB": db, "TRACEABILITY_KEY_DIR": str(tmp_path / "keys"), "PATH": "/usr/bin:/bin"}

    def cli(*args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([sys.executable, "-m", "cli", *args], cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=120)  # fmt: skip
        assert (proc.returncode == 0) == ok, proc.stderr
        return proc

    cli("masterdata", "import", str(ROOT / "docs" / "examples" / "masterdata.json"))
    out = json.loads(cli("settlement", "run", "--period", "2026-04", "--format", "json").stdout)
    assert out["period"] == "2026-04" and out["distributors"] == [] and out["totals"] == []
    cli("settlement", "run", "--period", "2026-04", "--format", "pdf", "--out", str(tmp_path / "s.pdf"))
    assert (tmp_path / "s.pdf").read_bytes().startswith(b"%PDF")
    cli("settlement", "run", "--period", "2026-04", "--format", "xlsx")
    assert (tmp_path / "settlement-2026-04.xlsx").exists()
    assert "Distributors" in cli("settlement", "run", "--period", "2026-04", "--format", "table").stdout
    empty = cli("settlement", "lock", "--period", "2026-04", ok=False)  # only master data: nothing happened in April
    assert empty.returncode == 1 and "--force" in empty.stderr and "Traceback" not in empty.stderr
    cli("settlement", "lock", "--period", "2026-04", "--force")
    failed = cli("settlement", "lock", "--period", "2026-04", ok=False)
    assert "already locked" in failed.stderr
    policy = tmp_path / "p.toml"
    policy.write_text('timezone = "Mars/Olympus"\n')
    bad = cli("settlement", "run", "--period", "2026-05", "--policy", str(policy), ok=False)
    assert "timezone" in bad.stderr and "unknown time zone" in bad.stderr
    cli("settlement", "run", "--period", "2026-05", "--policy", str(ROOT / "docs" / "examples" / "policy.toml"))
