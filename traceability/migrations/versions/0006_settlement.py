"""settlement: sales, purchases, dispatches, redemptions, locked periods and their lines

Revision ID: 0006
Revises: 0003
Create Date: 2026-11-25 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0006"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_S = sqlmodel.sql.sqltypes.AutoString
_T = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "sale",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_key", _S(length=300), nullable=False),
        sa.Column("gtin", _S(length=14), nullable=True),
        sa.Column("store_id", _S(length=64), nullable=True),
        sa.Column("event_pk", sa.Integer(), nullable=False),
        sa.Column("event_id", _S(length=300), nullable=False),
        sa.Column("event_time", _T(), nullable=False),
        sa.Column("member_hash", _S(length=64), nullable=True),
        sa.Column("counted", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["event_pk"], ["epcis_event.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_sale_time", "sale", ["event_time", "store_id", "gtin", "counted"])
    op.create_index("ix_sale_unit", "sale", ["unit_key"])
    op.create_index("ix_sale_event", "sale", ["event_pk"])
    op.create_index("ix_sale_member", "sale", ["member_hash"])

    op.create_table(
        "purchase",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_key", _S(length=300), nullable=False),
        sa.Column("gtin", _S(length=14), nullable=True),
        sa.Column("distributor_id", _S(length=64), nullable=False),
        sa.Column("source_id", _S(length=64), nullable=True),
        sa.Column("event_pk", sa.Integer(), nullable=False),
        sa.Column("event_id", _S(length=300), nullable=False),
        sa.Column("event_time", _T(), nullable=False),
        sa.Column("counted", sa.Boolean(), nullable=False),
        sa.Column("scanned_out", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["event_pk"], ["epcis_event.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_purchase_time", "purchase", ["event_time", "distributor_id", "gtin", "counted", "scanned_out"])
    op.create_index("ix_purchase_unit", "purchase", ["unit_key", "distributor_id"])
    op.create_index("ix_purchase_event", "purchase", ["event_pk"])

    op.create_table(
        "dispatch",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_key", _S(length=300), nullable=False),
        sa.Column("distributor_id", _S(length=64), nullable=False),
        sa.Column("event_pk", sa.Integer(), nullable=False),
        sa.Column("event_id", _S(length=300), nullable=False),
        sa.Column("event_time", _T(), nullable=False),
        sa.ForeignKeyConstraint(["event_pk"], ["epcis_event.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_dispatch_unit", "dispatch", ["unit_key", "distributor_id"])
    op.create_index("ix_dispatch_event", "dispatch", ["event_pk"])

    op.create_table(
        "redemption",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_hash", _S(length=64), nullable=False),
        sa.Column("store_id", _S(length=64), nullable=False),
        sa.Column("unit_key", _S(length=300), nullable=True),
        sa.Column("redeemed_at", _T(), nullable=False),
        sa.Column("note", _S(length=500), nullable=False),
        sa.ForeignKeyConstraint(["store_id"], ["party.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_redemption_member_hash", "redemption", ["member_hash"])

    op.create_table(
        "settlement_period",
        sa.Column("period", _S(length=7), nullable=False),
        sa.Column("starts_at", _T(), nullable=False),
        sa.Column("ends_at", _T(), nullable=False),
        sa.Column("locked_at", _T(), nullable=False),
        sa.Column("locked_by", _S(length=200), nullable=False),
        sa.Column("policy", sa.Text(), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("checksum", _S(length=64), nullable=False),
        sa.Column("restate", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("period"),
    )

    op.create_table(
        "settlement_line",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("booked_in", _S(length=7), nullable=False),
        sa.Column("for_period", _S(length=7), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("party_id", _S(length=64), nullable=False),
        sa.Column("currency", _S(length=3), nullable=False),
        sa.Column("units", sa.Integer(), nullable=False),
        sa.Column("units_out", sa.Integer(), nullable=False),
        sa.Column("diverted_units", sa.Integer(), nullable=False),
        sa.Column("open_alerts", sa.Integer(), nullable=False),
        sa.Column("value", sa.Numeric(18, 2), nullable=False),
        sa.Column("rate", sa.Numeric(9, 6), nullable=False),
        sa.Column("amount", sa.Numeric(18, 2), nullable=False),
        sa.Column("delta", sa.Numeric(18, 2), nullable=False),
        sa.Column("reason", _S(length=500), nullable=False),
        sa.ForeignKeyConstraint(["booked_in"], ["settlement_period.period"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_settlement_line_booked", "settlement_line", ["booked_in"])
    op.create_index("ix_settlement_line_for", "settlement_line", ["for_period", "kind", "party_id", "currency"])


def downgrade() -> None:
    op.drop_table("settlement_line")
    op.drop_table("settlement_period")
    op.drop_table("redemption")
    op.drop_table("dispatch")
    op.drop_table("purchase")
    op.drop_table("sale")
