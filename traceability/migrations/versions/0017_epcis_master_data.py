"""EPCIS 2.0 master data from the document header: one row per vocabulary element, with its owner.

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | None = None
depends_on: str | None = None

_S = sqlmodel.sql.sqltypes.AutoString
_T = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "epcis_vocabulary_element",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("vocabulary_type", _S(length=300), nullable=False),
        sa.Column("element_id", _S(length=300), nullable=False),
        sa.Column("attributes", sa.Text(), nullable=False),
        sa.Column("children", sa.Text(), nullable=False),
        sa.Column("context", sa.Text(), nullable=True),
        sa.Column("owner_party_id", _S(length=64), nullable=True),
        sa.Column("owner_brand", sa.Boolean(), nullable=False),
        sa.Column("capture_id", sa.Integer(), nullable=True),
        sa.Column("created_at", _T(), nullable=False),
        sa.Column("updated_at", _T(), nullable=False),
        sa.ForeignKeyConstraint(["owner_party_id"], ["party.id"]),
        sa.ForeignKeyConstraint(["capture_id"], ["capture.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("vocabulary_type", "element_id", name="uq_epcis_vocabulary_element"),
    )
    op.create_index("ix_epcis_vocabulary_element_id", "epcis_vocabulary_element", ["element_id"])
    op.create_index("ix_epcis_vocabulary_owner", "epcis_vocabulary_element", ["owner_party_id"])


def downgrade() -> None:
    op.drop_index("ix_epcis_vocabulary_owner", table_name="epcis_vocabulary_element")
    op.drop_index("ix_epcis_vocabulary_element_id", table_name="epcis_vocabulary_element")
    op.drop_table("epcis_vocabulary_element")
