"""EPCIS 2.0 named queries and their webhook subscriptions, each with its delivery cursor and backoff.

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | None = None
depends_on: str | None = None

_S = sqlmodel.sql.sqltypes.AutoString
_T = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "epcis_query",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("party_id", _S(length=64), nullable=False),
        sa.Column("name", _S(length=200), nullable=False),
        sa.Column("query", sa.Text(), nullable=False),
        sa.Column("created_by", _S(length=100), nullable=False),
        sa.Column("created_at", _T(), nullable=False),
        sa.ForeignKeyConstraint(["party_id"], ["party.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("party_id", "name", name="uq_epcis_query_party_name"),
    )
    op.create_table(
        "epcis_subscription",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscription_id", _S(length=36), nullable=False),
        sa.Column("query_pk", sa.Integer(), nullable=False),
        sa.Column("role", _S(length=20), nullable=False),
        sa.Column("party_id", _S(length=64), nullable=False),
        sa.Column("dest", _S(length=2000), nullable=False),
        sa.Column("secret", _S(length=500), nullable=True),
        sa.Column("stream", sa.Boolean(), nullable=False),
        sa.Column("interval_seconds", sa.Integer(), nullable=True),
        sa.Column("report_if_empty", sa.Boolean(), nullable=False),
        sa.Column("initial_record_time", _T(), nullable=True),
        sa.Column("cursor", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", _T(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", _S(length=500), nullable=True),
        sa.Column("last_notified_at", _T(), nullable=True),
        sa.Column("created_at", _T(), nullable=False),
        sa.CheckConstraint("stream OR interval_seconds IS NOT NULL", name="ck_epcis_subscription_when"),
        sa.CheckConstraint("interval_seconds IS NULL OR interval_seconds >= 1", name="ck_epcis_subscription_interval"),
        sa.ForeignKeyConstraint(["party_id"], ["party.id"]),
        sa.ForeignKeyConstraint(["query_pk"], ["epcis_query.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("subscription_id"),
    )
    op.create_index("ix_epcis_subscription_due", "epcis_subscription", ["next_attempt_at"])
    op.create_index("ix_epcis_subscription_query", "epcis_subscription", ["query_pk"])


def downgrade() -> None:
    op.drop_index("ix_epcis_subscription_query", table_name="epcis_subscription")
    op.drop_index("ix_epcis_subscription_due", table_name="epcis_subscription")
    op.drop_table("epcis_subscription")
    op.drop_table("epcis_query")
