"""Each member's stock, kept up to date from the sale facts: first and last purchase day and expected run-out.

Task generation needs, per member, her first purchase day and her expected run-out (:mod:`crm.consumption`), and
the run-out rests on her whole history (stock carried over from long before can still reach the window). Rather
than read every history each day, ``member_stock`` holds those figures and :func:`refresh` folds into it the sales
added since the last refresh, in a fixed number of set-based statements whatever the number of members:

- the sales above the highest folded-in id (``member_stock_state.folded_id``) are grouped per member; when all of
  a member's new sales fall on or after her last purchase day, they extend her figures by the closed form
  (``run_out' = days bought now + max(run_out, max_k (day_k - days bought now before k))``: the old run-out
  counts as one more purchase with no days), with no read of her older sales;
- a member with a new sale *before* her last purchase day (a late arrival), or one the triggers on ``sale`` marked
  (``member_stock_dirty``: a folded-in sale deleted, re-derived or recounted — ``counted`` moves to a unit's
  earliest sale), is recomputed from her whole history on the member index;
- day numbers depend on the policy's time zone offset and its days per product (the *basis*): when the basis
  changes, or on the first refresh, the summary is built from scratch (one ``INSERT … SELECT`` over every
  history — the initial build).

Sale ids are handed out when rows are inserted, not when they commit, so on PostgreSQL the refresh first takes
``SHARE`` lock on ``sale``: it waits for the transactions writing sales to finish and holds new ones off until the
caller commits (a few seconds a day), so no sale with an id below the new watermark can appear later. SQLite has
one writer at a time; the refresh writes first, which takes that lock. Refreshes are serialised by the state row.
The summary is derived, never primary: ``rebuild`` (or a changed basis) recomputes it, and the tests hold it to the
from-scratch computation on random histories with late arrivals and refreshes in between.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import text
from sqlmodel import Session

from crm.consumption import days_case, history_sql
from crm.sql import Clock, clock
from rebates.policy import CrmPolicy, Policy

__all__ = ["Refresh", "basis", "refresh"]

STATE_ID = 1


@dataclass(frozen=True, slots=True)
class Refresh:
    """What a refresh did: rebuilt from scratch or folded in the sales from ``from_id`` (exclusive) to ``to_id``,
    how many members it extended and how many it recomputed from their whole history."""

    rebuilt: bool
    from_id: int
    to_id: int
    extended: int
    recomputed: int


def basis(c: Clock, crm: CrmPolicy) -> str:
    """What the summary's day numbers depend on: the zone offset and the days each product lasts."""
    return f"offset={c.offset};days={days_case(crm)}"


def _batch(c: Clock, crm: CrmPolicy) -> str:
    """Per member, her counted sales with ids in ``(:w, :m]``: first and last day, days bought, and the closed
    form's maximum over them alone."""
    days = days_case(crm)
    return f"""
        SELECT n.member_hash, MIN(n.day) AS lo, MAX(n.day) AS hi, SUM(n.days) AS total,
               MAX(n.day - n.before) AS mx
        FROM (SELECT s.member_hash, {c.day("s.event_time")} AS day, {days} AS days,
                     SUM({days}) OVER (PARTITION BY s.member_hash ORDER BY s.event_time, s.id
                                       ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) - {days} AS before
              FROM sale s
              WHERE s.id > :w AND s.id <= :m AND s.counted AND s.member_hash IS NOT NULL) n
        GROUP BY n.member_hash"""


def _count(result: Any) -> int:
    return max(int(result.rowcount), 0)


def refresh(*, session: Session, day: date, policy: Policy) -> Refresh:
    """Bring ``member_stock`` up to every sale stored, under the basis of ``policy`` on ``day``; what it did.

    Runs in the caller's transaction (task generation calls it first); the caller commits."""
    c = clock(session, policy.timezone, day)
    crm = policy.crm
    want = basis(c, crm)
    run = session.execute
    if c.dialect == "postgresql":
        run(text("LOCK TABLE sale IN SHARE MODE"))
    # the state row first: its write lock serialises refreshes (and takes SQLite's write lock before any read)
    run(text("INSERT INTO member_stock_state (id, basis, folded_id) VALUES (:i, '', -1) ON CONFLICT (id) DO NOTHING"),
        {"i": STATE_ID})  # fmt: skip
    run(text("UPDATE member_stock_state SET folded_id = folded_id WHERE id = :i"), {"i": STATE_ID})
    had, folded = run(text("SELECT basis, folded_id FROM member_stock_state WHERE id = :i"), {"i": STATE_ID}).one()
    top = int(run(text("SELECT COALESCE(MAX(id), 0) FROM sale")).scalar_one())
    folded = int(folded)
    if had != want or folded < 0:
        run(text("DELETE FROM member_stock"))
        run(text("DELETE FROM member_stock_dirty"))
        built = run(text(f"""INSERT INTO member_stock (member_hash, first_day, last_day, run_out)
                             {history_sql(c, crm, who="s.member_hash IS NOT NULL")}"""))  # fmt: skip
        run(text("UPDATE member_stock_state SET basis = :b, folded_id = :m WHERE id = :i"),
            {"b": want, "m": top, "i": STATE_ID})  # fmt: skip
        run(text("ANALYZE member_stock"))  # the planner's figures for the index ranges generation reads
        return Refresh(rebuilt=True, from_id=0, to_id=top, extended=0, recomputed=_count(built))
    window = {"w": folded, "m": top}
    # a new sale before her last purchase day: her run-out needs her whole history again
    run(text(f"""INSERT INTO member_stock_dirty (member_hash)
                 WITH b AS ({_batch(c, crm)})
                 SELECT b.member_hash FROM b JOIN member_stock ms ON ms.member_hash = b.member_hash
                 WHERE b.lo < ms.last_day"""), window)  # fmt: skip
    run(text("DELETE FROM member_stock WHERE member_hash IN (SELECT member_hash FROM member_stock_dirty)"))
    # INSERT first and its SELECT with the CTE (the drivers count the rows of a statement that starts with INSERT);
    # the WHERE keeps SQLite from reading ON CONFLICT as the join's constraint
    extended = run(
        text(f"""
        INSERT INTO member_stock (member_hash, first_day, last_day, run_out)
        WITH b AS ({_batch(c, crm)})
        SELECT b.member_hash, COALESCE(ms.first_day, b.lo), b.hi,
               b.total + {c.greatest("COALESCE(ms.run_out, b.mx)", "b.mx")}
        FROM b LEFT JOIN member_stock ms ON ms.member_hash = b.member_hash
        WHERE NOT EXISTS (SELECT 1 FROM member_stock_dirty d WHERE d.member_hash = b.member_hash)
        ON CONFLICT (member_hash) DO UPDATE
        SET first_day = excluded.first_day, last_day = excluded.last_day, run_out = excluded.run_out"""),
        window,
    )
    who = "s.member_hash IN (SELECT d.member_hash FROM member_stock_dirty d)"
    recomputed = run(text(f"INSERT INTO member_stock (member_hash, first_day, last_day, run_out) "
                          f"{history_sql(c, crm, who=who)}"))  # fmt: skip
    run(text("DELETE FROM member_stock_dirty"))
    run(text("UPDATE member_stock_state SET folded_id = :m WHERE id = :i"), {"m": top, "i": STATE_ID})
    return Refresh(rebuilt=False, from_id=folded, to_id=top, extended=_count(extended), recomputed=_count(recomputed))
