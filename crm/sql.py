"""The few SQL spellings that differ between SQLite and PostgreSQL, for the set-based queries of ``crm``.

Days are counted as whole days since 1970-01-01 in the policy's time zone (its UTC offset at the date asked about;
the brand's zone, Asia/Shanghai, has no daylight saving), so "3 days after her first purchase" is calendar days where
the store is, and every comparison is between integers the database computes, never rows loaded into Python.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session

__all__ = ["EPOCH", "Clock", "clock"]

EPOCH = date(1970, 1, 1)
_UNIXEPOCH = sqlite3.sqlite_version_info >= (3, 38, 0)
"""``unixepoch()`` came with SQLite 3.38; older libraries (Ubuntu 22.04's 3.37) get ``strftime('%s')``."""


class Clock:
    """Day arithmetic in SQL for one dialect and one time zone offset."""

    def __init__(self, dialect: str, offset_seconds: int, tz: ZoneInfo) -> None:
        if dialect not in ("sqlite", "postgresql"):  # pragma: no cover - the project runs on these two only
            raise NotImplementedError(f"crm queries are written for SQLite and PostgreSQL, not {dialect}")
        self.dialect = dialect
        self.offset = int(offset_seconds)
        self.tz = tz

    def day(self, column: str) -> str:
        """The local day number of a stored instant (``sale.event_time``)."""
        if self.dialect == "sqlite":
            if _UNIXEPOCH:  # the same whole seconds as strftime('%s'), at a third of its cost per row
                return f"((unixepoch({column}) + {self.offset}) / 86400)"
            return f"((CAST(strftime('%s', {column}) AS INTEGER) + {self.offset}) / 86400)"
        # date arithmetic, not extract(epoch): that is numeric in PostgreSQL 14+, and several times slower per row
        return f"((({column} AT TIME ZONE 'UTC') + INTERVAL '{self.offset} seconds')::date - DATE '1970-01-01')"

    def day_of_date(self, column: str) -> str:
        """The day number of a stored date (``crm_task.opens``)."""
        if self.dialect == "sqlite":
            return f"CAST(julianday({column}) - 2440587.5 AS INTEGER)"
        return f"({column} - DATE '1970-01-01')"

    def date_of_day(self, expr: str) -> str:
        """The date (for a date column) of a day number."""
        if self.dialect == "sqlite":
            return f"date(({expr}) * 86400, 'unixepoch')"
        return f"(DATE '1970-01-01' + CAST({expr} AS INTEGER))"

    def greatest(self, a: str, b: str) -> str:
        """The larger of two non-null SQL numbers."""
        return f"max({a}, {b})" if self.dialect == "sqlite" else f"GREATEST({a}, {b})"

    @staticmethod
    def number(day: date) -> int:
        """The day number of a date, computed here to bind as a parameter."""
        return (day - EPOCH).days

    def start(self, day: date) -> datetime:
        """The instant (UTC) the local day ``day`` begins."""
        return datetime.combine(day, time(), self.tz).astimezone(UTC)

    def end(self, day: date) -> datetime:
        """The instant (UTC) after the local day ``day`` ends."""
        return self.start(day + timedelta(days=1))


def clock(session: Session, timezone: str, on: date) -> Clock:
    """The clock of the session's database in ``timezone`` (its offset on ``on``)."""
    tz = ZoneInfo(timezone)
    offset = datetime.combine(on, time(12), tz).utcoffset() or timedelta(0)
    return Clock(session.get_bind().dialect.name, int(offset.total_seconds()), tz)
