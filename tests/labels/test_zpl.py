"""ZPL output: one stored format, then one ``^XA…^XZ`` per label carrying only that label's data."""

from __future__ import annotations

import io
import re

import pytest
from sqlmodel import Session, col, select

from codes.render import GS, parse_code
from labels import service
from labels.zpl import FORMAT_NAMES
from tests.labels.conftest import RESOLVER, MakeJob
from traceability.models import Code, CodeLevel, LabelSymbology, PrintFormat

BLOCK = re.compile(r"\^XA(.*?)\^XZ\n", re.S)
FIELD = re.compile(r"\^FN(\d+)\^FD(.*?)\^FS")


def _print(session: Session, job) -> tuple[str, list[str], list[Code]]:
    out = io.BytesIO()
    service.print_job(session=session, job_id=job.id, fmt=PrintFormat.zpl, out=out, by="t", resolver=RESOLVER)
    text = out.getvalue().decode("ascii")
    blocks = BLOCK.findall(text)
    assert "".join(f"^XA{b}^XZ\n" for b in blocks) == text, "nothing outside ^XA…^XZ blocks"
    codes = list(session.exec(select(Code).where(Code.batch_id == job.batch_id).order_by(col(Code.id))).all())
    return blocks[0], blocks[1:], codes


def _fields(block: str, name: str) -> dict[int, str]:
    assert block.startswith(f"^XF{name}^FS"), block[:40]
    fields = FIELD.findall(block)
    assert "".join(f"^FN{n}^FD{v}^FS" for n, v in fields) == block[len(f"^XF{name}^FS") :], "only ^FN fields"
    return {int(n): v for n, v in fields}


def _check_format(fmt: str, name: str, width: int, height: int) -> None:
    assert fmt.startswith(f"^DF{name}^FS^PW{width}^LL{height}^LH0,0")
    for x, y in re.findall(r"\^FO(\d+),(\d+)", fmt):
        assert 0 <= int(x) < width and 0 <= int(y) < height


@pytest.mark.parametrize("symbology", list(LabelSymbology))
def test_unit_labels(ready: Session, make_job: MakeJob, symbology: LabelSymbology) -> None:
    job = make_job(quantity=7, template="roll-50x30", symbology=symbology)
    fmt, labels, codes = _print(ready, job)
    name = FORMAT_NAMES["unit"]
    _check_format(fmt, name, 400, 240)
    assert ("^BQN,2," in fmt) is (symbology is LabelSymbology.qr)
    assert ("^BXN," in fmt and ",200,,,,_,1^FN1^FS" in fmt) is (symbology is LabelSymbology.datamatrix)
    # the job's own lines are in the format, once; the serial is a field
    for line in ("(01) 06901234000108", "(10) L2611", "(17) 271231"):
        assert f"^FD{line}^FS" in fmt
    assert len(labels) == len(codes) == 7
    for block, code in zip(labels, codes, strict=True):
        fields = _fields(block, name)
        assert set(fields) == {1, 2}
        if symbology is LabelSymbology.qr:
            assert fields[1].startswith("MA,")  # error correction M, automatic mode
            payload = fields[1][3:]
        else:
            assert fields[1].startswith("_1")  # FNC1 in first position
            payload = re.sub(r"_(_|1)", lambda m: "_" if m[1] == "_" else GS, fields[1][2:])
        parsed = parse_code(payload)
        assert (parsed.identity.gtin, parsed.identity.serial, parsed.signature) == (code.gtin, code.serial,
                                                                                   code.signature)  # fmt: skip
        assert fields[2] == f"(21) {code.serial}"


def test_case_labels(ready: Session, make_job: MakeJob) -> None:
    job = make_job(quantity=3, template="roll-100x150", level=CodeLevel.case)
    fmt, labels, codes = _print(ready, job)
    name = FORMAT_NAMES["logistic"]
    _check_format(fmt, name, 800, 1200)
    assert "^BCN," in fmt and "^BXN," in fmt and "^FDCASE  SSCC^FS" in fmt
    assert "^FD(02) 06901234000108^FS" in fmt and "^FD(37) 6^FS" in fmt  # six units a case, from master data
    for block, code in zip(labels, codes, strict=True):
        assert _fields(block, name) == {1: f">;>800{code.sscc}", 2: f"_100{code.sscc}", 3: f"(00) {code.sscc}",
                                        4: f"(00) {code.sscc}"}  # fmt: skip


def test_sheet_templates_refuse_zpl(ready: Session, make_job: MakeJob) -> None:
    from labels.errors import TemplateMismatch

    job = make_job(quantity=1, template="a4-3x8")
    with pytest.raises(TemplateMismatch):
        service.print_job(session=ready, job_id=job.id or 0, fmt=PrintFormat.zpl, out=io.BytesIO(), by="t",
                          resolver=RESOLVER)  # fmt: skip
