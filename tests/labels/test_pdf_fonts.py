"""Label PDFs embed their fonts: ``pdffonts`` lists no font that is only named, and the human-readable lines are
text (``pdftotext``) in the embedded DejaVu Sans, on unit and logistic labels alike."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from sqlmodel import Session, col, select

from labels import service
from labels.content import logistic_label
from labels.pdf import write_pdf
from labels.templates import TEMPLATES
from tests.labels.conftest import RESOLVER, MakeJob
from tests.settlement.test_pdf_fonts import family, font_rows, text_of
from traceability import fonts
from traceability.models import Code, CodeLevel, LabelSymbology, PrintFormat


def _embedded_dejavu(pdf: Path) -> set[str]:
    rows = font_rows(pdf)
    assert rows, "the PDF names no font at all"
    assert [r["name"] for r in rows if r["emb"] != "yes"] == []
    assert all(r["type"] == "TrueType" and r["sub"] == "yes" for r in rows), rows
    return {family(r["name"]) for r in rows}


@pytest.mark.parametrize("symbology", [LabelSymbology.qr, LabelSymbology.datamatrix])
def test_a_printed_job_embeds_every_font(
    ready: Session, make_job: MakeJob, tmp_path: Path, symbology: LabelSymbology
) -> None:
    job = make_job(quantity=4, template="a4-3x8", symbology=symbology)
    out = io.BytesIO()
    service.print_job(session=ready, job_id=job.id, fmt=PrintFormat.pdf, out=out, by="test", resolver=RESOLVER)
    target = tmp_path / "job.pdf"
    target.write_bytes(out.getvalue())
    assert _embedded_dejavu(target) == {fonts.LATIN.name}
    text = text_of(target)
    serials = [c.serial for c in ready.exec(select(Code).where(Code.batch_id == job.batch_id).order_by(col(Code.id)))]
    assert len(serials) == 4 and all(f"(21) {s}" in text for s in serials)
    assert "(01) 06901234000108" in text and "(10) L2611" in text


def test_a_logistic_label_embeds_its_bold_title_too(tmp_path: Path) -> None:
    from labels.content import CodeRow

    row = CodeRow(1, CodeLevel.case.value, None, None, "069012340000000017", None, None, None, None)
    label = logistic_label(row, content_gtin="06901234000108", count=6, lot="L2611", expiry="271231")
    out = io.BytesIO()
    write_pdf([label], template=TEMPLATES["roll-100x150"], out=out, title="case", invariant=True)
    target = tmp_path / "case.pdf"
    target.write_bytes(out.getvalue())
    assert _embedded_dejavu(target) == {fonts.LATIN.name, fonts.LATIN_BOLD.name}
    text = text_of(target)
    assert "(00) 069012340000000017" in text and "CASE SSCC" in text and "(37) 6" in text
