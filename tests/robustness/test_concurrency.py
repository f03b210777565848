"""Concurrent captures against a real server: 8 clients capture at once, 20 times each, while ``/healthz`` is
polled. Every capture is acknowledged and stored, the chain stays whole, and the server keeps answering.

Before the capture route ran in the thread pool it blocked the event loop: on PostgreSQL the second capture
waited for the first one's row lock on the chain head inside the loop, so the first one's commit was never
scheduled and the whole server hung. A hang here is bounded by a timeout that fails the test; the one latency
bound (p99 of ``/healthz`` under 200 ms) is the issue's requirement, generous for a call that touches nothing.
"""

from __future__ import annotations

import json
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor, wait

import httpx
import pytest
from sqlalchemy import func
from sqlmodel import Session, select

from ledger.store import verify_chain
from tests.robustness.conftest import Server
from traceability.models import Event

CLIENTS = 8
CAPTURES = 20
EVENTS = 3
HANG_TIMEOUT = 60.0
"""Seconds for all 160 captures; they take a few. Longer means the server hangs, and the test fails."""
P99_BOUND = 0.200


def _document(client: int, capture: int) -> bytes:
    events = [
        {"type": "ObjectEvent", "action": "OBSERVE", "bizStep": "inspecting",
         "eventID": f"urn:uuid:0c0c0c0c-0000-4000-8000-{client:04d}{capture:04d}{i:04d}",
         "epcList": [f"urn:epc:id:sgtin:6901234.000010.C{client}N{capture}E{i}"],
         "eventTime": "2026-03-01T10:00:00+08:00", "eventTimeZoneOffset": "+08:00",
         "bizLocation": {"id": "urn:epc:id:sgln:6901234.00000.0"}}
        for i in range(EVENTS)
    ]  # fmt: skip
    return json.dumps({"@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
                       "type": "EPCISDocument", "schemaVersion": "2.0", "creationDate": "2026-03-01T02:00:00Z",
                       "epcisBody": {"eventList": events}}).encode()  # fmt: skip


def _stored(server: Server) -> int:
    with Session(server.engine) as session:
        return int(session.exec(select(func.count()).select_from(Event)).one())


def test_eight_clients_capture_at_once_while_healthz_answers(server: Server) -> None:
    before = _stored(server)
    bodies = [[_document(c, n) for n in range(CAPTURES)] for c in range(CLIENTS)]
    headers = {**server.auth, "Content-Type": "application/ld+json"}
    latencies: list[float] = []
    failures: list[str] = []
    done = threading.Event()
    start = threading.Barrier(CLIENTS + 1)

    def poll() -> None:
        with server.client(timeout=30) as http:
            http.get("/healthz")  # the connection is open before the clock runs
            start.wait()
            while not done.is_set():
                began = time.perf_counter()
                response = http.get("/healthz")
                latencies.append(time.perf_counter() - began)
                if response.status_code != 200:
                    failures.append(f"healthz answered {response.status_code}")
                done.wait(0.01)

    def capture(client: int) -> list[httpx.Response]:
        with server.client(timeout=HANG_TIMEOUT, headers=headers) as http:
            start.wait()
            return [http.post("/epcis/capture", content=body) for body in bodies[client]]

    pool = ThreadPoolExecutor(CLIENTS + 1)
    poller = pool.submit(poll)
    captures = [pool.submit(capture, c) for c in range(CLIENTS)]
    finished, pending = wait(captures, timeout=HANG_TIMEOUT)
    done.set()
    poller.result(timeout=30)
    pool.shutdown(wait=not pending, cancel_futures=True)
    if pending:
        pytest.fail(f"{len(pending)} of {CLIENTS} clients unfinished after {HANG_TIMEOUT:.0f} s: the server hangs")
    server.alive()

    responses = [r for f in captures for r in f.result()]
    refused = [f"{r.status_code} {r.text[:200]}" for r in responses if r.status_code != 202]
    assert not refused, refused[:5]
    assert all(r.json()["stored"] == EVENTS for r in responses)
    assert _stored(server) - before == CLIENTS * CAPTURES * EVENTS
    with Session(server.engine) as session:
        report = verify_chain(session=session)
    assert report.ok, report.problems

    assert not failures, failures[:5]
    assert len(latencies) >= 20, f"only {len(latencies)} health checks ran"
    p99 = statistics.quantiles(latencies, n=100, method="inclusive")[98]
    print(f"\n/healthz during {len(responses)} captures: {len(latencies)} polls, "
          f"median {statistics.median(latencies) * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, "
          f"max {max(latencies) * 1000:.1f} ms; server peak RSS {server.status('VmHWM') / 2**20:.0f} MB")  # fmt: skip
    assert p99 < P99_BOUND, f"p99 of /healthz was {p99 * 1000:.0f} ms during the captures"


def test_one_document_captured_by_eight_clients_at_once_is_stored_once(server: Server) -> None:
    body = _document(CLIENTS + 1, 0)
    start = threading.Barrier(CLIENTS)

    def capture() -> httpx.Response:
        with server.client(timeout=HANG_TIMEOUT, headers={**server.auth, "Content-Type": "application/json"}) as http:
            start.wait()
            return http.post("/epcis/capture", content=body)

    with ThreadPoolExecutor(CLIENTS) as pool:
        responses = list(pool.map(lambda _: capture(), range(CLIENTS), timeout=HANG_TIMEOUT))
    assert [r.status_code for r in responses] == [202] * CLIENTS, [r.text[:200] for r in responses]
    assert sorted(r.json()["stored"] for r in responses) == [0] * (CLIENTS - 1) + [EVENTS]
