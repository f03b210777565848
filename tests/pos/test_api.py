"""The till's API as a store's key uses it: one round trip per sale, retries, undo, receipts, receiving, printers."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from codes.service import key_store
from tests.factories import api_key, auth
from tests.pos.helpers import PHONE, stocked
from tests.web.helpers import at_distributor, make_codes, scan
from traceability.models import Role


@pytest.fixture
def keys(session: Session, settings) -> dict[str, dict[str, str]]:
    stocked(session, settings, 1)
    return {
        "gz": auth(api_key(session, Role.store, "S-GZ-1")),
        "nj": auth(api_key(session, Role.store, "S-NJ-1")),
        "admin": auth(api_key(session, Role.admin)),
        "distributor": auth(api_key(session, Role.distributor)),
    }


def test_a_sale_in_one_round_trip_and_its_retry(client: TestClient, session: Session, settings, keys) -> None:
    units = stocked(session, settings, 2)
    headers = keys["gz"] | {"Idempotency-Key": "till-1-0001"}
    r = client.post("/api/v1/pos/sales", json={"codes": units, "member": PHONE}, headers=headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["sale_id"].startswith("urn:uuid:") and len(body["accepted"]) == 2 and not body["replayed"]
    assert body["member"]["points_earned"] == 2 and body["member"]["progress"] == {"count": 2, "of": 6}
    assert PHONE not in r.text
    again = client.post("/api/v1/pos/sales", json={"codes": units, "member": PHONE}, headers=headers).json()
    assert again["replayed"] and again["sale_id"] == body["sale_id"] and again["member"]["points"] == 2
    other = client.post("/api/v1/pos/sales", json={"codes": units, "member": "13900139000"}, headers=headers)
    assert other.status_code == 409
    listed = client.get("/api/v1/pos/sales", headers=keys["gz"]).json()
    assert [s["sale_id"] for s in listed] == [body["sale_id"]]
    assert client.get("/api/v1/pos/sales", headers=keys["nj"]).json() == []


def test_undo_receipt_and_refusals_in_the_tills_language(client: TestClient, session: Session, settings, keys) -> None:
    units = stocked(session, settings, 1)
    sale = client.post("/api/v1/pos/sales", json={"codes": units, "member": PHONE}, headers=keys["gz"]).json()
    sid = sale["sale_id"]
    html = client.get(f"/api/v1/pos/sales/{sid}/receipt", headers=keys["gz"] | {"Accept-Language": "zh-CN"})
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    assert "购物小票" in html.text and f"#{sale['member']['id']}" in html.text and PHONE not in html.text
    esc = client.get(f"/api/v1/pos/sales/{sid}/receipt", params={"format": "escpos"}, headers=keys["gz"])
    assert esc.headers["content-type"] == "application/octet-stream" and esc.content.startswith(b"\x1b")
    assert client.get(f"/api/v1/pos/sales/{sid}/receipt", headers=keys["nj"]).status_code == 404
    undone = client.post(f"/api/v1/pos/sales/{sid}/undo", headers=keys["gz"])
    assert undone.status_code == 200 and undone.json()["undone"] and undone.json()["member"]["points"] == 0
    voided = client.get(f"/api/v1/pos/sales/{sid}/receipt", headers=keys["gz"] | {"Accept-Language": "en"})
    assert "UNDONE" in voided.text
    free = client.post("/api/v1/pos/sales", json={"codes": units, "member": PHONE, "redeem": True},
                       headers=keys["gz"] | {"Accept-Language": "zh-CN"})  # fmt: skip
    assert free.status_code == 409 and free.json()["error"] == "no_free_unit" and "赠品" in free.json()["detail"]
    bad = client.post("/api/v1/pos/sales", json={"codes": units, "member": "12"}, headers=keys["gz"])
    assert bad.status_code == 422 and bad.json()["error"] == "invalid_phone"
    sold = client.post("/api/v1/pos/sales", json={"codes": units}, headers=keys["gz"]).json()
    again = client.post("/api/v1/pos/sales", json={"codes": units}, headers=keys["gz"] | {"Accept-Language": "zh-CN"})
    assert sold["sale_id"] and again.json()["rejected"][0]["reason"] == "already_sold"
    assert again.json()["rejected"][0]["message"] == "该商品已售出"


def test_only_a_store_or_the_admin_rings_up(client: TestClient, session: Session, settings, keys) -> None:
    units = stocked(session, settings, 1)
    assert client.post("/api/v1/pos/sales", json={"codes": units}, headers=keys["distributor"]).status_code == 403
    other = client.post("/api/v1/pos/sales", json={"codes": units, "store": "S-NJ-1"}, headers=keys["gz"])
    assert other.status_code == 403 and other.json()["error"] == "not_your_store"
    nameless = client.post("/api/v1/pos/sales", json={"codes": units}, headers=keys["admin"])
    assert nameless.status_code == 422 and nameless.json()["reason"] == "store_required"
    named = client.post("/api/v1/pos/sales", json={"codes": units, "store": "S-GZ-1"}, headers=keys["admin"])
    assert named.status_code == 200 and len(named.json()["accepted"]) == 1


def test_the_printer_setting_and_printing_without_a_network_printer(client: TestClient, session: Session, settings,
                                                                  keys) -> None:  # fmt: skip
    assert client.get("/api/v1/pos/printer", headers=keys["gz"]).json()["mode"] == "browser"
    units = stocked(session, settings, 1)
    sid = client.post("/api/v1/pos/sales", json={"codes": units}, headers=keys["gz"]).json()["sale_id"]
    no = client.post(f"/api/v1/pos/sales/{sid}/print", headers=keys["gz"])
    assert no.status_code == 422 and no.json()["reason"] == "printer_not_network"
    page = client.post(f"/app/pos/sales/{sid}/print", headers=keys["gz"] | {"Accept-Language": "zh-CN"})
    assert page.status_code == 422 and page.json()["reason"] == "printer_not_network", page.text
    assert re.search(r"[\u4e00-\u9fff]", page.json()["detail"]), page.json()
    put = client.put("/api/v1/pos/printer", json={"mode": "escpos", "host": "127.0.0.1", "port": 1}, headers=keys["gz"])
    assert put.status_code == 200 and put.json() == {"store_id": "S-GZ-1", "mode": "escpos", "host": "127.0.0.1",
                                                     "port": 1}  # fmt: skip
    down = client.post(f"/api/v1/pos/sales/{sid}/print", headers=keys["gz"])
    assert down.status_code == 502 and down.json()["error"] == "printer_unreachable"
    assert client.put("/api/v1/pos/printer", json={"mode": "laser"}, headers=keys["gz"]).status_code == 422


def test_receiving_warns_and_a_case_that_is_not_one_is_refused(client: TestClient, session: Session, settings,
                                                             keys) -> None:  # fmt: skip
    units = make_codes(session, key_store(settings), 1)
    at_distributor(session, units, "D-NJ")
    scan(session, "shipping", "D-NJ", units, destination="S-GZ-1")
    r = client.post("/api/v1/pos/receive", json={"codes": units}, headers=keys["gz"] | {"Accept-Language": "en"})
    assert r.status_code == 200
    [warning] = r.json()["accepted"][0]["warnings"]
    assert warning["kind"] == "unauthorized_channel" and "is not authorised to supply" in warning["message"]
    opened = client.post("/api/v1/pos/open-case", json={"code": units[0]}, headers=keys["gz"])
    assert opened.status_code == 422
