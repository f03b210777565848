"""API shapes of the scan and shipment endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from traceability.models import ShipmentStatus

__all__ = [
    "PackIn",
    "RejectedScanRead",
    "ScanIn",
    "ScanResult",
    "ShipmentIn",
    "ShipmentRead",
    "ShipmentScanIn",
]


class ScanIn(BaseModel):
    biz_step: str = Field(description="commissioning, shipping, receiving, retail_selling, inspecting, …")
    codes: list[str] = Field(min_length=1, max_length=5000, description="Raw scanned strings, as the scanner sent")
    party: str | None = Field(default=None, description="Scanning party (admins only; default: the key's party)")
    destination: str | None = Field(default=None, description="Receiving party of a shipment")
    event_time: datetime | None = Field(default=None, description="When it was scanned (offline scanners)")
    member: str | None = Field(default=None, description="Member's phone on a sale; stored only as a keyed hash")


class ScanResult(BaseModel):
    capture_id: int | None
    event_id: str | None
    accepted: list[dict[str, Any]]
    rejected: list[dict[str, Any]]
    replayed: bool = False
    unreadable: list[dict[str, Any]] = Field(default_factory=list, description="Regions on a photo not read")


class PackIn(BaseModel):
    parent: str = Field(min_length=1)
    children: list[str] = Field(min_length=1, max_length=10000)


class ShipmentIn(BaseModel):
    destination: str = Field(min_length=1)


class ShipmentScanIn(BaseModel):
    codes: list[str] = Field(min_length=1, max_length=5000)


class ShipmentRead(BaseModel):
    id: int
    party_id: str
    destination_id: str
    status: ShipmentStatus
    opened_at: datetime
    closed_at: datetime | None
    event_id: str | None
    items: int = 0


class RejectedScanRead(BaseModel):
    id: int
    received_at: datetime
    party_id: str | None
    biz_step: str | None
    raw: str
    reason: str
    message: str
