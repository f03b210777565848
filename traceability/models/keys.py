"""Signing-key records. Only public material is stored; private keys live in key files."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import String
from sqlmodel import Field, SQLModel

from traceability.models.base import utcnow

__all__ = ["KeyAlgorithm", "KeyStatus", "SigningKey"]


class KeyAlgorithm(StrEnum):
    ed25519 = "ed25519"
    hmac = "hmac"


class KeyStatus(StrEnum):
    active = "active"
    retired = "retired"
    revoked = "revoked"


class SigningKey(SQLModel, table=True):
    __tablename__ = "signing_key"

    key_id: str = Field(primary_key=True, max_length=20)
    algorithm: KeyAlgorithm = Field(sa_type=String(20))
    public_key: bytes | None = None
    status: KeyStatus = Field(default=KeyStatus.active, index=True, sa_type=String(20))
    created_at: datetime = Field(default_factory=utcnow)
    retired_at: datetime | None = None
    revoked_at: datetime | None = None
    revoked_reason: str | None = Field(default=None, max_length=500)
