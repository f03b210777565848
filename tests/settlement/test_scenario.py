"""A small April whose every figure is worked out by hand below, then locked, then corrected by late events."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlmodel import Session, select

from rebates.policy import Policy
from settlement.errors import LockOutOfOrder, PeriodLocked
from settlement.service import lock_period, locked_document, run_settlement
from tests.settlement.scenario import P1, P2, capture, event, retract, seed, sscc, unit, units
from traceability.models import Purchase, Sale

POLICY = Policy()
LATER = datetime(2026, 7, 4, tzinfo=UTC)
"""The clock of the locks below: April, May and June have ended, and their grace days have passed."""
GZ_UNITS = units(P1, "G", 20)
NJ_LOOSE = units(P2, "N", 4)
NJ_CASE = units(P2, "C", 6)
CASE = sscc(1)


@pytest.fixture
def april(session: Session) -> dict[str, dict]:
    seed(session)
    sale_gz_1 = event("retail_selling", [GZ_UNITS[0]], "S-GZ-1", "2026-04-10T10:00:00+08:00", member="e" * 64)
    capture(
        session,
        event("commissioning", GZ_UNITS + NJ_LOOSE + NJ_CASE, "PLANT-1", "2026-03-31T08:00:00+08:00", action="ADD"),
        event("packing", NJ_CASE, "WH-1", "2026-04-01T08:00:00+08:00", kind="AggregationEvent", action="ADD",
              parent=CASE),
        # The brand sells: 20 units of P1 to Guangzhou (plant), 10 of P2 to Nanjing (warehouse; a case of 6 + 4).
        event("shipping", GZ_UNITS, "PLANT-1", "2026-04-02T09:00:00+08:00", to="D-GZ"),
        event("shipping", [CASE, *NJ_LOOSE], "WH-1", "2026-04-03T09:00:00+08:00", to="D-NJ"),
        # Guangzhou scans 19 of its 20 out; Nanjing 8 of its 10 (the case and 2 loose).
        event("shipping", GZ_UNITS[:19], "D-GZ", "2026-04-05T09:00:00+08:00", to="S-GZ-1"),
        event("shipping", [CASE, *NJ_LOOSE[:2]], "D-NJ", "2026-04-06T09:00:00+08:00", to="S-NJ-1"),
        # Sales: 5 units at S-GZ-1 (unit 1 scanned twice: counted once), 1 unit at S-NJ-1.
        sale_gz_1,
        event("retail_selling", GZ_UNITS[1:5], "S-GZ-1", "2026-04-11T10:00:00+08:00", member="e" * 64),
        event("retail_selling", [GZ_UNITS[0]], "S-GZ-1", "2026-04-12T10:00:00+08:00"),
        event("retail_selling", [NJ_CASE[0]], "S-NJ-1", "2026-04-20T10:00:00+08:00"),
    )  # fmt: skip
    wrong = event("retail_selling", [GZ_UNITS[6]], "S-GZ-1", "2026-04-21T10:00:00+08:00")
    capture(session, wrong)
    capture(session, retract(wrong))  # a retracted sale is no sale
    return {"sale_gz_1": sale_gz_1}


def _by_party(lines: list[dict]) -> dict[str, dict]:
    return {line["party"]: line for line in lines}


def test_every_figure_by_hand(session: Session, april) -> None:
    result = run_settlement(session=session, period="2026-04", policy=POLICY).as_dict()
    d = _by_party(result["distributors"])
    # D-GZ: 20 × 268.00 = 5360.00; coverage 19/20 = 95 % ≥ 95 %, no alert → 2 %; 0.02 × 5360.00 = 107.20.
    assert d["D-GZ"]["units_purchased"] == 20 and d["D-GZ"]["units_scanned_out"] == 19
    assert d["D-GZ"]["purchase_value"] == "5360.00"
    assert d["D-GZ"]["coverage"] == "0.9500"
    assert (d["D-GZ"]["rate"], d["D-GZ"]["rebate"]) == ("0.02", "107.20")
    # D-NJ: 10 × 99.50 = 995.00 (the case counts its 6 units); coverage 8/10 = 80 % → 1 %; 0.01 × 995.00 = 9.95.
    assert d["D-NJ"]["units_purchased"] == 10 and d["D-NJ"]["units_scanned_out"] == 8
    assert (d["D-NJ"]["purchase_value"], d["D-NJ"]["rate"], d["D-NJ"]["rebate"]) == ("995.00", "0.01", "9.95")
    assert "coverage 8/10 = 80" in d["D-NJ"]["reason"]
    s = _by_party(result["stores"])
    # S-GZ-1: 5 distinct units (the retracted sale is none, the second scan of unit 1 is not another unit). Unit 1
    # sold twice is a clone_suspected alert, so its sale is flagged: 4 × 268.00 = 1072.00; 3 % → 32.16.
    assert (s["S-GZ-1"]["units_sold"], s["S-GZ-1"]["flagged_units"]) == (5, 1)
    assert (s["S-GZ-1"]["sales_value"], s["S-GZ-1"]["fee"]) == ("1072.00", "32.16")
    assert "1 flagged sale(s) not paid" in s["S-GZ-1"]["reason"]
    # S-NJ-1: 1 × 99.50; 3 % = 2.985 → half-even to the cent: 2.98 (half-up would say 2.99).
    assert (s["S-NJ-1"]["units_sold"], s["S-NJ-1"]["fee"]) == (1, "2.98")
    assert result["totals"] == [{"currency": "CNY", "rebates": "117.15", "fees": "35.14", "adjustments": "0.00",
                                 "payable": "152.29"}]  # fmt: skip
    assert result["status"] == "open" and result["adjustments"] == []


def test_facts_are_rows_with_their_events(session: Session, april) -> None:
    sales = session.exec(select(Sale)).all()
    assert len(sales) == 7  # 1 + 4 + 1 (repeat of unit 1) + 1 at Nanjing; the retracted one is gone
    assert sum(1 for s in sales if s.counted) == 6
    members = {s.member_hash for s in sales if s.counted and s.store_id == "S-GZ-1"}
    assert members == {"e" * 64}
    case_units = session.exec(select(Purchase).where(Purchase.distributor_id == "D-NJ")).all()
    assert {p.unit_key.rsplit("/", 1)[1] for p in case_units} >= {"C1", "C6", "N1"}


def test_timezone_moves_the_month_boundary(session: Session, april) -> None:
    capture(session, event("retail_selling", [GZ_UNITS[5]], "S-GZ-1", "2026-05-01T00:30:00+08:00"))
    utc = run_settlement(session=session, period="2026-04", policy=POLICY).as_dict()
    assert _by_party(utc["stores"])["S-GZ-1"]["units_sold"] == 6  # 2026-04-30T16:30Z is April in UTC
    shanghai = Policy(timezone="Asia/Shanghai")
    local = run_settlement(session=session, period="2026-04", policy=shanghai).as_dict()
    assert _by_party(local["stores"])["S-GZ-1"]["units_sold"] == 5
    may = run_settlement(session=session, period="2026-05", policy=shanghai).as_dict()
    assert _by_party(may["stores"])["S-GZ-1"]["units_sold"] == 1


def test_lock_is_final_and_late_events_become_adjustments(session: Session, april) -> None:
    with pytest.raises(LockOutOfOrder):  # April holds facts: the books start there
        lock_period(session=session, period="2026-05", policy=POLICY, now=LATER)
    locked = lock_period(session=session, period="2026-04", policy=POLICY, locked_by="finance@brand", now=LATER)
    document = locked_document(session=session, period="2026-04")
    assert document is not None
    with pytest.raises(PeriodLocked):
        lock_period(session=session, period="2026-04", policy=POLICY, now=LATER)
    with pytest.raises(LockOutOfOrder):
        lock_period(session=session, period="2026-06", policy=POLICY, now=LATER)

    # Late: an April sale of one more unit at S-GZ-1, and the retraction of the Nanjing sale.
    capture(session, event("retail_selling", [GZ_UNITS[7]], "S-GZ-1", "2026-04-25T10:00:00+08:00"))
    capture(session, retract(event("retail_selling", [NJ_CASE[0]], "S-NJ-1", "2026-04-20T10:00:00+08:00",
                                   event_id=_nj_sale_id(session))))  # fmt: skip
    # May's own business: one sale.
    capture(session, event("retail_selling", [GZ_UNITS[8]], "S-GZ-1", "2026-05-03T10:00:00+08:00"))

    again = run_settlement(session=session, period="2026-04", policy=Policy(timezone="Asia/Shanghai"))
    assert again.status == "locked" and again.as_dict() == locked.as_dict()
    assert locked_document(session=session, period="2026-04") == document

    may = run_settlement(session=session, period="2026-05", policy=POLICY).as_dict()
    assert _by_party(may["stores"])["S-GZ-1"]["fee"] == "8.04"  # 0.03 × 268.00
    adj = {(a["for_period"], a["party"]): a for a in may["adjustments"]}
    # S-GZ-1 April restated: 6 units, 1 flagged → 0.03 × 1340.00 = 40.20; paid 32.16; delta +8.04.
    assert (adj[("2026-04", "S-GZ-1")]["previously"], adj[("2026-04", "S-GZ-1")]["amount"]) == ("32.16", "40.20")
    assert adj[("2026-04", "S-GZ-1")]["delta"] == "8.04"
    # S-NJ-1 April restated: its only sale retracted → claw back 2.98.
    assert adj[("2026-04", "S-NJ-1")]["delta"] == "-2.98"
    assert may["totals"][0]["adjustments"] == "5.06"
    assert run_settlement(session=session, period="2026-05", policy=POLICY).as_dict() == may  # repeatable

    lock_period(session=session, period="2026-05", policy=POLICY, now=LATER)
    june = run_settlement(session=session, period="2026-06", policy=POLICY).as_dict()
    assert june["adjustments"] == []  # recorded in May: never paid again
    # June is the next open period: May and April stay as locked.
    assert run_settlement(session=session, period="2026-05", policy=POLICY).as_dict()["status"] == "locked"


def _nj_sale_id(session: Session) -> str:
    return session.exec(select(Sale.event_id).where(Sale.store_id == "S-NJ-1")).one()


def test_case_sold_counts_its_units_once(session: Session, april) -> None:
    capture(session, event("retail_selling", [unit(P2, "C2"), unit(P2, "C2")], "S-NJ-1", "2026-04-22T10:00:00Z"))
    result = run_settlement(session=session, period="2026-04", policy=POLICY).as_dict()
    assert _by_party(result["stores"])["S-NJ-1"]["units_sold"] == 2
    assert Decimal(_by_party(result["stores"])["S-NJ-1"]["fee"]) == Decimal("5.97")  # 0.03 × 199.00


def test_a_time_zone_change_leaves_no_gap_and_no_overlap(session: Session, april) -> None:
    capture(session, event("retail_selling", [GZ_UNITS[5]], "S-GZ-1", "2026-05-01T00:30:00+08:00"))
    lock_period(session=session, period="2026-04", policy=POLICY, now=LATER)  # UTC: the 16:30Z sale is April's
    may = run_settlement(session=session, period="2026-05", policy=Policy(timezone="Asia/Shanghai")).as_dict()
    assert may["stores"] == [] and may["starts_at"] == "2026-05-01T00:00:00+00:00"  # not paid a second time
