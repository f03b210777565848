"""API shapes of the O2O orders: what the call centre sends, what a store answers, what both read.

A phone is only ever an input (``member``, in the body, never the URL, which is logged); no shape carries it or its
hash back: an order names its member by her member id, when she is registered. The shapes are what the POS page
(offers with a countdown to ``deadline``) and the call-centre page (``history``, ``reason``) are built on.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

__all__ = [
    "AnswerIn",
    "CancelIn",
    "DeliverIn",
    "LapseRow",
    "LineIn",
    "LineRead",
    "NoticeRead",
    "OrderCreate",
    "OrderRead",
    "ReassignIn",
    "StepRead",
]


class LineIn(BaseModel):
    gtin: str = Field(min_length=1, max_length=20)
    quantity: int = Field(ge=1, le=1000)


class OrderCreate(BaseModel):
    member: str = Field(min_length=1, max_length=40, description="Member's phone; hashed at once, never stored")
    lat: float = Field(ge=-90, le=90, description="Delivery latitude (WGS 84), as given: no geocoding")
    lon: float = Field(ge=-180, le=180, description="Delivery longitude (WGS 84)")
    lines: list[LineIn] = Field(min_length=1, max_length=20)
    channel: Literal["call_centre", "web", "app"] = "call_centre"
    address: str = Field(default="", max_length=500, description="Delivery address, as the member said it")


class AnswerIn(BaseModel):
    store: str | None = Field(default=None, max_length=64, description="The store answering (admins only)")
    note: str = Field(default="", max_length=500)


class DeliverIn(BaseModel):
    codes: list[str] = Field(min_length=1, max_length=500, description="The delivered units, scanned at the door")
    store: str | None = Field(default=None, max_length=64, description="The delivering store (admins only)")


class ReassignIn(BaseModel):
    store: str | None = Field(default=None, max_length=64, description="The store to offer it to; none: the next")
    note: str = Field(default="", max_length=500)


class CancelIn(BaseModel):
    note: str = Field(default="", max_length=500)


class LineRead(BaseModel):
    gtin: str
    quantity: int
    name: str | None = None


class StepRead(BaseModel):
    seq: int
    status: str = Field(description="placed, offered, accepted, declined, lapsed, withdrawn, out_for_delivery, …")
    store: str | None
    at: str
    by: str
    reason: str = Field(description="Machine reason: home_store, last_store, nearest, nearest_with_stock, lapsed, …")
    message: str = Field(description="The reason in words, in the request's language")
    event_id: str | None = None


class OrderRead(BaseModel):
    """An order as the caller may see it; a store that no longer has it sees ``taken_back`` and its own steps."""

    id: int
    status: str
    store: str | None = Field(description="The store it is offered to or accepted by")
    channel: str
    member: int | None = Field(description="The member's id, when she is registered (never her phone)")
    address: str | None
    lat: float | None
    lon: float | None
    lines: list[LineRead]
    offered_at: str | None
    deadline: str | None = Field(description="When the open offer lapses: the POS page's countdown")
    reason: str | None = Field(description="Why the current store: home_store, last_store, nearest, …")
    distance_km: float | None
    created_at: str
    history: list[StepRead]


class NoticeRead(BaseModel):
    id: int
    order: int
    store: str
    kind: str = Field(description="taken_back (lapsed), withdrawn (reassigned), cancelled")
    at: str
    message: str


class LapseRow(BaseModel):
    store: str
    offers: int
    open: int
    accepted: int
    declined: int
    lapsed: int
    withdrawn: int
    delivered: int
    lapse_rate: str = Field(description="Lapsed of the offers closed, a fraction such as 0.250")
