"""The check counter: every consumer check of one of our codes counts once, on whichever door, in one row per code;
the check page says how often and since when (in the brand's time zone), and cautions when it was checked before."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select

from codes import service as codes
from codes.render import parse_code, to_element_string
from codes.service import key_store
from ledger.keys import sgtin_key
from tests.factories import GTIN, seed_masterdata
from tests.web.helpers import at_distributor, make_codes
from traceability.database import session_scope
from traceability.models import CheckCount
from traceability.settings import Settings
from web.service import record_check

HTML = {"Accept": "text/html"}
EN = {**HTML, "Accept-Language": "en"}
ZH = {**HTML, "Accept-Language": "zh-CN"}


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    """The brand keeps its books in Beijing time."""
    policy = tmp_path / "policy.toml"
    policy.write_text('timezone = "Asia/Shanghai"\n', encoding="utf-8")
    return settings.model_copy(update={"policy_file": policy})


def _path(code: str) -> str:
    return code.removeprefix("https://id.example.com")


def _key(code: str) -> str:
    ident = parse_code(code).identity
    return sgtin_key(ident.gtin, ident.serial)


def _rows(session: Session) -> int:
    return session.exec(select(func.count()).select_from(CheckCount)).one()


def test_the_page_says_how_often_and_since_when(client: TestClient, session: Session, settings: Settings) -> None:
    seed_masterdata(session)
    [code] = make_codes(session, key_store(settings), 1)
    at_distributor(session, [code])
    # checked before, late on 31 January UTC: already 1 February in Beijing
    record_check(session=session, key=_key(code), at=datetime(2026, 1, 31, 20, 5, tzinfo=UTC))
    page = client.get(_path(code), headers=EN)
    assert page.status_code == 200 and 'data-verdict="genuine"' in page.text
    assert 'data-checks="2"' in page.text
    assert "This code has been checked 2 times; first on 2026-02-01 04:05 (UTC+08:00)." in page.text
    assert 'data-testid="tally-caution"' in page.text and "may have been copied" in page.text
    zh = client.get(_path(code), headers=ZH)
    assert "此码已被查询 3 次，首次查询时间 2026-02-01 04:05 (UTC+08:00)。" in zh.text
    assert "可能已被复制" in zh.text


def test_a_first_check_says_so_without_a_caution(client: TestClient, session: Session, settings: Settings) -> None:
    seed_masterdata(session)
    code, other = make_codes(session, key_store(settings), 2)
    at_distributor(session, [code, other])
    before = datetime.now(UTC)
    page = client.get(_path(code), headers=EN)
    assert 'data-checks="1"' in page.text and "This code has been checked once, on " in page.text
    assert 'data-testid="tally-caution"' not in page.text
    row = session.get(CheckCount, _key(code))
    assert row is not None and row.checks == 1 and row.first_checked_at == row.last_checked_at >= before
    beijing = row.first_checked_at.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M")
    assert f"checked once, on {beijing} (UTC+08:00)." in page.text
    zh = client.get(_path(other), headers=ZH).text
    assert "此码已被查询 1 次，首次查询时间 " in zh and 'data-testid="tally-caution"' not in zh


def test_every_page_and_every_form_counts_on_one_row(client: TestClient, session: Session, settings: Settings) -> None:
    seed_masterdata(session)
    [code] = make_codes(session, key_store(settings), 1)
    at_distributor(session, [code])
    element = to_element_string(parse_code(code), human=True)
    assert client.get(_path(code), headers=EN).status_code == 200
    assert client.get("/check", params={"code": element}, headers=EN).status_code == 200
    assert client.get("/check", params={"code": f"  {code}  "}, headers=EN).status_code == 200
    near = client.post("/check/inspect", json={"code": code, "lat": 32.05, "lon": 118.78})
    far = client.post("/check/inspect", json={"code": code, "lat": 45.75, "lon": 126.63})
    assert near.status_code == far.status_code == 200  # sharing the position from the page is the same check
    assert client.get("/check", headers=EN).status_code == 200  # the bare form is no check
    [row] = session.exec(select(CheckCount)).all()
    assert row.key == _key(code) == f"https://id.gs1.org/01/{GTIN}/21/{parse_code(code).identity.serial}"
    assert row.checks == 3
    assert 'data-checks="4"' in client.get("/check", params={"code": element}, headers=EN).text


def test_only_our_codes_with_their_signature_count(client: TestClient, session: Session, settings: Settings) -> None:
    seed_masterdata(session)
    good, revoked = make_codes(session, key_store(settings), 2)
    at_distributor(session, [good, revoked])
    path = _path(good)
    i = path.index("/21/") + 4
    renamed = path[:i] + ("A" if path[i] != "A" else "B") + path[i + 1 :]  # another serial, the old signature
    for text in ("nonsense", "(01)06901234000108(21)ABC", good.split("?")[0], good[:-2] + "zz"):
        page = client.get("/check", params={"code": text}, headers=EN)
        assert page.status_code == 200 and 'data-testid="tally"' not in page.text, text
    assert 'data-verdict="forged"' in client.get(renamed, headers=EN).text
    damaged = client.post("/check/inspect", json={"code": good[:-2] + "zz", "lat": 32.05, "lon": 118.78})
    assert damaged.status_code == 200 and damaged.json()["reason"] == "rejected"
    assert _rows(session) == 0
    assert 'data-testid="tally"' in client.get(_path(good), headers=EN).text and _rows(session) == 1
    # a code signed by a key revoked since is not counted
    codes.revoke_key(session=session, key_id="K1", reason="leaked")
    session.commit()
    page = client.get(_path(revoked), headers=EN)
    assert 'data-verdict="revoked"' in page.text and 'data-testid="tally"' not in page.text
    assert _rows(session) == 1


def test_racing_checks_each_count_once(committing_engine: Engine) -> None:
    """Threads upsert one new key at the same moment, each in its own transaction: one row, every check counted."""
    threads, each = 8, 25
    key = f"https://id.gs1.org/01/{GTIN}/21/RACE1"
    start = threading.Barrier(threads)
    errors: list[BaseException] = []
    seen: list[int] = []

    def work() -> None:
        try:
            start.wait()
            for _ in range(each):
                with session_scope(committing_engine) as s:
                    seen.append(record_check(session=s, key=key).checks)
        except BaseException as exc:  # noqa: BLE001 - reported below, in the test's thread
            errors.append(exc)

    pool = [threading.Thread(target=work) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(timeout=120)
    assert not errors, errors[:3]
    with Session(committing_engine) as s:
        [row] = s.exec(select(CheckCount)).all()
    assert row.key == key and row.checks == threads * each
    assert sorted(seen) == list(range(1, threads * each + 1))  # every check saw its own count: none lost or doubled
    assert row.first_checked_at <= row.last_checked_at


def test_the_tally_keeps_the_first_time_and_moves_the_last(session: Session) -> None:
    key = f"https://id.gs1.org/01/{GTIN}/21/T1"
    first = record_check(session=session, key=key, at=datetime(2026, 3, 1, 1, 0, tzinfo=UTC), zone="Asia/Shanghai")
    later = record_check(session=session, key=key, at=datetime(2026, 3, 2, 1, 0, tzinfo=UTC), zone="Asia/Shanghai")
    assert (first.checks, later.checks) == (1, 2)
    assert later.first_checked_at == datetime(2026, 3, 1, 1, 0, tzinfo=UTC) and later.offset == "+08:00"
    assert later.first_checked_at.hour == 9 and later.last_checked_at.day == 2
    assert record_check(session=session, key=key, zone="UTC").offset == "+00:00"
