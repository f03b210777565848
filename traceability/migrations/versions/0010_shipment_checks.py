"""Outbound checks on shipments: the order (reference, products, expected units), who confirmed closing despite
warnings, and each scanned item's warnings.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("shipment") as batch:
        batch.add_column(sa.Column("order_ref", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True))
        batch.add_column(sa.Column("order_gtins", sa.Text(), nullable=True))
        batch.add_column(sa.Column("expected_quantity", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("confirmed_by", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch.add_column(sa.Column("confirmed_key_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("confirmed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("confirmed_warnings", sa.Text(), nullable=True))
        batch.create_foreign_key("fk_shipment_confirmed_key_id_api_key", "api_key", ["confirmed_key_id"], ["id"])
    with op.batch_alter_table("shipment_item") as batch:
        batch.add_column(sa.Column("warnings", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("shipment_item") as batch:
        batch.drop_column("warnings")
    with op.batch_alter_table("shipment") as batch:
        batch.drop_constraint("fk_shipment_confirmed_key_id_api_key", type_="foreignkey")
        for name in ("confirmed_warnings", "confirmed_at", "confirmed_key_id", "confirmed_by", "expected_quantity",
                     "order_gtins", "order_ref"):  # fmt: skip
            batch.drop_column(name)
