"""The admin page through the ASGI app: API keys created (shown once), listed (never their secret), paged, filtered
and revoked after a confirmation (the revoked key then refused by the API), never the signed-in key; the master-data
upload, whole or not at all, every problem listed; and everyone but the brand's admin refused, nothing changed."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from tests.factories import api_key, auth, masterdata_doc, seed_masterdata
from traceability.errors import Problem, ValidationFailed
from traceability.models import ApiKey, Party, Product, Role, Territory
from web import admin_pages
from web.i18n import catalogue

HTML = {"Accept": "text/html"}
JSON = {"Accept": "application/json"}
EN = {**HTML, "Accept-Language": "en"}
ZH = {**HTML, "Accept-Language": "zh-CN"}


def _sign_in(client: TestClient, token: str) -> None:
    client.cookies.clear()
    resp = client.post("/login", data={"key": token}, headers=HTML, follow_redirects=False)
    assert resp.status_code == 303, resp.text


def _admin(client: TestClient, session: Session) -> Any:
    seed_masterdata(session)
    key = api_key(session, Role.admin)
    _sign_in(client, key.token)
    return key


def _keys(session: Session) -> list[tuple[Any, ...]]:
    """Every key as stored: id, role, party, name, revoked or not."""
    session.expire_all()
    rows = session.exec(select(ApiKey).order_by(col(ApiKey.id))).all()
    return [(k.id, k.role, k.party_id, k.name, k.revoked_at is not None) for k in rows]


def _masterdata(session: Session) -> tuple[Any, ...]:
    session.expire_all()
    return (
        sorted(session.exec(select(Territory.id, Territory.name)).all()),
        sorted(session.exec(select(Party.id, Party.name, Party.gln)).all()),
        sorted(session.exec(select(Product.gtin, Product.name)).all()),
    )


def _upload(client: TestClient, doc: Any, headers: dict[str, str], *, name: str = "md.json") -> Any:
    data = doc if isinstance(doc, bytes) else json.dumps(doc, ensure_ascii=False).encode()
    return client.post("/app/admin/masterdata", files={"document": (name, io.BytesIO(data), "application/json")},
                       headers=headers)  # fmt: skip


def test_the_admin_creates_lists_and_revokes_a_key(client: TestClient, session: Session) -> None:
    _admin(client, session)
    created = client.post("/app/admin/keys", data={"role": "distributor", "party": "D-GZ", "name": "广州仓库平板"},
                          headers=ZH)  # fmt: skip
    assert created.status_code == 201, created.text
    assert created.headers["cache-control"] == "no-store"
    token = re.search(r'id="new-token">(trc_[\w-]+)<', created.text)
    assert token is not None and "只显示这一次" in created.text
    token_text = token.group(1)
    [new] = [k for k in _keys(session) if k[3] == "广州仓库平板"]
    assert new[1:] == ("distributor", "D-GZ", "广州仓库平板", False)
    assert client.get("/api/v1/parties", headers={"Authorization": f"Bearer {token_text}"}).status_code == 200

    # The list names the key by prefix, role and party name, never its secret or its hash.
    page = client.get("/app/admin", headers=EN)
    assert page.status_code == 200 and "API keys" in page.text
    prefix, secret = token_text.split("_", 2)[1:]
    row = re.search(rf'<tr data-key="{new[0]}"[^>]*>(.*?)</tr>', page.text, re.S)
    assert row is not None
    assert prefix in row.group(1) and "广州经销商" in row.group(1) and "Distributor" in row.group(1)
    stored = session.get(ApiKey, new[0])
    assert stored is not None
    assert secret not in page.text and stored.secret_hash not in page.text and token_text not in page.text
    assert 'data-testid="issued"' not in page.text  # shown once: the list afterwards never shows it again

    # Revoking asks first; the key keeps working until it is confirmed.
    asked = client.post(f"/app/admin/keys/{new[0]}/revoke", headers=EN)
    assert asked.status_code == 200 and "Confirm revoking a key" in asked.text and 'name="confirm"' in asked.text
    assert [k[4] for k in _keys(session) if k[0] == new[0]] == [False]
    assert client.get("/api/v1/parties", headers={"Authorization": f"Bearer {token_text}"}).status_code == 200
    done = client.post(f"/app/admin/keys/{new[0]}/revoke", data={"confirm": "yes"}, headers=EN,
                       follow_redirects=False)  # fmt: skip
    assert done.status_code == 303 and done.headers["location"] == f"/app/admin?revoked={new[0]}"
    assert [k[4] for k in _keys(session) if k[0] == new[0]] == [True]
    after = client.get("/api/v1/parties", headers={"Authorization": f"Bearer {token_text}"})
    assert after.status_code == 401 and after.json()["error"] == "unauthenticated"
    shown = client.get(done.headers["location"], headers=ZH)
    assert f"密钥 {prefix} 已吊销" in shown.text


def test_the_admin_cannot_revoke_the_key_it_is_signed_in_with(client: TestClient, session: Session) -> None:
    me = _admin(client, session)
    page = client.get("/app/admin", headers=ZH)
    own_row = re.search(rf'<tr data-key="{me.id}"[^>]*>(.*?)</tr>', page.text, re.S)
    assert own_row is not None and "当前登录的密钥" in own_row.group(1) and "/revoke" not in own_row.group(1)
    for data in ({}, {"confirm": "yes"}):
        resp = client.post(f"/app/admin/keys/{me.id}/revoke", data=data, headers={**JSON, "Accept-Language": "en"})
        assert resp.status_code == 409 and resp.json()["reason"] == "own_key"
        assert "sign in with another admin key" in resp.json()["detail"]
    zh = client.post(f"/app/admin/keys/{me.id}/revoke", data={"confirm": "yes"}, headers=ZH)
    assert zh.status_code == 409 and "不能吊销当前登录所用的密钥" in zh.text
    assert [k[4] for k in _keys(session) if k[0] == me.id] == [False]
    assert client.get("/api/v1/parties", headers=auth(me)).status_code == 200


def test_a_new_key_for_an_unknown_party_is_refused_in_words(client: TestClient, session: Session) -> None:
    _admin(client, session)
    before = _keys(session)
    resp = client.post("/app/admin/keys", data={"role": "store", "party": "S-NOPE"}, headers=ZH)
    assert resp.status_code == 422 and "没有编号为 “S-NOPE” 的参与方" in resp.text
    bad_role = client.post("/app/admin/keys", data={"role": "root", "party": "D-GZ"}, headers=EN)
    assert bad_role.status_code == 422
    assert _keys(session) == before


def test_keys_are_paged_twenty_at_a_time_with_a_total_and_filtered(client: TestClient, session: Session) -> None:
    _admin(client, session)
    for _ in range(22):
        api_key(session, Role.store, "S-GZ-1")
    api_key(session, Role.distributor, "D-NJ")
    total = len(_keys(session))
    assert total == 24
    first = client.get("/app/admin", headers=EN)
    assert len(re.findall(r'<tr data-key="', first.text)) == admin_pages.PAGE_SIZE
    assert f"{total} key(s) · page 1 of 2" in first.text and 'id="next-page"' in first.text
    second = client.get("/app/admin", params={"page": 2}, headers=EN)
    assert len(re.findall(r'<tr data-key="', second.text)) == total - admin_pages.PAGE_SIZE
    beyond = client.get("/app/admin", params={"page": 99}, headers=EN)
    assert beyond.status_code == 200 and "page 2 of 2" in beyond.text
    stores = client.get("/app/admin", params={"role": "store", "page": 2}, headers=EN)
    assert "22 key(s) · page 2 of 2" in stores.text and len(re.findall(r'<tr data-key="', stores.text)) == 2
    nj = client.get("/app/admin", params={"party": "D-NJ", "role": ""}, headers=EN)
    rows = re.findall(r'<tr data-key="(\d+)"', nj.text)
    assert len(rows) == 1 and "南京经销商" in nj.text and "1 key(s)" in nj.text
    assert client.get("/app/admin", params={"role": "root"}, headers=EN).status_code == 422


@pytest.mark.parametrize("role", [Role.store, Role.distributor, Role.auditor, Role.finance, Role.plant])
def test_every_other_role_is_refused_the_page_and_every_post(client: TestClient, session: Session, role: Role) -> None:
    seed_masterdata(session)
    victim = api_key(session, Role.distributor, "D-NJ")
    _sign_in(client, api_key(session, role).token)
    before, data_before = _keys(session), _masterdata(session)
    zh = client.get("/app/admin", headers=ZH)
    assert zh.status_code == 403 and "管理页面只对品牌方的管理员开放" in zh.text
    en = client.get("/app/admin", headers=JSON)
    assert en.status_code == 403 and en.json()["reason"] == "admin_only"
    assert 'href="/app/admin"' not in client.get("/check", headers=ZH).text  # not in its navigation either
    doc = masterdata_doc()
    doc["territories"].append({"id": "CN-11", "name": "北京市", "parent": "CN"})
    posts = [
        client.post("/app/admin/keys", data={"role": "admin", "party": "BRAND"}, headers=JSON),
        client.post(f"/app/admin/keys/{victim.id}/revoke", data={"confirm": "yes"}, headers=JSON),
        _upload(client, doc, JSON),
    ]
    for resp in posts:
        assert resp.status_code == 403 and resp.json()["reason"] == "admin_only", resp.text
    assert _keys(session) == before and _masterdata(session) == data_before
    assert client.get("/api/v1/parties", headers=auth(victim)).status_code == 200


def test_another_sites_posts_are_refused(client: TestClient, session: Session) -> None:
    _admin(client, session)
    victim = api_key(session, Role.distributor, "D-NJ")
    before, data_before = _keys(session), _masterdata(session)
    doc = masterdata_doc()
    doc["territories"].append({"id": "CN-11", "name": "北京市", "parent": "CN"})
    for cross in ({"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}):
        headers = {**JSON, **cross}
        for resp in (
            client.post("/app/admin/keys", data={"role": "admin", "party": "BRAND"}, headers=headers),
            client.post(f"/app/admin/keys/{victim.id}/revoke", data={"confirm": "yes"}, headers=headers),
            _upload(client, doc, headers),
        ):
            assert resp.status_code == 403 and resp.json()["error"] == "forbidden", resp.text
    assert _keys(session) == before and _masterdata(session) == data_before


def test_a_document_with_one_bad_row_lists_every_problem_and_writes_nothing(
    client: TestClient, session: Session
) -> None:
    _admin(client, session)
    before = _masterdata(session)
    doc = masterdata_doc()
    doc["territories"].append({"id": "CN-11", "name": "北京市", "parent": "CN"})  # fine on its own
    doc["parties"][3]["name"] = "广州经销商（新名）"  # an update that must not land either
    doc["parties"].append({"id": "S-BJ-1", "kind": "store", "name": "北京门店", "gln": "6901234000000",
                           "territory": "CN-11"})  # fmt: skip  # a bad check digit
    resp = _upload(client, doc, ZH, name="坏文件.json")
    assert resp.status_code == 422, resp.text
    assert "坏文件.json 有 1 个问题，未写入任何数据" in resp.text
    [item] = re.findall(r'<li data-path="([^"]+)">(.*?)</li>', resp.text, re.S)
    assert item[0] == "/parties/8/gln" and "参与方" in item[1] and "第 9 行" in item[1] and "gln" in item[1]
    assert "6901234000000 不是校验位正确的 13 位 GLN" in item[1]  # the domain check in the page's words too
    en = _upload(client, doc, EN, name="bad.json")
    assert "6901234000000 is not a 13-digit GLN with a valid check digit" in en.text
    assert _masterdata(session) == before

    # Schema errors are worded in the page's language, each with its row and field.
    doc = masterdata_doc()
    doc["products"][0]["currency"] = "rmb"
    doc["parties"][0]["kind"] = "bank"
    doc["territories"].append({"id": "CN-11"})
    resp = _upload(client, doc, ZH)
    assert resp.status_code == 422
    problems = dict(re.findall(r'<li data-path="([^"]+)">(.*?)</li>', resp.text, re.S))
    assert set(problems) == {"/products/0/currency", "/parties/0/kind", "/territories/6/name"}
    assert "格式不对" in problems["/products/0/currency"] and "第 1 行" in problems["/products/0/currency"]
    assert "不是允许的值" in problems["/parties/0/kind"] and "缺少必填字段" in problems["/territories/6/name"]
    en = _upload(client, doc, EN)
    assert "Wrong format" in en.text and "This field is required." in en.text and "row 7" in en.text
    assert _masterdata(session) == before


@pytest.mark.parametrize(("data", "words"), [
    (b"{\"territories\": [", "文件不是有效的 JSON（第 1 行"),
    (b"\xff\xfe\x00garbage", "不是 UTF-8"),
    (b"[1, 2]", "应为 JSON 对象"),
    (b"[" * 100_000 + b"]" * 100_000, "嵌套层级过深"),
])  # fmt: skip
def test_a_file_that_is_not_a_document_is_a_listed_problem(
    client: TestClient, session: Session, data: bytes, words: str
) -> None:
    _admin(client, session)
    before = _masterdata(session)
    resp = _upload(client, data, ZH)
    assert resp.status_code == 422 and words in resp.text, resp.text[-2000:]
    assert _masterdata(session) == before


def test_a_good_document_is_imported_with_a_summary(client: TestClient, session: Session) -> None:
    _admin(client, session)
    doc = masterdata_doc()
    doc["territories"].append({"id": "CN-11", "name": "北京市", "parent": "CN"})
    doc["parties"][3]["name"] = "广州经销商（新名）"
    doc["parties"].append({"id": "S-BJ-1", "kind": "store", "name": "北京门店", "gln": "6901234000085",
                           "territory": "CN-11"})  # fmt: skip
    resp = _upload(client, doc, EN, name="update.json")
    assert resp.status_code == 200, resp.text
    assert "update.json imported" in resp.text
    cells = dict(re.findall(r'<tr data-kind="(\w+)"><th>[^<]*</th>((?:<td>\d+</td>){3})</tr>', resp.text))
    counts = {kind: [int(n) for n in re.findall(r"\d+", row)] for kind, row in cells.items()}
    assert counts == {"territories": [1, 0, 6], "parties": [1, 1, 7], "products": [0, 0, 1]}
    session.expire_all()
    assert session.get(Territory, "CN-11") is not None
    party = session.get(Party, "D-GZ")
    assert party is not None and party.name == "广州经销商（新名）"
    again = _upload(client, doc, EN)
    found = re.findall(r'<tr data-kind="(\w+)"><th>[^<]*</th><td>(\d+)</td><td>(\d+)</td>', again.text)
    assert {kind: (added, updated) for kind, added, updated in found} == dict.fromkeys(
        ("territories", "parties", "products"), ("0", "0"))  # fmt: skip


def test_domain_problems_keep_their_place_and_the_services_words() -> None:
    raw = masterdata_doc()
    error = ValidationFailed("x", [Problem("/parties/2/owner", "unknown party 'NOPE'"), Problem("/", "odd")])
    found = admin_pages.import_problems(raw=raw, error=error, lang="zh-CN")
    assert [(p.section, p.row, p.field, p.message) for p in found] == [
        ("parties", 3, "owner", "unknown party 'NOPE'"), ("", None, "", "odd")]  # fmt: skip


def test_every_key_the_admin_pages_use_is_in_both_catalogues() -> None:
    web_dir = Path(admin_pages.__file__).parent
    used: set[str] = set()
    for name in ("templates/admin.html", "templates/admin_revoke.html"):
        used |= set(re.findall(r"""_\(\s*["']([\w.]+)["']""", (web_dir / name).read_text(encoding="utf-8")))
    used |= set(re.findall(r"""_\(\s*["']([\w.]+)["']""", Path(admin_pages.__file__).read_text(encoding="utf-8")))
    used |= {f"admin.section.{k}" for k in ("territories", "parties", "products")}
    used |= {f"admin.err.{code}" for code in admin_pages.SCHEMA_ERRORS}
    used |= {f"role.{r.value}" for r in Role} | {"nav.admin"}
    for lang in ("zh-CN", "en"):
        missing = {k for k in used if k not in catalogue(lang) and not k.endswith(".")}
        assert missing == set(), (lang, missing)
