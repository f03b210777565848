"""Importing a member list: every bad row reported, nothing half-imported, existing members never moved."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session, select

from members.errors import ImportInvalid, NotOwnStore
from members.service import import_members, register
from tests.factories import seed_masterdata
from tests.members.helpers import ADMIN, DISTRIBUTOR, GZ, NJ, hashed
from traceability.errors import Forbidden
from traceability.models import Member
from traceability.privacy import member_pepper

NOW = datetime(2026, 4, 10, 8, 0, tzinfo=UTC)


@pytest.fixture
def run(session: Session, settings):
    seed_masterdata(session)
    pepper = member_pepper(settings.key_dir)

    def go(data: bytes | str, principal=GZ, **kw):
        return import_members(session=session, principal=principal, data=data, pepper=pepper, now=NOW, **kw)

    return go


def _members(session: Session) -> dict[str, Member]:
    session.expire_all()
    return {m.phone_hash: m for m in session.exec(select(Member))}


def test_a_chinese_list_with_a_bom_imports_whole(run, session: Session, settings) -> None:
    text = ("\ufeff手机号,姓名,宝宝生日,段数,来源,同意时间,积分\r\n"
            "138 0013 8000,王芳,2025-09-01,2段,,2026-03-01T09:30:00+08:00,120\r\n"
            "13900139000,李娜,2025/9/2,,门店活动,是,0\r\n"
            "\r\n"
            "13700137000,,2025年9月3日,一段,,2026-03-02,\r\n"
            "13600136000,,20250904,,,否,\r\n")  # fmt: skip
    result = run(text.encode("utf-8"), tz=ZoneInfo("Asia/Shanghai"))
    assert result.as_dict() == {"rows": 4, "created": 4, "existing": 0, "ignored_columns": ["积分"]}
    rows = _members(session)
    wang = rows[hashed("13800138000", settings.key_dir)]
    assert (wang.home_store_id, wang.name, wang.baby_birth_date, wang.baby_stage, wang.source) == (
        "S-GZ-1", "王芳", date(2025, 9, 1), 2, "import")  # fmt: skip
    assert wang.consent_at == datetime(2026, 3, 1, 1, 30, tzinfo=UTC)
    li = rows[hashed("13900139000", settings.key_dir)]
    assert (li.baby_birth_date, li.source, li.consent_at) == (date(2025, 9, 2), "门店活动", NOW)
    third = rows[hashed("13700137000", settings.key_dir)]
    assert (third.name, third.baby_birth_date, third.baby_stage) == (None, date(2025, 9, 3), 1)
    assert third.consent_at == datetime(2026, 3, 1, 16, 0, tzinfo=UTC)  # midnight in Shanghai
    assert rows[hashed("13600136000", settings.key_dir)].consent_at is None


def test_every_bad_row_is_reported_and_nothing_is_written(run, session: Session) -> None:
    text = ("phone,name,baby_birth_date,baby_stage,consent_at,store\n"
            "13800138000,ok,2025-09-01,1,yes,\n"
            "13800,short,2025-02-30,9,maybe,\n"
            "13800138000,again,,,,\n"
            ",no phone,,,,\n"
            "13900139000,\"x\"\"y\",1990-01-01,,2030-01-01,S-NJ-1\n"
            "13700137000,a,b,c,d,e,f,g\n")  # fmt: skip
    with pytest.raises(ImportInvalid) as bad:
        run(text, lang="en")
    found = [(r.line, r.column, r.reason) for r in bad.value.rows]
    assert found == [
        (3, "phone", "invalid_phone"), (3, "baby_birth_date", "bad_date"), (3, "baby_stage", "bad_stage"),
        (3, "consent_at", "bad_consent"),
        (4, "phone", "duplicate_in_file"),
        (5, "phone", "missing"),
        (6, "baby_birth_date", "date_out_of_range"), (6, "consent_at", "future_consent"),
        (7, "-", "too_many_fields"),
    ]  # fmt: skip
    assert bad.value.message == "5 bad row(s) in the member list; nothing was imported"
    assert "line 2" in bad.value.rows[4].message  # the duplicate names the line it repeats
    problem = str(bad.value.to_problem())
    assert "13800" not in problem and "1380013" not in problem and "13900139000" not in problem
    assert _members(session) == {}


def test_a_store_imports_only_into_its_own_store(run, session: Session) -> None:
    with pytest.raises(ImportInvalid) as bad:
        run("phone,store\n13800138000,S-GZ-1\n13900139000,M-000002\n13700137000,NOWHERE\n", lang="zh-CN")
    assert [(r.line, r.reason) for r in bad.value.rows] == [(3, "not_own_store"), (4, "unknown_store")]
    assert "S-GZ-1" in bad.value.rows[0].message and "会员名单" in bad.value.text("zh-CN")
    with pytest.raises(NotOwnStore):
        run("phone\n13800138000\n", store_id="S-NJ-1")
    with pytest.raises(Forbidden):
        run("phone\n13800138000\n", principal=DISTRIBUTOR)
    assert _members(session) == {}


def test_the_brand_imports_by_store_column_or_default(run, session: Session, settings) -> None:
    with pytest.raises(ImportInvalid) as bad:
        run("phone,门店编号\n13800138000,M-000002\n13900139000,\n", principal=ADMIN)
    assert [(r.line, r.column, r.reason) for r in bad.value.rows] == [(3, "store", "store_required")]
    result = run("phone,门店编号,campaign\n13800138000,M-000002,SPRING\n13900139000,,\n", principal=ADMIN,
                 store_id="S-GZ-1")  # fmt: skip
    assert (result.created, result.existing) == (2, 0)
    rows = _members(session)
    first = rows[hashed("13800138000", settings.key_dir)]
    assert (first.home_store_id, first.source) == ("S-NJ-1", "campaign:SPRING")
    assert rows[hashed("13900139000", settings.key_dir)].home_store_id == "S-GZ-1"


def test_existing_members_are_skipped_and_counted_never_moved(run, session: Session, settings) -> None:
    h = hashed("13800138000", settings.key_dir)
    register(session=session, principal=NJ, phone_hash=h, name="原名")
    result = run("phone,name\n13800138000,新名\n13900139000,\n")
    assert (result.rows, result.created, result.existing) == (2, 1, 1)
    kept = _members(session)[h]
    assert (kept.home_store_id, kept.name) == ("S-NJ-1", "原名")
    again = run("phone,name\n13800138000,新名\n13900139000,\n")
    assert (again.created, again.existing) == (0, 2)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty_file"),
        (b"name,store\nx,S-GZ-1\n", "no_phone_column"),
        ("phone,手机号\n1,2\n".encode(), "duplicate_column"),
        ("手机号,姓名\n13800138000,王芳\n".encode("gbk"), "not_utf8"),
        (b'phone\n"13800138000\n', "bad_csv"),
    ],
)
def test_a_file_that_is_not_a_member_list_says_why(run, session: Session, data: bytes, reason: str) -> None:
    with pytest.raises(ImportInvalid) as bad:
        run(data)
    assert [r.reason for r in bad.value.rows] == [reason]
    assert _members(session) == {}
