"""The pages' refusals in the reader's language (issue 17): a page (HTML) in the page's language, a script calling a
page's URL in its Accept-Language, the machine fields the same; names quoted in a message (a role, the statuses
there are) are worded in the message's language too."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from tests.factories import api_key, auth, seed_masterdata
from traceability.models import Role

HAN = re.compile(r"[\u4e00-\u9fff]")
EN = {"Accept-Language": "en"}


@pytest.fixture
def keys(session: Session) -> dict[Role, dict[str, str]]:
    seed_masterdata(session)
    return {role: auth(api_key(session, role)) for role in (Role.plant, Role.auditor, Role.distributor)}


def test_a_bad_filter_names_the_statuses_in_the_readers_words(client: TestClient, keys: dict) -> None:
    zh = client.get("/app/print-jobs?status=bogus", headers=keys[Role.plant])
    en = client.get("/app/print-jobs?status=bogus", headers={**keys[Role.plant], **EN})
    assert zh.status_code == en.status_code == 422
    assert zh.json()["error"] == en.json()["error"] == "invalid_input"
    assert zh.json()["reason"] == en.json()["reason"] == "bad_status" and zh.json()["field"] == "status"
    assert zh.json()["detail"].startswith("状态“bogus”无效；可选：") and HAN.search(zh.json()["detail"].split("：")[1])
    assert en.json()["detail"].startswith("“bogus” is not a status; choose one of: ")
    assert not HAN.search(en.json()["detail"])
    client.cookies.set("trc_lang", "en")
    page = client.get("/app/print-jobs?status=bogus", headers={**keys[Role.plant], "Accept": "text/html"})
    assert page.status_code == 422 and "is not a status; choose one of" in page.text  # the switch's choice wins


def test_a_bad_date_on_the_shipments_list(client: TestClient, keys: dict) -> None:
    zh = client.get("/app/shipments?from=yesterday", headers=keys[Role.distributor])
    en = client.get("/app/shipments?from=yesterday", headers={**keys[Role.distributor], **EN})
    assert zh.status_code == en.status_code == 422 and zh.json()["reason"] == en.json()["reason"] == "bad_date"
    assert zh.json()["detail"].startswith("日期“yesterday”无效") and "is not a date" in en.json()["detail"]


def test_a_role_refusal_names_the_role_in_the_readers_words(client: TestClient, keys: dict) -> None:
    zh = client.get("/app/admin", headers=keys[Role.auditor])
    en = client.get("/app/admin", headers={**keys[Role.auditor], **EN})
    assert zh.status_code == en.status_code == 403 and zh.json()["reason"] == "admin_only"
    assert zh.json()["detail"].endswith("当前身份为稽查。")
    assert en.json()["detail"].endswith("you are signed in as Auditor.")
    zh = client.get("/app/print-jobs", headers=keys[Role.auditor])
    en = client.get("/app/print-jobs", headers={**keys[Role.auditor], **EN})
    assert zh.status_code == en.status_code == 403 and zh.json()["role"] == "auditor"
    assert zh.json()["detail"] == "角色 'auditor' 不能打开此页面；允许的角色：plant, admin"
    assert en.json()["detail"] == "role 'auditor' may not open this page; allowed: plant, admin"


def test_a_cross_site_form_is_refused_in_the_readers_words(client: TestClient, keys: dict) -> None:
    evil = {**keys[Role.auditor], "Origin": "https://evil.example"}
    zh = client.post("/app/alerts/bulk", data={"status": "dismissed", "ids": "1"}, headers=evil)
    en = client.post("/app/alerts/bulk", data={"status": "dismissed", "ids": "1"}, headers={**evil, **EN})
    assert zh.status_code == en.status_code == 403 and zh.json()["reason"] == en.json()["reason"] == "cross_site"
    assert zh.json()["detail"] == "已拒绝跨站请求：请在本站自己的页面上提交此表单"
    assert en.json()["detail"] == "cross-site request refused: post this form from this site's own page"


def test_the_label_templates_are_named_in_the_readers_words(client: TestClient, keys: dict) -> None:
    """The print job form names every template it offers in the page's language (each has its entry in both)."""
    from labels.templates import TEMPLATES

    html = {"Accept": "text/html"}
    zh = client.get("/app/print-jobs", headers={**keys[Role.plant], **html})
    client.cookies.set("trc_lang", "en")
    en = client.get("/app/print-jobs", headers={**keys[Role.plant], **html})
    assert zh.status_code == en.status_code == 200
    offered = dict(re.findall(r'<option value="([a-z0-9-]+)">([^<]*)</option>', zh.text))
    offered = {k: v for k, v in offered.items() if k in TEMPLATES}
    assert len(offered) >= 5, offered
    for template_id, name in offered.items():
        assert HAN.search(name) and "template." not in name, (template_id, name)
        assert f'<option value="{template_id}">{TEMPLATES[template_id].title}</option>' in en.text, template_id
