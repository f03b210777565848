"""Print jobs: codes drawn once, printed once, reprinted and voided with who and why, and every code accounted for."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from codes import service as codes_service
from codes.errors import MalformedCode
from codes.identity import CodeIdentity
from codes.keyfiles import KeyFileStore
from codes.render import to_digital_link
from codes.signing import SignedCode
from labels import service
from labels.errors import CodeNotInJob, JobNotFound, JobStateError, LabelStateError, TemplateMismatch
from scanning.epcis import capture_document
from scanning.parse import sgtin_urn
from scanning.service import ScanRequest, record_scans
from tests.factories import GTIN, seed_masterdata
from tests.labels.conftest import RESOLVER, MakeJob
from traceability.auth.service import Principal
from traceability.database import session_scope
from traceability.errors import InvalidInput, NotFound
from traceability.models import (
    Code,
    CodeBatch,
    CodeLevel,
    CodeStatus,
    Event,
    LabelReprint,
    LabelSymbology,
    LabelVoid,
    PrintFormat,
    PrintJobStatus,
    Role,
)

PLANT = Principal(role=Role.plant, party_id="PLANT-1")


def _codes(session: Session, job) -> list[Any]:
    rows = list(session.exec(select(Code).where(Code.batch_id == job.batch_id).order_by(col(Code.id))).all())
    for row in rows:
        session.refresh(row)
    return rows


def _print(session: Session, job, fmt: PrintFormat = PrintFormat.pdf) -> service.PrintResult:
    return service.print_job(session=session, job_id=job.id, fmt=fmt, out=io.BytesIO(), by="alice", resolver=RESOLVER)


def _url(code: Code) -> str:
    assert code.gtin and code.serial and code.key_id and code.signature
    signed = SignedCode(CodeIdentity(code.gtin, code.serial, code.lot, code.expiry), code.key_id, code.signature)
    return to_digital_link(signed, RESOLVER)


def test_a_job_draws_its_own_signed_codes(ready: Session, make_job: MakeJob) -> None:
    job = make_job(quantity=12)
    assert job.status == PrintJobStatus.created and job.symbology == LabelSymbology.qr and job.created_by == "alice"
    codes = _codes(ready, job)
    assert len(codes) == 12 and {c.status for c in codes} == {CodeStatus.generated}
    assert {(c.holder_id, c.lot, c.expiry) for c in codes} == {("PLANT-1", "L2611", "271231")}
    batch = ready.get(CodeBatch, job.batch_id)
    assert batch is not None and batch.issued == 12 and batch.party_id == "PLANT-1"


def test_case_and_pallet_jobs_draw_ssccs_under_the_brands_prefix(ready: Session, make_job: MakeJob) -> None:
    job = make_job(quantity=3, template="roll-100x150", level=CodeLevel.pallet)
    assert job.symbology == LabelSymbology.datamatrix
    codes = _codes(ready, job)
    assert len(codes) == 3 and all(c.sscc and c.sscc[1:8] == GTIN[1:8] and c.level == "pallet" for c in codes)


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        ({"template": "roll-100x150"}, TemplateMismatch, "prints case, pallet labels, not unit"),
        ({"level": CodeLevel.case, "symbology": LabelSymbology.qr, "template": "roll-100x150"}, TemplateMismatch,
         "not QR"),
        ({"quantity": 0}, InvalidInput, "quantity"),
        ({"gtin": "06901234000115"}, NotFound, "no product"),
        ({"gtin": "06901234000109"}, MalformedCode, "check digit"),
        ({"expiry": "271399"}, MalformedCode, "expiry"),
        ({"party_id": "NOBODY"}, NotFound, "unknown party"),
        ({"by": "  "}, InvalidInput, "by"),
    ],
)  # fmt: skip
def test_a_job_is_refused_before_any_code_is_drawn(ready: Session, make_job: MakeJob, change, error, message) -> None:
    before = len(ready.exec(select(Code)).all())
    with pytest.raises(error, match=message):
        make_job(**change)
    assert len(ready.exec(select(Code)).all()) == before


def test_a_job_is_printed_once_and_its_codes_marked(ready: Session, make_job: MakeJob) -> None:
    job = make_job(quantity=30)
    result = _print(ready, job)
    assert result.labels == 30
    ready.refresh(job)
    assert (job.status, job.print_format, job.printed_by) == (PrintJobStatus.printed, PrintFormat.pdf, "alice")
    assert {c.status for c in _codes(ready, job)} == {CodeStatus.printed}
    with pytest.raises(JobStateError, match="printed once"):
        _print(ready, job)


def test_a_failed_print_leaves_the_job_and_its_codes_unprinted(committing_engine: Engine, tmp_path: Path) -> None:
    store = KeyFileStore(tmp_path / "keys")
    with session_scope(committing_engine) as session:
        seed_masterdata(session)
        codes_service.create_key(session=session, store=store)
        job = service.create_job(session=session, store=store, party_id="PLANT-1", gtin=GTIN, lot="L1", expiry=None,
                                 quantity=2500, level=CodeLevel.unit, template="a4-3x8", by="alice")  # fmt: skip
        job_id = job.id
    assert job_id is not None

    class JammedPrinter(io.BytesIO):
        def write(self, data) -> int:
            if self.tell() > 200_000:
                raise OSError("paper jam")
            return super().write(data)

    with pytest.raises(OSError, match="paper jam"), session_scope(committing_engine) as session:
        service.print_job(session=session, job_id=job_id, fmt=PrintFormat.pdf, out=JammedPrinter(), by="alice",
                          resolver=RESOLVER)  # fmt: skip
    with session_scope(committing_engine) as session:
        job = service.get_job(session=session, job_id=job_id)
        assert job.status == PrintJobStatus.created
        assert {c.status for c in _codes(session, job)} == {CodeStatus.generated}
        assert _print(session, job).labels == 2500


def test_voided_codes_are_never_printed(ready: Session, make_job: MakeJob) -> None:
    job = make_job(quantity=4)
    first = _codes(ready, job)[0]
    log = service.void_label(session=ready, job_id=job.id, code=first.serial, reason="surplus", by="bob")
    assert (log.previous_status, log.actor, log.reason) == ("generated", "bob", "surplus")
    assert _print(ready, job).labels == 3
    assert [c.status for c in _codes(ready, job)] == [CodeStatus.voided] + [CodeStatus.printed] * 3
    with pytest.raises(LabelStateError, match="never printed again"):
        service.reprint_label(session=ready, job_id=job.id, code=first.serial, reason="x", by="bob",
                              out=io.BytesIO(), resolver=RESOLVER)  # fmt: skip


def test_a_job_with_every_code_voided_prints_nothing(ready: Session, make_job: MakeJob) -> None:
    job = make_job(quantity=1)
    service.void_label(session=ready, job_id=job.id, code=_codes(ready, job)[0].serial, reason="x", by="bob")
    with pytest.raises(JobStateError, match="nothing to print"):
        _print(ready, job)


def test_reprint_logs_who_and_why_and_prints_the_same_code(ready: Session, make_job: MakeJob) -> None:
    job = make_job(quantity=3, template="roll-50x30")
    with pytest.raises(JobStateError, match="is created"):
        service.reprint_label(session=ready, job_id=job.id, code="X", reason="x", by="bob", out=io.BytesIO(),
                              resolver=RESOLVER)  # fmt: skip
    _print(ready, job, PrintFormat.zpl)
    code = _codes(ready, job)[1]
    out = io.BytesIO()
    # named by its serial, by the scanned Digital Link, or by the element string: the same code
    for name in (code.serial, _url(code)):
        log = service.reprint_label(session=ready, job_id=job.id, code=name, reason="torn on the line", by="bob",
                                    out=out, resolver=RESOLVER, api_key_id=None)  # fmt: skip
        assert (log.code_id, log.actor, log.reason, log.print_format) == (code.id, "bob", "torn on the line", "zpl")
    text = out.getvalue().decode()
    assert text.count("^XA^XF") == 2 and text.count(code.serial or "") == 4  # in the payload and the serial line
    assert len(ready.exec(select(LabelReprint).where(LabelReprint.job_id == job.id)).all()) == 2
    pdf = io.BytesIO()
    service.reprint_label(session=ready, job_id=job.id, code=code.serial, reason="x", by="bob", out=pdf,
                          resolver=RESOLVER, fmt=PrintFormat.pdf)  # fmt: skip
    assert pdf.getvalue().startswith(b"%PDF")
    with pytest.raises(InvalidInput, match="positions 0 to 0"):
        service.reprint_label(session=ready, job_id=job.id, code=code.serial, reason="x", by="bob", out=pdf,
                              resolver=RESOLVER, fmt=PrintFormat.pdf, first_slot=3)  # fmt: skip
    service.close_job(session=ready, job_id=job.id, by="carol")
    with pytest.raises(JobStateError, match="closed"):
        service.reprint_label(session=ready, job_id=job.id, code=code.serial, reason="x", by="bob",
                              out=io.BytesIO(), resolver=RESOLVER)  # fmt: skip


def test_a_job_reprints_and_voids_only_its_own_codes(ready: Session, make_job: MakeJob) -> None:
    mine, other = make_job(quantity=1), make_job(quantity=1)
    _print(ready, mine)
    stranger = _codes(ready, other)[0]
    with pytest.raises(CodeNotInJob):
        service.void_label(session=ready, job_id=mine.id, code=stranger.serial, reason="x", by="bob")
    with pytest.raises(CodeNotInJob):
        service.reprint_label(session=ready, job_id=mine.id, code=stranger.serial, reason="x", by="bob",
                              out=io.BytesIO(), resolver=RESOLVER)  # fmt: skip
    with pytest.raises(MalformedCode, match="neither a serial"):
        service.void_label(session=ready, job_id=mine.id, code="https://nope", reason="x", by="bob")


def test_a_voided_code_can_never_be_commissioned(ready: Session, make_job: MakeJob) -> None:
    job = make_job(quantity=3)
    _print(ready, job)
    voided, kept, commissioned = _codes(ready, job)
    service.void_label(session=ready, job_id=job.id, code=_url(voided), reason="label smudged", by="bob")
    outcome = record_scans(session=ready, principal=PLANT,
                           request=ScanRequest("commissioning", [_url(voided), _url(commissioned)]))  # fmt: skip
    assert [r["reason"] for r in outcome.rejected] == ["voided"]
    assert [a["code"] for a in outcome.accepted] == [_url(commissioned)]
    ready.refresh(voided)
    assert voided.status == CodeStatus.voided
    with pytest.raises(LabelStateError, match="already voided"):
        service.void_label(session=ready, job_id=job.id, code=voided.serial, reason="again", by="bob")
    with pytest.raises(LabelStateError, match="EPCIS event"):
        service.void_label(session=ready, job_id=job.id, code=commissioned.serial, reason="x", by="bob")
    assert kept.status == CodeStatus.printed


def _commissioning(code: Code, when: str) -> dict[str, Any]:
    event = {"type": "ObjectEvent", "eventTime": when, "eventTimeZoneOffset": "+00:00", "action": "ADD",
             "bizStep": "commissioning", "epcList": [sgtin_urn(code.gtin or "", code.serial or "")],
             "readPoint": {"id": "https://id.gs1.org/414/6901234000016"}}  # fmt: skip
    return {"@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"], "type": "EPCISDocument",
            "schemaVersion": "2.0", "creationDate": when, "epcisBody": {"eventList": [event]}}  # fmt: skip


@pytest.mark.parametrize("when", ["2020-01-01T00:00:00Z", "2099-01-01T00:00:00Z"], ids=["earlier", "later"])
def test_a_void_survives_commissioning_events_captured_through_epcis(
    ready: Session, make_job: MakeJob, when: str
) -> None:
    """EPCIS capture stores every valid event; the void is an event too, so the unit's folded state stays voided."""
    job = make_job(quantity=1)
    _print(ready, job)
    code = _codes(ready, job)[0]
    service.void_label(session=ready, job_id=job.id, code=code.serial, reason="smudged", by="bob")
    void_event = ready.exec(select(Event).where(Event.biz_step == "decommissioning")).one()
    assert (void_event.action, void_event.origin) == ("DELETE", "labels")
    result = capture_document(session=ready, document=_commissioning(code, when), party_id="PLANT-1")
    assert result.as_dict()["stored"] == 1
    ready.refresh(code)
    assert code.status == CodeStatus.voided


def test_reconciliation_accounts_for_every_code(ready: Session, make_job: MakeJob) -> None:
    job = make_job(quantity=10)
    codes = _codes(ready, job)
    service.void_label(session=ready, job_id=job.id, code=codes[0].serial, reason="surplus", by="bob")
    _print(ready, job)
    service.void_label(session=ready, job_id=job.id, code=codes[1].serial, reason="smudged", by="bob")
    for code in codes[2:4]:
        service.reprint_label(session=ready, job_id=job.id, code=code.serial, reason="torn", by="bob",
                              out=io.BytesIO(), resolver=RESOLVER)  # fmt: skip
    record_scans(session=ready, principal=PLANT, request=ScanRequest("commissioning", [_url(c) for c in codes[2:7]]))
    report = service.reconcile(session=ready, job_id=job.id)
    assert (report.issued, report.printed, report.reprinted, report.voided, report.commissioned) == (10, 9, 2, 2, 5)
    assert report.difference == 3  # printed, neither on goods nor voided: three labels to find
    csv = service.reconciliation_csv([report]).splitlines()
    assert csv[0] == "job_id,party_id,status,issued,printed,reprinted,voided,commissioned,difference"
    assert csv[1] == f"{job.id},PLANT-1,printed,10,9,2,2,5,3"
    assert service.reconciliation_csv([report], lang="en").splitlines() == csv  # English is the machine form
    zh = service.reconciliation_csv([report], lang="zh-CN")
    assert zh.startswith("\ufeff") and zh[1:].splitlines() == ["打印任务,工厂,状态,已发码,已打印,补打,作废,已激活,差异",
                                                                f"{job.id},PLANT-1,已打印,10,9,2,2,5,3"]  # fmt: skip
    for code in codes[7:]:
        service.void_label(session=ready, job_id=job.id, code=code.serial, reason="left over", by="bob")
    service.close_job(session=ready, job_id=job.id, by="carol")
    assert service.reconcile(session=ready, job_id=job.id).difference == 0
    voids = ready.exec(select(LabelVoid).where(LabelVoid.job_id == job.id)).all()
    assert sorted(v.previous_status for v in voids) == ["generated"] + ["printed"] * 4


def test_a_plant_sees_only_its_own_jobs(ready: Session, make_job: MakeJob) -> None:
    mine, theirs = make_job(quantity=1), make_job(quantity=1, party_id="WH-1")
    assert service.get_job(session=ready, job_id=mine.id, principal=PLANT).id == mine.id
    with pytest.raises(JobNotFound):
        service.get_job(session=ready, job_id=theirs.id, principal=PLANT)
    with pytest.raises(JobNotFound):
        service.void_label(session=ready, job_id=theirs.id, code="X", reason="x", by="x", principal=PLANT)
    assert [j.id for j in service.list_jobs(session=ready, principal=PLANT)] == [mine.id]
    auditor = Principal(role=Role.auditor, party_id="AUD")
    assert {j.id for j in service.list_jobs(session=ready, principal=auditor)} == {mine.id, theirs.id}


def test_closing_needs_a_printed_job(ready: Session, make_job: MakeJob) -> None:
    job = make_job(quantity=1)
    with pytest.raises(JobStateError, match="only a printed job"):
        service.close_job(session=ready, job_id=job.id, by="carol")
    _print(ready, job)
    closed = service.close_job(session=ready, job_id=job.id, by="carol")
    assert (closed.status, closed.closed_by) == (PrintJobStatus.closed, "carol")
