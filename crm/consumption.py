"""How long a member's formula lasts: days per unit, and her expected run-out from her purchases.

A unit lasts the product's days (policy ``[crm]``: ``days_per_unit``, default 7 for an 800 g can, with per-GTIN
overrides). Purchases that overlap add up: each purchase extends the run-out from the later of the previous run-out
and its own day, ``run_out = max(previous run_out, purchase day) + units x days``. That recurrence has a closed form
SQL computes in one pass with a window: with ``C(k)`` the days bought before purchase ``k`` (in day order),
``run_out = (all days bought) + max_k (day_k - C(k))``. :func:`run_out` is the recurrence itself, for one member and
for the tests that check the SQL against it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import bindparam, text
from sqlmodel import Session
from sqlmodel.sql.sqltypes import UTCDateTime

from crm.sql import EPOCH, Clock, clock
from rebates.policy import CrmPolicy, Policy

__all__ = ["MemberDays", "days_case", "history_sql", "member_days", "purchase_days_sql", "run_out"]


def days_case(crm: CrmPolicy, column: str = "s.gtin") -> str:
    """SQL for the days a unit of ``column``'s GTIN lasts (GTINs are validated digits, so inlined)."""
    if not crm.days_per_gtin:
        return str(crm.days_per_unit)
    whens = " ".join(f"WHEN '{g}' THEN {d}" for g, d in sorted(crm.days_per_gtin.items()))
    return f"(CASE {column} {whens} ELSE {crm.days_per_unit} END)"


def run_out(purchases: Iterable[tuple[date, int]]) -> date | None:
    """The expected run-out of purchases given as (day, days of supply bought that day); None without any."""
    end: date | None = None
    for day, days in sorted(purchases):
        end = max(end, day) if end is not None else day
        end += timedelta(days=days)
    return end


def history_sql(c: Clock, crm: CrmPolicy, *, who: str, until: str = "") -> str:
    """Per member whose sales ``s`` match ``who`` (counted, to a member, and ``until`` if given): first and last
    purchase day and expected run-out, over her whole history.

    The run-out's closed form is a maximum over purchase days of ``day - days bought before it``; taken over her
    sales one by one in time order it is the same maximum (a later sale of the same day only has more bought before
    it), so one running sum in the order of the member index is all it takes: no grouping by day and no sort before
    the window."""
    days = days_case(crm)
    bound = f" AND {until}" if until else ""
    return f"""
        SELECT x.member_hash, MIN(x.day) AS first_day, MAX(x.day) AS last_day,
               SUM(x.days) + MAX(x.day - x.before) AS run_out
        FROM (SELECT s.member_hash, {c.day("s.event_time")} AS day, {days} AS days,
                     SUM({days}) OVER (PARTITION BY s.member_hash ORDER BY s.event_time
                                       ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) - {days} AS before
              FROM sale s
              WHERE {who} AND s.member_hash IS NOT NULL AND s.counted{bound}) x
        GROUP BY x.member_hash"""


def purchase_days_sql(c: Clock, crm: CrmPolicy, *, member_filter: str = "") -> str:
    """Per member and local day: units and days of supply bought (counted sales to a member up to ``:hi``), with
    the running days bought before that day, its rank and the member's last purchase day: the input of every
    consumption figure. ``member_filter`` is an extra condition on ``s`` (bound by the caller)."""
    day = c.day("s.event_time")
    return f"""
        SELECT d.member_hash, d.day, d.units, d.days,
               COALESCE(SUM(d.days) OVER (PARTITION BY d.member_hash ORDER BY d.day
                                          ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS before,
               ROW_NUMBER() OVER (PARTITION BY d.member_hash ORDER BY d.day) AS rn,
               MAX(d.day) OVER (PARTITION BY d.member_hash) AS last_day
        FROM (SELECT s.member_hash, {day} AS day, COUNT(*) AS units, SUM({days_case(crm)}) AS days
              FROM sale s
              WHERE s.counted AND s.member_hash IS NOT NULL AND s.event_time < :hi {member_filter}
              GROUP BY s.member_hash, {day}) d"""


@dataclass(frozen=True, slots=True)
class MemberDays:
    """A member's consumption as of a day: first and last purchase, units, and the expected run-out."""

    first_purchase: date | None
    last_purchase: date | None
    units: int
    run_out: date | None


def member_days(*, session: Session, phone_hash: str, as_of: date, policy: Policy) -> MemberDays:
    """One member's consumption as of the end of ``as_of`` (local), in SQL like every member's."""
    c = clock(session, policy.timezone, as_of)
    sql = f"""
        SELECT MIN(day), MAX(day), SUM(units), SUM(days) + MAX(day - before)
        FROM ({purchase_days_sql(c, policy.crm, member_filter="AND s.member_hash = :h")}) x"""
    stmt = text(sql).bindparams(bindparam("hi", type_=UTCDateTime()))
    first, last, units, end = session.execute(stmt, {"hi": c.end(as_of), "h": phone_hash}).one()

    def _d(n: int | None) -> date | None:
        return None if n is None else EPOCH + timedelta(days=int(n))

    return MemberDays(first_purchase=_d(first), last_purchase=_d(last), units=int(units or 0), run_out=_d(end))
