"""Issued codes (units, cases, pallets), their generation batches and the aggregation log."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Index, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from traceability.models.base import utcnow

__all__ = ["AggregationAction", "AggregationLog", "Code", "CodeBatch", "CodeLevel", "CodeStatus"]


class CodeLevel(StrEnum):
    unit = "unit"
    case = "case"
    pallet = "pallet"


class CodeStatus(StrEnum):
    generated = "generated"
    printed = "printed"
    commissioned = "commissioned"
    shipped = "shipped"
    received = "received"
    sold = "sold"
    voided = "voided"


class CodeBatch(SQLModel, table=True):
    """One generation run: what was asked for, under which key, by which party."""

    __tablename__ = "code_batch"

    id: int | None = Field(default=None, primary_key=True)
    level: CodeLevel = Field(default=CodeLevel.unit, sa_type=String(20))
    gtin: str | None = Field(default=None, max_length=14)
    lot: str | None = Field(default=None, max_length=20)
    expiry: str | None = Field(default=None, max_length=6)
    key_id: str | None = Field(default=None, foreign_key="signing_key.key_id", max_length=20)
    party_id: str | None = Field(default=None, foreign_key="party.id", max_length=64)
    requested: int = 0
    issued: int = 0
    created_at: datetime = Field(default_factory=utcnow)


class Code(SQLModel, table=True):
    """One serialised item. The database, not chance, guarantees that no code is issued twice."""

    __table_args__ = (
        UniqueConstraint("gtin", "serial", name="uq_code_gtin_serial"),
        UniqueConstraint("sscc", name="uq_code_sscc"),
        Index("ix_code_parent", "parent_id"),
        Index("ix_code_batch", "batch_id"),
        Index("ix_code_holder", "holder_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    level: CodeLevel = Field(default=CodeLevel.unit, sa_type=String(20))
    gtin: str | None = Field(default=None, max_length=14)
    serial: str | None = Field(default=None, max_length=20)
    sscc: str | None = Field(default=None, max_length=18)
    lot: str | None = Field(default=None, max_length=20)
    expiry: str | None = Field(default=None, max_length=6)
    key_id: str | None = Field(default=None, foreign_key="signing_key.key_id", max_length=20)
    signature: bytes | None = None
    status: CodeStatus = Field(default=CodeStatus.generated, sa_type=String(20))
    parent_id: int | None = Field(default=None, foreign_key="code.id")
    batch_id: int | None = Field(default=None, foreign_key="code_batch.id")
    holder_id: str | None = Field(default=None, foreign_key="party.id", max_length=64)
    """The party that holds the item now; the scope a distributor's key sees."""
    created_at: datetime = Field(default_factory=utcnow)


class AggregationAction(StrEnum):
    pack = "pack"
    unpack = "unpack"


class AggregationLog(SQLModel, table=True):
    """Every packing and unpacking, so the current parent is never the only record."""

    __tablename__ = "aggregation_log"

    id: int | None = Field(default=None, primary_key=True)
    parent_id: int = Field(foreign_key="code.id", index=True)
    child_id: int = Field(foreign_key="code.id", index=True)
    action: AggregationAction = Field(sa_type=String(20))
    party_id: str | None = Field(default=None, foreign_key="party.id", max_length=64)
    at: datetime = Field(default_factory=utcnow)
