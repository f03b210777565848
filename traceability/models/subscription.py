"""EPCIS 2.0 named queries and their webhook subscriptions.

A named query belongs to the party whose key created it (its name is unique within that party). A subscription
keeps its own delivery state beside it — the row id of the last event a subscriber acknowledged with a 2xx
(``cursor``), when it is next due (``next_attempt_at``) and how many attempts in a row have failed — so a worker killed
at any instant and started again goes on where the last acknowledged delivery left it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from traceability.models.base import utcnow

__all__ = ["EpcisQuery", "EpcisSubscription"]


class EpcisQuery(SQLModel, table=True):
    """A named query: the EPCIS Query Language parameters of ``GET /epcis/events`` stored under a name."""

    __tablename__ = "epcis_query"
    __table_args__ = (UniqueConstraint("party_id", "name", name="uq_epcis_query_party_name"),)

    id: int | None = Field(default=None, primary_key=True)
    party_id: str = Field(foreign_key="party.id", max_length=64)
    name: str = Field(max_length=200)
    query: str = Field(sa_type=Text)
    """The parameters as JSON: ``{"EQ_bizStep": ["shipping"], …}``."""
    created_by: str = Field(max_length=100)
    """``role:party`` of the key that created it."""
    created_at: datetime = Field(default_factory=utcnow)


class EpcisSubscription(SQLModel, table=True):
    """A webhook subscription to a named query, delivered in row order by the worker, once per acknowledged event."""

    __tablename__ = "epcis_subscription"
    __table_args__ = (
        CheckConstraint("stream OR interval_seconds IS NOT NULL OR schedule IS NOT NULL",
                        name="ck_epcis_subscription_when"),  # fmt: skip,
        CheckConstraint("interval_seconds IS NULL OR interval_seconds >= 1", name="ck_epcis_subscription_interval"),
        Index("ix_epcis_subscription_due", "next_attempt_at"),
        Index("ix_epcis_subscription_query", "query_pk"),
    )

    id: int | None = Field(default=None, primary_key=True)
    subscription_id: str = Field(max_length=36, unique=True)
    query_pk: int = Field(foreign_key="epcis_query.id")
    role: str = Field(max_length=20)
    """The subscriber's role and party: deliveries see what its key would see in ``GET /epcis/events``."""
    party_id: str = Field(foreign_key="party.id", max_length=64)
    dest: str = Field(max_length=2000)
    secret: str | None = Field(default=None, max_length=500)
    """The subscriber's ``signatureToken``: the HMAC key of ``GS1-Signature``; never shown again."""
    stream: bool = False
    interval_seconds: int | None = None
    """A scheduled subscription's period (``schedule: {"interval": N}``, ours); None otherwise."""
    schedule: str | None = Field(default=None, sa_type=Text)
    """GS1's cron-like schedule as JSON (``{"minute": "0,30"}``, the binding's fields as given); None otherwise.
    ``next_attempt_at`` holds its next run, in UTC."""
    report_if_empty: bool = False
    initial_record_time: datetime | None = None
    cursor: int = 0
    """Row id (``epcis_event.id``) of the last event the subscriber acknowledged, or that matched nothing."""
    next_attempt_at: datetime = Field(default_factory=utcnow)
    attempts: int = 0
    """Failed attempts in a row (the backoff's exponent); 0 after a 2xx."""
    last_error: str | None = Field(default=None, max_length=500)
    last_notified_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)
