"""Labels API: print jobs of the plant that owns them (create, print, reprint, void, close) and their reconciliation.

Writing steps are the plant's; admins and auditors may read jobs and reconciliations (full-view roles). Printed
output is produced into a spooled temporary file inside the request's transaction, so the codes are marked
printed only if the whole file was produced, and streamed to the client after the commit.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from typing import Annotated, Any, BinaryIO, Literal, cast

from fastapi import APIRouter, Depends, Header, Path, Query
from fastapi.responses import PlainTextResponse, StreamingResponse

from codes.service import key_store
from labels import service
from labels.schemas import (
    JobCreate,
    JobRead,
    LabelActionRead,
    ReconciliationRead,
    ReprintRequest,
    TemplateRead,
    VoidRequest,
)
from traceability.api import SessionDep, SettingsDep, allow
from traceability.auth.service import Principal
from traceability.i18n import negotiate
from traceability.models import PrintFormat, PrintJobStatus, Role

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/labels", tags=["labels"])
Plant = Annotated[Principal, Depends(allow(Role.plant))]
Viewer = Annotated[Principal, Depends(allow(Role.plant, Role.admin, Role.auditor))]
Anyone = Annotated[Principal, Depends(allow(*Role))]
JobId = Annotated[int, Path(ge=1, le=2**31 - 1, description="Print job id")]  # the column is a 32-bit INTEGER

MEDIA_TYPES = {PrintFormat.pdf: "application/pdf", PrintFormat.zpl: "application/vnd.zebra.zpl"}
_FILES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/pdf": {}, "application/vnd.zebra.zpl": {}}, "description": "Labels"}
}
_CSV: dict[int | str, dict[str, Any]] = {200: {"content": {"text/csv": {}}}}
_SPOOL_BYTES = 16 * 2**20  # larger outputs spill to a temporary file: memory stays bounded


def _spool() -> BinaryIO:
    return cast(BinaryIO, tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES))


def _file(spool: BinaryIO, fmt: PrintFormat, name: str, headers: dict[str, str] | None = None) -> StreamingResponse:
    """Stream a finished spool file to the client and close it."""

    def chunks() -> Iterator[bytes]:
        try:
            spool.seek(0)
            while chunk := spool.read(1 << 16):
                yield chunk
        finally:
            spool.close()

    disposition = {"Content-Disposition": f'attachment; filename="{name}.{fmt.value}"'}
    return StreamingResponse(chunks(), media_type=MEDIA_TYPES[fmt], headers=disposition | (headers or {}))


@router.get("/templates", response_model=list[TemplateRead])
def list_templates(_: Anyone) -> list[TemplateRead]:
    """Label templates: sheet grids for office printers and rolls for thermal printers."""
    return [TemplateRead.model_validate(t, from_attributes=True) for t in service.list_templates()]


@router.post("/jobs", response_model=JobRead, status_code=201)
def create_job(session: SessionDep, settings: SettingsDep, principal: Plant, body: JobCreate) -> Any:
    """Create a print job for the caller's plant and draw its codes."""
    return service.create_job(
        session=session, store=key_store(settings), party_id=principal.party_id, gtin=body.gtin, lot=body.lot,
        expiry=body.expiry, quantity=body.quantity, level=body.level, template=body.template, by=principal.party_id,
        symbology=body.symbology, company_prefix_length=settings.company_prefix_length,
    )  # fmt: skip


@router.get("/jobs", response_model=list[JobRead])
def list_jobs(
    session: SessionDep, principal: Viewer, status: PrintJobStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[Any]:  # fmt: skip
    """Print jobs, newest first; a plant sees its own."""
    return service.list_jobs(session=session, principal=principal, status=status, limit=limit)


@router.get("/jobs/{job_id}", response_model=JobRead)
def get_job(session: SessionDep, principal: Viewer, job_id: JobId) -> Any:
    """One print job."""
    return service.get_job(session=session, job_id=job_id, principal=principal)


@router.post("/jobs/{job_id}/print", response_class=StreamingResponse, responses=_FILES)
def print_job(
    session: SessionDep, settings: SettingsDep, principal: Plant, job_id: JobId,
    format: Annotated[PrintFormat, Query(description="pdf for any template, zpl for roll templates")] = PrintFormat.pdf,
) -> StreamingResponse:  # fmt: skip
    """Print the job (once): its labels as PDF or ZPL; the codes are marked printed."""
    spool = _spool()
    result = service.print_job(session=session, job_id=job_id, fmt=format, out=spool, by=principal.party_id,
                               resolver=settings.resolver, principal=principal)  # fmt: skip
    return _file(spool, result.print_format, f"job-{job_id}", {"X-Label-Count": str(result.labels)})


@router.post("/jobs/{job_id}/reprint", response_class=StreamingResponse, responses=_FILES)
def reprint_label(
    session: SessionDep, settings: SettingsDep, principal: Plant, job_id: JobId, body: ReprintRequest
) -> StreamingResponse:
    """Print one damaged label again with the same code; logged with the caller and the reason."""
    spool = _spool()
    log = service.reprint_label(
        session=session, job_id=job_id, code=body.code, reason=body.reason, by=principal.party_id, out=spool,
        resolver=settings.resolver, fmt=body.format, first_slot=body.first_slot, principal=principal,
        api_key_id=principal.api_key_id,
    )  # fmt: skip
    return _file(spool, PrintFormat(log.print_format), f"job-{job_id}-reprint-{log.id}",
                 {"X-Label-Reprint-Id": str(log.id)})  # fmt: skip


@router.post("/jobs/{job_id}/void", response_model=LabelActionRead)
def void_label(session: SessionDep, principal: Plant, job_id: JobId, body: VoidRequest) -> Any:
    """Void a code before commissioning; logged with the caller and the reason."""
    return service.void_label(session=session, job_id=job_id, code=body.code, reason=body.reason,
                              by=principal.party_id, principal=principal, api_key_id=principal.api_key_id)  # fmt: skip


@router.post("/jobs/{job_id}/close", response_model=JobRead)
def close_job(session: SessionDep, principal: Plant, job_id: JobId) -> Any:
    """Close a printed job: no more reprints."""
    return service.close_job(session=session, job_id=job_id, by=principal.party_id, principal=principal)


async def _csv_lang(
    accept_language: Annotated[str | None, Header(alias="Accept-Language")] = None,
    lang: Annotated[Literal["zh-CN", "en"] | None, Query(description="Headers' language (CSV); none: machine names")]
    = None,
) -> str | None:
    """The CSV's language: ``lang`` if given, else the one ``Accept-Language`` asks for; a caller that asks for
    none (a script) gets the machine column names, as before."""
    return lang or (negotiate(accept_language) if accept_language else None)


@router.get("/jobs/{job_id}/reconciliation", response_model=ReconciliationRead, responses=_CSV)
def reconcile(session: SessionDep, principal: Viewer, job_id: JobId, csv_lang: Annotated[str | None,
              Depends(_csv_lang)], format: Literal["json", "csv"] = "json") -> Any:  # fmt: skip
    """Issued, printed, reprinted, voided and commissioned codes of a job, and the difference (JSON or CSV; the
    CSV's headers in the caller's language, the machine column names when it asks for none)."""
    report = service.reconcile(session=session, job_id=job_id, principal=principal)
    if format == "csv":
        return PlainTextResponse(service.reconciliation_csv([report], lang=csv_lang), media_type="text/csv",
                                 headers={"Content-Language": csv_lang or "en"})  # fmt: skip
    return report.as_dict()
