"""The store clerk's till and receiving pages in a real headless Chromium, on a phone and on a desk, in both
languages: register a member and sell, six sales then the free unit, a receipt, undo, and receiving a case from a
distributor that may not supply the store."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from typing import Any

import pytest

from codes.service import key_store
from tests.web.conftest import Live, screenshot
from tests.web.helpers import at_distributor, make_codes, scan
from traceability.database import session_scope
from traceability.models import Role

PHONE = 390, 844
DESK = 1366, 900
_phones = itertools.count(13700000001)


@pytest.fixture(scope="module")
def stock(live: Live) -> dict[str, list[str]]:
    """Units Store 1 holds (from its own distributor), and units 南京's distributor shipped it (not its supplier)."""
    with session_scope(live.extra["engine"]) as session:
        store = key_store(live.extra["settings"])
        own = make_codes(session, store, 20, resolver=live.base_url)
        at_distributor(session, own)
        scan(session, "shipping", "D-GZ", own, destination="S-GZ-1")
        foreign = make_codes(session, store, 2, resolver=live.base_url)
        at_distributor(session, foreign, "D-NJ")
        scan(session, "shipping", "D-NJ", foreign, destination="S-GZ-1")
    return {"own": own, "foreign": foreign}


@pytest.fixture
def clerk(browser: Any, live: Live) -> Iterator[Any]:
    """``clerk(lang, size)``: a fresh context signed in with Store 1's key, on the till."""
    contexts: list[Any] = []

    def make(lang: str = "zh-CN", size: tuple[int, int] = PHONE) -> Any:
        context = browser.new_context(locale=lang, viewport={"width": size[0], "height": size[1]})
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        page.goto(f"{live.base_url}/login?next=/app/pos")
        page.fill("#key", live.tokens[Role.store])
        page.click("button[type=submit]")
        page.wait_for_url(re.compile(r"/app/pos$"))
        return page

    yield make
    for context in contexts:
        context.close()


def _take(stock: dict[str, list[str]], n: int) -> list[str]:
    taken, stock["own"][:] = stock["own"][:n], stock["own"][n:]
    assert len(taken) == n, "the module's stock ran out"
    return taken


def _register(page: Any, phone: str) -> None:
    page.fill("#member-phone", phone)
    page.click("#member-lookup")
    page.get_by_test_id("register-form").wait_for()
    page.fill("#reg-name", "王芳")
    page.select_option("#reg-stage", "2")
    page.check("#reg-consent")
    page.click("#register")
    page.get_by_test_id("member-standing").wait_for()


def _sell(page: Any, code: str, sales_before: int) -> None:
    page.focus("#scan-input")
    page.keyboard.type(code + "\n")
    page.wait_for_function(f"document.querySelectorAll('#sales li').length > {sales_before}")


WORDS = {"zh-CN": {"registered": "已登记", "sold": "已售 1 件", "title": "收银"},
         "en": {"registered": "registered", "sold": "1 sold", "title": "Till"}}  # fmt: skip


@pytest.mark.parametrize("size", [PHONE, DESK], ids=["phone", "desk"])
@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_register_a_member_on_the_spot_and_sell(clerk: Any, stock, lang: str, size: tuple[int, int]) -> None:
    [unit] = _take(stock, 1)
    page = clerk(lang, size)
    assert page.locator("h1").first.inner_text() == WORDS[lang]["title"]
    _register(page, str(next(_phones)))
    assert WORDS[lang]["registered"] in page.get_by_test_id("sale-result").inner_text()
    standing = page.get_by_test_id("member-standing")
    assert standing.get_attribute("data-progress") == "0/6"
    before = page.locator("#sales li").count()
    _sell(page, unit, before)
    result = page.get_by_test_id("sale-result")
    assert WORDS[lang]["sold"] in result.inner_text()
    assert standing.get_attribute("data-points") == "1" and standing.get_attribute("data-progress") == "1/6"
    assert "1 / 6" in standing.inner_text()
    assert page.evaluate("document.activeElement.id") == "scan-input"  # the gun's next code lands in the field
    screenshot(page, f"pos-sale-{lang}-{size[0]}")


def test_six_sales_then_the_free_unit(clerk: Any, stock) -> None:
    units = _take(stock, 7)
    page = clerk("zh-CN", PHONE)
    _register(page, str(next(_phones)))
    banner = page.get_by_test_id("free-banner")
    for i, unit in enumerate(units[:6]):
        assert banner.is_hidden()
        _sell(page, unit, page.locator("#sales li").count())
        page.wait_for_function(f"document.getElementById('member-standing').dataset.points === '{i + 1}'")
    banner.wait_for()
    assert "已满赠品" in banner.inner_text()
    assert page.get_by_test_id("member-standing").get_attribute("data-progress") == "6/6"
    screenshot(page, "pos-free-unit-earned")
    page.check("#redeem")
    _sell(page, units[6], page.locator("#sales li").count())
    assert "赠品已送出" in page.get_by_test_id("sale-result").inner_text()
    standing = page.get_by_test_id("member-standing")
    assert standing.get_attribute("data-progress") == "0/6" and standing.get_attribute("data-points") == "6"
    assert page.locator("#sales li").first.get_attribute("data-kind") == "free"
    assert banner.is_hidden()


def test_a_receipt_then_undo(clerk: Any, stock) -> None:
    [unit] = _take(stock, 1)
    page = clerk("en", DESK)
    _register(page, str(next(_phones)))
    _sell(page, unit, page.locator("#sales li").count())
    row = page.locator("#sales li").first
    with page.context.expect_page() as opened:
        row.locator("a").click()
    receipt = opened.value
    receipt.wait_for_load_state()
    body = receipt.get_by_test_id("receipt")
    assert "Store 1" in body.inner_text() and "M-000001" in body.inner_text()
    assert receipt.get_by_test_id("receipt-progress").inner_text() == "1 / 6"
    assert receipt.get_by_test_id("receipt-balance").inner_text() == "1"
    assert unit.split("/21/")[1].split("?")[0][-6:] in body.inner_text()
    width = receipt.evaluate("document.body.getBoundingClientRect().width")
    assert 190 < width < 215  # 54 mm of printable width on 58 mm paper, at 96 px per inch
    screenshot(receipt, "pos-receipt")
    receipt.close()
    page.once("dialog", lambda d: d.accept())
    row.locator("button.undo").click()
    page.wait_for_function("document.querySelector('#sales li').classList.contains('undone')")
    standing = page.get_by_test_id("member-standing")
    assert (
        standing.get_attribute("data-points") == "0"
        and "Sale undone" in page.get_by_test_id("sale-result").inner_text()
    )
    page.reload()
    first = page.locator("#sales li").first
    assert "undone" in (first.get_attribute("class") or "") and first.locator("button.undo").count() == 0


def test_receiving_from_a_distributor_that_may_not_supply_the_store_warns_at_once(clerk: Any, stock) -> None:
    page = clerk("zh-CN", PHONE)
    page.click("a[href='/app/pos/receive']")
    page.wait_for_url(re.compile(r"/app/pos/receive$"))
    page.focus("#scan-input")
    page.keyboard.type(stock["foreign"][0] + "\n")
    warned = page.get_by_test_id("scan-log").locator("li.warned").first
    warned.wait_for()
    assert warned.get_attribute("data-warnings") == "unauthorized_channel"
    assert "南京经销商" in warned.inner_text()
    color = warned.evaluate("e => getComputedStyle(e).color")
    assert color == "rgb(180, 35, 24)"  # the red of what becomes a diversion alert
    screenshot(page, "pos-receiving-warning")
