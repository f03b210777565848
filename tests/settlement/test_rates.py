"""Rebate tiers with real alerts: 2 %, 1 % and 0 %, alert statuses, and a diversion confirmed after the lock."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlmodel import Session

from rebates.policy import Policy
from settlement.service import lock_period, run_settlement
from tests.settlement.scenario import P1, capture, event, seed, units
from traceability.models import Alert, AlertKind, AlertStatus

POLICY = Policy()
LATER = datetime(2026, 7, 4, tzinfo=UTC)
U = units(P1, "R", 200)


@pytest.fixture
def shipped(session: Session) -> None:
    """D-GZ buys 200 units (200 × 268.00 = 53,600.00) in April and scans out 195 (97.5 %)."""
    seed(session)
    capture(
        session,
        event("commissioning", U, "PLANT-1", "2026-03-31T08:00:00Z", action="ADD"),
        event("shipping", U, "PLANT-1", "2026-04-02T08:00:00Z", to="D-GZ"),
        event("shipping", U[:195], "D-GZ", "2026-04-03T08:00:00Z", to="S-GZ-1"),
    )


def _alert(session: Session, n: int, status: AlertStatus, kind: AlertKind = AlertKind.out_of_territory,
           when: datetime | None = None, first: int = 0) -> list[Alert]:  # fmt: skip
    rows = []
    for i in range(first, first + n):
        row = Alert(kind=kind, unit_key=f"https://id.gs1.org/01/{P1}/21/R{i + 1}", epc=U[i], party_id="S-NJ-1",
                    responsible_distributor_id="D-GZ", territory_id="CN-32-01", status=status,
                    first_seen=when or datetime(2026, 4, 20, tzinfo=UTC), event_ids="[]")  # fmt: skip
        session.add(row)
        rows.append(row)
    session.flush()
    return rows


def _gz(session: Session) -> dict:
    result = run_settlement(session=session, period="2026-04", policy=POLICY).as_dict()
    return next(d for d in result["distributors"] if d["party"] == "D-GZ")


def test_no_alert_and_coverage_at_least_95_percent_is_2_percent(session: Session, shipped) -> None:
    gz = _gz(session)
    assert (gz["coverage"], gz["rate"], gz["rebate"]) == ("0.9750", "0.02", "1072.00")  # 0.02 × 53,600.00


def test_one_open_alert_drops_to_1_percent(session: Session, shipped) -> None:
    _alert(session, 1, AlertStatus.open)  # 1 / 200 = 0.5 % ≤ 0.5 %
    gz = _gz(session)
    assert (gz["diverted_units"], gz["rate"], gz["rebate"]) == (1, "0.01", "536.00")
    assert "1 attributed diverted unit(s)" in gz["reason"]


def test_more_than_half_a_percent_diverted_is_0(session: Session, shipped) -> None:
    _alert(session, 1, AlertStatus.confirmed)
    _alert(session, 1, AlertStatus.investigating, kind=AlertKind.unauthorized_channel, first=1)
    gz = _gz(session)
    assert (gz["diverted_units"], gz["rate"], gz["rebate"]) == (2, "0", "0.00")  # 2 / 200 = 1 %


def test_dismissed_withdrawn_other_kinds_and_other_months_do_not_count(session: Session, shipped) -> None:
    _alert(session, 1, AlertStatus.dismissed)
    _alert(session, 1, AlertStatus.withdrawn, kind=AlertKind.unauthorized_channel)
    _alert(session, 1, AlertStatus.open, kind=AlertKind.counterfeit_suspected)
    _alert(session, 1, AlertStatus.open, when=datetime(2026, 5, 2, tzinfo=UTC), first=1)
    assert _gz(session)["rate"] == "0.02"


def test_diversion_confirmed_after_the_lock_claws_back_in_the_next_period(session: Session, shipped) -> None:
    lock_period(session=session, period="2026-04", policy=POLICY, now=LATER)
    alert = _alert(session, 1, AlertStatus.open)[0]
    may = run_settlement(session=session, period="2026-05", policy=POLICY).as_dict()
    claw = next(a for a in may["adjustments"] if a["party"] == "D-GZ")
    assert (claw["for_period"], claw["previously"], claw["amount"], claw["delta"]) == (
        "2026-04", "1072.00", "536.00", "-536.00")  # fmt: skip
    alert.status = AlertStatus.dismissed  # the investigation clears it before May is locked: nothing to claw back
    session.add(alert)
    session.flush()
    assert run_settlement(session=session, period="2026-05", policy=POLICY).as_dict()["adjustments"] == []
    alert.status = AlertStatus.confirmed
    session.add(alert)
    session.flush()
    lock_period(session=session, period="2026-05", policy=POLICY, now=LATER)
    june = run_settlement(session=session, period="2026-06", policy=POLICY).as_dict()
    assert june["adjustments"] == []  # clawed back once, in May
