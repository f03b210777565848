"""Print jobs: create (draw codes), print once (PDF or ZPL), reprint a damaged label, void, close, reconcile.

The rules that keep printing honest:

* A job draws its codes when it is created (signed unit codes through :func:`codes.service.generate_codes`, SSCCs
  through :func:`codes.service.allocate_ssccs`) and owns their batch, so every printed code is accounted for.
* A job is printed **once**: the step from ``created`` to ``printed`` is a conditional update, so two printers
  racing for one job cannot both print it. A damaged label is reprinted on its own, with the same code, and logged.
* A voided code is never printed again and can never be commissioned: the scan service refuses its status, and
  the void is captured as an EPCIS decommissioning event, so that a commissioning event arriving later through
  EPCIS capture cannot fold the unit's state back to "commissioned".
* Nothing here commits: the CLI command or the API request does, so a print that fails half-way leaves the job
  ``created`` and its codes unprinted.

"Printed" means the output was produced (the PDF or ZPL left the system); whether the printer used it is what
reprints, voids and the reconciliation are for.
"""

from __future__ import annotations

import csv
import io
import os
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO

from sqlalchemy import func, or_, update
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from codes import service as codes_service
from codes.errors import MalformedCode
from codes.identity import CodeIdentity
from codes.keyfiles import KeyFileStore
from labels.content import CodeRow, LabelData, logistic_label, unit_label
from labels.errors import CodeNotInJob, JobNotFound, JobStateError, LabelStateError, TemplateMismatch
from labels.pdf import write_pdf
from labels.templates import TEMPLATES, Template, get_template
from labels.zpl import write_zpl
from ledger.keys import code_key
from ledger.store import append, own_event
from traceability.auth.service import Principal, scope_to_party
from traceability.errors import InvalidInput, NotFound
from traceability.i18n import Catalogue, messages, wording
from traceability.models import (
    Capture,
    Code,
    CodeBatch,
    CodeLevel,
    CodeStatus,
    LabelReprint,
    LabelSymbology,
    LabelVoid,
    Party,
    PrintFormat,
    PrintJob,
    PrintJobStatus,
    Product,
)
from traceability.models.base import utcnow
from traceability.search import contains, needle, row_number

__all__ = [
    "MAX_QUANTITY",
    "RECONCILIATION_COLUMNS",
    "PrintResult",
    "Reconciliation",
    "close_job",
    "count_jobs",
    "create_job",
    "get_job",
    "list_jobs",
    "list_templates",
    "print_job",
    "reconcile",
    "reconciliation_csv",
    "reconciliation_headers",
    "reprint_label",
    "void_label",
]

_MESSAGES: Catalogue = messages("labels.service")
# The reconciliation export's words. The English ones are the machine column names and states scripts read.
_WORDS: Catalogue = messages("labels.service:words")

MAX_QUANTITY = 1_000_000
"""Largest job: a day of a fast line; larger runs are several jobs, each reconciled on its own."""
_CHUNK = 1000  # codes read, drawn and marked printed per round trip
_IN_SUPPLY_CHAIN = (CodeStatus.commissioned, CodeStatus.shipped, CodeStatus.received, CodeStatus.sold)
_REPRINTABLE = (CodeStatus.printed, CodeStatus.commissioned)
_VOIDABLE = (CodeStatus.generated, CodeStatus.printed)

ProgressFn = Callable[[int], None]


@dataclass(frozen=True, slots=True)
class PrintResult:
    job: PrintJob
    labels: int
    print_format: PrintFormat


@dataclass(frozen=True, slots=True)
class Reconciliation:
    """Where every code of a job went. ``difference`` (issued - commissioned - voided) is 0 for a finished job;
    anything else is labels that may be loose: printed but neither applied to goods nor destroyed."""

    job_id: int
    party_id: str
    status: str
    issued: int
    printed: int
    reprinted: int
    voided: int
    commissioned: int
    difference: int

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in RECONCILIATION_COLUMNS}


def list_templates() -> list[Template]:
    """Every label template, sheets first."""
    return sorted(TEMPLATES.values(), key=lambda t: (t.kind != "sheet", t.id))


def _text(value: str, what: str, limit: int) -> str:
    value = value.strip()
    if not value:
        raise InvalidInput.keyed(_MESSAGES, "empty", field=what, detail={"field": what})
    if len(value) > limit:
        raise InvalidInput.keyed(_MESSAGES, "too_long", field=what, limit=limit, detail={"field": what})
    return value


def create_job(
    *,
    session: Session,
    store: KeyFileStore | None,
    party_id: str,
    gtin: str,
    lot: str | None,
    expiry: str | None,
    quantity: int,
    level: CodeLevel,
    template: str,
    by: str,
    symbology: LabelSymbology | None = None,
    company_prefix_length: int = 7,
    progress: ProgressFn | None = None,
) -> PrintJob:
    """Create a print job and draw its codes: signed unit codes, or SSCCs for cases and pallets."""
    tpl = get_template(template)
    tpl.check(level=level)
    by = _text(by, "by", 200)
    if not 1 <= quantity <= MAX_QUANTITY:
        raise InvalidInput.keyed(_MESSAGES, "quantity", most=MAX_QUANTITY, detail={"field": "quantity"})
    CodeIdentity(gtin, "0", lot, expiry)  # validates GTIN, lot and expiry, naming the field
    product = session.get(Product, gtin)
    if product is None:
        raise NotFound.keyed(_MESSAGES, "no_product", gtin=gtin, detail={"gtin": gtin})
    if session.get(Party, party_id) is None:
        raise NotFound.keyed(_MESSAGES, "unknown_party", party=party_id, detail={"party": party_id})
    if level is CodeLevel.unit:
        symbology = symbology or LabelSymbology.qr
    elif symbology is LabelSymbology.qr:
        raise TemplateMismatch.keyed(_MESSAGES, "no_qr", detail={"field": "symbology"})
    else:
        symbology = LabelSymbology.datamatrix

    if level is CodeLevel.unit:
        if store is None:
            raise InvalidInput.keyed(_MESSAGES, "needs_keys", detail={"field": "store"})
        signer = codes_service.load_signer(session=session, store=store)
        with open(os.devnull, "w", encoding="ascii") as discard:  # the codes go to the database, not to a file
            result = codes_service.generate_codes(
                session=session, signer=signer, gtin=gtin, lot=lot, expiry=expiry, count=quantity, out=discard,
                level=level, party_id=party_id, progress=progress,
            )  # fmt: skip
        batch_id = result.batch_id
    else:
        batch_id = _allocate_ssccs(session, gtin=gtin, lot=lot, expiry=expiry, quantity=quantity, level=level,
                                   party_id=party_id, prefix_length=company_prefix_length)  # fmt: skip
        if progress is not None:
            progress(quantity)
    job = PrintJob(party_id=party_id, gtin=gtin, lot=lot, expiry=expiry, quantity=quantity, level=level,
                   template=tpl.id, symbology=symbology, batch_id=batch_id, created_by=by)  # fmt: skip
    session.add(job)
    session.flush()
    return job


def _allocate_ssccs(
    session: Session, *, gtin: str, lot: str | None, expiry: str | None, quantity: int, level: CodeLevel,
    party_id: str, prefix_length: int,
) -> int:  # fmt: skip
    # The brand's GS1 company prefix is the one in its GTINs (after the indicator digit).
    prefix = gtin[1 : 1 + prefix_length]
    batch = CodeBatch(level=level, gtin=gtin, lot=lot, expiry=expiry, party_id=party_id, requested=quantity,
                      issued=quantity)  # fmt: skip
    session.add(batch)
    session.flush()
    assert batch.id is not None
    rows = codes_service.allocate_ssccs(session=session, company_prefix=prefix, count=quantity, party_id=party_id,
                                        level=level)  # fmt: skip
    ids = [r.id for r in rows if r.id is not None]
    for start in range(0, len(ids), 500):
        session.execute(update(Code).where(col(Code.id).in_(ids[start : start + 500])).values(batch_id=batch.id))
    return batch.id


def _job(session: Session, job_id: int, principal: Principal | None) -> PrintJob:
    stmt = select(PrintJob).where(PrintJob.id == job_id)
    if principal is not None:
        stmt = scope_to_party(stmt, principal, PrintJob.party_id)
    job = session.exec(stmt).first()
    if job is None:
        raise JobNotFound.keyed(_MESSAGES, "no_job", job_id=job_id, detail={"job_id": job_id})
    return job


def get_job(*, session: Session, job_id: int, principal: Principal | None = None) -> PrintJob:
    """One print job; a plant sees only its own (``principal=None``: the CLI, which holds the database anyway)."""
    return _job(session, job_id, principal)


def _jobs_query(stmt: Any, principal: Principal | None, party_id: str | None, status: PrintJobStatus | None,
                search: str | None) -> Any:  # fmt: skip
    if principal is not None:
        stmt = scope_to_party(stmt, principal, PrintJob.party_id)
    if party_id is not None:
        stmt = stmt.where(PrintJob.party_id == party_id)
    if status is not None:
        stmt = stmt.where(PrintJob.status == status)
    if search:
        text = needle(search)
        products = sa_select(col(Product.gtin)).where(contains(Product.name, text))
        found: list[Any] = [contains(PrintJob.gtin, text), contains(PrintJob.lot, text),
                            col(PrintJob.gtin).in_(products)]  # fmt: skip
        if (number := row_number(text)) is not None:
            found.append(col(PrintJob.id) == number)
        stmt = stmt.where(or_(*found))
    return stmt


def list_jobs(
    *,
    session: Session,
    principal: Principal | None = None,
    party_id: str | None = None,
    status: PrintJobStatus | None = None,
    limit: int = 100,
    offset: int = 0,
    search: str | None = None,
) -> list[PrintJob]:
    """Print jobs, newest first, scoped to the caller's party; ``search`` is a job number, GTIN, lot or product
    name (part of it)."""
    stmt = _jobs_query(select(PrintJob), principal, party_id, status, search)
    return list(session.exec(stmt.order_by(col(PrintJob.id).desc()).offset(offset).limit(limit)).all())


def count_jobs(
    *,
    session: Session,
    principal: Principal | None = None,
    party_id: str | None = None,
    status: PrintJobStatus | None = None,
    search: str | None = None,
) -> int:
    """How many jobs :func:`list_jobs` would list without its limit (one COUNT, for a pager)."""
    stmt = _jobs_query(sa_select(func.count()).select_from(PrintJob), principal, party_id, status, search)
    return int(session.execute(stmt).scalar_one())


# --- printing --------------------------------------------------------------------------------------------------

_CODE = Code.__table__.c  # type: ignore[attr-defined]
_COLUMNS = (_CODE.id, _CODE.level, _CODE.gtin, _CODE.serial, _CODE.sscc, _CODE.lot, _CODE.expiry, _CODE.key_id,
            _CODE.signature)  # fmt: skip
"""In :class:`labels.content.CodeRow` order: read as plain rows, not ORM objects, on the print path."""


class _Labeller:
    """Turns a job's code rows into label contents (the per-job parts worked out once)."""

    def __init__(self, session: Session, job: PrintJob, resolver: str) -> None:
        self.job = job
        self.resolver = resolver
        self.content_gtin = job.gtin
        self.count: int | None = None
        if job.level != CodeLevel.unit:
            product = session.get(Product, job.gtin)
            if job.level == CodeLevel.case and product is not None:
                self.count = product.units_per_case
            elif product is not None and product.case_gtin:
                self.content_gtin = product.case_gtin  # a pallet holds cases

    def __call__(self, row: Sequence[Any]) -> LabelData:
        code = CodeRow(*row)
        if code.sscc is not None:
            return logistic_label(code, content_gtin=self.content_gtin, count=self.count, lot=self.job.lot,
                                  expiry=self.job.expiry)  # fmt: skip
        return unit_label(code, symbology=LabelSymbology(self.job.symbology), resolver=self.resolver)


def _unprinted(session: Session, job: PrintJob, labeller: _Labeller) -> Iterator[LabelData]:
    """The job's codes still ``generated`` (voided ones are skipped), in order, marked printed a chunk at a time."""
    last = 0
    while True:
        stmt = (
            sa_select(*_COLUMNS)
            .where(_CODE.batch_id == job.batch_id, _CODE.status == CodeStatus.generated.value, _CODE.id > last)
            .order_by(_CODE.id)
            .limit(_CHUNK)
        )
        rows = session.execute(stmt).all()
        if not rows:
            return
        for row in rows:
            yield labeller(row)
        ids = [row[0] for row in rows]
        codes_service.mark_status(session=session, ids=ids, status=CodeStatus.printed)
        last = ids[-1]


def _render(
    labels: Iterator[LabelData] | list[LabelData], *, template: Template, fmt: PrintFormat, out: BinaryIO,
    title: str, progress: ProgressFn | None = None, first_slot: int = 0, invariant: bool = False,
) -> int:  # fmt: skip
    if fmt is PrintFormat.zpl:
        return write_zpl(labels, template=template, out=out, progress=progress)
    return write_pdf(labels, template=template, out=out, title=title, first_slot=first_slot, progress=progress,
                     invariant=invariant)  # fmt: skip


def print_job(
    *,
    session: Session,
    job_id: int,
    fmt: PrintFormat,
    out: BinaryIO,
    by: str,
    resolver: str,
    principal: Principal | None = None,
    progress: ProgressFn | None = None,
    invariant: bool = False,
) -> PrintResult:
    """Print a created job's labels into ``out`` (PDF or ZPL) and mark its codes printed; a job prints only once."""
    by = _text(by, "by", 200)
    job = _job(session, job_id, principal)
    template = get_template(job.template)
    template.check(level=CodeLevel(job.level), fmt=fmt)
    claimed = session.execute(
        update(PrintJob)
        .where(col(PrintJob.id) == job.id, col(PrintJob.status) == PrintJobStatus.created.value)
        .values(status=PrintJobStatus.printed.value, print_format=fmt.value, printed_by=by, printed_at=utcnow())
    )
    session.refresh(job)
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        raise JobStateError.keyed(_MESSAGES, "printed_once", job_id=job.id, status=job.status,
                                  detail={"job_id": job.id, "status": str(job.status)})  # fmt: skip
    count = _render(_unprinted(session, job, _Labeller(session, job, resolver)), template=template, fmt=fmt, out=out,
                    title=f"Print job {job.id}", progress=progress, invariant=invariant)  # fmt: skip
    if count == 0:
        raise JobStateError.keyed(_MESSAGES, "nothing_to_print", job_id=job.id, detail={"job_id": job.id})
    return PrintResult(job=job, labels=count, print_format=fmt)


def _job_code(session: Session, job: PrintJob, code: str) -> Code:
    """The code of this job that ``code`` names: a serial, an SSCC or any scanned form of either."""
    text = code.strip()
    row: Code | None = None
    if job.level == CodeLevel.unit and text and "/" not in text and "(" not in text and "\x1d" not in text:
        row = session.exec(select(Code).where(Code.gtin == job.gtin, Code.serial == text)).first()
    if row is None:
        try:
            row = codes_service.resolve_code(session=session, text=text)
        except MalformedCode as exc:
            raise MalformedCode.keyed(_MESSAGES, "not_a_code", code=code, why=exc,
                                      detail={"field": "code"}) from None  # fmt: skip
    if row.batch_id is None or row.batch_id != job.batch_id:
        raise CodeNotInJob.keyed(_MESSAGES, "not_in_job", code=code, job_id=job.id, detail={"job_id": job.id})
    return row


def reprint_label(
    *,
    session: Session,
    job_id: int,
    code: str,
    reason: str,
    by: str,
    out: BinaryIO,
    resolver: str,
    fmt: PrintFormat | None = None,
    first_slot: int = 0,
    principal: Principal | None = None,
    api_key_id: int | None = None,
    invariant: bool = False,
) -> LabelReprint:
    """Print one damaged label again, with the same code, and log who and why."""
    reason, by = _text(reason, "reason", 500), _text(by, "by", 200)
    job = _job(session, job_id, principal)
    if job.status != PrintJobStatus.printed:
        raise JobStateError.keyed(_MESSAGES, "reprint_when", job_id=job.id, status=job.status,
                                  detail={"job_id": job.id, "status": str(job.status)})  # fmt: skip
    fmt = fmt or PrintFormat(job.print_format or PrintFormat.pdf)
    template = get_template(job.template)
    template.check(level=CodeLevel(job.level), fmt=fmt)
    if not 0 <= first_slot < template.per_page:
        raise InvalidInput.keyed(_MESSAGES, "slots", template=template.id, last=template.per_page - 1,
                                 detail={"field": "first_slot"})  # fmt: skip
    row = _job_code(session, job, code)
    if row.status not in _REPRINTABLE:
        key = "reprint_voided" if row.status == CodeStatus.voided else "reprint_unprinted"
        raise LabelStateError.keyed(_MESSAGES, key, code_id=row.id, status=row.status,
                                    detail={"status": str(row.status)})  # fmt: skip
    assert row.id is not None
    assert job.id is not None
    log = LabelReprint(job_id=job.id, code_id=row.id, print_format=fmt, actor=by, reason=reason,
                       api_key_id=api_key_id)  # fmt: skip
    session.add(log)
    session.flush()
    values = tuple(getattr(row, c.key) for c in _COLUMNS)
    label = _Labeller(session, job, resolver)(values)
    _render([label], template=template, fmt=fmt, out=out, title=f"Print job {job.id}, reprint", first_slot=first_slot,
            invariant=invariant)  # fmt: skip
    return log


def void_label(
    *,
    session: Session,
    job_id: int,
    code: str,
    reason: str,
    by: str,
    principal: Principal | None = None,
    api_key_id: int | None = None,
) -> LabelVoid:
    """Void a code before commissioning (a damaged or surplus label): it can never be commissioned afterwards."""
    reason, by = _text(reason, "reason", 500), _text(by, "by", 200)
    job = _job(session, job_id, principal)
    row = _job_code(session, job, code)
    previous = CodeStatus(row.status)
    if previous not in _VOIDABLE:
        key = "void_voided" if previous is CodeStatus.voided else "void_in_chain"
        raise LabelStateError.keyed(_MESSAGES, key, code_id=row.id, status=previous,
                                    detail={"status": previous.value})  # fmt: skip
    # Conditional, so that a commissioning scan racing with the void cannot be overwritten.
    done = session.execute(
        update(Code).where(col(Code.id) == row.id, col(Code.status) == previous.value)
        .values(status=CodeStatus.voided.value)
    )  # fmt: skip
    if done.rowcount != 1:  # type: ignore[attr-defined]
        session.refresh(row)
        raise LabelStateError.keyed(_MESSAGES, "void_raced", code_id=row.id, status=row.status,
                                    detail={"status": str(row.status)})  # fmt: skip
    session.refresh(row)
    assert row.id is not None
    assert job.id is not None
    log = LabelVoid(job_id=job.id, code_id=row.id, previous_status=previous.value, actor=by, reason=reason,
                    api_key_id=api_key_id)  # fmt: skip
    session.add(log)
    session.flush()
    _capture_decommissioning(session, job, row)
    return log


def _capture_decommissioning(session: Session, job: PrintJob, code: Code) -> None:
    """Record the void as an EPCIS decommissioning event (action DELETE, disposition inactive).

    Unit states are folded from events (:mod:`ledger.state`), and a voided status no event explains would be
    overwritten by a commissioning event captured later through EPCIS; with this event in the store the fold ends
    at "voided" whatever arrives afterwards, and auditors see the void in the unit's trail.
    """
    party = session.get(Party, job.party_id)
    assert party is not None
    now = utcnow()
    place = {"id": f"https://id.gs1.org/414/{party.gln}"}
    epc = code_key(code.gtin, code.serial, code.sscc)
    event = {
        "eventID": f"urn:uuid:{uuid.uuid4()}", "type": "ObjectEvent", "action": "DELETE",
        "bizStep": "decommissioning", "disposition": "inactive", "epcList": [epc],
        "eventTime": now.isoformat(timespec="milliseconds"), "eventTimeZoneOffset": "+00:00",
        "readPoint": place, "bizLocation": place,
    }  # fmt: skip
    receipt = Capture(origin="labels", party_id=job.party_id, stored=1)
    session.add(receipt)
    session.flush()
    append(session, [own_event(event)], capture_id=receipt.id, origin="labels")


def close_job(*, session: Session, job_id: int, by: str, principal: Principal | None = None) -> PrintJob:
    """Close a printed job: no more reprints; voids stay possible, since a void only ever closes a hole."""
    by = _text(by, "by", 200)
    job = _job(session, job_id, principal)
    done = session.execute(
        update(PrintJob)
        .where(col(PrintJob.id) == job.id, col(PrintJob.status) == PrintJobStatus.printed.value)
        .values(status=PrintJobStatus.closed.value, closed_by=by, closed_at=utcnow())
    )
    session.refresh(job)
    if done.rowcount != 1:  # type: ignore[attr-defined]
        raise JobStateError.keyed(_MESSAGES, "close_when", job_id=job.id, status=job.status,
                                  detail={"job_id": job.id, "status": str(job.status)})  # fmt: skip
    return job


def reconcile(*, session: Session, job_id: int, principal: Principal | None = None) -> Reconciliation:
    """Count a job's codes by fate: issued, printed, reprinted, voided, commissioned, and the difference."""
    job = _job(session, job_id, principal)
    assert job.id is not None
    by_status: dict[str, int] = {}
    if job.batch_id is not None:
        stmt = select(Code.status, func.count()).where(Code.batch_id == job.batch_id).group_by(Code.status)
        by_status = {str(status): int(n) for status, n in session.exec(stmt).all()}
    voided_unprinted = session.exec(
        select(func.count()).select_from(LabelVoid)
        .where(LabelVoid.job_id == job.id, LabelVoid.previous_status == CodeStatus.generated.value)
    ).one()  # fmt: skip
    reprinted = session.exec(select(func.count()).select_from(LabelReprint).where(LabelReprint.job_id == job.id)).one()
    issued = sum(by_status.values())
    voided = by_status.get(CodeStatus.voided.value, 0)
    commissioned = sum(by_status.get(s.value, 0) for s in _IN_SUPPLY_CHAIN)
    # A voided code was printed unless it was voided while still "generated" (codes the scan service voids
    # through EPCIS events were commissioned, hence printed).
    printed = issued - by_status.get(CodeStatus.generated.value, 0) - int(voided_unprinted)
    return Reconciliation(
        job_id=job.id, party_id=job.party_id, status=str(job.status), issued=issued, printed=printed,
        reprinted=int(reprinted), voided=voided, commissioned=commissioned, difference=issued - commissioned - voided,
    )  # fmt: skip


RECONCILIATION_COLUMNS = ("job_id", "party_id", "status", "issued", "printed", "reprinted", "voided", "commissioned",
                          "difference")  # fmt: skip


def reconciliation_headers(lang: str | None = None) -> list[str]:
    """The reconciliation's column headers: the machine names (:data:`RECONCILIATION_COLUMNS`) with no language or
    in English, the reader's words in Chinese."""
    return [wording(_WORDS, f"h.{c}", lang or "en") for c in RECONCILIATION_COLUMNS]


def reconciliation_csv(reports: Sequence[Reconciliation], *, lang: str | None = None) -> str:
    """Reconciliations as CSV, one row per job, with a header row. Without a language (or in English) the headers
    are the machine column names scripts read, and the job's state its code; in Chinese both are words, and the
    text starts with a BOM so that Excel and WPS read it as UTF-8."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(reconciliation_headers(lang))
    for report in reports:
        writer.writerow([wording(_WORDS, f"status.{report.status}", lang or "en") if column == "status"
                         else getattr(report, column) for column in RECONCILIATION_COLUMNS])  # fmt: skip
    return ("\ufeff" if lang == "zh-CN" else "") + buffer.getvalue()
