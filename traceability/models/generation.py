"""The master-data generation: one row the database's own triggers change whenever master data changes.

Every process caches the master data it reads on the scan path (``ledger.masterdata``) under this row's value, so
a change made by any process, CLI or import is seen by the next read everywhere, with one tiny SELECT per read.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column
from sqlmodel import Field, SQLModel

__all__ = ["MASTERDATA_TABLES", "MasterDataGeneration"]

MASTERDATA_TABLES = ("party", "territory", "party_territory", "store_supplier", "product")
"""The tables whose INSERT, UPDATE, DELETE (and on PostgreSQL TRUNCATE) change the generation (migration 0026)."""


class MasterDataGeneration(SQLModel, table=True):
    """The one row (``id = 1``): ``token`` names this database (drawn when it was created, so two databases never
    share a cache entry) and ``generation`` is redrawn by every master-data write — a new value even after a rolled
    back write (PostgreSQL: a sequence; SQLite: ``random()``), so a value never names two states."""

    __tablename__ = "masterdata_generation"

    id: int = Field(primary_key=True)
    token: str = Field(max_length=32)
    generation: int = Field(sa_column=Column(BigInteger, nullable=False))
