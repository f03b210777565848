"""The member registry's rules: who registers where, who sees whom, and that a home store never moves."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlmodel import Session, select

from members.errors import InvalidMember, InvalidPhone, MemberNotFound, NotOwnStore, UnknownStore
from members.service import hash_phone, list_members, lookup, member_points, register, register_from_sales
from rebates.policy import Policy
from tests.factories import seed_masterdata
from tests.members.helpers import ADMIN, AUDITOR, DISTRIBUTOR, GZ, NJ, PHONE, PHONE2, hashed
from tests.settlement.scenario import P1, capture, event, retract, seed, units
from traceability.errors import Forbidden
from traceability.models import Event, Member
from traceability.privacy import member_pepper


@pytest.fixture
def stores(session: Session) -> None:
    seed_masterdata(session)


def test_a_store_registers_at_its_own_store_and_again_changes_nothing(session: Session, settings, stores) -> None:
    h = hashed(PHONE, settings.key_dir)
    first = register(session=session, principal=GZ, phone_hash=h, name="王芳", baby_birth_date=date(2025, 9, 1),
                     consent_at=datetime(2026, 4, 1, tzinfo=UTC))  # fmt: skip
    assert first.created and first.member.home_store_id == "S-GZ-1" and first.member.source == "pos"
    again = register(session=session, principal=NJ, phone_hash=h, name="Someone else", source="campaign:X")
    assert not again.created and again.member.id == first.member.id
    session.expire_all()
    row = session.exec(select(Member)).one()
    assert (row.home_store_id, row.name, row.source) == ("S-GZ-1", "王芳", "pos")  # another store moves nothing
    assert row.consent_at == datetime(2026, 4, 1, tzinfo=UTC)


def test_her_home_store_fills_in_what_is_empty_never_overwrites(session: Session, settings, stores) -> None:
    h = hashed(PHONE, settings.key_dir)
    register(session=session, principal=GZ, phone_hash=h, baby_stage=2)
    again = register(session=session, principal=GZ, phone_hash=h, name="李娜", baby_stage=3,
                     consent_at=datetime(2026, 4, 2, tzinfo=UTC))  # fmt: skip
    assert not again.created
    session.expire_all()
    row = session.exec(select(Member)).one()
    assert (row.name, row.baby_stage, row.consent_at) == ("李娜", 2, datetime(2026, 4, 2, tzinfo=UTC))


def test_stores_are_checked(session: Session, settings, stores) -> None:
    h = hashed(PHONE, settings.key_dir)
    with pytest.raises(NotOwnStore):
        register(session=session, principal=GZ, phone_hash=h, store_id="S-NJ-1")
    with pytest.raises(InvalidMember) as no_store:
        register(session=session, principal=ADMIN, phone_hash=h)
    assert no_store.value.detail["field"] == "store"
    with pytest.raises(UnknownStore):
        register(session=session, principal=ADMIN, phone_hash=h, store_id="D-GZ")  # a distributor is no store
    with pytest.raises(Forbidden):
        register(session=session, principal=DISTRIBUTOR, phone_hash=h, store_id="S-GZ-1")
    assert register(session=session, principal=ADMIN, phone_hash=h, store_id="S-NJ-1").member.home_store_id == "S-NJ-1"


@pytest.mark.parametrize(
    ("fields", "field", "reason"),
    [
        ({"name": "x" * 51}, "name", "too_long"),
        ({"name": "a\x00b"}, "name", "control_characters"),
        ({"baby_birth_date": date(1990, 1, 1)}, "baby_birth_date", "date_out_of_range"),
        ({"baby_birth_date": date.today() + timedelta(days=400)}, "baby_birth_date", "date_out_of_range"),
        ({"baby_stage": 5}, "baby_stage", "bad_stage"),
        ({"consent_at": datetime.now(UTC) + timedelta(days=1)}, "consent", "future_consent"),
        ({"source": "s" * 65}, "source", "too_long"),
    ],
)
def test_bad_fields_are_refused_with_their_field(session: Session, settings, stores, fields, field, reason) -> None:
    with pytest.raises(InvalidMember) as bad:
        register(session=session, principal=GZ, phone_hash=hashed(PHONE, settings.key_dir), **fields)
    assert (bad.value.detail["field"], bad.value.detail["reason"]) == (field, reason)
    assert session.exec(select(Member)).all() == []


def test_a_phone_is_checked_and_never_echoed(settings) -> None:
    pepper = member_pepper(settings.key_dir)
    assert hash_phone(phone="+86 (138) 0013-8000", pepper=pepper) == hashed(PHONE, settings.key_dir)
    typos = (("13800", "invalid_phone"), ("1.38001E+10", "phone_characters"), ("138 0013 80OO", "phone_characters"))
    for typo, reason in typos:
        with pytest.raises(InvalidPhone) as bad:
            hash_phone(phone=typo, pepper=pepper, lang="zh-CN")
        assert bad.value.detail["reason"] == reason and typo not in str(bad.value.to_problem())
    with pytest.raises(InvalidPhone) as zh:
        hash_phone(phone="13800", pepper=pepper, lang="zh-CN")
    assert "手机号" in zh.value.text("zh-CN")


def test_listing_is_scoped_to_the_store(session: Session, settings, stores) -> None:
    for i in range(3):
        register(session=session, principal=GZ, phone_hash=hashed(f"1380013800{i}", settings.key_dir),
                 now=datetime(2026, 4, 1 + i, tzinfo=UTC))  # fmt: skip
    register(session=session, principal=NJ, phone_hash=hashed(PHONE2, settings.key_dir))
    mine = list_members(session=session, principal=GZ)
    assert mine.total == 3 and {m["home_store"] for m in mine.items} == {"S-GZ-1"}
    assert [m["created_at"][:10] for m in mine.items] == ["2026-04-03", "2026-04-02", "2026-04-01"]  # newest first
    page = list_members(session=session, principal=GZ, limit=2, offset=2)
    assert (len(page.items), page.total, page.next_offset) == (1, 3, None)
    assert list_members(session=session, principal=GZ, limit=2).next_offset == 2
    with pytest.raises(NotOwnStore):
        list_members(session=session, principal=GZ, store_id="S-NJ-1")
    assert list_members(session=session, principal=AUDITOR).total == 4
    assert list_members(session=session, principal=ADMIN, store_id="S-NJ-1").total == 1
    with pytest.raises(Forbidden):
        list_members(session=session, principal=DISTRIBUTOR)
    with pytest.raises(UnknownStore):
        list_members(session=session, principal=ADMIN, store_id="NOPE")


def test_lookup_shows_another_stores_member_only_her_id_home_and_points(session: Session, settings, stores) -> None:
    h = hashed(PHONE, settings.key_dir)
    register(session=session, principal=GZ, phone_hash=h, name="王芳", baby_birth_date=date(2025, 9, 1))
    own = lookup(session=session, principal=GZ, phone_hash=h, policy=Policy()).as_dict()
    assert own["own"] is True and own["name"] == "王芳" and own["baby_birth_date"] == "2025-09-01"
    assert own["points"] == 0 and own["free_after"] == 6
    other = lookup(session=session, principal=NJ, phone_hash=h, policy=Policy()).as_dict()
    assert other["own"] is False and other["home_store"] == "S-GZ-1" and other["id"] == own["id"]
    assert not {"name", "baby_birth_date", "baby_stage", "consent_at", "source", "created_at"} & other.keys()
    assert lookup(session=session, principal=AUDITOR, phone_hash=h, policy=Policy()).as_dict()["name"] == "王芳"
    with pytest.raises(MemberNotFound):
        lookup(session=session, principal=GZ, phone_hash=hashed(PHONE2, settings.key_dir), policy=Policy())


def _member_sales(session: Session, h: str) -> None:
    seed(session)
    a = units(P1, "M", 4)
    capture(session, event("commissioning", a, "PLANT-1", "2026-03-31T08:00:00Z", action="ADD"))
    # one capture, two sales: the earlier (by event time, not by order in the document) decides
    capture(session, event("retail_selling", a[2:3], "S-NJ-1", "2026-04-03T10:00:00Z", member=h),
            event("retail_selling", a[:2], "S-GZ-1", "2026-04-02T10:00:00Z", member=h))  # fmt: skip
    capture(session, event("retail_selling", a[3:], "S-NJ-1", "2026-04-01T10:00:00Z", member=h))


def test_a_member_first_seen_on_a_sale_belongs_to_that_store(session: Session, settings) -> None:
    h = hashed(PHONE, settings.key_dir)
    _member_sales(session, h)
    row = session.exec(select(Member)).one()
    # the later capture's earlier sale at S-NJ-1 moves nothing: she was registered at S-GZ-1 already
    assert (row.phone_hash, row.home_store_id, row.source, row.name) == (h, "S-GZ-1", "sale", None)
    points = member_points(session=session, phone_hash=h, policy=Policy())
    assert (points["points"], points["home_store"]) == (4, "S-GZ-1")
    assert register(session=session, principal=NJ, phone_hash=h).member.home_store_id == "S-GZ-1"


def test_a_sale_retracted_in_its_own_capture_registers_nobody(session: Session, settings) -> None:
    seed(session)
    h = hashed(PHONE, settings.key_dir)
    sale = event("retail_selling", units(P1, "R", 1), "S-GZ-1", "2026-04-02T10:00:00Z", member=h)
    capture(session, sale, retract(sale))
    assert session.exec(select(Member)).all() == []
    at_no_store = event("retail_selling", units(P1, "R", 1), "D-GZ", "2026-04-02T10:00:00Z", member=h)
    capture(session, at_no_store)
    assert session.exec(select(Member)).all() == []
    events = session.exec(select(Event)).all()
    assert register_from_sales(session, events) == 0
