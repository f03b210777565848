"""API shapes of the till. A member's phone is only ever an input (``member``, in the body); no shape carries it or
its hash back: a member is her id."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from traceability.models import PrinterMode

__all__ = [
    "CaseIn",
    "MemberStanding",
    "PrinterIn",
    "PrinterRead",
    "Progress",
    "ReceiveIn",
    "SaleIn",
    "SaleItemRead",
    "SaleRead",
    "SaleResultRead",
]

Codes = list[str]


class SaleIn(BaseModel):
    codes: Codes = Field(min_length=1, max_length=200, description="Scanned codes of the units (or a case) sold")
    member: str | None = Field(default=None, min_length=1, max_length=40,
                               description="The member's phone; hashed at once, never stored")  # fmt: skip
    redeem: bool = Field(default=False, description="The one code is the member's free unit (six-get-one)")
    store: str | None = Field(default=None, max_length=64, description="The store (admins); a store key: its own")
    event_time: datetime | None = Field(default=None, description="When it was sold, for a till that was offline")


class Progress(BaseModel):
    count: int
    of: int


class MemberStanding(BaseModel):
    id: int | None
    home_store: str | None
    own: bool = Field(description="Whether she is a member of this store")
    points_earned: int = Field(description="Points this sale earned her")
    points: int = Field(description="Her balance, brand-wide")
    free_available: int
    free_redeemed: int
    next_free_after: int
    progress: Progress = Field(description="Six-get-one: units bought towards the next free one, of how many")


class SaleResultRead(BaseModel):
    sale_id: str | None = Field(description="The sale's eventID, for its receipt and its undo; null if nothing sold")
    kind: str
    accepted: list[dict[str, object]]
    rejected: list[dict[str, object]]
    member: MemberStanding | None
    replayed: bool


class SaleItemRead(BaseModel):
    key: str
    gtin: str | None
    name: str | None
    serial_tail: str
    case: bool


class SaleRead(BaseModel):
    sale_id: str
    store: str
    store_name: str
    kind: str
    at: datetime
    units: int
    items: list[SaleItemRead]
    member: MemberStanding | None
    undone: bool
    undoable: bool


class ReceiveIn(BaseModel):
    codes: Codes = Field(min_length=1, max_length=500, description="Scanned codes of the cases or units received")
    store: str | None = Field(default=None, max_length=64)


class CaseIn(BaseModel):
    code: str = Field(min_length=1, max_length=2000, description="The case's scanned code")
    store: str | None = Field(default=None, max_length=64)


class PrinterIn(BaseModel):
    mode: PrinterMode
    host: str | None = Field(default=None, max_length=253, description="A network ESC/POS printer (escpos)")
    port: int | None = Field(default=None, ge=1, le=65535)
    store: str | None = Field(default=None, max_length=64)


class PrinterRead(BaseModel):
    store_id: str
    mode: PrinterMode
    host: str | None
    port: int | None
