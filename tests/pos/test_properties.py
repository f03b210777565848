"""Property: whatever the clerk does — sell, retry with the same Idempotency-Key, undo, give the free unit — and in
whatever order the sales' times fall, points and six-get-one count each unit sold exactly once, and a free unit is
never a sale for fees."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlmodel import Session

from codes.service import key_store
from pos import service
from pos.errors import FreeUnitGiven, NoFreeUnit
from rebates.policy import Policy
from rebates.service import member_summary
from settlement.service import run_settlement
from tests.pos.helpers import GZ, PHONE, hashed, stocked

POLICY = Policy()
UNITS = 14
DAY = (datetime.now(UTC) - timedelta(days=1)).replace(hour=8, minute=0, second=0, microsecond=0)
NOON = DAY.replace(hour=12)

op = st.one_of(
    st.tuples(st.just("sell"), st.lists(st.integers(0, UNITS - 1), min_size=1, max_size=3, unique=True),
              st.integers(0, 200)),
    st.tuples(st.just("sell"), st.lists(st.integers(0, UNITS - 1), min_size=1, max_size=3, unique=True),
              st.integers(0, 200)),
    st.tuples(st.just("redeem"), st.integers(0, UNITS - 1), st.integers(0, 200)),
    st.tuples(st.just("retry"), st.integers(0, 30), st.just(0)),
    st.tuples(st.just("undo"), st.integers(0, 30), st.just(0)),
)  # fmt: skip


@pytest.fixture
def units(session: Session, settings) -> list[str]:
    return stocked(session, settings, UNITS)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=st.lists(op, min_size=4, max_size=20))
@example(
    ops=[
        ("sell", [0, 1, 2], 90),
        ("sell", [3, 4, 5], 10),
        ("retry", 1, 0),
        ("redeem", 6, 200),
        ("retry", 2, 0),
        ("undo", 0, 0),
        ("undo", 1, 0),
        ("undo", 2, 0),
        ("retry", 2, 0),
        ("sell", [7], 0),
    ]
)
def test_points_and_six_get_one_count_each_unit_once(session: Session, settings, units: list[str], ops) -> None:
    member = hashed(PHONE, settings.key_dir)
    files = key_store(settings)
    savepoint = session.begin_nested()
    try:
        requests: list[tuple[list[str], bool, datetime, str]] = []  # codes, redeem, time, key
        live: dict[str, tuple[list[str], bool]] = {}  # sale_id -> units (keys as scanned), free?
        sold: set[str] = set()
        for i, (kind, arg, minutes) in enumerate(ops):
            if kind in ("sell", "redeem"):
                codes = [units[j] for j in (arg if kind == "sell" else [arg])]
                requests.append((codes, kind == "redeem", DAY + timedelta(minutes=minutes), f"key-{i}"))
                request = requests[-1]
            elif kind == "retry" and requests:
                request = requests[arg % len(requests)]
            elif kind == "undo" and live:
                sale_id = sorted(live)[arg % len(live)]
                codes_, free = live[sale_id]
                nested = session.begin_nested()
                try:
                    done = service.undo(session=session, principal=GZ, sale_id=sale_id, policy=POLICY, now=NOON)
                except FreeUnitGiven:
                    nested.rollback()
                    paid = sum(len(c) for c, f in live.values() if not f)
                    frees = sum(1 for _, f in live.values() if f)
                    assert not free and frees > (paid - len(codes_)) // POLICY.points.free_after
                    continue
                nested.commit()
                assert done.undone
                del live[sale_id]
                sold -= set(codes_)
                continue
            else:
                continue
            codes, redeem, when, key = request
            nested = session.begin_nested()
            try:
                result = service.sell(session=session, principal=GZ, codes=codes, policy=POLICY, member_hash=member,
                                      redeem=redeem, idempotency_key=key, key_files=files, event_time=when)  # fmt: skip
            except NoFreeUnit:
                nested.rollback()
                paid = sum(len(c) for c, f in live.values() if not f)
                frees = sum(1 for _, f in live.values() if f)
                assert redeem and paid // POLICY.points.free_after <= frees
                continue
            nested.commit()
            if result.replayed:
                continue  # the first answer again: nothing new was recorded (checked by the counts below)
            fresh = [c for c in codes if c not in sold]
            assert sorted(a["code"] for a in result.accepted) == sorted(fresh)
            if result.sale_id is not None:
                live[result.sale_id] = (fresh, redeem)
                sold |= set(fresh)
        paid = sum(len(c) for c, f in live.values() if not f)
        frees = sum(1 for _, f in live.values() if f)
        s = member_summary(session=session, member_hash=member, policy=POLICY, limit=0)
        assert (s.points, s.units_bought, s.qualifying_units, s.free_redeemed) == (paid, paid, paid, frees)
        assert s.free_redeemed <= s.free_earned == paid // POLICY.points.free_after
        settled = run_settlement(session=session, period=DAY.strftime("%Y-%m"), policy=POLICY)
        store_units = sum(line.units_sold for line in settled.stores if line.party == "S-GZ-1")
        assert store_units == paid  # the free units left the stock but are no sales for fees
    finally:
        savepoint.rollback()
