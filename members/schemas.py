"""API shapes of the member registry, points and six-get-one redemptions. A phone is only ever an input (``member``,
in the body, never the URL, which is logged); no shape carries it or its hash back."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, Field

__all__ = [
    "ImportRead",
    "MemberCreate",
    "MemberIn",
    "MemberLookupRead",
    "MemberRead",
    "MemberSummaryRead",
    "RedeemIn",
    "RedemptionRead",
    "RegistrationRead",
]


class MemberIn(BaseModel):
    member: str = Field(min_length=1, max_length=40, description="Member's phone; hashed at once, never stored")


class MemberCreate(MemberIn):
    store: str | None = Field(default=None, max_length=64, description="The member's store (default: the key's store)")
    name: str | None = Field(default=None, max_length=200, description="Optional; at most 50 characters are kept")
    baby_birth_date: date | None = None
    baby_stage: int | None = Field(default=None, description="Formula stage, 1 to 4")
    source: str | None = Field(default=None, max_length=200, description="pos (default), campaign:<code>, …")
    consent: bool | AwareDatetime | None = Field(
        default=None, description="true: she consents now; or the time she consented (with its offset)"
    )


class RegistrationRead(BaseModel):
    id: int
    home_store: str
    created: bool = Field(description="false: she was a member already, and her home store is unchanged")


class MemberRead(BaseModel):
    id: int
    home_store: str
    name: str | None = None
    baby_birth_date: date | None = None
    baby_stage: int | None = None
    source: str
    consent_at: datetime | None = None
    created_at: datetime


class MemberLookupRead(BaseModel):
    """A member as the caller may see her: personal fields only for her home store and the brand's roles."""

    id: int
    home_store: str
    own: bool = Field(description="Whether she is a member of the caller's own store")
    name: str | None = None
    baby_birth_date: date | None = None
    baby_stage: int | None = None
    source: str | None = None
    consent_at: datetime | None = None
    created_at: datetime | None = None
    points: int
    units_bought: int
    qualifying_units: int
    free_after: int
    free_earned: int
    free_redeemed: int
    free_available: int
    next_free_after: int


class ImportRead(BaseModel):
    rows: int
    created: int
    existing: int = Field(description="Members already registered: skipped, their home store unchanged")
    ignored_columns: list[str]


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
    home_store: str | None = Field(default=None, description="The member's home store; null when not registered")
    history: list[dict[str, Any]]


class RedemptionRead(BaseModel):
    id: int
    store_id: str
    unit_key: str | None
    redeemed_at: datetime
    note: str
