"""The lists that used to stop or never page (issue 17): the receiving list, the settlement's store lines, a store's
members and a statement's alerts each page with the one pager (the total, page 2, a search that narrows, the
filters kept in the links); the settlement's figures are money and numbers in the page's language."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from tests.factories import api_key, auth, seed_masterdata
from tests.settlement.scenario import P1
from tests.settlement.test_scenario import april  # noqa: F401  (fixture)
from tests.web.test_overview_pages import alert
from traceability.i18n import format_money, format_number
from traceability.models import AlertKind, AlertStatus, Member, Role, Sale, Shipment, ShipmentStatus
from traceability.models.base import utcnow

EN = {"Accept": "text/html", "Accept-Language": "en"}
ZH = {"Accept": "text/html", "Accept-Language": "zh-CN"}


def _pager(html: str, testid: str = "pager") -> dict[str, int]:
    found = re.search(rf'data-testid="{testid}" data-total="(\d+)" data-first="(\d+)" data-last="(\d+)" '
                      r'data-page="(\d+)" data-pages="(\d+)"', html)  # fmt: skip
    assert found, f"no {testid}"
    return dict(zip(("total", "first", "last", "page", "pages"), map(int, found.groups()), strict=True))


def _next(html: str, base: str) -> set[str]:
    """The parameters of the pager's link to the next page."""
    found = re.search(rf'href="{base}\?([^"]+)" rel="next"', html)
    assert found, "no next link"
    return set(found.group(1).replace("&amp;", "&").split("&"))


def test_the_receiving_list_pages_past_fifty_with_its_total_and_search(client: TestClient, session: Session) -> None:
    seed_masterdata(session)
    now = utcnow()
    for i in range(57):
        session.add(Shipment(party_id="PLANT-1", destination_id="D-GZ", status=ShipmentStatus.closed,
                             opened_at=now - timedelta(minutes=i), closed_at=now - timedelta(minutes=i),
                             order_ref=f"PO-{i:03d}", received_at=now if i < 4 else None))  # fmt: skip
    session.add(Shipment(party_id="PLANT-1", destination_id="D-GZ", status=ShipmentStatus.open))  # not shipped yet
    session.add(Shipment(party_id="PLANT-1", destination_id="D-NJ", status=ShipmentStatus.closed))  # another's
    session.flush()
    ids = set(session.exec(select(Shipment.id).where(Shipment.destination_id == "D-GZ",
                                                     Shipment.status == ShipmentStatus.closed)).all())  # fmt: skip
    headers = auth(api_key(session, Role.distributor))
    first = client.get("/app/receiving", headers={**EN, **headers}).text
    assert _pager(first) == {"total": 57, "first": 1, "last": 50, "page": 1, "pages": 2}
    assert "1–50 of 57" in first
    shown = [int(i) for i in re.findall(r'<li data-shipment="(\d+)">', first)]
    assert len(shown) == 50
    second = client.get("/app/receiving?page=2", headers={**EN, **headers}).text
    more = [int(i) for i in re.findall(r'<li data-shipment="(\d+)">', second)]
    assert _pager(second)["first"] == 51 and len(more) == 7 and set(shown) | set(more) == ids
    assert "第 1–50 条，共 57 条" in client.get("/app/receiving", headers={**ZH, **headers}).text
    # the search narrows (an order reference, the sender's name), the state filters, and both survive the links
    assert _pager(client.get("/app/receiving?q=PO-01", headers={**EN, **headers}).text)["total"] == 10
    assert _pager(client.get("/app/receiving?q=Plant%201", headers={**EN, **headers}).text)["total"] == 57
    assert _pager(client.get("/app/receiving?state=received", headers={**EN, **headers}).text)["total"] == 4
    awaiting = client.get("/app/receiving?state=awaiting&size=20", headers={**EN, **headers}).text
    assert _pager(awaiting) == {"total": 53, "first": 1, "last": 20, "page": 1, "pages": 3}
    assert _next(awaiting, "/app/receiving") == {"state=awaiting", "page=2", "size=20"}
    bad = client.get("/app/receiving?state=lost", headers={**EN, **headers})
    assert bad.status_code == 422 and "lost" in bad.text and "Traceback" not in bad.text


def test_a_stores_members_page_with_a_search(client: TestClient, session: Session) -> None:
    seed_masterdata(session)
    start = datetime(2026, 5, 1, tzinfo=UTC)
    for i in range(63):
        session.add(Member(phone_hash=f"{i:064x}", home_store_id="S-GZ-1", name=("王" if i % 3 == 0 else "李") + str(i),
                           source="import" if i < 5 else "pos", created_at=start + timedelta(hours=i)))  # fmt: skip
    session.add(Member(phone_hash="f" * 64, home_store_id="S-NJ-1", name="王 NJ"))  # another store's
    session.flush()
    headers = auth(api_key(session, Role.store))
    first = client.get("/app/store", headers={**EN, **headers}).text
    assert _pager(first) == {"total": 63, "first": 1, "last": 50, "page": 1, "pages": 2}
    assert 'data-testid="members-total">63 in all<' in first
    rows = re.findall(r'<tr data-member="(\d+)">', first)
    assert len(rows) == 50
    second = client.get("/app/store?page=2", headers={**EN, **headers}).text
    assert len(re.findall(r'<tr data-member="(\d+)">', second)) == 13 and _pager(second)["page"] == 2
    wang = client.get("/app/store?q=%E7%8E%8B&size=20", headers={**EN, **headers}).text  # 王
    assert _pager(wang) == {"total": 21, "first": 1, "last": 20, "page": 1, "pages": 2}
    assert "王 NJ" not in wang and 'data-testid="members-total">63 in all<' in wang  # the store's total stays
    assert _next(wang, "/app/store") == {"q=%E7%8E%8B", "page=2", "size=20"}
    assert _pager(client.get("/app/store?q=import", headers={**EN, **headers}).text)["total"] == 5
    one = session.exec(select(Member.id).where(Member.name == "李7")).one()
    assert _pager(client.get(f"/app/store?q={one}", headers={**EN, **headers}).text)["total"] >= 1
    # the API takes the same search, scoped the same way
    api = client.get("/api/v1/members?q=%E7%8E%8B&limit=5", headers=headers)
    assert api.headers["x-total-count"] == "21" and len(api.json()) == 5 and "q=" in api.headers["link"]


def test_a_statements_alerts_page_with_a_search_and_a_status(client: TestClient, session: Session) -> None:
    seed_masterdata(session)
    nanjing = [alert(session, AlertKind.out_of_territory, party="S-NJ-1", distributor="D-GZ", days_ago=i / 10000)
               for i in range(54)]  # fmt: skip
    for i in range(4):
        alert(session, AlertKind.unauthorized_channel, party="S-GZ-1", distributor="D-GZ",
              status=AlertStatus.dismissed, days_ago=i / 10000)  # fmt: skip
    alert(session, AlertKind.out_of_territory, party="S-NJ-1", distributor="D-NJ")  # another distributor's
    headers = auth(api_key(session, Role.distributor))
    first = client.get("/app/statement", headers={**EN, **headers}).text
    assert _pager(first) == {"total": 58, "first": 1, "last": 50, "page": 1, "pages": 2}
    table = first.split('data-testid="statement-alerts"')[1].split("</table>")[0]
    assert len(re.findall(r"<tr data-alert=", table)) == 50
    period = re.search(r'data-testid="statement" data-party="D-GZ" data-period="([^"]+)"', first)
    assert period and _next(first, "/app/statement") == {f"period={period.group(1)}", "page=2"}
    second = client.get(f"/app/statement?period={period.group(1)}&page=2", headers={**EN, **headers}).text
    assert len(re.findall(r"<tr data-alert=", second.split('data-testid="statement-alerts"')[1])) == 8
    assert _pager(client.get("/app/statement?status=dismissed", headers={**EN, **headers}).text)["total"] == 4
    assert _pager(client.get("/app/statement?q=Store%20NJ", headers={**EN, **headers}).text)["total"] == 54
    by_number = client.get(f"/app/statement?q={nanjing[3].id}", headers={**EN, **headers}).text
    assert f'<tr data-alert="{nanjing[3].id}">' in by_number
    bad = client.get("/app/statement?status=lost", headers={**ZH, **headers})
    assert bad.status_code == 422 and "lost" in bad.text and "Traceback" not in bad.text


def _more_stores(session: Session, n: int) -> None:
    """``n`` more stores that sold one unit of P1 in April 2026 (sale rows on a stored sale event)."""
    sale = session.exec(select(Sale).where(col(Sale.counted).is_(True))).first()
    assert sale is not None
    for i in range(n):
        session.add(Sale(unit_key=f"X{i}", gtin=P1, store_id=f"S-X-{i:02d}", event_pk=sale.event_pk,
                         event_id=f"urn:uuid:x-{i}", event_time=datetime(2026, 4, 15, tzinfo=UTC), counted=True))
    session.flush()


def test_the_settlement_pages_its_store_lines_and_finds_a_store(client: TestClient, session: Session,
                                                                april) -> None:  # noqa: F811  # fmt: skip
    _more_stores(session, 60)
    headers = {**EN, **auth(api_key(session, Role.finance))}
    first = client.get("/app/settlement?period=2026-04", headers=headers).text
    assert _pager(first) == {"total": 62, "first": 1, "last": 50, "page": 1, "pages": 2}
    shown = re.findall(r'<tr data-party="(S-[^"]+)">', first)
    assert len(shown) == 50 and "more stores in the downloaded reports" not in first
    assert _next(first, "/app/settlement") == {"period=2026-04", "page=2"}
    second = client.get("/app/settlement?period=2026-04&page=2", headers=headers).text
    rest = re.findall(r'<tr data-party="(S-[^"]+)">', second)
    assert len(rest) == 12 and set(shown) | set(rest) == {"S-GZ-1", "S-NJ-1"} | {f"S-X-{i:02d}" for i in range(60)}
    found = client.get("/app/settlement?period=2026-04&q=store%20nj", headers=headers).text  # a name, any case
    assert _pager(found)["total"] == 1 and re.findall(r'<tr data-party="(S-[^"]+)">', found) == ["S-NJ-1"]
    assert _pager(client.get("/app/settlement?period=2026-04&q=S-X-1", headers=headers).text)["total"] == 10
    assert 'data-testid="distributor-lines"' in found  # the search narrows the stores, not the period


def test_settlement_figures_are_money_in_the_pages_language(client: TestClient, session: Session,
                                                            april) -> None:  # noqa: F811  # fmt: skip
    finance = auth(api_key(session, Role.finance))
    result = client.get("/api/v1/settlement/2026-04", headers=finance).json()
    gz = next(d for d in result["distributors"] if d["party"] == "D-GZ")
    total = result["totals"][0]
    assert gz["purchase_value"] == "5360.00"  # big enough to be grouped
    for lang, headers in (("en", EN), ("zh-CN", ZH)):
        html = client.get("/app/settlement?period=2026-04", headers={**headers, **finance}).text
        row = html.split('<tr data-party="D-GZ">')[1].split("</tr>")[0]
        value = format_money(gz["purchase_value"], "CNY", lang)
        assert "5,360.00" in value and f">{value}<" in row and ">5360.00<" not in html
        assert f">{format_money(gz['rebate'], 'CNY', lang)}<" in row
        assert f">{format_number(gz['units_purchased'], lang)}<" in row
        for key in ("rebates", "fees", "adjustments", "payable"):
            shown = re.search(rf'data-testid="{key}" data-amount="([^"]+)">([^<]+)<', html)
            assert shown and shown.groups() == (total[key], format_money(total[key], "CNY", lang)), key
    assert "¥5,360.00" in client.get("/app/settlement?period=2026-04", headers={**ZH, **finance}).text
