"""The settlement PDF renders in any reader: every font embedded (``pdffonts``), Chinese names found as text
(``pdftotext``), headings and export headers in the reader's language."""

from __future__ import annotations

import csv
import io
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from rebates.policy import Policy
from settlement.reports import report_data, to_csv, to_pdf, to_xlsx
from settlement.service import run_settlement
from tests.factories import api_key, auth
from tests.settlement.test_scenario import april  # noqa: F401  (fixture)
from traceability import fonts
from traceability.errors import TraceabilityError
from traceability.models import Role


def _poppler(tool: str) -> str:
    found = shutil.which(tool)
    if found is None:
        pytest.fail(f"{tool} is missing: ./scripts/bootstrap.sh installs poppler-utils")
    return found


def font_rows(pdf: Path) -> list[dict[str, str]]:
    """``pdffonts``'s table as rows: name, type, encoding, emb, sub, uni (the columns are fixed-width)."""
    out = subprocess.run([_poppler("pdffonts"), str(pdf)], capture_output=True, text=True, check=True).stdout
    lines = out.splitlines()
    dashes = lines[1].split(" ")  # the ---- row under the header gives each column's width
    rows = []
    for line in lines[2:]:
        cells, at = [], 0
        for dash in dashes:
            cells.append(line[at : at + len(dash)].strip())
            at += len(dash) + 1
        rows.append(dict(zip(["name", "type", "encoding", "emb", "sub", "uni", "object", "id"], cells, strict=False)))
    return rows


def family(name: str) -> str:
    """A font's name without the subset's tag (``ABCDEF+``) and reportlab's subset number (``-0``)."""
    return re.sub(r"-\d+$", "", name.split("+")[-1])


def text_of(pdf: Path) -> str:
    out = subprocess.run([_poppler("pdftotext"), str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    return " ".join(out.split())


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_every_font_is_embedded_and_chinese_names_are_text(
    session: Session,
    april,  # noqa: F811
    tmp_path: Path,
    lang: str,
) -> None:
    result = run_settlement(session=session, period="2026-04", policy=Policy())
    target = tmp_path / "settlement.pdf"
    target.write_bytes(to_pdf(report_data(session=session, settlement=result), lang=lang))
    rows = font_rows(target)
    assert rows, "the PDF names no font at all"
    assert [r["name"] for r in rows if r["emb"] != "yes"] == []
    # reportlab names each 256-glyph subset ABCDEF+Name-N: every one is the CJK TrueType, no Helvetica, no STSong
    assert {family(r["name"]) for r in rows} == {fonts.CJK.name}, rows
    assert all(r["type"] == "TrueType" and r["sub"] == "yes" for r in rows), rows
    text = text_of(target)
    assert "广州经销商" in text and "107.20" in text
    heading = "经销商：返利及其比例的原因" if lang == "zh-CN" else "Distributors: rebate and the reason for its rate"
    assert heading in text


def test_a_missing_font_names_the_package(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    spec = fonts.FontSpec(name="NotInstalledSans", package="fonts-not-installed", paths=(str(tmp_path / "x.ttf"),))
    with pytest.raises(fonts.FontMissing) as caught:
        fonts.register(spec)
    assert isinstance(caught.value, TraceabilityError) and caught.value.status_code == 503
    assert "fonts-not-installed" in caught.value.message and caught.value.detail["package"] == "fonts-not-installed"
    bad = tmp_path / "bad.ttf"
    bad.write_bytes(b"not a font")
    with pytest.raises(fonts.FontMissing):
        fonts.register(spec, override=bad)


def test_export_headers_follow_the_language(session: Session, april) -> None:  # noqa: F811
    from openpyxl import load_workbook

    result = run_settlement(session=session, period="2026-04", policy=Policy())
    zh = list(csv.reader(io.StringIO(to_csv(result, lang="zh-CN").decode("utf-8-sig"))))
    en = list(csv.reader(io.StringIO(to_csv(result, lang="en").decode("utf-8-sig"))))
    assert zh[0][:4] == ["类别", "所属期间", "编号", "名称"] and en[0][:4] == ["section", "for_period", "party", "name"]
    assert zh[1][1:] == en[1][1:] and zh[1][0] == "经销商"  # the figures are the same, only the words change
    wb = load_workbook(io.BytesIO(to_xlsx(result, lang="zh-CN")))
    assert wb.sheetnames == ["汇总", "经销商", "门店", "调整"]
    header = next(wb["经销商"].iter_rows(values_only=True))
    assert header[:2] == ("编号", "名称") and "返利" in header


def test_the_finance_page_downloads_in_the_users_language(client: TestClient, session: Session, april) -> None:  # noqa: F811
    finance = auth(api_key(session, Role.finance))
    zh = client.get("/app/settlement/2026-04/report.csv", headers={**finance, "Accept-Language": "zh-CN"})
    assert zh.status_code == 200 and zh.content.decode("utf-8-sig").startswith("类别,所属期间,编号,名称")
    en = client.get("/app/settlement/2026-04/report.csv", headers={**finance, "Accept-Language": "en"})
    assert en.content.decode("utf-8-sig").startswith("section,for_period,party,name")
    # a distributor's key may not download the brand's report, in any language
    distributor = auth(api_key(session, Role.distributor))
    refused = client.get("/app/settlement/2026-04/report.csv", headers={**distributor, "Accept": "application/json"})
    assert refused.status_code == 403
