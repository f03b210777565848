"""Alerts (``/api/v1/alerts``) and the auditor's flow views (``/api/v1/flow``).

Distributors read the alerts that name them (as the place or as the responsible distributor) and may answer them
with a note; auditors, finance and admins read all of them, and auditors and admins alone move them through the
case workflow. Stores and plants do not see alerts: an alert about a store is an open investigation of it. The flow
views (trails, leaks, the graph) show the whole network and are for auditors and admins only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from flow_graph import graph, service
from flow_graph.schemas import (
    AlertCaseRead,
    AlertRead,
    AlertUpdate,
    GraphRead,
    LeakReportRead,
    LeakSummaryRead,
    ReconciliationRead,
    TrailRead,
)
from traceability.api import SessionDep, allow
from traceability.auth.service import Principal
from traceability.models import AlertKind, AlertStatus, Role

__all__ = ["alerts_router", "flow_router"]

alerts_router = APIRouter(prefix="/api/v1/alerts", tags=["alerts"])
flow_router = APIRouter(prefix="/api/v1/flow", tags=["flow graph"])

Reader = Annotated[Principal, Depends(allow(Role.distributor, Role.auditor, Role.finance, Role.admin))]
AlertId = Annotated[int, Path(ge=1, le=2**31 - 1)]  # the id column is a 32-bit INTEGER on PostgreSQL
Auditor = Annotated[Principal, Depends(allow(Role.auditor, Role.admin))]
Admin = Annotated[Principal, Depends(allow(Role.admin))]
Noter = Annotated[Principal, Depends(allow(Role.distributor, Role.auditor, Role.admin))]


class AlertNoteIn(BaseModel):
    """A note on an alert: a partner's answer or an auditor's finding; it never changes the alert."""

    text: str = Field(min_length=1, max_length=2000)


def _author(principal: Principal) -> str:
    return f"{principal.party_id} ({principal.role.value}, key {principal.api_key_id})"


@alerts_router.get("", response_model=list[AlertRead])
def list_alerts(
    session: SessionDep,
    principal: Reader,
    kind: Annotated[list[AlertKind] | None, Query()] = None,
    status: Annotated[list[AlertStatus] | None, Query(description="Default: every status but withdrawn.")] = None,
    distributor: str | None = None,
    territory: Annotated[str | None, Query(description="Places inside this territory node.")] = None,
    party: str | None = None,
    epc: str | None = None,
    period: Annotated[str | None, Query(description="YYYY-MM of the first evidence.", pattern=r"^\d{4}-\d{2}$")] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
) -> list[Any]:
    """Alerts, newest first: one object per alert (kind, epc, party, responsible_distributor, event_ids, status)."""
    filters = service.AlertFilter(
        kind=kind, status=status, distributor=distributor, territory=territory, party=party, epc=epc,
        since=since, until=until, limit=limit, offset=offset, period=period,
    )  # fmt: skip
    return service.list_alerts(session=session, filters=filters, principal=principal)


@alerts_router.post("/reevaluate", response_model=ReconciliationRead)
def reevaluate(session: SessionDep, _: Admin) -> Any:
    """Derive every alert from the whole store again (after a master-data change); reports what changed."""
    return service.reevaluate(session=session)


@alerts_router.get("/{alert_id}", response_model=AlertCaseRead)
def get_alert(session: SessionDep, principal: Reader, alert_id: AlertId) -> Any:
    """One alert with its case history."""
    return service.alert_case(session=session, alert_id=alert_id, principal=principal)


@alerts_router.patch("/{alert_id}", response_model=AlertRead)
def update_alert(session: SessionDep, principal: Auditor, alert_id: AlertId, body: AlertUpdate) -> Any:
    """Move the case on (open → investigating → confirmed / dismissed), assign it, or add a note."""
    return service.update_alert(
        session=session, alert_id=alert_id, author=_author(principal), status=body.status, note=body.note,
        assignee=body.assignee if "assignee" in body.model_fields_set else service.UNSET,
    )  # fmt: skip


@alerts_router.post("/{alert_id}/notes", response_model=AlertCaseRead, status_code=201)
def add_note(session: SessionDep, principal: Noter, alert_id: AlertId, body: AlertNoteIn) -> Any:
    """Add a note to an alert: a distributor to one that names it (404 for any other), auditors and admins to any.
    Status and assignee stay as they are; the answer is the alert with its case history."""
    return service.add_note(session=session, alert_id=alert_id, principal=principal, text=body.text)


@flow_router.get("/trail", response_model=TrailRead)
def trail(session: SessionDep, _: Auditor, epc: Annotated[str, Query(min_length=1, max_length=300)]) -> Any:
    """A unit's full trail: every event that concerned it (through its cases too), who was responsible, its alerts."""
    return graph.unit_trail(session=session, epc=epc)


@flow_router.get("/leaks", response_model=list[LeakSummaryRead])
def top_leaks(
    session: SessionDep, _: Auditor, limit: Annotated[int, Query(ge=1, le=1000)] = 10,
    since: datetime | None = None, until: datetime | None = None,
) -> list[Any]:  # fmt: skip
    """Distributors ranked by diverted units, with the territories where their goods surfaced."""
    return list(graph.top_leaks(session=session, limit=limit, since=since, until=until))


@flow_router.get("/leaks/{distributor_id}", response_model=LeakReportRead)
def leaks(
    session: SessionDep, _: Auditor, distributor_id: str, since: datetime | None = None, until: datetime | None = None
) -> Any:
    """Where one distributor's goods surfaced, the paths they took and the parties in between."""
    return graph.leak_report(session=session, distributor=distributor_id, since=since, until=until)


@flow_router.get("/graph", response_model=GraphRead)
def party_graph(
    session: SessionDep, _: Auditor, since: datetime | None = None, until: datetime | None = None,
    gtin: str | None = None,
) -> Any:  # fmt: skip
    """The party graph as node-link JSON (nodes: parties; links: units shipped per product and month)."""
    return graph.graph_document(session=session, since=since, until=until, gtin=gtin)


@flow_router.get("/graph.graphml", response_class=Response, responses={200: {"content": {"application/xml": {}}}})
def party_graph_graphml(
    session: SessionDep, _: Auditor, since: datetime | None = None, until: datetime | None = None,
    gtin: str | None = None,
) -> Response:  # fmt: skip
    """The party graph as GraphML, for Gephi, yEd or Cytoscape."""
    return Response(graph.graphml_document(session=session, since=since, until=until, gtin=gtin),
                    media_type="application/xml")  # fmt: skip
