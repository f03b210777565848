"""Outbound shipment sessions: a distributor scans cases and units into an open shipment, then closes it.

Warnings are kept language-neutral, as JSON lists of ``{"kind": …, "params": {…}}``; the scanning service words them
in the reader's language (``scanning.outbound``).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from traceability.models.base import utcnow

__all__ = ["ReceiptLine", "ReceiptOutcome", "Shipment", "ShipmentItem", "ShipmentStatus"]


class ShipmentStatus(StrEnum):
    open = "open"
    closed = "closed"
    cancelled = "cancelled"


class Shipment(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    party_id: str = Field(foreign_key="party.id", index=True, max_length=64)
    destination_id: str = Field(foreign_key="party.id", max_length=64)
    status: ShipmentStatus = Field(default=ShipmentStatus.open, sa_type=String(20))
    opened_at: datetime = Field(default_factory=utcnow)
    closed_at: datetime | None = None
    event_id: str | None = Field(default=None, max_length=300)
    """The shipping event that closing the shipment captured."""
    order_ref: str | None = Field(default=None, max_length=200)
    """The order this shipment fulfils; closing records it as the event's ``bizTransaction`` (type ``po``)."""
    order_gtins: str | None = Field(default=None, sa_type=Text)
    """JSON list of the GTINs the order is for; a scanned code of another product warns ``wrong_product``."""
    expected_quantity: int | None = None
    """Units the order asks for; closing compares the units scanned (over / under)."""
    confirmed_by: str | None = Field(default=None, max_length=64)
    """The party whose key confirmed closing despite warnings."""
    confirmed_key_id: int | None = Field(default=None, foreign_key="api_key.id")
    """The API key that confirmed (none from the brand's command line)."""
    confirmed_at: datetime | None = None
    confirmed_warnings: str | None = Field(default=None, sa_type=Text)
    """JSON: the warnings shown when closing was confirmed."""
    received_at: datetime | None = None
    """When the destination closed its receipt of the shipment (no scan is received on it afterwards)."""
    received_by: str | None = Field(default=None, max_length=64)
    """The party whose key closed the receipt."""


class ShipmentItem(SQLModel, table=True):
    __tablename__ = "shipment_item"
    __table_args__ = (UniqueConstraint("shipment_id", "key", name="uq_shipment_item"),)

    id: int | None = Field(default=None, primary_key=True)
    shipment_id: int = Field(foreign_key="shipment.id", index=True)
    key: str = Field(max_length=300)
    epc: str = Field(max_length=300)
    raw: str = Field(max_length=2000)
    scanned_at: datetime = Field(default_factory=utcnow)
    warnings: str | None = Field(default=None, sa_type=Text)
    """JSON: the outbound checks this code failed when it was scanned (accepted with warnings)."""


class ReceiptOutcome(StrEnum):
    received = "received"
    extra = "extra"
    """Scanned on receipt but not on the shipment: kept with its reason, never received."""
    rejected = "rejected"
    """Failed the scan's checks (a forged code, a voided one): kept with its reason."""


class ReceiptLine(SQLModel, table=True):
    """One code scanned while the destination receives a shipment: what it matched, or why it did not."""

    __tablename__ = "receipt_line"

    id: int | None = Field(default=None, primary_key=True)
    shipment_id: int = Field(foreign_key="shipment.id", index=True)
    key: str | None = Field(default=None, max_length=300)
    epc: str | None = Field(default=None, max_length=300)
    raw: str = Field(sa_type=Text)
    outcome: ReceiptOutcome = Field(sa_type=String(20))
    reason: str | None = Field(default=None, max_length=40)
    units: int = 0
    """Units of the shipment this scan received (a case counts the units packed in it)."""
    capture_id: int | None = Field(default=None, foreign_key="capture.id")
    scanned_at: datetime = Field(default_factory=utcnow)
