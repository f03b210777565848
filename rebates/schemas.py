"""API shapes of member points and six-get-one redemptions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

__all__ = ["MemberIn", "MemberSummaryRead", "RedeemIn", "RedemptionRead"]


class MemberIn(BaseModel):
    member: str = Field(min_length=1, max_length=40, description="Member's phone; hashed at once, never stored")


class RedeemIn(MemberIn):
    store: str | None = Field(default=None, description="Store giving the free unit (default: the key's party)")
    unit: str | None = Field(default=None, description="The free unit's scanned code, if scanned")
    note: str = Field(default="", max_length=500)


class MemberSummaryRead(BaseModel):
    points: int
    units_bought: int
    qualifying_units: int
    free_earned: int
    free_redeemed: int
    free_available: int
    next_free_after: int
    history: list[dict[str, Any]]


class RedemptionRead(BaseModel):
    id: int
    store_id: str
    unit_key: str | None
    redeemed_at: datetime
    note: str
