"""Settlement: finance runs a period, downloads its reports, locks it, lists locked periods and traces a line's
units; each partner reads its own line (``/api/v1/settlement``); a store reads its day (``/api/v1/stores``).

The scoping to the caller's party is the service's (:func:`settlement.service.statement_for` and friends), never a
route's: the routes only admit the roles and pass the principal on.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from codes.service import key_store
from rebates.policy import load_policy
from settlement import reports, service
from settlement.schemas import PeriodRead, ReportFormat, SettlementRead, StoreSummaryRead, UnitRead
from traceability.api import ReadSessionDep, SessionDep, SettingsDep, allow
from traceability.auth.service import Principal
from traceability.models import Role

__all__ = ["router", "stores_router"]

router = APIRouter(prefix="/api/v1/settlement", tags=["settlement"])
stores_router = APIRouter(prefix="/api/v1/stores", tags=["stores"])
Finance = Annotated[Principal, Depends(allow(Role.finance, Role.admin))]
Partner = Annotated[Principal, Depends(allow(Role.finance, Role.admin, Role.distributor, Role.store))]
Store = Annotated[Principal, Depends(allow(Role.store))]



@router.get("/periods", response_model=list[PeriodRead])
def list_periods(session: SessionDep, _: Partner) -> list[Any]:
    """Locked periods, oldest first (which months are closed is no party's secret)."""
    return service.list_periods(session=session)


# exclude_unset: an open period has no ``checkpoint`` key at all, so its output is byte for byte what it always was.
@router.get("/{period}", response_model=SettlementRead, response_model_exclude_unset=True)
def run(session: ReadSessionDep, settings: SettingsDep, principal: Partner, period: str) -> Any:
    """Settle a period (``YYYY-MM``): as locked, or from today's facts while it is open. Finance and admin see every
    line; a distributor's key only its own distributor line, a store's key only its own store line. Read from the
    replica when ``read_db`` is set (a moment stale while the period is open; a locked period never changes)."""
    policy = load_policy(settings.policy_file)
    return service.statement_for(session=session, principal=principal, period=period, policy=policy).as_dict()


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
def units(session: SessionDep, settings: SettingsDep, principal: Partner, period: str,
          party: str | None = None, limit: Annotated[int, Query(le=100_000)] = 10_000) -> list[Any]:  # fmt: skip
    """The sales or purchases behind a party's line: every unit with the event it came from. Finance names the
    party; a distributor or a store gets its own (another party's: 403)."""
    policy = load_policy(settings.policy_file)
    return list(service.units_for(session=session, principal=principal, period=period, policy=policy, party=party,
                                  limit=limit))  # fmt: skip


@stores_router.get("/me/summary", response_model=StoreSummaryRead)
def my_summary(session: SessionDep, settings: SettingsDep, principal: Store) -> Any:
    """The calling store's day: today's sales, the month's sell-through and fee so far, and its member count."""
    policy = load_policy(settings.policy_file)
    return service.store_summary(session=session, principal=principal, policy=policy).as_dict()
