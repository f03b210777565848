"""Print jobs of packaging plants and the log of every label printed again or voided.

A job owns the batch of codes it printed (``PrintJob.batch_id``), so the codes of a job are one indexed look-up
(``code.batch_id``) and never a second list of 10⁵ rows. Reprints and voids are append-only logs: who, why, when.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import String, UniqueConstraint
from sqlmodel import Field, SQLModel

from traceability.models.base import utcnow
from traceability.models.code import CodeLevel

__all__ = ["LabelReprint", "LabelSymbology", "LabelVoid", "PrintFormat", "PrintJob", "PrintJobStatus"]


class PrintJobStatus(StrEnum):
    created = "created"
    printed = "printed"
    closed = "closed"


class LabelSymbology(StrEnum):
    """The 2D symbol of a unit label; case and pallet labels always carry GS1-128 and DataMatrix."""

    qr = "qr"
    datamatrix = "datamatrix"


class PrintFormat(StrEnum):
    pdf = "pdf"
    zpl = "zpl"


class PrintJob(SQLModel, table=True):
    """What a plant asked to print, the batch of codes drawn for it, and how far it got."""

    __tablename__ = "print_job"

    id: int | None = Field(default=None, primary_key=True)
    party_id: str = Field(foreign_key="party.id", index=True, max_length=64)
    """The plant that owns the job; a plant's API key reaches only its own jobs."""
    gtin: str = Field(foreign_key="product.gtin", max_length=14)
    lot: str | None = Field(default=None, max_length=20)
    expiry: str | None = Field(default=None, max_length=6)
    quantity: int
    level: CodeLevel = Field(default=CodeLevel.unit, sa_type=String(20))
    template: str = Field(max_length=64)
    symbology: LabelSymbology = Field(default=LabelSymbology.qr, sa_type=String(20))
    status: PrintJobStatus = Field(default=PrintJobStatus.created, sa_type=String(20))
    batch_id: int | None = Field(default=None, foreign_key="code_batch.id", unique=True)
    created_by: str = Field(max_length=200)
    created_at: datetime = Field(default_factory=utcnow)
    print_format: PrintFormat | None = Field(default=None, sa_type=String(10))
    printed_by: str | None = Field(default=None, max_length=200)
    printed_at: datetime | None = None
    closed_by: str | None = Field(default=None, max_length=200)
    closed_at: datetime | None = None


class LabelReprint(SQLModel, table=True):
    """One damaged label printed again with the same code."""

    __tablename__ = "label_reprint"

    id: int | None = Field(default=None, primary_key=True)
    job_id: int = Field(foreign_key="print_job.id", index=True)
    code_id: int = Field(foreign_key="code.id", index=True)
    print_format: PrintFormat = Field(sa_type=String(10))
    actor: str = Field(max_length=200)
    """Who: the API key's party, or the CLI's ``--by``."""
    reason: str = Field(max_length=500)
    api_key_id: int | None = Field(default=None, foreign_key="api_key.id")
    at: datetime = Field(default_factory=utcnow)


class LabelVoid(SQLModel, table=True):
    """A code taken out of use before commissioning: it can never be commissioned afterwards."""

    __tablename__ = "label_void"
    __table_args__ = (UniqueConstraint("code_id", name="uq_label_void_code"),)

    id: int | None = Field(default=None, primary_key=True)
    job_id: int = Field(foreign_key="print_job.id", index=True)
    code_id: int = Field(foreign_key="code.id")
    previous_status: str = Field(max_length=20)
    """``generated`` or ``printed``: whether a label for the code may exist, for the reconciliation."""
    actor: str = Field(max_length=200)
    """Who: the API key's party, or the CLI's ``--by``."""
    reason: str = Field(max_length=500)
    api_key_id: int | None = Field(default=None, foreign_key="api_key.id")
    at: datetime = Field(default_factory=utcnow)
