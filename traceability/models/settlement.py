"""Locked settlement periods and the lines they paid: the immutable record finance signs off.

A period is open until it is locked; locking stores the report exactly as it was run, and one line per party for
every period it settles (its own, and earlier locked ones it restates as adjustments). Nothing here is updated after
locking except ``restate``, which the capture listener raises when facts dated in a locked period change.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Column, Index, Numeric, String, Text
from sqlmodel import Field, SQLModel

from traceability.models.base import utcnow

__all__ = ["SettlementLine", "SettlementPeriod"]


class SettlementPeriod(SQLModel, table=True):
    """A locked month (``YYYY-MM``), its bounds in UTC, the policy it was run with and the report as locked."""

    __tablename__ = "settlement_period"

    period: str = Field(primary_key=True, max_length=7)
    starts_at: datetime
    ends_at: datetime
    locked_at: datetime = Field(default_factory=utcnow)
    locked_by: str = Field(default="", max_length=200)
    policy: str = Field(sa_type=Text)
    """The policy (JSON) the period was settled under; restatements of it use the same rules."""
    document: str = Field(sa_type=Text)
    """The settlement JSON exactly as locked; a run of a locked period returns it byte for byte."""
    checksum: str = Field(max_length=64)
    restate: bool = False
    """Facts dated in this period changed after it was last settled: the next open period restates it."""


class SettlementLine(SQLModel, table=True):
    """What one party is owed for one period's facts, as settled in ``booked_in`` (a locked period).

    ``amount`` is the whole amount owed for ``for_period`` as known at that lock; ``delta`` is what ``booked_in``
    paid for it (the amount itself when both periods are the same, the difference to the previous line otherwise),
    so the deltas of a party and period always add up to its latest amount: nothing is paid twice.
    """

    __tablename__ = "settlement_line"
    __table_args__ = (
        Index("ix_settlement_line_booked", "booked_in"),
        Index("ix_settlement_line_for", "for_period", "kind", "party_id", "currency"),
    )

    id: int | None = Field(default=None, primary_key=True)
    booked_in: str = Field(foreign_key="settlement_period.period", max_length=7)
    for_period: str = Field(max_length=7)
    kind: str = Field(sa_type=String(12))
    """``distributor`` (rebate) or ``store`` (fee)."""
    party_id: str = Field(max_length=64)
    currency: str = Field(max_length=3)
    units: int = 0
    """Units purchased (distributor) or sold and counted (store)."""
    units_out: int = 0
    """Units scanned out (distributor) or flagged and not paid (store)."""
    diverted_units: int = 0
    open_alerts: int = 0
    value: Decimal = Field(sa_column=Column(Numeric(18, 2), nullable=False))
    """Purchase value (distributor) or unflagged sales value (store)."""
    rate: Decimal = Field(sa_column=Column(Numeric(9, 6), nullable=False))
    amount: Decimal = Field(sa_column=Column(Numeric(18, 2), nullable=False))
    delta: Decimal = Field(sa_column=Column(Numeric(18, 2), nullable=False))
    reason: str = Field(default="", max_length=500)
