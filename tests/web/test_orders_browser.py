"""The O2O order pages in a real headless Chromium: an offer appears on the store's till (with its countdown and the
beep), is accepted, set out with and delivered by scanning at the door, and the units are then that store's sale;
the clerk's call list records an outcome and prints; the call centre places an order, sees where it went and why,
follows it live and cancels it. On a phone's width, no page scrolls sideways."""

from __future__ import annotations

import itertools
import json
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import select

from codes.service import key_store
from tests.factories import GTIN
from tests.web.conftest import WORK_PAGE, Live, screenshot
from tests.web.helpers import at_distributor, make_codes, scan
from traceability.database import session_scope
from traceability.models import Member, Role, Sale, Task
from traceability.models.base import utcnow

PHONE = 390, 844
DESK = 1366, 900
STORE_1 = (23.13, 113.26)
"""Store 1's door: an order placed here goes to Store 1, the nearest member store."""
_phones = itertools.count(15900000001)


def _api(live: Live, method: str, path: str, role: Role, body: Any = None) -> tuple[int, Any]:
    """Call the API with a role's bearer key (what another door would do while the page is open)."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(f"{live.base_url}{path}", data=data, method=method, headers={
        "Authorization": f"Bearer {live.tokens[role]}", "Content-Type": "application/json",
        "Accept-Language": "en"})  # fmt: skip
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _place(live: Live, quantity: int, phone: str | None = None) -> dict[str, Any]:
    status, order = _api(live, "POST", "/api/v1/orders", Role.admin, {
        "member": phone or str(next(_phones)), "lat": STORE_1[0], "lon": STORE_1[1],
        "lines": [{"gtin": GTIN, "quantity": quantity}], "address": "广州市越秀区 8 号"})  # fmt: skip
    assert status == 201, order
    assert order["store"] == "S-GZ-1", order
    return dict(order)


@pytest.fixture(scope="module")
def held(live: Live) -> list[str]:
    """Units Store 1 holds, shipped to it by its own distributor."""
    with session_scope(live.extra["engine"]) as session:
        codes = make_codes(session, key_store(live.extra["settings"]), 6, resolver=live.base_url)
        at_distributor(session, codes)
        scan(session, "shipping", "D-GZ", codes, destination="S-GZ-1")
    return codes


@pytest.fixture
def signed_in(browser: Any, live: Live) -> Iterator[Any]:
    """``signed_in(role, lang, size)``: a fresh context signed in with the role's key, on its landing page."""
    contexts: list[Any] = []

    def make(role: Role, lang: str = "zh-CN", size: tuple[int, int] = PHONE) -> Any:
        context = browser.new_context(locale=lang, viewport={"width": size[0], "height": size[1]})
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        page.goto(f"{live.base_url}/login?next={WORK_PAGE[role]}")
        page.fill("#key", live.tokens[role])
        page.click("button[type=submit]")
        page.wait_for_load_state()
        return page

    yield make
    for context in contexts:
        context.close()


def _no_sideways_scroll(page: Any) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"the page is {width} px wide"


def test_an_offer_appears_on_the_till_is_accepted_and_delivered_by_scanning(
    signed_in: Any, live: Live, held: list[str]
) -> None:
    page = signed_in(Role.store, "zh-CN", PHONE)
    page.wait_for_url(re.compile(r"/app/pos$"))
    page.click("#sound-toggle")
    status, before = _api(live, "GET", "/api/v1/stores/me/summary", Role.store)
    assert status == 200
    beeps = int(page.get_by_test_id("offers-panel").get_attribute("data-beeps") or 0)
    order = _place(live, 2)
    offer = page.locator(f"#offers li[data-order='{order['id']}']")
    offer.wait_for()  # the till polls: the offer appears without a reload
    assert "婴儿配方奶粉" in offer.inner_text() and "广州市越秀区 8 号" in offer.inner_text()
    assert "最近的会员门店" in offer.locator(".why").inner_text()
    countdown = offer.locator(".countdown")
    page.wait_for_function(f"Number(document.querySelector(\"#offers li[data-order='{order['id']}'] .countdown\")"
                           ".dataset.remaining) > 3000")  # fmt: skip
    assert "剩余" in countdown.inner_text() and re.search(r"\d\d:\d\d", countdown.inner_text())
    assert int(page.get_by_test_id("offers-panel").get_attribute("data-beeps") or 0) > beeps
    _no_sideways_scroll(page)
    screenshot(page, "pos-offer")
    offer.locator("button.accept").click()
    active = page.locator(f"#active-orders li[data-order='{order['id']}']")
    active.wait_for()
    assert page.locator(f"#offers li[data-order='{order['id']}']").count() == 0
    active.locator("button.set-out").click()
    page.locator(f"#active-orders li[data-order='{order['id']}'][data-status='out_for_delivery']").wait_for()
    active = page.locator(f"#active-orders li[data-order='{order['id']}']")
    # At the door: a unit Store 1 does not hold, then one it does; the second scan delivers (the count is met) and
    # is refused whole, the wrong unit named.
    box = active.locator("input.deliver-input")
    [elsewhere] = live.take(1)
    box.fill(elsewhere)
    box.press("Enter")
    box.fill(held[0])
    box.press("Enter")
    wrong = active.locator("ul.scanned li.no")
    wrong.wait_for()
    assert wrong.get_attribute("data-reason") == "not_holder"
    assert active.locator(".order-result").get_attribute("data-reason") == "not_holder"
    wrong.locator("button.remove").click()
    assert active.locator("p.count").get_attribute("data-count") == "1"
    box.fill(held[1])
    box.press("Enter")
    done = page.locator(f"#done-orders li.delivered[data-order='{order['id']}']")
    done.wait_for()
    assert "已送达" in done.inner_text() and "2 件" in done.inner_text()
    page.wait_for_timeout(4500)  # a poll later the delivered order is still shown, no longer among those to deliver
    assert done.is_visible() and page.locator(f"#active-orders li[data-order='{order['id']}']").count() == 0
    _no_sideways_scroll(page)
    screenshot(page, "pos-offer-delivered")
    # The delivered units are Store 1's sale: in its day's figures and as sale facts with the order's event.
    status, after = _api(live, "GET", "/api/v1/stores/me/summary", Role.store)
    assert after["today"]["units_sold"] == before["today"]["units_sold"] + 2
    status, view = _api(live, "GET", f"/api/v1/orders/{order['id']}", Role.admin)
    assert view["status"] == "delivered"
    with session_scope(live.extra["engine"]) as session:
        sales = session.exec(select(Sale).where(Sale.event_id == view["history"][-1]["event_id"])).all()
        assert sorted(s.store_id or "" for s in sales) == ["S-GZ-1", "S-GZ-1"]
    page.reload()  # a delivered order is no longer on the till's list
    page.wait_for_function("document.querySelector('#offers-none') && !document.querySelector("
                           f"\"#active-orders li[data-order='{order['id']}']\")")  # fmt: skip


def test_an_offer_taken_back_is_shown_and_a_declined_one_goes_on(signed_in: Any, live: Live) -> None:
    page = signed_in(Role.store, "en", DESK)
    page.wait_for_url(re.compile(r"/app/pos$"))
    taken = _place(live, 1)
    declined = _place(live, 1)
    page.locator(f"#offers li[data-order='{declined['id']}']").wait_for()
    status, _ = _api(live, "POST", f"/api/v1/orders/{taken['id']}/reassign", Role.admin, {"store": "S-NJ-1"})
    assert status == 200
    notice = page.get_by_test_id("notices").locator("li[data-kind='withdrawn']").first
    notice.wait_for()
    assert f"order {taken['id']}" in notice.inner_text()
    page.wait_for_function(f"!document.querySelector(\"#offers li[data-order='{taken['id']}']\")")
    item = page.locator(f"#offers li[data-order='{declined['id']}']")
    item.locator("button.decline-open").click()
    item.locator("select[name=reason]").select_option("no_staff")
    item.locator("form.decline button[type=submit]").click()
    page.wait_for_function(f"!document.querySelector(\"#offers li[data-order='{declined['id']}']\")")
    status, view = _api(live, "GET", f"/api/v1/orders/{declined['id']}", Role.admin)
    assert view["store"] != "S-GZ-1"
    assert [s["status"] for s in view["history"] if s["store"] == "S-GZ-1"][-1] == "declined"


def test_the_call_list_records_an_outcome_and_prints(signed_in: Any, live: Live) -> None:
    today = utcnow().date()
    with session_scope(live.extra["engine"]) as session:
        member = Member(phone_hash=f"{next(_phones):064d}", home_store_id="S-GZ-1", source="pos", name="陈静")
        session.add(member)
        session.flush()
        assert member.id is not None
        task = Task(member_id=member.id, store_id="S-GZ-1", kind="replenish", opens=today - timedelta(days=1),
                    due=today + timedelta(days=2), reason="run_out", basis=today + timedelta(days=4),
                    units=3)  # fmt: skip
        session.add(task)
        session.flush()
        task_id = task.id
    page = signed_in(Role.store, "zh-CN", PHONE)
    page.wait_for_url(re.compile(r"/app/pos$"))
    row = page.locator(f"#tasks li[data-task='{task_id}']")
    row.wait_for()
    assert "陈静" in row.inner_text() and "3" in row.locator(".why").inner_text()
    assert row.get_attribute("data-status") == "open"
    row.locator("button[data-outcome='reached']").click()
    page.locator(f"#tasks li[data-task='{task_id}'][data-status='reached']").wait_for()
    assert "已记录" in page.locator("#tasks-result").inner_text()
    with session_scope(live.extra["engine"]) as session:
        stored = session.get(Task, task_id)
        assert stored is not None and stored.status == "reached" and stored.outcome_by == "store:S-GZ-1"
    _no_sideways_scroll(page)
    screenshot(page, "pos-tasks")
    with page.context.expect_page() as opened:
        page.click("#tasks-print")
    ticket = opened.value
    ticket.wait_for_load_state()
    assert "今日回访清单" in ticket.inner_text("body")
    ticket.close()


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_the_call_centre_places_an_order_follows_it_live_and_cancels_it(signed_in: Any, live: Live, lang: str) -> None:
    words = {"zh-CN": ("新客户", "最近的会员门店", "已接单", "已取消"),
             "en": ("new customer", "the nearest member store", "accepted", "cancelled")}[lang]  # fmt: skip
    page = signed_in(Role.admin, lang, PHONE)
    page.goto(f"{live.base_url}/app/orders")
    page.fill("#order-phone", str(next(_phones)))
    page.click("#order-lookup")
    info = page.get_by_test_id("member-info")
    info.wait_for()
    assert words[0] in info.inner_text().lower() if lang == "en" else words[0] in info.inner_text()
    page.fill("#order-address", "广州市越秀区 9 号")
    page.fill("#order-lat", str(STORE_1[0]))
    page.fill("#order-lon", str(STORE_1[1]))
    page.locator("#order-lines [name=quantity]").first.fill("2")
    _no_sideways_scroll(page)
    screenshot(page, f"orders-new-{lang}")
    page.click("#place-order")
    page.wait_for_url(re.compile(r"/app/orders/\d+$"))
    order_id = int(page.url.rsplit("/", 1)[1])
    assert page.get_by_test_id("order-store").get_attribute("data-store") == "S-GZ-1"
    assert words[1] in page.get_by_test_id("order-why").inner_text()
    assert page.get_by_test_id("order-status").get_attribute("data-status") == "offered"
    # The store accepts at its till (here through its API key): the page shows it without a reload.
    status, _ = _api(live, "POST", f"/api/v1/orders/{order_id}/accept", Role.store)
    assert status == 200
    page.locator("[data-testid=order-status][data-status='accepted']").wait_for()
    assert words[2] in page.get_by_test_id("history").inner_text()
    _no_sideways_scroll(page)
    screenshot(page, f"orders-detail-{lang}")
    page.fill("#cancel-note", "客户取消")
    page.once("dialog", lambda d: d.accept())
    page.click("#cancel")
    page.locator("[data-testid=order-status][data-status='cancelled']").wait_for()
    assert words[3] in page.get_by_test_id("history").inner_text()
    assert page.get_by_test_id("intervene").is_hidden()
    page.goto(f"{live.base_url}/app/orders?status=cancelled")
    assert page.locator(f"#order-list li[data-order='{order_id}']").count() == 1
    assert page.locator("#order-list li[data-status='offered']").count() == 0
    _no_sideways_scroll(page)
