"""API shapes of alerts, trails, leak reports and the party graph.

``AlertRead`` is the alert contract of DESIGN.md (``kind``, ``epc``, ``party``, ``responsible_distributor``,
``event_ids``, ``status``) plus the fields an auditor needs; the CLI prints the same objects.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator

from traceability.models import AlertKind, AlertStatus

__all__ = [
    "AlertCaseRead",
    "AlertNoteRead",
    "AlertRead",
    "AlertUpdate",
    "GraphRead",
    "LeakReportRead",
    "LeakSummaryRead",
    "ReconciliationRead",
    "TrailRead",
    "TrailStepRead",
]


class AlertRead(BaseModel):
    """One alert: one unit, one rule, one place."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: AlertKind
    epc: str
    party: str | None = Field(validation_alias=AliasChoices("party", "party_id"))
    responsible_distributor: str | None = Field(
        validation_alias=AliasChoices("responsible_distributor", "responsible_distributor_id")
    )
    event_ids: list[str]
    status: AlertStatus
    territory: str | None = Field(validation_alias=AliasChoices("territory", "territory_id"))
    unit_key: str
    rejected_scan_ids: list[int]
    detail: str
    assignee: str | None
    first_seen: datetime | None
    last_seen: datetime | None
    created_at: datetime
    updated_at: datetime
    withdrawn_reason: str | None

    @field_validator("event_ids", "rejected_scan_ids", mode="before")
    @classmethod
    def _json_list(cls, value: Any) -> Any:
        return json.loads(value) if isinstance(value, str) else value


class AlertNoteRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    at: datetime
    author: str
    action: str
    from_status: str | None
    to_status: str | None
    text: str


class AlertCaseRead(BaseModel):
    """An alert with its case history."""

    model_config = ConfigDict(from_attributes=True)

    alert: AlertRead
    history: list[AlertNoteRead]


class AlertUpdate(BaseModel):
    """A workflow step: a new status, an assignee (null to unassign), a note; any of them."""

    status: AlertStatus | None = None
    assignee: str | None = Field(default=None, max_length=200)
    note: str | None = Field(default=None, max_length=10_000)


class ReconciliationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    evaluated: int
    raised: int
    updated: int
    withdrawn: int
    reopened: int
    unchanged: int


class TrailStepRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    time: datetime
    event_id: str
    event_type: str
    action: str | None
    biz_step: str | None
    location: str | None
    source: str | None
    destination: str | None
    via: str | None
    retracted: bool
    responsible_distributor: str | None


class TrailRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    key: str
    epc: str
    status: str | None
    holder: str | None
    issued: bool
    steps: list[TrailStepRead]
    alerts: list[AlertRead]


class LeakReportRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    distributor: str
    diverted_units: int
    alerts: int
    by_territory: list[tuple[str, int]]
    by_place: list[tuple[str, int]]
    paths: list[tuple[list[str], int]]
    intermediaries: list[tuple[str, int]]
    edges: list[tuple[str, str, int]]


class LeakSummaryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    distributor: str
    diverted_units: int
    alerts: int
    territories: list[tuple[str, int]]


class GraphRead(BaseModel):
    """The party graph as node-link JSON for a browser graph view."""

    directed: bool
    nodes: list[dict[str, Any]]
    links: list[dict[str, Any]]
    units: int
