"""Printed PDFs read back: rendered at 300 dpi by a real rasteriser, every code decoded, for every template.

Two readers: the project's decoder (``scanning.decode``, zxing-cpp then ZBar) and ZBar alone through pyzbar. ZBar
cannot read DataMatrix, so "pyzbar alone" covers the QR codes and the GS1-128 symbols; the DataMatrix symbols are
read by the project's decoder only.
"""

from __future__ import annotations

import io
import math
import shutil
import subprocess
import tempfile
import tracemalloc
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, cast

import cv2
import numpy as np
import pytest
from pyzbar import pyzbar
from pyzbar.pyzbar import ZBarSymbol
from sqlmodel import Session, col, select

from codes import service as codes_service
from codes.render import parse_code
from codes.signing import verify
from labels import service
from labels.content import CodeRow, LabelData, unit_label
from labels.pdf import write_pdf
from labels.templates import TEMPLATES
from scanning.decode import decode_image
from tests.labels.conftest import RESOLVER, MakeJob
from tests.labels.helpers import rasterise
from traceability.models import Code, CodeLevel, LabelSymbology, PrintFormat, PrintJob

UNIT = [(t.id, LabelSymbology.qr) for t in TEMPLATES.values() if CodeLevel.unit in t.levels] + [
    ("a4-3x7", LabelSymbology.datamatrix),
    ("roll-50x30", LabelSymbology.datamatrix),
]
LOGISTIC = [("a4-2x2", CodeLevel.pallet), ("roll-100x150", CodeLevel.case)]
assert {t for t, _ in UNIT + LOGISTIC} == set(TEMPLATES), "every template is printed and read back"


def _gray(png: bytes) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(png, dtype=np.uint8), cv2.IMREAD_GRAYSCALE)
    assert image is not None
    return image


def _print(session: Session, job: PrintJob, dpi: int = 300) -> tuple[list[bytes], list[Code]]:
    out = io.BytesIO()
    assert job.id is not None
    result = service.print_job(session=session, job_id=job.id, fmt=PrintFormat.pdf, out=out, by="test",
                               resolver=RESOLVER)  # fmt: skip
    codes = list(session.exec(select(Code).where(Code.batch_id == job.batch_id).order_by(col(Code.id))).all())
    assert result.labels == len(codes)
    pages = rasterise(out.getvalue(), dpi)
    template = TEMPLATES[job.template]
    assert len(pages) == math.ceil(len(codes) / template.per_page)
    return pages, codes


def _zbar(png: bytes) -> list[tuple[str, str]]:
    # ZBar as a second opinion, with the readers of what labels carry (QR, GS1-128): over a page of random serials
    # its interleaved 2-of-5 reader now and then "finds" a symbol in the printed text, which says nothing of ours.
    printed = [ZBarSymbol.QRCODE, ZBarSymbol.CODE128]
    return [(s.type, s.data.decode("ascii")) for s in pyzbar.decode(_gray(png), symbols=printed)]


@pytest.mark.parametrize(("template", "symbology"), UNIT, ids=[f"{t}-{s.value}" for t, s in UNIT])
def test_every_unit_label_decodes_to_the_jobs_codes(
    ready: Session, make_job: MakeJob, template: str, symbology: LabelSymbology
) -> None:
    per_page = TEMPLATES[template].per_page
    job = make_job(quantity=per_page if per_page > 1 else 3, template=template, symbology=symbology)
    pages, codes = _print(ready, job)
    expected = Counter((c.gtin, c.serial) for c in codes)
    ring = codes_service.keyring(session=ready)

    ours: Counter[tuple[str | None, str | None]] = Counter()
    zbar: Counter[tuple[str | None, str | None]] = Counter()
    wanted = "]Q1" if symbology is LabelSymbology.qr else "]d2"
    for png in pages:
        result = decode_image(png)
        assert not result.unreadable_regions
        for symbol in result.symbols:
            assert symbol.symbology_identifier == wanted
            code = parse_code(symbol.text)
            assert verify(code, ring).ok
            ours[(code.identity.gtin, code.identity.serial)] += 1
        for kind, text in _zbar(png):
            assert kind == "QRCODE"
            zbar[(parse_code(text).identity.gtin, parse_code(text).identity.serial)] += 1
    assert ours == expected  # every code once, nothing else
    if symbology is LabelSymbology.qr:
        assert zbar == expected
    else:
        assert not zbar  # ZBar has no DataMatrix reader


@pytest.mark.parametrize(("template", "level"), LOGISTIC, ids=[f"{t}-{lv.value}" for t, lv in LOGISTIC])
def test_every_case_and_pallet_label_decodes_to_the_jobs_ssccs(
    ready: Session, make_job: MakeJob, template: str, level: CodeLevel
) -> None:
    per_page = TEMPLATES[template].per_page
    job = make_job(quantity=per_page if per_page > 1 else 2, template=template, level=level)
    pages, codes = _print(ready, job)
    expected = Counter(f"00{c.sscc}" for c in codes)
    by_symbology: dict[str, Counter[str]] = {"]C1": Counter(), "]d2": Counter()}
    zbar: Counter[str] = Counter()
    for png in pages:
        result = decode_image(png)
        assert not result.unreadable_regions
        for symbol in result.symbols:
            by_symbology[symbol.symbology_identifier][symbol.text] += 1
        for kind, text in _zbar(png):
            assert kind == "CODE128"
            zbar[text] += 1
    assert by_symbology == {"]C1": expected, "]d2": expected}  # GS1-128 and GS1 DataMatrix, each code once
    assert zbar == expected


def test_thermal_roll_labels_decode_at_the_printers_own_resolution(ready: Session, make_job: MakeJob) -> None:
    """203 dpi: modules are 3-4 dots, where a smoothed gray image would blur; the image mask stays crisp."""
    job = make_job(quantity=2, template="roll-50x30")
    pages, codes = _print(ready, job, dpi=203)
    read = sorted(parse_code(s.text).identity.serial or "" for png in pages for s in decode_image(png).symbols)
    assert read == sorted(c.serial or "" for c in codes)
    gray = _gray(pages[0])
    symbol = gray[:, : gray.shape[1] // 2]  # the QR half of the label
    assert np.count_nonzero((symbol > 30) & (symbol < 225)) == 0, "symbol pixels must be pure black or white"


# --- the writer itself ------------------------------------------------------------------------------------------


def _labels(n: int, symbology: LabelSymbology = LabelSymbology.qr) -> Iterator[LabelData]:
    """Made one at a time, as the service streams them from the database."""
    for i in range(n):
        row = CodeRow(i, "unit", "06901234000108", f"S{i:012d}", None, "L1", "271231", "K1", bytes(64))
        yield unit_label(row, symbology=symbology, resolver=RESOLVER)


class _Sink(io.RawIOBase):
    """Counts what is written and keeps nothing, as a printer spool would."""

    def __init__(self) -> None:
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self.size += len(data)
        return len(data)


def test_pages_are_written_as_they_are_drawn() -> None:
    sink = _Sink()
    seen: list[int] = []

    def labels():
        for i, label in enumerate(_labels(60, LabelSymbology.datamatrix)):
            if i in (10, 50):
                seen.append(sink.size)
            yield label

    write_pdf(labels(), template=TEMPLATES["roll-50x30"], out=cast(BinaryIO, sink), title="t")
    assert 0 < seen[0] < seen[1] < sink.size  # the file grows while the job runs, not at the end


def test_memory_stays_flat_as_the_job_grows() -> None:
    def peak(n: int) -> int:
        tracemalloc.start()
        sink = cast(BinaryIO, _Sink())
        write_pdf(_labels(n, LabelSymbology.datamatrix), template=TEMPLATES["roll-50x30"], out=sink, title="t")
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return top

    peak(50)  # warm caches (fonts, encoders)
    small, large = peak(200), peak(2000)
    # ten times the labels: the only growth allowed is 8 bytes of page-object number and offset per page
    assert large - small < 300_000, (small, large)


def test_output_is_a_valid_pdf_that_poppler_reads_without_complaint() -> None:
    out = io.BytesIO()
    write_pdf(_labels(50), template=TEMPLATES["a4-3x8"], out=out, title="Print job 1", invariant=True)
    if shutil.which("pdfinfo") is None:
        pytest.skip("pdfinfo (poppler-utils) is not installed; scripts/bootstrap.sh installs it")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "x.pdf"
        path.write_bytes(out.getvalue())
        info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True)
    assert "Pages:           3" in info.stdout and not info.stderr
    again = io.BytesIO()
    write_pdf(_labels(50), template=TEMPLATES["a4-3x8"], out=again, title="Print job 1", invariant=True)
    assert again.getvalue() == out.getvalue()  # repeatable in invariant mode


def test_a_reprint_can_start_on_a_later_sheet_position() -> None:
    out = io.BytesIO()
    assert write_pdf(_labels(1), template=TEMPLATES["a4-3x8"], out=out, title="t", first_slot=23) == 1
    page = _gray(rasterise(out.getvalue(), 100)[0])
    dark = np.asarray(page < 128)
    dark_rows, dark_cols = np.flatnonzero(dark.any(axis=1)), np.flatnonzero(dark.any(axis=0))
    assert dark_rows.min() > page.shape[0] * 0.85 and dark_cols.min() > page.shape[1] * 0.6  # bottom right label


@pytest.mark.parametrize(("name", "count"), [("sample-labels-a4-3x8.png", 24),
                                             ("sample-labels-roll-50x30-datamatrix.png", 1),
                                             ("sample-labels-roll-100x150-case.png", 2)])  # fmt: skip
def test_the_samples_in_docs_are_real_labels(name: str, count: int) -> None:
    """The images docs/labels.md shows are first pages of printed jobs (python -m tests.labels.samples)."""
    symbols = decode_image((Path(__file__).resolve().parents[2] / "docs" / name).read_bytes()).symbols
    assert len(symbols) == count
    for symbol in symbols:
        if symbol.symbology_identifier == "]C1" or symbol.text.startswith("00"):
            assert symbol.text[:2] == "00" and len(symbol.text) == 20
        else:
            assert parse_code(symbol.text).identity.gtin == "06901234000108"
