"""The orders API: the call centre places (the phone never echoed), a store sees and answers only its offers, the
messages in the request's language, delivery by scanning as the store's sale."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from tests.factories import GTIN, api_key, auth
from tests.orders.helpers import HOME, PHONE, seed, stock
from traceability.models import Order, Role


def _keys(session: Session) -> dict[str, dict[str, str]]:
    seed(session)
    return {name: auth(api_key(session, role, party)) for name, role, party in (
        ("admin", Role.admin, "BRAND"), ("gz1", Role.store, "S-GZ-1"), ("gz2", Role.store, "S-GZ-2"),
        ("dist", Role.distributor, "D-GZ"),
    )}  # fmt: skip


def test_an_order_through_the_api(client: TestClient, session: Session, settings) -> None:
    units = stock(session, settings, "S-GZ-1", 2)
    keys = _keys(session)
    body = {"member": PHONE, "lat": HOME[0], "lon": HOME[1], "lines": [{"gtin": GTIN, "quantity": 2}],
            "channel": "app", "address": "广州市天河区 1 号"}  # fmt: skip
    placed = client.post("/api/v1/orders", json=body, headers=keys["admin"])
    assert placed.status_code == 201, placed.text
    order = placed.json()
    assert (order["status"], order["store"], order["reason"], order["channel"]) == ("offered", "S-GZ-1", "nearest",
                                                                                      "app")  # fmt: skip
    assert order["deadline"] and order["lines"][0]["name"]
    assert PHONE not in placed.text and "member_hash" not in placed.text
    stored = session.exec(select(Order).where(Order.id == order["id"])).one()
    assert PHONE not in stored.member_hash and len(stored.member_hash) == 64
    # A store may not place; a distributor sees nothing of orders.
    assert client.post("/api/v1/orders", json=body, headers=keys["gz1"]).status_code == 403
    assert client.get("/api/v1/orders", headers=keys["dist"]).status_code == 403
    # Store 1 sees its offer; Store 2 sees nothing, and not this order.
    mine = client.get("/api/v1/orders", params={"status": "offered"}, headers=keys["gz1"]).json()
    assert [o["id"] for o in mine] == [order["id"]]
    assert client.get("/api/v1/orders", headers=keys["gz2"]).json() == []
    other = client.get(f"/api/v1/orders/{order['id']}", headers={**keys["gz2"], "Accept-Language": "zh-CN"})
    assert other.status_code == 404 and other.json()["error"] == "order_not_found"
    assert "没有订单" in other.json()["detail"]
    # Delivery before acceptance: refused in words, by reason.
    early = client.post(f"/api/v1/orders/{order['id']}/deliver", json={"codes": units},
                        headers={**keys["gz1"], "Accept-Language": "en"})  # fmt: skip
    assert early.status_code == 409 and early.json()["reason"] == "not_accepted"
    accepted = client.post(f"/api/v1/orders/{order['id']}/accept", headers=keys["gz1"])
    assert accepted.status_code == 200 and accepted.json()["status"] == "accepted"
    # A wrong count: 422 with each problem.
    short = client.post(f"/api/v1/orders/{order['id']}/deliver", json={"codes": units[:1]},
                        headers={**keys["gz1"], "Accept-Language": "zh-CN"})  # fmt: skip
    assert short.status_code == 422 and short.json()["error"] == "delivery_refused"
    assert [r["reason"] for r in short.json()["rejected"]] == ["quantity_mismatch"]
    done = client.post(f"/api/v1/orders/{order['id']}/deliver", json={"codes": units}, headers=keys["gz1"])
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "delivered" and done.json()["history"][-1]["event_id"]
    # The unit trail shows the order: the sale's event names it as its bizTransaction.
    events = client.get("/epcis/events", params={"EQ_bizStep": "retail_selling"}, headers=keys["admin"])
    assert f"urn:trc:order:{order['id']}" in events.text
    assert PHONE not in json.dumps(done.json())


def test_the_call_centre_reassigns_and_the_store_is_told(client: TestClient, session: Session) -> None:
    keys = _keys(session)
    body = {"member": PHONE, "lat": HOME[0], "lon": HOME[1], "lines": [{"gtin": GTIN, "quantity": 1}]}
    order = client.post("/api/v1/orders", json=body, headers=keys["admin"]).json()
    assert client.post(f"/api/v1/orders/{order['id']}/reassign", json={"store": "S-GZ-2"},
                       headers=keys["gz1"]).status_code == 403  # fmt: skip
    moved = client.post(f"/api/v1/orders/{order['id']}/reassign", json={"store": "S-GZ-2", "note": "客户要求"},
                        headers=keys["admin"])  # fmt: skip
    assert (moved.json()["store"], moved.json()["reason"]) == ("S-GZ-2", "reassigned")
    notices = client.get("/api/v1/orders/notices", headers={**keys["gz1"], "Accept-Language": "zh-CN"}).json()
    assert [(n["order"], n["kind"]) for n in notices] == [(order["id"], "withdrawn")]
    assert "改派" in notices[0]["message"]
    assert client.get("/api/v1/orders/notices", params={"after": notices[0]["id"]}, headers=keys["gz1"]).json() == []
    seen = client.get(f"/api/v1/orders/{order['id']}", headers=keys["gz1"]).json()
    assert seen["status"] == "taken_back" and seen["address"] is None
    # Store 1 cannot answer it any more; Store 2 declines in Chinese, and it goes on.
    stale = client.post(f"/api/v1/orders/{order['id']}/accept", headers={**keys["gz1"], "Accept-Language": "zh-CN"})
    assert stale.status_code == 409 and stale.json()["reason"] == "not_offered" and "没有派给" in stale.json()["detail"]
    declined = client.post(f"/api/v1/orders/{order['id']}/decline", json={"note": "缺货"}, headers=keys["gz2"])
    assert declined.status_code == 200 and declined.json()["status"] == "taken_back"
    full = client.get(f"/api/v1/orders/{order['id']}", headers=keys["admin"]).json()
    assert full["store"] == "S-GZ-3"
    assert client.get("/api/v1/orders/lapses", headers=keys["admin"]).status_code == 200
    cancelled = client.post(f"/api/v1/orders/{order['id']}/cancel", headers=keys["admin"])
    assert cancelled.json()["status"] == "cancelled"
    again = client.post(f"/api/v1/orders/{order['id']}/cancel", headers=keys["admin"])
    assert again.status_code == 409 and again.json()["reason"] == "finished"


def test_bad_input_is_a_problem_not_a_500(client: TestClient, session: Session) -> None:
    keys = _keys(session)
    for body in (
        {"member": "12", "lat": 23.1, "lon": 113.2, "lines": [{"gtin": GTIN, "quantity": 1}]},
        {"member": PHONE, "lat": 123, "lon": 113.2, "lines": [{"gtin": GTIN, "quantity": 1}]},
        {"member": PHONE, "lat": 23.1, "lon": 113.2, "lines": []},
        {"member": PHONE, "lat": 23.1, "lon": 113.2, "lines": [{"gtin": "123", "quantity": 1}]},
        {"member": PHONE, "lat": 23.1, "lon": 113.2, "lines": [{"gtin": GTIN, "quantity": 0}]},
    ):
        resp = client.post("/api/v1/orders", json=body, headers=keys["admin"])
        assert resp.status_code == 422, resp.text
        assert "12" not in resp.json().get("detail", "") or body["member"] != "12"
    assert client.get("/api/v1/orders/99999", headers=keys["admin"]).status_code == 404
    missing = client.post("/api/v1/orders/99999/accept", json={"store": "S-GZ-1"}, headers=keys["admin"])
    assert missing.status_code == 404
