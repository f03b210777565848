"""API shapes of settlement: the JSON contract's lines, adjustments, totals, the lock's chain checkpoint, locked
periods, and a store's day."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

__all__ = [
    "AdjustmentRead",
    "CheckpointRead",
    "DistributorLineRead",
    "PeriodRead",
    "ReportFormat",
    "SettlementRead",
    "StoreDayRead",
    "StoreLineRead",
    "StoreMonthRead",
    "StoreSummaryRead",
    "TotalRead",
    "UnitRead",
]

ReportFormat = Literal["pdf", "csv", "xlsx"]
CalendarDay = date
"""``date`` under another name, so a field may be called ``date``."""


class DistributorLineRead(BaseModel):
    party: str = Field(description="Master-data id of the distributor")
    name: str
    currency: str
    units_purchased: int
    units_scanned_out: int
    purchase_value: str = Field(description="Decimal string, e.g. 5360.00")
    coverage: str | None
    diverted_units: int
    alert_ids: list[int]
    rate: str = Field(description="A fraction, e.g. 0.02")
    rebate: str
    reason: str


class StoreLineRead(BaseModel):
    party: str
    name: str
    currency: str
    units_sold: int
    flagged_units: int
    sales_value: str
    flagged_value: str
    fee_rate: str
    fee: str
    alert_ids: list[int]
    reason: str


class AdjustmentRead(BaseModel):
    for_period: str
    kind: str
    party: str
    name: str
    currency: str
    previously: str
    amount: str
    delta: str
    reason: str


class TotalRead(BaseModel):
    currency: str
    rebates: str
    fees: str
    adjustments: str
    payable: str


class CheckpointRead(BaseModel):
    """The chain head signed at the lock, as ``traceability epcis checkpoint`` writes it (``verify-chain`` reads it)."""

    seq: int = Field(description="Events in the chain at the lock (the sequence number of the last one)")
    head: str = Field(description="The chain link of that event (hex SHA-256)")
    at: str = Field(description="When it was signed (ISO 8601, UTC)")
    key_id: str = Field(description="The signing key's file in the key directory, never in the database")
    signature: str = Field(description="Ed25519 over seq, head, at and key_id (base64url)")


class SettlementRead(BaseModel):
    period: str
    status: Literal["open", "locked"]
    timezone: str
    starts_at: datetime
    ends_at: datetime
    locked_at: datetime | None
    policy: dict[str, object]
    distributors: list[DistributorLineRead]
    stores: list[StoreLineRead]
    adjustments: list[AdjustmentRead]
    totals: list[TotalRead]
    checkpoint: CheckpointRead | None = Field(
        default=None, description="Locked periods only (absent while open): the chain head signed at the lock"
    )


class PeriodRead(BaseModel):
    period: str
    starts_at: datetime
    ends_at: datetime
    locked_at: datetime
    locked_by: str
    checksum: str
    restate: bool


class UnitRead(BaseModel):
    kind: str
    unit: str
    gtin: str | None
    event_id: str
    event_time: str
    counted: bool
    scanned_out: bool | None = None


class StoreDayRead(BaseModel):
    date: CalendarDay = Field(description="Today in the policy's time zone")
    units_sold: int = Field(description="Units sold today, each unit counted once")
    member_units: int = Field(description="Of those, units sold to members")
    free_units: int = Field(description="Free units given to members today (six-get-one)")


class StoreMonthRead(BaseModel):
    period: str
    status: Literal["open", "locked"]
    units_sold: int = Field(description="Sell-through this month so far")
    lines: list[StoreLineRead] = Field(description="The store's settlement lines so far: the fee at policy rates")
    adjustments: list[AdjustmentRead]
    totals: list[TotalRead]


class StoreSummaryRead(BaseModel):
    store: str
    name: str
    timezone: str
    today: StoreDayRead
    month: StoreMonthRead
    members: int = Field(description="Members registered at this store (their home store)")
