"""Properties over random histories of sales, retractions, late events and locks.

- totals equal the sum of their lines;
- running a period again gives identical output;
- a locked period never changes, whatever arrives later;
- nothing is paid twice for a unit: what a store has been paid over every locked period plus the next open one is
  exactly 8.04 (3 % of 268.00) per unit whose counted, unflagged sale it made, dated up to the end of that period.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func
from sqlmodel import Session, col, select

from rebates.policy import Policy
from settlement.alerts import flagged_sales
from settlement.periods import period_bounds
from settlement.service import lock_period, locked_document, run_settlement
from tests.settlement.scenario import P1, capture, event, retract, seed, units
from traceability.models import Sale, SettlementLine, SettlementPeriod

POLICY = Policy()
UNITS = units(P1, "H", 6)
STORES = ["S-GZ-1", "S-NJ-1"]
LATER = datetime(2026, 7, 4, tzinfo=UTC)  # every period the test locks (April to June) has ended
FEE = Decimal("8.04")  # 0.03 × 268.00, exact: per-line rounding cannot blur the count


@pytest.fixture
def world(session: Session) -> None:
    seed(session)
    capture(
        session,
        event("commissioning", UNITS, "PLANT-1", "2026-03-31T08:00:00Z", action="ADD"),
        event("shipping", UNITS, "PLANT-1", "2026-04-01T08:00:00Z", to="D-GZ"),
    )


sale_op = st.tuples(st.just("sale"), st.integers(0, len(UNITS) - 1), st.sampled_from(STORES),
                    st.sampled_from([4, 5, 6]), st.integers(1, 28))  # fmt: skip
ops = st.lists(st.one_of(sale_op, st.just(("retract",)), st.just(("lock",))), min_size=1, max_size=12)


def _check_totals(doc: dict[str, Any]) -> None:
    for total in doc["totals"]:
        c = total["currency"]
        rebates = sum((Decimal(d["rebate"]) for d in doc["distributors"] if d["currency"] == c), Decimal("0"))
        fees = sum((Decimal(s["fee"]) for s in doc["stores"] if s["currency"] == c), Decimal("0"))
        adj = sum((Decimal(a["delta"]) for a in doc["adjustments"] if a["currency"] == c), Decimal("0"))
        got = (Decimal(total["rebates"]), Decimal(total["fees"]), Decimal(total["adjustments"]))
        assert got == (rebates, fees, adj)
        assert Decimal(total["payable"]) == rebates + fees + adj


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=ops)
def test_settlement_properties(session: Session, world, steps: list[tuple[Any, ...]]) -> None:
    savepoint = session.begin_nested()
    try:
        _run(session, steps)
    finally:
        savepoint.rollback()


def _run(session: Session, steps: list[tuple[Any, ...]]) -> None:
    sales: list[dict[str, Any]] = []
    locked_docs: dict[str, str] = {}
    next_lock = 4
    for step in steps:
        if step[0] == "sale":
            _, u, store, month, day = step
            e = event("retail_selling", [UNITS[u]], store, f"2026-{month:02d}-{day:02d}T10:00:00Z")
            capture(session, e)
            sales.append(e)
        elif step[0] == "retract" and sales:
            capture(session, retract(sales.pop()))
        elif step[0] == "lock" and next_lock <= 6:
            period = f"2026-{next_lock:02d}"
            # Months without a sale lock too (force): what matters here is that nothing locked ever changes.
            lock_period(session=session, period=period, policy=POLICY, force=True, now=LATER)
            locked_docs[period] = locked_document(session=session, period=period) or ""
            next_lock += 1
        # A locked period never changes.
        for period, document in locked_docs.items():
            assert locked_document(session=session, period=period) == document

    # Each unit counts once.
    per_unit = session.exec(select(Sale.unit_key, func.count()).where(col(Sale.counted).is_(True))
                            .group_by(col(Sale.unit_key))).all()  # fmt: skip
    assert all(n == 1 for _, n in per_unit)

    current = f"2026-{next_lock:02d}"
    first = run_settlement(session=session, period=current, policy=POLICY).as_dict()
    again = run_settlement(session=session, period=current, policy=POLICY).as_dict()
    assert first == again
    _check_totals(first)
    for period in locked_docs:
        _check_totals(run_settlement(session=session, period=period, policy=POLICY).as_dict())

    # Nothing paid twice: booked deltas + this open run == 8.04 per counted, unflagged unit sold by then.
    _, end = period_bounds(current)
    start = period_bounds("2026-01")[0]
    flagged = {f.sale_id for f in flagged_sales(session=session, start=start, end=end)}
    counted = session.exec(select(Sale).where(col(Sale.counted).is_(True), col(Sale.event_time) < end)).all()
    for store in STORES:
        owed = FEE * sum(1 for s in counted if s.store_id == store and s.id not in flagged)
        booked = session.exec(
            select(func.coalesce(func.sum(SettlementLine.delta), 0)).where(SettlementLine.kind == "store",
                                                                          SettlementLine.party_id == store)
        ).one()  # fmt: skip
        now = sum((Decimal(s["fee"]) for s in first["stores"] if s["party"] == store), Decimal("0"))
        now += sum((Decimal(a["delta"]) for a in first["adjustments"] if a["party"] == store and a["kind"] == "store"),
                   Decimal("0"))  # fmt: skip
        assert Decimal(booked) + now == owed, (store, booked, now, owed)
    assert session.exec(select(func.count()).select_from(SettlementPeriod)).one() == len(locked_docs)
