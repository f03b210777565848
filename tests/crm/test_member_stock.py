"""The per-member stock summary (``member_stock``) kept up to date incrementally equals the from-scratch computation,
and task generation on it makes exactly the tasks of the full read.

Purchase histories arrive in random order (late sales with an older time than a member's last purchase), with
refreshes in between, and folded-in sales deleted (a retraction) or recounted (``counted`` moving to another sale
of the unit) behind the summary's back: the triggers on ``sale`` must mark those members for the next refresh.
The reference is plain Python over the stored rows (``crm.consumption.run_out``), not the SQL under test.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, text, update
from sqlmodel import Session, col, select

from crm.consumption import run_out
from crm.sql import EPOCH
from crm.stock import refresh
from crm.tasks import generate_tasks
from rebates.policy import Policy
from tests.crm.helpers import Shop
from tests.crm.test_generation_scale import D0, POLICIES, Buy, Row, _load, buy, stored
from tests.crm.test_generation_scale import shop as shop  # noqa: F401  (the fixture)
from tests.settlement.scenario import P1, P2
from traceability.models import MemberStock, MemberStockDirty, Sale, Task

Stock = dict[str, tuple[int, int, int]]
_serial = itertools.count(1)


def summary(session: Session) -> Stock:
    return {s.member_hash: (s.first_day, s.last_day, s.run_out) for s in session.exec(select(MemberStock))}


def from_scratch(session: Session, policy: Policy) -> Stock:
    """First and last purchase day and run-out (day numbers) per member, from the stored counted sales, in Python."""
    tz, crm = ZoneInfo(policy.timezone), policy.crm
    per: dict[str, list[tuple[date, int]]] = defaultdict(list)
    for s in session.exec(select(Sale).where(col(Sale.counted).is_(True), col(Sale.member_hash).is_not(None))):
        assert s.member_hash is not None
        when = s.event_time if s.event_time.tzinfo else s.event_time.replace(tzinfo=ZoneInfo("UTC"))
        per[s.member_hash].append((when.astimezone(tz).date(), crm.days_for(s.gtin)))
    out: Stock = {}
    for member, bought in per.items():
        end = run_out(bought)
        assert end is not None
        days = sorted(d for d, _ in bought)
        out[member] = ((days[0] - EPOCH).days, (days[-1] - EPOCH).days, (end - EPOCH).days)
    return out


def _tasks_of(session: Session, day: date, policy: Policy, scan: str) -> set[Row]:
    session.execute(delete(Task))
    generate_tasks(session=session, day=day, policy=policy, scan=scan)
    made = stored(session)
    session.execute(delete(Task))
    return made


near = st.builds(  # two members buying within two months: sales that land between her first and last purchase
    Buy,
    member=st.integers(0, 1),
    day=st.integers(0, 60),
    units=st.integers(1, 4),
    gtin=st.sampled_from([P1, P2]),
    hour=st.sampled_from([1, 10, 17, 23]),
    counted=st.sampled_from([True, True, True, False]),
)
step = st.tuples(
    st.one_of(buy, near, near),  # a purchase arrives (in no particular order of its day)
    st.sampled_from(["", "", "", "delete", "flip"]),  # a stored sale of a member deleted, or its counted turned over
    st.integers(0, 10_000),  # ... which one, by position
    st.one_of(st.none(), st.integers(-20, 100)),  # then a refresh: task generation for the latest day loaded + this
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(step, min_size=2, max_size=25), policy=st.sampled_from(sorted(POLICIES)))
def test_the_incremental_summary_equals_the_computation_from_scratch(
    session: Session, shop: Shop, steps: list[tuple[Buy, str, int, int | None]], policy: str
) -> None:
    p = POLICIES[policy]
    with session.begin_nested() as example:  # each example from the same empty network
        names = [f"s{i}-{next(_serial)}" for i in range(4)]
        for n in names:
            shop.member(n)
        latest = 0
        for purchase, change, which, ahead in [*steps, (None, "", 0, 0)]:
            if purchase is not None:
                _load(session, shop, names, [purchase])
                latest = max(latest, purchase.day)
            ids = list(session.exec(select(Sale.id).where(col(Sale.member_hash).is_not(None)).order_by(col(Sale.id))))
            if change and ids:
                row = ids[which % len(ids)]
                if change == "delete":
                    session.execute(delete(Sale).where(col(Sale.id) == row))
                else:
                    session.execute(update(Sale).where(col(Sale.id) == row).values(counted=~col(Sale.counted)))
                session.expire_all()
            if ahead is None:
                continue
            run_day = D0 + timedelta(days=max(latest + ahead, 0))
            # generation refreshes first; the tasks are those of the full read, on the summary or past it
            assert _tasks_of(session, run_day, p, "stock") == _tasks_of(session, run_day, p, "full")
            assert summary(session) == from_scratch(session, p)
            assert session.exec(select(MemberStockDirty)).all() == []
        example.rollback()


def test_a_late_sale_is_folded_in_by_recomputing_her_and_a_day_by_extending(session: Session, shop: Shop) -> None:
    p = Policy()
    shop.member("a")
    names = ["a"]
    _load(session, shop, names, [Buy(0, 10, 3, P1, 10)])
    first = refresh(session=session, day=D0 + timedelta(days=10), policy=p)
    assert first.rebuilt
    _load(session, shop, names, [Buy(0, 12, 1, P1, 10)])  # a day later: extends her figures
    second = refresh(session=session, day=D0 + timedelta(days=12), policy=p)
    assert (second.rebuilt, second.extended, second.recomputed) == (False, 1, 0)
    _load(session, shop, names, [Buy(0, 2, 2, P1, 10)])  # arrives late, older than her last purchase
    third = refresh(session=session, day=D0 + timedelta(days=12), policy=p)
    assert (third.rebuilt, third.extended, third.recomputed) == (False, 0, 1)
    assert summary(session) == from_scratch(session, p)
    d = lambda n: (D0 + timedelta(days=n) - EPOCH).days  # noqa: E731
    # day 2: 2 x 7 -> day 16; day 10: 3 x 7 more -> 37; day 12: 1 x 7 more -> 44 (overlapping purchases add up)
    # ... but the late sale's 14 days run before day 10's: 16 + 21 = 37, then 37 + 7 = 44
    assert summary(session)[shop.hashes["a"]] == (d(2), d(12), d(44))


def test_a_retracted_sale_marks_her_and_the_next_refresh_recomputes_her(session: Session, shop: Shop) -> None:
    p = Policy()
    shop.member("a")
    _load(session, shop, ["a"], [Buy(0, 1, 2, P1, 10), Buy(0, 5, 1, P1, 10)])
    refresh(session=session, day=D0 + timedelta(days=5), policy=p)
    gone = session.exec(select(Sale.id).where(Sale.member_hash == shop.hashes["a"]).order_by(col(Sale.id))).first()
    session.execute(delete(Sale).where(col(Sale.id) == gone))
    assert [m.member_hash for m in session.exec(select(MemberStockDirty))] == [shop.hashes["a"]]
    again = refresh(session=session, day=D0 + timedelta(days=5), policy=p)
    assert (again.extended, again.recomputed) == (0, 1)
    assert summary(session) == from_scratch(session, p)


def test_a_sale_that_takes_a_deleted_sales_id_is_folded_in(session: Session, shop: Shop) -> None:
    """SQLite hands a deleted row's id out again (the newest one, without AUTOINCREMENT): a new sale at or below the
    folded-in id must mark its member, or the watermark would skip her purchase for good."""
    p = Policy()
    shop.member("a")
    shop.member("b")
    _load(session, shop, ["a", "b"], [Buy(0, 1, 2, P1, 10), Buy(0, 5, 1, P1, 10)])
    refresh(session=session, day=D0 + timedelta(days=5), policy=p)
    latest = session.exec(
        select(Sale.id).where(Sale.member_hash == shop.hashes["a"]).order_by(col(Sale.id).desc())
    ).first()
    session.execute(delete(Sale).where(col(Sale.id) >= latest))  # her latest sale retracted, and the rows after it
    _load(session, shop, ["a", "b"], [Buy(1, 6, 1, P1, 10)])  # the next customer's sale, under that very id on SQLite
    refresh(session=session, day=D0 + timedelta(days=6), policy=p)
    assert shop.hashes["b"] in summary(session)
    assert summary(session) == from_scratch(session, p)


@pytest.mark.parametrize("other", ["shanghai", "wide"])
def test_another_basis_rebuilds_the_summary(session: Session, shop: Shop, other: str) -> None:
    shop.member("a")
    _load(session, shop, ["a"], [Buy(0, 1, 2, P1, 23), Buy(0, 3, 1, P1, 10)])
    assert refresh(session=session, day=D0, policy=Policy()).rebuilt
    assert not refresh(session=session, day=D0, policy=Policy()).rebuilt
    assert refresh(session=session, day=D0, policy=POLICIES[other]).rebuilt
    assert summary(session) == from_scratch(session, POLICIES[other])
    folded = session.execute(text("SELECT folded_id FROM member_stock_state")).scalar_one()
    assert folded == session.execute(text("SELECT MAX(id) FROM sale")).scalar_one()
