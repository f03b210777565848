"""API shapes of member care: tasks and their outcomes, the effect of the calls, segments."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

__all__ = ["EffectLineRead", "EffectRead", "OutcomeIn", "SegmentRead", "SegmentSummaryRead", "TaskRead"]

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
