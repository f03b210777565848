"""The store's point of sale: each sale rung up at the till, and how the store prints its receipts.

The sale itself is an EPCIS ``retail_selling`` event (the event store is the truth); a ``pos_sale`` row is what the
till adds to it: the member it was rung up for, whether the unit was the member's free one (six-get-one) and the
redemption that gave it, and whether the clerk undid it (an ``errorDeclaration`` of the event, never a delete).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, Index
from sqlmodel import Field, SQLModel

from traceability.models.base import utcnow

__all__ = ["PosPrinter", "PosSale", "PosSaleKind", "PrinterMode"]


class PosSaleKind(StrEnum):
    sale = "sale"
    free = "free"
    """The member's free unit: scanned out of stock, never a sale for fees nor a step towards the next free one."""


class PrinterMode(StrEnum):
    browser = "browser"
    """Print the 58 mm receipt page from the browser (any printer the till's system knows)."""
    escpos = "escpos"
    """ESC/POS bytes for a thermal receipt printer: sent to a network printer, or downloaded."""


class PosSale(SQLModel, table=True):
    """One sale rung up at a store's till: the event it captured, the member, and its free unit's redemption."""

    __tablename__ = "pos_sale"
    __table_args__ = (
        Index("ix_pos_sale_store_time", "store_id", "created_at"),
        CheckConstraint("kind IN ('sale', 'free')", name="ck_pos_sale_kind"),
    )

    id: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(max_length=300, unique=True)
    store_id: str = Field(foreign_key="party.id", max_length=64)
    member_hash: str | None = Field(default=None, max_length=64)
    """The member's keyed phone hash (never the phone); on a free unit, the member who received it."""
    kind: str = Field(default=PosSaleKind.sale, max_length=8)
    units: int = 0
    redemption_id: int | None = None
    """The ``redemption`` row of a free unit (no foreign key: undoing the free unit removes that row)."""
    created_at: datetime = Field(default_factory=utcnow)
    undone_at: datetime | None = None
    undone_by: str | None = Field(default=None, max_length=100)


class PosPrinter(SQLModel, table=True):
    """A store's receipt printer: the browser's 58 mm page, or ESC/POS (to ``host``:``port``, or downloaded)."""

    __tablename__ = "pos_printer"
    __table_args__ = (
        CheckConstraint("mode IN ('browser', 'escpos')", name="ck_pos_printer_mode"),
        CheckConstraint("port IS NULL OR port BETWEEN 1 AND 65535", name="ck_pos_printer_port"),
    )

    store_id: str = Field(foreign_key="party.id", max_length=64, primary_key=True)
    mode: str = Field(default=PrinterMode.browser, max_length=8)
    host: str | None = Field(default=None, max_length=253)
    port: int | None = None
    updated_at: datetime = Field(default_factory=utcnow)
