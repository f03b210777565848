"""Settlement for finance: run a period, download its reports, lock it, list locked periods, trace a line's units."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from codes.service import key_store
from rebates.policy import load_policy
from settlement import reports, service
from settlement.schemas import PeriodRead, ReportFormat, SettlementRead, UnitRead
from traceability.api import SessionDep, SettingsDep, allow
from traceability.auth.service import Principal
from traceability.models import Role

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/settlement", tags=["settlement"])
Finance = Annotated[Principal, Depends(allow(Role.finance, Role.admin))]


@router.get("/periods", response_model=list[PeriodRead])
def list_periods(session: SessionDep, _: Finance) -> list[Any]:
    """Locked periods, oldest first."""
    return service.list_periods(session=session)


# exclude_unset: an open period has no ``checkpoint`` key at all, so its output is byte for byte what it always was.
@router.get("/{period}", response_model=SettlementRead, response_model_exclude_unset=True)
def run(session: SessionDep, settings: SettingsDep, _: Finance, period: str) -> Any:
    """Settle a period (``YYYY-MM``): as locked, or from today's facts while it is open."""
    return service.run_settlement(session=session, period=period, policy=load_policy(settings.policy_file)).as_dict()


@router.get("/{period}/report")
def report(session: SessionDep, settings: SettingsDep, _: Finance, period: str,
           fmt: Annotated[ReportFormat, Query(alias="format")] = "pdf") -> Response:  # fmt: skip
    """The period's report as PDF, CSV (UTF-8 with BOM) or XLSX."""
    body = reports.run_report(session=session, period=period, policy=load_policy(settings.policy_file), fmt=fmt)
    name = f"settlement-{period}.{fmt}"
    return Response(body, media_type=reports.MEDIA_TYPES[fmt],
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})  # fmt: skip


@router.post("/{period}/lock", response_model=SettlementRead, response_model_exclude_unset=True)
def lock(session: SessionDep, settings: SettingsDep, principal: Finance, period: str, force: bool = False) -> Any:
    """Lock a period for good, with a signed checkpoint of the event chain; 409 if it is locked already, an earlier
    one is still open, it has not ended (plus the policy's grace days), or it is empty without ``force``."""
    locked_by = f"{principal.role.value}:{principal.party_id}:key{principal.api_key_id}"
    policy = load_policy(settings.policy_file)
    return service.lock_period(session=session, period=period, policy=policy, locked_by=locked_by,
                               force=force, keys=key_store(settings)).as_dict()  # fmt: skip


@router.get("/{period}/units", response_model=list[UnitRead])
def units(session: SessionDep, settings: SettingsDep, _: Finance, period: str, party: str,
          limit: Annotated[int, Query(le=100_000)] = 10_000) -> list[Any]:  # fmt: skip
    """The sales or purchases behind a party's line: every unit with the event it came from."""
    policy = load_policy(settings.policy_file)
    return list(service.units_behind(session=session, period=period, party=party, policy=policy, limit=limit))
