"""The clerk's tasks: opportunity windows turned into calls at the member's home store, their outcomes, their effect.

- ``follow_up``: from ``follow_up_from`` to ``follow_up_to`` days (3–5) after her first purchase;
- ``replenish``: from ``replenish_from`` to ``replenish_to`` days (5–2) before her expected run-out
  (:mod:`crm.consumption`).

A replenishment call is made only while her stock after her last purchase lasts at most :func:`stock_horizon` days
(13 units of the longest-lasting product): a member holding more is stocking up, not feeding one baby.

A task is on its store's list from the day its window opens (``opens``) to its last day (``due``). Generation for a
day ``D`` inserts, in one ``INSERT … SELECT``, every task whose window holds ``D`` and that does not exist yet. By
default (``scan="stock"``) it first refreshes the per-member stock summary (:mod:`crm.stock`: the sales stored since
the last refresh, folded in by a fixed number of set-based statements), then reads two index ranges of it — first
purchase ``D - follow_up_to`` to ``D - follow_up_from``, run-out ``D + replenish_to`` to ``D + replenish_from`` —
instead of every member's history; a member who bought after ``D`` (generation for a past day) is computed from her
sales up to ``D`` as before. The reads over the sale facts stay as the reference: ``scan="full"`` every member's
history in one pass in member-index order; ``scan="recent"`` only the members who bought since
``D - max(follow_up_to, horizon - replenish_to)`` (a first purchase that recent, or a last purchase whose stock
reaches the run-out window), found on the sale time index; ``scan="auto"`` whichever of those two reads less.
All make the same tasks (``tests/crm/test_generation_scale.py``, ``tests/crm/test_member_stock.py`` hold them to
each other and to plain-Python references; ``docs/crm.md``, Speed, has the figures). Inserting is
idempotent: ``(member, kind, opens)`` is unique and the insert skips what is there (``ON CONFLICT DO NOTHING``), so
generating a day twice, generating days in any order, or again after a crash (the statement is one transaction)
never doubles a task; a day missed by a stopped worker is caught up by any later day of the same window. A member
who asked not to be called (``do_not_call``) gets no new task.

Who may see what: a store its own tasks and outcomes; the brand's roles every store's. Services add and flush; the
request or the command commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from sqlalchemy import Date, bindparam, text
from sqlmodel import Session, col, select
from sqlmodel.sql.sqltypes import UTCDateTime

from crm.consumption import history_sql
from crm.errors import InvalidOutcome, InvalidRange, NotOwnStore, TaskNotFound, word
from crm.sql import Clock, clock
from crm.stock import refresh
from rebates.policy import CrmPolicy, Policy
from traceability.auth.service import Principal
from traceability.errors import Forbidden
from traceability.i18n import Catalogue, messages
from traceability.models import Member, Role, Task, TaskKind, TaskStatus
from traceability.models.base import utcnow

__all__ = [
    "OUTCOMES",
    "WORKED",
    "Effect",
    "EffectLine",
    "HORIZON_UNITS",
    "RECENT_SHARE",
    "SCANS",
    "generate_tasks",
    "list_tasks",
    "reads_recent_only",
    "record_outcome",
    "stock_horizon",
    "task_effect",
    "task_view",
]

_MESSAGES: Catalogue = messages("crm.errors")
_WORDS = {
    "en": {
        "see_tasks": "role {role!r} may not see clerk tasks",
        "record_role": "role {role!r} may not record outcomes",
    },
    "zh-CN": {
        "see_tasks": "{role} 角色无权查看店员任务",
        "record_role": "{role} 角色无权记录跟进结果",
    },
}

OUTCOMES = tuple(s.value for s in TaskStatus if s is not TaskStatus.open)
WORKED = (TaskStatus.reached.value, TaskStatus.bought.value, TaskStatus.declined.value, TaskStatus.do_not_call.value)
"""A task is *worked* when the clerk reached her, whatever she said; ``open`` and ``not_reached`` are not."""
MAX_EFFECT_DAYS = 3660
HORIZON_UNITS = 13
"""Units of the longest-lasting product a member may hold after her last purchase and still get a replenishment
call (:func:`stock_horizon`)."""


def _scope(principal: Principal, store_id: str | None) -> str | None:
    """The store a request is about: a store's key its own only; the brand's roles any or all (None)."""
    if principal.role is Role.store:
        if store_id is not None and store_id != principal.party_id:
            raise NotOwnStore.keyed(_MESSAGES, "not_own_store", own=principal.party_id, detail={"store": store_id})
        return principal.party_id
    if not principal.sees_all:
        raise Forbidden.keyed(_WORDS, "see_tasks", role=principal.role.value, detail={"role": principal.role.value})
    return store_id


def stock_horizon(crm: CrmPolicy) -> int:
    """The most days of stock after her last purchase that a replenishment call is planned for: ``HORIZON_UNITS``
    units of the longest-lasting product (13 weeks of 800 g cans). A member holding more is stocking up, not
    feeding one baby; and the bound is what lets generation read only the members who bought within it."""
    return HORIZON_UNITS * max([crm.days_per_unit, *crm.days_per_gtin.values()])


def _member_days(c: Clock, crm: CrmPolicy, *, recent: bool) -> str:
    """Per member (counted sales up to ``:hi``): first and last purchase day and expected run-out; with ``recent``,
    only the members who bought from ``:lo`` on (a range of the sale time index), each over her whole history."""
    who = "s.member_hash IS NOT NULL"
    if recent:
        who = """s.member_hash IN (SELECT r.member_hash FROM sale r
                                   WHERE r.event_time >= :lo AND r.event_time < :hi AND r.counted
                                     AND r.member_hash IS NOT NULL)"""
    return history_sql(c, crm, who=who, until="s.event_time < :hi")


def _units_on(c: Clock, day: str) -> str:
    """Units she bought on local day ``day`` (a column of ``a``): for the few tasks made, through the member index."""
    return f"""(SELECT COUNT(*) FROM sale u
                WHERE u.member_hash = a.member_hash AND u.counted AND u.event_time < :hi
                  AND {c.day("u.event_time")} = {day})"""


SCANS = ("stock", "auto", "recent", "full")
RECENT_SHARE = 4
"""``scan="auto"`` reads only recent buyers when the sales since the earliest day that counts number fewer than a
quarter of the members: then at most a quarter of the histories are read, on the member index, and the rest never
touched; beyond that the single pass over everyone costs less (the figures in ``docs/crm.md``)."""


def _earliest(day: date, crm: CrmPolicy) -> date:
    """The earliest purchase day a window holding ``day`` can rest on: a first purchase ``follow_up_to`` days back, or
    a last purchase whose stock (at most the horizon) reaches ``replenish_to`` days ahead; one day more for a zone
    whose offset changes (the day numbers in SQL decide exactly which rows count)."""
    return day - timedelta(days=max(crm.follow_up_to, stock_horizon(crm) - crm.replenish_to) + 1)


def reads_recent_only(*, session: Session, day: date, policy: Policy) -> bool:
    """Whether ``scan="auto"`` reads only the recent buyers' histories for ``day`` (two index counts)."""
    c = clock(session, policy.timezone, day)
    stmt = text("SELECT COUNT(*) FROM sale WHERE event_time >= :lo AND event_time < :hi AND counted").bindparams(
        bindparam("lo", type_=UTCDateTime()), bindparam("hi", type_=UTCDateTime())
    )
    recent = session.execute(stmt, {"lo": c.start(_earliest(day, policy.crm)), "hi": c.end(day)}).scalar_one()
    members = session.execute(text("SELECT COUNT(*) FROM member")).scalar_one()
    return int(recent) * RECENT_SHARE < int(members)


def _stock_days(c: Clock, crm: CrmPolicy) -> str:
    """The members whose window can hold day ``:dn``, from ``member_stock`` (:mod:`crm.stock`, refreshed first):
    index ranges on the first purchase day and on the run-out; a member who bought after the day (generation for a
    past day) is computed from her sales up to ``:hi`` instead, as the full read does (none on the day itself)."""
    later = "s.member_hash IN (SELECT l.member_hash FROM member_stock l WHERE l.last_day > :dn)"
    return f"""
        SELECT ms.member_hash, ms.first_day, ms.last_day, ms.run_out FROM member_stock ms
        WHERE ms.first_day >= :f_lo AND ms.first_day <= :f_hi AND ms.last_day <= :dn
        UNION
        SELECT ms.member_hash, ms.first_day, ms.last_day, ms.run_out FROM member_stock ms
        WHERE ms.run_out >= :r_lo AND ms.run_out <= :r_hi AND ms.last_day <= :dn
        UNION ALL
        {history_sql(c, crm, who=later, until="s.event_time < :hi")}"""


def generate_tasks(
    *, session: Session, day: date, policy: Policy, now: datetime | None = None, scan: str = "stock"
) -> int:
    """Insert the tasks whose window holds ``day`` (local) and that do not exist yet; the number inserted.

    ``scan="stock"`` (the default) refreshes the per-member stock summary (:func:`crm.stock.refresh`: the sales
    since the last refresh) and reads index ranges of it; ``"full"`` reads every member's history, the reference
    the others are held to; ``"recent"`` only the histories of members who bought since :func:`_earliest`;
    ``"auto"`` whichever of those two reads less (:func:`reads_recent_only`). All make the same tasks."""
    if scan not in SCANS:
        raise ValueError(f"scan must be one of {', '.join(SCANS)}, not {scan!r}")
    if scan == "stock":
        refresh(session=session, day=day, policy=policy)
    recent = scan == "recent" or (scan == "auto" and reads_recent_only(session=session, day=day, policy=policy))
    crm = policy.crm
    c = clock(session, policy.timezone, day)
    horizon = stock_horizon(crm)
    cand = """
        SELECT m.id AS member_id, m.home_store_id AS store_id, '{kind}' AS kind, {opens} AS opens, {due} AS due,
               '{reason}' AS reason, {basis} AS basis, {units} AS units
        FROM agg a JOIN member m ON m.phone_hash = a.member_hash
        WHERE {opens} <= :dn AND :dn <= {due}{extra}"""
    follow = cand.format(kind=TaskKind.follow_up.value, opens="a.first_day + :ff", due="a.first_day + :ft",
                         reason="first_purchase", basis="a.first_day", units=_units_on(c, "a.first_day"),
                         extra="")  # fmt: skip
    refill = cand.format(kind=TaskKind.replenish.value, opens="a.run_out - :rf", due="a.run_out - :rt",
                         reason="run_out", basis="a.run_out", units=_units_on(c, "a.last_day"),
                         extra=" AND a.run_out - a.last_day <= :h")  # fmt: skip
    # INSERT first and its SELECT with the CTEs: the drivers count the rows of a statement that starts with INSERT.
    sql = f"""
        INSERT INTO crm_task (member_id, store_id, kind, opens, due, reason, basis, units, status, created_at, note)
        WITH agg AS ({_stock_days(c, crm) if scan == "stock" else _member_days(c, crm, recent=recent)}),
        cand AS ({follow} UNION ALL {refill})
        SELECT cand.member_id, cand.store_id, cand.kind, {c.date_of_day("cand.opens")}, {c.date_of_day("cand.due")},
               cand.reason, {c.date_of_day("cand.basis")}, cand.units, 'open', :now, ''
        FROM cand
        WHERE NOT EXISTS (SELECT 1 FROM crm_task t WHERE t.member_id = cand.member_id AND t.status = 'do_not_call')
        ON CONFLICT (member_id, kind, opens) DO NOTHING"""
    stmt = text(sql).bindparams(bindparam("hi", type_=UTCDateTime()), bindparam("now", type_=UTCDateTime()))
    params: dict[str, Any] = {"hi": c.end(day), "now": now or utcnow(), "dn": c.number(day), "h": horizon,
                              "ff": crm.follow_up_from, "ft": crm.follow_up_to, "rf": crm.replenish_from,
                              "rt": crm.replenish_to}  # fmt: skip
    if scan == "stock":
        dn = params["dn"]
        params.update(f_lo=dn - crm.follow_up_to, f_hi=dn - crm.follow_up_from, r_lo=dn + crm.replenish_to,
                      r_hi=dn + crm.replenish_from)  # fmt: skip
    if recent:
        params["lo"] = c.start(_earliest(day, crm))
        stmt = stmt.bindparams(bindparam("lo", type_=UTCDateTime()))
    result: Any = session.execute(stmt, params)
    session.flush()
    return max(int(result.rowcount), 0)


def task_view(task: Task, member: Member | None, lang: str = "en") -> dict[str, Any]:
    """A task as the API and the CLI give it, its reason in plain words in ``lang``."""
    return {
        "id": task.id,
        "member": task.member_id,
        "name": member.name if member is not None else None,
        "baby_stage": member.baby_stage if member is not None else None,
        "store": task.store_id,
        "kind": task.kind,
        "kind_text": word(f"kind.{task.kind}", lang),
        "opens": task.opens.isoformat(),
        "due": task.due.isoformat(),
        "status": task.status,
        "reason": task.reason,
        "reason_text": word(f"reason.{task.reason}", lang, basis=task.basis.isoformat(), units=task.units),
        "basis": task.basis.isoformat(),
        "units": task.units,
        "outcome_at": task.outcome_at.isoformat() if task.outcome_at else None,
        "outcome_by": task.outcome_by,
        "note": task.note,
    }


def list_tasks(
    *, session: Session, principal: Principal, day: date, store_id: str | None = None, lang: str = "en"
) -> list[dict[str, Any]]:
    """The tasks on the list on ``day`` (its window holds the day), whatever their status, due first."""
    target = _scope(principal, store_id)
    stmt = (
        select(Task, Member)
        .join(Member, col(Member.id) == col(Task.member_id))
        .where(col(Task.opens) <= day, col(Task.due) >= day)
    )
    if target is not None:
        stmt = stmt.where(Task.store_id == target)
    stmt = stmt.order_by(col(Task.store_id), col(Task.due), col(Task.kind), col(Task.id))
    return [task_view(t, m, lang) for t, m in session.exec(stmt).all()]


def record_outcome(
    *,
    session: Session,
    principal: Principal,
    task_id: int,
    status: str,
    note: str = "",
    by: str | None = None,
    lang: str = "en",
    now: datetime | None = None,
) -> dict[str, Any]:
    """Record what came of a call (a store: its own tasks only); a later outcome replaces an earlier one."""
    if status not in OUTCOMES:
        raise InvalidOutcome.keyed(_MESSAGES, "invalid_outcome", status=status, allowed=", ".join(OUTCOMES),
                                   detail={"field": "status", "reason": "invalid_outcome"})  # fmt: skip
    task = session.get(Task, task_id)
    if task is None or not (principal.role is Role.store or principal.sees_all):
        raise TaskNotFound.keyed(_MESSAGES, "task_not_found", id=task_id)
    if principal.role is Role.store and task.store_id != principal.party_id:
        # another store's task: not even its existence
        raise TaskNotFound.keyed(_MESSAGES, "task_not_found", id=task_id)
    if principal.role not in (Role.store, Role.admin):
        raise Forbidden.keyed(_WORDS, "record_role", role=principal.role.value, detail={"role": principal.role.value})
    task.status = status
    task.note = " ".join(note.split())[:500]
    task.outcome_at = now or utcnow()
    task.outcome_by = by or f"{principal.role.value}:{principal.party_id}"
    session.add(task)
    session.flush()
    return task_view(task, session.get(Member, task.member_id), lang)


# --- effect -----------------------------------------------------------------------------------------------------


def _rate(part: int, whole: int) -> str | None:
    if whole == 0:
        return None
    return str((Decimal(part) / Decimal(whole)).quantize(Decimal("0.0001"), rounding=ROUND_HALF_EVEN))


@dataclass
class EffectLine:
    """Worked versus unworked tasks of one store (or all): how many, and how many were followed by a purchase."""

    store: str | None
    worked: int = 0
    worked_repurchased: int = 0
    unworked: int = 0
    unworked_repurchased: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "store": self.store,
            "worked": self.worked,
            "worked_repurchased": self.worked_repurchased,
            "worked_rate": _rate(self.worked_repurchased, self.worked),
            "unworked": self.unworked,
            "unworked_repurchased": self.unworked_repurchased,
            "unworked_rate": _rate(self.unworked_repurchased, self.unworked),
        }


@dataclass
class Effect:
    start: date
    end: date
    effect_days: int
    stores: list[EffectLine]
    overall: EffectLine

    def as_dict(self) -> dict[str, Any]:
        return {"from": self.start.isoformat(), "to": self.end.isoformat(), "effect_days": self.effect_days,
                "overall": self.overall.as_dict(), "stores": [s.as_dict() for s in self.stores]}  # fmt: skip


def task_effect(
    *,
    session: Session,
    principal: Principal,
    start: date,
    end: date,
    policy: Policy,
    store_id: str | None = None,
    lang: str = "en",
) -> Effect:
    """Repurchase rates of tasks whose window opened from ``start`` to ``end``: a task is repurchased when the member
    bought from its window's first day to ``effect_days`` after its due day; worked versus not, by store and all."""
    if start > end or (end - start).days > MAX_EFFECT_DAYS:
        raise InvalidRange.keyed(_MESSAGES, "bad_range", start=start, end=end, max=MAX_EFFECT_DAYS,
                                 detail={"reason": "bad_range"})  # fmt: skip
    target = _scope(principal, store_id)
    c = clock(session, policy.timezone, end)
    only = "AND t.store_id = :store" if target is not None else ""
    sql = f"""
        SELECT t.store_id, CASE WHEN t.status IN ({", ".join(f"'{s}'" for s in WORKED)}) THEN 1 ELSE 0 END AS worked,
               COUNT(*) AS tasks,
               SUM(CASE WHEN EXISTS (
                   SELECT 1 FROM sale s
                   WHERE s.member_hash = m.phone_hash AND s.counted
                     AND s.event_time >= :lo AND s.event_time < :hi
                     AND {c.day("s.event_time")} BETWEEN {c.day_of_date("t.opens")}
                                                   AND {c.day_of_date("t.due")} + :e
               ) THEN 1 ELSE 0 END) AS repurchased
        FROM crm_task t JOIN member m ON m.id = t.member_id
        WHERE t.opens >= :start AND t.opens <= :end {only}
        GROUP BY t.store_id, CASE WHEN t.status IN ({", ".join(f"'{s}'" for s in WORKED)}) THEN 1 ELSE 0 END
        ORDER BY t.store_id"""
    stmt = text(sql).bindparams(
        bindparam("start", type_=Date()), bindparam("end", type_=Date()),
        bindparam("lo", type_=UTCDateTime()), bindparam("hi", type_=UTCDateTime()),
    )  # fmt: skip
    e = policy.crm.effect_days
    # The sales that can count lie between the first window's opening and the last one's due day plus the effect
    # days (a window is at most a year long): the time range lets the database use the sale time index.
    params: dict[str, Any] = {"start": start, "end": end, "e": e, "lo": c.start(start),
                              "hi": c.end(end + timedelta(days=366 + e))}  # fmt: skip
    if target is not None:
        params["store"] = target
    lines: dict[str, EffectLine] = {}
    overall = EffectLine(store=None)
    for store, worked, tasks, repurchased in session.execute(stmt, params).all():
        line = lines.setdefault(store, EffectLine(store=store))
        for target_line in (line, overall):
            if worked:
                target_line.worked += int(tasks)
                target_line.worked_repurchased += int(repurchased or 0)
            else:
                target_line.unworked += int(tasks)
                target_line.unworked_repurchased += int(repurchased or 0)
    return Effect(start=start, end=end, effect_days=e, stores=list(lines.values()), overall=overall)
