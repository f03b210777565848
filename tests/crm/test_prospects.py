"""Prospects: handed in by phone, the first store to name her keeps the credit, converted when she registers or
buys, per store and month against the target; and the marketing API around campaigns, points and exports."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlmodel import Session

from crm.errors import InvalidProspects, NotOwnStore
from crm.prospects import hand_in, prospect_report
from rebates.policy import Policy
from tests.crm.helpers import ADMIN, Shop, seed
from tests.factories import api_key, auth
from tests.members.helpers import GZ, NJ
from traceability.errors import Forbidden
from traceability.models import Role

POLICY = Policy(crm={"prospect_target": 3})
APRIL = datetime(2026, 4, 3, 9, tzinfo=UTC)


def test_prospects_are_credited_to_the_first_store_that_named_her(session: Session, settings) -> None:
    seed(session)
    shop = Shop(session, settings.key_dir)
    shop.member("old")  # a member already: no store may claim her
    phones = {n: f"1390000{i:04d}" for i, n in enumerate(("p1", "p2", "p3"))}
    from traceability.privacy import member_hash, member_pepper

    pepper = member_pepper(settings.key_dir)
    h = {n: member_hash(p, pepper) for n, p in phones.items()}
    first = hand_in(session=session, principal=NJ, phone_hashes=[h["p1"], h["p2"], h["p1"], None, shop.hashes["old"]],
                    policy=POLICY, now=APRIL)  # fmt: skip
    assert [i["status"] for i in first["items"]] == ["added", "added", "already_yours", "invalid_phone",
                                                     "already_member"]  # fmt: skip
    later = hand_in(session=session, principal=GZ, phone_hashes=[h["p1"], h["p3"]], policy=POLICY, lang="zh-CN",
                    now=datetime(2026, 4, 20, tzinfo=UTC))  # fmt: skip
    assert [i["status"] for i in later["items"]] == ["already_named", "added"]
    assert "其他门店" in later["items"][0]["message"]
    # p1 registers at S-GZ-1 and buys 2 there; she stays S-NJ-1's prospect: the credit is the first namer's
    shop.hashes["p1"] = h["p1"]
    from members.service import register

    register(session=session, principal=ADMIN, phone_hash=h["p1"], store_id="S-GZ-1",
             now=datetime(2026, 4, 10, tzinfo=UTC))  # fmt: skip
    shop.buy("p1", date(2026, 4, 12), 2, store="S-GZ-1")
    # p2 never registers but buys once at S-NJ-1 with her phone (first seen on a sale)
    shop.hashes["p2"] = h["p2"]
    shop.buy("p2", date(2026, 5, 2), 1, store="S-NJ-1")
    rows = {r["store"]: r for r in prospect_report(session=session, principal=ADMIN, month="2026-04", policy=POLICY)}
    nj, gz = rows["S-NJ-1"], rows["S-GZ-1"]
    assert (nj["handed_in"], nj["target"], nj["short_of_target"], nj["converted"]) == (2, 3, 1, 2)
    assert (nj["credited_units"], nj["credited_value"]) == (3, "804.00")
    assert (gz["handed_in"], gz["converted"], gz["credited_units"], gz["met_target"]) == (1, 0, 0, False)
    assert prospect_report(session=session, principal=ADMIN, month="2026-05", policy=POLICY)[0]["handed_in"] == 0
    # a store sees its own line only, and hands in for itself only
    assert [r["store"] for r in prospect_report(session=session, principal=GZ, month="2026-04", policy=POLICY)] == [
        "S-GZ-1"]  # fmt: skip
    with pytest.raises(NotOwnStore):
        prospect_report(session=session, principal=GZ, month="2026-04", policy=POLICY, store_id="S-NJ-1")
    with pytest.raises(NotOwnStore):
        hand_in(session=session, principal=GZ, phone_hashes=[h["p3"]], policy=POLICY, store_id="S-NJ-1")
    with pytest.raises(InvalidProspects):
        prospect_report(session=session, principal=ADMIN, month="2026-13", policy=POLICY)
    with pytest.raises(InvalidProspects):
        hand_in(session=session, principal=GZ, phone_hashes=[], policy=POLICY)
    from tests.members.helpers import DISTRIBUTOR

    with pytest.raises(Forbidden):
        hand_in(session=session, principal=DISTRIBUTOR, phone_hashes=[h["p3"]], policy=POLICY)


def test_the_marketing_api_is_party_scoped(client: TestClient, session: Session, settings) -> None:
    seed(session)
    shop = Shop(session, settings.key_dir)
    shop.member("gz")
    shop.member("nj", store="S-NJ-1")
    shop.buy("gz", date(2026, 4, 2), 2)
    store = auth(api_key(session, Role.store, "S-GZ-1"))
    admin = auth(api_key(session, Role.admin))
    body = {"code": "SPRING", "name": "春季", "starts_on": "2026-04-01", "ends_on": "2026-04-30", "bonus": 2,
            "territories": ["CN-44"]}  # fmt: skip
    refused = client.post("/api/v1/campaigns", json=body, headers=store)
    assert refused.status_code == 403 and refused.json()["error"] == "forbidden"
    made = client.post("/api/v1/campaigns", json=body, headers=admin)
    assert made.status_code == 201 and made.json()["extra_per_unit"] == "2.00"
    bad = client.post("/api/v1/campaigns", json=body | {"code": "S2", "stores": ["NOPE"]},
                      headers=admin | {"Accept-Language": "zh-CN"})  # fmt: skip
    assert bad.status_code == 422 and bad.json()["field"] == "stores" and "不存在" in bad.json()["detail"]
    assert client.post("/api/v1/campaigns", json=body | {"starts_on": "2026-02-30"}, headers=admin).status_code == 422
    assert [c["code"] for c in client.get("/api/v1/campaigns", headers=store).json()] == ["SPRING"]
    # points at the till include the campaign (2 units x 2)
    pts = client.post("/api/v1/members/points", json={"member": "13800000000"}, headers=store).json()
    assert pts["points"] == 2 + 4
    # a store grants only to its own members
    other = client.post("/api/v1/members/points/grant", json={"member": "13800000001", "points": 5, "reason": "x"},
                        headers=store)  # fmt: skip
    assert other.status_code == 403 and other.json()["error"] == "not_own_member"
    mine = client.post("/api/v1/members/points/grant", json={"member": "13800000000", "points": 10,
                                                             "reason": "妈妈课堂"}, headers=store)  # fmt: skip
    assert mine.status_code == 201 and mine.json()["granted_by"] == "store:S-GZ-1"
    assert client.post("/api/v1/rewards", json={"code": "MUG", "name": "水杯", "points_price": 12},
                       headers=store).status_code == 403  # fmt: skip
    assert client.post("/api/v1/rewards", json={"code": "MUG", "name": "水杯", "points_price": 12},
                       headers=admin).status_code == 201  # fmt: skip
    # a store redeems at its own store only
    elsewhere = client.post("/api/v1/rewards/MUG/redeem", json={"member": "13800000000", "store": "S-NJ-1"},
                            headers=store)  # fmt: skip
    assert elsewhere.status_code == 403 and elsewhere.json()["error"] == "not_own_store"
    ok = client.post("/api/v1/rewards/MUG/redeem", json={"member": "13800000000"}, headers=store)
    assert ok.status_code == 201 and ok.json()["balance"] == 16 - 12
    short = client.post("/api/v1/rewards/MUG/redeem", json={"member": "13800000000"},
                        headers=store | {"Accept-Language": "en"})  # fmt: skip
    assert short.status_code == 409 and short.json()["reason"] == "not_enough_points"
    assert short.json()["detail"] == "reward MUG costs 12 points; the member has 4"
    assert "13800000000" not in short.text
    assert client.post("/api/v1/rewards/MUG/redeem", json={"member": "abc"}, headers=store).status_code == 422
    top = client.get("/api/v1/members/top10", params={"year": 2026}, headers=store).json()
    assert [(t["member"], t["earned"]) for t in top] == [(shop.ids["gz"], 16)]
    assert client.get("/api/v1/crm/return/campaigns", params={"as_of": "2026-04-30"}, headers=store).status_code == 403
    ret = client.get("/api/v1/crm/return/campaigns", params={"as_of": "2026-04-30"}, headers=admin).json()
    assert [(r["campaign"], r["campaign_units"], r["points_cost"]) for r in ret] == [("SPRING", 2, 4)]
    sources = client.get("/api/v1/crm/return/sources", params={"as_of": "2026-04-30", "from": "2026-04-01"},
                         headers=admin).json()  # fmt: skip
    assert [(r["source"], r["from"], r["units"]) for r in sources] == [("pos", "2026-04-01", 2)]
    handed = client.post("/api/v1/prospects", json={"members": ["13900000000", "x"]}, headers=store).json()
    assert [i["status"] for i in handed["items"]] == ["added", "invalid_phone"]
    assert "13900000000" not in str(handed)
    # exports: headers in the reader's language, the API's rows
    csv_zh = client.get("/api/v1/crm/exports/top10", params={"year": 2026, "format": "csv"},
                        headers=store | {"Accept-Language": "zh-CN"})  # fmt: skip
    assert csv_zh.status_code == 200 and csv_zh.headers["content-type"].startswith("text/csv")
    table = list(csv.reader(io.StringIO(csv_zh.content.decode("utf-8-sig"))))
    assert table[0][:3] == ["名次", "会员", "门店"] and table[1][-1] == "16"
    xlsx = client.get("/api/v1/crm/exports/return-campaigns", params={"as_of": "2026-04-30", "format": "xlsx"},
                      headers=admin | {"Accept-Language": "en"})  # fmt: skip
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    assert [c.value for c in sheet[1]][:2] == ["campaign", "name"] and sheet["A2"].value == "SPRING"
    seg = client.get("/api/v1/crm/exports/segments", params={"as_of": "2026-04-30"}, headers=store)
    assert seg.status_code == 200 and len(seg.content.decode("utf-8-sig").strip().splitlines()) == 2
    month = handed["month"]  # the local month of today's hand-in
    pr = client.get("/api/v1/crm/exports/prospects", params={"month": month}, headers=store)
    assert pr.status_code == 200
    assert list(csv.reader(io.StringIO(pr.content.decode("utf-8-sig"))))[1][:4] == ["S-GZ-1", "Store 1", month, "1"]
    assert client.get("/api/v1/crm/exports/prospects", headers=store).status_code == 422  # no month
