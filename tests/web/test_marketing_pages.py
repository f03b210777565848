"""The brand's marketing page (issue 14, "Pages"): on a small seeded network every figure on the page is the
service's, and a hand count; a store's, a distributor's or a plant's key is refused with a page in its language;
the prospects table pages by 20 with its total and finds a store by name or id; the downloads are the services'
rows with the headers in the page's language. Everything through the ASGI app with real rows."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlmodel import Session, select

from crm.campaigns import campaign_return, create_campaign, source_return
from crm.points import grant_points, top_members
from crm.prospects import hand_in, prospect_report
from crm.segments import segment_summary
from crm.tasks import generate_tasks, record_outcome, task_effect
from rebates.policy import Policy, load_policy
from tests.crm.helpers import ADMIN, Shop, seed
from tests.factories import api_key
from tests.members.helpers import GZ
from traceability.auth.service import Principal
from traceability.errors import Forbidden
from traceability.gs1 import with_check_digit
from traceability.masterdata.service import import_masterdata
from traceability.models import Role, Task
from traceability.privacy import member_hash
from traceability.settings import Settings
from web import marketing_pages
from web.charts import Bar, bar_chart
from web.i18n import catalogue
from web.marketing_pages import marketing_page_for, pct, prospect_page

HTML = {"Accept": "text/html"}
ZH = {**HTML, "Accept-Language": "zh-CN"}
EN = {**HTML, "Accept-Language": "en"}
AS_OF = date(2026, 4, 30)
SINCE = date(2026, 4, 1)
APRIL = datetime(2026, 4, 3, 9, tzinfo=UTC)
EXTRA_STORES = 22
"""Member stores beyond the two of the base network: 24 in all, two pages of prospects."""
Q = f"as_of={AS_OF}&since={SINCE}&year=2026&month=2026-04"


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    """The test settings with a policy file: a target of 2 prospects a month (so a store can meet it)."""
    policy = tmp_path / "policy.toml"
    policy.write_text("[crm]\nprospect_target = 2\n", encoding="utf-8")
    return Settings(db=db_url, key_dir=tmp_path / "keys", resolver="https://id.example.com", policy_file=policy)


@dataclass
class World:
    shop: Shop
    policy: Policy
    admin: str
    keys: dict[Role, str]


def _more_stores(session: Session) -> None:
    """22 member stores in Guangzhou, 佛山门店 01 … 22 (S-X-01 …), supplied by D-GZ."""
    parties = [{"id": f"S-X-{i:02d}", "kind": "store", "name": f"佛山门店 {i:02d}", "territory": "CN-44-01",
                "gln": with_check_digit(f"690123410{i:03d}"), "supplied_by": ["D-GZ"],
                "member_store_no": f"M-1{i:05d}"} for i in range(1, EXTRA_STORES + 1)]  # fmt: skip
    import_masterdata(session=session, raw={"territories": [], "parties": parties, "products": []})
    session.flush()


@pytest.fixture
def world(session: Session, settings: Settings) -> World:
    """Five members (one registered by a campaign, one who never bought), a campaign with a grant tied to it,
    follow-up calls worked and not, prospects handed in by two stores; the page is read as of 30 April 2026."""
    seed(session)
    _more_stores(session)
    policy = load_policy(settings.policy_file)
    assert policy.crm.prospect_target == 2
    create_campaign(session=session, principal=ADMIN, policy=policy, code="SPRING", name="春季 双倍积分",
                    starts_on=date(2026, 4, 1), ends_on=date(2026, 4, 10), territories=["CN-44"],
                    multiplier="2")  # fmt: skip
    shop = Shop(session, settings.key_dir)
    shop.member("A", source="campaign:SPRING")
    shop.member("B", store="S-NJ-1")
    shop.member("C")
    shop.member("D")  # never buys: potential
    shop.member("E", store="S-X-01", source="call_centre")
    shop.buy("A", date(2026, 4, 2), 2)  # SPRING: 2 extra points
    shop.buy("B", date(2026, 4, 2), 3, store="S-NJ-1")  # Nanjing: not in the campaign
    shop.buy("C", date(2026, 4, 2), 1)  # SPRING: 1 extra
    shop.buy("E", date(2026, 4, 2), 1)  # at S-GZ-1, away from her home store S-X-01; SPRING: 1 extra
    generate_tasks(session=session, day=date(2026, 4, 5), policy=policy)  # follow-ups; C, E: replenishment too
    task = {t.member_id: int(t.id or 0) for t in session.exec(select(Task)).all() if t.kind == "follow_up"}
    assert set(task) == {shop.ids[n] for n in "ABCE"}
    for name, status in {"A": "reached", "B": "bought", "C": "not_reached"}.items():  # E: open
        record_outcome(session=session, principal=ADMIN, task_id=task[shop.ids[name]], status=status)
    shop.buy("A", date(2026, 4, 6), 1)  # worked, bought again
    shop.buy("C", date(2026, 4, 7), 1)  # not reached, bought anyway
    grant_points(session=session, principal=GZ, member_hash=shop.hashes["C"], points=5, reason="亲子活动",
                 campaign_code="SPRING", now=datetime(2026, 4, 5, tzinfo=UTC))  # fmt: skip
    phones: list[str | None] = [member_hash(f"1390000{i:04d}", shop.pepper) for i in range(3)]
    hand_in(session=session, principal=Principal(role=Role.store, party_id="S-NJ-1"), phone_hashes=phones[:2],
            policy=policy, now=APRIL)  # fmt: skip
    hand_in(session=session, principal=GZ, phone_hashes=phones[2:], policy=policy, now=APRIL)
    keys = {role: api_key(session, role).token for role in Role}
    return World(shop=shop, policy=policy, admin=keys[Role.admin], keys=keys)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _n(html: str, testid: str) -> int:
    found = re.search(rf'data-testid="{testid}" data-n="(\d+)"', html)
    assert found is not None, testid
    return int(found.group(1))


def test_the_overview_shows_the_services_tiers_active_members_and_call_effect(
    client: TestClient, session: Session, world: World
) -> None:
    page = client.get(f"/app/marketing?{Q}", headers={**EN, **_bearer(world.admin)})
    assert page.status_code == 200, page.text
    html = page.text
    summary = segment_summary(session=session, principal=ADMIN, as_of=AS_OF, policy=world.policy)
    # by hand: five members; D never bought (potential), the four buyers bought once or twice (ordinary)
    assert summary.tiers == {"potential": 1, "ordinary": 4, "loyal": 0, "advocate": 0} and summary.active == 4
    assert _n(html, "members") == summary.members == 5
    for tier, n in summary.tiers.items():
        assert _n(html, f"tier-{tier}") == n
    assert _n(html, "active") == summary.active
    assert "Active members · 80 %" in html  # 4 of 5
    effect = task_effect(session=session, principal=ADMIN, start=SINCE, end=AS_OF, policy=world.policy).overall
    # by hand: worked the follow-ups of A (bought again) and B (did not): 1 of 2; the one-can buyers C and E have a
    # replenishment call open on 5 April too, so unworked are C's two (she bought on 7 April) and E's two: 2 of 4
    assert (effect.worked, effect.worked_repurchased, effect.unworked, effect.unworked_repurchased) == (2, 1, 4, 2)
    assert 'data-testid="worked-rate" data-rate="0.5000">50 %' in html
    assert 'data-testid="unworked-rate" data-rate="0.5000">50 %' in html
    rows = re.findall(r'<tr data-store="([^"]+)"><th scope="row">([^<]+) <span', html.split('"effect-table"')[1])
    assert rows == [("S-GZ-1", "Store 1"), ("S-NJ-1", "Store NJ 1"), ("S-X-01", "佛山门店 01")]
    # the charts are inline SVG with a title and a description that says the numbers
    tiers = re.search(r'<svg class="chart" id="chart-tiers".*?</svg>', html, re.S)
    assert tiers is not None and 'role="img"' in tiers.group(0)
    assert '<title id="chart-tiers-t">Members per tier</title>' in tiers.group(0)
    assert "Potential: 1; Ordinary: 4; Loyal: 0; Advocate: 0" in tiers.group(0)
    assert re.findall(r'data-label="([^"]+)" data-value="(\d+)"', tiers.group(0)) == [
        ("Potential", "1"), ("Ordinary", "4"), ("Loyal", "0"), ("Advocate", "0")]  # fmt: skip
    zh = client.get(f"/app/marketing?{Q}", headers={**ZH, **_bearer(world.admin)}).text
    assert "营销概览" in zh and "潜在会员" in zh and "已联系的复购率" in zh and "各等级会员数" in zh


def test_campaign_and_source_return_and_the_top10_are_the_services(
    client: TestClient, session: Session, world: World
) -> None:
    html = client.get(f"/app/marketing?{Q}", headers={**EN, **_bearer(world.admin)}).text
    [spring] = campaign_return(session=session, principal=ADMIN, policy=world.policy, as_of=AS_OF)
    # by hand: SPRING (1-10 April) gained A, who bought 3 units (¥804.00); its extras are 1 a unit, 3 (A) + 2 (C)
    # + 1 (E), and 5 points were granted for it: a cost of 11
    assert (spring["members_gained"], spring["gained_units"], spring["gained_value"], spring["points_cost"]) == (
        1, 3, "804.00", 11)  # fmt: skip
    row = re.search(r'<tr data-campaign="SPRING" data-gained="(\d+)" data-units="(\d+)" data-value="([\d.]+)" '
                    r'data-cost="(\d+)">', html)  # fmt: skip
    assert row is not None and row.groups() == ("1", "3", "804.00", "11")
    assert "¥804.00" in html and 'id="chart-campaigns"' in html
    sources = source_return(session=session, principal=ADMIN, policy=world.policy, as_of=AS_OF, start=SINCE)
    shown = re.findall(r'<tr data-source="([^"]+)" data-members="(\d+)" data-units="(\d+)" data-value="([\d.]+)" '
                       r'data-cost="(\d+)">', html)  # fmt: skip
    assert shown == [(r["source"], str(r["members"]), str(r["units"]), r["value"], str(r["points_cost"]))
                     for r in sources]  # fmt: skip
    assert {r["source"] for r in sources} >= {"campaign:SPRING", "call_centre"}
    assert "Campaign SPRING" in html and "Call centre" in html
    top = top_members(session=session, principal=ADMIN, year=2026, policy=world.policy)
    ranked = re.findall(r'<tr data-rank="(\d+)" data-member="(\d+)" data-earned="(\d+)">', html)
    assert ranked == [(str(t["rank"]), str(t["member"]), str(t["earned"])) for t in top]
    # by hand: C 2 units + 2 extra + 5 granted = 9; A 3 + 3 = 6; B 3; E 1 + 1 = 2
    ids = world.shop.ids
    assert [(t["member"], t["earned"]) for t in top] == [(ids["C"], 9), (ids["A"], 6), (ids["B"], 3), (ids["E"], 2)]
    other = client.get(f"/app/marketing?{Q.replace('year=2026', 'year=2025')}", headers={**EN, **_bearer(world.admin)})
    assert 'data-testid="top10" data-year="2025"' in other.text and 'data-testid="no-top10"' in other.text
    assert '<option value="2025" selected>' in other.text


def test_prospects_per_store_are_paged_by_20_named_and_searchable(
    client: TestClient, session: Session, world: World
) -> None:
    report = prospect_report(session=session, principal=ADMIN, month="2026-04", policy=world.policy)
    assert len(report) == 2 + EXTRA_STORES
    first = client.get(f"/app/marketing?{Q}", headers={**EN, **_bearer(world.admin)}).text
    section = first.split('data-testid="prospects"')[1]
    assert 'data-total="24" data-page="1" data-pages="2"' in section
    rows = re.findall(r'<tr data-store="([^"]+)" data-handed="(\d+)" data-short="(\d+)"( class="short")?>', section)
    assert [r[0] for r in rows] == [r["store"] for r in report[:20]]
    by_store = {r[0]: r for r in rows}
    # by hand (target 2): S-NJ-1 handed in 2 and met it; S-GZ-1 handed in 1, one short; the others none
    assert by_store["S-NJ-1"][1:] == ("2", "0", "") and by_store["S-GZ-1"][1:] == ("1", "1", ' class="short"')
    assert by_store["S-X-05"][1:] == ("0", "2", ' class="short"')
    assert "Store NJ 1" in section and "佛山门店 05" in section  # stores by their name
    assert "Page 1 of 2, 24 store(s)" in section and "24 store(s), 23 of them short" in section
    nxt = re.search(r'href="/app/marketing\?([^"]+)#prospects-h" rel="next"', section)
    assert nxt is not None and "page=2" in nxt.group(1) and "month=2026-04" in nxt.group(1)
    second = client.get(f"/app/marketing?{nxt.group(1).replace('&amp;', '&')}", headers={**EN, **_bearer(world.admin)})
    rows2 = re.findall(r'<tr data-store="([^"]+)" data-handed', second.text.split('data-testid="prospects"')[1])
    assert rows2 == [r["store"] for r in report[20:]] and len(rows2) == 4
    assert 'rel="prev"' in second.text and 'rel="next"' not in second.text
    past = client.get(f"/app/marketing?{Q}&page=99", headers={**EN, **_bearer(world.admin)}).text
    assert 'data-page="2" data-pages="2"' in past  # a page past the last shows the last
    for q, expected in (("nj", ["S-NJ-1"]), ("Store 1", ["S-GZ-1"]), ("佛山门店 2", ["S-X-20", "S-X-21", "S-X-22"]),
                        ("s-x-0", [f"S-X-0{i}" for i in range(1, 10)]), ("ＮＪ", ["S-NJ-1"])):  # fmt: skip
        found = client.get("/app/marketing", params={"as_of": AS_OF.isoformat(), "month": "2026-04", "q": q},
                           headers={**EN, **_bearer(world.admin)}).text  # fmt: skip
        listed = re.findall(r'<tr data-store="([^"]+)" data-handed', found.split('data-testid="prospects"')[1])
        assert listed == expected, q
    none = client.get("/app/marketing", params={"month": "2026-04", "q": "<script>"}, headers={**EN,
                      **_bearer(world.admin)})  # fmt: skip
    assert none.status_code == 200 and "<script>" not in none.text and 'data-testid="no-prospects"' in none.text
    assert prospect_page(report, q="", page=2).rows == report[20:]


@pytest.mark.parametrize("role", [Role.store, Role.distributor, Role.plant])
def test_a_partners_key_is_refused_with_a_page_in_its_language(client: TestClient, world: World, role: Role) -> None:
    token = world.keys[role]
    zh = client.get("/app/marketing", headers={**ZH, **_bearer(token)})
    assert zh.status_code == 403 and 'data-testid="error-page"' in zh.text
    assert "营销页面只对品牌方（管理员、稽查、财务）开放" in zh.text and "无权访问" in zh.text
    en = client.get("/app/marketing", headers={**EN, **_bearer(token)})
    assert en.status_code == 403 and "The marketing page is for the brand (admin, auditor, finance) only" in en.text
    as_json = client.get("/app/marketing", headers=_bearer(token))
    assert as_json.status_code == 403
    assert as_json.json()["error"] == "forbidden" and as_json.json()["reason"] == "marketing_brand_only"
    for kind in marketing_pages.EXPORT_KINDS:  # nor may it download what the page shows
        refused = client.get(f"/app/marketing/export/{kind}?format=csv&{Q}", headers={**EN, **_bearer(token)})
        assert refused.status_code == 403, kind
    assert "nav.marketing" not in client.get("/check", headers={**EN, **_bearer(token)}).text
    assert 'href="/app/marketing"' not in client.get("/check", headers={**EN, **_bearer(token)}).text


def test_the_brands_read_only_roles_see_the_page_and_its_link(client: TestClient, world: World) -> None:
    for role in (Role.auditor, Role.finance, Role.admin):
        page = client.get(f"/app/marketing?{Q}", headers={**EN, **_bearer(world.keys[role])})
        assert page.status_code == 200, (role, page.text)
        assert 'href="/app/marketing" class="active">Marketing</a>' in page.text
        assert 'data-testid="tier-ordinary" data-n="4"' in page.text
    anonymous = client.get("/app/marketing", headers=EN, follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login")  # no key: sign in


def test_the_page_function_holds_a_partner_to_the_same_rule(session: Session, world: World) -> None:
    with pytest.raises(Forbidden):
        marketing_page_for(session=session, principal=GZ, policy=world.policy, as_of=AS_OF)
    page = marketing_page_for(session=session, principal=ADMIN, policy=world.policy, as_of=AS_OF, lang="en")
    assert page.since == date(2026, 1, 31) and page.year == 2026 and page.month == "2026-04"  # 90 days, as "active"


def test_bad_input_is_a_worded_page_never_a_500(client: TestClient, world: World) -> None:
    auth_ = _bearer(world.admin)
    for query in ("as_of=2026-02-30", "month=2026-13", "year=1800", "page=0", "q=" + "x" * 65, "as_of=nope"):
        resp = client.get(f"/app/marketing?{query}", headers={**EN, **auth_})
        assert resp.status_code == 422 and 'data-testid="error-page"' in resp.text, query
    backwards = client.get("/app/marketing?as_of=2026-04-01&since=2026-04-30", headers={**ZH, **auth_})
    assert backwards.status_code == 422 and 'data-testid="error-page"' in backwards.text
    bad_kind = client.get("/app/marketing/export/members?format=csv", headers={**EN, **auth_})
    assert bad_kind.status_code == 422
    assert client.get("/app/marketing/export/top10?format=pdf", headers={**EN, **auth_}).status_code == 422


def _csv(body: bytes) -> list[list[str]]:
    assert body.startswith("\ufeff".encode())
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


def test_the_downloads_are_the_services_rows_with_headers_in_the_page_language(
    client: TestClient, session: Session, world: World
) -> None:
    auth_ = _bearer(world.admin)
    page = client.get(f"/app/marketing?{Q}", headers={**EN, **auth_}).text
    links = set(re.findall(r'href="(/app/marketing/export/[^"]+)"', page))
    assert {re.sub(r"\?.*", "", link) for link in links} == {f"/app/marketing/export/{k}"
                                                             for k in marketing_pages.EXPORT_KINDS}  # fmt: skip
    assert len(links) == 2 * len(marketing_pages.EXPORT_KINDS)  # CSV and XLSX each
    top_link = next(link for link in links if "/top10?format=csv" in link).replace("&amp;", "&")
    en = client.get(top_link, headers={**EN, **auth_})
    assert en.status_code == 200 and en.headers["content-type"].startswith("text/csv")
    assert 'filename="top10-2026.csv"' in en.headers["content-disposition"]
    rows = _csv(en.content)
    assert rows[0][:4] == ["rank", "member", "store", "name"]
    top = top_members(session=session, principal=ADMIN, year=2026, policy=world.policy)
    assert [(int(r[0]), int(r[1]), int(r[-1])) for r in rows[1:]] == [
        (t["rank"], t["member"], t["earned"]) for t in top
    ]
    zh = _csv(client.get(top_link, headers={**ZH, **auth_}).content)
    assert zh[0][:4] == ["名次", "会员", "门店", "姓名"] and zh[1:] == rows[1:]
    searched = {"format": "xlsx", "month": "2026-04", "q": "S-X-0"}
    prospects = client.get("/app/marketing/export/prospects", params=searched, headers={**ZH, **auth_})
    assert prospects.status_code == 200 and 'filename="prospects-2026-04.xlsx"' in prospects.headers[
        "content-disposition"]  # fmt: skip
    sheet = load_workbook(io.BytesIO(prospects.content)).active
    values = list(sheet.values)
    assert list(values[0][:4]) == ["门店", "姓名", "月份", "已提交"]
    assert [v[0] for v in values[1:]] == [f"S-X-0{i}" for i in range(1, 10)]  # the search, every page of it
    whole = _csv(client.get(f"/app/marketing/export/prospects?format=csv&{Q}", headers={**EN, **auth_}).content)
    assert len(whole) == 1 + 24 and whole[0][3] == "handed in"
    campaigns = _csv(client.get(f"/app/marketing/export/return-campaigns?format=csv&{Q}",
                                headers={**EN, **auth_}).content)  # fmt: skip
    assert campaigns[1][0] == "SPRING" and campaigns[1][campaigns[0].index("points cost")] == "11"
    sources = _csv(client.get(f"/app/marketing/export/return-sources?format=csv&{Q}", headers={**EN, **auth_}).content)
    assert sources[1][1] == SINCE.isoformat()  # the page's "from", as on the page
    segments = _csv(client.get(f"/app/marketing/export/segments?format=csv&{Q}", headers={**EN, **auth_}).content)
    assert len(segments) == 1 + 5 and sorted(r[2] for r in segments[1:]) == ["ordinary"] * 4 + ["potential"]


def test_a_chart_states_its_numbers_and_escapes_its_labels() -> None:
    svg = str(bar_chart(key="x y", title="T <b>", desc="D", bars=[Bar("<i>", 3, "3"), Bar("零", 0, "0")]))
    assert svg.startswith('<svg class="chart" id="chart-x-y"') and "<b>" not in svg and "<i>" not in svg
    assert "D — &lt;i&gt;: 3; 零: 0" in svg
    widths = [float(w) for w in re.findall(r'<rect class="bar" x="\d+" y="\d+" width="([\d.]+)"', svg)]
    assert widths[0] > 100 and widths[1] == 0
    long = str(bar_chart(key="l", title="t", desc="d", bars=[Bar("一个非常非常长的活动名称不会溢出", 1, "1")]))
    assert "…" in long
    assert pct("0.6667") == "66.67 %" and pct("1.0000") == "100 %" and pct(None) == "—"


def test_every_key_the_marketing_page_uses_is_in_both_catalogues() -> None:
    web_dir = Path(marketing_pages.__file__).parent
    used: set[str] = set()
    for name in ("templates/marketing.html", "marketing_pages.py"):
        used |= set(re.findall(r"""_\(\s*f?["']([\w.]+)["']""", (web_dir / name).read_text(encoding="utf-8")))
    used = {k for k in used if not k.endswith(".")}
    used |= {f"marketing.tier.{t}" for t in ("potential", "ordinary", "loyal", "advocate")}
    used |= {f"role.{r.value}" for r in Role} | {"nav.marketing"}
    for lang in ("zh-CN", "en"):
        missing = used - catalogue(lang).keys()
        assert not missing, (lang, missing)
