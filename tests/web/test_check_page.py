"""The consumer / inspector check page: a forged code shows no tick beside its cross; the human-readable line typed
in is looked up (issued, voided, sold), never called forged, and never counted as a check; the script's words are
in the page's language; a signed-in inspector sees the unit's channel (names, not codes), and nobody else does.
Also the pages' frame: the favicon, and the 404 page that keeps the navigation (API paths keep problem JSON)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, func, select

from codes.render import encode_signature, parse_code
from codes.service import key_store
from tests.factories import GTIN, api_key, auth, seed_masterdata
from tests.web.conftest import Live
from tests.web.helpers import at_distributor, make_codes, scan
from traceability.models import CheckCount, Code, CodeStatus, Role
from traceability.settings import Settings
from web.service import typed_identity

HTML = {"Accept": "text/html"}
EN = {**HTML, "Accept-Language": "en"}
ZH = {**HTML, "Accept-Language": "zh-CN"}


def _path(code: str) -> str:
    return code.removeprefix("https://id.example.com")


def _checks(page: str) -> dict[str, str]:
    """Each question of the verdict card and its answer class: yes, no or unknown."""
    return {name: cls for cls, name in re.findall(r'<li class="(\w+)" data-check="(\w+)">', page)}


def _hri(code: str, *, lot: str | None = "L2611", expiry: str | None = "271231", sep: str = "\n") -> str:
    """The human-readable lines a label prints under the symbol (labels.content.unit_label), as typed."""
    ident = parse_code(code).identity
    lines = [f"(01) {ident.gtin}", f"(21) {ident.serial}"]
    if lot is not None:
        lines.append(f"(10) {lot}")
    if expiry is not None:
        lines.append(f"(17) {expiry}")
    return sep.join(lines)


def _check_rows(session: Session) -> int:
    return session.exec(select(func.count()).select_from(CheckCount)).one()


# --- the verdict card --------------------------------------------------------------------------------------------


def test_a_forged_code_shows_no_tick_beside_its_cross(client: TestClient, session: Session, settings: Settings) -> None:
    seed_masterdata(session)
    [code] = make_codes(session, key_store(settings), 1)
    at_distributor(session, [code])
    genuine = client.get(_path(code), headers=EN).text
    assert _checks(genuine) == dict.fromkeys(("signature", "issued", "not_voided", "not_sold"), "yes")
    # A real serial (issued, in the channel, not sold) with another signature: what a copier who guessed would print.
    signed = parse_code(code)
    other = encode_signature(bytes(b ^ 0x55 for b in signed.signature))
    forged = _path(code).replace(encode_signature(signed.signature), other)
    page = client.get(forged, headers=EN).text
    assert 'data-verdict="forged"' in page and 'class="card verdict bad"' in page
    assert _checks(page) == {"signature": "no", "issued": "unknown", "not_voided": "unknown", "not_sold": "unknown"}
    assert "✓" not in page.split('data-testid="verdict"')[1].split("</ul>")[0]


def test_a_sold_or_voided_code_shows_no_tick_either(client: TestClient, session: Session, settings: Settings) -> None:
    seed_masterdata(session)
    sold, voided = make_codes(session, key_store(settings), 2)
    at_distributor(session, [sold])
    scan(session, "shipping", "D-GZ", [sold], destination="S-GZ-1")
    scan(session, "retail_selling", "S-GZ-1", [sold])
    assert _checks(client.get(_path(sold), headers=EN).text) == {
        "signature": "unknown", "issued": "unknown", "not_voided": "unknown", "not_sold": "no"}  # fmt: skip
    record = session.exec(select(Code).where(Code.serial == parse_code(voided).identity.serial)).one()
    record.status = CodeStatus.voided
    session.add(record)
    session.flush()
    page = client.get(_path(voided), headers=EN).text
    assert 'data-verdict="voided"' in page and list(_checks(page).values()).count("yes") == 0


# --- the human-readable line, typed in ---------------------------------------------------------------------------


def test_the_typed_line_is_parsed_in_the_forms_people_type() -> None:
    want = (GTIN, "AbC123", "L2611", "271231")
    assert typed_identity(f"(01) {GTIN}\n(21) AbC123\n(10) L2611\n(17) 271231") == want
    assert typed_identity(f"(01){GTIN}(21)AbC123(10)L2611(17)271231") == want
    assert typed_identity(f"  (01) {GTIN} (21) AbC123  ") == (GTIN, "AbC123", None, None)
    refused = [
        f"(01){GTIN}",
        "(21)AbC123",
        "(01)06901234000109(21)x",
        f"(01){GTIN}(21)x(91)K1",
        f"(01){GTIN}(21)x(21)y",
        f"x(01){GTIN}(21)y",
        f"(01){GTIN}(21)x(17)2712",
        "(01)abc(21)x",
        "hello",
    ]
    for text in refused:
        assert typed_identity(text) is None, text


def test_a_typed_line_is_looked_up_not_called_forged(client: TestClient, session: Session, settings: Settings) -> None:
    seed_masterdata(session)
    out, fresh, sold = make_codes(session, key_store(settings), 3)
    at_distributor(session, [out, sold])
    scan(session, "shipping", "D-GZ", [sold], destination="S-GZ-1")
    scan(session, "retail_selling", "S-GZ-1", [sold])
    before = _check_rows(session)

    page = client.get("/check", params={"code": _hri(out)}, headers=EN)
    assert page.status_code == 200 and 'data-verdict="typed_issued"' in page.text and 'data-typed="true"' in page.text
    assert "Number issued by the brand" in page.text and 'data-testid="typed-note"' in page.text
    assert _checks(page.text) == {"signature": "unknown", "issued": "yes", "not_voided": "yes", "not_sold": "yes"}
    assert 'class="card verdict warn"' in page.text  # never the green "genuine": the number can be copied
    zh = client.get("/check", params={"code": _hri(out, sep=" ")}, headers=ZH)
    assert "品牌签发过此编号" in zh.text and "请扫描条码核验签名" in zh.text

    assert 'data-verdict="not_released"' in client.get("/check", params={"code": _hri(fresh)}, headers=EN).text
    sold_page = client.get("/check", params={"code": _hri(sold, lot=None, expiry=None)}, headers=EN).text
    assert 'data-verdict="sold"' in sold_page and "广州市" in sold_page
    unknown = _hri(out).replace(parse_code(out).identity.serial, "NOSUCHSERIAL1")
    missing = client.get("/check", params={"code": unknown}, headers=EN).text
    assert 'data-verdict="typed_not_issued"' in missing and "Check that you typed it" in missing
    assert 'data-verdict="forged"' not in missing and 'data-verdict="malformed"' not in missing
    wrong_lot = client.get("/check", params={"code": _hri(out, lot="L9999")}, headers=EN).text
    assert 'data-verdict="typed_mismatch"' in wrong_lot and _checks(wrong_lot)["issued"] == "no"

    record = session.exec(select(Code).where(Code.serial == parse_code(out).identity.serial)).one()
    record.status = CodeStatus.voided
    session.add(record)
    session.flush()
    assert 'data-verdict="voided"' in client.get("/check", params={"code": _hri(out)}, headers=EN).text
    # Anyone can type a printed number: a typed look-up never moves a code's check count.
    assert _check_rows(session) == before


# --- the script's words ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("lang", "denied"), [("zh-CN", "您拒绝了定位权限"), ("en", "you declined the permission")])
def test_the_geolocation_refusal_is_in_the_pages_language(
    client: TestClient, session: Session, settings: Settings, lang: str, denied: str
) -> None:
    seed_masterdata(session)
    [code] = make_codes(session, key_store(settings), 1)
    at_distributor(session, [code])
    page = client.get(_path(code), headers={**HTML, "Accept-Language": lang}).text
    block = re.search(r'<script id="inspect-messages" type="application/json">(.*?)</script>', page, re.S)
    assert block is not None
    words = json.loads(block.group(1))
    assert denied in words["inspect.geo.denied"]
    assert {"inspect.geo.unavailable", "inspect.geo.timeout", "inspect.network", "inspect.failed"} <= set(words)


# --- 稽查: the inspector's channel view -------------------------------------------------------------------------


def _channel(page: str) -> str | None:
    found = re.search(r'<section class="channel" data-testid="channel".*?</section>', page, re.S)
    return found.group(0) if found else None


def test_an_inspector_sees_the_units_channel_by_name(client: TestClient, session: Session, settings: Settings) -> None:
    seed_masterdata(session)
    home, leaked = make_codes(session, key_store(settings), 2)
    at_distributor(session, [home, leaked])
    scan(session, "shipping", "D-GZ", [home], destination="S-GZ-1")
    scan(session, "receiving", "S-GZ-1", [home])
    scan(session, "shipping", "D-GZ", [leaked], destination="S-NJ-1")  # 广州 ships to a Nanjing store
    scan(session, "receiving", "S-NJ-1", [leaked])
    auditor = auth(api_key(session, Role.auditor))

    ok = _channel(client.get(_path(home), headers={**EN, **auditor}).text)
    assert ok is not None
    assert "广州经销商" in ok and "广州市 Guangzhou" in ok and "Store 1" in ok
    assert 'data-authorised="yes"' in ok and 'data-supplied="yes"' in ok
    assert "CN-44-01" not in ok and "D-GZ" not in ok  # names, not codes

    bad = _channel(client.get(_path(leaked), headers={**ZH, **auditor}).text)
    assert bad is not None
    assert "稽查：该单品的渠道" in bad and "Store NJ 1" in bad and "南京市 Nanjing" in bad
    assert 'data-authorised="no"' in bad and "疑似窜货" in bad and 'data-supplied="no"' in bad
    assert "广州市 Guangzhou" in bad  # where the responsible distributor may sell
    # the same view on the check form (typed line or pasted code) and for the brand's admin
    typed = client.get("/check", params={"code": _hri(leaked)}, headers={**EN, **auditor}).text
    assert 'data-authorised="no"' in (_channel(typed) or "")
    admin = auth(api_key(session, Role.admin))
    assert _channel(client.get(_path(leaked), headers={**EN, **admin}).text) is not None


@pytest.mark.parametrize("role", [None, Role.distributor, Role.store, Role.plant, Role.finance])
def test_nobody_else_sees_the_channel(
    client: TestClient, session: Session, settings: Settings, role: Role | None
) -> None:
    seed_masterdata(session)
    [code] = make_codes(session, key_store(settings), 1)
    at_distributor(session, [code])
    headers = {**EN, **(auth(api_key(session, role)) if role is not None else {})}
    for page in (client.get(_path(code), headers=headers).text,
                 client.get("/check", params={"code": code}, headers=headers).text,
                 client.get("/check", params={"code": _hri(code)}, headers=headers).text):  # fmt: skip
        assert 'data-verdict="' in page
        assert _channel(page) is None and "Responsible distributor" not in page and "广州市 Guangzhou" not in page


def test_a_stale_key_cookie_does_not_open_the_channel(client: TestClient, session: Session, settings: Settings) -> None:
    seed_masterdata(session)
    [code] = make_codes(session, key_store(settings), 1)
    at_distributor(session, [code])
    client.cookies.set("trc_key", "trc_forged_" + "x" * 40)
    page = client.get(_path(code), headers=EN)
    assert page.status_code == 200 and _channel(page.text) is None


# --- the frame: favicon, the 404 page -----------------------------------------------------------------------------


def test_the_favicon_is_linked_and_served(client: TestClient) -> None:
    page = client.get("/login", headers=EN).text
    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in page
    for path in ("/favicon.ico", "/static/favicon.svg"):
        icon = client.get(path)
        assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg+xml")
        assert icon.text.lstrip().startswith("<svg")


NOT_FOUND = [("zh-CN", "未找到", "此地址没有页面"), ("en", "Not found", "There is no page at this address")]


@pytest.mark.parametrize(("lang", "title", "text"), NOT_FOUND)
def test_an_unknown_page_is_the_error_page_with_the_navigation(
    client: TestClient, session: Session, lang: str, title: str, text: str
) -> None:
    seed_masterdata(session)
    auditor = auth(api_key(session, Role.auditor))
    page = client.get("/app/no-such-page", headers={**HTML, "Accept-Language": lang, **auditor})
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert f"<h1>{title}</h1>" in page.text and text in page.text and 'data-status="404"' in page.text
    assert 'href="/app/alerts"' in page.text and 'data-testid="who"' in page.text  # the auditor's navigation
    anonymous = client.get("/app/no-such-page", headers={**HTML, "Accept-Language": lang})
    assert anonymous.status_code == 404 and 'href="/login"' in anonymous.text and 'href="/check"' in anonymous.text
    # a domain 404 inside a page keeps the navigation too
    missing_alert = client.get("/app/alerts/999999", headers={**HTML, "Accept-Language": lang, **auditor})
    assert missing_alert.status_code == 404 and 'href="/app/alerts"' in missing_alert.text


def test_api_paths_keep_problem_json(client: TestClient) -> None:
    for path in ("/api/v1/no-such-thing", "/epcis/no-such-thing"):
        resp = client.get(path, headers=HTML)
        assert resp.status_code == 404 and resp.headers["content-type"].startswith("application/problem+json")
        assert resp.json()["error"] == "not_found" and resp.json()["status"] == 404
    script = client.get("/app/no-such-page", headers={"Accept": "application/json"})
    assert script.status_code == 404 and script.json()["error"] == "not_found"
    wrong_method = client.delete("/check", headers={"Accept": "application/json"})
    assert wrong_method.status_code == 405 and wrong_method.json()["error"] == "method_not_allowed"
    assert "GET" in wrong_method.headers["allow"]


# --- in a browser ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("lang", "denied"), [("zh-CN", "未分享位置：您拒绝了定位权限"), ("en", "Location not shared")])
def test_a_refused_location_is_said_in_the_pages_language(page_for: Any, live: Live, lang: str, denied: str) -> None:
    [code] = live.take()
    page = page_for(lang=lang, permissions=[])  # the person says no to the browser's question
    page.goto(code)
    page.click("#share-location")
    result = page.locator("#inspect-result")
    result.wait_for(state="visible")
    page.wait_for_function("document.getElementById('inspect-result').dataset.reason === 'geo_denied'")
    assert denied in result.inner_text()
    assert page.locator("#share-location").is_enabled()  # they may change their mind and try again
