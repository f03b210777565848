"""Activity points and the reward catalogue: who may grant and redeem, refusals with their reasons, no overspending
under concurrency, and a balance that never goes negative."""

from __future__ import annotations

import threading
import time
from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine
from sqlmodel import Session

import crm.points
from crm.errors import (
    InvalidGrant,
    InvalidReward,
    MemberUnknown,
    NotEnoughPoints,
    NotOwnMember,
    NotOwnStore,
    RewardNotFound,
)
from crm.points import balance, grant_points, list_rewards, redeem_reward, upsert_reward
from rebates.policy import Policy
from tests.crm.helpers import ADMIN, Shop, seed
from tests.members.helpers import AUDITOR, DISTRIBUTOR, GZ, NJ
from traceability.errors import Forbidden
from traceability.models import Member, Party

POLICY = Policy()


def test_grants_carry_their_reason_and_granter_and_a_store_grants_only_to_its_own(session: Session, settings) -> None:
    seed(session)
    shop = Shop(session, settings.key_dir)
    shop.member("gz")
    shop.member("nj", store="S-NJ-1")
    done = grant_points(session=session, principal=GZ, member_hash=shop.hashes["gz"], points=30,
                        reason="  参加\n妈妈课堂 ", by="店员 小李")  # fmt: skip
    assert (done["points"], done["reason"], done["granted_by"]) == (30, "参加 妈妈课堂", "store:S-GZ-1 (店员 小李)")
    assert balance(session=session, member_hash=shop.hashes["gz"], policy=POLICY).granted == 30
    with pytest.raises(NotOwnMember) as refused:  # another store's member
        grant_points(session=session, principal=GZ, member_hash=shop.hashes["nj"], points=5, reason="x", lang="zh-CN")
    assert refused.value.status_code == 403 and "本店会员" in refused.value.text("zh-CN")
    assert balance(session=session, member_hash=shop.hashes["nj"], policy=POLICY).granted == 0
    grant_points(session=session, principal=ADMIN, member_hash=shop.hashes["nj"], points=5, reason="brand event")
    for who in (AUDITOR, DISTRIBUTOR):
        with pytest.raises(Forbidden):
            grant_points(session=session, principal=who, member_hash=shop.hashes["nj"], points=5, reason="x")
    for points, reason in ((0, "x"), (-5, "x"), (100_001, "x"), (5, " \t ")):
        with pytest.raises(InvalidGrant):
            grant_points(session=session, principal=ADMIN, member_hash=shop.hashes["nj"], points=points, reason=reason)
    with pytest.raises(MemberUnknown):
        grant_points(session=session, principal=ADMIN, member_hash="0" * 64, points=5, reason="x")


def test_redeeming_a_reward_spends_points_and_is_refused_when_short(session: Session, settings) -> None:
    seed(session)
    shop = Shop(session, settings.key_dir)
    shop.member("nj", store="S-NJ-1")
    shop.buy("nj", date(2026, 4, 2), 3, store="S-NJ-1")  # 3 regular points
    grant_points(session=session, principal=ADMIN, member_hash=shop.hashes["nj"], points=9, reason="活动")
    with pytest.raises(Forbidden):
        upsert_reward(session=session, principal=GZ, code="MUG", name="Mug", points_price=10)
    for code, name, price in (("bad code", "x", 1), ("MUG", " ", 1), ("MUG", "x", 0)):
        with pytest.raises(InvalidReward):
            upsert_reward(session=session, principal=ADMIN, code=code, name=name, points_price=price)
    upsert_reward(session=session, principal=ADMIN, code="MUG", name="宝宝水杯", points_price=10)
    upsert_reward(session=session, principal=ADMIN, code="OLD", name="Old", points_price=1, active=False)
    assert [r["code"] for r in list_rewards(session=session, active_only=True)] == ["MUG"]
    # any store redeems for any member who gives her phone (points are brand-wide), at its own store only
    with pytest.raises(NotOwnStore):
        redeem_reward(session=session, principal=GZ, member_hash=shop.hashes["nj"], reward_code="MUG",
                      store_id="S-NJ-1", policy=POLICY)  # fmt: skip
    with pytest.raises(RewardNotFound):
        redeem_reward(session=session, principal=NJ, member_hash=shop.hashes["nj"], reward_code="OLD", store_id=None,
                      policy=POLICY)  # fmt: skip
    done = redeem_reward(session=session, principal=GZ, member_hash=shop.hashes["nj"], reward_code="MUG",
                         store_id=None, policy=POLICY)  # fmt: skip
    assert (done["store"], done["points"], done["balance"]) == ("S-GZ-1", 10, 2)
    with pytest.raises(NotEnoughPoints) as short:
        redeem_reward(session=session, principal=NJ, member_hash=shop.hashes["nj"], reward_code="MUG", store_id=None,
                      policy=POLICY, lang="zh-CN")  # fmt: skip
    assert short.value.status_code == 409 and short.value.detail["reason"] == "not_enough_points"
    assert short.value.detail["points"] == 2 and "需要 10 积分" in short.value.text("zh-CN")
    assert balance(session=session, member_hash=shop.hashes["nj"], policy=POLICY).as_dict() == {
        "points": 2, "regular": 3, "campaign": 0, "granted": 9, "redeemed": 10}  # fmt: skip


def test_concurrent_redemptions_never_spend_the_same_points_twice(committing_engine: Engine, settings,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    with Session(committing_engine) as s:
        seed(s)
        shop = Shop(s, settings.key_dir)
        shop.member("m")
        grant_points(session=s, principal=ADMIN, member_hash=shop.hashes["m"], points=10, reason="活动")
        upsert_reward(session=s, principal=ADMIN, code="MUG", name="Mug", points_price=10)
        s.commit()
    h = shop.hashes["m"]
    read_balance = crm.points.balance

    def slow_balance(**kw):  # every till reads the balance, then waits: only the member's lock keeps them apart
        got = read_balance(**kw)
        time.sleep(0.3)
        return got

    monkeypatch.setattr(crm.points, "balance", slow_balance)
    barrier = threading.Barrier(4)
    outcomes: list[str] = []

    def till() -> None:
        with Session(committing_engine) as s:
            barrier.wait()
            try:
                redeem_reward(session=s, principal=GZ, member_hash=h, reward_code="MUG", store_id=None, policy=POLICY)
                s.commit()
                outcomes.append("redeemed")
            except NotEnoughPoints:
                s.rollback()
                outcomes.append("refused")

    threads = [threading.Thread(target=till) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(outcomes) == ["redeemed", "refused", "refused", "refused"]
    with Session(committing_engine) as s:
        assert read_balance(session=s, member_hash=h, policy=POLICY).points == 0


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(st.tuples(st.sampled_from(["grant", "redeem"]), st.integers(1, 40)), max_size=12))
def test_points_never_go_negative_through_redemptions(session: Session, steps: list[tuple[str, int]]) -> None:
    if session.get(Party, "S-GZ-1") is None:  # the session (and so the network) is shared by every example
        seed(session)
    nested = session.begin_nested()
    try:
        member = Member(phone_hash=f"{len(steps):02d}".ljust(64, "a"), home_store_id="S-GZ-1", source="test")
        session.add(member)
        session.flush()
        expected = 0
        for i, (kind, n) in enumerate(steps):
            if kind == "grant":
                grant_points(session=session, principal=ADMIN, member_hash=member.phone_hash, points=n, reason="x")
                expected += n
                continue
            upsert_reward(session=session, principal=ADMIN, code=f"R{i}", name="r", points_price=n)
            try:
                redeem_reward(session=session, principal=GZ, member_hash=member.phone_hash, reward_code=f"R{i}",
                              store_id=None, policy=POLICY)  # fmt: skip
                expected -= n
            except NotEnoughPoints:
                assert expected < n  # refused only when short
            got = balance(session=session, member_hash=member.phone_hash, policy=POLICY).points
            assert got == expected and got >= 0
    finally:
        nested.rollback()
