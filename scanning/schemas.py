"""API shapes of the scan and shipment endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from traceability.models import ShipmentStatus

__all__ = [
    "AcceptedItem",
    "PackIn",
    "RejectedItem",
    "RejectedScanRead",
    "ScanIn",
    "ScanResult",
    "ShipmentCloseIn",
    "ShipmentIn",
    "ShipmentRead",
    "ShipmentScanIn",
    "WarningRead",
]


class ScanIn(BaseModel):
    biz_step: str = Field(description="commissioning, shipping, receiving, retail_selling, inspecting, …")
    codes: list[str] = Field(min_length=1, max_length=5000, description="Raw scanned strings, as the scanner sent")
    party: str | None = Field(default=None, description="Scanning party (admins only; default: the key's party)")
    destination: str | None = Field(default=None, description="Receiving party of a shipment")
    event_time: datetime | None = Field(default=None, description="When it was scanned (offline scanners)")
    member: str | None = Field(default=None, description="Member's phone on a sale; stored only as a keyed hash")


class WarningRead(BaseModel):
    kind: str = Field(description="unauthorized_channel, out_of_territory, not_holder, wrong_product, over_quantity, "
                                  "under_quantity or duplicate_order")
    message: str = Field(description="In plain words, in the language of the request's Accept-Language")
    severity: str = Field(default="medium", description="high (red: a diversion alert once shipped) or medium")


class AcceptedItem(BaseModel):
    code: str
    epc: str
    units: int = Field(description="Units the code stands for (a case counts the units packed in it)")
    warnings: list[WarningRead] = Field(default_factory=list, description="Outbound checks the code failed")


class RejectedItem(BaseModel):
    code: str
    reason: str
    message: str


class ScanResult(BaseModel):
    capture_id: int | None
    event_id: str | None
    accepted: list[AcceptedItem]
    rejected: list[RejectedItem]
    replayed: bool = False
    unreadable: list[dict[str, Any]] = Field(default_factory=list, description="Regions on a photo not read")


class PackIn(BaseModel):
    parent: str = Field(min_length=1)
    children: list[str] = Field(min_length=1, max_length=10000)


class ShipmentIn(BaseModel):
    destination: str = Field(min_length=1, max_length=64)
    order: str | None = Field(default=None, max_length=200,
                              description="Order reference; closing records it as the event's bizTransaction (po)")
    gtins: list[str] = Field(default_factory=list, max_length=100,
                             description="Products the order is for (GTIN-14); another product warns wrong_product")
    expected_quantity: int | None = Field(default=None, ge=1, le=10_000_000,
                                          description="Units the order asks for; closing checks over / under")


class ShipmentScanIn(BaseModel):
    codes: list[str] = Field(min_length=1, max_length=5000)


class ShipmentCloseIn(BaseModel):
    confirm: bool = Field(default=False, description="Close despite the shipment's warnings (recorded with who)")


class ShipmentRead(BaseModel):
    id: int
    party_id: str
    destination_id: str
    status: ShipmentStatus
    opened_at: datetime
    closed_at: datetime | None
    event_id: str | None
    items: int = 0
    units: int = 0
    order_ref: str | None = None
    order_gtins: list[str] = Field(default_factory=list)
    expected_quantity: int | None = None
    warnings: list[WarningRead] = Field(default_factory=list, description="What shipping to the destination breaks")
    close_warnings: list[WarningRead] = Field(
        default_factory=list, description="Open: what closing will ask to confirm; closed: what was confirmed"
    )
    confirmed_by: str | None = None
    confirmed_at: datetime | None = None


class RejectedScanRead(BaseModel):
    id: int
    received_at: datetime
    party_id: str | None
    biz_step: str | None
    raw: str
    reason: str
    message: str
