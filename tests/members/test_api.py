"""The member API as a till and the brand use it: register, look up, list (scoped), points and import."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from tests.factories import api_key, auth, seed_masterdata
from tests.members.helpers import PHONE, PHONE2
from traceability.models import Member, Role


@pytest.fixture
def keys(session: Session) -> dict[str, dict[str, str]]:
    seed_masterdata(session)
    return {
        "gz": auth(api_key(session, Role.store, "S-GZ-1")),
        "nj": auth(api_key(session, Role.store, "S-NJ-1")),
        "admin": auth(api_key(session, Role.admin)),
        "finance": auth(api_key(session, Role.finance)),
        "distributor": auth(api_key(session, Role.distributor)),
    }


def test_register_answers_201_then_200_with_the_home_store_unchanged(client: TestClient, keys) -> None:
    r = client.post("/api/v1/members", json={"member": PHONE, "name": "王芳", "baby_birth_date": "2025-09-01",
                                             "consent": True, "source": "pos"}, headers=keys["gz"])  # fmt: skip
    assert r.status_code == 201, r.text
    body = r.json()
    assert set(body) == {"id", "home_store", "created"} and body["home_store"] == "S-GZ-1" and body["created"]
    again = client.post("/api/v1/members", json={"member": "+8613800138000"}, headers=keys["nj"])
    assert again.status_code == 200 and again.json() == {"id": body["id"], "home_store": "S-GZ-1", "created": False}
    assert "13800138000" not in r.text + again.text


def test_store_keys_see_their_own_members_only(client: TestClient, keys) -> None:
    assert client.post("/api/v1/members", json={"member": PHONE}, headers=keys["gz"]).status_code == 201
    assert client.post("/api/v1/members", json={"member": PHONE2}, headers=keys["nj"]).status_code == 201
    mine = client.get("/api/v1/members", headers=keys["gz"])
    assert mine.status_code == 200 and [m["home_store"] for m in mine.json()] == ["S-GZ-1"]
    assert mine.headers["X-Total-Count"] == "1" and "Link" not in mine.headers
    other = client.get("/api/v1/members", params={"store": "S-NJ-1"}, headers=keys["gz"])
    assert other.status_code == 403 and other.json()["error"] == "not_own_store"
    everyone = client.get("/api/v1/members", params={"limit": 1}, headers=keys["finance"])
    assert everyone.headers["X-Total-Count"] == "2" and len(everyone.json()) == 1
    assert everyone.headers["Link"] == '</api/v1/members?offset=1&limit=1>; rel="next"'
    one = client.get("/api/v1/members", params={"store": "S-NJ-1"}, headers=keys["admin"]).json()
    assert [m["home_store"] for m in one] == ["S-NJ-1"]
    assert client.get("/api/v1/members", headers=keys["distributor"]).status_code == 403
    assert client.post("/api/v1/members", json={"member": PHONE, "store": "S-NJ-1"},
                       headers=keys["gz"]).status_code == 403  # fmt: skip


def test_lookup_by_phone_in_the_body(client: TestClient, keys) -> None:
    client.post("/api/v1/members", json={"member": PHONE, "name": "王芳", "baby_stage": 2}, headers=keys["gz"])
    own = client.post("/api/v1/members/lookup", json={"member": PHONE}, headers=keys["gz"])
    assert own.status_code == 200 and own.json()["own"] is True and own.json()["name"] == "王芳"
    seen = client.post("/api/v1/members/lookup", json={"member": PHONE}, headers=keys["nj"]).json()
    assert seen["own"] is False and seen["home_store"] == "S-GZ-1" and "name" not in seen and "baby_stage" not in seen
    assert seen["points"] == 0 and seen["free_available"] == 0
    missing = client.post("/api/v1/members/lookup", json={"member": PHONE2}, headers=keys["gz"])
    assert missing.status_code == 404 and missing.json()["error"] == "member_not_found"
    assert "13900139000" not in missing.text


def test_points_carry_the_home_store(client: TestClient, keys) -> None:
    before = client.post("/api/v1/members/points", json={"member": PHONE}, headers=keys["gz"]).json()
    assert before["home_store"] is None and before["points"] == 0 and before["history"] == []
    client.post("/api/v1/members", json={"member": PHONE}, headers=keys["nj"])
    after = client.post("/api/v1/members/points", json={"member": PHONE}, headers=keys["gz"]).json()
    assert after["home_store"] == "S-NJ-1"


def test_refusals_speak_the_requests_language(client: TestClient, keys) -> None:
    zh = client.post("/api/v1/members", json={"member": "13800"}, headers=keys["gz"] | {"Accept-Language": "zh-CN"})
    assert zh.status_code == 422 and zh.json()["error"] == "invalid_phone" and "手机号" in zh.json()["detail"]
    assert "13800" not in zh.text
    en = client.post("/api/v1/members", json={"member": PHONE, "baby_stage": 7},
                     headers=keys["gz"] | {"Accept-Language": "en-US,en;q=0.9"})  # fmt: skip
    assert en.status_code == 422 and en.json()["reason"] == "bad_stage" and "stage" in en.json()["detail"]
    naive = client.post("/api/v1/members", json={"member": PHONE, "consent": "2026-04-01T10:00:00"},
                        headers=keys["gz"])  # fmt: skip
    assert naive.status_code == 422
    unknown = client.post("/api/v1/members", json={"member": PHONE, "store": "NOPE"}, headers=keys["admin"])
    assert unknown.status_code == 404 and unknown.json()["error"] == "unknown_store"


def test_import_over_the_api_is_all_or_nothing(client: TestClient, session: Session, keys) -> None:
    csv_text = "手机号,姓名,宝宝生日\n13800138000,王芳,2025-09-01\n13800,李娜,2025-13-01\n"
    bad = client.post("/api/v1/members/import", content=csv_text.encode(), headers=keys["gz"] | {
        "Content-Type": "text/csv", "Accept-Language": "en"})  # fmt: skip
    assert bad.status_code == 422 and bad.json()["error"] == "member_import_invalid"
    assert [(r["line"], r["column"], r["reason"]) for r in bad.json()["rows"]] == [
        (3, "phone", "invalid_phone"), (3, "baby_birth_date", "bad_date")]  # fmt: skip
    assert "13800" not in bad.text
    assert session.exec(select(Member)).all() == []
    good = client.post("/api/v1/members/import", content=csv_text.splitlines(keepends=True)[0] +
                       "13800138000,王芳,2025-09-01\n", headers=keys["gz"] | {"Content-Type": "text/csv"})  # fmt: skip
    assert good.status_code == 200 and good.json() == {"rows": 1, "created": 1, "existing": 0, "ignored_columns": []}
    other = client.post("/api/v1/members/import", params={"store": "S-NJ-1"}, content=b"phone\n13900139000\n",
                        headers=keys["gz"] | {"Content-Type": "text/csv"})  # fmt: skip
    assert other.status_code == 403
    garbage = client.post("/api/v1/members/import", content=b"\xff\xfe\x00bad", headers=keys["admin"])
    assert garbage.status_code == 422 and garbage.json()["rows"][0]["reason"] == "not_utf8"
