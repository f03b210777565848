"""``GET /epcis/events`` without the router (``scanning.routes.EventQueryShortcut``): it must answer exactly what the
route answers — the same status, body and headers for every caller, page, language and media type — answer the
pages itself, and hand every request it would not answer as the route does (a missing, forged or revoked key, a bad
parameter, a forged token) to the route, untouched."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import Session
from starlette.types import Receive, Scope, Send

from scanning.routes import EventQueryShortcut
from tests.factories import auth
from tests.scanning.test_epcis_rest import capture, event, keys  # noqa: F401 - the keys fixture
from traceability.app import create_app
from traceability.auth.service import revoke_api_key

EPC = "urn:epc:id:sgtin:6901234.000010.{}"


def _routed(app: FastAPI) -> FastAPI:
    """A twin of ``app`` (its settings, engine, session) without the shortcut: every request goes through the
    router."""
    twin = create_app(app.state.settings, engine=app.state.engine, run_migrations=False)
    twin.dependency_overrides.update(app.dependency_overrides)
    twin.state.given_session = app.state.given_session
    shortcut: Any = EventQueryShortcut
    assert any(m.cls is shortcut for m in twin.user_middleware)  # the app under test has it
    twin.user_middleware = [m for m in twin.user_middleware if m.cls is not shortcut]
    return twin


def _answer(client: TestClient, params: list[tuple[str, str]], headers: dict[str, str]) -> tuple[Any, ...]:
    resp = client.get("/epcis/events", params=params, headers=headers)
    body: Any = resp.content
    if resp.headers.get("content-type", "").startswith(("application/json", "application/problem+json")):
        body = json.loads(resp.content)
        body.pop("creationDate", None)  # the moment of the answer
    elif b"creationDate=" in body:
        head, _, rest = body.partition(b'creationDate="')
        body = head + rest.partition(b'"')[2]
    kept = {k: v for k, v in resp.headers.items() if k not in ("content-length", "date")}
    return resp.status_code, body, kept


@pytest.fixture
def stored(client: TestClient, keys: dict[str, Any], session: Session) -> dict[str, Any]:  # noqa: F811
    events = [event(f"S{i % 4}", at=("D-GZ", "D-NJ", "S-GZ-1")[i % 3], t=f"2026-03-01T09:00:{i:02d}+08:00")
              for i in range(24)]  # fmt: skip
    capture(client, keys["admin"], *events)
    revoked = keys["auditor"]
    revoke_api_key(session=session, key_id=revoked.id)
    session.commit()
    return keys


def _cases(issued: dict[str, Any]) -> list[tuple[list[tuple[str, str]], dict[str, str]]]:
    admin, gz, store = auth(issued["admin"]), auth(issued["gz"]), auth(issued["store"])
    unit = ("MATCH_epc", EPC.format("S1"))
    return [
        ([unit], admin), ([unit], gz), ([unit], store), ([unit, ("perPage", "2")], admin),
        ([unit, ("perPage", "0002")], gz), ([("MATCH_anyEPC", EPC.format("S2") + "|" + EPC.format("S3"))], admin),
        ([unit], {**admin, "Accept": "application/xml"}), ([unit], {**gz, "Accept-Language": "en"}),
        ([("EQ_bizStep", "shipping")], store), ([], admin),
        # refused, by the route: every one of them handed on
        ([unit], {}), ([unit], {"Authorization": "Basic abc"}), ([unit], {"Authorization": "Bearer trc_x_y"}),
        ([unit], {"Authorization": "Bearer"}), ([unit], auth(issued["auditor"])),  # revoked
        ([unit, ("perPage", "0")], admin), ([unit, ("perPage", "abc")], admin), ([unit, ("perPage", "+3")], admin),
        ([unit, ("perPage", "2"), ("perPage", "3")], admin), ([unit, ("perPage", "100000")], admin),
        ([unit, ("nextPageToken", "forged")], admin), ([unit, ("nextPageToken", "x" * 2001)], admin),
        ([("MATCH_epc", "not an epc")], {**admin, "Accept-Language": "en"}), ([("NOPE_x", "1")], admin),
        ([unit], {**admin, "Accept": "image/png"}),
    ]  # fmt: skip


def test_the_shortcut_answers_what_the_route_answers(app: FastAPI, stored: dict[str, Any]) -> None:
    cases = _cases(stored)
    with TestClient(app) as client:
        short = [_answer(client, params, headers) for params, headers in cases]
        first = client.get("/epcis/events", params=[("MATCH_epc", EPC.format("S1")), ("perPage", "2")],
                           headers=auth(stored["admin"]))  # fmt: skip
        token = first.headers["link"].split("nextPageToken=")[1].split(">")[0]
        next_page = (
            [("MATCH_epc", EPC.format("S1")), ("perPage", "2"), ("nextPageToken", token)],
            auth(stored["gz"]),
        )  # fmt: skip  (another party's token: refused)
        own_next = ([("MATCH_epc", EPC.format("S1")), ("perPage", "2"), ("nextPageToken", token)],
                    auth(stored["admin"]))  # fmt: skip
        short += [_answer(client, *next_page), _answer(client, *own_next)]
    with TestClient(_routed(app)) as client:
        routed = [_answer(client, params, headers) for params, headers in cases]
        routed += [_answer(client, *next_page), _answer(client, *own_next)]
    for case, a, b in zip(cases + [next_page, own_next], short, routed, strict=True):
        assert a == b, case
    statuses = [s for s, _, _ in short]
    # pages and refusals both compared ("+3" and a repeated perPage are the route's to read: it answers them)
    assert statuses == [200] * 10 + [401] * 5 + [422, 422, 200, 200, 422, 400, 422, 200, 400, 200, 400, 200]
    assert len(short[0][1]["epcisBody"]["queryResults"]["resultsBody"]["eventList"]) == 6  # the admin sees all six


class _Recorder:
    """The route's place behind the shortcut: counts what is handed on and answers 418."""

    def __init__(self, app: FastAPI) -> None:
        self.app, self.calls = app, 0

    async def route(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.calls += 1
        await send({"type": "http.response.start", "status": 418, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, send)
            return
        scope["app"] = self.app  # as Starlette sets it before its middleware
        await EventQueryShortcut(self.route)(scope, receive, send)


def test_the_shortcut_answers_pages_itself_and_hands_on_the_rest(app: FastAPI, stored: dict[str, Any]) -> None:
    recorder = _Recorder(app)
    with TestClient(recorder) as client:
        page = client.get("/epcis/events", params={"MATCH_epc": EPC.format("S1")}, headers=auth(stored["gz"]))
        assert page.status_code == 200 and recorder.calls == 0
        assert len(page.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]) == 2  # D-GZ's own two
        cases = _cases(stored)
        for params, headers in cases[:10] + [cases[22], cases[24]]:  # pages (of no event, or in JSON for a PNG)
            assert client.get("/epcis/events", params=params, headers=headers).status_code == 200, (params, headers)
        assert recorder.calls == 0
        for params, headers in cases[10:22] + [cases[23]]:  # refusals, and what only the route reads ("+3")
            before = recorder.calls
            assert client.get("/epcis/events", params=params, headers=headers).status_code == 418, (params, headers)
            assert recorder.calls == before + 1
        for path, method in (("/epcis/events/", "GET"), ("/epcis/events", "HEAD"), ("/epcis/eventTypes", "GET")):
            before = recorder.calls
            assert client.request(method, path, headers=auth(stored["admin"])).status_code == 418
            assert recorder.calls == before + 1


_VALUES = {
    "MATCH_epc": [EPC.format("S0"), EPC.format("S9") + "|" + EPC.format("S2"), "urn:epc:id:sgtin:bad", ""],
    "perPage": ["1", "5", "0", "-1", "x", "1000", " 2"],
    "EQ_bizStep": ["shipping", "receiving"],
    "GE_eventTime": ["2026-03-01T01:00:10Z", "yesterday"],
    "orderDirection": ["ASC", "DESC", "UP"],
    "eventCountLimit": ["3", "0"],
    "nextPageToken": ["", "abc"],
}


@pytest.fixture
def routed(app: FastAPI) -> FastAPI:
    return _routed(app)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(sorted(_VALUES)).flatmap(lambda k: st.tuples(st.just(k), st.sampled_from(_VALUES[k]))),
                max_size=4),
       st.sampled_from(["admin", "gz", "store", "none", "forged"]), st.sampled_from(["zh-CN", "en"]))  # fmt: skip
def test_any_query_is_answered_alike_with_and_without_the_shortcut(
    app: FastAPI, routed: FastAPI, stored: dict[str, Any], params: list[tuple[str, str]], who: str, lang: str
) -> None:  # fmt: skip
    headers = {"Accept-Language": lang}
    if who in stored:
        headers.update(auth(stored[who]))
    elif who == "forged":
        headers["Authorization"] = "Bearer trc_abcdefgh_" + "0" * 32
    with TestClient(app) as client:
        short = _answer(client, params, headers)
    with TestClient(routed) as client:
        assert short == _answer(client, params, headers), (params, who, lang)
