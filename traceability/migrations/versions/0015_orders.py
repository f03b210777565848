"""O2O orders: the order, its lines, each store's offer (one open, one accepted at most), its history, and what a
store is told when an order is taken back.

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | None = None
depends_on: str | None = None

_S = sqlmodel.sql.sqltypes.AutoString
_T = sqlmodel.sql.sqltypes.UTCDateTime
_STATUSES = "'placed', 'offered', 'accepted', 'out_for_delivery', 'delivered', 'cancelled', 'unrouted'"
_OUTCOMES = "'open', 'accepted', 'declined', 'lapsed', 'withdrawn', 'delivered'"


def upgrade() -> None:
    op.create_table(
        "o2o_order",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_hash", _S(length=64), nullable=False),
        sa.Column("channel", _S(length=16), nullable=False),
        sa.Column("address", _S(length=500), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("status", _S(length=20), nullable=False),
        sa.Column("store_id", _S(length=64), nullable=True),
        sa.Column("offered_at", _T(), nullable=True),
        sa.Column("deadline", _T(), nullable=True),
        sa.Column("placed_by", _S(length=100), nullable=False),
        sa.Column("created_at", _T(), nullable=False),
        sa.Column("updated_at", _T(), nullable=False),
        sa.CheckConstraint(f"status IN ({_STATUSES})", name="ck_o2o_order_status"),
        sa.CheckConstraint("channel IN ('call_centre', 'web', 'app')", name="ck_o2o_order_channel"),
        sa.CheckConstraint("lat BETWEEN -90 AND 90 AND lon BETWEEN -180 AND 180", name="ck_o2o_order_position"),
        sa.ForeignKeyConstraint(["store_id"], ["party.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_o2o_order_due", "o2o_order", ["status", "deadline"])
    op.create_index("ix_o2o_order_store", "o2o_order", ["store_id", "status"])
    op.create_index("ix_o2o_order_member", "o2o_order", ["member_hash"])
    op.create_table(
        "o2o_order_line",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("gtin", _S(length=14), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.CheckConstraint("quantity BETWEEN 1 AND 1000", name="ck_o2o_order_line_quantity"),
        sa.ForeignKeyConstraint(["order_id"], ["o2o_order.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("order_id", "gtin", name="uq_o2o_order_line"),
    )
    op.create_table(
        "o2o_order_offer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("store_id", _S(length=64), nullable=False),
        sa.Column("offered_at", _T(), nullable=False),
        sa.Column("deadline", _T(), nullable=False),
        sa.Column("outcome", _S(length=12), nullable=False),
        sa.Column("closed_at", _T(), nullable=True),
        sa.Column("reason", _S(length=40), nullable=False),
        sa.Column("distance_km", sa.Float(), nullable=True),
        sa.CheckConstraint(f"outcome IN ({_OUTCOMES})", name="ck_o2o_order_offer_outcome"),
        sa.ForeignKeyConstraint(["order_id"], ["o2o_order.id"]),
        sa.ForeignKeyConstraint(["store_id"], ["party.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("uq_o2o_order_offer_open", "o2o_order_offer", ["order_id"], unique=True,
                    sqlite_where=sa.text("outcome = 'open'"), postgresql_where=sa.text("outcome = 'open'"))
    op.create_index("uq_o2o_order_offer_accepted", "o2o_order_offer", ["order_id"], unique=True,
                    sqlite_where=sa.text("outcome IN ('accepted', 'delivered')"),
                    postgresql_where=sa.text("outcome IN ('accepted', 'delivered')"))
    op.create_index("ix_o2o_order_offer_store", "o2o_order_offer", ["store_id", "offered_at"])
    op.create_index("ix_o2o_order_offer_order", "o2o_order_offer", ["order_id", "store_id"])
    op.create_table(
        "o2o_order_step",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("status", _S(length=20), nullable=False),
        sa.Column("store_id", _S(length=64), nullable=True),
        sa.Column("at", _T(), nullable=False),
        sa.Column("by", _S(length=100), nullable=False),
        sa.Column("reason", _S(length=40), nullable=False),
        sa.Column("note", _S(length=500), nullable=False),
        sa.Column("event_id", _S(length=300), nullable=True),
        sa.ForeignKeyConstraint(["order_id"], ["o2o_order.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("order_id", "seq", name="uq_o2o_order_step"),
    )
    op.create_table(
        "o2o_order_notice",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("store_id", _S(length=64), nullable=False),
        sa.Column("kind", _S(length=16), nullable=False),
        sa.Column("at", _T(), nullable=False),
        sa.ForeignKeyConstraint(["order_id"], ["o2o_order.id"]),
        sa.ForeignKeyConstraint(["store_id"], ["party.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_o2o_order_notice_store", "o2o_order_notice", ["store_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_o2o_order_notice_store", table_name="o2o_order_notice")
    op.drop_table("o2o_order_notice")
    op.drop_table("o2o_order_step")
    for name in ("ix_o2o_order_offer_order", "ix_o2o_order_offer_store", "uq_o2o_order_offer_accepted",
                 "uq_o2o_order_offer_open"):
        op.drop_index(name, table_name="o2o_order_offer")
    op.drop_table("o2o_order_offer")
    op.drop_table("o2o_order_line")
    for name in ("ix_o2o_order_member", "ix_o2o_order_store", "ix_o2o_order_due"):
        op.drop_index(name, table_name="o2o_order")
    op.drop_table("o2o_order")
