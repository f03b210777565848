"""The shipment scan page on a phone in a warehouse: a dead zone must neither lose a scan nor count one twice, and
the page must fit a 360 px screen with its latest result announced to screen readers (issue 17)."""

from __future__ import annotations

import re
from typing import Any

from sqlmodel import Session, select

from tests.web.conftest import Live, screenshot
from traceability.models import Role
from traceability.models.shipment import ShipmentItem

PHONE = {"width": 360, "height": 740}


def _open_shipment(page: Any) -> int:
    page.fill("#destination", "S-GZ-1")
    page.click("form[action='/app/shipments'] button")
    page.wait_for_url(re.compile(r"/app/shipments/\d+$"))
    return int(page.url.rsplit("/", 1)[1])


def _items(live: Live, shipment_id: int) -> list[ShipmentItem]:
    with Session(live.extra["engine"]) as session:
        return list(session.exec(select(ShipmentItem).where(ShipmentItem.shipment_id == shipment_id)).all())


def _serial(code: str) -> str:
    return code.split("?")[0].split("/21/")[1]


def test_scans_made_offline_are_queued_then_replayed_once_each(page_for: Any, live: Live) -> None:
    codes = live.take(3)
    page = page_for(Role.distributor, lang="zh-CN")
    page.set_viewport_size(PHONE)
    shipment_id = _open_shipment(page)
    result = page.get_by_test_id("scan-result")
    assert result.get_attribute("aria-live") == "polite"
    page.context.set_offline(True)
    page.focus("#scan-input")
    for code in codes:
        page.keyboard.type(code + "\n")
    page.wait_for_function("document.querySelectorAll('#scan-log li.pending.queued').length === 3")
    assert page.locator("#count-queued").inner_text() == "3"
    assert result.get_attribute("data-state") == "queued"
    assert "已排队（离线）" in result.inner_text()
    assert "Failed to fetch" not in page.locator("#scanner").inner_text()
    # Each queued scan keeps the Idempotency-Key it was first sent with, one per scan, in IndexedDB.
    keys = page.locator("#scan-log li.pending.queued").evaluate_all("ls => ls.map(l => l.dataset.key)")
    assert len(set(keys)) == 3 and all(keys)
    stored = page.evaluate(
        """() => new Promise((resolve) => {
             const req = indexedDB.open("traceability-scan-queue");
             req.onsuccess = () => {
               const all = req.result.transaction("scans").objectStore("scans").getAll();
               all.onsuccess = () => resolve(all.result.map((e) => [e.key, e.codes]));
             };
           })"""
    )
    assert sorted(k for k, _ in stored) == sorted(keys)
    assert sorted(c for _, cs in stored for c in cs) == sorted(codes)
    assert _items(live, shipment_id) == []  # nothing reached the server
    screenshot(page, "distributor-scan-offline-queue-zh")

    page.context.set_offline(False)  # the `online` event replays the queue
    page.wait_for_function("document.querySelectorAll('#scan-log li.ok').length === 3", timeout=15_000)
    # A scan's pending line goes once the queue has forgotten it (an IndexedDB delete after its answer is shown).
    page.wait_for_function("document.querySelectorAll('#scan-log li.pending').length === 0", timeout=15_000)
    assert page.locator("#count-queued").inner_text() == "0"
    assert page.locator("#count-accepted").inner_text() == "3"
    assert page.locator("#count-rejected").inner_text() == "0"
    assert result.get_attribute("data-state") == "ok"
    assert page.locator("#scan-log li.no").count() == 0
    items = _items(live, shipment_id)
    assert sorted(i.key for i in items) == sorted({i.key for i in items})  # none twice
    assert sorted(_serial(i.raw) for i in items) == sorted(_serial(c) for c in codes)

    # The queue is empty: a reload replays nothing, and the server still has the three.
    page.reload()
    page.wait_for_load_state()
    page.wait_for_timeout(500)
    assert page.locator("#scan-log li").count() == 0
    assert page.locator("#count-accepted").inner_text() == "3"
    assert len(_items(live, shipment_id)) == 3


def test_a_request_lost_on_the_way_is_kept_and_retried(page_for: Any, live: Live) -> None:
    [code] = live.take(1)
    page = page_for(Role.distributor)
    shipment_id = _open_shipment(page)
    # The browser believes it is online but the request fails on the way ("TypeError: Failed to fetch").
    page.route(re.compile(r".*/app/shipments/\d+/scans$"), lambda route: route.abort("internetdisconnected"))
    page.focus("#scan-input")
    page.keyboard.type(code + "\n")
    page.locator("#scan-log li.pending.queued").wait_for()
    result = page.get_by_test_id("scan-result")
    assert "Queued (offline)" in result.inner_text()
    assert "Failed to fetch" not in page.locator("#scanner").inner_text()
    assert _items(live, shipment_id) == []
    page.unroute(re.compile(r".*/app/shipments/\d+/scans$"))
    page.locator("#scan-log li.ok").wait_for(timeout=15_000)  # the retry timer, no `online` event
    assert result.get_attribute("data-state") == "ok"
    assert page.locator("#count-queued").inner_text() == "0"
    assert len(_items(live, shipment_id)) == 1


def test_the_scan_page_fits_a_360px_phone_with_its_result_at_the_top(page_for: Any, live: Live) -> None:
    for lang in ("zh-CN", "en"):
        page = page_for(Role.distributor, lang=lang)
        page.set_viewport_size(PHONE)
        _open_shipment(page)
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, f"{lang}: the page scrolls sideways by {overflow}px"
        result = page.get_by_test_id("scan-result")
        assert result.get_attribute("aria-live") == "polite"
        assert result.get_attribute("data-state") == "idle"
        # The result and the counts come before the input, the camera and the log, inside the first screen.
        top = page.evaluate("document.getElementById('scan-result').getBoundingClientRect().top")
        form_top = page.evaluate("document.getElementById('scan-form').getBoundingClientRect().top")
        log_top = page.evaluate("document.getElementById('scan-log').getBoundingClientRect().top")
        assert top < form_top < log_top
        labels = page.get_by_test_id("scan-counts").inner_text()
        assert ("已接受" in labels and "已拒绝" in labels) if lang == "zh-CN" else ("Accepted" in labels)
        big = page.evaluate("parseFloat(getComputedStyle(document.querySelector('#scan-result .head')).fontSize)")
        assert big >= 20
        screenshot(page, f"distributor-scan-phone-{lang}")


_FAKE_AUDIO = """() => {
  window.__tones = [];
  class Osc {
    constructor() { this.frequency = { value: 0 }; }
    connect(node) { return node; }
    start(at) { window.__tones.push([this.frequency.value, Math.round(at * 100) / 100]); }
    stop() {}
  }
  class Ctx {
    constructor() { this.currentTime = 0; this.destination = {}; }
    createOscillator() { return new Osc(); }
    createGain() { return { gain: { value: 0 }, connect: (n) => n }; }
  }
  window.AudioContext = Ctx;
}"""


def test_each_outcome_has_its_own_sound(page_for: Any, live: Live) -> None:
    """Eyes on the goods, not the screen: accepted, refused and queued offline each sound different."""
    good, queued = live.take(2)
    page = page_for(Role.distributor, lang="zh-CN")
    page.add_init_script(f"({_FAKE_AUDIO})()")
    _open_shipment(page)
    page.focus("#scan-input")

    def tones_of(code: str, wait: str) -> list[list[float]]:
        page.evaluate("window.__tones = []")
        page.keyboard.type(code + "\n")
        page.wait_for_function(wait)
        page.wait_for_function("window.__tones.length > 0")
        tones: list[list[float]] = page.evaluate("window.__tones")
        return tones

    ok = tones_of(good, "document.querySelectorAll('#scan-log li.ok').length === 1")
    no = tones_of("(01)06901234000108(21)FORGED1", "document.querySelectorAll('#scan-log li.no').length === 1")
    page.context.set_offline(True)
    waiting = tones_of(queued, "document.querySelectorAll('#scan-log li.pending.queued').length === 1")
    page.context.set_offline(False)
    assert ok and no and waiting, (ok, no, waiting)
    assert ok != no != waiting != ok, (ok, no, waiting)
    assert max(f for f, _ in ok) > max(f for f, _ in no)  # accepted high, refused low
    assert len(waiting) == 2  # queued: two quick blips
