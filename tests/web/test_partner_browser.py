"""Each partner's own pages in a real headless Chromium (issue 13's must-show): a distributor reads its statement and
answers an alert; a store sees only its own line of the settlement and cannot open another store's members (403).
At a phone's 390 × 844 and a desk's 1366 × 900, in zh-CN and en."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.web.conftest import Live, screenshot
from traceability.models import Role

PHONE = {"width": 390, "height": 844}
DESK = {"width": 1366, "height": 900}
WORDS = {
    "zh-CN": {"statement": "对账单", "why": "为什么", "send": "提交说明", "store": "我的门店", "forbidden": "无权访问",
              "own_only": "门店密钥只能查看和登记本店 S-GZ-1 的会员", "members": "本店会员"},
    "en": {"statement": "Statement", "why": "Why", "send": "Send note", "store": "My store", "forbidden": "Not allowed",
           "own_only": "only the members of its own store S-GZ-1", "members": "Our members"},
}  # fmt: skip


def _fits(page: Any) -> None:
    """Nothing on the page is wider than the screen (tables scroll inside their own box)."""
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 1, f"the page is {overflow}px wider than the viewport"


@pytest.mark.parametrize("viewport", [PHONE, DESK], ids=["390x844", "1366x900"])
@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_a_distributor_reads_its_statement_and_answers_an_alert(page_for: Any, live: Live, lang: str,
                                                                viewport: dict[str, int]) -> None:  # fmt: skip
    words = WORDS[lang]
    page = page_for(Role.distributor, lang)
    page.set_viewport_size(viewport)
    page.click("header nav a[href='/app/statement']")
    page.wait_for_url(re.compile(r"/app/statement$"))
    assert page.locator("h1").first.inner_text().startswith(words["statement"])
    statement = page.get_by_test_id("statement")
    assert statement.get_attribute("data-party") == "D-GZ"
    lines = page.get_by_test_id("line")
    assert lines.count() == 1 and lines.first.get_attribute("data-party") == "D-GZ"
    # Babel writes yuan as the language does: ¥ in Chinese, CN¥ in English (CLDR tells it from the yen)
    assert re.match(r"(CN)?¥", page.get_by_test_id("purchase-value").inner_text())
    assert re.fullmatch(r"(CN)?¥[\d,]+\.\d{2}", page.get_by_test_id("rebate").inner_text())
    why = page.get_by_test_id("why").inner_text()
    assert words["why"] in why and ("%" in why)
    _fits(page)
    screenshot(page, f"statement-{lang}-{viewport['width']}")
    alerts = page.get_by_test_id("statement-alerts").locator("tbody tr")
    assert alerts.count() >= 1
    row = alerts.first
    status = row.locator("[data-status]").get_attribute("data-status")
    row.locator("a").first.click()
    page.wait_for_url(re.compile(r"/app/alerts/\d+$"))
    assert page.locator("#alert-form").count() == 0 and page.get_by_test_id("trail").count() == 0
    text = f"{lang} {viewport['width']}: recalled from the Nanjing store"
    page.fill("#note-text", text)
    page.get_by_role("button", name=words["send"]).click()
    page.wait_for_load_state()
    page.get_by_test_id("history").get_by_text(text).wait_for()
    assert page.get_by_test_id("alert-status").get_attribute("data-status") == status  # the status is unchanged
    _fits(page)
    screenshot(page, f"alert-note-{lang}-{viewport['width']}")


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_a_store_sees_its_own_line_and_not_another_stores_members(page_for: Any, live: Live, lang: str) -> None:
    words = WORDS[lang]
    page = page_for(Role.store, lang)
    page.set_viewport_size(PHONE if lang == "zh-CN" else DESK)
    registered = page.request.post(f"{live.base_url}/api/v1/members",
                                   data={"member": "13700137001", "name": "王女士", "consent": True},
                                   headers={"Authorization": f"Bearer {live.tokens[Role.store]}"})  # fmt: skip
    assert registered.status in (200, 201)
    page.click("header nav a[href='/app/store']")
    page.wait_for_url(re.compile(r"/app/store$"))
    assert page.locator("h1").first.inner_text().startswith(words["store"])
    lines = page.get_by_test_id("store-line")
    assert lines.count() == 1 and lines.first.get_attribute("data-party") == "S-GZ-1"
    assert "S-NJ-1" not in page.get_by_test_id("month").inner_text()
    assert int(page.get_by_test_id("month-sold").inner_text()) >= 1  # the one sale through the channel
    assert re.fullmatch(r"(CN)?¥[\d,]+\.\d{2}", page.get_by_test_id("month-fee").inner_text())
    members = page.get_by_test_id("members")
    assert words["members"] in members.inner_text() and "王女士" in members.inner_text()
    _fits(page)
    screenshot(page, f"store-{lang}")
    response = page.goto(f"{live.base_url}/app/store?party=S-NJ-1")
    assert response is not None and response.status == 403
    assert page.locator("h1").first.inner_text() == words["forbidden"]
    assert words["own_only"] in page.get_by_test_id("error").inner_text()
    assert page.locator("html").get_attribute("lang") == lang
