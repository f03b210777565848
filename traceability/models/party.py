"""Parties of the supply chain and the master-data links between them."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import String
from sqlmodel import Field, SQLModel

__all__ = ["Party", "PartyKind", "PartyTerritory", "StoreSupplier"]


class PartyKind(StrEnum):
    brand = "brand"
    plant = "plant"
    warehouse = "warehouse"
    distributor = "distributor"
    store = "store"
    auditor = "auditor"


class Party(SQLModel, table=True):
    id: str = Field(primary_key=True, max_length=64)
    kind: PartyKind = Field(index=True, sa_type=String(20))
    name: str = Field(max_length=200)
    gln: str = Field(unique=True, max_length=13)
    territory_id: str = Field(foreign_key="territory.id", index=True, max_length=64)
    owner_id: str | None = Field(default=None, foreign_key="party.id", max_length=64)
    member_store_no: str | None = Field(default=None, max_length=64)
    lat: float | None = None
    lon: float | None = None


class PartyTerritory(SQLModel, table=True):
    """A territory node a distributor is authorised to sell into."""

    __tablename__ = "party_territory"

    party_id: str = Field(foreign_key="party.id", primary_key=True, max_length=64)
    territory_id: str = Field(foreign_key="territory.id", primary_key=True, max_length=64)


class StoreSupplier(SQLModel, table=True):
    """A distributor authorised to supply a store."""

    __tablename__ = "store_supplier"

    store_id: str = Field(foreign_key="party.id", primary_key=True, max_length=64)
    distributor_id: str = Field(foreign_key="party.id", primary_key=True, max_length=64)
