"""The member registry: a member's home store, source, consent and baby's age, by the keyed hash of the phone.

Members already seen on sales are registered here at the store of their earliest sale (by event time, then eventID),
with source ``sale``, so no member who bought before the registry existed is without a home store.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | None = None
depends_on: str | None = None

_S = sqlmodel.sql.sqltypes.AutoString
_T = sqlmodel.sql.sqltypes.UTCDateTime

# Set-based, portable (window functions: SQLite >= 3.25, PostgreSQL): one row per member hash, her earliest sale at a
# known store. Only well-formed hashes (64 characters) are taken; a sale's member field is capped at 64 anyway.
_FROM_SALES = sa.text(
    """
    INSERT INTO member (phone_hash, home_store_id, source, created_at)
    SELECT member_hash, store_id, 'sale', :now FROM (
        SELECT s.member_hash, s.store_id,
               ROW_NUMBER() OVER (PARTITION BY s.member_hash ORDER BY s.event_time, s.event_id, s.id) AS rn
        FROM sale s JOIN party p ON p.id = s.store_id AND p.kind = 'store'
        WHERE s.member_hash IS NOT NULL AND LENGTH(s.member_hash) = 64
    ) first_sale
    WHERE rn = 1
    """
).bindparams(sa.bindparam("now", type_=_T()))


def upgrade() -> None:
    op.create_table(
        "member",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("phone_hash", _S(length=64), nullable=False),
        sa.Column("home_store_id", _S(length=64), nullable=False),
        sa.Column("name", _S(length=50), nullable=True),
        sa.Column("baby_birth_date", sa.Date(), nullable=True),
        sa.Column("baby_stage", sa.Integer(), nullable=True),
        sa.Column("source", _S(length=64), nullable=False),
        sa.Column("consent_at", _T(), nullable=True),
        sa.Column("created_at", _T(), nullable=False),
        sa.CheckConstraint("baby_stage IS NULL OR baby_stage BETWEEN 1 AND 4", name="ck_member_baby_stage"),
        sa.ForeignKeyConstraint(["home_store_id"], ["party.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("phone_hash"),
    )
    op.create_index("ix_member_store_created", "member", ["home_store_id", "created_at"])
    op.get_bind().execute(_FROM_SALES, {"now": datetime.now(UTC)})


def downgrade() -> None:
    op.drop_index("ix_member_store_created", table_name="member")
    op.drop_table("member")
