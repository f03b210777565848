"""Free-text search on the lists (alerts, shipments, receipts, print jobs, members): one reading of what was typed.

Every list's search box means the same: the text within an id, a code or a name, case-insensitive, with LIKE's
wildcards typed by the user (``%``, ``_``) taken literally; a number alone is also the row's own number.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, or_, select
from sqlmodel import col

from traceability.models import Party

__all__ = ["contains", "needle", "parties_named", "row_number"]

MAX_NEEDLE = 100
"""What a search reads of the text typed: a longer one finds nothing more, and costs the database more."""


def needle(text: str) -> str:
    """The text searched for: trimmed, at most :data:`MAX_NEEDLE` characters."""
    return text.strip()[:MAX_NEEDLE]


def contains(column: Any, text: str) -> ColumnElement[bool]:
    """``column`` holds ``text``, ignoring case; ``%``, ``_`` and ``\\`` in it mean themselves."""
    pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return col(column).ilike(pattern, escape="\\")


def row_number(text: str) -> int | None:
    """The row number a search of digits alone names (one an INTEGER column can hold), else None."""
    return int(text) if text.isdigit() and len(text) < 10 else None


def parties_named(text: str) -> Any:
    """The ids of the parties whose id or name holds ``text`` (a subquery, for ``column.in_(...)``)."""
    return select(col(Party.id)).where(or_(contains(Party.id, text), contains(Party.name, text)))
