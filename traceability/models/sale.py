"""Settlement facts materialised from the event store: units sold, bought from the brand, and scanned out.

The event store stays the source of truth: every row here is derived from stored events by ``rebates`` (a capture
listener, ``rebates.facts.facts_listener``) and can be rebuilt from them at any time. Rows carry the event they came
from, so every amount in a settlement can be traced back to units and events. Settlement aggregates these rows in SQL.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from traceability.models.base import utcnow

__all__ = ["Dispatch", "Purchase", "Redemption", "Sale"]


class Sale(SQLModel, table=True):
    """One unit sold at a store (``retail_selling``), with the member who bought it, if any.

    ``counted`` marks the one sale per unit that sell-through counts: the earliest by event time (then eventID), so
    a unit sold twice (a clone) is never paid twice and arrival order does not matter.
    """

    __table_args__ = (
        Index("ix_sale_time", "event_time", "store_id", "gtin", "counted"),
        Index("ix_sale_unit", "unit_key"),
        Index("ix_sale_event", "event_pk"),
        Index("ix_sale_member", "member_hash"),
        # a member's sales in time order with all the CRM reads of them, so its per-member passes never touch
        # the table (migration 0018)
        Index("ix_sale_member_history", "member_hash", "event_time", "gtin", "counted", "event_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    unit_key: str = Field(max_length=300)
    gtin: str | None = Field(default=None, max_length=14)
    store_id: str | None = Field(default=None, max_length=64)
    event_pk: int = Field(foreign_key="epcis_event.id")
    event_id: str = Field(max_length=300)
    event_time: datetime
    member_hash: str | None = Field(default=None, max_length=64)
    counted: bool = False


class Purchase(SQLModel, table=True):
    """One unit shipped by a brand-owned party to a distributor: the basis of purchase value and scan coverage.

    ``counted`` marks the first such shipment of a unit to a distributor (a unit is bought once); ``scanned_out``
    says whether that distributor later scanned the unit out (a shipping event with it as the source).
    """

    __table_args__ = (
        Index("ix_purchase_time", "event_time", "distributor_id", "gtin", "counted", "scanned_out"),
        Index("ix_purchase_unit", "unit_key", "distributor_id"),
        Index("ix_purchase_event", "event_pk"),
    )

    id: int | None = Field(default=None, primary_key=True)
    unit_key: str = Field(max_length=300)
    gtin: str | None = Field(default=None, max_length=14)
    distributor_id: str = Field(max_length=64)
    source_id: str | None = Field(default=None, max_length=64)
    event_pk: int = Field(foreign_key="epcis_event.id")
    event_id: str = Field(max_length=300)
    event_time: datetime
    counted: bool = False
    scanned_out: bool = False


class Dispatch(SQLModel, table=True):
    """One unit a distributor scanned out (a shipping event from it): what outbound scan coverage counts."""

    __table_args__ = (
        Index("ix_dispatch_unit", "unit_key", "distributor_id"),
        Index("ix_dispatch_event", "event_pk"),
    )

    id: int | None = Field(default=None, primary_key=True)
    unit_key: str = Field(max_length=300)
    distributor_id: str = Field(max_length=64)
    event_pk: int = Field(foreign_key="epcis_event.id")
    event_id: str = Field(max_length=300)
    event_time: datetime


class Redemption(SQLModel, table=True):
    """A free unit handed to a member under the buy-N-get-one rule; recorded so it is never given twice."""

    id: int | None = Field(default=None, primary_key=True)
    member_hash: str = Field(max_length=64, index=True)
    store_id: str = Field(foreign_key="party.id", max_length=64)
    unit_key: str | None = Field(default=None, max_length=300)
    """The free unit, when the cashier scanned it: its sale then does not count towards the next free one."""
    redeemed_at: datetime = Field(default_factory=utcnow)
    note: str = Field(default="", max_length=500)
