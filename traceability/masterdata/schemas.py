"""The master-data document, exactly as ``shared/contracts/master-data.md`` defines it."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from traceability.models import PartyKind

__all__ = [
    "ImportSummary",
    "MasterDataDocument",
    "PartyIn",
    "PartyRead",
    "ProductIn",
    "ProductRead",
    "TerritoryIn",
    "TerritoryRead",
]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_nul(cls, value: object) -> object:
        # A NUL can be stored by no text column (PostgreSQL refuses it); say so instead of failing on write.
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("must not contain a NUL character")
        return value


class TerritoryIn(_In):
    id: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=200)
    parent: str | None = None


class PartyIn(_In):
    id: str = Field(min_length=1, max_length=64)
    kind: PartyKind
    name: str = Field(min_length=1, max_length=200)
    gln: str
    territory: str
    owner: str | None = None
    authorized_territories: list[str] = Field(default_factory=list)
    supplied_by: list[str] = Field(default_factory=list)
    member_store_no: str | None = Field(default=None, max_length=64)
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)


class ProductIn(_In):
    gtin: str
    name: str = Field(min_length=1, max_length=200)
    unit_price: Decimal = Field(ge=0, max_digits=14, decimal_places=2)
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    case_gtin: str | None = None
    units_per_case: int | None = Field(default=None, ge=1)


class MasterDataDocument(_In):
    territories: list[TerritoryIn] = Field(default_factory=list)
    parties: list[PartyIn] = Field(default_factory=list)
    products: list[ProductIn] = Field(default_factory=list)


class ImportSummary(BaseModel):
    """What an import changed, per kind of record; all zero when the same document is imported again."""

    created: dict[str, int]
    updated: dict[str, int]
    unchanged: dict[str, int]


class TerritoryRead(BaseModel):
    id: str
    name: str
    parent_id: str | None


class PartyRead(BaseModel):
    id: str
    kind: PartyKind
    name: str
    gln: str
    territory_id: str
    owner_id: str | None
    member_store_no: str | None
    lat: float | None
    lon: float | None


class ProductRead(BaseModel):
    gtin: str
    name: str
    unit_price: Decimal
    currency: str
    case_gtin: str | None
    units_per_case: int | None
