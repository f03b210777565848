"""The binding's streaming subscription over a websocket (``GET /epcis/queries/{name}/events?stream=true`` with
``Upgrade: websocket``): new events pushed as they are captured, in order, scoped to the key's party; refused
handshakes answered as problems; a deleted query closes its streams."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session
from starlette.testclient import WebSocketDenialResponse

from tests.factories import api_key, auth, seed_masterdata
from tests.scanning.test_epcis_rest import capture, event
from traceability.app import create_app
from traceability.models import Role
from traceability.settings import Settings


@pytest.fixture
def world(tmp_path: Path, committing_engine: Engine) -> Iterator[tuple[TestClient, dict[str, Any]]]:
    """An app over a database that commits (a stream reads the store in transactions of its own)."""
    with Session(committing_engine) as s:
        seed_masterdata(s)
        keys = {"gz": api_key(s, Role.distributor, "D-GZ"), "nj": api_key(s, Role.distributor, "D-NJ"),
                "auditor": api_key(s, Role.auditor)}  # fmt: skip
        s.commit()
    settings = Settings(db=str(committing_engine.url), key_dir=tmp_path / "keys", resolver="https://id.example.com")
    with TestClient(create_app(settings, engine=committing_engine, run_migrations=False)) as client:
        yield client, keys


def _ids(message: dict[str, Any]) -> list[str]:
    assert message["type"] == "EPCISQueryDocument"
    return [e["epcList"][0].rsplit(".", 1)[1] for e in message["epcisBody"]["queryResults"]["resultsBody"]["eventList"]]


def _received(ws: Any, count: int) -> list[str]:
    got: list[str] = []
    while len(got) < count:
        got += _ids(ws.receive_json())
    return got


def test_new_events_are_pushed_in_order_and_only_what_the_key_may_see(
    world: tuple[TestClient, dict[str, Any]],
) -> None:
    client, keys = world
    gz = auth(keys["gz"])
    assert client.post("/epcis/queries", json={"name": "shipped", "query": {"EQ_bizStep": "shipping"}},
                       headers=gz).status_code == 201  # fmt: skip
    capture(client, keys["gz"], event("BEFORE"))  # stored before the stream opens: never pushed
    with client.websocket_connect("/epcis/queries/shipped/events?stream=true", headers=gz) as ws:
        capture(client, keys["gz"], event("A1"), event("A2"), event("R1", step="receiving"))
        assert _received(ws, 2) == ["A1", "A2"]
        capture(client, keys["nj"], event("N1", at="D-NJ"))  # another party's: not D-GZ's to see
        capture(client, keys["gz"], event("R2", step="receiving"))  # not matching the query
        capture(client, keys["gz"], *[event(f"B{i}") for i in range(150)])  # more than one message holds
        assert _received(ws, 150) == [f"B{i}" for i in range(150)]  # nothing before them: N1 and R2 never came
        capture(client, keys["gz"], event("C1"))
        message = ws.receive_json()
        assert _ids(message) == ["C1"] and message["epcisBody"]["queryResults"]["queryName"] == "shipped"
    # the same stream on the query's subscriptions resource
    with client.websocket_connect("/epcis/queries/shipped/subscriptions?stream=true", headers=gz) as ws:
        capture(client, keys["nj"], event("N2", at="D-NJ"))
        capture(client, keys["gz"], event("D1"))
        assert _received(ws, 1) == ["D1"]


def test_a_stream_sees_what_its_key_sees(world: tuple[TestClient, dict[str, Any]]) -> None:
    client, keys = world
    for who in ("nj", "auditor"):
        client.post("/epcis/queries", json={"name": "all", "query": {}}, headers=auth(keys[who]))
    with (
        client.websocket_connect("/epcis/queries/all/events?stream=true", headers=auth(keys["nj"])) as nj,
        client.websocket_connect("/epcis/queries/all/events?stream=true", headers=auth(keys["auditor"])) as au,
    ):
        capture(client, keys["gz"], event("G1"))
        capture(client, keys["nj"], event("N1", at="D-NJ"))
        assert _received(nj, 1) == ["N1"]
        assert _received(au, 2) == ["G1", "N1"]


@pytest.mark.parametrize(
    ("path", "who", "status", "error"),
    [
        ("/epcis/queries/mine/events?stream=true", None, 401, "unauthenticated"),
        ("/epcis/queries/mine/events?stream=true", "gz", 404, "no_such_resource"),  # D-NJ's query
        ("/epcis/queries/nothing/events?stream=true", "nj", 404, "no_such_resource"),
        ("/epcis/queries/mine/events", "nj", 400, "subscription_invalid"),
        ("/epcis/queries/mine/events?stream=true&minute=5", "nj", 400, "subscription_invalid"),
        ("/epcis/queries/mine/events?stream=true&initialRecordTime=soon", "nj", 400, "subscription_invalid"),
    ],
)
def test_a_refused_handshake_is_a_problem(
    world: tuple[TestClient, dict[str, Any]], path: str, who: str | None, status: int, error: str
) -> None:
    client, keys = world
    client.post("/epcis/queries", json={"name": "mine", "query": {}}, headers=auth(keys["nj"]))
    headers = {"Accept-Language": "en", **(auth(keys[who]) if who else {})}
    with pytest.raises(WebSocketDenialResponse) as refused, client.websocket_connect(path, headers=headers):
        pass
    response = refused.value
    assert response.status_code == status and response.json()["error"] == error
    assert response.json()["type"].startswith("epcisException:")


def test_deleting_the_query_closes_its_streams(world: tuple[TestClient, dict[str, Any]]) -> None:
    client, keys = world
    gz = auth(keys["gz"])
    client.post("/epcis/queries", json={"name": "q", "query": {}}, headers=gz)
    with client.websocket_connect("/epcis/queries/q/events?stream=true", headers=gz) as ws:
        capture(client, keys["gz"], event("E1"))
        assert _received(ws, 1) == ["E1"]
        assert client.delete("/epcis/queries/q", headers=gz).status_code == 204
        closed = ws.receive()
        assert closed["type"] == "websocket.close" and closed["code"] == 1000
