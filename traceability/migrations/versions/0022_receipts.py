"""Receiving against a shipment: each code the destination scanned (received, extra, or rejected with its reason),
and who closed the receipt when.

Revision ID: 0022
Revises: 0018
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0022"
down_revision: str | None = "0018"
branch_labels: str | None = None
depends_on: str | None = None

_S = sqlmodel.sql.sqltypes.AutoString
_T = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    with op.batch_alter_table("shipment") as batch:
        batch.add_column(sa.Column("received_at", _T(), nullable=True))
        batch.add_column(sa.Column("received_by", _S(length=64), nullable=True))
    op.create_table(
        "receipt_line",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shipment_id", sa.Integer(), nullable=False),
        sa.Column("key", _S(length=300), nullable=True),
        sa.Column("epc", _S(length=300), nullable=True),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("reason", _S(length=40), nullable=True),
        sa.Column("units", sa.Integer(), nullable=False),
        sa.Column("capture_id", sa.Integer(), nullable=True),
        sa.Column("scanned_at", _T(), nullable=False),
        sa.ForeignKeyConstraint(["shipment_id"], ["shipment.id"]),
        sa.ForeignKeyConstraint(["capture_id"], ["capture.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_receipt_line_shipment_id", "receipt_line", ["shipment_id"])


def downgrade() -> None:
    op.drop_index("ix_receipt_line_shipment_id", table_name="receipt_line")
    op.drop_table("receipt_line")
    with op.batch_alter_table("shipment") as batch:
        batch.drop_column("received_by")
        batch.drop_column("received_at")
