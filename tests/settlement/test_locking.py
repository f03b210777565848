"""When a period may be locked: after it has ended in the policy's time zone plus the grace days, and an empty one
only on purpose; the refusal says when (CLI, API)."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from rebates.errors import PolicyInvalid
from rebates.policy import Policy, load_policy
from settlement.errors import EmptyPeriod, PeriodNotEnded
from settlement.periods import period_of
from settlement.service import list_periods, lock_period, lockable_from
from tests.factories import api_key, auth
from tests.settlement.scenario import P1, capture, event, seed, units
from traceability.models import Role

SHANGHAI = Policy(timezone="Asia/Shanghai")
U = units(P1, "L", 4)


@pytest.fixture
def december(session: Session) -> None:
    """D-GZ buys four units in December 2026 (Shanghai time)."""
    seed(session)
    capture(
        session,
        event("commissioning", U, "PLANT-1", "2026-12-01T08:00:00+08:00", action="ADD"),
        event("shipping", U, "PLANT-1", "2026-12-02T08:00:00+08:00", to="D-GZ"),
    )


def test_lockable_from_is_the_end_in_the_policy_zone_plus_the_grace_days() -> None:
    assert lockable_from("2026-12", SHANGHAI).isoformat() == "2027-01-04T00:00:00+08:00"
    assert lockable_from("2026-12", Policy()).isoformat() == "2027-01-04T00:00:00+00:00"
    assert lockable_from("2026-02", Policy(lock_grace_days=0)).isoformat() == "2026-03-01T00:00:00+00:00"
    # Calendar days in the zone: grace days across a DST change (Berlin, 29 March 2026) still end at local midnight.
    assert lockable_from("2026-02", Policy(timezone="Europe/Berlin", lock_grace_days=30)).isoformat() == (
        "2026-03-31T00:00:00+02:00"
    )


def test_a_period_locks_only_after_its_end_and_grace_days(session: Session, december) -> None:
    ready = datetime(2027, 1, 3, 16, 0, tzinfo=UTC)  # 2027-01-04 00:00 in Shanghai
    for now in (datetime(2026, 12, 15, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC), ready - timedelta(seconds=1)):
        with pytest.raises(PeriodNotEnded) as refused:
            lock_period(session=session, period="2026-12", policy=SHANGHAI, now=now)
        assert refused.value.message.startswith("2026-12 can be locked from 2027-01-04 00:00 Asia/Shanghai")
        assert refused.value.detail == {"period": "2026-12", "lockable_from": "2027-01-04T00:00:00+08:00",
                                        "timezone": "Asia/Shanghai"}  # fmt: skip
    assert list_periods(session=session) == []
    locked = lock_period(session=session, period="2026-12", policy=SHANGHAI, now=ready)
    assert locked.status == "locked" and locked.locked_at == ready
    assert [p.period for p in list_periods(session=session)] == ["2026-12"]


def test_a_future_period_never_locks(session: Session, december) -> None:
    with pytest.raises(PeriodNotEnded, match="2027-06 can be locked from 2027-07-04 00:00 UTC"):
        lock_period(session=session, period="2027-06", policy=Policy(), now=datetime(2026, 12, 15, tzinfo=UTC),
                    force=True)  # fmt: skip


def test_the_grace_days_come_from_the_policy(session: Session, december, tmp_path: Path) -> None:
    policy_file = tmp_path / "p.toml"
    policy_file.write_text('timezone = "Asia/Shanghai"\nlock_grace_days = 10\n')
    policy = load_policy(policy_file)
    with pytest.raises(PeriodNotEnded, match="from 2027-01-11 00:00 Asia/Shanghai .*10 grace days"):
        lock_period(session=session, period="2026-12", policy=policy, now=datetime(2027, 1, 5, tzinfo=UTC))
    lock_period(session=session, period="2026-12", policy=policy, now=datetime(2027, 1, 11, tzinfo=UTC))
    policy_file.write_text("lock_grace_days = -1\n")
    with pytest.raises(PolicyInvalid) as bad:
        load_policy(policy_file)
    assert [p.path for p in bad.value.problems] == ["lock_grace_days"]


def test_an_empty_period_locks_only_with_force(session: Session, december) -> None:
    later = datetime(2027, 3, 1, tzinfo=UTC)
    with pytest.raises(EmptyPeriod, match="2026-11 holds no sales, purchases or dispatches.*--force"):
        lock_period(session=session, period="2026-11", policy=SHANGHAI, now=later)  # the facts are December's
    lock_period(session=session, period="2026-11", policy=SHANGHAI, now=later, force=True)
    lock_period(session=session, period="2026-12", policy=SHANGHAI, now=later)  # December holds the purchases
    with pytest.raises(EmptyPeriod):
        lock_period(session=session, period="2027-01", policy=SHANGHAI, now=later)


def test_the_api_says_when_and_takes_force(client: TestClient, session: Session) -> None:
    seed(session)
    finance = auth(api_key(session, Role.finance))
    current = period_of(datetime.now(UTC))
    early = client.post(f"/api/v1/settlement/{current}/lock", headers={**finance, "Accept-Language": "en"})
    assert early.status_code == 409, early.text
    body = early.json()
    assert body["error"] == "period_not_ended" and body["period"] == current
    assert body["detail"].startswith(f"{current} can be locked from ") and body["lockable_from"]
    chinese = client.post(f"/api/v1/settlement/{current}/lock", headers=finance).json()  # Chinese by default
    assert chinese["error"] == "period_not_ended" and chinese["lockable_from"] == body["lockable_from"]
    assert chinese["detail"].startswith(f"{current} 自 ") and "天宽限" in chinese["detail"]
    empty = client.post("/api/v1/settlement/2026-01/lock", headers=finance)
    assert empty.status_code == 409 and empty.json()["error"] == "period_empty"
    assert "--force" in empty.json()["detail"] and "没有销售" in empty.json()["detail"]
    forced = client.post("/api/v1/settlement/2026-01/lock?force=true", headers=finance)
    assert forced.status_code == 200 and forced.json()["status"] == "locked"


def test_the_cli_says_when(tmp_path: Path) -> None:
    env = {"TRACEABILITY_DB": f"sqlite:///{tmp_path / 'cli.db'}", "TRACEABILITY_KEY_DIR": str(tmp_path / "keys"),
           "PATH": "/usr/bin:/bin"}  # fmt: skip
    policy = Path(__file__).resolve().parents[2] / "docs" / "examples" / "policy.toml"
    current = period_of(datetime.now(UTC), "Asia/Shanghai")
    argv = [sys.executable, "-m", "cli", "settlement", "lock", "--period", current, "--policy", str(policy)]
    proc = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {current} can be locked from ")
    assert "Asia/Shanghai" in lines[0] and "Traceback" not in proc.stderr


def test_the_finance_page_shows_when(client: TestClient, session: Session) -> None:
    seed(session)
    html = {"Accept": "text/html", "Accept-Language": "zh-CN"}
    signed_in = client.post("/login", data={"key": api_key(session, Role.finance).token}, headers=html,
                            follow_redirects=False)  # fmt: skip
    assert signed_in.status_code == 303
    current = period_of(datetime.now(UTC))
    page = client.post("/app/settlement/lock", data={"period": current}, headers=html)
    assert page.status_code == 409 and "text/html" in page.headers["content-type"]
    assert f"{current} 自 " in page.text and "起可锁定" in page.text  # in the page's language
    empty = client.post("/app/settlement/lock", data={"period": "2026-01"}, headers=html)
    assert empty.status_code == 409 and "2026-01 没有销售" in empty.text
    english = {**html, "Accept-Language": "en"}
    page = client.post("/app/settlement/lock", data={"period": current}, headers=english)
    assert page.status_code == 409 and f"{current} can be locked from " in page.text
    empty = client.post("/app/settlement/lock", data={"period": "2026-01"}, headers=english)
    assert empty.status_code == 409 and "2026-01 holds no sales" in empty.text
