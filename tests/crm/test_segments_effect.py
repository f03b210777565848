"""Segments and tiers against a hand count on a small network; the effect of worked calls against a hand count."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlmodel import Session, select

from crm.errors import InvalidRange, NotOwnStore
from crm.segments import iter_segments, segment_summary
from crm.tasks import generate_tasks, record_outcome, task_effect
from rebates.policy import CrmPolicy, CrmTier, Policy
from tests.crm.helpers import Shop, seed
from tests.members.helpers import ADMIN, DISTRIBUTOR, GZ, NJ
from tests.settlement.scenario import P2
from traceability.errors import Forbidden
from traceability.models import Task

D0 = date(2026, 1, 1)
AS_OF = date(2026, 6, 30)
# loyal: 3 purchases, bought within 90 days; advocate: 4 purchases, 1,000 CNY, 2 cans a purchase, within 30 days
POLICY = Policy(crm=CrmPolicy(
    loyal=CrmTier(min_frequency=3, max_recency_days=90),
    advocate=CrmTier(min_frequency=4, min_monetary=Decimal("1000"), max_recency_days=30,
                     min_units_per_purchase=Decimal("2")),
))  # fmt: skip


def day(n: int) -> date:
    return D0 + timedelta(days=n)


@pytest.fixture
def shop(session: Session, settings) -> Shop:
    seed(session)
    return Shop(session, settings.key_dir)


def test_tiers_and_active_members_equal_a_hand_count(session: Session, shop: Shop) -> None:
    last = (AS_OF - D0).days  # day number of the as-of day
    shop.member("new")  # potential: no purchase
    shop.member("old")  # ordinary, inactive: one can, 150 days ago
    shop.buy("old", day(last - 150))
    shop.member("loyal")  # loyal: 3 purchases of 1 can, the last 10 days ago (value 804 < 1,000; 1 can each)
    for d in (last - 70, last - 40, last - 10):
        shop.buy("loyal", day(d))
    shop.member("adv", store="S-NJ-1")  # advocate: 4 purchases of 2 cans (8 x 268 = 2,144), last 5 days ago
    for d in (last - 80, last - 60, last - 30, last - 5):
        shop.buy("adv", day(d), 2)
    shop.member("lapsed")  # loyal by count but last bought 100 days ago: ordinary, inactive
    for d in (last - 160, last - 130, last - 100):
        shop.buy("lapsed", day(d), 1, gtin=P2)
    shop.member("later")  # bought after the as-of day only: still potential then
    shop.buy("later", day(last + 1))
    rows = {r["member"]: r for r in iter_segments(session=session, principal=ADMIN, as_of=AS_OF, policy=POLICY)}
    ids = shop.ids
    got = {name: (rows[i]["tier"], rows[i]["active"], rows[i]["recency_days"], rows[i]["frequency"],
                  rows[i]["monetary"]) for name, i in ids.items()}  # fmt: skip
    assert got == {
        "new": ("potential", False, None, 0, "0.00"),
        "old": ("ordinary", False, 150, 1, "268.00"),
        "loyal": ("loyal", True, 10, 3, "804.00"),
        "adv": ("advocate", True, 5, 4, "2144.00"),
        "lapsed": ("ordinary", False, 100, 3, "298.50"),
        "later": ("potential", False, None, 0, "0.00"),
    }
    assert rows[ids["adv"]]["units_per_purchase"] == "2.00" and rows[ids["adv"]]["store"] == "S-NJ-1"
    summary = segment_summary(session=session, principal=ADMIN, as_of=AS_OF, policy=POLICY).as_dict()
    assert (summary["members"], summary["active"]) == (6, 2)
    assert summary["tiers"] == {"potential": 2, "ordinary": 2, "loyal": 1, "advocate": 1}
    assert [(s["store"], s["members"], s["active"]) for s in summary["stores"]] == [("S-GZ-1", 5, 1), ("S-NJ-1", 1, 1)]
    own = [r["member"] for r in iter_segments(session=session, principal=NJ, as_of=AS_OF, policy=POLICY)]
    assert own == [ids["adv"]]
    with pytest.raises(NotOwnStore):
        list(iter_segments(session=session, principal=GZ, as_of=AS_OF, policy=POLICY, store_id="S-NJ-1"))
    with pytest.raises(Forbidden):
        list(iter_segments(session=session, principal=DISTRIBUTOR, as_of=AS_OF, policy=POLICY))


def test_worked_calls_against_unworked_ones(session: Session, shop: Shop) -> None:
    policy = Policy(crm=CrmPolicy(effect_days=3))
    names = ["a", "b", "c", "d", "e", "f", "g"]
    for name in names[:4]:
        shop.member(name)
    for name in names[4:]:
        shop.member(name, store="S-NJ-1")
    for name in names:
        shop.buy(name, day(0), 2)  # follow-up window: days 3..5; effect counts purchases up to day 8
    generate_tasks(session=session, day=day(3), policy=policy)
    task_of = {t.member_id: int(t.id or 0) for t in session.exec(select(Task)).all()}
    ids = shop.ids
    outcome = {"a": "reached", "b": "bought", "c": "not_reached", "e": "declined", "f": "not_reached"}  # d, g: open
    for name, status in outcome.items():
        record_outcome(session=session, principal=ADMIN, task_id=task_of[ids[name]], status=status)
    shop.buy("a", day(4))  # worked, bought in the window
    shop.buy("b", day(8))  # worked, bought on the last day that counts
    shop.buy("c", day(6))  # not reached, bought anyway
    shop.buy("e", day(9))  # worked, too late to count
    shop.buy("g", day(2))  # open, bought before the window: does not count
    result = task_effect(session=session, principal=ADMIN, start=day(0), end=day(10), policy=policy).as_dict()
    # by hand: GZ worked a, b (2 of 2 bought again), unworked c, d (1 of 2); NJ worked e (0 of 1), unworked f, g (0/2)
    assert result["stores"] == [
        {"store": "S-GZ-1", "worked": 2, "worked_repurchased": 2, "worked_rate": "1.0000",
         "unworked": 2, "unworked_repurchased": 1, "unworked_rate": "0.5000"},
        {"store": "S-NJ-1", "worked": 1, "worked_repurchased": 0, "worked_rate": "0.0000",
         "unworked": 2, "unworked_repurchased": 0, "unworked_rate": "0.0000"},
    ]  # fmt: skip
    assert result["overall"] == {"store": None, "worked": 3, "worked_repurchased": 2, "worked_rate": "0.6667",
                                 "unworked": 4, "unworked_repurchased": 1, "unworked_rate": "0.2500"}  # fmt: skip
    nj = task_effect(session=session, principal=NJ, start=day(0), end=day(10), policy=policy)
    assert [s.store for s in nj.stores] == ["S-NJ-1"]
    assert task_effect(session=session, principal=ADMIN, start=day(4), end=day(10), policy=policy).overall.worked == 0
    with pytest.raises(InvalidRange):
        task_effect(session=session, principal=ADMIN, start=day(10), end=day(0), policy=policy)
