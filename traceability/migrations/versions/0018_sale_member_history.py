"""A member's sale history in time order, read from the index alone: the CRM's per-member passes (task generation,
segments) and a member's purchases (``ix_sale_member_history``).

Revision ID: 0018
Revises: 0017
"""

from __future__ import annotations

from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_index("ix_sale_member_history", "sale", ["member_hash", "event_time", "gtin", "counted", "event_id"])


def downgrade() -> None:
    op.drop_index("ix_sale_member_history", table_name="sale")
