"""The issue's "Must show" for subscriptions: 1,000 events captured while a real webhook receiver (a second process
on loopback) is down half the time — stopped, or up and answering 503 — arrive exactly once each, in capture order,
after it comes back; the ``traceability worker`` (a real process) is killed with SIGKILL in the middle and started
again, and that changes nothing.

Exactly once, not at least once: the worker is killed only once it has tried the stopped receiver (its failure is in
the database), so no acknowledged delivery can be waiting for its commit; and the receiver, stopped with SIGTERM,
finishes the request in hand before it exits and logs a 200 only once its answer is written. (A worker killed
between a 2xx and its commit sends that batch again, under the same ``GS1-Delivery-ID``:
``test_epcis_subscriptions.py`` shows that case.)"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session

from tests.factories import api_key, auth, seed_masterdata
from tests.scanning.test_epcis_rest import capture, event
from tests.scanning.test_epcis_subscriptions import SECRET, _events_of, _signed, _started, _worker
from traceability.app import create_app
from traceability.models import Role
from traceability.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
EVENTS = 1000
PER_CAPTURE = 100
# What the receiver is while each capture is made: up, stopped (connections refused) or answering 503. Half of the
# captures are made while it is down; the worker is killed (and started again) at the one marked "kill".
SCHEDULE = ["up", "up", "stopped", "stopped", "up", "503", "503", "stopped+kill", "up", "up"]

RECEIVER = r"""
import http.server, json, os, signal, sys, threading
port, log_path, flag = int(sys.argv[1]), sys.argv[2], sys.argv[3]
lock = threading.Lock()

class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        status = 503 if os.path.exists(flag) else 200
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()
        self.wfile.flush()
        with lock:  # logged once the answer is written: a 200 in the log is a 200 the worker was sent
            with open(log_path, "a", encoding="utf-8") as f:
                f.write(json.dumps({"status": status, "path": self.path, "body": body.decode("utf-8"),
                                    "signature": self.headers.get("GS1-Signature"),
                                    "delivery": self.headers.get("GS1-Delivery-ID")}) + "\n")

    def log_message(self, *args):
        pass

server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
server.daemon_threads = False  # server_close() waits for the request in hand
signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
print("ready", flush=True)
server.serve_forever()
server.server_close()
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Receiver:
    """A webhook receiver on one fixed loopback port that can be stopped, started again, and told to answer 503."""

    def __init__(self, tmp_path: Path) -> None:
        self.script = tmp_path / "receiver.py"
        self.script.write_text(RECEIVER, encoding="utf-8")
        self.log = tmp_path / "received.jsonl"
        self.flag = tmp_path / "answer-503"
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[str] | None = None

    def start(self) -> None:
        assert self.proc is None
        self.proc = subprocess.Popen([sys.executable, str(self.script), str(self.port), str(self.log),
                                      str(self.flag)], stdout=subprocess.PIPE, text=True)  # fmt: skip
        assert self.proc.stdout is not None and self.proc.stdout.readline().strip() == "ready"

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(20)
            self.proc = None

    def answer_503(self, on: bool) -> None:
        if on:
            self.flag.write_text("503", encoding="utf-8")
        else:
            self.flag.unlink(missing_ok=True)

    def requests(self) -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text(encoding="utf-8").splitlines() if line]

    def accepted(self) -> list[dict[str, Any]]:
        return [r for r in self.requests() if r["status"] == 200]


def _failed_attempts(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT attempts FROM epcis_subscription")).scalar_one())


@pytest.mark.slow
def test_1000_events_arrive_exactly_once_in_order_through_outages_and_a_killed_worker(
    tmp_path: Path, committing_engine: Engine
) -> None:
    receiver = Receiver(tmp_path)
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
    kills = 0
    started = time.monotonic()
    try:
        receiver.start()
        with TestClient(app) as client:
            client.post("/epcis/queries", json={"name": "all", "query": {}}, headers=auth(key))
            hook = {"dest": receiver.url + "/all", "signatureToken": SECRET, "stream": True}
            made = client.post("/epcis/queries/all/subscriptions", headers=auth(key), json=hook)
            assert made.status_code == 201, made.text
            worker = _worker(db, env)
            _started(worker)
            for batch, state in enumerate(SCHEDULE):
                receiver.answer_503(state == "503")
                if state.startswith("stopped"):
                    receiver.stop()
                elif receiver.proc is None:
                    receiver.start()
                if state == "stopped+kill":
                    # The worker delivers one attempt after another: once its latest attempt is a failure (a 2xx
                    # resets the count), and the receiver can no longer answer 2xx, nothing acknowledged is waiting
                    # for its commit.
                    until = time.monotonic() + 30
                    while _failed_attempts(committing_engine) == 0 and time.monotonic() < until:
                        time.sleep(0.05)
                    assert _failed_attempts(committing_engine) > 0, "the worker never failed against the receiver"
                    worker.send_signal(signal.SIGKILL)
                    worker.wait(10)
                    assert worker.returncode == -signal.SIGKILL
                    kills += 1
                    worker = _worker(db, env)
                    _started(worker)
                events = [event(f"K{batch}-{i}") for i in range(PER_CAPTURE)]
                expected += capture(client, key, *events).json()["storedEventIDs"]
                time.sleep(0.3)  # the receiver stays in this state a moment, the worker at work
        assert len(expected) == EVENTS and receiver.proc is not None
        until = time.monotonic() + 90
        while time.monotonic() < until and len(_events_of(receiver.accepted())) < len(expected):
            time.sleep(0.2)
        time.sleep(0.5)  # anything sent twice would have arrived by now
    finally:
        if worker is not None:
            worker.send_signal(signal.SIGTERM)
            worker.communicate(timeout=20)
        receiver.stop()
    posts = receiver.accepted()
    assert _events_of(posts) == expected  # every event once, in capture order, none twice
    assert len({p["delivery"] for p in posts}) == len(posts)
    refused = [r for r in receiver.requests() if r["status"] == 503]
    assert refused and kills == 1, "the receiver was meant to answer 503 while flagged"
    assert all(_signed(r) for r in receiver.requests())
    assert time.monotonic() - started < 120
