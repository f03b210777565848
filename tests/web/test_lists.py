"""Lists that scale: the alert queue pages with its total, searches and filters (kept in the query string), names
territories and parties, and changes ticked alerts in bulk, one note each, all or nothing."""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from sqlmodel import Session, col, func, select

from codes.service import key_store
from labels import service as labels
from tests.factories import GTIN, api_key, seed_masterdata
from tests.web.helpers import make_codes
from tests.web.test_overview_pages import alert
from traceability.models import Alert, AlertKind, AlertNote, AlertStatus, CodeLevel, Role, Shipment, ShipmentStatus
from traceability.models.base import utcnow
from traceability.settings import Settings
from web.listing import DEFAULT_SIZE, SIZES, pager

HTML = {"Accept": "text/html", "Accept-Language": "en"}


def _sign_in(client: TestClient, session: Session, role: Role) -> None:
    resp = client.post("/login", data={"key": api_key(session, role).token}, headers=HTML, follow_redirects=False)
    assert resp.status_code == 303


def _pager(html: str) -> dict[str, int]:
    found = re.search(r'data-testid="pager" data-total="(\d+)" data-first="(\d+)" data-last="(\d+)" '
                      r'data-page="(\d+)" data-pages="(\d+)"', html)  # fmt: skip
    assert found, "no pager"
    return dict(zip(("total", "first", "last", "page", "pages"), map(int, found.groups()), strict=True))


def _shown(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'<tr data-kind="[^"]+" data-alert="(\d+)"', html)]


@given(total=st.integers(0, 5000), size=st.integers(1, SIZES[-1]), page=st.integers(-3, 400))
def test_a_pager_covers_the_list_exactly(total: int, size: int, page: int) -> None:
    p = pager(page=page, size=size, total=total)
    assert 1 <= p.page <= p.pages
    assert (p.pages - 1) * size < max(total, 1) <= p.pages * size or total == 0
    shown = p.last - p.first + 1 if total else p.last - p.first
    assert shown == (min(size, total - p.offset) if total else 0) and shown >= 0
    assert p.offset == (p.page - 1) * size
    assert "page=" not in p.query(page=1)
    assert ("size=" in p.query()) == (size != DEFAULT_SIZE)


def test_the_queue_pages_with_its_total_and_keeps_its_filters(client: TestClient, session: Session) -> None:
    seed_masterdata(session)
    nanjing = [alert(session, AlertKind.out_of_territory, party="S-NJ-1", distributor="D-GZ", territory="CN-32-01",
                     days_ago=i / 100) for i in range(57)]  # fmt: skip
    guangzhou = [alert(session, AlertKind.unauthorized_channel, party="S-GZ-1", distributor="D-NJ",
                       territory="CN-44-01", days_ago=1 + i / 100) for i in range(5)]  # fmt: skip
    _sign_in(client, session, Role.auditor)
    first = client.get("/app/alerts", headers=HTML).text
    assert _pager(first) == {"total": 62, "first": 1, "last": 50, "page": 1, "pages": 2}
    assert "1–50 of 62" in first and len(_shown(first)) == 50
    assert "第 1–50 条，共 62 条" in client.get("/app/alerts", headers={"Accept": "text/html"}).text
    second = client.get("/app/alerts?page=2", headers=HTML).text
    assert _pager(second)["first"] == 51 and len(_shown(second)) == 12
    assert set(_shown(first)) | set(_shown(second)) == {a.id for a in nanjing + guangzhou}
    # the filters narrow the total and survive the page links
    page = client.get("/app/alerts?kind=out_of_territory&size=20", headers=HTML).text
    assert _pager(page) == {"total": 57, "first": 1, "last": 20, "page": 1, "pages": 3}
    nxt = re.search(r'href="/app/alerts\?([^"]+)" rel="next"', page)
    assert nxt and set(nxt.group(1).replace("&amp;", "&").split("&")) == {"kind=out_of_territory", "page=2", "size=20"}
    # a territory is chosen and shown by name; a distributor by name; a search finds a party by its name
    by_place = client.get("/app/alerts?territory=CN-44", headers=HTML).text
    assert _pager(by_place)["total"] == 5 and "广州市 Guangzhou" in by_place and ">510" not in by_place
    assert re.search(r'<td data-territory="CN-44-01">广州市 Guangzhou</td>', by_place)
    assert '<option value="CN-44-01">广州市 Guangzhou</option>' in by_place
    assert _pager(client.get("/app/alerts?distributor=D-NJ", headers=HTML).text)["total"] == 5
    assert _pager(client.get("/app/alerts?q=Store%20NJ", headers=HTML).text)["total"] == 57
    assert _pager(client.get(f"/app/alerts?q={guangzhou[0].id}", headers=HTML).text)["total"] >= 1
    assert _pager(client.get("/app/alerts?q=100%25", headers=HTML).text)["total"] == 0  # % is literal
    # past the last page: the last page, not an empty one
    assert _pager(client.get("/app/alerts?page=99", headers=HTML).text)["page"] == 2


def test_bad_list_parameters_are_named_not_a_500(client: TestClient, session: Session) -> None:
    seed_masterdata(session)
    _sign_in(client, session, Role.auditor)
    for query in ("kind=nonsense", "page=0", "size=100000", "status=lost"):
        resp = client.get(f"/app/alerts?{query}", headers=HTML)
        assert resp.status_code == 422, query
        assert "Traceback" not in resp.text
    _sign_in(client, session, Role.distributor)
    for query in ("to=9999-12-31", "from=2026-02-30", "to=tomorrow"):  # the calendar's end; no such day
        resp = client.get(f"/app/shipments?{query}", headers=HTML)
        assert resp.status_code == 422, query
        assert "Traceback" not in resp.text


def _notes(session: Session, alert_id: int | None) -> list[AlertNote]:
    return list(session.exec(select(AlertNote).where(AlertNote.alert_id == alert_id).order_by(col(AlertNote.id))))


def _statuses(session: Session) -> dict[int | None, str]:
    session.expire_all()
    return {a.id: str(a.status) for a in session.exec(select(Alert))}


def _note_count(session: Session) -> int:
    return int(session.exec(select(func.count()).select_from(AlertNote)).one())


def test_bulk_change_moves_exactly_the_ticked_alerts_with_one_note_each(client: TestClient, session: Session) -> None:
    seed_masterdata(session)
    rows = [alert(session, AlertKind.out_of_territory, party="S-NJ-1", distributor="D-GZ") for _ in range(4)]
    _sign_in(client, session, Role.auditor)
    picked = [rows[0].id, rows[2].id]
    resp = client.post("/app/alerts/bulk", data={"ids": picked, "status": "investigating", "note": "called them",
                                                  "back": "?kind=out_of_territory"},
                       headers=HTML, follow_redirects=False)  # fmt: skip
    assert resp.status_code == 303 and resp.headers["location"] == "/app/alerts?kind=out_of_territory&done=2"
    after = _statuses(session)
    assert [after[a.id] for a in rows] == ["investigating", "open", "investigating", "open"]
    for a in rows:
        notes = _notes(session, a.id)
        if a.id in picked:
            [note] = notes
            assert (note.action, note.from_status, note.to_status, note.text) == ("status", "open", "investigating",
                                                                                 "called them")  # fmt: skip
            assert note.author == "auditor:AUD"
        else:
            assert notes == []
    page = client.get(resp.headers["location"], headers=HTML).text
    assert 'data-testid="bulk-done"' in page and "2 alert(s) changed" in page


def test_bulk_change_is_all_or_nothing(client: TestClient, session: Session) -> None:
    seed_masterdata(session)
    rows = [alert(session, AlertKind.out_of_territory, party="S-NJ-1", distributor="D-GZ") for _ in range(2)]
    closed = alert(session, AlertKind.out_of_territory, party="S-NJ-1", distributor="D-GZ",
                   status=AlertStatus.withdrawn)  # fmt: skip
    _sign_in(client, session, Role.auditor)
    before, notes = _statuses(session), _note_count(session)
    # an id that does not exist, beside real ones: refused, nothing written
    missing = client.post("/app/alerts/bulk", data={"ids": [rows[0].id, 999_999], "status": "investigating"},
                          headers=HTML)  # fmt: skip
    assert missing.status_code == 404 and "999999" in missing.text and "nothing was changed" in missing.text
    # a step the workflow does not allow for one of them (withdrawn is the system's): refused, nothing written
    stuck = client.post("/app/alerts/bulk", data={"ids": [rows[1].id, closed.id], "status": "confirmed"},
                        headers=HTML)  # fmt: skip
    assert stuck.status_code == 409 and str(closed.id) in stuck.text
    zh = client.post("/app/alerts/bulk", data={"ids": [closed.id], "status": "open"},
                     headers={"Accept": "text/html", "Accept-Language": "zh-CN"})  # fmt: skip
    assert zh.status_code == 409 and "未做任何更改" in zh.text
    # nothing ticked, or no status: a clear refusal
    assert client.post("/app/alerts/bulk", data={"status": "open"}, headers=HTML).status_code == 422
    assert client.post("/app/alerts/bulk", data={"ids": [rows[0].id]}, headers=HTML).status_code == 422
    assert client.post("/app/alerts/bulk", data={"ids": ["x"], "status": "open"}, headers=HTML).status_code == 422
    assert _statuses(session) == before and _note_count(session) == notes


def test_bulk_change_is_refused_to_a_distributor_and_across_sites(client: TestClient, session: Session) -> None:
    seed_masterdata(session)
    mine = alert(session, AlertKind.out_of_territory, party="S-NJ-1", distributor="D-GZ")  # names the distributor
    before, notes = _statuses(session), _note_count(session)
    _sign_in(client, session, Role.distributor)
    own = client.post("/app/alerts/bulk", data={"ids": [mine.id], "status": "dismissed", "note": "not us"},
                      headers=HTML)  # fmt: skip
    assert own.status_code == 403
    client.cookies.clear()
    _sign_in(client, session, Role.auditor)
    for headers in ({"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"},
                    {"Referer": "https://evil.example/page"}):  # fmt: skip
        forged = client.post("/app/alerts/bulk", data={"ids": [mine.id], "status": "investigating"},
                             headers={**HTML, **headers})  # fmt: skip
        assert forged.status_code == 403, headers
    # the same form from the site itself goes through (the refusals above were for where it came from)
    ok = client.post("/app/alerts/bulk", data={"ids": [mine.id], "status": "investigating"},
                     headers={**HTML, "Origin": "http://testserver"}, follow_redirects=False)  # fmt: skip
    assert ok.status_code == 303
    after = _statuses(session)
    assert {k: v for k, v in after.items() if k != mine.id} == {k: v for k, v in before.items() if k != mine.id}
    assert after[mine.id] == "investigating" and _note_count(session) == notes + 1


def test_the_queue_offers_select_all_and_the_bulk_form(client: TestClient, session: Session) -> None:
    seed_masterdata(session)
    alert(session, AlertKind.out_of_territory, party="S-NJ-1", distributor="D-GZ")
    _sign_in(client, session, Role.auditor)
    page = client.get("/app/alerts?kind=out_of_territory", headers=HTML).text
    assert 'id="select-page"' in page and 'name="ids"' in page and 'action="/app/alerts/bulk"' in page
    assert 'name="back" value="?kind=out_of_territory"' in page


def test_the_shipments_and_print_jobs_lists_page_and_filter(client: TestClient, session: Session,
                                                            settings: Settings) -> None:  # fmt: skip
    seed_masterdata(session)
    now = utcnow()
    for i in range(23):
        session.add(Shipment(party_id="D-GZ", destination_id="S-GZ-1", opened_at=now - timedelta(minutes=i),
                             status=ShipmentStatus.closed if i % 2 else ShipmentStatus.open))  # fmt: skip
    session.add(Shipment(party_id="D-GZ", destination_id="S-NJ-1", opened_at=now - timedelta(days=40),
                         order_ref="PO-OLD-7"))  # fmt: skip
    session.add(Shipment(party_id="D-NJ", destination_id="S-NJ-1", opened_at=now))  # another party's
    session.flush()
    _sign_in(client, session, Role.distributor)
    page = client.get("/app/shipments?size=20", headers=HTML).text
    assert _pager(page) == {"total": 24, "first": 1, "last": 20, "page": 1, "pages": 2}
    assert len(re.findall(r"<tr data-shipment=", page)) == 20
    assert _pager(client.get("/app/shipments?status=open", headers=HTML).text)["total"] == 13
    assert _pager(client.get("/app/shipments?status=closed&size=20", headers=HTML).text)["total"] == 11
    old = (now - timedelta(days=40)).date()
    window = f"from={(old - timedelta(days=1)).isoformat()}&to={(old + timedelta(days=1)).isoformat()}"
    assert _pager(client.get(f"/app/shipments?{window}", headers=HTML).text)["total"] == 1
    found = client.get("/app/shipments?q=Store%20NJ", headers=HTML).text  # the destination's name
    assert _pager(found)["total"] == 1 and "Store NJ 1" in found
    assert _pager(client.get("/app/shipments?q=po-old", headers=HTML).text)["total"] == 1
    nxt = re.search(r'href="/app/shipments\?([^"]+)" rel="next"', client.get("/app/shipments?status=open&size=5",
                                                                            headers=HTML).text)  # fmt: skip
    assert nxt and set(nxt.group(1).replace("&amp;", "&").split("&")) == {"status=open", "page=2", "size=5"}
    bad = client.get("/app/shipments?from=yesterday", headers=HTML)
    assert bad.status_code == 422 and "yesterday" in bad.text and "year-month-day" in bad.text
    assert client.get("/app/shipments?status=lost", headers=HTML).status_code == 422
    # the plant's print jobs
    client.cookies.clear()
    make_codes(session, key_store(settings), 1)
    template = next(t.id for t in labels.list_templates() if CodeLevel.unit in t.levels)
    jobs = [labels.create_job(session=session, store=key_store(settings), party_id="PLANT-1", gtin=GTIN,
                              lot=f"L{i}", expiry=None, quantity=1, level=CodeLevel.unit, template=template, by="t")
            for i in range(7)]  # fmt: skip
    _sign_in(client, session, Role.plant)
    listed = client.get("/app/print-jobs?size=5", headers=HTML).text
    assert _pager(listed) == {"total": 7, "first": 1, "last": 5, "page": 1, "pages": 2}
    assert "婴儿配方奶粉" in listed  # the product's name, not only its GTIN
    assert _pager(client.get("/app/print-jobs?q=L3", headers=HTML).text)["total"] == 1
    assert _pager(client.get(f"/app/print-jobs?q={jobs[0].id}", headers=HTML).text)["total"] >= 1
    assert _pager(client.get("/app/print-jobs?status=printed", headers=HTML).text)["total"] == 0
    assert client.get("/app/print-jobs?status=burnt", headers=HTML).status_code == 422
