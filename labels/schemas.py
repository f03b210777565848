"""API shapes of the labels domain."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from traceability.models import CodeLevel, LabelSymbology, PrintFormat, PrintJobStatus

__all__ = [
    "JobCreate",
    "JobRead",
    "LabelActionRead",
    "ReconciliationRead",
    "ReprintRequest",
    "TemplateRead",
    "VoidRequest",
]


class JobCreate(BaseModel):
    gtin: str = Field(min_length=14, max_length=14, description="GTIN-14 of the product")
    lot: str | None = Field(default=None, max_length=20, description="Batch / lot (AI 10)")
    expiry: str | None = Field(default=None, min_length=6, max_length=6, description="Expiry YYMMDD (AI 17)")
    quantity: int = Field(ge=1, le=1_000_000)
    level: CodeLevel = CodeLevel.unit
    template: str = Field(min_length=1, max_length=64, description="A template id from GET /labels/templates")
    symbology: LabelSymbology | None = Field(
        default=None, description="Unit labels: qr (Digital Link, default) or datamatrix (GS1 element string)"
    )


class JobRead(BaseModel):
    id: int
    party_id: str
    gtin: str
    lot: str | None
    expiry: str | None
    quantity: int
    level: CodeLevel
    template: str
    symbology: LabelSymbology
    status: PrintJobStatus
    batch_id: int | None
    created_by: str
    created_at: datetime
    print_format: PrintFormat | None
    printed_by: str | None
    printed_at: datetime | None
    closed_by: str | None
    closed_at: datetime | None


class ReprintRequest(BaseModel):
    code: str = Field(min_length=1, max_length=2000, description="Serial, SSCC, or the scanned code")
    reason: str = Field(min_length=1, max_length=500, description="Why (kept on record)")
    format: PrintFormat | None = Field(default=None, description="Default: the format the job was printed in")
    first_slot: int = Field(default=0, ge=0, description="Sheet position to print on (0 = top left)")


class VoidRequest(BaseModel):
    code: str = Field(min_length=1, max_length=2000, description="Serial, SSCC, or the scanned code")
    reason: str = Field(min_length=1, max_length=500, description="Why (kept on record)")


class LabelActionRead(BaseModel):
    id: int
    job_id: int
    code_id: int
    actor: str
    reason: str
    api_key_id: int | None
    at: datetime


class ReconciliationRead(BaseModel):
    job_id: int
    party_id: str
    status: str
    issued: int
    printed: int
    reprinted: int
    voided: int
    commissioned: int
    difference: int = Field(description="issued - commissioned - voided: labels not yet accounted for")


class TemplateRead(BaseModel):
    id: str
    title: str
    kind: str
    page_mm: tuple[float, float]
    label_mm: tuple[float, float]
    columns: int
    rows: int
    levels: list[CodeLevel]
    formats: list[PrintFormat]
