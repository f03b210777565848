"""The store's point of sale: each sale rung up at the till (member, free unit, undone), and its receipt printer.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | None = None
depends_on: str | None = None

_S = sqlmodel.sql.sqltypes.AutoString
_T = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "pos_sale",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", _S(length=300), nullable=False),
        sa.Column("store_id", _S(length=64), nullable=False),
        sa.Column("member_hash", _S(length=64), nullable=True),
        sa.Column("kind", _S(length=8), nullable=False),
        sa.Column("units", sa.Integer(), nullable=False),
        sa.Column("redemption_id", sa.Integer(), nullable=True),
        sa.Column("created_at", _T(), nullable=False),
        sa.Column("undone_at", _T(), nullable=True),
        sa.Column("undone_by", _S(length=100), nullable=True),
        sa.CheckConstraint("kind IN ('sale', 'free')", name="ck_pos_sale_kind"),
        sa.ForeignKeyConstraint(["store_id"], ["party.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("event_id"),
    )
    op.create_index("ix_pos_sale_store_time", "pos_sale", ["store_id", "created_at"])
    op.create_table(
        "pos_printer",
        sa.Column("store_id", _S(length=64), nullable=False),
        sa.Column("mode", _S(length=8), nullable=False),
        sa.Column("host", _S(length=253), nullable=True),
        sa.Column("port", sa.Integer(), nullable=True),
        sa.Column("updated_at", _T(), nullable=False),
        sa.CheckConstraint("mode IN ('browser', 'escpos')", name="ck_pos_printer_mode"),
        sa.CheckConstraint("port IS NULL OR port BETWEEN 1 AND 65535", name="ck_pos_printer_port"),
        sa.ForeignKeyConstraint(["store_id"], ["party.id"]),
        sa.PrimaryKeyConstraint("store_id"),
    )


def downgrade() -> None:
    op.drop_table("pos_printer")
    op.drop_index("ix_pos_sale_store_time", table_name="pos_sale")
    op.drop_table("pos_sale")
