"""A subscription's ``dest`` must be http(s) on the public internet: private, loopback and link-local destinations
are refused when the subscription is made, and again at each delivery (the name resolved again, DNS rebinding),
unless ``epcis_webhook_allow_private`` is on."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from scanning import subscriptions
from tests.factories import api_key, auth, seed_masterdata
from tests.scanning.test_epcis_rest import capture, event
from traceability.models import EpcisSubscription, Role
from traceability.settings import Settings
from traceability.worker import JobContext


@pytest.fixture
def keys(session: Session) -> dict[str, Any]:
    seed_masterdata(session)
    return {"gz": api_key(session, Role.distributor, "D-GZ")}


class _Hook(http.server.BaseHTTPRequestHandler):
    received: list[bytes] = []

    def do_POST(self) -> None:
        _Hook.received.append(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def hook() -> Iterator[str]:
    """A webhook receiver on loopback, in a thread: the private address the guard must not reach."""
    _Hook.received = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/in"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    "dest",
    ["http://127.0.0.1:8080/x", "http://10.1.2.3/x", "https://192.168.0.1/x", "http://172.16.5.4/x",
     "http://169.254.169.254/latest/meta-data", "http://[::1]:8000/x", "http://[fe80::1]/x", "http://0.0.0.0/x",
     "http://100.64.0.1/x", "http://[::ffff:127.0.0.1]/x", "http://localhost:9/x"],
)  # fmt: skip
def test_a_private_loopback_or_link_local_dest_is_refused(client: TestClient, keys: dict[str, Any], dest: str) -> None:
    gz = auth(keys["gz"])
    client.post("/epcis/queries", json={"name": "q", "query": {}}, headers=gz)
    resp = client.post("/epcis/queries/q/subscriptions", json={"dest": dest, "stream": True},
                       headers={**gz, "Accept-Language": "en"})  # fmt: skip
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"] == "subscription_invalid" and resp.json()["reason"] == "dest_private"
    assert "private, loopback or link-local" in resp.json()["detail"]
    zh = client.post("/epcis/queries/q/subscriptions", json={"dest": dest, "stream": True}, headers=gz)
    assert zh.status_code == 400 and "私有" in zh.json()["detail"]


def test_public_destinations_and_the_setting(client: TestClient, keys: dict[str, Any], settings: Settings) -> None:
    gz = auth(keys["gz"])
    client.post("/epcis/queries", json={"name": "q", "query": {}}, headers=gz)
    for dest in ("https://8.8.8.8/hook", "https://hooks.example.com/in"):  # a public literal; a name (unresolved here)
        made = client.post("/epcis/queries/q/subscriptions", json={"dest": dest, "stream": True}, headers=gz)
        assert made.status_code == 201, (dest, made.text)
    assert client.post("/epcis/queries/q/subscriptions", json={"dest": "file:///etc/passwd", "stream": True},
                       headers=gz).json()["reason"] == "dest"  # fmt: skip
    settings.epcis_webhook_allow_private = True  # a test's local receiver
    made = client.post("/epcis/queries/q/subscriptions", json={"dest": "http://127.0.0.1:9/x", "stream": True},
                       headers=gz)  # fmt: skip
    assert made.status_code == 201, made.text


def _deliver(session: Session, settings: Settings) -> None:
    """One pass of the worker job as the worker runs it: no client given, the guarded one is used."""
    for _ in range(10):
        result = subscriptions.deliver_subscriptions(JobContext(session=session, now=datetime.now(UTC),
                                                                settings=settings))  # fmt: skip
        session.commit()
        if not result.more:
            return


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_delivery_resolves_the_host_again_and_sends_nothing_to_a_private_address(
    client: TestClient, session: Session, settings: Settings, keys: dict[str, Any], hook: str, host: str
) -> None:
    gz = auth(keys["gz"])
    client.post("/epcis/queries", json={"name": "q", "query": {}}, headers=gz)
    settings.epcis_webhook_allow_private = True  # allowed when made (as a name may resolve elsewhere then) …
    made = client.post("/epcis/queries/q/subscriptions", headers=gz,
                       json={"dest": hook.replace("127.0.0.1", host), "stream": True})  # fmt: skip
    assert made.status_code == 201, made.text
    capture(client, keys["gz"], event("G1"))
    sub = session.exec(select(EpcisSubscription)).one()
    cursor = sub.cursor
    settings.epcis_webhook_allow_private = False  # … refused when delivered
    _deliver(session, settings)
    session.refresh(sub)
    assert _Hook.received == []
    assert sub.cursor == cursor and sub.attempts == 1
    assert sub.last_error is not None and "outside the public internet" in sub.last_error
    # allowed again, the same subscription delivers (so it was the guard, not the receiver, that refused)
    settings.epcis_webhook_allow_private = True
    sub.next_attempt_at = datetime.now(UTC)
    session.add(sub)
    session.commit()
    _deliver(session, settings)
    session.refresh(sub)
    assert len(_Hook.received) == 1 and b"G1" in _Hook.received[0] and sub.attempts == 0


@pytest.mark.parametrize(
    ("dest", "private"),
    [("http://8.8.8.8/", False), ("https://[2001:4860:4860::8888]/", False), ("http://127.0.0.2/", True),
     ("http://[::ffff:10.0.0.1]/", True), ("http://224.0.0.1/", True), ("http://240.0.0.1/", True)],
)  # fmt: skip
def test_which_addresses_are_private(dest: str, private: bool) -> None:
    assert subscriptions.dest_is_private(dest) is private
