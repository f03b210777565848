"""Rejected scans keep the matching key the parser read, so nothing downstream parses the scan again.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("rejected_scan") as batch:
        batch.add_column(sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("rejected_scan") as batch:
        batch.drop_column("key")
