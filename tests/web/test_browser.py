"""Each page's main path in a real headless Chromium against a real server."""

from __future__ import annotations

import re
from typing import Any

from tests.web.conftest import Live, screenshot
from traceability.models import Role


def _forge(code: str) -> str:
    i = code.index("/21/") + 4
    return code[:i] + ("A" if code[i] != "A" else "B") + code[i + 1 :]


def test_sign_in_language_and_role_navigation(page_for: Any, live: Live) -> None:
    page = page_for(lang="zh-CN")
    page.goto(f"{live.base_url}/")
    assert page.url.endswith("/login")
    assert page.locator("h1").inner_text() == "登录"
    screenshot(page, "sign-in")
    page.fill("#key", "trc_wrong_key")
    page.click("button[type=submit]")
    assert "密钥无效" in page.locator("[role=alert]").inner_text()
    page.fill("#key", live.tokens[Role.distributor])
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/app/overview$"))  # every role lands on its overview
    assert "广州经销商" in page.get_by_test_id("who").inner_text()
    page.click("header nav a[href='/app/shipments']")
    page.wait_for_url(re.compile(r"/app/shipments$"))
    page.click("a[data-lang=en]")
    page.wait_for_load_state()
    assert page.locator("h1").first.inner_text() == "Open a shipment"
    page.click("button.link")  # sign out
    page.wait_for_url(re.compile(r"/login$"))


def test_distributor_scans_with_a_barcode_gun_and_closes(page_for: Any, live: Live) -> None:
    good, other = live.take(2)
    page = page_for(Role.distributor)
    page.fill("#destination", "S-GZ-1")
    page.click("form[action='/app/shipments'] button")
    page.wait_for_url(re.compile(r"/app/shipments/\d+$"))
    log = page.get_by_test_id("scan-log")
    # A keyboard wedge types the code and Enter into the focused field.
    page.focus("#scan-input")
    page.keyboard.type(good + "\n")
    log.locator("li.ok").first.wait_for()
    assert "Accepted" in log.locator("li.ok").first.inner_text()
    page.keyboard.type(_forge(other) + "\n")
    rejected = log.locator("li.no").first
    rejected.wait_for()
    assert rejected.get_attribute("data-reason") == "bad_signature"
    assert "Invalid signature" in rejected.inner_text()
    page.keyboard.type(good + "\n")
    log.locator("li.no[data-reason=duplicate]").wait_for()
    assert page.locator("#item-count").inner_text() == "1 codes scanned"
    screenshot(page, "distributor-scanning")
    page.click("#close-shipment")
    page.wait_for_load_state()
    assert page.get_by_test_id("status").get_attribute("data-status") == "closed"
    assert good.split("?")[0].split("/21/")[1] in page.get_by_test_id("items").inner_text()


def test_a_shipment_to_an_unauthorised_store_warns_on_the_first_scan_and_closing_asks(page_for: Any,
                                                                                   live: Live) -> None:  # fmt: skip
    first, second = live.take(2)
    page = page_for(Role.distributor)
    page.fill("#destination", "S-NJ-1")  # a Nanjing store: 广州 does not supply it, and it is outside 广州
    page.click("form[action='/app/shipments'] button")
    page.wait_for_url(re.compile(r"/app/shipments/\d+$"))
    banner = page.get_by_test_id("shipment-warnings")
    assert "Unauthorised channel" in banner.inner_text() and "Out of territory" in banner.inner_text()
    log = page.get_by_test_id("scan-log")
    page.focus("#scan-input")
    page.keyboard.type(first + "\n")
    warned = log.locator("li.warned").first
    warned.wait_for()
    assert "high" in (warned.get_attribute("class") or "")
    assert set((warned.get_attribute("data-warnings") or "").split()) == {"unauthorized_channel", "out_of_territory"}
    assert "Accepted with warnings" in warned.inner_text()
    assert "is not authorised to supply store Store NJ 1 (S-NJ-1)" in warned.inner_text()
    page.keyboard.type(second + "\n")
    page.wait_for_function("document.querySelectorAll('#scan-log li.warned').length === 2")
    screenshot(page, "distributor-shipment-warning")
    page.click("#close-shipment")
    confirm = page.get_by_test_id("confirm-close")
    confirm.wait_for()
    assert page.get_by_test_id("status").get_attribute("data-status") == "open"  # nothing closed yet
    kinds = confirm.locator("li.warn").evaluate_all("ls => ls.map(l => l.dataset.kind)")
    assert set(kinds) == {"unauthorized_channel", "out_of_territory"}
    screenshot(page, "distributor-close-confirm")
    page.click("#confirm-close-button")
    page.wait_for_load_state()
    assert page.get_by_test_id("status").get_attribute("data-status") == "closed"
    assert "confirmed by D-GZ" in page.get_by_test_id("confirmed").inner_text()


def test_distributor_scans_with_the_phone_camera(page_for: Any, live: Live) -> None:
    page = page_for(Role.distributor)
    page.fill("#destination", "S-GZ-1")
    page.click("form[action='/app/shipments'] button")
    page.wait_for_url(re.compile(r"/app/shipments/\d+$"))
    page.click("#camera-start")  # Chromium's fake camera shows a QR of live.camera_code
    accepted = page.get_by_test_id("scan-log").locator("li.ok").first
    accepted.wait_for(timeout=20_000)
    assert live.camera_code[:60] in accepted.inner_text()
    page.click("#camera-stop")
    screenshot(page, "distributor-camera")


def test_consumer_check_genuine_with_location_and_fake(page_for: Any, live: Live) -> None:
    [code] = live.take(1)
    page = page_for(lang="zh-CN", geolocation={"latitude": 23.129, "longitude": 113.264}, permissions=["geolocation"])
    page.goto(code)  # the Digital Link URI printed in the QR resolves to this app
    verdict = page.get_by_test_id("verdict")
    assert verdict.get_attribute("data-verdict") == "genuine"
    assert "正品" in verdict.locator("h1").inner_text()
    page.click("#share-location")
    page.wait_for_function("document.getElementById('inspect-result').dataset.reason === 'recorded'")
    assert "已记录" in page.locator("#inspect-result").inner_text()
    screenshot(page, "consumer-check-genuine")
    page.goto(_forge(code))
    assert page.get_by_test_id("verdict").get_attribute("data-verdict") == "forged"
    page.click("a[data-lang=en]")
    page.wait_for_load_state()
    assert "Fake" in page.get_by_test_id("verdict").locator("h1").inner_text()
    screenshot(page, "consumer-check-fake")


def test_auditor_filters_opens_a_trail_confirms_and_sees_the_graph(page_for: Any, live: Live) -> None:
    page = page_for(Role.auditor)
    assert page.url.endswith("/app/alerts")
    page.select_option("#kind", "unauthorized_channel")
    page.click("#alert-filters button[type=submit]")
    page.wait_for_url(re.compile(r"kind=unauthorized_channel"))
    rows = page.get_by_test_id("alerts").locator("tbody tr")
    assert rows.count() >= 1
    assert all(k == "unauthorized_channel" for k in rows.evaluate_all("rs => rs.map(r => r.dataset.kind)"))
    screenshot(page, "auditor-alerts")
    rows.first.locator("a").click()
    page.wait_for_url(re.compile(r"/app/alerts/\d+$"))
    assert page.get_by_test_id("trail").locator("li").count() >= 3
    assert page.get_by_test_id("trail").locator("li.evidence").count() >= 1
    for status, note in (("investigating", "called the store"), ("confirmed", "invoice shows 广州 as the supplier")):
        page.select_option("#new-status", status)
        page.fill("#note", note)
        page.click("#alert-form button[type=submit]")
        page.wait_for_load_state()
        assert page.get_by_test_id("alert-status").get_attribute("data-status") == status
    assert "invoice shows 广州" in page.get_by_test_id("history").inner_text()
    screenshot(page, "auditor-alert-trail")
    page.goto(f"{live.base_url}/app/graph?distributor=D-GZ")
    graph = page.get_by_test_id("graph")
    page.wait_for_function("document.getElementById('graph').dataset.nodes > 0")
    assert int(graph.get_attribute("data-leaks")) >= 1  # the Nanjing store is highlighted
    assert page.get_by_test_id("diverted").inner_text() != "0"
    screenshot(page, "auditor-party-graph")


def test_finance_runs_a_settlement_and_downloads_it(page_for: Any, live: Live) -> None:
    from datetime import UTC, datetime

    period = datetime.now(UTC).strftime("%Y-%m")
    page = page_for(Role.finance)
    assert page.url.endswith("/app/settlement")
    page.fill("#period", period)
    page.click("#run-settlement")
    page.wait_for_load_state()
    assert page.get_by_test_id("settlement").get_attribute("data-status") == "open"
    fees = page.get_by_test_id("fees")
    assert fees.get_attribute("data-amount") != "0.00"  # the store's fee on its sale
    assert "¥" in fees.inner_text()  # money as the page's language writes it (CN¥8.04 in English)
    screenshot(page, "finance-settlement")
    for fmt, magic in (("pdf", b"%PDF"), ("csv", None), ("xlsx", b"PK")):
        with page.expect_download() as info:
            page.click(f"a[data-format={fmt}]")
        body = open(info.value.path(), "rb").read()
        assert info.value.suggested_filename == f"settlement-{period}.{fmt}"
        assert body.startswith(magic) if magic else b"S-GZ-1" in body


def test_plant_creates_prints_voids_and_reconciles(page_for: Any, live: Live) -> None:
    page = page_for(Role.plant)
    assert page.url.endswith("/app/print-jobs")
    page.fill("#lot", "LWEB1")
    page.fill("#expiry", "281231")
    page.fill("#quantity", "3")
    page.select_option("#template", "a4-3x8")
    page.click("#job-form button[type=submit]")
    page.wait_for_url(re.compile(r"/app/print-jobs/\d+$"))
    recon = page.get_by_test_id("reconciliation")
    assert recon.locator("[data-k=issued]").inner_text() == "3"
    with page.expect_download() as info:
        page.click("#print-pdf")
    assert open(info.value.path(), "rb").read().startswith(b"%PDF")
    page.reload()
    assert page.get_by_test_id("job-status").get_attribute("data-status") == "printed"
    assert recon.locator("[data-k=printed]").inner_text() == "3"
    page.goto(f"{live.base_url}/app/print-jobs")
    screenshot(page, "plant-print-jobs")
