"""The EPCIS 2.0 event store: append-only, hash-chained; plus rejected scans and capture receipts.

An event row is never updated. An ``errorDeclaration`` arrives as a second row with the same ``event_id`` and
``declaration=True``; what an event means for a unit is derived from the rows, so a retraction needs no rewrite.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from traceability.models.base import utcnow

__all__ = ["Capture", "ChainHead", "Event", "EventEpc", "RejectedScan"]


class Capture(SQLModel, table=True):
    """One acknowledged capture request (a document, a scan batch); replayed for a repeated Idempotency-Key."""

    id: int | None = Field(default=None, primary_key=True)
    received_at: datetime = Field(default_factory=utcnow)
    origin: str = Field(max_length=20)
    party_id: str | None = Field(default=None, foreign_key="party.id", max_length=64)
    idempotency_key: str | None = Field(default=None, unique=True, max_length=200)
    request_hash: str | None = Field(default=None, max_length=64)
    stored: int = 0
    duplicates: int = 0
    response: str | None = Field(default=None, sa_type=Text)


class ChainHead(SQLModel, table=True):
    """The newest link of the event hash chain; its row lock serialises appends."""

    __tablename__ = "chain_head"

    id: int = Field(default=1, primary_key=True)
    seq: int = 0
    hash: str = Field(default="0" * 64, max_length=64)


class Event(SQLModel, table=True):
    __tablename__ = "epcis_event"
    __table_args__ = (
        UniqueConstraint("event_id", "declaration", name="uq_event_id_declaration"),
        Index("ix_event_time", "event_time"),
        Index("ix_event_location", "location_party_id"),
        Index("ix_event_biz_step", "biz_step"),
        # the error declarations alone: whether a page's events have one is a seek in a small index
        Index("ix_event_declared", "event_id", sqlite_where=text("declaration"), postgresql_where=text("declaration")),
    )

    id: int | None = Field(default=None, primary_key=True)
    seq: int = Field(unique=True)
    """Position in the hash chain (1, 2, …)."""
    event_id: str = Field(max_length=300)
    declaration: bool = False
    hash_id: str = Field(max_length=120)
    """CBV 2.0 event hash of the content: two captures with one event_id are 'the same' when these match."""
    event_type: str = Field(max_length=40)
    action: str | None = Field(default=None, max_length=10)
    biz_step: str | None = Field(default=None, max_length=200)
    disposition: str | None = Field(default=None, max_length=200)
    event_time: datetime
    tz_offset: str = Field(default="+00:00", max_length=6)
    record_time: datetime = Field(default_factory=utcnow)
    read_point: str | None = Field(default=None, max_length=300)
    biz_location: str | None = Field(default=None, max_length=300)
    location_party_id: str | None = Field(default=None, max_length=64)
    source_party_id: str | None = Field(default=None, max_length=64)
    destination_party_id: str | None = Field(default=None, max_length=64, index=True)
    capture_id: int | None = Field(default=None, foreign_key="capture.id")
    origin: str = Field(default="epcis", max_length=20)
    document: str = Field(sa_type=Text)
    """The event as captured (JSON), so that nothing the standard allows is lost."""
    warnings: str | None = Field(default=None, sa_type=Text)
    chain_hash: str = Field(max_length=64)


class EventEpc(SQLModel, table=True):
    """Each identifier an event names, in canonical form for matching and as captured for reporting."""

    __tablename__ = "epcis_event_epc"
    __table_args__ = (Index("ix_event_epc_key", "key"), Index("ix_event_epc_event", "event_pk"))

    id: int | None = Field(default=None, primary_key=True)
    event_pk: int = Field(foreign_key="epcis_event.id")
    key: str = Field(max_length=300)
    epc: str = Field(max_length=300)
    role: str = Field(sa_type=String(10))
    """epc, parent, child, input, output, quantity."""


class RejectedScan(SQLModel, table=True):
    """A scan our own scanners sent that failed validation: kept with its reason, never applied."""

    __tablename__ = "rejected_scan"

    id: int | None = Field(default=None, primary_key=True)
    received_at: datetime = Field(default_factory=utcnow)
    party_id: str | None = Field(default=None, max_length=64, index=True)
    biz_step: str | None = Field(default=None, max_length=200)
    raw: str = Field(sa_type=Text)
    key: str | None = Field(default=None, max_length=300)
    """The matching key the scan parser read from ``raw`` (None when it could not be parsed), so nothing
    downstream parses the scan again."""
    reason: str = Field(max_length=40)
    message: str = Field(sa_type=Text)
    capture_id: int | None = Field(default=None, foreign_key="capture.id")
