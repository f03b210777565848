"""API shapes of member care: tasks and their outcomes, the effect of the calls, segments."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field

__all__ = [
    "BalanceRead",
    "CampaignCreate",
    "CampaignEnd",
    "CampaignRead",
    "CampaignReturnRead",
    "EffectLineRead",
    "EffectRead",
    "GrantIn",
    "GrantRead",
    "OutcomeIn",
    "ProspectLineRead",
    "ProspectOutcome",
    "ProspectsIn",
    "ProspectsRead",
    "RedeemRewardIn",
    "RewardIn",
    "RewardRead",
    "RewardRedemptionRead",
    "SegmentRead",
    "SegmentSummaryRead",
    "SourceReturnRead",
    "TaskRead",
    "TopMemberRead",
]

Outcome = Literal["reached", "not_reached", "bought", "declined", "do_not_call"]


class TaskRead(BaseModel):
    id: int
    member: int = Field(description="The member's id")
    name: str | None = None
    baby_stage: int | None = None
    store: str = Field(description="The member's home store")
    kind: Literal["follow_up", "replenish"]
    kind_text: str
    opens: str = Field(description="First day on the list (YYYY-MM-DD)")
    due: str = Field(description="Last day of the window (YYYY-MM-DD)")
    status: str
    reason: str
    reason_text: str = Field(description="The reason in plain words, in the request's language")
    basis: str = Field(description="Her first purchase day (follow_up) or expected run-out day (replenish)")
    units: int
    outcome_at: str | None = None
    outcome_by: str | None = None
    note: str


class OutcomeIn(BaseModel):
    status: Outcome
    note: str = Field(default="", max_length=500)


class EffectLineRead(BaseModel):
    store: str | None
    worked: int
    worked_repurchased: int
    worked_rate: str | None = Field(description="Repurchased / worked, a fraction as a decimal string")
    unworked: int
    unworked_repurchased: int
    unworked_rate: str | None


class EffectRead(BaseModel):
    from_: str = Field(alias="from")
    to: str
    effect_days: int
    overall: EffectLineRead
    stores: list[EffectLineRead]


class SegmentRead(BaseModel):
    member: int
    store: str
    tier: Literal["potential", "ordinary", "loyal", "advocate"]
    active: bool
    recency_days: int | None
    frequency: int
    monetary: str
    units: int
    units_per_purchase: str | None
    membership_days: int
    baby_stage: int | None
    source: str


class SegmentSummaryRead(BaseModel):
    as_of: str
    members: int
    active: int
    tiers: dict[str, int]
    stores: list[dict[str, object]]


# --- campaigns, points, rewards, prospects, return ----------------------------------------------------------------

Phone = Field(min_length=1, max_length=40, description="The member's phone; hashed at once, never stored")


class CampaignCreate(BaseModel):
    code: str = Field(min_length=1, max_length=64, description="Members it brings in have source campaign:<code>")
    name: str = Field(min_length=1, max_length=200)
    starts_on: date
    ends_on: date = Field(description="Inclusive, in the policy's time zone")
    gtins: list[str] = Field(default_factory=list, max_length=500, description="Empty: every product")
    stores: list[str] = Field(default_factory=list, max_length=500)
    territories: list[str] = Field(default_factory=list, max_length=500, description="Ancestor-or-self of a store's")
    multiplier: Decimal = Field(default=Decimal("1"), ge=1, le=100, description="Regular points x this, 2 decimals")
    bonus: int = Field(default=0, ge=0, le=10_000, description="Extra points per unit")


class CampaignEnd(BaseModel):
    on: date | None = Field(default=None, description="Its last day (default: today in the policy's time zone)")


class CampaignRead(BaseModel):
    code: str
    name: str
    starts_on: str
    ends_on: str
    gtins: list[str]
    stores: list[str]
    territories: list[str]
    multiplier: str
    bonus: int
    extra_per_unit: str = Field(description="per_unit x (multiplier - 1) + bonus, as a decimal string")
    status: Literal["scheduled", "running", "ended"]
    created_by: str
    created_at: str


class GrantIn(BaseModel):
    member: str = Phone
    points: int = Field(ge=1, le=100_000)
    reason: str = Field(min_length=1, max_length=200, description="What she took part in")
    campaign: str | None = Field(default=None, max_length=64, description="The campaign the activity belongs to")


class GrantRead(BaseModel):
    id: int
    member: int
    points: int
    reason: str
    campaign: str | None
    granted_by: str
    granted_at: str


class RewardIn(BaseModel):
    code: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=200)
    points_price: int = Field(ge=1, le=10_000_000)
    active: bool = True


class RewardRead(BaseModel):
    code: str
    name: str
    points_price: int
    active: bool


class RedeemRewardIn(BaseModel):
    member: str = Phone
    store: str | None = Field(default=None, max_length=64, description="Default: the key's store")


class RewardRedemptionRead(BaseModel):
    id: int
    member: int
    reward: str
    name: str
    points: int
    store: str
    redeemed_at: str
    redeemed_by: str
    balance: int = Field(description="Her points left")


class BalanceRead(BaseModel):
    points: int
    regular: int
    campaign: int
    granted: int
    redeemed: int


class TopMemberRead(BaseModel):
    rank: int
    member: int
    store: str
    name: str | None
    year: int
    regular: int
    campaign: int
    granted: int
    earned: int


class ProspectsIn(BaseModel):
    members: list[str] = Field(min_length=1, max_length=1000, description="Phones, hashed at once, never stored")
    store: str | None = Field(default=None, max_length=64, description="Default: the key's store")


class ProspectOutcome(BaseModel):
    index: int = Field(description="Position of the phone in the request (the phone is never echoed)")
    status: Literal["added", "already_yours", "already_named", "already_member", "invalid_phone"]
    message: str


class ProspectsRead(BaseModel):
    store: str
    month: str
    counts: dict[str, int]
    items: list[ProspectOutcome]


class ProspectLineRead(BaseModel):
    store: str
    name: str
    month: str
    handed_in: int
    target: int
    short_of_target: int
    met_target: bool
    converted: int
    credited_units: int
    credited_value: str


class CampaignReturnRead(BaseModel):
    campaign: str
    name: str
    starts_on: str
    ends_on: str
    as_of: str
    members_gained: int
    gained_units: int
    gained_value: str
    campaign_units: int
    campaign_value: str
    extra_points: int
    granted_points: int
    points_cost: int


class SourceReturnRead(BaseModel):
    source: str
    from_: str = Field(alias="from")
    as_of: str
    members: int
    gained: int
    buyers: int
    units: int
    value: str
    points_cost: int
