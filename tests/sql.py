"""What a block of code sends to the database: every statement with its parameters, as the driver gets them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlmodel import Session


@dataclass(frozen=True)
class Sent:
    statement: str
    parameters: Any
    """One row's parameters; the first row's when the statement went with many (``executemany``)."""
    rows: int
    """How many rows of parameters it went with (1 unless ``executemany``)."""
    widest: int
    """The most parameters any one row binds."""


@contextmanager
def sent(session: Session) -> Iterator[list[Sent]]:
    """The statements sent on ``session``'s engine inside the block, in order."""
    engine = session.connection().engine
    seen: list[Sent] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        rows = list(parameters or []) if executemany else [parameters]
        widest = max((len(r) if isinstance(r, tuple | list | dict) else 1 for r in rows if r), default=0)
        seen.append(Sent(statement, rows[0] if rows else None, len(rows), widest))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)
