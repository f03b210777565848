"""The overview of each role (``/app/overview``): its figures equal a hand count on a small seeded network, and a
partner's overview counts only what names it."""

from __future__ import annotations

import re
from datetime import timedelta
from itertools import count

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from codes.service import key_store
from labels import service as labels
from rebates.policy import load_policy
from tests.factories import GTIN, api_key, seed_masterdata
from tests.web.helpers import at_distributor, make_codes, scan
from traceability.auth.service import Principal
from traceability.models import (
    Alert,
    AlertKind,
    AlertStatus,
    Code,
    CodeLevel,
    CodeStatus,
    Member,
    Role,
    Shipment,
    ShipmentStatus,
    Task,
)
from traceability.models.base import utcnow
from traceability.settings import Settings
from web import overview

HTML = {"Accept": "text/html", "Accept-Language": "en"}
_units = count(1)


def _sign_in(client: TestClient, session: Session, role: Role, party: str | None = None) -> None:
    resp = client.post("/login", data={"key": api_key(session, role, party).token}, headers=HTML,
                       follow_redirects=False)  # fmt: skip
    assert resp.status_code == 303, resp.text


def alert(session: Session, kind: AlertKind, *, party: str | None = None, distributor: str | None = None,
          territory: str | None = None, status: AlertStatus = AlertStatus.open,
          days_ago: float = 0) -> Alert:  # fmt: skip
    """An alert row as the rules would raise it (each on its own unit)."""
    n = next(_units)
    row = Alert(kind=kind, unit_key=f"sgtin:{GTIN}.T{n}", epc=f"urn:epc:id:sgtin:690123.4000010.T{n}",
                party_id=party, responsible_distributor_id=distributor, territory_id=territory, status=status,
                first_seen=utcnow() - timedelta(days=days_ago), last_seen=utcnow())  # fmt: skip
    session.add(row)
    session.flush()
    return row


def figures(html: str, testid: str) -> dict[str, int]:
    """The rows (data-key → data-n) of the table ``testid`` on a page."""
    table = re.search(rf'data-testid="{testid}"(.*?)</table>', html, re.S)
    assert table, f"no table {testid}"
    return {k: int(n) for k, n in re.findall(r'data-key="([^"]*)" data-n="(\d+)"', table.group(1))}


def figure(html: str, testid: str) -> int:
    found = re.search(rf'data-testid="{testid}" data-n="(\d+)"', html)
    assert found, f"no figure {testid}"
    return int(found.group(1))


def test_every_role_lands_on_its_overview_first_in_the_header(client: TestClient, session: Session) -> None:
    seed_masterdata(session)
    for role in Role:
        client.cookies.clear()
        resp = client.post("/login", data={"key": api_key(session, role).token}, headers=HTML, follow_redirects=False)
        assert resp.headers["location"] == "/app/overview", role
        assert client.get("/", follow_redirects=False).headers["location"] == "/app/overview"
        page = client.get("/app/overview", headers=HTML)
        assert page.status_code == 200, (role, page.text[:500])
        assert f'data-role="{role.value}"' in page.text
        nav = re.search(r"<nav>(.*?)</nav>", page.text, re.S)
        assert nav and nav.group(1).strip().startswith('<a href="/app/overview"'), role
        zh = client.get("/app/overview", headers={"Accept": "text/html", "Accept-Language": "zh-CN"})
        assert "概览" in zh.text


def test_distributor_overview_counts_its_own_day(client: TestClient, session: Session, settings: Settings) -> None:
    seed_masterdata(session)
    now = utcnow()
    for status, opened in [(ShipmentStatus.open, now), (ShipmentStatus.open, now), (ShipmentStatus.closed, now),
                           (ShipmentStatus.open, now - timedelta(days=3))]:  # fmt: skip
        session.add(Shipment(party_id="D-GZ", destination_id="S-GZ-1", status=status, opened_at=opened))
    session.add(Shipment(party_id="D-NJ", destination_id="S-NJ-1", opened_at=now))  # another party's: not counted
    alert(session, AlertKind.out_of_territory, party="S-NJ-1", distributor="D-GZ", territory="CN-32-01")
    alert(session, AlertKind.out_of_territory, party="S-NJ-1", distributor="D-GZ", territory="CN-32-01")
    alert(session, AlertKind.holder_mismatch, party="D-GZ", territory="CN-44-01", status=AlertStatus.investigating)
    alert(session, AlertKind.out_of_territory, party="S-NJ-1", distributor="D-GZ", status=AlertStatus.confirmed)
    alert(session, AlertKind.clone_suspected, party="S-GZ-1", distributor="D-NJ")  # names D-NJ only
    codes = make_codes(session, key_store(settings), 3)
    at_distributor(session, codes)  # three units bought this month
    _sign_in(client, session, Role.distributor)
    html = client.get("/app/overview", headers=HTML).text
    assert figures(html, "ships-table") == {"open": 2, "closed": 1, "cancelled": 0}
    assert figure(html, "ships-today") == 3 and figure(html, "open-shipments") == 3
    assert figures(html, "warnings-table") == {"out_of_territory": 2, "holder_mismatch": 1}
    assert figure(html, "warnings") == 3
    assert re.search(r'data-testid="units-purchased">3<', html)
    policy = load_policy(settings.policy_file)
    f = overview.distributor_figures(session=session, principal=Principal(role=Role.distributor, party_id="D-GZ"),
                                     policy=policy)  # fmt: skip
    assert f.line is not None and f.line.units_purchased == 3


def test_auditor_overview_names_distributors_and_territories(client: TestClient, session: Session) -> None:
    seed_masterdata(session)
    alert(session, AlertKind.out_of_territory, party="S-NJ-1", distributor="D-GZ", territory="CN-32-01")
    alert(session, AlertKind.out_of_territory, party="S-NJ-1", distributor="D-GZ", territory="CN-32-01", days_ago=8)
    alert(session, AlertKind.unauthorized_channel, party="S-GZ-1", distributor="D-NJ", territory="CN-44-01",
          status=AlertStatus.unverified, days_ago=15)  # fmt: skip
    alert(session, AlertKind.counterfeit_suspected, party="S-GZ-1", territory="CN-44-01", days_ago=120)
    alert(session, AlertKind.out_of_territory, party="S-NJ-1", distributor="D-GZ", territory="CN-32-01",
          status=AlertStatus.dismissed)  # not open: only in the weekly trend  # fmt: skip
    alert(session, AlertKind.out_of_territory, party="S-NJ-1", distributor="D-GZ", status=AlertStatus.withdrawn)
    _sign_in(client, session, Role.auditor)
    html = client.get("/app/overview", headers=HTML).text
    assert figure(html, "open-alerts") == 4
    by_kind = figures(html, "kind-table")
    assert by_kind == {"out_of_territory": 2, "unauthorized_channel": 1, "counterfeit_suspected": 1,
                       "clone_suspected": 0, "holder_mismatch": 0}  # fmt: skip
    assert figures(html, "distributor-table") == {"D-GZ": 2, "D-NJ": 1, "": 1}
    assert figures(html, "territory-table") == {"CN-32-01": 2, "CN-44-01": 2}
    # names, not codes: the territory's and the distributor's names are what the rows say
    assert "南京市 Nanjing" in html and "广州市 Guangzhou" in html and "广州经销商" in html
    weeks = list(figures(html, "week-table").values())
    assert len(weeks) == overview.WEEKS and sum(weeks) == 4  # 120 days ago is outside, withdrawn is left out
    assert weeks[-1] == figure(html, "this-week")


def test_finance_overview_names_the_next_period_to_lock(client: TestClient, session: Session,
                                                         settings: Settings) -> None:  # fmt: skip
    seed_masterdata(session)
    _sign_in(client, session, Role.finance)
    html = client.get("/app/overview", headers=HTML).text
    periods = dict(re.findall(r'data-key="(\d{4}-\d{2})" data-status="(\w+)"', html))
    current = re.search(r'data-testid="current" data-period="([^"]+)"', html).group(1)  # type: ignore[union-attr]
    ended = sorted(p for p, s in periods.items() if s == "open" and p < current)
    assert periods[current] == "open" and len(periods) == 12  # nothing locked: the last twelve months are open
    assert re.search(r'data-testid="next-to-lock" data-period="([^"]*)"', html).group(1) == ended[0]  # type: ignore[union-attr]
    assert f'data-testid="totals" data-period="{ended[0]}"' in html


def test_plant_overview_counts_jobs_and_loose_labels(client: TestClient, session: Session, settings: Settings) -> None:
    seed_masterdata(session)
    make_codes(session, key_store(settings), 1)  # the signing key
    template = next(t.id for t in labels.list_templates() if CodeLevel.unit in t.levels)
    jobs = [labels.create_job(session=session, store=key_store(settings), party_id="PLANT-1", gtin=GTIN, lot=None,
                              expiry=None, quantity=5, level=CodeLevel.unit, template=template, by="test")
            for _ in range(2)]  # fmt: skip
    fates = [CodeStatus.printed, CodeStatus.printed, CodeStatus.commissioned, CodeStatus.voided, CodeStatus.generated]
    codes = session.exec(select(Code).where(Code.batch_id == jobs[0].batch_id).order_by(col(Code.id))).all()
    for code, fate in zip(codes, fates, strict=True):
        code.status = fate
        session.add(code)
    session.flush()
    _sign_in(client, session, Role.plant)
    html = client.get("/app/overview", headers=HTML).text
    assert figures(html, "jobs-table") == {"created": 2, "printed": 0, "closed": 0}
    assert figure(html, "loose") == 2  # two printed labels neither applied nor voided; job 2 was never printed
    assert figures(html, "gaps-table") == {str(jobs[0].id): 2}
    row = re.search(rf'data-key="{jobs[0].id}" data-n="2">(.*?)</tr>', html, re.S).group(1)  # type: ignore[union-attr]
    assert re.findall(r'class="num">(\d+)<', row) == ["4", "2", "2"]  # printed, accounted, loose
    # another plant sees none of it
    other = overview.plant_figures(session=session, principal=Principal(role=Role.plant, party_id="PLANT-2"))
    assert other.jobs == {} and other.loose == 0


def test_store_overview_counts_todays_sales_and_calls(client: TestClient, session: Session,
                                                      settings: Settings) -> None:  # fmt: skip
    seed_masterdata(session)
    codes = make_codes(session, key_store(settings), 3)
    at_distributor(session, codes)
    scan(session, "shipping", "D-GZ", codes, destination="S-GZ-1")
    scan(session, "receiving", "S-GZ-1", codes)
    scan(session, "retail_selling", "S-GZ-1", codes[:2])
    policy = load_policy(settings.policy_file)
    day, _, _ = overview.day_bounds(policy)
    members = [Member(phone_hash=c * 64, home_store_id="S-GZ-1") for c in "hk"]
    session.add_all(members)
    session.flush()
    one, two = (m.id for m in members)
    assert one is not None and two is not None
    for member, kind, opens, status in [(one, "follow_up", day, "open"),
                                        (one, "replenish", day - timedelta(days=2), "open"),
                                        (two, "follow_up", day, "reached"),
                                        (two, "replenish", day + timedelta(days=1), "open")]:  # fmt: skip
        session.add(Task(member_id=member, store_id="S-GZ-1", kind=kind, opens=opens, due=day + timedelta(days=2),
                         reason="x", basis=day, status=status))  # fmt: skip
    session.flush()
    _sign_in(client, session, Role.store)
    html = client.get("/app/overview", headers=HTML).text
    assert figure(html, "sold-today") == 2
    tasks = figures(html, "tasks-table")
    assert tasks["open"] == 2 and tasks["reached"] == 1
    assert sum(tasks.values()) == 3  # tomorrow's is not on today's list
    assert figure(html, "tasks-open") == 2
    assert sum(figures(html, "sales-table").values()) == 2


def test_admin_overview_summarises_the_network(client: TestClient, session: Session) -> None:
    seed_masterdata(session)
    alert(session, AlertKind.out_of_territory, party="S-NJ-1", distributor="D-GZ")
    alert(session, AlertKind.out_of_territory, party="S-NJ-1", distributor="D-GZ", status=AlertStatus.dismissed)
    _sign_in(client, session, Role.admin)
    html = client.get("/app/overview", headers=HTML).text
    assert figures(html, "parties-table") == {"auditor": 1, "brand": 1, "distributor": 2, "plant": 1, "store": 2,
                                              "warehouse": 1}  # fmt: skip
    assert figure(html, "keys-active") == 1 and figure(html, "open-alerts") == 1


@pytest.mark.parametrize("role", [Role.distributor, Role.store, Role.plant])
def test_a_partners_overview_never_counts_another_partys(client: TestClient, session: Session, role: Role) -> None:
    seed_masterdata(session)
    alert(session, AlertKind.out_of_territory, party="S-NJ-1", distributor="D-NJ")  # names neither D-GZ nor S-GZ-1
    _sign_in(client, session, role)
    html = client.get("/app/overview", headers=HTML).text
    assert "南京经销商" not in html and "S-NJ-1" not in html
    if role is Role.distributor:
        assert figure(html, "warnings") == 0
