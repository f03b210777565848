"""Territories form a tree (country → province → city → district)."""

from __future__ import annotations

from sqlmodel import Field, SQLModel

__all__ = ["Territory"]


class Territory(SQLModel, table=True):
    id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=200)
    parent_id: str | None = Field(default=None, foreign_key="territory.id", index=True, max_length=64)
