"""Pages through the ASGI app: sign-in, language, role navigation, the consumer check, shipment scanning."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlmodel import Session, func, select

from codes.service import key_store
from tests.factories import api_key, seed_masterdata
from tests.web.helpers import at_distributor, make_codes, scan
from traceability.models import Event, RejectedScan, Role, ShipmentItem
from traceability.settings import Settings
from web.i18n import catalogue, negotiate

HTML = {"Accept": "text/html"}


def _sign_in(client: TestClient, token: str) -> None:
    resp = client.post("/login", data={"key": token}, headers=HTML, follow_redirects=False)
    assert resp.status_code == 303, resp.text


def test_negotiation_prefers_the_switch_then_the_browser() -> None:
    assert negotiate(None) == "zh-CN"
    assert negotiate("en-US,en;q=0.9") == "en"
    assert negotiate("fr-FR, en;q=0.5, zh-CN;q=0.8") == "zh-CN"
    assert negotiate("de, *;q=0.1") == "zh-CN"
    assert negotiate("zh-TW") == "zh-CN"
    assert negotiate("en", cookie="zh-CN") == "zh-CN"
    assert negotiate("zh", cookie="xx") == "zh-CN"


def test_catalogues_have_the_same_keys() -> None:
    assert catalogue("en").keys() == catalogue("zh-CN").keys()


def test_sign_in_sets_a_cookie_and_lands_on_the_role_page(client: TestClient, session: Session) -> None:
    seed_masterdata(session)
    key = api_key(session, Role.distributor)
    assert client.get("/app/shipments", headers=HTML, follow_redirects=False).headers["location"].startswith("/login")
    bad = client.post("/login", data={"key": "trc_nope_nope"}, headers={**HTML, "Accept-Language": "en"})
    assert bad.status_code == 401 and "unknown or revoked" in bad.text
    resp = client.post("/login", data={"key": key.token}, headers=HTML, follow_redirects=False)
    assert resp.status_code == 303 and resp.headers["location"] == "/app/overview"
    cookie = resp.headers["set-cookie"]
    assert "httponly" in cookie.lower() and "samesite=lax" in cookie.lower()
    page = client.get("/app/shipments", headers={**HTML, "Accept-Language": "en"})
    assert page.status_code == 200 and "Outbound shipments" in page.text and "广州经销商" in page.text
    assert "S-GZ-1" in page.text  # its authorised store is offered as a destination
    zh = client.get("/app/shipments", headers={**HTML, "Accept-Language": "zh-CN"})
    assert "出库发货" in zh.text and zh.headers["content-language"] == "zh-CN"


def test_language_switch_wins_over_the_browser(client: TestClient) -> None:
    resp = client.get("/lang/en?next=/check", follow_redirects=False)
    assert resp.status_code == 303 and resp.headers["location"] == "/check"
    page = client.get("/check", headers={**HTML, "Accept-Language": "zh-CN"})
    assert "Check another code" in page.text
    assert client.get("/lang/en?next=//evil.example", follow_redirects=False).headers["location"] == "/"


def test_a_page_refuses_a_role_it_is_not_for(client: TestClient, session: Session) -> None:
    seed_masterdata(session)
    _sign_in(client, api_key(session, Role.finance).token)
    resp = client.get("/app/shipments", headers={**HTML, "Accept-Language": "en"})
    assert resp.status_code == 403 and "Not allowed" in resp.text


def test_cross_site_posts_with_the_cookie_are_refused(client: TestClient, session: Session) -> None:
    seed_masterdata(session)
    _sign_in(client, api_key(session, Role.distributor).token)
    resp = client.post("/app/shipments", data={"destination": "S-GZ-1"}, headers={"Origin": "https://evil.example"})
    assert resp.status_code == 403


def test_digital_link_page_says_genuine_then_sold(client: TestClient, session: Session, settings: Settings) -> None:
    seed_masterdata(session)
    [code] = make_codes(session, key_store(settings), 1)
    at_distributor(session, [code])
    path = code.removeprefix("https://id.example.com")
    page = client.get(path, headers={**HTML, "Accept-Language": "en"})
    assert page.status_code == 200 and 'data-verdict="genuine"' in page.text
    assert "婴儿配方奶粉" in page.text
    scan(session, "shipping", "D-GZ", [code], destination="S-GZ-1")
    scan(session, "retail_selling", "S-GZ-1", [code])
    sold = client.get(path, headers={**HTML, "Accept-Language": "en"})
    assert 'data-verdict="sold"' in sold.text and "广州市" in sold.text


def test_forged_and_unknown_codes_are_called_fakes(client: TestClient, session: Session, settings: Settings) -> None:
    seed_masterdata(session)
    [code] = make_codes(session, key_store(settings), 1)
    path = code.removeprefix("https://id.example.com")
    i = path.index("/21/") + 4
    forged = path[:i] + ("A" if path[i] != "A" else "B") + path[i + 1 :]
    assert 'data-verdict="forged"' in client.get(forged, headers=HTML).text
    assert 'data-verdict="not_released"' in client.get(path, headers=HTML).text
    assert 'data-verdict="malformed"' in client.get("/01/123/21/x", headers=HTML).text
    assert 'data-verdict="malformed"' in client.get("/check?code=nonsense", headers=HTML).text


def test_inspection_is_recorded_at_the_nearest_store(client: TestClient, session: Session, settings: Settings) -> None:
    seed_masterdata(session)
    [code] = make_codes(session, key_store(settings), 1)
    at_distributor(session, [code])
    far = client.post("/check/inspect", json={"code": code, "lat": 45.75, "lon": 126.63})  # Harbin
    assert far.json()["recorded"] is False and far.json()["reason"] == "no_store_nearby"
    near = client.post("/check/inspect", json={"code": code, "lat": 32.05, "lon": 118.78})  # next to S-NJ-1
    assert near.status_code == 200 and near.json()["recorded"] is True
    event = session.exec(select(Event).where(Event.biz_step == "inspecting")).one()
    assert event.location_party_id == "S-NJ-1"
    forged = code[:-3] + ("AAA" if not code.endswith("AAA") else "BBB")
    bad = client.post("/check/inspect", json={"code": forged, "lat": 32.05, "lon": 118.78})
    assert bad.json()["reason"] == "rejected"
    assert session.exec(select(RejectedScan).where(RejectedScan.biz_step == "inspecting")).first() is not None


def test_distributor_scans_and_closes_a_shipment(client: TestClient, session: Session, settings: Settings) -> None:
    seed_masterdata(session)
    good, sold = make_codes(session, key_store(settings), 2)
    at_distributor(session, [good, sold])
    scan(session, "shipping", "D-GZ", [sold], destination="S-GZ-1")
    scan(session, "retail_selling", "S-GZ-1", [sold])
    _sign_in(client, api_key(session, Role.distributor).token)
    opened = client.post("/app/shipments", data={"destination": "S-GZ-1"}, headers=HTML, follow_redirects=False)
    assert opened.status_code == 303
    url = opened.headers["location"]
    result = client.post(f"{url}/scans", data={"codes": f"{good}\n{sold}\nnot-a-code"},
                         headers={"Accept": "application/json"}).json()  # fmt: skip
    assert [a["code"] for a in result["accepted"]] == [good]
    assert sorted(r["reason"] for r in result["rejected"]) == ["already_sold", "malformed"]
    form = client.post(f"{url}/scans", data={"codes": good}, headers={**HTML, "Accept-Language": "en"})
    assert form.status_code == 200 and "Scanned twice" in form.text
    closed = client.post(f"{url}/close", headers=HTML)
    assert closed.status_code == 200 and 'data-status="closed"' in closed.text
    again = client.post(f"{url}/close", headers={**HTML, "Accept-Language": "en"})
    assert again.status_code == 409


def test_another_partys_shipment_is_not_found(client: TestClient, session: Session) -> None:
    seed_masterdata(session)
    nj = api_key(session, Role.distributor, "D-NJ")
    gz = api_key(session, Role.distributor, "D-GZ")
    _sign_in(client, gz.token)
    url = client.post("/app/shipments", data={"destination": "S-GZ-1"}, headers=HTML,
                      follow_redirects=False).headers["location"]  # fmt: skip
    _sign_in(client, nj.token)
    assert client.get(url, headers=HTML).status_code == 404


def test_a_resent_page_scan_is_answered_once(client: TestClient, session: Session, settings: Settings) -> None:
    """The phone's offline queue resends a scan whose answer was lost: the same Idempotency-Key gets the first
    answer again (no "scanned twice" rejection, nothing stored twice); another party's same key replays nothing."""
    seed_masterdata(session)
    first_code, second_code = make_codes(session, key_store(settings), 2)
    at_distributor(session, [first_code, second_code])
    _sign_in(client, api_key(session, Role.distributor).token)
    url = client.post("/app/shipments", data={"destination": "S-GZ-1"}, headers=HTML,
                      follow_redirects=False).headers["location"]  # fmt: skip
    sent = {"Accept": "application/json", "Idempotency-Key": "phone-7-0001"}
    first = client.post(f"{url}/scans", data={"codes": first_code}, headers=sent).json()
    rejected_before = session.exec(select(func.count()).select_from(RejectedScan)).one()
    again = client.post(f"{url}/scans", data={"codes": first_code}, headers=sent).json()
    assert again["accepted"] == first["accepted"] and [a["code"] for a in again["accepted"]] == [first_code]
    assert again["rejected"] == [] and again.get("replayed") is True
    assert session.exec(select(func.count()).select_from(RejectedScan)).one() == rejected_before
    items = session.exec(select(func.count()).select_from(ShipmentItem)).one()
    assert items == 1
    reused = client.post(f"{url}/scans", data={"codes": second_code}, headers=sent)
    assert reused.status_code == 409 and reused.json()["error"] == "idempotency_key_reused"
    assert session.exec(select(func.count()).select_from(ShipmentItem)).one() == items
    fresh = client.post(f"{url}/scans", data={"codes": second_code},
                        headers={**sent, "Idempotency-Key": "phone-7-0002"}).json()  # fmt: skip
    assert [a["code"] for a in fresh["accepted"]] == [second_code]
