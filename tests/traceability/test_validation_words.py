"""A request the framework refuses is answered in plain words in the caller's language (issue 17): no pydantic
English, no regular expression, the machine fields (``error``, each problem's ``path`` and ``code``) unchanged."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from tests.factories import api_key, auth, seed_masterdata
from traceability.models import Role
from traceability.problems import RequestInvalid, where_and_why

HAN = re.compile(r"[\u4e00-\u9fff]")
PYDANTIC = re.compile(r"should|Field required|Input|String|\^|\\d|\$")  # pydantic's words, or a pattern's


@pytest.fixture
def admin(session: Session) -> dict[str, str]:
    seed_masterdata(session)
    return auth(api_key(session, Role.admin))


def _problem(resp: object, status: int, error: str) -> dict:
    assert resp.status_code == status, resp.text  # type: ignore[attr-defined]
    assert resp.headers["content-type"].startswith("application/problem+json")  # type: ignore[attr-defined]
    body: dict = resp.json()  # type: ignore[attr-defined]
    assert body["error"] == error and body["status"] == status, body
    return body


def _chinese(text: str) -> None:
    assert HAN.search(text) and not PYDANTIC.search(text), text


def _english(text: str) -> None:
    assert not HAN.search(text) and not PYDANTIC.search(text), text


def test_a_bad_month_is_described_as_a_month_not_a_pattern(client: TestClient, admin: dict[str, str]) -> None:
    zh = _problem(client.get("/api/v1/alerts", params={"period": "2026-9"}, headers=admin), 422, "validation_failed")
    _chinese(zh["detail"])
    assert "YYYY-MM" in zh["detail"] and "年月" in zh["detail"] and "period" in zh["detail"]
    [problem] = zh["problems"]
    assert problem["path"] == "/query/period" and problem["code"] == "string_pattern_mismatch"
    _chinese(problem["reason"])
    en = _problem(client.get("/api/v1/alerts", params={"period": "2026-9"}, headers={**admin, "Accept-Language": "en"}),
                  422, "validation_failed")  # fmt: skip
    _english(en["detail"])
    assert "period must be a month written YYYY-MM" in en["detail"]
    assert en["problems"][0]["path"] == "/query/period" and en["problems"][0]["reason"].startswith("must be a month")


def test_a_missing_field_and_a_wrong_type_are_named(client: TestClient, admin: dict[str, str]) -> None:
    body = {"codes": "not-a-list", "event_time": "yesterday"}  # biz_step missing, codes not a list, a bad moment
    zh = _problem(client.post("/api/v1/scans", json=body, headers=admin), 422, "validation_failed")
    by_path = {p["path"]: p for p in zh["problems"]}
    assert by_path["/body/biz_step"]["code"] == "missing" and by_path["/body/biz_step"]["reason"] == "必须填写"
    assert by_path["/body/codes"]["code"] == "list_type" and by_path["/body/codes"]["reason"] == "应为列表"
    assert "ISO 8601" in by_path["/body/event_time"]["reason"]
    for p in zh["problems"]:
        _chinese(p["reason"])
    _chinese(zh["detail"])
    assert zh["detail"].startswith("请求有误：biz_step 必须填写") and "另有 2 处问题" in zh["detail"]
    en = _problem(client.post("/api/v1/scans", json=body, headers={**admin, "Accept-Language": "en-GB,en;q=0.8"}),
                  422, "validation_failed")  # fmt: skip
    assert [p["path"] for p in en["problems"]] == [p["path"] for p in zh["problems"]]  # same machine fields
    assert en["detail"] == "request is invalid: biz_step is required (and 2 more problems)"
    assert {p["reason"] for p in en["problems"]} >= {"is required", "must be a list"}


def test_too_short_and_not_a_number(client: TestClient, admin: dict[str, str]) -> None:
    zh = _problem(client.post("/api/v1/scans", json={"biz_step": "shipping", "codes": []}, headers=admin), 422,
                  "validation_failed")  # fmt: skip
    assert zh["problems"][0]["reason"] == "至少 1 项"
    resp = client.get("/api/v1/alerts/abc", headers={**admin, "Accept-Language": "en"})
    en = _problem(resp, 422, "validation_failed")
    assert en["problems"][0]["path"] == "/path/alert_id" and en["problems"][0]["reason"] == "must be a whole number"


def test_an_unknown_route_is_not_found_in_the_callers_language(client: TestClient) -> None:
    zh = _problem(client.get("/api/v1/no-such-thing"), 404, "not_found")
    assert zh["detail"] == "没有这个地址：/api/v1/no-such-thing"
    en = _problem(client.get("/api/v1/no-such-thing", headers={"Accept-Language": "en"}), 404, "not_found")
    assert en["detail"] == "nothing here answers /api/v1/no-such-thing"


def test_a_wrong_method_is_refused_in_the_callers_language(client: TestClient) -> None:
    resp = client.delete("/healthz")
    zh = _problem(resp, 405, "method_not_allowed")
    assert "GET" in resp.headers["allow"] and zh["allowed"] == ["GET"]
    assert zh["detail"] == "/healthz 不接受 DELETE 请求，可用：GET"
    en = _problem(client.delete("/healthz", headers={"Accept-Language": "en"}), 405, "method_not_allowed")
    assert en["detail"] == "/healthz does not take DELETE; it takes GET"


def test_a_page_shows_plain_words_in_its_error_page(client: TestClient, admin: dict[str, str]) -> None:
    page = client.get("/app/settlement", params={"period": "2026-9"}, headers={**admin, "Accept": "text/html"})
    assert page.status_code == 422 and "text/html" in page.headers["content-type"]
    assert "年月，格式 YYYY-MM" in page.text and "String should" not in page.text and r"\d{4}" not in page.text
    en = client.get("/app/settlement", params={"period": "2026-9"},
                    headers={**admin, "Accept": "text/html", "Accept-Language": "en"})  # fmt: skip
    assert "period must be a month written YYYY-MM" in en.text


@pytest.mark.parametrize(
    ("error", "zh", "en"),
    [
        ({"type": "string_too_long", "loc": ("body", "name"), "ctx": {"max_length": 40}}, "至多 40 个字符",
         "must be at most 40 characters long"),
        ({"type": "greater_than_equal", "loc": ("query", "limit"), "ctx": {"ge": 1}}, "应不小于 1",
         "must be at least 1"),
        ({"type": "enum", "loc": ("body", "status"), "ctx": {"expected": "'open', 'confirmed' or 'dismissed'"}},
         "应为以下之一：open、confirmed、dismissed", "must be one of open, confirmed, dismissed"),
        ({"type": "string_pattern_mismatch", "loc": ("body", "currency"), "ctx": {"pattern": r"^[A-Z]{3}$"}},
         "应为三个大写字母的币种代码，如 CNY", "must be a three-letter currency code in capitals, such as CNY"),
        ({"type": "string_pattern_mismatch", "loc": ("body", "x"), "ctx": {"pattern": r"^[a-z]+\d?$"}},
         "应为此字段规定的格式", "must be in the form this field takes"),
        ({"type": "float_parsing", "loc": ("query", "lat")}, "应为数字", "must be a number"),
        ({"type": "something_new", "loc": ("body",)}, "无效", "is not valid"),
    ],
)
def test_each_kind_of_problem_has_its_words(error: dict, zh: str, en: str) -> None:
    assert where_and_why(error, "zh-CN")[1] == zh
    assert where_and_why(error, "en")[1] == en
    _chinese(RequestInvalid([error]).text("zh-CN"))


def test_the_field_is_named_as_a_caller_writes_it() -> None:
    error = {"type": "missing", "loc": ("body", "products", 1, "gtin")}
    assert where_and_why(error, "en") == ("products[1].gtin", "is required")
    assert where_and_why({"type": "missing", "loc": ("body",)}, "zh-CN") == ("请求内容", "必须填写")


def test_a_body_that_is_not_json_is_said_so(client: TestClient, admin: dict[str, str]) -> None:
    resp = client.post("/api/v1/scans", content=b'{"biz_step": ', headers={**admin, "Content-Type": "application/json"})
    body = _problem(resp, 422, "validation_failed")
    assert body["detail"] == "请求有误：请求内容不是有效的 JSON" and body["problems"][0]["code"] == "json_invalid"
