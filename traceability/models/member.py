"""The member registry: who a store's members are, known only by the keyed hash of the phone.

A member belongs to one home store, the store that registered her (or, for a member first seen on a sale, that
store); the home store never changes once set, so a store cannot take over another's members by registering them
again. Points are brand-wide and stay derived from the sales (``rebates``); this table holds what a sale cannot say:
where she belongs, where she came from, when she consented, and her baby's age for the right formula stage.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Index
from sqlmodel import Field, SQLModel

from traceability.models.base import utcnow

__all__ = ["Member"]


class Member(SQLModel, table=True):
    """A registered member of a store; ``phone_hash`` is HMAC-SHA256 of the phone (``traceability.privacy``)."""

    __table_args__ = (
        Index("ix_member_store_created", "home_store_id", "created_at"),
        CheckConstraint("baby_stage IS NULL OR baby_stage BETWEEN 1 AND 4", name="ck_member_baby_stage"),
    )

    id: int | None = Field(default=None, primary_key=True)
    phone_hash: str = Field(max_length=64, unique=True)
    home_store_id: str = Field(foreign_key="party.id", max_length=64)
    name: str | None = Field(default=None, max_length=50)
    """Personal data the member chose to give: shown to her home store and the brand, never logged."""
    baby_birth_date: date | None = None
    baby_stage: int | None = None
    """The formula stage (1–4) the member buys, when the clerk asks that rather than the birth date."""
    source: str = Field(default="pos", max_length=64)
    """How she joined: ``pos``, ``cli``, ``import``, ``sale`` (first seen on a sale), ``campaign:<code>``, …"""
    consent_at: datetime | None = None
    """When she consented to the brand keeping her data (None: not recorded)."""
    created_at: datetime = Field(default_factory=utcnow)
