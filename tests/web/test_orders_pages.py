"""The order pages through the ASGI app: a store's offers on the till (seen, accepted, delivered by scanning, and
never another store's), the clerk's call list, and the call centre's page (look up, place, follow, intervene)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, func, select

from members.service import register
from orders import service as orders
from tests.factories import GTIN, api_key, auth
from tests.orders.helpers import ADMIN, HOME, PHONE, POLICY, hashed, seed, stock
from traceability.auth.service import Principal
from traceability.models import Code, CodeStatus, Member, Order, OrderOffer, OrderStep, Role, Sale, Task
from traceability.models.base import utcnow
from traceability.settings import Settings
from web import orders_pages

HTML = {"Accept": "text/html"}
JSON = {"Accept": "application/json"}


def _sign_in(client: TestClient, token: str) -> None:
    client.cookies.clear()
    resp = client.post("/login", data={"key": token}, headers=HTML, follow_redirects=False)
    assert resp.status_code == 303, resp.text


def _place(session: Session, settings: Settings, *, phone: str = PHONE, quantity: int = 1) -> dict[str, Any]:
    """An order at Store 1's door, placed now (so its hour to accept is running)."""
    seed(session)
    return orders.place(session=session, principal=ADMIN, member_hash=hashed(phone, settings.key_dir), lat=HOME[0],
                        lon=HOME[1], lines=[(GTIN, quantity)], policy=POLICY, address="广州市天河区 1 号")  # fmt: skip


def _state(session: Session, order_id: int) -> tuple[Any, ...]:
    """What an order is in the database: status, store, steps and offers, and the sales naming it."""
    session.expire_all()
    order = session.get(Order, order_id)
    assert order is not None
    steps = session.exec(select(func.count()).where(OrderStep.order_id == order_id)).one()
    offers = session.exec(
        select(OrderOffer.store_id, OrderOffer.outcome).where(OrderOffer.order_id == order_id).order_by(
            col(OrderOffer.id))).all()  # fmt: skip
    return order.status, order.store_id, steps, tuple(offers)


def test_the_store_sees_accepts_and_delivers_its_offer_on_the_till(
    client: TestClient, session: Session, settings: Settings
) -> None:
    units = stock(session, settings, "S-GZ-1", 3)
    order = _place(session, settings, quantity=2)
    assert order["store"] == "S-GZ-1"
    _sign_in(client, api_key(session, Role.store, "S-GZ-1").token)
    polled = client.get("/app/pos/offers", headers={**JSON, "Accept-Language": "zh-CN"})
    assert polled.status_code == 200, polled.text
    body = polled.json()
    [offer] = [o for o in body["offers"] if o["id"] == order["id"]]
    assert offer["deadline"] and offer["reason"] == "nearest" and offer["address"] == "广州市天河区 1 号"
    assert "最近的会员门店" in offer["history"][-1]["message"]
    assert body["active"] == [] and body["now"]
    assert PHONE not in polled.text
    accepted = client.post(f"/app/pos/offers/{order['id']}/accept", headers=JSON)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["status"] == "accepted"
    polled = client.get("/app/pos/offers", headers=JSON).json()
    assert polled["offers"] == [] and [o["id"] for o in polled["active"]] == [order["id"]]
    out = client.post(f"/app/pos/offers/{order['id']}/out-for-delivery", headers=JSON)
    assert out.status_code == 200 and out.json()["status"] == "out_for_delivery"
    # One unit too few: refused whole, in words with the reason; nothing sold.
    short = client.post(f"/app/pos/offers/{order['id']}/deliver", json={"codes": units[:1]},
                        headers={**JSON, "Accept-Language": "en"})  # fmt: skip
    assert short.status_code == 422 and short.json()["error"] == "delivery_refused"
    assert [r["reason"] for r in short.json()["rejected"]] == ["quantity_mismatch"]
    assert "2 × " + GTIN in short.json()["rejected"][0]["message"]
    assert session.exec(select(func.count()).select_from(Sale).where(col(Sale.store_id) == "S-GZ-1")).one() == 0
    done = client.post(f"/app/pos/offers/{order['id']}/deliver", json={"codes": units[:2]}, headers=JSON)
    assert done.status_code == 200, done.text
    view = done.json()
    assert view["status"] == "delivered"
    event_id = view["history"][-1]["event_id"]
    sales = session.exec(select(Sale).where(Sale.event_id == event_id)).all()
    assert sorted(s.store_id or "" for s in sales) == ["S-GZ-1", "S-GZ-1"]
    assert all(s.member_hash == hashed(PHONE, settings.key_dir) for s in sales)
    # The store's day counts them as its sales, as the store's own summary API says.
    summary = client.get("/api/v1/stores/me/summary", headers=auth(api_key(session, Role.store, "S-GZ-1")))
    assert summary.status_code == 200 and summary.json()["today"]["units_sold"] == 2
    assert client.get("/app/pos/offers", headers=JSON).json()["active"] == []


def test_another_store_can_neither_see_nor_answer_nor_deliver_an_offer(
    client: TestClient, session: Session, settings: Settings
) -> None:
    units = stock(session, settings, "S-GZ-1", 1)
    order = _place(session, settings)
    assert order["store"] == "S-GZ-1"
    before = _state(session, order["id"])
    _sign_in(client, api_key(session, Role.store, "S-GZ-2").token)
    assert client.get("/app/pos/offers", headers=JSON).json()["offers"] == []
    zh = {**JSON, "Accept-Language": "zh-CN"}
    for action, body in (("accept", None), ("decline", {"reason": "out_of_stock"}), ("out-for-delivery", None),
                         ("deliver", {"codes": units})):  # fmt: skip
        resp = client.post(f"/app/pos/offers/{order['id']}/{action}", json=body, headers=zh)
        assert resp.status_code == 404, (action, resp.text)
        assert resp.json()["error"] == "order_not_found" and "没有订单" in resp.json()["detail"]
    assert _state(session, order["id"]) == before
    # Store 1 accepts; Store 2 still cannot set out with it or deliver it, in English too.
    accepted = client.post(f"/app/pos/offers/{order['id']}/accept",
                           headers={**JSON, **auth(api_key(session, Role.store, "S-GZ-1"))})  # fmt: skip
    assert accepted.status_code == 200
    before = _state(session, order["id"])
    for action, body in (("out-for-delivery", None), ("deliver", {"codes": units})):
        resp = client.post(f"/app/pos/offers/{order['id']}/{action}", json=body,
                           headers={**JSON, "Accept-Language": "en"})  # fmt: skip
        assert resp.status_code == 404 and "no order" in resp.json()["detail"]
    assert _state(session, order["id"]) == before
    session.expire_all()
    assert session.exec(select(func.count()).select_from(Sale)).one() == 0
    [unit_status] = session.exec(select(Code.status).where(Code.holder_id == "S-GZ-1")).all()
    assert unit_status != CodeStatus.sold


def test_a_store_that_declined_sees_the_order_taken_back_and_cannot_take_it_again(
    client: TestClient, session: Session, settings: Settings
) -> None:
    order = _place(session, settings)
    _sign_in(client, api_key(session, Role.store, "S-GZ-1").token)
    declined = client.post(f"/app/pos/offers/{order['id']}/decline",
                           json={"reason": "out_of_stock", "note": "明天到货"}, headers=JSON)  # fmt: skip
    assert declined.status_code == 200 and declined.json()["status"] == "taken_back"
    full = orders.get_order(session=session, principal=ADMIN, order_id=order["id"])
    assert full["store"] == "S-GZ-2"
    step = session.exec(
        select(OrderStep).where(OrderStep.order_id == order["id"], OrderStep.status == "declined")
    ).one()
    assert step.note == "out_of_stock: 明天到货" and step.store_id == "S-GZ-1"
    assert client.get("/app/pos/offers", headers=JSON).json()["offers"] == []
    again = client.post(f"/app/pos/offers/{order['id']}/accept", headers={**JSON, "Accept-Language": "en"})
    assert again.status_code == 409 and again.json()["reason"] == "not_offered"
    # A reason that is not one of the page's is a 422, not a 500; the order stays with Store 2.
    odd = client.post(f"/app/pos/offers/{order['id']}/decline", json={"reason": "bored"}, headers=JSON)
    assert odd.status_code == 422
    assert orders.get_order(session=session, principal=ADMIN, order_id=order["id"])["store"] == "S-GZ-2"


def test_the_till_is_told_when_an_order_is_taken_back(client: TestClient, session: Session, settings: Settings) -> None:
    order = _place(session, settings)
    orders.reassign(session=session, principal=ADMIN, order_id=order["id"], policy=POLICY, store_id="S-GZ-3")
    _sign_in(client, api_key(session, Role.store, "S-GZ-1").token)
    first = client.get("/app/pos/offers", headers={**JSON, "Accept-Language": "zh-CN"}).json()
    [notice] = first["notices"]
    assert (notice["order"], notice["kind"]) == (order["id"], "withdrawn") and "改派" in notice["message"]
    assert client.get("/app/pos/offers", params={"after": notice["id"]}, headers=JSON).json()["notices"] == []
    # Another store's till is told nothing of it.
    other = client.get("/app/pos/offers", headers={**JSON, **auth(api_key(session, Role.store, "S-GZ-2"))}).json()
    assert other["notices"] == []


def test_recent_notices_skip_old_ones_on_the_first_poll(session: Session, settings: Settings) -> None:
    order = _place(session, settings)
    orders.reassign(session=session, principal=ADMIN, order_id=order["id"], policy=POLICY, store_id="S-GZ-3")
    clerk = Principal(role=Role.store, party_id="S-GZ-1")
    now = utcnow()
    assert len(orders_pages.recent_notices(session=session, principal=clerk, after=0, lang="en", now=now)) == 1
    later = now + timedelta(hours=orders_pages.NOTICE_HOURS + 1)
    assert orders_pages.recent_notices(session=session, principal=clerk, after=0, lang="en", now=later) == []


def test_offer_routes_refuse_another_sites_post(client: TestClient, session: Session, settings: Settings) -> None:
    order = _place(session, settings)
    before = _state(session, order["id"])
    _sign_in(client, api_key(session, Role.store, "S-GZ-1").token)
    for headers in ({"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}):
        resp = client.post(f"/app/pos/offers/{order['id']}/accept", headers={**JSON, **headers})
        assert resp.status_code == 403 and resp.json()["error"] == "forbidden"
    assert _state(session, order["id"]) == before


def test_pages_refuse_the_wrong_role(client: TestClient, session: Session) -> None:
    seed(session)
    _sign_in(client, api_key(session, Role.store, "S-GZ-1").token)
    assert client.get("/app/orders", headers={**HTML, "Accept-Language": "en"}).status_code == 403
    placed = client.post("/app/orders", json={"member": PHONE, "lat": HOME[0], "lon": HOME[1],
                                              "lines": [{"gtin": GTIN, "quantity": 1}]}, headers=JSON)  # fmt: skip
    assert placed.status_code == 403
    assert session.exec(select(func.count()).select_from(Order)).one() == 0
    _sign_in(client, api_key(session, Role.admin, "BRAND").token)
    assert client.get("/app/pos/offers", headers=JSON).status_code == 403
    _sign_in(client, api_key(session, Role.distributor, "D-GZ").token)
    assert client.get("/app/pos/tasks", headers=JSON).status_code == 403


# --- the call centre -----------------------------------------------------------------------------------------------


def test_the_call_centre_looks_up_places_follows_and_intervenes(
    client: TestClient, session: Session, settings: Settings
) -> None:
    seed(session)
    phone = "13600136000"
    register(session=session, principal=ADMIN, phone_hash=hashed(phone, settings.key_dir), store_id="S-GZ-2",
             name="李娜")  # fmt: skip
    _sign_in(client, api_key(session, Role.admin, "BRAND").token)
    page = client.get("/app/orders", headers={**HTML, "Accept-Language": "zh-CN"})
    assert page.status_code == 200 and "订单中心" in page.text and "婴儿配方奶粉" in page.text
    assert client.post("/app/orders/lookup", json={"member": "13500135000"}, headers=JSON).json() == {"member": None}
    found = client.post("/app/orders/lookup", json={"member": phone}, headers=JSON).json()["member"]
    assert (found["name"], found["home_store"], found["home_store_name"]) == ("李娜", "S-GZ-2", "Store 2")
    body = {"member": phone, "lat": HOME[0], "lon": HOME[1], "lines": [{"gtin": GTIN, "quantity": 1}],
            "channel": "web", "address": "广州市天河区 2 号"}  # fmt: skip
    placed = client.post("/app/orders", json=body, headers={**JSON, "Accept-Language": "zh-CN"})
    assert placed.status_code == 201, placed.text
    order = placed.json()
    assert (order["store"], order["reason"], order["channel"]) == ("S-GZ-2", "home_store", "web")
    assert phone not in placed.text
    detail = client.get(f"/app/orders/{order['id']}", headers={**HTML, "Accept-Language": "zh-CN"})
    assert detail.status_code == 200
    assert "会员的所属门店" in detail.text and "Store 2" in detail.text and 'data-status="offered"' in detail.text
    state = client.get(f"/app/orders/{order['id']}/state", headers={**JSON, "Accept-Language": "en"}).json()
    assert (
        state["names"]["S-GZ-2"] == "Store 2" and state["order"]["history"][-1]["message"] == "the member's home store"
    )
    moved = client.post(
        f"/app/orders/{order['id']}/reassign", json={"store": "S-GZ-3", "note": "客户要求"}, headers=JSON
    )
    assert moved.status_code == 200 and (moved.json()["store"], moved.json()["reason"]) == ("S-GZ-3", "reassigned")
    unknown = client.post(f"/app/orders/{order['id']}/reassign", json={"store": "S-NOPE"}, headers=JSON)
    assert unknown.status_code == 422 and unknown.json()["reason"] == "not_a_member_store"
    nxt = client.post(f"/app/orders/{order['id']}/reassign", json={"store": ""}, headers=JSON)
    assert nxt.status_code == 200 and nxt.json()["store"] not in ("S-GZ-2", "S-GZ-3")
    cancelled = client.post(f"/app/orders/{order['id']}/cancel", json={"note": "客户取消"}, headers=JSON)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    again = client.post(f"/app/orders/{order['id']}/cancel", json={}, headers=JSON)
    assert again.status_code == 409 and again.json()["reason"] == "finished"
    history = [
        s["status"] for s in client.get(f"/app/orders/{order['id']}/state", headers=JSON).json()["order"]["history"]
    ]
    assert history[:2] == ["placed", "offered"] and history[-1] == "cancelled" and history.count("withdrawn") == 2


def test_the_order_list_pages_and_filters_by_status(
    client: TestClient, session: Session, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = [_place(session, settings, phone=f"1370013700{i}")["id"] for i in range(3)]
    orders.cancel(session=session, principal=ADMIN, order_id=ids[0], policy=POLICY)
    monkeypatch.setattr(orders_pages, "PAGE_SIZE", 2)
    _sign_in(client, api_key(session, Role.admin, "BRAND").token)
    first = client.get("/app/orders", headers={**HTML, "Accept-Language": "en"})
    assert first.status_code == 200
    assert [f'data-order="{i}"' in first.text for i in ids] == [False, True, True]
    assert 'id="next-page"' in first.text and 'id="prev-page"' not in first.text
    second = client.get("/app/orders", params={"page": 2}, headers=HTML)
    assert f'data-order="{ids[0]}"' in second.text and 'id="next-page"' not in second.text
    assert 'id="prev-page"' in second.text
    only = client.get("/app/orders", params={"status": "cancelled"}, headers=HTML)
    assert [f'data-order="{i}"' in only.text for i in ids] == [True, False, False]
    for bad in ({"status": "bogus"}, {"page": "0"}, {"page": "x"}):
        assert client.get("/app/orders", params=bad, headers=JSON).status_code == 422
    assert client.get("/app/orders/99999", headers={**HTML, "Accept-Language": "en"}).status_code == 404


def test_placing_bad_orders_is_a_problem_not_a_500(client: TestClient, session: Session) -> None:
    seed(session)
    _sign_in(client, api_key(session, Role.admin, "BRAND").token)
    good: dict[str, Any] = {"member": PHONE, "lat": HOME[0], "lon": HOME[1], "lines": [{"gtin": GTIN, "quantity": 1}]}
    changes: list[dict[str, Any]] = [
        {"lat": 200},
        {"lines": []},
        {"lines": [{"gtin": "123", "quantity": 1}]},
        {"member": "12"},
        {"lines": [{"gtin": "06901234000115", "quantity": 1}]},
        {"channel": "fax"},
    ]
    for change in changes:
        resp = client.post("/app/orders", json={**good, **change}, headers=JSON)
        assert resp.status_code == 422, (change, resp.text)
    assert session.exec(select(func.count()).select_from(Order)).one() == 0
    assert client.post("/app/orders", content=b"{not json", headers={**JSON, "Content-Type": "application/json"}
                       ).status_code == 422  # fmt: skip


# --- the clerk's call list ----------------------------------------------------------------------------------------


def _task_today(session: Session, store: str, name: str) -> Task:
    member = Member(phone_hash=f"{abs(hash((store, name))):064d}"[:64], home_store_id=store, source="pos", name=name)
    session.add(member)
    session.flush()
    assert member.id is not None
    today = utcnow().date()
    task = Task(member_id=member.id, store_id=store, kind="follow_up", opens=today - timedelta(days=1),
                due=today + timedelta(days=1), reason="first_purchase", basis=today - timedelta(days=4),
                units=2)  # fmt: skip
    session.add(task)
    session.flush()
    return task


def test_the_clerk_sees_todays_calls_records_an_outcome_and_prints_the_list(
    client: TestClient, session: Session
) -> None:
    seed(session)
    mine = _task_today(session, "S-GZ-1", "王芳")
    theirs = _task_today(session, "S-GZ-2", "赵敏")
    _sign_in(client, api_key(session, Role.store, "S-GZ-1").token)
    listed = client.get("/app/pos/tasks", headers={**JSON, "Accept-Language": "zh-CN"}).json()
    assert listed["day"] == utcnow().date().isoformat()
    assert [t["id"] for t in listed["tasks"]] == [mine.id]
    assert listed["tasks"][0]["reason_text"] and listed["tasks"][0]["name"] == "王芳"
    ticket = client.get("/app/pos/tasks/ticket", headers={"Accept-Language": "zh-CN"})
    assert ticket.status_code == 200 and "今日回访清单" in ticket.text and "王芳" in ticket.text
    assert "赵敏" not in ticket.text and "Store 1" in ticket.text
    done = client.post(f"/app/pos/tasks/{mine.id}/outcome", json={"status": "bought"}, headers=JSON)
    assert done.status_code == 200 and done.json()["status"] == "bought"
    assert client.get("/app/pos/tasks", headers=JSON).json()["tasks"][0]["status"] == "bought"
    # Another store's task: not found, unchanged; an outcome that is none: 422.
    foreign = client.post(f"/app/pos/tasks/{theirs.id}/outcome", json={"status": "reached"}, headers=JSON)
    assert foreign.status_code == 404
    session.expire_all()
    assert session.get(Task, theirs.id).status == "open"  # type: ignore[union-attr]
    assert client.post(f"/app/pos/tasks/{mine.id}/outcome", json={"status": "maybe"}, headers=JSON).status_code == 422
    cross = client.post(f"/app/pos/tasks/{mine.id}/outcome", json={"status": "reached"},
                        headers={**JSON, "Origin": "https://evil.example"})  # fmt: skip
    assert cross.status_code == 403
    session.expire_all()
    assert session.get(Task, mine.id).status == "bought"  # type: ignore[union-attr]


def test_the_pos_page_carries_the_offers_and_tasks_panels(client: TestClient, session: Session) -> None:
    seed(session)
    _sign_in(client, api_key(session, Role.store, "S-GZ-1").token)
    for lang, words in (("zh-CN", ("外送订单", "今日回访", "打印清单")), ("en", ("Delivery orders", "Print the list"))):
        page = client.get("/app/pos", headers={**HTML, "Accept-Language": lang})
        assert page.status_code == 200 and all(w in page.text for w in words)
        assert 'id="offers-panel"' in page.text and 'id="tasks-panel"' in page.text


def test_the_status_filters_are_the_order_statuses() -> None:
    from traceability.models import OrderStatus

    assert set(orders_pages.STATUS_FILTERS) == {s.value for s in OrderStatus} - {"placed"}


def test_every_key_the_order_pages_use_is_in_both_catalogues() -> None:
    import re
    from pathlib import Path

    from web.i18n import catalogue

    web_dir = Path(orders_pages.__file__).parent
    used: set[str] = set()
    for name in ("templates/pos.html", "templates/orders.html", "templates/orders_detail.html"):
        used |= set(re.findall(r"""_\(\s*["']([\w.]+)["']""", (web_dir / name).read_text(encoding="utf-8")))
    for name in ("static/pos.js", "static/orders.js"):
        used |= set(re.findall(r"""\bt\(\s*"([\w.]+)"\s*[,)]""", (web_dir / name).read_text(encoding="utf-8")))
    prefixed = {"pos.offers.decline.", "pos.offers.status.", "pos.tasks.status.", "pos.tasks.outcome.",
                "orders.status.", "orders.channel."}  # fmt: skip
    for prefix in prefixed:  # keys built from a prefix and a value: every value the pages can meet
        used |= {k for k in catalogue("en") if k.startswith(prefix)}
    values = {
        "pos.offers.decline.": orders_pages.DECLINE_REASONS,
        "orders.status.": (*orders_pages.STATUS_FILTERS, "placed", "declined", "lapsed", "withdrawn", "taken_back"),
        "orders.channel.": ("call_centre", "web", "app"),
        "pos.tasks.outcome.": ("reached", "not_reached", "bought", "declined", "do_not_call"),
        "pos.tasks.status.": ("open", "reached", "not_reached", "bought", "declined", "do_not_call"),
        "pos.offers.status.": ("accepted", "out_for_delivery"),
    }
    used |= {prefix + v for prefix, vs in values.items() for v in vs}
    assert len(used) > 100
    for lang in ("zh-CN", "en"):
        missing = sorted(k for k in used if k not in catalogue(lang) and not k.endswith("."))
        assert missing == [], (lang, missing)
