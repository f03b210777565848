"""Each partner's own view (issue 13): a distributor's key sees exactly its own distributor line, a store's key its
own store line, each the very line finance sees for it; their units are their own; a store's day agrees with what
settlement reports. The party goes into the queries, so these hold for every party, open or locked, with
adjustments too."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from codes.keyfiles import KeyFileStore
from codes.service import key_store
from rebates.policy import Policy
from settlement.errors import NotYourParty
from settlement.periods import period_of
from settlement.schemas import SettlementRead
from settlement.service import lock_period, run_settlement, statement_for, store_summary, units_for
from tests.factories import api_key, auth
from tests.settlement.scenario import capture, event, retract
from tests.settlement.test_scenario import GZ_UNITS, NJ_CASE, april  # noqa: F401  (fixture)
from traceability.auth.service import Principal
from traceability.models import Member, Redemption, Role
from traceability.settings import Settings

POLICY = Policy()
LATER = datetime(2026, 7, 4, tzinfo=UTC)
PARTNERS = [(Role.distributor, "D-GZ"), (Role.distributor, "D-NJ"), (Role.store, "S-GZ-1"), (Role.store, "S-NJ-1")]
SECTION = {Role.distributor: "distributors", Role.store: "stores"}
OTHER = {Role.distributor: "stores", Role.store: "distributors"}


@pytest.fixture
def leaky_april(session: Session, april) -> None:  # noqa: F811
    """April, plus D-GZ shipping its last unit to a Nanjing store it may not supply: diversion alerts against it."""
    capture(session, event("shipping", [GZ_UNITS[19]], "D-GZ", "2026-04-07T09:00:00+08:00", to="S-NJ-1"))


@pytest.fixture
def keys(settings: Settings) -> KeyFileStore:
    return key_store(settings)


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _own(full: dict[str, Any], role: Role, party: str) -> dict[str, Any]:
    """What the partner's view must be: finance's document with only that party's lines and adjustments."""
    kind = "distributor" if role is Role.distributor else "store"
    return {
        SECTION[role]: [line for line in full[SECTION[role]] if line["party"] == party],
        OTHER[role]: [],
        "adjustments": [a for a in full["adjustments"] if a["party"] == party and a["kind"] == kind],
    }


def _check_scoped(view: dict[str, Any], full: dict[str, Any], role: Role, party: str) -> None:
    expected = _own(full, role, party)
    for name in ("distributors", "stores", "adjustments"):
        assert _dumps(view[name]) == _dumps(expected[name]), (party, name)  # byte for byte, key order too
    for name in ("period", "status", "timezone", "starts_at", "ends_at", "locked_at", "policy"):
        assert view[name] == full[name]


def test_each_partner_sees_exactly_its_own_line_through_the_api(client: TestClient, session: Session,
                                                                leaky_april) -> None:  # fmt: skip
    finance = client.get("/api/v1/settlement/2026-04", headers=auth(api_key(session, Role.finance)))
    full = finance.json()
    gz = next(d for d in full["distributors"] if d["party"] == "D-GZ")
    assert gz["alert_ids"] and gz["diverted_units"] == 1 and gz["rate"] == "0"  # the leak shows in its own line
    for role, party in PARTNERS:
        resp = client.get("/api/v1/settlement/2026-04", headers=auth(api_key(session, role, party)))
        assert resp.status_code == 200, resp.text
        view = resp.json()
        _check_scoped(view, full, role, party)
        assert len(view[SECTION[role]]) == 1
        line = view[SECTION[role]][0]
        compact = json.dumps(line, ensure_ascii=False, separators=(",", ":")).encode()
        assert compact in resp.content and compact in finance.content  # the very bytes finance received
        assert view["totals"][0]["payable"] == line["rebate" if role is Role.distributor else "fee"]


def test_finance_and_admin_see_the_whole_settlement_unchanged(client: TestClient, session: Session,
                                                              leaky_april) -> None:  # fmt: skip
    whole = run_settlement(session=session, period="2026-04", policy=POLICY).as_dict()
    finance = client.get("/api/v1/settlement/2026-04", headers=auth(api_key(session, Role.finance)))
    admin = client.get("/api/v1/settlement/2026-04", headers=auth(api_key(session, Role.admin)))
    assert finance.content == admin.content
    assert finance.json() == SettlementRead.model_validate(whole).model_dump(mode="json", exclude_unset=True)
    assert "checkpoint" not in finance.json()  # open: the contract's keys, nothing added


@pytest.mark.parametrize("locked", [False, True])
def test_every_partner_line_equals_finances_open_or_locked(session: Session, leaky_april, keys, locked: bool) -> None:
    if locked:
        lock_period(session=session, period="2026-04", policy=POLICY, now=LATER, keys=keys)
    full = run_settlement(session=session, period="2026-04", policy=POLICY).as_dict()
    assert full["status"] == ("locked" if locked else "open")
    for role, party in PARTNERS:
        view = statement_for(session=session, principal=Principal(role, party), period="2026-04", policy=POLICY)
        _check_scoped(view.as_dict(), full, role, party)
        if locked:
            assert view.checkpoint is not None and view.as_dict()["checkpoint"] == full["checkpoint"]


def test_restatements_reach_only_the_party_they_concern(session: Session, leaky_april, keys) -> None:
    lock_period(session=session, period="2026-04", policy=POLICY, now=LATER, keys=keys)
    # Late April facts: one more sale at S-GZ-1, and the retraction of the Nanjing sale; May's own business too.
    capture(session, event("retail_selling", [GZ_UNITS[7]], "S-GZ-1", "2026-04-25T10:00:00+08:00"))
    from tests.settlement.test_scenario import _nj_sale_id

    capture(session, retract(event("retail_selling", [NJ_CASE[0]], "S-NJ-1", "2026-04-20T10:00:00+08:00",
                                   event_id=_nj_sale_id(session))))  # fmt: skip
    capture(session, event("retail_selling", [GZ_UNITS[8]], "S-GZ-1", "2026-05-03T10:00:00+08:00"))
    full = run_settlement(session=session, period="2026-05", policy=POLICY).as_dict()
    assert {a["party"] for a in full["adjustments"]} == {"S-GZ-1", "S-NJ-1"}
    for role, party in PARTNERS:
        view = statement_for(session=session, principal=Principal(role, party), period="2026-05", policy=POLICY)
        _check_scoped(view.as_dict(), full, role, party)
    gz = statement_for(session=session, principal=Principal(Role.store, "S-GZ-1"), period="2026-05", policy=POLICY)
    assert [(a.for_period, a.party, str(a.delta)) for a in gz.adjustments] == [("2026-04", "S-GZ-1", "8.04")]
    assert gz.totals()[0]["payable"] == str(gz.stores[0].fee + gz.adjustments[0].delta)


def test_units_are_the_callers_own_and_another_partys_are_refused(client: TestClient, session: Session,
                                                                  april) -> None:  # noqa: F811  # fmt: skip
    finance = auth(api_key(session, Role.finance))
    store = auth(api_key(session, Role.store, "S-GZ-1"))
    distributor = auth(api_key(session, Role.distributor, "D-NJ"))
    mine = client.get("/api/v1/settlement/2026-04/units", headers=store)
    assert mine.status_code == 200
    assert mine.json() == client.get("/api/v1/settlement/2026-04/units?party=S-GZ-1", headers=finance).json()
    assert {u["kind"] for u in mine.json()} == {"sale"}
    assert client.get("/api/v1/settlement/2026-04/units?party=S-GZ-1", headers=store).json() == mine.json()
    bought = client.get("/api/v1/settlement/2026-04/units", headers=distributor).json()
    assert len(bought) == 10 and {u["kind"] for u in bought} == {"purchase"}
    for key, other in ((store, "S-NJ-1"), (store, "D-GZ"), (distributor, "D-GZ"), (distributor, "S-NJ-1")):
        refused = client.get(f"/api/v1/settlement/2026-04/units?party={other}", headers=key)
        assert refused.status_code == 403 and refused.json()["error"] == "not_your_party"
        assert other in refused.json()["detail"] and "只能查看" in refused.json()["detail"]  # Chinese by default
    english = client.get("/api/v1/settlement/2026-04/units?party=S-NJ-1", headers={**store, "Accept-Language": "en"})
    assert english.status_code == 403 and "not S-NJ-1's" in english.json()["detail"]
    unnamed = client.get("/api/v1/settlement/2026-04/units", headers=finance)
    assert unnamed.status_code == 422 and unnamed.json()["error"] == "party_required"
    assert client.get("/api/v1/settlement/2026-04/units", headers=auth(api_key(session, Role.plant))).status_code == 403


def test_roles_without_a_line_of_their_own_get_none(session: Session, april) -> None:  # noqa: F811
    for role in (Role.plant,):
        with pytest.raises(NotYourParty):
            statement_for(session=session, principal=Principal(role, "PLANT-1"), period="2026-04", policy=POLICY)
        with pytest.raises(NotYourParty):
            units_for(session=session, principal=Principal(role, "PLANT-1"), period="2026-04", policy=POLICY)
    with pytest.raises(NotYourParty):
        store_summary(session=session, principal=Principal(Role.distributor, "D-GZ"), policy=POLICY)


def test_partners_read_the_locked_periods(client: TestClient, session: Session, april, keys) -> None:  # noqa: F811
    lock_period(session=session, period="2026-04", policy=POLICY, now=LATER, keys=keys)
    finance = client.get("/api/v1/settlement/periods", headers=auth(api_key(session, Role.finance))).json()
    for role, party in PARTNERS:
        assert client.get("/api/v1/settlement/periods", headers=auth(api_key(session, role, party))).json() == finance


def _member(session: Session, store: str, n: int) -> None:
    session.add(Member(phone_hash=f"{n:064x}", home_store_id=store))
    session.flush()


def test_a_stores_day_agrees_with_settlement(session: Session, april) -> None:  # noqa: F811
    for n in range(3):
        _member(session, "S-GZ-1", n)
    _member(session, "S-NJ-1", 99)
    session.add(Redemption(member_hash="e" * 64, store_id="S-GZ-1", redeemed_at=datetime(2026, 4, 11, 9, tzinfo=UTC)))
    session.add(Redemption(member_hash="e" * 64, store_id="S-GZ-1", redeemed_at=datetime(2026, 4, 12, 9, tzinfo=UTC)))
    session.flush()
    store = Principal(Role.store, "S-GZ-1")
    now = datetime(2026, 4, 11, 12, tzinfo=UTC)
    before = store_summary(session=session, principal=store, policy=POLICY, now=now).members
    _member(session, "S-GZ-1", 3)
    day = store_summary(session=session, principal=store, policy=POLICY, now=now)
    # 2026-04-11 in UTC: the four member units sold at 10:00 Shanghai (02:00Z); one free unit handed over.
    assert (day.today.day.isoformat(), day.today.units_sold, day.today.member_units, day.today.free_units) == (
        "2026-04-11", 4, 4, 1,
    )  # fmt: skip
    # Its own members only: the three registered here and the one first seen on a sale here ("e" * 64).
    assert before == 4 and day.members == 5
    full = run_settlement(session=session, period="2026-04", policy=POLICY).as_dict()
    body = day.as_dict()
    assert body["month"]["lines"] == [s for s in full["stores"] if s["party"] == "S-GZ-1"]
    assert body["month"]["units_sold"] == 5 and body["month"]["lines"][0]["fee"] == "32.16"
    assert body["month"]["totals"][0]["fees"] == "32.16"
    # The policy's time zone decides what "today" is: 17:00Z on the 10th is already the 11th in Shanghai.
    shanghai = Policy(timezone="Asia/Shanghai")
    evening = datetime(2026, 4, 10, 17, tzinfo=UTC)
    assert store_summary(session=session, principal=store, policy=POLICY, now=evening).today.units_sold == 1
    local = store_summary(session=session, principal=store, policy=shanghai, now=evening)
    assert (local.today.day.isoformat(), local.today.units_sold) == ("2026-04-11", 4)
    assert local.month.stores == run_settlement(session=session, period="2026-04", policy=shanghai).stores[:1]


def test_the_store_summary_api(client: TestClient, session: Session, april) -> None:  # noqa: F811
    now = datetime.now(UTC).replace(microsecond=0)
    capture(session, event("retail_selling", [GZ_UNITS[10]], "S-GZ-1", now.isoformat(), member="f" * 64))
    store = auth(api_key(session, Role.store, "S-GZ-1"))
    resp = client.get("/api/v1/stores/me/summary", headers=store)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["store"] == "S-GZ-1" and body["name"] == "Store 1" and body["members"] == 2  # e…, f… from sales
    assert (body["today"]["units_sold"], body["today"]["member_units"]) == (1, 1)
    period = period_of(now, POLICY.timezone)
    statement = client.get(f"/api/v1/settlement/{period}", headers=store).json()
    assert body["month"]["period"] == period and body["month"]["lines"] == statement["stores"]
    assert body["month"]["totals"] == statement["totals"]
    refused = client.get("/api/v1/stores/me/summary", headers=auth(api_key(session, Role.distributor)))
    assert refused.status_code == 403
