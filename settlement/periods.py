"""Settlement periods: a calendar month (``YYYY-MM``) in the policy's time zone, as a half-open UTC interval."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from settlement.errors import BadPeriod
from traceability.i18n import Catalogue, messages

_WORDS: Catalogue = messages("settlement.periods")

__all__ = ["next_period", "parse_period", "period_bounds", "period_of"]


def parse_period(period: str) -> tuple[int, int]:
    """``YYYY-MM`` to (year, month), or a clear error."""
    try:
        year, month = period.split("-")
        if len(year) != 4 or len(month) != 2:
            raise ValueError
        y, m = int(year), int(month)
        if not (1 <= m <= 12 and 1970 <= y <= 9999):
            raise ValueError
    except ValueError:
        raise BadPeriod.keyed(_WORDS, "bad_period", period=period, detail={"period": period}) from None
    return y, m


def next_period(period: str) -> str:
    y, m = parse_period(period)
    return f"{y + m // 12:04d}-{m % 12 + 1:02d}"


def period_bounds(period: str, timezone: str = "UTC") -> tuple[datetime, datetime]:
    """The period as a half-open UTC interval: the calendar month in the policy's time zone."""
    y, m = parse_period(period)
    zone = ZoneInfo(timezone)
    start = datetime(y, m, 1, tzinfo=zone)
    ny, nm = parse_period(next_period(period))
    end = datetime(ny, nm, 1, tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)


def period_of(moment: datetime, timezone: str = "UTC") -> str:
    """The period (``YYYY-MM``) an instant falls in, in the policy's time zone."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    local = aware.astimezone(ZoneInfo(timezone))
    return f"{local.year:04d}-{local.month:02d}"
