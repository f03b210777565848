"""Member points and the six-get-one rule at the till. The phone travels in the body (not the URL, which is logged)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from rebates import service
from rebates.policy import load_policy
from rebates.schemas import MemberIn, MemberSummaryRead, RedeemIn, RedemptionRead
from traceability.api import SessionDep, SettingsDep, allow
from traceability.auth.service import Principal
from traceability.models import Role
from traceability.privacy import member_hash, member_pepper

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/members", tags=["members"])
Reader = Annotated[Principal, Depends(allow(Role.store, Role.finance, Role.admin))]
Till = Annotated[Principal, Depends(allow(Role.store, Role.admin))]


@router.post("/points", response_model=MemberSummaryRead)
def points(session: SessionDep, settings: SettingsDep, principal: Reader, body: MemberIn) -> Any:
    """A member's points, six-get-one standing and history (a store sees the history at its own store)."""
    hashed = member_hash(body.member, member_pepper(settings.key_dir))
    policy = load_policy(settings.policy_file)
    return service.member_summary(session=session, member_hash=hashed, policy=policy, principal=principal).as_dict()


@router.post("/redeem", response_model=RedemptionRead, status_code=201)
def redeem(session: SessionDep, settings: SettingsDep, principal: Till, body: RedeemIn) -> Any:
    """Give the member the free unit they earned; 409 when none is due."""
    hashed = member_hash(body.member, member_pepper(settings.key_dir))
    policy = load_policy(settings.policy_file)
    return service.redeem_free_item(
        session=session, member_hash=hashed, store_id=body.store or principal.party_id, policy=policy,
        principal=principal, unit=body.unit, note=body.note, company_prefix_length=settings.company_prefix_length,
    )  # fmt: skip
