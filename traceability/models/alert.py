"""Diversion alerts, their case history, and the index of scans rejected as counterfeit.

An alert is keyed by unit, rule and place: repeated scans add evidence to the one alert instead of raising new ones.
Its evidence is re-derived from the event store whenever an event about the unit arrives, so an alert may withdraw
itself (its evidence was retracted, or a late event showed the rule no longer holds) and come back.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Index, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from traceability.models.base import utcnow

__all__ = ["Alert", "AlertKind", "AlertNote", "AlertStatus", "CounterfeitScan"]


class AlertKind(StrEnum):
    out_of_territory = "out_of_territory"
    unauthorized_channel = "unauthorized_channel"
    clone_suspected = "clone_suspected"
    counterfeit_suspected = "counterfeit_suspected"
    holder_mismatch = "holder_mismatch"
    """A party shipped, sold or packed a unit another party held: raised against the mover, never the holder."""


class AlertStatus(StrEnum):
    """The case workflow (open → investigating → confirmed / dismissed), plus two the system sets: ``unverified``
    (the alert rests only on anonymous sightings; an auditor opens, confirms or dismisses it) and ``withdrawn``."""

    unverified = "unverified"
    open = "open"
    investigating = "investigating"
    confirmed = "confirmed"
    dismissed = "dismissed"
    withdrawn = "withdrawn"


class Alert(SQLModel, table=True):
    __tablename__ = "alert"
    __table_args__ = (
        UniqueConstraint("kind", "unit_key", "party_id", name="uq_alert_unit_rule_place"),
        Index("ix_alert_unit_key", "unit_key"),
        Index("ix_alert_responsible", "responsible_distributor_id"),
        Index("ix_alert_party", "party_id"),
        Index("ix_alert_status", "status"),
        # the queue, newest first, and the overviews' counts of open alerts (migration 0019)
        Index("ix_alert_queue", "first_seen", "id", "status"),
        Index("ix_alert_figures", "status", "kind", "responsible_distributor_id", "territory_id", "first_seen"),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: AlertKind = Field(sa_type=String(40))
    unit_key: str = Field(max_length=300)
    """Canonical matching key of the unit (``EventEpc.key``), or ``raw:<sha256>`` for an unparseable scan."""
    epc: str = Field(max_length=300)
    """The unit's EPC as captured (SGTIN URN or Digital Link)."""
    party_id: str | None = Field(default=None, max_length=64)
    """Where the unit was seen (for ``unauthorized_channel`` the receiving store); NULL when the place is unknown."""
    responsible_distributor_id: str | None = Field(default=None, max_length=64)
    territory_id: str | None = Field(default=None, max_length=64)
    """The territory of the place, for filtering and leak analysis."""
    event_ids: str = Field(default="[]", sa_type=Text)
    """JSON list of the EPCIS eventIDs that are the evidence, in event-time order."""
    rejected_scan_ids: str = Field(default="[]", sa_type=Text)
    """JSON list of ``rejected_scan`` ids that are evidence (scans of ours that failed verification)."""
    detail: str = Field(default="", sa_type=Text)
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    status: AlertStatus = Field(default=AlertStatus.open, sa_type=String(20))
    assignee: str | None = Field(default=None, max_length=200)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    status_changed_at: datetime = Field(default_factory=utcnow)
    withdrawn_at: datetime | None = None
    withdrawn_reason: str | None = Field(default=None, sa_type=Text)


class AlertNote(SQLModel, table=True):
    """One line of an alert's case history: a note, a status change, an assignment, or a system withdrawal."""

    __tablename__ = "alert_note"

    id: int | None = Field(default=None, primary_key=True)
    alert_id: int = Field(foreign_key="alert.id", index=True)
    at: datetime = Field(default_factory=utcnow)
    author: str = Field(max_length=200)
    action: str = Field(max_length=20)
    """note, status, assign, withdrawn, reopened."""
    from_status: str | None = Field(default=None, max_length=20)
    to_status: str | None = Field(default=None, max_length=20)
    text: str = Field(default="", sa_type=Text)


class CounterfeitScan(SQLModel, table=True):
    """A rejected scan that is counterfeit evidence, indexed by the unit it names (``rejected_scan`` has no key)."""

    __tablename__ = "counterfeit_scan"

    rejected_scan_id: int = Field(foreign_key="rejected_scan.id", primary_key=True)
    unit_key: str = Field(max_length=300, index=True)
    epc: str = Field(max_length=300)
    party_id: str | None = Field(default=None, max_length=64)
    reason: str = Field(max_length=40)
    received_at: datetime
