"""Clerk tasks on a controllable clock: follow-ups, replenishment before the run-out, outcomes, idempotency."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete
from sqlmodel import Session, col, select

from crm.consumption import member_days, run_out
from crm.errors import InvalidOutcome, NotOwnStore, TaskNotFound
from crm.tasks import generate_tasks, list_tasks, record_outcome
from rebates.policy import CrmPolicy, Policy
from tests.crm.helpers import Shop, seed
from tests.members.helpers import ADMIN, AUDITOR, GZ, NJ
from traceability.models import Task

D0 = date(2026, 4, 1)
POLICY = Policy()
NOW = datetime(2026, 4, 1, tzinfo=UTC)


def day(n: int) -> date:
    return D0 + timedelta(days=n)


def tasks(session: Session) -> list[tuple[int, str, str, date, date, str]]:
    rows = session.exec(select(Task).order_by(col(Task.member_id), col(Task.kind), col(Task.opens))).all()
    return [(t.member_id, t.kind, t.store_id, t.opens, t.due, t.status) for t in rows]


@pytest.fixture
def shop(session: Session, settings) -> Shop:
    seed(session)
    return Shop(session, settings.key_dir)


def test_a_first_purchase_makes_one_follow_up_on_day_3(session: Session, shop: Shop) -> None:
    wang = shop.member("王芳")
    shop.buy("王芳", day(0))
    assert generate_tasks(session=session, day=day(1), policy=POLICY, now=NOW) == 0
    # one can lasts 7 days: her run-out (day 7) is 5 days away on day 2, so a replenishment call opens then too
    assert generate_tasks(session=session, day=day(2), policy=POLICY, now=NOW) == 1
    assert generate_tasks(session=session, day=day(3), policy=POLICY, now=NOW) == 1
    assert tasks(session) == [(wang, "follow_up", "S-GZ-1", day(3), day(5), "open"),
                              (wang, "replenish", "S-GZ-1", day(2), day(5), "open")]  # fmt: skip
    for d in (3, 4, 5, 3, 2):
        assert generate_tasks(session=session, day=day(d), policy=POLICY, now=NOW) == 0
    assert generate_tasks(session=session, day=day(6), policy=POLICY, now=NOW) == 0
    assert len(tasks(session)) == 2
    listed = list_tasks(session=session, principal=GZ, day=day(4), lang="zh-CN")
    assert [(t["member"], t["kind"], t["due"], t["status"]) for t in listed] == [
        (wang, "follow_up", "2026-04-06", "open"), (wang, "replenish", "2026-04-06", "open")]  # fmt: skip
    assert listed[0]["reason_text"] == "2026-04-01 首次购买 1 罐：回访宝宝食用情况"
    assert listed[1]["reason_text"] == "预计 2026-04-08 用完（最近购买 1 罐）：提醒补货"
    assert list_tasks(session=session, principal=GZ, day=day(6)) == []


def test_a_second_purchase_is_no_first_one(session: Session, shop: Shop) -> None:
    shop.member("李娜")
    shop.buy("李娜", day(0))
    shop.buy("李娜", day(4))
    generate_tasks(session=session, day=day(7), policy=POLICY)  # 3 days after the second purchase: no follow-up
    assert tasks(session) == []


def test_three_cans_make_a_replenishment_task_at_the_home_store(session: Session, shop: Shop) -> None:
    li = shop.member("李娜", store="S-NJ-1")
    shop.buy("李娜", day(0), 3, store="S-GZ-1")  # bought away from home: the task still lands at home
    made = {d: generate_tasks(session=session, day=day(d), policy=POLICY) for d in range(0, 30)}
    refill = [t for t in tasks(session) if t[1] == "replenish"]
    # 3 cans x 7 days: she runs out on day 21; the call opens 5 days before (day 16) and is due 2 before (day 19)
    assert refill == [(li, "replenish", "S-NJ-1", day(16), day(19), "open")]
    assert made[16] == 1 and sum(made.values()) == 2  # and the follow-up on day 3
    assert member_days(session=session, phone_hash=shop.hashes["李娜"], as_of=day(16), policy=POLICY).run_out == day(21)
    assert [t["kind"] for t in list_tasks(session=session, principal=NJ, day=day(18))] == ["replenish"]
    assert list_tasks(session=session, principal=GZ, day=day(18)) == []


def test_overlapping_purchases_add_up(session: Session, shop: Shop) -> None:
    shop.member("张敏")
    shop.buy("张敏", day(0), 1)
    shop.buy("张敏", day(3), 2)
    shop.buy("张敏", day(40), 1)
    expected = run_out([(day(0), 7), (day(3), 14), (day(40), 7)])
    assert expected == day(47)
    assert run_out([(day(0), 7), (day(3), 14)]) == day(21)  # max(day 7, day 3) + 14
    got = member_days(session=session, phone_hash=shop.hashes["张敏"], as_of=day(40), policy=POLICY)
    assert (got.first_purchase, got.last_purchase, got.units, got.run_out) == (day(0), day(40), 4, expected)
    earlier = member_days(session=session, phone_hash=shop.hashes["张敏"], as_of=day(10), policy=POLICY)
    assert earlier.run_out == day(21) and earlier.units == 3


def test_days_per_gtin_and_the_policy_time_zone(session: Session, shop: Shop) -> None:
    from tests.settlement.scenario import P2

    policy = Policy(timezone="Asia/Shanghai", crm=CrmPolicy(days_per_gtin={P2: 3}))
    shop.member("陈静")
    shop.buy("陈静", day(0), 2, gtin=P2, hour="20:00:00Z")  # 04:00 on day 1 in Shanghai
    got = member_days(session=session, phone_hash=shop.hashes["陈静"], as_of=day(1), policy=policy)
    assert (got.first_purchase, got.run_out) == (day(1), day(7))
    generate_tasks(session=session, day=day(3), policy=policy)  # day 2 after her first purchase there
    assert [t[1] for t in tasks(session)] == ["replenish"]  # run-out day 7 (2 x 3 days): 4 days away
    generate_tasks(session=session, day=day(4), policy=policy)
    assert [(t[1], t[3]) for t in tasks(session)] == [("follow_up", day(4)), ("replenish", day(2))]


def test_outcomes_who_may_record_them_and_do_not_call(session: Session, shop: Shop) -> None:
    wang = shop.member("王芳")
    shop.buy("王芳", day(0), 2)
    generate_tasks(session=session, day=day(3), policy=POLICY)
    task_id = session.exec(select(Task.id)).one()
    assert task_id is not None
    with pytest.raises(TaskNotFound):  # another store's task
        record_outcome(session=session, principal=NJ, task_id=task_id, status="reached")
    with pytest.raises(InvalidOutcome):
        record_outcome(session=session, principal=GZ, task_id=task_id, status="open")
    with pytest.raises(TaskNotFound):
        record_outcome(session=session, principal=GZ, task_id=task_id + 1000, status="reached")
    with pytest.raises(NotOwnStore):
        list_tasks(session=session, principal=GZ, day=day(3), store_id="S-NJ-1")
    done = record_outcome(session=session, principal=GZ, task_id=task_id, status="do_not_call", note="  不需要  ",
                          now=NOW)  # fmt: skip
    assert (done["status"], done["outcome_by"], done["note"]) == ("do_not_call", "store:S-GZ-1", "不需要")
    assert len(list_tasks(session=session, principal=AUDITOR, day=day(3))) == 1
    shop.buy("王芳", day(4), 3)
    for d in range(4, 40):
        generate_tasks(session=session, day=day(d), policy=POLICY)
    assert [t[0:2] for t in tasks(session)] == [(wang, "follow_up")]  # she asked not to be called: nothing more


def test_a_crash_mid_run_loses_nothing_and_doubles_nothing(session: Session, shop: Shop) -> None:
    for name in ("a", "b", "c"):
        shop.member(name)
        shop.buy(name, day(0), 2)
    session.commit()
    with session.begin_nested() as crashed:  # the worker dies after its insert, before its commit
        assert generate_tasks(session=session, day=day(3), policy=POLICY) == 3
        crashed.rollback()
    assert tasks(session) == []
    assert generate_tasks(session=session, day=day(3), policy=POLICY) == 3  # the restarted worker misses none
    assert generate_tasks(session=session, day=day(4), policy=POLICY) == 0  # and doubles none
    assert len(tasks(session)) == 3


@pytest.fixture
def network(session: Session, shop: Shop) -> Shop:
    shop.member("one")
    shop.buy("one", day(0), 1)
    shop.member("two", store="S-NJ-1")
    shop.buy("two", day(0), 3)
    shop.buy("two", day(12), 1)
    shop.member("three")
    shop.buy("three", day(5), 2)
    shop.buy("three", day(9), 2, store="S-NJ-1")
    return shop


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(days=st.lists(st.integers(min_value=0, max_value=45), min_size=1, max_size=25))
def test_generation_is_idempotent_in_any_order(session: Session, network: Shop, days: list[int]) -> None:
    session.execute(delete(Task))
    for d in days:
        generate_tasks(session=session, day=day(d), policy=POLICY)
    got = tasks(session)
    session.execute(delete(Task))
    for d in sorted(set(days)):
        generate_tasks(session=session, day=day(d), policy=POLICY)
    assert got == tasks(session)
    assert len(got) == len({(m, k, o) for m, k, _, o, _, _ in got})


def test_every_window_of_a_network_is_found_once(session: Session, network: Shop) -> None:
    for d in range(0, 46):
        generate_tasks(session=session, day=day(d), policy=POLICY)
    ids = network.ids
    # one: 1 can on day 0 -> follow-up 3..5, run-out day 7 -> replenish 2..5
    # two: 3 cans on day 0, 1 on day 12 -> follow-up 3..5; as of days 0-11 run-out 21 (window 16..19, but it opens
    #      only once day 16 comes, by then she bought on day 12: run-out 28 -> window 23..26)
    # three: 2 on day 5, 2 on day 9 -> follow-up 8..10; run-out as of day 5-8: 19 (window 14..17 opens on 14, by then
    #        the day-9 purchase made it 33 -> window 28..31)
    assert tasks(session) == [
        (ids["one"], "follow_up", "S-GZ-1", day(3), day(5), "open"),
        (ids["one"], "replenish", "S-GZ-1", day(2), day(5), "open"),
        (ids["two"], "follow_up", "S-NJ-1", day(3), day(5), "open"),
        (ids["two"], "replenish", "S-NJ-1", day(23), day(26), "open"),
        (ids["three"], "follow_up", "S-GZ-1", day(8), day(10), "open"),
        (ids["three"], "replenish", "S-GZ-1", day(28), day(31), "open"),
    ]
    assert ADMIN.sees_all
