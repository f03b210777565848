"""Products (trade items) by GTIN, with the unit price that settlement uses."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import Column, Numeric
from sqlmodel import Field, SQLModel

__all__ = ["Product"]


class Product(SQLModel, table=True):
    gtin: str = Field(primary_key=True, min_length=14, max_length=14)
    name: str = Field(max_length=200)
    unit_price: Decimal = Field(sa_column=Column(Numeric(14, 2), nullable=False))
    currency: str = Field(max_length=3)
    case_gtin: str | None = Field(default=None, max_length=14, index=True)
    units_per_case: int | None = None
