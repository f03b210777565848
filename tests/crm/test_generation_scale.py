"""Task generation reads only the members who bought recently: it must make exactly the tasks a full scan makes.

The restricted run (``scan="recent"``) reads the histories of members with a sale since the earliest day a window
holding the run day can rest on; ``scan="full"`` reads every member's; ``"auto"`` (the default) picks one. Both are
held to a plain-Python reference of the rules (``crm.consumption.run_out`` and the policy's windows) on random
purchase histories: long ones, gaps, stocking up past the horizon, sales at night that fall on the next local day,
uncounted sales and sales without a member.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete
from sqlmodel import Session, col, select

from crm.consumption import run_out
from crm.tasks import HORIZON_UNITS, generate_tasks, reads_recent_only, stock_horizon
from rebates.policy import CrmPolicy, Policy
from tests.crm.helpers import Shop, seed
from tests.settlement.scenario import P1, P2, capture, event, unit
from traceability.models import Sale, Task

D0 = date(2026, 1, 1)
POLICIES = {
    "default": Policy(),
    "shanghai": Policy(timezone="Asia/Shanghai", crm=CrmPolicy(days_per_gtin={P2: 3})),
    "wide": Policy(
        crm=CrmPolicy(follow_up_from=0, follow_up_to=9, replenish_from=9, replenish_to=0, days_per_gtin={P2: 30})
    ),  # fmt: skip
}
_serial = itertools.count(1)

Row = tuple[int, str, str, date, date, date, int]


@dataclass(frozen=True)
class Buy:
    member: int
    day: int
    units: int
    gtin: str
    hour: int
    counted: bool = True


@pytest.fixture
def shop(session: Session, settings) -> Shop:
    seed(session)
    return Shop(session, settings.key_dir)


def _event_pk(session: Session) -> int:
    """A stored sale event for the rows below to point at (a sale without a member: no CRM figure reads it)."""
    capture(session, event("retail_selling", [unit(P1, f"G{next(_serial)}")], "S-GZ-1", "2025-06-01T10:00:00Z"))
    sale = session.exec(select(Sale).where(col(Sale.member_hash).is_(None))).first()
    assert sale is not None
    return sale.event_pk


def _load(session: Session, shop: Shop, names: list[str], buys: list[Buy]) -> None:
    """The sale facts of ``buys`` as rows (one event per purchase, one row per unit), plus noise no rule may read."""
    pk = _event_pk(session)
    for b in buys:
        when = datetime.combine(D0 + timedelta(days=b.day), time(b.hour), UTC)
        occasion = f"urn:uuid:prop-{next(_serial)}"
        for _ in range(b.units):
            session.add(Sale(unit_key=f"U{next(_serial)}", gtin=b.gtin, store_id="S-GZ-1", event_pk=pk,
                             event_id=occasion, event_time=when, member_hash=shop.hashes[names[b.member]],
                             counted=b.counted))  # fmt: skip
    session.add(Sale(unit_key=f"U{next(_serial)}", gtin=P1, store_id="S-GZ-1", event_pk=pk, event_id="urn:uuid:x",
                     event_time=datetime.combine(D0, time(9), UTC), member_hash=None, counted=True))  # fmt: skip
    session.flush()


def expected(buys: list[Buy], names: list[str], ids: dict[str, int], homes: dict[str, str], run_days: list[int],
             policy: Policy) -> set[Row]:  # fmt: skip
    """The tasks the rules make for ``run_days``, by hand: first window wins per (member, kind, opens)."""
    crm, tz = policy.crm, ZoneInfo(policy.timezone)
    horizon = stock_horizon(crm)
    made: dict[tuple[int, str, date], Row] = {}
    for n in sorted(set(run_days)):
        d = D0 + timedelta(days=n)
        per: dict[int, list[tuple[date, int, int]]] = defaultdict(list)
        for b in buys:
            local = datetime.combine(D0 + timedelta(days=b.day), time(b.hour), UTC).astimezone(tz).date()
            if b.counted and local <= d:
                per[b.member].append((local, b.units, b.units * crm.days_for(b.gtin)))
        for m, bought in per.items():
            name = names[m]
            first, last = min(x[0] for x in bought), max(x[0] for x in bought)
            first_units = sum(u for day, u, _ in bought if day == first)
            last_units = sum(u for day, u, _ in bought if day == last)
            opens, due = first + timedelta(days=crm.follow_up_from), first + timedelta(days=crm.follow_up_to)
            if opens <= d <= due:
                made.setdefault((ids[name], "follow_up", opens),
                                (ids[name], "follow_up", homes[name], opens, due, first, first_units))  # fmt: skip
            end = run_out((day, days) for day, _, days in bought)
            assert end is not None
            opens, due = end - timedelta(days=crm.replenish_from), end - timedelta(days=crm.replenish_to)
            if opens <= d <= due and (end - last).days <= horizon:
                made.setdefault((ids[name], "replenish", opens),
                                (ids[name], "replenish", homes[name], opens, due, end, last_units))  # fmt: skip
    return set(made.values())


def stored(session: Session) -> set[Row]:
    return {(t.member_id, t.kind, t.store_id, t.opens, t.due, t.basis, t.units) for t in session.exec(select(Task))}


def run(session: Session, run_days: list[int], policy: Policy, *, scan: str) -> set[Row]:
    session.execute(delete(Task))
    for n in run_days:
        generate_tasks(session=session, day=D0 + timedelta(days=n), policy=policy, scan=scan)
    return stored(session)


buy = st.builds(
    Buy,
    member=st.integers(0, 3),
    day=st.integers(0, 200),
    units=st.one_of(st.integers(1, 4), st.integers(10, 16)),  # now and then a stock past the horizon (13 cans)
    gtin=st.sampled_from([P1, P2]),
    hour=st.sampled_from([1, 10, 15, 16, 17, 23]),  # 16:00 UTC and later is the next day in Shanghai
    counted=st.sampled_from([True, True, True, False]),
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    buys=st.lists(buy, min_size=1, max_size=30),
    run_days=st.lists(st.integers(0, 320), min_size=1, max_size=12),
    policy=st.sampled_from(sorted(POLICIES)),
)
def test_the_restricted_run_makes_exactly_the_tasks_of_the_full_scan(
    session: Session, shop: Shop, buys: list[Buy], run_days: list[int], policy: str
) -> None:
    with session.begin_nested() as example:  # each example from the same empty network
        names = [f"m{i}-{next(_serial)}" for i in range(4)]
        homes = {n: ("S-GZ-1", "S-NJ-1")[i % 2] for i, n in enumerate(names)}
        for n in names:
            shop.member(n, store=homes[n])
        _load(session, shop, names, buys)
        want = expected(buys, names, shop.ids, homes, run_days, POLICIES[policy])
        restricted = run(session, run_days, POLICIES[policy], scan="recent")
        full = run(session, run_days, POLICIES[policy], scan="full")
        assert restricted == full == want
        assert run(session, run_days, POLICIES[policy], scan="auto") == want
        example.rollback()


def test_the_restricted_run_reads_the_whole_history_of_a_recent_buyer(session: Session, shop: Shop) -> None:
    """Stock bought long before the horizon still counts for a member who bought since: 2 cans every 13 days for
    300 days keep adding a day of stock each time, so her run-out rests on her first purchase."""
    shop.member("slow")
    shop.member("gone")  # 20 cans 100 days before the run day: stocking up, past the horizon - no call
    names = ["slow", "gone"]
    buys = [Buy(0, d, 2, P1, 10) for d in range(0, 300, 13)] + [Buy(1, 200, 20, P1, 10)]
    _load(session, shop, names, buys)
    run_days = list(range(290, 340))
    want = expected(buys, names, shop.ids, {"slow": "S-GZ-1", "gone": "S-GZ-1"}, run_days, Policy())
    refill = sorted(r[3] for r in want if r[1] == "replenish")
    # her last purchase is day 299 (2 cans, 14 days) but 23 purchases left 23 days more: run-out on day 336
    assert refill == [D0 + timedelta(days=336 - 5)]
    assert run(session, run_days, Policy(), scan="recent") == want
    assert stock_horizon(Policy().crm) == HORIZON_UNITS * 7 == 91


def test_a_stock_at_the_horizon_is_called_and_one_past_it_is_not(session: Session, shop: Shop) -> None:
    shop.member("thirteen")
    shop.member("fourteen")
    _load(session, shop, ["thirteen", "fourteen"], [Buy(0, 0, 13, P1, 10), Buy(1, 0, 14, P1, 10)])
    made = run(session, list(range(0, 100)), Policy(), scan="recent")
    assert sorted((r[0], r[1], r[3]) for r in made) == [
        (shop.ids["thirteen"], "follow_up", D0 + timedelta(days=3)),
        (shop.ids["thirteen"], "replenish", D0 + timedelta(days=91 - 5)),  # 13 cans x 7 days: the horizon itself
        (shop.ids["fourteen"], "follow_up", D0 + timedelta(days=3)),
    ]


def test_auto_reads_recent_buyers_only_when_they_are_few(session: Session, shop: Shop) -> None:
    for i in range(8):
        shop.member(f"quiet{i}")  # registered, never bought: eight histories the recent read never opens
    shop.member("buyer")
    names = [f"quiet{i}" for i in range(8)] + ["buyer"]
    _load(session, shop, names, [Buy(8, 0, 1, P1, 10)])
    d = D0 + timedelta(days=3)
    # one recent sale (and one old noise row) for nine members: fewer than a quarter, so the recent read
    assert reads_recent_only(session=session, day=d, policy=Policy())
    _load(session, shop, names, [Buy(8, 1, 2, P1, 10)])  # three recent sales for nine members: no longer
    assert not reads_recent_only(session=session, day=d, policy=Policy())
    with pytest.raises(ValueError, match="scan must be one of"):
        generate_tasks(session=session, day=d, policy=Policy(), scan="sometimes")
