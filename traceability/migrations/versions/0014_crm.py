"""Member care: the clerk's tasks, campaigns, activity points, the reward catalogue and stores' prospects.

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | None = None
depends_on: str | None = None

_S = sqlmodel.sql.sqltypes.AutoString
_T = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "crm_task",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("store_id", _S(length=64), nullable=False),
        sa.Column("kind", _S(length=16), nullable=False),
        sa.Column("opens", sa.Date(), nullable=False),
        sa.Column("due", sa.Date(), nullable=False),
        sa.Column("reason", _S(length=32), nullable=False),
        sa.Column("basis", sa.Date(), nullable=False),
        sa.Column("units", sa.Integer(), nullable=False),
        sa.Column("status", _S(length=16), nullable=False),
        sa.Column("created_at", _T(), nullable=False),
        sa.Column("outcome_at", _T(), nullable=True),
        sa.Column("outcome_by", _S(length=100), nullable=True),
        sa.Column("note", _S(length=500), nullable=False),
        sa.CheckConstraint("kind IN ('follow_up', 'replenish')", name="ck_crm_task_kind"),
        sa.CheckConstraint(
            "status IN ('open', 'reached', 'not_reached', 'bought', 'declined', 'do_not_call')",
            name="ck_crm_task_status",
        ),
        sa.ForeignKeyConstraint(["member_id"], ["member.id"]),
        sa.ForeignKeyConstraint(["store_id"], ["party.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("member_id", "kind", "opens", name="uq_crm_task_window"),
    )
    op.create_index("ix_crm_task_store_due", "crm_task", ["store_id", "due"])
    op.create_table(
        "crm_campaign",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", _S(length=64), nullable=False),
        sa.Column("name", _S(length=200), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("gtins", sa.Text(), nullable=False),
        sa.Column("stores", sa.Text(), nullable=False),
        sa.Column("territories", sa.Text(), nullable=False),
        sa.Column("multiplier", sa.Numeric(6, 2), nullable=False),
        sa.Column("bonus", sa.Integer(), nullable=False),
        sa.Column("created_at", _T(), nullable=False),
        sa.Column("created_by", _S(length=100), nullable=False),
        sa.CheckConstraint("ends_on >= starts_on", name="ck_crm_campaign_dates"),
        sa.CheckConstraint("multiplier >= 1", name="ck_crm_campaign_multiplier"),
        sa.CheckConstraint("bonus >= 0", name="ck_crm_campaign_bonus"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code"),
    )
    op.create_table(
        "crm_points_grant",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("reason", _S(length=200), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=True),
        sa.Column("granted_by", _S(length=100), nullable=False),
        sa.Column("granted_at", _T(), nullable=False),
        sa.ForeignKeyConstraint(["campaign_id"], ["crm_campaign.id"]),
        sa.ForeignKeyConstraint(["member_id"], ["member.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_crm_points_grant_member", "crm_points_grant", ["member_id", "granted_at"])
    op.create_table(
        "crm_reward",
        sa.Column("code", _S(length=64), nullable=False),
        sa.Column("name", _S(length=200), nullable=False),
        sa.Column("points_price", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.CheckConstraint("points_price > 0", name="ck_crm_reward_price"),
        sa.PrimaryKeyConstraint("code"),
    )
    op.create_table(
        "crm_reward_redemption",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("reward_code", _S(length=64), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("store_id", _S(length=64), nullable=False),
        sa.Column("redeemed_at", _T(), nullable=False),
        sa.Column("redeemed_by", _S(length=100), nullable=False),
        sa.ForeignKeyConstraint(["member_id"], ["member.id"]),
        sa.ForeignKeyConstraint(["reward_code"], ["crm_reward.code"]),
        sa.ForeignKeyConstraint(["store_id"], ["party.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_crm_reward_redemption_member", "crm_reward_redemption", ["member_id"])
    op.create_table(
        "crm_prospect",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("phone_hash", _S(length=64), nullable=False),
        sa.Column("store_id", _S(length=64), nullable=False),
        sa.Column("month", _S(length=7), nullable=False),
        sa.Column("handed_at", _T(), nullable=False),
        sa.ForeignKeyConstraint(["store_id"], ["party.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("phone_hash"),
    )
    op.create_index("ix_crm_prospect_store_month", "crm_prospect", ["store_id", "month"])


def downgrade() -> None:
    op.drop_index("ix_crm_prospect_store_month", table_name="crm_prospect")
    op.drop_table("crm_prospect")
    op.drop_index("ix_crm_reward_redemption_member", table_name="crm_reward_redemption")
    op.drop_table("crm_reward_redemption")
    op.drop_table("crm_reward")
    op.drop_index("ix_crm_points_grant_member", table_name="crm_points_grant")
    op.drop_table("crm_points_grant")
    op.drop_table("crm_campaign")
    op.drop_index("ix_crm_task_store_due", table_name="crm_task")
    op.drop_table("crm_task")
