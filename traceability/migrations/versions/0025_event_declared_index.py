"""The error declarations alone (``ix_event_declared``, partial: ``WHERE declaration``): whether an event of a query
page has a declaration is a seek in this small index, not in the unique (eventID, declaration) one that holds a
row per event (``scanning.query``: about a quarter of an EPCIS page's SQL on a store of 1,000,000 events).

Revision ID: 0025
Revises: 0024
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_index("ix_event_declared", "epcis_event", ["event_id"], sqlite_where=sa.text("declaration"),
                    postgresql_where=sa.text("declaration"))  # fmt: skip


def downgrade() -> None:
    op.drop_index("ix_event_declared", table_name="epcis_event")
