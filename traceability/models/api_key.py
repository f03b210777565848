"""API keys: bound to a party and a role, stored only as a hash."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import String
from sqlmodel import Field, SQLModel

from traceability.models.base import utcnow

__all__ = ["ApiKey", "Role"]


class Role(StrEnum):
    plant = "plant"
    distributor = "distributor"
    store = "store"
    auditor = "auditor"
    finance = "finance"
    admin = "admin"


class ApiKey(SQLModel, table=True):
    __tablename__ = "api_key"

    id: int | None = Field(default=None, primary_key=True)
    prefix: str = Field(unique=True, max_length=16)
    secret_hash: str = Field(max_length=64)
    role: Role = Field(sa_type=String(20))
    party_id: str = Field(foreign_key="party.id", index=True, max_length=64)
    name: str = Field(default="", max_length=200)
    created_at: datetime = Field(default_factory=utcnow)
    revoked_at: datetime | None = None
