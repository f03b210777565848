"""The alert queue and the overviews at any size: the queue's order read from an index (``ix_alert_queue``:
newest first, a page without sorting every alert; the weekly trend counted from it alone), and the overview's
counts of open alerts by kind, distributor and territory read from the index alone (``ix_alert_figures``).

Revision ID: 0023
Revises: 0022
"""

from __future__ import annotations

from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_index("ix_alert_queue", "alert", ["first_seen", "id", "status"])
    op.create_index("ix_alert_figures", "alert",
                    ["status", "kind", "responsible_distributor_id", "territory_id", "first_seen"])  # fmt: skip


def downgrade() -> None:
    op.drop_index("ix_alert_figures", table_name="alert")
    op.drop_index("ix_alert_queue", table_name="alert")
