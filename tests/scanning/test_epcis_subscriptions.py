"""EPCIS 2.0 named queries and webhook subscriptions: per-party queries, and deliveries to a real receiver (a second
process on loopback that answers 500 on a schedule) that arrive once each, in order, signed — driven tick by tick
with a clock, and by a real ``traceability worker`` killed with SIGKILL and started again.

``EVENTS`` is 200 here (it crosses the delivery batch twice over); the issue's 1,000 events, with the receiver
stopped and answering 503 half the time and the worker killed in the middle, are ``test_epcis_webhook_1000.py``.
The receivers are on loopback, so these tests turn ``epcis_webhook_allow_private`` on."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from scanning import subscriptions
from tests.factories import api_key, auth, seed_masterdata
from tests.scanning.test_epcis_rest import capture, event
from traceability.app import create_app
from traceability.models import EpcisSubscription, Role
from traceability.settings import Settings
from traceability.worker import JobContext

ROOT = Path(__file__).resolve().parents[2]
EVENTS = 200
"""Events captured while the receiver fails half the time (the issue's 1,000, scaled down for CI)."""
PER_CAPTURE = 10
SECRET = "13df38d8275b13f05704629e5f1cf3d45d6132d5"

RECEIVER = r"""
import http.server, json, sys, threading
log_path, fail_run = sys.argv[1], int(sys.argv[2])
lock = threading.Lock()
count = [0]

class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with lock:
            n = count[0]
            count[0] += 1
            status = 500 if (n // fail_run) % 2 == 1 else 200
            with open(log_path, "a", encoding="utf-8") as f:
                f.write(json.dumps({"n": n, "status": status, "path": self.path, "body": body.decode("utf-8"),
                                    "signature": self.headers.get("GS1-Signature"),
                                    "delivery": self.headers.get("GS1-Delivery-ID")}) + "\n")
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass

server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_port, flush=True)
server.serve_forever()
"""


class Receiver:
    """The webhook receiver process and what it logged."""

    def __init__(self, tmp_path: Path, fail_run: int) -> None:
        script = tmp_path / "receiver.py"
        script.write_text(RECEIVER, encoding="utf-8")
        self.log = tmp_path / "received.jsonl"
        self.proc = subprocess.Popen([sys.executable, str(script), str(self.log), str(fail_run)],
                                     stdout=subprocess.PIPE, text=True)  # fmt: skip
        assert self.proc.stdout is not None
        self.url = f"http://127.0.0.1:{int(self.proc.stdout.readline())}"

    def requests(self) -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text(encoding="utf-8").splitlines() if line]

    def accepted(self, path: str) -> list[dict[str, Any]]:
        return [r for r in self.requests() if r["status"] == 200 and r["path"] == path]

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    return Settings(db=db_url, key_dir=tmp_path / "keys", resolver="https://id.example.com",
                    epcis_webhook_allow_private=True)  # fmt: skip


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[Receiver]:
    r = Receiver(tmp_path, fail_run=3)
    try:
        yield r
    finally:
        r.stop()


@pytest.fixture
def keys(session: Session) -> dict[str, Any]:
    seed_masterdata(session)
    return {
        "gz": api_key(session, Role.distributor, "D-GZ"),
        "nj": api_key(session, Role.distributor, "D-NJ"),
        "admin": api_key(session, Role.admin),
    }


def _events_of(posts: list[dict[str, Any]]) -> list[str]:
    out: list[str] = []
    for post in posts:
        out += [e["eventID"] for e in json.loads(post["body"])["epcisBody"]["queryResults"]["resultsBody"]["eventList"]]
    return out


def _signed(post: dict[str, Any]) -> bool:
    expected = hmac.new(SECRET.encode(), post["body"].encode("utf-8"), hashlib.sha256).hexdigest()
    return hmac.compare_digest(post["signature"] or "", expected)


# --- named queries -------------------------------------------------------------------------------------------------


def test_named_queries_are_stored_per_party_and_run_with_the_callers_scope(
    client: TestClient, keys: dict[str, Any]
) -> None:
    gz, nj, admin = auth(keys["gz"]), auth(keys["nj"]), auth(keys["admin"])
    capture(client, keys["gz"], event("A1"), event("A2", step="receiving"), event("A3"))
    capture(client, keys["nj"], event("B1", at="D-NJ"))
    body = {"name": "shipped", "query": {"EQ_bizStep": ["shipping"], "eventType": "ObjectEvent"}}
    made = client.post("/epcis/queries", json=body, headers=gz)
    assert made.status_code == 201, made.text
    assert made.headers["Location"] == "/epcis/queries/shipped" and made.json() == body
    again = client.post("/epcis/queries", json=body, headers={**gz, "Accept-Language": "en"})
    assert again.status_code == 409 and again.json()["error"] == "query_exists"
    assert again.json()["type"] == "epcisException:ResourceAlreadyExistsException"
    # another party may use the same name for its own query
    assert client.post("/epcis/queries", json=body, headers=nj).status_code == 201
    bad = client.post("/epcis/queries", json={"name": "x", "query": {"EQ_bizStepp": "shipping"}}, headers=gz)
    assert bad.status_code == 400 and bad.json()["parameter"] == "EQ_bizStepp"
    nested = client.post("/epcis/queries", json={"name": "y", "query": {"EQ_bizStep": {"a": 1}}}, headers=gz)
    assert nested.status_code == 400 and "查询参数" in nested.json()["detail"]

    assert [q["name"] for q in client.get("/epcis/queries", headers=gz).json()] == ["shipped"]
    assert len(client.get("/epcis/queries", headers=admin).json()) == 2
    found = client.get("/epcis/queries/shipped/events", headers=gz)
    assert [e["epcList"][0][-2:] for e in found.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]] == [
        "A1", "A3"]  # fmt: skip
    theirs = client.get("/epcis/queries/shipped/events", headers=nj).json()
    assert [e["epcList"][0][-2:] for e in theirs["epcisBody"]["queryResults"]["resultsBody"]["eventList"]] == ["B1"]
    page = client.get("/epcis/queries/shipped/events", params={"perPage": 1}, headers=gz)
    token = page.headers["Link"].split("nextPageToken=")[1].split(">")[0]
    second = client.get(f"/epcis/queries/shipped/events?perPage=1&nextPageToken={token}", headers=gz)
    assert second.status_code == 200, second.text
    # the token is bound to this query and caller: not valid on GET /epcis/events
    assert client.get(f"/epcis/events?perPage=1&nextPageToken={token}", headers=gz).status_code == 400

    assert client.delete("/epcis/queries/nothing", headers=gz).status_code == 404
    assert client.delete("/epcis/queries/shipped", headers=gz).status_code == 204
    assert client.get("/epcis/queries/shipped", headers=gz).status_code == 404
    assert client.get("/epcis/queries/shipped", headers=nj).json() == body


def test_another_party_can_neither_see_nor_delete_a_query_or_its_subscriptions(
    client: TestClient, keys: dict[str, Any]
) -> None:
    gz, nj = auth(keys["gz"]), auth(keys["nj"])
    assert client.post("/epcis/queries", json={"name": "mine", "query": {}}, headers=gz).status_code == 201
    hook = {"dest": "https://hooks.example.com/in", "signatureToken": SECRET, "stream": True}
    sub = client.post("/epcis/queries/mine/subscriptions", headers=gz, json=hook)
    assert sub.status_code == 201, sub.text
    sid = sub.json()["subscriptionID"]
    assert sub.headers["Location"] == f"/epcis/queries/mine/subscriptions/{sid}"
    assert "signatureToken" not in sub.text and SECRET not in sub.text
    for method, path in (("GET", "/epcis/queries/mine"), ("DELETE", "/epcis/queries/mine"),
                         ("GET", "/epcis/queries/mine/events"), ("GET", "/epcis/queries/mine/subscriptions"),
                         ("GET", f"/epcis/queries/mine/subscriptions/{sid}"),
                         ("DELETE", f"/epcis/queries/mine/subscriptions/{sid}")):  # fmt: skip
        assert client.request(method, path, headers=nj).status_code == 404, (method, path)
    assert client.get("/epcis/queries", headers=nj).json() == []
    listed = client.get("/epcis/queries/mine/subscriptions", headers=gz).json()
    assert [s["subscriptionID"] for s in listed] == [sid] and listed[0]["stream"] is True
    assert client.delete(f"/epcis/queries/mine/subscriptions/{sid}", headers=gz).status_code == 204
    assert client.get(f"/epcis/queries/mine/subscriptions/{sid}", headers=gz).status_code == 404


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"dest": "ftp://example.com/x", "stream": True}, "dest"),
        ({"dest": "not a url", "stream": True}, "dest"),
        ({"dest": "https://example.com/x"}, "when"),
        ({"dest": "https://example.com/x", "stream": True, "schedule": {"interval": 5}}, "when"),
        ({"dest": "https://example.com/x", "schedule": {"hour": "24", "minute": "5"}}, "schedule"),
        ({"dest": "https://example.com/x", "schedule": {"interval": 0}}, "schedule"),
        ({"dest": "https://example.com/x", "stream": True, "reportIfEmpty": True}, "report_if_empty"),
    ],
)
def test_a_subscription_the_server_cannot_keep_is_refused_with_its_reason(
    client: TestClient, keys: dict[str, Any], body: dict[str, Any], reason: str
) -> None:
    gz = auth(keys["gz"])
    assert client.post("/epcis/queries", json={"name": "q", "query": {}}, headers=gz).status_code == 201
    resp = client.post("/epcis/queries/q/subscriptions", json=body, headers={**gz, "Accept-Language": "en"})
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"] == "subscription_invalid" and resp.json()["reason"] == reason


# --- delivery, tick by tick ----------------------------------------------------------------------------------------


def _tick(session: Session, settings: Settings, now: datetime, http: httpx.Client) -> None:
    """One worker pass at ``now``: the job again while it reports more, as ``run_due`` runs it."""
    for _ in range(1000):
        result = subscriptions.deliver_subscriptions(JobContext(session=session, now=now, settings=settings), http)
        session.commit()
        if not result.more:
            return
    raise AssertionError("the job never settled")


def test_every_event_arrives_once_in_order_and_signed_while_the_receiver_fails_half_the_time(
    client: TestClient, session: Session, settings: Settings, keys: dict[str, Any], receiver: Receiver
) -> None:
    gz, nj = auth(keys["gz"]), auth(keys["nj"])
    capture(client, keys["gz"], event("OLD"))  # before the subscription: never delivered
    client.post("/epcis/queries", json={"name": "all", "query": {}}, headers=gz)
    client.post("/epcis/queries", json={"name": "received", "query": {"EQ_bizStep": "receiving"}}, headers=gz)
    client.post("/epcis/queries", json={"name": "all", "query": {}}, headers=nj)
    start = datetime(2026, 3, 1, tzinfo=UTC)
    scheduled = {"schedule": {"interval": 60}, "reportIfEmpty": True}
    for name, key, path, extra in (("all", gz, "/all", {"stream": True}),
                                   ("received", gz, "/received", {"stream": True}),
                                   ("all", nj, "/theirs", scheduled)):  # fmt: skip
        made = client.post(f"/epcis/queries/{name}/subscriptions", headers=key,
                           json={"dest": receiver.url + path, "signatureToken": SECRET, **extra})  # fmt: skip
        assert made.status_code == 201, made.text
    session.execute(EpcisSubscription.__table__.update().values(next_attempt_at=start))  # type: ignore[attr-defined]
    session.commit()

    expected: list[str] = []
    now = start
    with subscriptions.guarded_client(allow_private=True) as http:
        for batch in range(EVENTS // PER_CAPTURE):
            events = [event(f"S{batch}-{i}", step="receiving" if i == 0 else "shipping") for i in range(PER_CAPTURE)]
            expected += capture(client, keys["gz"], *events).json()["storedEventIDs"]
            now += timedelta(seconds=1)
            _tick(session, settings, now, http)
        for _ in range(100):  # the receiver's outages end; the backoff is at most a few seconds here
            now += timedelta(seconds=5)
            _tick(session, settings, now, http)
            if len(_events_of(receiver.accepted("/all"))) >= len(expected):
                break

    posts = receiver.accepted("/all")
    assert _events_of(posts) == expected  # each once, in capture order, nothing from before the subscription
    assert len({p["delivery"] for p in posts}) == len(posts)
    failed = [r for r in receiver.requests() if r["status"] == 500]
    assert len(failed) >= len(receiver.requests()) // 3, "the receiver was meant to fail half the time"
    assert all(_signed(r) for r in receiver.requests())
    assert all(len(json.loads(p["body"])["epcisBody"]["queryResults"]["resultsBody"]["eventList"])
               <= subscriptions.DELIVERY_BATCH for p in posts)  # fmt: skip
    # a filtered stream gets its events only; the other party's scheduled subscription sees none of D-GZ's, and
    # says so (reportIfEmpty) once per interval
    assert _events_of(receiver.accepted("/received")) == expected[::PER_CAPTURE]
    theirs = receiver.accepted("/theirs")
    assert _events_of(theirs) == [] and 1 <= len(theirs) <= (now - start).total_seconds() // 60 + 1
    doc = json.loads(theirs[0]["body"])
    assert doc["type"] == "EPCISQueryDocument" and doc["epcisBody"]["queryResults"]["queryName"] == "all"
    subs = {s.dest.rsplit("/", 1)[1]: s for s in session.exec(select(EpcisSubscription)).all()}
    assert subs["all"].attempts == 0 and subs["all"].last_notified_at is not None


def test_a_failing_subscription_backs_off_exponentially_and_keeps_its_cursor(
    client: TestClient, session: Session, settings: Settings, keys: dict[str, Any], tmp_path: Path
) -> None:
    gz = auth(keys["gz"])
    client.post("/epcis/queries", json={"name": "all", "query": {}}, headers=gz)
    # nobody listens on this port: every attempt fails at once
    made = client.post("/epcis/queries/all/subscriptions", headers=gz,
                       json={"dest": "http://127.0.0.1:9/none", "stream": True})  # fmt: skip
    sid = made.json()["subscriptionID"]
    capture(client, keys["gz"], event("F1"))
    sub = session.exec(select(EpcisSubscription).where(EpcisSubscription.subscription_id == sid)).one()
    cursor = sub.cursor
    now = datetime(2026, 3, 1, tzinfo=UTC)
    sub.next_attempt_at = now
    session.commit()
    waits = []
    with subscriptions.guarded_client(allow_private=True, timeout=1.0) as http:
        for _ in range(5):
            _tick(session, settings, now, http)
            session.refresh(sub)
            waits.append((sub.next_attempt_at.replace(tzinfo=UTC) - now).total_seconds())
            _tick(session, settings, now + timedelta(seconds=waits[-1] / 2), http)  # not due yet: nothing happens
            session.refresh(sub)
            now = sub.next_attempt_at.replace(tzinfo=UTC)
    assert waits == [1, 2, 4, 8, 16]
    assert sub.cursor == cursor and sub.attempts == 5 and sub.last_error


# --- delivery by the worker process, killed and restarted ---------------------------------------------------------


def _worker(db: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "cli", "--db", db, "worker", "--interval", "0.1"], cwd=ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip


def _started(proc: subprocess.Popen[str]) -> None:
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line, proc.stderr.read() if proc.stderr else "worker ended"
    assert "epcis.deliver_subscriptions" in json.loads(line)["started"]


@pytest.mark.slow
def test_a_worker_killed_mid_delivery_and_restarted_delivers_every_event_once(
    tmp_path: Path, committing_engine: Engine
) -> None:
    receiver = Receiver(tmp_path, fail_run=1)
    db = committing_engine.url.render_as_string(hide_password=False)
    settings = Settings(db=db, key_dir=tmp_path / "keys", resolver="https://id.example.com",
                        epcis_webhook_allow_private=True)  # fmt: skip
    env = {**os.environ, "TRACEABILITY_KEY_DIR": str(tmp_path / "keys"), "PYTHONPATH": str(ROOT),
           "TRACEABILITY_EPCIS_WEBHOOK_ALLOW_PRIVATE": "true"}  # fmt: skip
    env.pop("TRACEABILITY_POLICY_FILE", None)
    with Session(committing_engine) as s:
        seed_masterdata(s)
        key = api_key(s, Role.distributor, "D-GZ")
        s.commit()
    app = create_app(settings, engine=committing_engine, run_migrations=False)
    expected: list[str] = []
    worker = None
    try:
        with TestClient(app) as client:
            client.post("/epcis/queries", json={"name": "all", "query": {}}, headers=auth(key))
            hook = {"dest": receiver.url + "/all", "signatureToken": SECRET, "stream": True}
            made = client.post("/epcis/queries/all/subscriptions", headers=auth(key), json=hook)
            assert made.status_code == 201, made.text
            worker = _worker(db, env)
            _started(worker)
            for batch in range(EVENTS // PER_CAPTURE):
                if batch == EVENTS // PER_CAPTURE // 2:
                    worker.send_signal(signal.SIGKILL)
                    worker.wait(10)
                    assert worker.returncode == -signal.SIGKILL
                    worker = _worker(db, env)
                    _started(worker)
                events = [event(f"W{batch}-{i}") for i in range(PER_CAPTURE)]
                expected += capture(client, key, *events).json()["storedEventIDs"]
                time.sleep(0.05)
        until = time.monotonic() + 120
        while time.monotonic() < until and len(set(_events_of(receiver.accepted("/all")))) < len(expected):
            time.sleep(0.2)
    finally:
        if worker is not None:
            worker.send_signal(signal.SIGTERM)
            worker.communicate(timeout=20)
        receiver.stop()
    posts = receiver.accepted("/all")
    arrived = _events_of(posts)
    first_seen = list(dict.fromkeys(arrived))
    assert first_seen == expected
    # A repeat can only be a batch the receiver acknowledged as the first worker was killed, before its commit:
    # sent again under the same GS1-Delivery-ID, starting at the same event.
    seen: dict[str, str] = {}
    for post in posts:
        ids = _events_of([post])
        if post["delivery"] in seen:
            assert ids[0] == seen[post["delivery"]]
        seen.setdefault(post["delivery"], ids[0])
    assert len(arrived) - len(first_seen) <= subscriptions.DELIVERY_BATCH
    assert all(_signed(r) for r in receiver.requests())
    assert any(r["status"] == 500 for r in receiver.requests())
