"""Each partner's own pages (issue 13): a distributor's statement shows only its own line, alerts and shipments; it
answers its alerts with a note that leaves the status alone; a store's page shows the figures its API shows, and
only its own members. Everything through the ASGI app with real rows."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from codes.service import key_store
from rebates.policy import Policy, RebateTier
from settlement.periods import period_of
from settlement.service import DistributorLine, lock_period
from tests.factories import api_key, auth, seed_masterdata
from tests.web.helpers import at_distributor, make_codes, scan
from traceability.auth.service import IssuedKey
from traceability.models import Alert, AlertNote, AlertStatus, Role
from traceability.models.base import utcnow
from traceability.settings import Settings
from web.i18n import translator
from web.partner_pages import money, period_choices, rate_reason

HTML = {"Accept": "text/html"}
ZH = {**HTML, "Accept-Language": "zh-CN"}
EN = {**HTML, "Accept-Language": "en"}


@dataclass
class World:
    gz: IssuedKey
    nj: IssuedKey
    store: IssuedKey
    admin: IssuedKey
    gz_alerts: list[Alert]
    nj_alerts: list[Alert]


@pytest.fixture
def world(session: Session, settings: Settings, client: TestClient) -> World:
    """D-GZ and D-NJ each buy units; D-GZ sells one through S-GZ-1 (to a member) and leaks one into Nanjing, D-NJ
    leaks one into Guangzhou; S-GZ-1 and S-NJ-1 each register a member."""
    seed_masterdata(session)
    codes = make_codes(session, key_store(settings), 8)
    at_distributor(session, codes[:5], "D-GZ")
    at_distributor(session, codes[5:], "D-NJ")
    scan(session, "shipping", "D-GZ", codes[0:2], destination="S-GZ-1")
    scan(session, "shipping", "D-GZ", codes[2:3], destination="S-NJ-1")
    scan(session, "retail_selling", "S-NJ-1", codes[2:3])
    scan(session, "shipping", "D-NJ", codes[5:6], destination="S-GZ-1")
    keys = World(gz=api_key(session, Role.distributor, "D-GZ"), nj=api_key(session, Role.distributor, "D-NJ"),
                 store=api_key(session, Role.store, "S-GZ-1"), admin=api_key(session, Role.admin), gz_alerts=[],
                 nj_alerts=[])  # fmt: skip
    other_store = api_key(session, Role.store, "S-NJ-1")
    for key, to in ((keys.gz, "S-GZ-1"), (keys.gz, "S-NJ-1"), (keys.nj, "S-NJ-1")):
        opened = client.post("/api/v1/shipments", json={"destination": to}, headers=auth(key))
        assert opened.status_code == 201, opened.text
    for key, phone in ((keys.store, "13800138001"), (keys.store, "13800138002"), (other_store, "13900139001")):
        resp = client.post("/api/v1/members", json={"member": phone, "name": f"M{phone[-2:]}", "consent": True},
                           headers=auth(key))  # fmt: skip
        assert resp.status_code == 201, resp.text
    sold = client.post("/api/v1/scans", json={"biz_step": "retail_selling", "codes": codes[0:1],
                                              "member": "13800138001"}, headers=auth(keys.store))  # fmt: skip
    assert sold.status_code == 200 and not sold.json()["rejected"], sold.text
    rows = list(session.exec(select(Alert)).all())
    keys.gz_alerts = [a for a in rows if a.responsible_distributor_id == "D-GZ"]
    keys.nj_alerts = [a for a in rows if a.responsible_distributor_id == "D-NJ"]
    assert keys.gz_alerts and keys.nj_alerts
    return keys


def _period() -> str:
    return period_of(utcnow(), Policy().timezone)


def test_a_distributor_reads_only_its_own_line_alerts_and_shipments(client: TestClient, world: World) -> None:
    page = client.get("/app/statement", headers={**EN, **auth(world.gz)})
    assert page.status_code == 200, page.text
    html = page.text
    assert f'data-period="{_period()}"' in html and 'data-party="D-GZ"' in html
    lines = re.findall(r'data-testid="line" data-party="([^"]+)"', html)
    assert lines == ["D-GZ"]
    api = client.get(f"/api/v1/settlement/{_period()}", headers=auth(world.gz)).json()
    [line] = api["distributors"]
    assert api["stores"] == []
    assert money(line["purchase_value"], line["currency"]) in html and line["currency"] == "CNY"
    assert "¥1,340.00" in html  # 5 units × ¥268.00, two decimals, grouped
    assert f'data-rate="{Decimal(line["rate"])}"' in html or f'data-rate="{line["rate"]}"' in html
    shown = set(re.findall(r'<tr data-alert="(\d+)"', html))
    assert shown == {str(a.id) for a in world.gz_alerts}
    assert not shown & {str(a.id) for a in world.nj_alerts}
    shipments = html.split('data-testid="statement-shipments"')[1].split("</table>")[0]
    assert "S-NJ-1" in shipments and "S-GZ-1" in shipments and len(re.findall(r"<tr><td>", shipments)) == 2
    assert "南京经销商" not in html  # nothing of D-NJ's: not its line, not its alerts, not its shipments
    zh = client.get("/app/statement", headers={**ZH, **auth(world.gz)})
    assert "对账单" in zh.text and "为什么" in zh.text and "覆盖率" in zh.text


def test_the_statement_says_why_in_the_page_language(client: TestClient, world: World) -> None:
    en = client.get("/app/statement", headers={**EN, **auth(world.gz)}).text
    why = re.search(r'data-testid="why"><strong>[^<]*</strong> ([^<]*)<', en)
    assert why is not None and why.group(1).startswith("Rate 0 %") and "misses" in why.group(1)
    assert "diverted unit(s) attributed to you" in why.group(1)
    line = DistributorLine(party="D-GZ", name="", currency="CNY", units_purchased=100, units_scanned_out=96,
                           purchase_value=Decimal("26800.00"), coverage=Decimal("0.96"), diverted_units=0,
                           alert_ids=[], rate=Decimal("0.02"), rebate=Decimal("536.00"), reason="")  # fmt: skip
    zh = rate_reason(line, Policy(), translator("zh-CN"))
    assert zh.startswith("返利比例 2 %") and "覆盖率 96 %" in zh and "≥ 95 %" in zh
    one = rate_reason(line, Policy.model_validate({"rebate": {"tiers": [
        RebateTier(rate=Decimal("0.01"), min_coverage=Decimal("0.8"), max_diverted_share=Decimal("0.005"))]}}),
        translator("en"))  # fmt: skip
    assert one.startswith("Rate 0 %") and "misses" in one  # the line's rate is no tier of this policy


def test_periods_newest_first_and_a_bad_period_is_worded(client: TestClient, world: World) -> None:
    html = client.get("/app/statement", headers={**EN, **auth(world.gz)}).text
    options = re.findall(r'<option value="(\d{4}-\d{2})"', html)
    assert options[0] == _period() and options == sorted(options, reverse=True) and len(options) == 12
    bad = client.get("/app/statement?period=2026-13", headers={**ZH, **auth(world.gz)})
    assert bad.status_code == 422 and "结算期 2026-13 无效" in bad.text
    assert client.get("/app/statement?period=nope", headers={**EN, **auth(world.gz)}).status_code == 422


def _months_back(period: str, n: int) -> str:
    k = int(period[:4]) * 12 + int(period[5:]) - 1 - n
    return f"{k // 12:04d}-{k % 12 + 1:02d}"


def test_period_choices_follow_the_locks(client: TestClient, session: Session, settings: Settings,
                                         world: World) -> None:  # fmt: skip
    assert [c.status for c in period_choices(session=session, policy=Policy())] == ["open"] * 12
    now = _period()
    old = _months_back(now, 2)
    lock_period(session=session, period=old, policy=Policy(), locked_by="finance:BRAND", force=True,
                keys=key_store(settings))  # fmt: skip
    choices = period_choices(session=session, policy=Policy())
    assert [(c.period, c.status) for c in choices] == [(now, "open"), (_months_back(now, 1), "open"), (old, "locked")]
    html = client.get(f"/app/statement?period={old}", headers={**EN, **auth(world.gz)}).text
    assert f'data-period="{old}" data-status="locked"' in html and 'data-testid="no-line"' in html
    assert re.findall(r'<option value="(\d{4}-\d{2})"', html) == [c.period for c in choices]


def test_a_distributor_may_not_read_another_distributors_statement(client: TestClient, world: World) -> None:
    refused = client.get("/app/statement?party=D-NJ", headers={**EN, **auth(world.gz)})
    assert refused.status_code == 403 and "not D-NJ" in refused.text
    as_json = client.get("/app/statement?party=D-NJ", headers=auth(world.gz))
    assert as_json.status_code == 403 and as_json.json()["error"] == "not_your_party"
    admin = client.get("/app/statement?party=D-NJ", headers={**EN, **auth(world.admin)})
    assert admin.status_code == 200
    assert re.findall(r'data-testid="line" data-party="([^"]+)"', admin.text) == ["D-NJ"]
    assert set(re.findall(r'<tr data-alert="(\d+)"', admin.text)) == {str(a.id) for a in world.nj_alerts}
    unknown = client.get("/app/statement?party=S-GZ-1", headers={**EN, **auth(world.admin)})
    assert unknown.status_code == 404 and "no distributor S-GZ-1" in unknown.text


def test_a_distributor_answers_its_alert_and_the_status_stays(client: TestClient, session: Session,
                                                              world: World) -> None:  # fmt: skip
    alert = world.gz_alerts[0]
    before = alert.status
    page = client.get(f"/app/alerts/{alert.id}", headers={**EN, **auth(world.gz)})
    assert page.status_code == 200
    assert 'id="note-form"' in page.text and 'id="alert-form"' not in page.text
    assert 'data-testid="trail"' not in page.text and "/app/graph" not in page.text  # the trail is the auditors'
    sent = client.post(f"/app/alerts/{alert.id}/notes", data={"text": "  Sold to S-NJ-1 by mistake; recalled. "},
                       headers={**EN, **auth(world.gz)}, follow_redirects=False)  # fmt: skip
    assert sent.status_code == 303 and sent.headers["location"] == f"/app/alerts/{alert.id}"
    session.expire_all()
    assert session.get(Alert, alert.id).status == before  # type: ignore[union-attr]
    notes = session.exec(select(AlertNote).where(AlertNote.alert_id == alert.id, AlertNote.action == "note")).all()
    assert [n.text for n in notes] == ["Sold to S-NJ-1 by mistake; recalled."]
    assert notes[0].author.startswith("D-GZ (distributor")
    after = client.get(f"/app/alerts/{alert.id}", headers={**EN, **auth(world.gz)}).text
    history = after.split('data-testid="history"')[1].split("</ul>")[0]
    assert "Sold to S-NJ-1 by mistake; recalled." in history
    assert f'data-status="{AlertStatus(before).value}"' in after
    blank = client.post(f"/app/alerts/{alert.id}/notes", data={"text": "   "}, headers={**ZH, **auth(world.gz)})
    assert blank.status_code == 422 and "备注不能为空" in blank.text
    auditor = client.get(f"/app/alerts/{alert.id}", headers={**EN, **auth(api_key(session, Role.auditor))}).text
    assert 'id="alert-form"' in auditor and 'id="note-form"' not in auditor and 'data-testid="trail"' in auditor


def test_another_distributors_alert_is_not_found(client: TestClient, session: Session, world: World) -> None:
    theirs = world.nj_alerts[0]
    assert client.get(f"/app/alerts/{theirs.id}", headers={**EN, **auth(world.gz)}).status_code == 404
    noted = client.post(f"/app/alerts/{theirs.id}/notes", data={"text": "not ours"}, headers={**ZH, **auth(world.gz)})
    assert noted.status_code == 404 and f"没有您可查看的预警 {theirs.id}" in noted.text
    assert not session.exec(select(AlertNote).where(AlertNote.alert_id == theirs.id,
                                                    AlertNote.action == "note")).all()  # fmt: skip


def test_a_note_from_another_site_is_refused(client: TestClient, session: Session, world: World) -> None:
    alert = world.gz_alerts[0]
    resp = client.post(f"/app/alerts/{alert.id}/notes", data={"text": "forged"},
                       headers={**auth(world.gz), "Origin": "https://evil.example"})  # fmt: skip
    assert resp.status_code == 403 and resp.json()["reason"] == "cross_site"
    assert not session.exec(select(AlertNote).where(AlertNote.text == "forged")).all()


def test_the_store_page_shows_what_its_api_shows(client: TestClient, world: World) -> None:
    api = client.get("/api/v1/stores/me/summary", headers=auth(world.store)).json()
    html = client.get("/app/store", headers={**EN, **auth(world.store)}).text
    figure = {name: re.search(rf'data-testid="{name}">([^<]*)<', html) for name in
              ("today-sold", "today-members", "today-free", "month-sold", "month-fee", "members-total")}  # fmt: skip
    assert {k: m.group(1) if m else None for k, m in figure.items()} == {
        "today-sold": str(api["today"]["units_sold"]), "today-members": str(api["today"]["member_units"]),
        "today-free": str(api["today"]["free_units"]), "month-sold": str(api["month"]["units_sold"]),
        "month-fee": money(api["month"]["lines"][0]["fee"], "CNY", "en"), "members-total": f"{api['members']} in all",
    }  # fmt: skip
    assert api["today"]["units_sold"] == 1 and api["today"]["member_units"] == 1 and api["members"] == 2
    assert re.findall(r'data-testid="store-line" data-party="([^"]+)"', html) == ["S-GZ-1"]
    assert "S-NJ-1" not in html.split('data-testid="month"')[1].split("</section>")[0]
    assert len(re.findall(r'<tr data-member="\d+">', html)) == 2 and "M01" in html and "M02" in html
    assert "M01" in html and "M39" not in html  # S-NJ-1's member is not ours
    zh = client.get("/app/store", headers={**ZH, **auth(world.store)}).text
    assert "我的门店" in zh and "本店会员" in zh and "共 2 位" in zh


def test_a_store_may_not_open_another_stores_members(client: TestClient, world: World) -> None:
    zh = client.get("/app/store?party=S-NJ-1", headers={**ZH, **auth(world.store)})
    assert zh.status_code == 403 and "门店密钥只能查看和登记本店 S-GZ-1 的会员" in zh.text
    assert zh.headers["content-language"] == "zh-CN" and "M39" not in zh.text
    en = client.get("/app/store?party=S-NJ-1", headers={**EN, **auth(world.store)})
    assert en.status_code == 403 and "only the members of its own store S-GZ-1" in en.text
    api = client.get("/api/v1/members?store=S-NJ-1", headers=auth(world.store))
    assert api.status_code == 403 and api.json()["error"] == "not_own_store"
    assert client.get("/app/store?party=S-GZ-1", headers={**EN, **auth(world.store)}).status_code == 200
    admin = client.get("/app/store?party=S-NJ-1", headers={**EN, **auth(world.admin)})
    assert admin.status_code == 200 and "M39" not in admin.text and 'data-total="1"' in admin.text
    assert "M01" in client.get("/app/store", headers={**EN, **auth(world.admin)}).text  # default: the first store


def test_partners_see_their_own_link_in_the_header(client: TestClient, world: World) -> None:
    gz = client.get("/app/statement", headers={**ZH, **auth(world.gz)}).text
    assert 'href="/app/statement"' in gz and 'href="/app/store"' not in gz
    store = client.get("/app/store", headers={**EN, **auth(world.store)}).text
    assert 'href="/app/store" class="active">My store' in store and 'href="/app/statement"' not in store
    assert client.get("/app/store", headers={**EN, **auth(world.gz)}).status_code == 403
    assert client.get("/app/statement", headers={**EN, **auth(world.store)}).status_code == 403


def test_money_has_two_decimals_and_the_currency() -> None:
    assert money(Decimal("1234.5"), "CNY") == "¥1,234.50"
    assert money("0.005", "CNY") == "¥0.00" and money("0.015", "CNY") == "¥0.02"  # half-even
    assert money(Decimal("-12"), "CNY") == "-¥12.00"
    assert money("3", "USD") == "US$3.00"
    assert money(Decimal("1234.5"), "CNY", "en") == "CN¥1,234.50"  # English tells yuan from yen, as CLDR does
