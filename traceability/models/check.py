"""How often each of our codes has been checked by the public, and when first: what a buyer weighs against a copy.

One row per code, keyed by its matching key (``ledger.keys``), never by the text that was checked and never with
anything about who checked it: the table stays as large as the codes we issued, however often they are checked.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

__all__ = ["CheckCount"]


class CheckCount(SQLModel, table=True):
    __tablename__ = "check_count"

    key: str = Field(primary_key=True, max_length=300)
    """The code's matching key (``https://id.gs1.org/01/<gtin>/21/<serial>``)."""
    checks: int
    """Consumer checks so far: the check page, the resolver page and ``/check/inspect`` each count one."""
    first_checked_at: datetime
    last_checked_at: datetime
