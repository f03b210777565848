"""The brand's marketing page in a real headless Chromium (issue 14, "Pages"): reached from the header, it renders its
figures, charts and tables at a phone's 390 × 844 and a desk's 1366 × 900, in zh-CN and en, with nothing wider than
the screen and no error in the console; the prospects search works from the form; a store's key gets the refusal in
its language.

The shared live server is seeded with marketing figures of 2020 only (members of S-NJ-1, a campaign, grants and
prospects of that year, no sales), so nothing the other browser tests count today changes."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlmodel import select

from crm.campaigns import create_campaign
from crm.points import grant_points
from crm.prospects import hand_in
from members.service import register
from rebates.policy import Policy
from tests.web.conftest import Live, screenshot
from traceability.auth.service import Principal
from traceability.database import session_scope
from traceability.models import Campaign, Role
from traceability.privacy import member_hash, member_pepper

PHONE = {"width": 390, "height": 844}
DESK = {"width": 1366, "height": 900}
QUERY = "as_of=2020-06-30&since=2020-04-01&year=2020&month=2020-04"
WORDS = {
    "zh-CN": {"title": "营销概览", "nav": "营销", "tiers": "各等级会员数", "top10": "2020 年积分增长前十名",
              "refused": "营销页面只对品牌方（管理员、稽查、财务）开放", "potential": "潜在会员"},
    "en": {"title": "Marketing", "nav": "Marketing", "tiers": "Members per tier",
           "top10": "Top 10 by points growth, 2020", "refused": "The marketing page is for the brand",
           "potential": "Potential"},
}  # fmt: skip
ADMIN = Principal(role=Role.admin, party_id="BRAND")
NJ = Principal(role=Role.store, party_id="S-NJ-1")


@pytest.fixture(scope="module")
def marketing(live: Live) -> dict[str, Any]:
    """Three members of S-NJ-1 registered in April 2020 (one by a campaign), points granted to two, and two
    prospects handed in that month."""
    policy = Policy()
    with session_scope(live.extra["engine"]) as session:
        if session.exec(select(Campaign).where(Campaign.code == "BR2020")).first() is None:
            create_campaign(session=session, principal=ADMIN, policy=policy, code="BR2020",
                            name="二〇二〇 春季会员招募", starts_on=date(2020, 4, 1), ends_on=date(2020, 4, 30),
                            stores=["S-NJ-1"], bonus=2)  # fmt: skip
            pepper = member_pepper(live.extra["settings"].key_dir)
            joined = datetime(2020, 4, 2, 9, tzinfo=UTC)
            for i, source in enumerate(("campaign:BR2020", "online", "pos")):
                register(session=session, principal=ADMIN, phone_hash=member_hash(f"1360000{i:04d}", pepper),
                         store_id="S-NJ-1", name=f"会员{i}", source=source, now=joined)  # fmt: skip
            for i, pts in ((0, 120), (1, 40)):
                grant_points(session=session, principal=ADMIN, member_hash=member_hash(f"1360000{i:04d}", pepper),
                             points=pts, reason="亲子活动", campaign_code="BR2020",
                             now=datetime(2020, 4, 5, tzinfo=UTC))  # fmt: skip
            hand_in(session=session, principal=NJ, policy=policy, now=datetime(2020, 4, 3, tzinfo=UTC),
                    phone_hashes=[member_hash(f"1350000{i:04d}", pepper) for i in range(2)])  # fmt: skip
    return {"members": 3}


@pytest.fixture
def watched(page_for: Any) -> Any:
    """``watched(role, lang)``: a signed-in page that records console errors and uncaught exceptions."""
    errors: list[str] = []

    def make(role: Role, lang: str) -> Any:
        page = page_for(role, lang)
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.errors = errors
        return page

    return make


def _fits(page: Any) -> None:
    """Nothing on the page is wider than the screen (wide tables scroll inside their own box)."""
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 1, f"the page is {overflow}px wider than the viewport"


@pytest.mark.parametrize("viewport", [PHONE, DESK], ids=["390x844", "1366x900"])
@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_the_marketing_page_renders_fits_and_stays_quiet(watched: Any, live: Live, marketing: dict[str, Any],
                                                         lang: str, viewport: dict[str, int]) -> None:  # fmt: skip
    words = WORDS[lang]
    page = watched(Role.admin, lang)
    page.set_viewport_size(viewport)
    link = page.locator("header nav a[href='/app/marketing']")
    assert link.inner_text() == words["nav"]
    link.click()
    page.wait_for_url(re.compile(r"/app/marketing$"))
    _fits(page)
    page.goto(f"{live.base_url}/app/marketing?{QUERY}")
    assert page.locator("h1").first.inner_text() == words["title"]
    assert page.get_by_test_id("marketing").get_attribute("data-as-of") == "2020-06-30"
    assert int(page.get_by_test_id("tier-potential").get_attribute("data-n") or -1) >= marketing["members"]
    chart = page.locator("svg#chart-tiers")
    assert chart.is_visible() and chart.locator("title").text_content() == words["tiers"]
    assert words["potential"] in (chart.locator("desc").text_content() or "")
    box = chart.bounding_box()
    assert box is not None and box["width"] <= viewport["width"]
    assert page.locator("[data-testid=campaign-table] tr[data-campaign=BR2020]").get_attribute("data-cost") == "160"
    top = page.get_by_test_id("top10")
    assert top.locator("h2").inner_text() == words["top10"]
    assert [r.get_attribute("data-earned") for r in top.locator("tbody tr").all()][:2] == ["120", "40"]
    nj = page.locator("[data-testid=prospect-table] tr[data-store='S-NJ-1']")
    assert nj.get_attribute("data-handed") == "2" and nj.get_attribute("class") == "short"
    _fits(page)
    screenshot(page, f"marketing-{lang}-{viewport['width']}")
    page.fill("#q", "nj 1")
    page.locator("#prospect-form button[type=submit]").click()
    page.wait_for_url(re.compile(r"q=nj\+1"))
    rows = page.locator("[data-testid=prospect-table] tbody tr")
    assert rows.count() == 1 and rows.first.get_attribute("data-store") == "S-NJ-1"
    assert "2020-04" in page.url and "year=2020" in page.url  # the search keeps the page's other choices
    _fits(page)
    assert page.errors == [], page.errors


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_a_stores_key_gets_the_refusal_in_its_language(watched: Any, live: Live, lang: str) -> None:
    page = watched(Role.store, lang)
    page.set_viewport_size(PHONE)
    assert page.locator("header nav a[href='/app/marketing']").count() == 0
    response = page.goto(f"{live.base_url}/app/marketing")
    assert response is not None and response.status == 403
    assert WORDS[lang]["refused"] in page.get_by_test_id("error").inner_text()
    _fits(page)
