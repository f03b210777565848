"""API shapes of the codes domain."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from traceability.models import CodeLevel, CodeStatus, KeyAlgorithm, KeyStatus

__all__ = ["AggregateRequest", "CodeRead", "KeyRead", "VerifyRequest", "VerifyResult"]


class CodeRead(BaseModel):
    id: int
    level: CodeLevel
    gtin: str | None
    serial: str | None
    sscc: str | None
    lot: str | None
    expiry: str | None
    key_id: str | None
    status: CodeStatus
    parent_id: int | None
    holder_id: str | None
    created_at: datetime


class KeyRead(BaseModel):
    key_id: str
    algorithm: KeyAlgorithm
    status: KeyStatus
    created_at: datetime
    retired_at: datetime | None
    revoked_at: datetime | None
    revoked_reason: str | None


class VerifyRequest(BaseModel):
    code: str = Field(min_length=1, max_length=2000, description="Digital Link URI, GS1 element string or bare code")


class VerifyResult(BaseModel):
    ok: bool
    reason: str | None
    message: str
    key_id: str
    gtin: str
    serial: str
    lot: str | None
    expiry: str | None
    issued: bool
    status: CodeStatus | None = Field(description="Life-cycle state, when the caller may see this code")


class AggregateRequest(BaseModel):
    parent: str = Field(min_length=1, description="The case or pallet: SSCC or signed case code")
    children: list[str] = Field(min_length=1, max_length=10000)
