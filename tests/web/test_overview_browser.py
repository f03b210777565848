"""Every role's overview in a real headless Chromium: where sign-in lands, at a phone's 390 × 844 with no sideways
scroll, no console error, its charts drawn beside their tables; and the alert queue's bulk change with "select all
on this page"."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.web.conftest import Live, screenshot
from traceability.models import Role

PHONE = {"width": 390, "height": 844}
TITLE = {"zh-CN": "概览", "en": "Overview"}


def _fits(page: Any) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 1, f"the page is {overflow}px wider than the viewport"


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
@pytest.mark.parametrize("role", list(Role), ids=[r.value for r in Role])
def test_the_overview_is_home_and_fits_a_phone(page_for: Any, live: Live, role: Role, lang: str) -> None:
    errors: list[str] = []
    page = page_for(role, lang, start="")  # sign in and land where a person lands
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    assert page.url.endswith("/app/overview")
    page.set_viewport_size(PHONE)
    page.reload()
    assert page.locator("h1").first.inner_text().startswith(TITLE[lang])
    assert page.locator("header nav a").first.get_attribute("href") == "/app/overview"
    assert page.get_by_test_id("overview").get_attribute("data-role") == role.value
    charts = page.locator("svg.chart")
    assert charts.count() >= 1
    for i in range(charts.count()):
        box = charts.nth(i).bounding_box()
        assert box is not None and box["width"] <= PHONE["width"]
    _fits(page)
    assert errors == []
    screenshot(page, f"overview-{role.value}-{lang}-390")


def test_the_auditor_moves_a_whole_page_of_alerts_at_once(page_for: Any, live: Live) -> None:
    page = page_for(Role.auditor, "en")
    # the seeded leak's out-of-territory alerts (the other auditor test works the unauthorised-channel one)
    page.goto(f"{live.base_url}/app/alerts?kind=out_of_territory&size=20")
    rows = page.locator("table[data-testid=alerts] tbody tr")
    assert rows.count() >= 1, "the live network's leak raised no out-of-territory alert"
    page.get_by_test_id("select-page").check()
    assert page.locator("input.pick:checked").count() == rows.count()
    page.locator("input.pick").first.uncheck()
    assert page.get_by_test_id("select-page").evaluate("el => el.indeterminate") is (rows.count() > 1)
    page.locator("input.pick").first.check()
    assert page.get_by_test_id("select-page").is_checked()
    ids = [page.locator("input.pick").nth(i).get_attribute("value") for i in range(rows.count())]
    page.select_option("#bulk-status", "investigating")  # every status the queue shows by default may move there
    page.fill("#bulk-note", "checked in the field, all of them")
    _fits(page)
    page.get_by_test_id("bulk-submit").click()
    page.wait_for_url(re.compile(r"kind=out_of_territory.*done=\d+"))
    assert page.get_by_test_id("bulk-done").is_visible()
    for alert_id in ids:
        page.goto(f"{live.base_url}/app/alerts/{alert_id}")
        assert page.get_by_test_id("alert-status").get_attribute("data-status") == "investigating"
        assert "checked in the field, all of them" in page.get_by_test_id("history").inner_text()
