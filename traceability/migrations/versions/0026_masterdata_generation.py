"""The master-data generation row and the triggers that redraw it on every write to party, territory,
party_territory, store_supplier and product, so each process can cache master data and still see every change.

Revision ID: 0026
Revises: 0025
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | None = None
depends_on: str | None = None

# Frozen here (not imported from the models) so that the migration keeps meaning what it meant.
_TABLES = ("party", "territory", "party_territory", "store_supplier", "product")
_SQLITE_BUMP = "UPDATE masterdata_generation SET generation = random() WHERE id = 1"


def _sqlite_triggers() -> list[str]:
    # SQLite has row triggers only; master data is written rarely and in small numbers, so one UPDATE a row is fine.
    return [
        f"CREATE TRIGGER trg_masterdata_{table}_{op_name.lower()} AFTER {op_name} ON {table} BEGIN {_SQLITE_BUMP}; END"
        for table in _TABLES
        for op_name in ("INSERT", "UPDATE", "DELETE")
    ]


def _pg_statements() -> list[str]:
    # A sequence, not ``generation + 1``: nextval is not rolled back, so a rolled-back write's value never recurs.
    out = [
        "CREATE SEQUENCE masterdata_generation_seq",
        """CREATE FUNCTION masterdata_bump() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              UPDATE masterdata_generation SET generation = nextval('masterdata_generation_seq') WHERE id = 1;
              RETURN NULL;
            END $$""",
    ]
    out += [
        f"CREATE TRIGGER trg_masterdata_{table} AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
        "FOR EACH STATEMENT EXECUTE FUNCTION masterdata_bump()"
        for table in _TABLES
    ]
    return out


def upgrade() -> None:
    op.create_table(
        "masterdata_generation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("generation", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    # The token names this database (hex digits only, so it is safe to write into the statement, offline too).
    op.execute(f"INSERT INTO masterdata_generation (id, token, generation) VALUES (1, '{uuid.uuid4().hex}', 0)")
    postgres = op.get_bind().dialect.name == "postgresql"
    for statement in _pg_statements() if postgres else _sqlite_triggers():
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in _TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS trg_masterdata_{table} ON {table}")
        op.execute("DROP FUNCTION IF EXISTS masterdata_bump()")
        op.execute("DROP SEQUENCE IF EXISTS masterdata_generation_seq")
    else:
        for table in _TABLES:
            for op_name in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS trg_masterdata_{table}_{op_name}")
    op.drop_table("masterdata_generation")
