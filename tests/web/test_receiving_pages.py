"""The receiving pages (``/app/receiving``): the inbound list, the receipt with its counters, the scans the page's
script posts (JSON, Idempotency-Key), and what another party, a replay and a forged code find there."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, func, select

from codes.service import key_store
from scanning.service import ScanRequest, close_shipment, open_shipment, record_scans, scan_into_shipment
from tests.factories import api_key, seed_masterdata
from tests.web.helpers import make_codes
from traceability.auth.service import Principal
from traceability.models import Event, ReceiptLine, RejectedScan, Role
from traceability.settings import Settings
from web import receiving_pages
from web.i18n import catalogue

HTML = {"Accept": "text/html"}
JSON = {"Accept": "application/json"}
PLANT = Principal(role=Role.plant, party_id="PLANT-1")


def _sign_in(client: TestClient, token: str) -> None:
    assert client.post("/login", data={"key": token}, headers=HTML, follow_redirects=False).status_code == 303


def _shipped(session: Session, settings: Settings, n: int = 3) -> tuple[int, list[str]]:
    """``n`` units commissioned at PLANT-1 and shipped to D-GZ on one shipment, and two more left at the plant."""
    seed_masterdata(session)
    made = make_codes(session, key_store(settings), n + 2)
    assert not record_scans(session=session, principal=PLANT,
                            request=ScanRequest(biz_step="commissioning", codes=made)).rejected  # fmt: skip
    shipment = open_shipment(session=session, principal=PLANT, destination_id="D-GZ")
    assert shipment.id is not None
    assert not scan_into_shipment(session=session, principal=PLANT, shipment_id=shipment.id, codes=made[:n]).rejected
    close_shipment(session=session, principal=PLANT, shipment_id=shipment.id, confirm=True)
    return shipment.id, made


def _counts(session: Session) -> tuple[int, int, int]:
    return tuple(int(session.exec(select(func.count()).select_from(m)).one())  # type: ignore[return-value]
                 for m in (Event, ReceiptLine, RejectedScan))  # fmt: skip


@pytest.mark.parametrize(("lang", "title", "nav"), [("en", "Inbound shipments", "Receiving"),
                                                     ("zh-CN", "到货发货单", "收货")])  # fmt: skip
def test_a_distributor_sees_its_inbound_shipments(client: TestClient, session: Session, settings: Settings,
                                                  lang: str, title: str, nav: str) -> None:  # fmt: skip
    sid, _ = _shipped(session, settings)
    _sign_in(client, api_key(session, Role.distributor).token)
    page = client.get("/app/receiving", headers={**HTML, "Accept-Language": lang})
    assert page.status_code == 200 and title in page.text and f'href="/app/receiving/{sid}"' in page.text
    assert f'<a href="/app/receiving" class="active">{nav}</a>' in page.text
    assert ("0 / 3" in page.text) and "Plant 1" in page.text


def test_scanning_on_the_page_shows_expected_received_missing_and_extra(
    client: TestClient, session: Session, settings: Settings
) -> None:
    sid, made = _shipped(session, settings)
    _sign_in(client, api_key(session, Role.distributor).token)
    url = f"/app/receiving/{sid}"
    page = client.get(url, headers={**HTML, "Accept-Language": "en"})
    assert page.status_code == 200 and 'aria-live="polite"' in page.text and "/static/scan.js" in page.text
    body = client.post(f"{url}/scans", data={"codes": f"{made[0]}\n{made[4]}"},
                       headers={**JSON, "Accept-Language": "zh-CN", "Idempotency-Key": "k1"}).json()  # fmt: skip
    assert [a["code"] for a in body["accepted"]] == [made[0]]
    (extra,) = body["rejected"]
    assert extra["reason"] == "not_on_shipment" and "不在发货单" in extra["message"]
    assert body["receipt"] == {"expected": 3, "received": 1, "missing": 2, "extra": 1}
    page = client.get(url, headers={**HTML, "Accept-Language": "en"})
    assert 'id="receipt-received" data-n="1"' in page.text and 'data-testid="extras"' in page.text
    closed = client.post(f"{url}/close", headers={**HTML, "Accept-Language": "en"}, follow_redirects=True)
    assert closed.status_code == 200 and "2 unit(s) missing" in closed.text and 'id="scanner"' not in closed.text
    after = client.post(f"{url}/scans", data={"codes": made[1]}, headers=JSON)
    assert after.status_code == 409


def test_another_distributor_cannot_receive_it_and_nothing_is_stored(
    client: TestClient, session: Session, settings: Settings
) -> None:
    sid, made = _shipped(session, settings)
    _sign_in(client, api_key(session, Role.distributor, "D-NJ").token)
    before = _counts(session)
    assert f"/app/receiving/{sid}" not in client.get("/app/receiving", headers=HTML).text
    assert client.get(f"/app/receiving/{sid}", headers=HTML).status_code == 404
    scan = client.post(f"/app/receiving/{sid}/scans", data={"codes": made[0]},
                       headers={**JSON, "Idempotency-Key": "k1"})  # fmt: skip
    assert scan.status_code == 404
    assert client.post(f"/app/receiving/{sid}/close", headers=JSON).status_code == 404
    assert _counts(session) == before
    # A store key may not open the page at all; a plant key (the sender) does not see a shipment it sent.
    _sign_in(client, api_key(session, Role.store).token)
    assert client.post(f"/app/receiving/{sid}/scans", data={"codes": made[0]}, headers=JSON).status_code == 403
    _sign_in(client, api_key(session, Role.plant).token)
    assert client.post(f"/app/receiving/{sid}/scans", data={"codes": made[0]}, headers=JSON).status_code == 404
    assert _counts(session) == before


def test_a_cross_site_post_is_refused(client: TestClient, session: Session, settings: Settings) -> None:
    sid, made = _shipped(session, settings)
    _sign_in(client, api_key(session, Role.distributor).token)
    before = _counts(session)
    resp = client.post(f"/app/receiving/{sid}/scans", data={"codes": made[0]},
                       headers={**JSON, "Origin": "https://evil.example"})  # fmt: skip
    assert resp.status_code == 403 and _counts(session) == before


def test_a_replayed_scan_is_answered_once(client: TestClient, session: Session, settings: Settings) -> None:
    sid, made = _shipped(session, settings)
    _sign_in(client, api_key(session, Role.distributor).token)
    sent = {**JSON, "Idempotency-Key": "phone-1"}
    first = client.post(f"/app/receiving/{sid}/scans", data={"codes": made[0]}, headers=sent).json()
    before = _counts(session)
    again = client.post(f"/app/receiving/{sid}/scans", data={"codes": made[0]}, headers=sent).json()
    assert again["replayed"] is True and again["accepted"] == first["accepted"] and again["rejected"] == []
    assert again["receipt"]["received"] == 1 and _counts(session) == before
    reused = client.post(f"/app/receiving/{sid}/scans", data={"codes": made[1]}, headers=sent)
    assert reused.status_code == 409 and _counts(session) == before


def test_a_forged_code_is_rejected_with_its_reason_kept(client: TestClient, session: Session,
                                                         settings: Settings) -> None:  # fmt: skip
    sid, made = _shipped(session, settings)
    head, serial = made[1].split("/21/", 1)
    forged = f"{head}/21/{'A' if serial[0] != 'A' else 'B'}{serial[1:]}"
    _sign_in(client, api_key(session, Role.distributor).token)
    body = client.post(f"/app/receiving/{sid}/scans", data={"codes": forged},
                       headers={**JSON, "Accept-Language": "en"}).json()  # fmt: skip
    assert [r["reason"] for r in body["rejected"]] == ["bad_signature"] and body["accepted"] == []
    assert body["receipt"]["received"] == 0
    kept = session.exec(select(RejectedScan).where(RejectedScan.raw == forged)).one()
    assert kept.reason == "bad_signature" and kept.party_id == "D-GZ"
    page = client.get(f"/app/receiving/{sid}", headers={**HTML, "Accept-Language": "en"})
    assert 'data-reason="bad_signature"' in page.text


def test_every_key_the_receiving_pages_use_is_in_both_catalogues() -> None:
    web_dir = Path(receiving_pages.__file__).parent
    used: set[str] = set()
    for name in ("templates/receiving.html", "templates/receipt.html", "receiving_pages.py"):
        used |= set(re.findall(r"""_\(\s*["']([\w.]+)["']""", (web_dir / name).read_text(encoding="utf-8")))
    used |= {f"receiving.reason.{r}" for r in ("not_on_shipment", "already_received")} | {"nav.receiving"}
    used |= {f"receiving.status.{s}" for s in ("awaiting", "received")}
    assert "receiving.count.missing" in used
    for lang in ("zh-CN", "en"):
        missing = {k for k in used if k not in catalogue(lang) and not k.endswith(".")}
        assert missing == set(), (lang, missing)
