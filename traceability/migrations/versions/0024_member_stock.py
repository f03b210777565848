"""A per-member stock summary kept up to date from the sale facts (``crm.stock``), so that task generation reads
index ranges of it instead of every member's history; triggers on ``sale`` mark the members whose folded-in sales
change or go away (or whose new sale takes an id at or below the watermark), for the next refresh to recompute.

Revision ID: 0024
Revises: 0023
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | None = None
depends_on: str | None = None

_S = sqlmodel.sql.sqltypes.AutoString
_FOLDED = "(SELECT folded_id FROM member_stock_state WHERE id = 1)"

_SQLITE_TRIGGERS = (
    # SQLite hands the newest deleted row's id out again: a sale inserted at or below the watermark is not read by
    # the next refresh's id range, so it marks its member instead.
    f"""CREATE TRIGGER trg_sale_stock_insert AFTER INSERT ON sale
        WHEN NEW.member_hash IS NOT NULL AND NEW.id <= {_FOLDED}
        BEGIN INSERT INTO member_stock_dirty (member_hash) VALUES (NEW.member_hash); END""",
    f"""CREATE TRIGGER trg_sale_stock_delete AFTER DELETE ON sale
        WHEN OLD.member_hash IS NOT NULL AND OLD.id <= {_FOLDED}
        BEGIN INSERT INTO member_stock_dirty (member_hash) VALUES (OLD.member_hash); END""",
    f"""CREATE TRIGGER trg_sale_stock_update AFTER UPDATE OF counted, member_hash, event_time, gtin ON sale
        WHEN OLD.id <= {_FOLDED}
        BEGIN
          INSERT INTO member_stock_dirty (member_hash) SELECT OLD.member_hash WHERE OLD.member_hash IS NOT NULL;
          INSERT INTO member_stock_dirty (member_hash) SELECT NEW.member_hash
            WHERE NEW.member_hash IS NOT NULL AND NEW.member_hash IS NOT OLD.member_hash;
        END""",
)
_PG_TRIGGERS = (
    f"""CREATE FUNCTION member_stock_mark() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF TG_OP = 'INSERT' THEN  -- an id at or below the watermark (a sequence reset, an explicit id)
            IF NEW.member_hash IS NOT NULL AND NEW.id <= {_FOLDED} THEN
              INSERT INTO member_stock_dirty (member_hash) VALUES (NEW.member_hash);
            END IF;
            RETURN NULL;
          END IF;
          IF OLD.id <= {_FOLDED} THEN
            IF OLD.member_hash IS NOT NULL THEN
              INSERT INTO member_stock_dirty (member_hash) VALUES (OLD.member_hash);
            END IF;
            IF TG_OP = 'UPDATE' AND NEW.member_hash IS NOT NULL AND NEW.member_hash IS DISTINCT FROM OLD.member_hash
            THEN
              INSERT INTO member_stock_dirty (member_hash) VALUES (NEW.member_hash);
            END IF;
          END IF;
          RETURN NULL;
        END $$""",
    """CREATE TRIGGER trg_sale_stock AFTER INSERT OR DELETE OR UPDATE OF counted, member_hash, event_time, gtin ON sale
        FOR EACH ROW EXECUTE FUNCTION member_stock_mark()""",
)


def upgrade() -> None:
    op.create_table(
        "member_stock",
        sa.Column("member_hash", _S(length=64), nullable=False),
        sa.Column("first_day", sa.Integer(), nullable=False),
        sa.Column("last_day", sa.Integer(), nullable=False),
        sa.Column("run_out", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("member_hash"),
    )
    op.create_index("ix_member_stock_first", "member_stock", ["first_day"])
    op.create_index("ix_member_stock_run_out", "member_stock", ["run_out"])
    op.create_index("ix_member_stock_last", "member_stock", ["last_day"])
    op.create_table(
        "member_stock_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("basis", _S(length=2000), nullable=False),
        sa.Column("folded_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "member_stock_dirty",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_hash", _S(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_member_stock_dirty_member", "member_stock_dirty", ["member_hash"])
    for statement in _PG_TRIGGERS if op.get_bind().dialect.name == "postgresql" else _SQLITE_TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS trg_sale_stock ON sale")
        op.execute("DROP FUNCTION IF EXISTS member_stock_mark()")
    else:
        op.execute("DROP TRIGGER IF EXISTS trg_sale_stock_insert")
        op.execute("DROP TRIGGER IF EXISTS trg_sale_stock_delete")
        op.execute("DROP TRIGGER IF EXISTS trg_sale_stock_update")
    op.drop_index("ix_member_stock_dirty_member", table_name="member_stock_dirty")
    op.drop_table("member_stock_dirty")
    op.drop_table("member_stock_state")
    op.drop_index("ix_member_stock_last", table_name="member_stock")
    op.drop_index("ix_member_stock_run_out", table_name="member_stock")
    op.drop_index("ix_member_stock_first", table_name="member_stock")
    op.drop_table("member_stock")
