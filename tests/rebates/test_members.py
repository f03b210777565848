"""Member points and the six-get-one rule, from sales scanned with a member's phone."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from rebates.errors import NoFreeItem
from rebates.facts import rebuild
from rebates.policy import PointsPolicy, Policy
from rebates.service import member_summary, redeem_free_item
from tests.factories import api_key, auth
from tests.settlement.scenario import P1, P2, capture, event, retract, seed, units
from traceability.auth.service import Principal
from traceability.models import Role, Sale
from traceability.privacy import member_hash

A = units(P1, "A", 9)
B = units(P2, "B", 3)
STORE = Principal(role=Role.store, party_id="S-GZ-1")


@pytest.fixture
def member(session: Session, settings) -> str:
    seed(session)
    from traceability.privacy import member_pepper

    hashed = member_hash("+86 138 0013 8000", member_pepper(settings.key_dir))
    capture(session, event("commissioning", A + B, "PLANT-1", "2026-03-31T08:00:00Z", action="ADD"))
    capture(session, event("retail_selling", A[:4], "S-GZ-1", "2026-04-02T10:00:00Z", member=hashed))
    capture(session, event("retail_selling", B, "S-NJ-1", "2026-04-03T10:00:00Z", member=hashed))
    return hashed


def test_points_and_six_get_one(session: Session, member: str) -> None:
    s = member_summary(session=session, member_hash=member, policy=Policy())
    assert (s.points, s.units_bought, s.free_earned, s.free_available, s.next_free_after) == (7, 7, 1, 1, 5)
    only_p1 = Policy(points=PointsPolicy(per_unit=10, member_pack_gtins=[P1]))
    s = member_summary(session=session, member_hash=member, policy=only_p1)
    assert (s.points, s.qualifying_units, s.free_earned, s.next_free_after) == (70, 4, 0, 2)
    mine = member_summary(session=session, member_hash=member, policy=Policy(), principal=STORE)
    assert {h["store"] for h in mine.history} == {"S-GZ-1"}  # a store sees the history at its own store


def test_redemption_is_recorded_once(session: Session, member: str) -> None:
    row = redeem_free_item(session=session, member_hash=member, store_id="S-GZ-1", policy=Policy(), principal=STORE,
                           unit=A[8])  # fmt: skip
    assert row.unit_key is not None and row.unit_key.endswith("/21/A9")
    with pytest.raises(NoFreeItem):
        redeem_free_item(session=session, member_hash=member, store_id="S-GZ-1", policy=Policy(), principal=STORE)
    # The free unit scanned at the till does not count towards the next one.
    capture(session, event("retail_selling", [A[8]], "S-GZ-1", "2026-04-04T10:00:00Z", member=member))
    s = member_summary(session=session, member_hash=member, policy=Policy())
    assert (s.units_bought, s.qualifying_units, s.free_redeemed, s.free_available) == (8, 7, 1, 0)


def test_retracted_sale_earns_nothing_and_facts_rebuild_the_same(session: Session, member: str) -> None:
    wrong = event("retail_selling", [A[5]], "S-GZ-1", "2026-04-05T10:00:00Z", member=member)
    capture(session, wrong)
    assert member_summary(session=session, member_hash=member, policy=Policy()).points == 8
    capture(session, retract(wrong))
    assert member_summary(session=session, member_hash=member, policy=Policy()).points == 7
    before = sorted((s.unit_key, s.event_id, s.counted, s.member_hash) for s in session.query(Sale).all())
    rebuild(session=session)
    after = sorted((s.unit_key, s.event_id, s.counted, s.member_hash) for s in session.query(Sale).all())
    assert after == before


def test_member_api(client: TestClient, session: Session, member: str) -> None:
    store = auth(api_key(session, Role.store))
    r = client.post("/api/v1/members/points", json={"member": "+86 138-0013-8000"}, headers=store)
    assert r.status_code == 200, r.text
    assert r.json()["points"] == 7 and r.json()["free_available"] == 1
    assert client.post("/api/v1/members/redeem", json={"member": "+8613800138000"}, headers=store).status_code == 201
    again = client.post("/api/v1/members/redeem", json={"member": "+8613800138000"}, headers=store)
    assert again.status_code == 409 and again.json()["error"] == "no_free_item"
    other = client.post("/api/v1/members/redeem", json={"member": "+8613800138000", "store": "S-NJ-1"}, headers=store)
    assert other.status_code == 403
