"""GS1's cron-like subscription schedule: a ``schedule`` column (JSON) on ``epcis_subscription``, and the check that
a subscription says when to deliver widened to it (a stream, an interval, or a schedule).

Revision ID: 0027
Revises: 0026
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | None = None
depends_on: str | None = None

_WHEN = "ck_epcis_subscription_when"


def upgrade() -> None:
    # batch: SQLite changes a check constraint by copying the table (PostgreSQL alters it in place)
    with op.batch_alter_table("epcis_subscription", schema=None) as batch_op:
        batch_op.add_column(sa.Column("schedule", sa.Text(), nullable=True))
        batch_op.drop_constraint(_WHEN, type_="check")
        batch_op.create_check_constraint(_WHEN, "stream OR interval_seconds IS NOT NULL OR schedule IS NOT NULL")


def downgrade() -> None:
    op.execute("DELETE FROM epcis_subscription WHERE schedule IS NOT NULL")  # nothing before 0027 can deliver them
    with op.batch_alter_table("epcis_subscription", schema=None) as batch_op:
        batch_op.drop_constraint(_WHEN, type_="check")
        batch_op.create_check_constraint(_WHEN, "stream OR interval_seconds IS NOT NULL")
        batch_op.drop_column("schedule")
