"""Receiving on a phone (issue 17): a distributor scans what came off the truck against its shipment; an extra code
is flagged in red at once in the announced result area; scans made in a dead zone wait in the offline queue and
are received once each when the network returns."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import Session, select

from codes.service import key_store
from scanning.service import close_shipment, open_shipment, scan_into_shipment
from tests.web.conftest import Live
from tests.web.helpers import make_codes, scan
from traceability.auth.service import Principal
from traceability.database import session_scope
from traceability.models import ReceiptLine, Role

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def inbound(live: Live) -> tuple[int, list[str]]:
    """Five units shipped PLANT-1 → D-GZ on one shipment, and one more that stayed at the plant."""
    plant = Principal(role=Role.plant, party_id="PLANT-1")
    with session_scope(live.extra["engine"]) as session:
        made = make_codes(session, key_store(live.extra["settings"]), 6, resolver=live.base_url)
        scan(session, "commissioning", "PLANT-1", made)
        shipment = open_shipment(session=session, principal=plant, destination_id="D-GZ")
        assert shipment.id is not None
        scan_into_shipment(session=session, principal=plant, shipment_id=shipment.id, codes=made[:5])
        close_shipment(session=session, principal=plant, shipment_id=shipment.id, confirm=True)
        return shipment.id, made


def _lines(live: Live, shipment_id: int) -> list[ReceiptLine]:
    with Session(live.extra["engine"]) as session:
        return list(session.exec(select(ReceiptLine).where(ReceiptLine.shipment_id == shipment_id)).all())


def _n(page: Any, name: str) -> str:
    return str(page.locator(f"#receipt-{name}").inner_text())


def test_a_distributor_receives_on_a_phone_extra_at_once_offline_queue_once(
    page_for: Any, live: Live, inbound: tuple[int, list[str]]
) -> None:
    sid, made = inbound
    page = page_for(Role.distributor, lang="zh-CN")
    page.set_viewport_size(PHONE)
    page.goto(f"{live.base_url}/app/receiving")
    page.click(f"a[href='/app/receiving/{sid}']")
    page.wait_for_url(f"**/app/receiving/{sid}")
    result = page.get_by_test_id("scan-result")
    assert result.get_attribute("aria-live") == "polite"
    assert (_n(page, "expected"), _n(page, "received"), _n(page, "missing")) == ("5", "0", "5")

    page.focus("#scan-input")
    page.keyboard.type(made[0] + "\n")
    page.wait_for_function("document.getElementById('receipt-received').textContent === '1'")
    assert result.get_attribute("data-state") == "ok" and _n(page, "missing") == "4"
    page.keyboard.type(made[5] + "\n")  # never on this shipment
    page.wait_for_function("document.getElementById('receipt-extra').textContent === '1'")
    assert result.get_attribute("data-state") == "no" and "不在本发货单中" in result.inner_text()
    assert page.locator("#scan-log li.no[data-reason=not_on_shipment]").count() == 1

    page.context.set_offline(True)
    for code in made[1:4]:
        page.keyboard.type(code + "\n")
    page.wait_for_function("document.querySelectorAll('#scan-log li.pending.queued').length === 3")
    assert page.locator("#count-queued").inner_text() == "3" and _n(page, "received") == "1"
    assert "Failed to fetch" not in page.locator("#scanner").inner_text()
    page.context.set_offline(False)
    page.wait_for_function("document.getElementById('receipt-received').textContent === '4'", timeout=15_000)
    page.wait_for_function("document.querySelectorAll('#scan-log li.pending').length === 0", timeout=15_000)
    assert page.locator("#count-queued").inner_text() == "0"
    received = [line.key for line in _lines(live, sid) if line.outcome == "received"]
    assert len(received) == 4 == len(set(received))  # none twice

    page.click("#close-receipt")
    page.wait_for_load_state()
    assert page.get_by_test_id("receipt-closed").is_visible()
    assert page.get_by_test_id("missing").locator("li").count() == 1
    assert page.evaluate("document.scrollingElement.scrollWidth <= window.innerWidth")
