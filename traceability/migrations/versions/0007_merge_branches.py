"""Merge the alerts, labels and settlement branches, which were built side by side on 0003.

Revision ID: 0007
Revises: 0004, 0005, 0006
"""

from collections.abc import Sequence

revision: str = "0007"
down_revision: str | tuple[str, ...] | None = ("0004", "0005", "0006")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
