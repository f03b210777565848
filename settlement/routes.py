"""Settlement for finance: run a period, download its reports, lock it, list locked periods, trace a line's units."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from settlement import reports, service
from settlement.policy import load_policy
from settlement.schemas import PeriodRead, ReportFormat, SettlementRead, UnitRead
from traceability.api import SessionDep, allow
from traceability.auth.service import Principal
from traceability.models import Role

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/settlement", tags=["settlement"])
Finance = Annotated[Principal, Depends(allow(Role.finance, Role.admin))]


@router.get("/periods", response_model=list[PeriodRead])
def list_periods(session: SessionDep, _: Finance) -> list[Any]:
    """Locked periods, oldest first."""
    return service.list_periods(session=session)


@router.get("/{period}", response_model=SettlementRead)
def run(session: SessionDep, _: Finance, period: str) -> Any:
    """Settle a period (``YYYY-MM``): as locked, or from today's facts while it is open."""
    return service.run_settlement(session=session, period=period, policy=load_policy()).as_dict()


@router.get("/{period}/report")
def report(session: SessionDep, _: Finance, period: str, fmt: Annotated[ReportFormat, Query(alias="format")] = "pdf"
           ) -> Response:  # fmt: skip
    """The period's report as PDF, CSV (UTF-8 with BOM) or XLSX."""
    body = service.run_report(session=session, period=period, policy=load_policy(), fmt=fmt)
    name = f"settlement-{period}.{fmt}"
    return Response(body, media_type=reports.MEDIA_TYPES[fmt],
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})  # fmt: skip


@router.post("/{period}/lock", response_model=SettlementRead)
def lock(session: SessionDep, principal: Finance, period: str) -> Any:
    """Lock a period for good; 409 if it is locked already or an earlier one is still open."""
    locked_by = f"{principal.role.value}:{principal.party_id}:key{principal.api_key_id}"
    return service.lock_period(session=session, period=period, policy=load_policy(), locked_by=locked_by).as_dict()


@router.get("/{period}/units", response_model=list[UnitRead])
def units(session: SessionDep, _: Finance, period: str, party: str, limit: Annotated[int, Query(le=100_000)] = 10_000
          ) -> list[Any]:  # fmt: skip
    """The sales or purchases behind a party's line: every unit with the event it came from."""
    return list(service.units_behind(session=session, period=period, party=party, policy=load_policy(), limit=limit))
