"""Rate limits on the public doors: per client and per code on the consumer check (page, resolver, inspect), per
client on sign-in; a refusal is a 429 with ``Retry-After``, problem JSON or the error page, in zh-CN or en."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from limits.errors import StorageError
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from pydantic import ValidationError
from sqlmodel import Session

from codes.render import parse_code, to_element_string
from codes.service import key_store
from tests.factories import seed_masterdata
from tests.web.helpers import at_distributor, make_codes
from traceability.settings import Settings
from web.limits import PublicLimits

HTML = {"Accept": "text/html"}
JSON = {"Accept": "application/json"}
EN = {"Accept-Language": "en"}
ZH = {"Accept-Language": "zh-CN"}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Small limits, so that a test reaches them in a few requests (the production defaults are far larger)."""
    return settings.model_copy(update={"public_rate_limit_client": "3/minute", "public_rate_limit_code": "100/minute",
                                       "login_rate_limit": "2/minute"})  # fmt: skip


@contextmanager
def client_at(app: FastAPI, address: str) -> Iterator[TestClient]:
    """A client connecting from ``address`` (the test client's default is the same for every client)."""
    with TestClient(app, client=(address, 50000)) as c:
        yield c


def _path(code: str) -> str:
    return code.removeprefix("https://id.example.com")


def _assert_limited(resp: object, limited_by: str) -> dict[str, object]:
    assert resp.status_code == 429, resp.text  # type: ignore[attr-defined]
    wait = int(resp.headers["retry-after"])  # type: ignore[attr-defined]
    assert 1 <= wait <= 60
    body: dict[str, object] = resp.json()  # type: ignore[attr-defined]
    assert body["error"] == "rate_limited" and body["reason"] == "rate_limited" and body["status"] == 429
    assert body["limited_by"] == limited_by and body["retry_after"] == wait
    return body


def test_the_check_after_the_limit_from_one_client_is_refused_others_are_not(
    app: FastAPI, session: Session, settings: Settings
) -> None:
    seed_masterdata(session)
    codes = make_codes(session, key_store(settings), 4)
    with client_at(app, "203.0.113.7") as one, client_at(app, "203.0.113.8") as other:
        for code in codes[:3]:  # different codes: only the client's limit is in play
            assert one.get(_path(code), headers={**HTML, **EN}).status_code == 200
        refused = one.get(f"/check?code={codes[3]}", headers={**JSON, **EN})
        body = _assert_limited(refused, "client")
        assert "Too many checks from your network" in str(body["detail"])
        # the limit is the client's, over every door: inspecting is refused too, with the same reason
        inspected = one.post("/check/inspect", json={"code": codes[3], "lat": 32.05, "lon": 118.78}, headers=EN)
        assert "Too many checks from your network" in str(_assert_limited(inspected, "client")["detail"])
        # another client checks the same code at once
        assert other.get(_path(codes[3]), headers={**HTML, **EN}).status_code == 200


def test_a_browser_is_shown_the_error_page_in_its_language(app: FastAPI, session: Session, settings: Settings) -> None:
    seed_masterdata(session)
    [code] = make_codes(session, key_store(settings), 1)
    with client_at(app, "198.51.100.1") as zh, client_at(app, "198.51.100.2") as en:
        for _ in range(3):
            zh.get(_path(code), headers={**HTML, **ZH})
            en.get(_path(code), headers={**HTML, **EN})
        page = zh.get(_path(code), headers={**HTML, **ZH})
        assert page.status_code == 429 and int(page.headers["retry-after"]) >= 1
        assert page.headers["content-type"].startswith("text/html") and page.headers["content-language"] == "zh-CN"
        assert "请求过于频繁" in page.text and "您所在网络的查询过于频繁" in page.text
        english = en.get(f"/check?code={code}", headers={**HTML, **EN})
        assert english.status_code == 429 and int(english.headers["retry-after"]) >= 1
        assert "Too many requests" in english.text and "Too many checks from your network" in english.text


def test_inspect_answers_problem_json_in_the_request_language(
    app: FastAPI, session: Session, settings: Settings
) -> None:
    seed_masterdata(session)
    [code] = make_codes(session, key_store(settings), 1)
    with client_at(app, "192.0.2.10") as c:
        for _ in range(3):
            assert c.post("/check/inspect", json={"code": code, "lat": 45.75, "lon": 126.63}).status_code == 200
        zh = c.post("/check/inspect", json={"code": code, "lat": 45.75, "lon": 126.63}, headers=ZH)
        assert zh.headers["content-type"].startswith("application/problem+json")
        assert "您所在网络的查询过于频繁" in str(_assert_limited(zh, "client")["detail"])


def test_one_code_from_many_clients_is_limited_other_codes_are_not(
    app: FastAPI, session: Session, settings: Settings
) -> None:
    seed_masterdata(session)
    settings_small = settings.model_copy(update={"public_rate_limit_client": "100/minute",
                                                 "public_rate_limit_code": "3/minute"})  # fmt: skip
    app.state.public_limits = PublicLimits(settings_small)
    hot, cold = make_codes(session, key_store(settings), 2)
    element = to_element_string(parse_code(hot), human=True)
    # three forms of one code, from three clients: one code, so one limit
    with client_at(app, "203.0.113.1") as a, client_at(app, "203.0.113.2") as b, client_at(app, "203.0.113.3") as c:
        assert a.get(_path(hot), headers=HTML).status_code == 200
        assert b.get("/check", params={"code": element}, headers=HTML).status_code == 200
        assert c.post("/check/inspect", json={"code": hot, "lat": 45.75, "lon": 126.63}).status_code == 200
    with client_at(app, "203.0.113.4") as d:
        body = _assert_limited(d.get("/check", params={"code": hot}, headers={**JSON, **EN}), "code")
        assert "This code is being checked unusually often" in str(body["detail"])
        zh = d.get(_path(hot), headers={**JSON, **ZH})
        assert "此码近期查询过于频繁" in str(_assert_limited(zh, "code")["detail"])
        assert d.get(_path(cold), headers=HTML).status_code == 200  # another code: its own limit


def test_checks_are_allowed_again_once_the_window_has_passed(
    app: FastAPI, session: Session, settings: Settings
) -> None:
    seed_masterdata(session)
    app.state.public_limits = PublicLimits(settings.model_copy(update={"public_rate_limit_client": "2/second"}))
    [code] = make_codes(session, key_store(settings), 1)
    at_distributor(session, [code])
    with client_at(app, "203.0.113.9") as c:
        assert [c.get(_path(code), headers=HTML).status_code for _ in range(3)] == [200, 200, 429]
        refused = c.get(_path(code), headers=HTML)
        assert refused.status_code == 429 and refused.headers["retry-after"] == "1"
        time.sleep(1.05)  # a moving window of one second: both earlier checks have left it
        again = c.get(_path(code), headers=HTML)
        assert again.status_code == 200 and 'data-verdict="genuine"' in again.text


def test_the_bare_check_form_is_not_a_check(client: TestClient) -> None:
    assert [client.get("/check", headers=HTML).status_code for _ in range(6)] == [200] * 6


def test_sign_in_attempts_are_limited_per_client(app: FastAPI, session: Session) -> None:
    seed_masterdata(session)
    with client_at(app, "203.0.113.20") as guesser, client_at(app, "203.0.113.21") as clerk:
        tries = [guesser.post("/login", data={"key": f"trc_guess_{i}"}, headers={**HTML, **EN}) for i in range(3)]
        assert [t.status_code for t in tries] == [401, 401, 429]
        assert int(tries[2].headers["retry-after"]) >= 1 and "Too many sign-in attempts" in tries[2].text
        scripted = guesser.post("/login", data={"key": "trc_guess_x"}, headers={**JSON, **ZH})
        assert "登录尝试过于频繁" in str(_assert_limited(scripted, "login")["detail"])
        assert clerk.post("/login", data={"key": "trc_nope"}, headers={**HTML, **EN}).status_code == 401


def test_limiting_can_be_switched_off(app: FastAPI, session: Session, settings: Settings) -> None:
    seed_masterdata(session)
    app.state.public_limits = PublicLimits(settings.model_copy(update={"rate_limit_enabled": False}))
    [code] = make_codes(session, key_store(settings), 1)
    with client_at(app, "203.0.113.30") as c:
        assert {c.get(_path(code), headers=HTML).status_code for _ in range(6)} == {200}


def test_forwarded_for_is_read_only_behind_a_trusted_proxy(app: FastAPI, session: Session, settings: Settings) -> None:
    seed_masterdata(session)
    [code] = make_codes(session, key_store(settings), 1)
    with client_at(app, "10.0.0.1") as proxy:
        # by default the header is anyone's to write: every request counts against the connection
        codes_seen = [proxy.get(_path(code), headers={**HTML, "X-Forwarded-For": f"198.51.100.{i}"}).status_code
                      for i in range(4)]  # fmt: skip
        assert codes_seen == [200, 200, 200, 429]
    app.state.public_limits = PublicLimits(settings.model_copy(update={"trusted_proxy_hops": 1}))
    with client_at(app, "10.0.0.1") as proxy:
        # behind our proxy: the address it appended is the client, whatever the client wrote before it
        for _ in range(3):
            forged = {**HTML, "X-Forwarded-For": f"1.2.3.{_}, 198.51.100.50"}
            assert proxy.get(_path(code), headers=forged).status_code == 200
        assert proxy.get(_path(code), headers={**HTML, "X-Forwarded-For": "7.7.7.7, 198.51.100.50"}).status_code == 429
        assert proxy.get(_path(code), headers={**HTML, "X-Forwarded-For": "198.51.100.51"}).status_code == 200


def test_an_ipv6_client_counts_by_its_slash_64(settings: Settings) -> None:
    from starlette.requests import Request

    limits = PublicLimits(settings)

    def request(host: str) -> Request:
        return Request({"type": "http", "method": "GET", "path": "/", "headers": [], "client": (host, 1)})

    assert limits.client_of(request("2001:db8:1:2::1")) == limits.client_of(request("2001:db8:1:2:ffff::9"))
    assert limits.client_of(request("2001:db8:1:3::1")) == "2001:db8:1:3::/64"
    assert limits.client_of(request("::ffff:203.0.113.5")) == "203.0.113.5"
    assert limits.client_of(request("203.0.113.5")) == "203.0.113.5"


class _DownStore(MemoryStorage):
    """A shared store that is unreachable."""

    def acquire_entry(self, *args: object, **kwargs: object) -> bool:
        raise StorageError(ConnectionError("store is down"))


def test_an_unreachable_store_falls_back_to_counting_in_memory(
    app: FastAPI, session: Session, settings: Settings
) -> None:
    seed_masterdata(session)
    [code] = make_codes(session, key_store(settings), 1)
    limits = PublicLimits(settings)
    limits._shared = MovingWindowRateLimiter(_DownStore())
    app.state.public_limits = limits
    with client_at(app, "203.0.113.40") as c:
        assert [c.get(_path(code), headers=HTML).status_code for _ in range(4)] == [200, 200, 200, 429]
    assert limits._store_down_until > time.monotonic()  # it was the fallback that counted


def test_a_mistyped_limit_stops_the_settings() -> None:
    with pytest.raises(ValidationError, match="not a rate limit"):
        Settings(public_rate_limit_code="thirty a minute")
