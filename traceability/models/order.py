"""O2O orders: a member's order taken by the call centre, the web or the app, offered to one store at a time and
delivered by the store that accepts it.

The database carries the rules that must hold whatever process acts (the API, the CLI, the worker, two of them at
once): an order has at most one **open** offer and at most one **accepted** one (partial unique indexes), every step
of its history has its own number (unique per order), and the deadline of the open offer lives beside the order, so a
worker killed and restarted finds every lapse where it left it. The phone is never here: only its keyed hash.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from traceability.models.base import utcnow

__all__ = [
    "Order",
    "OrderChannel",
    "OrderLine",
    "OrderNotice",
    "OrderNoticeKind",
    "OrderOffer",
    "OrderOfferOutcome",
    "OrderStatus",
    "OrderStep",
]


class OrderChannel(StrEnum):
    call_centre = "call_centre"
    web = "web"
    app = "app"


class OrderStatus(StrEnum):
    placed = "placed"
    offered = "offered"
    """Offered to ``store_id`` until ``deadline``."""
    accepted = "accepted"
    out_for_delivery = "out_for_delivery"
    delivered = "delivered"
    cancelled = "cancelled"
    unrouted = "unrouted"
    """No store left to offer it to (every member store tried, or none in reach): the call centre decides."""


class OrderOfferOutcome(StrEnum):
    open = "open"
    accepted = "accepted"
    declined = "declined"
    lapsed = "lapsed"
    """Not answered before its deadline: taken back, and the order offered to the next store."""
    withdrawn = "withdrawn"
    """Taken back by the call centre (reassigned or cancelled)."""
    delivered = "delivered"


class OrderNoticeKind(StrEnum):
    taken_back = "taken_back"
    """The store let the offer lapse; the order went to another store."""
    withdrawn = "withdrawn"
    """The call centre gave the order to another store."""
    cancelled = "cancelled"


_STATUSES = ", ".join(f"'{s.value}'" for s in OrderStatus)
_OUTCOMES = ", ".join(f"'{o.value}'" for o in OrderOfferOutcome)


class Order(SQLModel, table=True):
    """One O2O order; ``store_id``, ``offered_at`` and ``deadline`` describe the current offer (or acceptance)."""

    __tablename__ = "o2o_order"
    __table_args__ = (
        CheckConstraint(f"status IN ({_STATUSES})", name="ck_o2o_order_status"),
        CheckConstraint("channel IN ('call_centre', 'web', 'app')", name="ck_o2o_order_channel"),
        CheckConstraint("lat BETWEEN -90 AND 90 AND lon BETWEEN -180 AND 180", name="ck_o2o_order_position"),
        Index("ix_o2o_order_due", "status", "deadline"),
        Index("ix_o2o_order_store", "store_id", "status"),
        Index("ix_o2o_order_member", "member_hash"),
    )

    id: int | None = Field(default=None, primary_key=True)
    member_hash: str = Field(max_length=64)
    """HMAC of the member's phone (``traceability.privacy``); the phone itself is never stored."""
    channel: str = Field(default=OrderChannel.call_centre, max_length=16)
    address: str = Field(default="", max_length=500)
    lat: float
    lon: float
    status: str = Field(default=OrderStatus.placed, max_length=20)
    store_id: str | None = Field(default=None, foreign_key="party.id", max_length=64)
    offered_at: datetime | None = None
    deadline: datetime | None = None
    """When the open offer lapses; None when no offer is open."""
    placed_by: str = Field(default="", max_length=100)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class OrderLine(SQLModel, table=True):
    """A product and how many units of it."""

    __tablename__ = "o2o_order_line"
    __table_args__ = (
        UniqueConstraint("order_id", "gtin", name="uq_o2o_order_line"),
        CheckConstraint("quantity BETWEEN 1 AND 1000", name="ck_o2o_order_line_quantity"),
    )

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="o2o_order.id")
    gtin: str = Field(max_length=14)
    quantity: int


class OrderOffer(SQLModel, table=True):
    """One store's chance at an order: open until accepted, declined, lapsed or withdrawn."""

    __tablename__ = "o2o_order_offer"
    __table_args__ = (
        CheckConstraint(f"outcome IN ({_OUTCOMES})", name="ck_o2o_order_offer_outcome"),
        # At no time offered to two stores, nor accepted by two: the database refuses it, whatever the code does.
        Index(
            "uq_o2o_order_offer_open",
            "order_id",
            unique=True,
            sqlite_where=text("outcome = 'open'"),
            postgresql_where=text("outcome = 'open'"),
        ),
        Index(
            "uq_o2o_order_offer_accepted",
            "order_id",
            unique=True,
            sqlite_where=text("outcome IN ('accepted', 'delivered')"),
            postgresql_where=text("outcome IN ('accepted', 'delivered')"),
        ),
        Index("ix_o2o_order_offer_store", "store_id", "offered_at"),
        Index("ix_o2o_order_offer_order", "order_id", "store_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="o2o_order.id")
    store_id: str = Field(foreign_key="party.id", max_length=64)
    offered_at: datetime
    deadline: datetime
    outcome: str = Field(default=OrderOfferOutcome.open, max_length=12)
    closed_at: datetime | None = None
    reason: str = Field(max_length=40)
    """Why this store: ``home_store``, ``last_store``, ``nearest``, ``reassigned``."""
    distance_km: float | None = None


class OrderStep(SQLModel, table=True):
    """One step of an order's history: what it became, at which store, when, by whom and why."""

    __tablename__ = "o2o_order_step"
    __table_args__ = (UniqueConstraint("order_id", "seq", name="uq_o2o_order_step"),)

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="o2o_order.id")
    seq: int
    status: str = Field(max_length=20)
    store_id: str | None = Field(default=None, max_length=64)
    at: datetime
    by: str = Field(max_length=100)
    """``admin:BRAND``, ``store:S-GZ-1``, ``worker``, ``cli``."""
    reason: str = Field(default="", max_length=40)
    """A machine code: ``home_store``, ``nearest``, ``lapsed``, ``declined``, ``out_of_stock``, …"""
    note: str = Field(default="", max_length=500)
    """The same in plain words (English; pages word the reason in the reader's language)."""
    event_id: str | None = Field(default=None, max_length=300)
    """On delivery: the ``retail_selling`` event that recorded the sale."""


class OrderNotice(SQLModel, table=True):
    """What a store is told about an order it no longer has: taken back after a lapse, withdrawn, cancelled."""

    __tablename__ = "o2o_order_notice"
    __table_args__ = (Index("ix_o2o_order_notice_store", "store_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="o2o_order.id")
    store_id: str = Field(foreign_key="party.id", max_length=64)
    kind: str = Field(max_length=16)
    at: datetime
