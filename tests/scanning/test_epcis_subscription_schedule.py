"""GS1's cron-like subscription schedule (``second`` … ``dayOfWeek``, UTC): refused naming the bad field, stored and
shown as given, and delivered by the worker at the times it names — driven with a clock, a pass every 20 s, against
an in-process receiver (``httpx.MockTransport``); the cursor still moves only on a 2xx, ``reportIfEmpty`` honoured."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from scanning import subscriptions
from tests.factories import api_key, auth, seed_masterdata
from tests.scanning.test_epcis_rest import capture, event
from traceability.models import EpcisSubscription, Role
from traceability.settings import Settings
from traceability.worker import JobContext

HOOK = "https://hooks.example.com"


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    # no name to resolve at creation: deliveries here go to an in-process receiver, never the network
    return Settings(db=db_url, key_dir=tmp_path / "keys", resolver="https://id.example.com",
                    epcis_webhook_allow_private=True)  # fmt: skip


@pytest.fixture
def keys(session: Session) -> dict[str, Any]:
    seed_masterdata(session)
    return {"gz": api_key(session, Role.distributor, "D-GZ")}


def _subscribe(client: TestClient, key: Any, path: str, schedule: dict[str, Any], **extra: Any) -> Any:
    return client.post("/epcis/queries/all/subscriptions", headers={**auth(key), "Accept-Language": "en"},
                       json={"dest": HOOK + path, "schedule": schedule, **extra})  # fmt: skip


@pytest.mark.parametrize(
    ("schedule", "field"),
    [
        ({"minute": "60"}, "minute"),
        ({"second": "0,61"}, "second"),
        ({"hour": "24"}, "hour"),
        ({"hour": "[9-5]"}, "hour"),
        ({"minute": "*/5"}, "minute"),
        ({"minute": "0;30"}, "minute"),
        ({"dayOfMonth": "0"}, "dayOfMonth"),
        ({"dayOfMonth": "31", "month": "2,4"}, "dayOfMonth"),  # never comes round
        ({"month": "13"}, "month"),
        ({"dayOfWeek": "0"}, "dayOfWeek"),  # GS1: 1 is Monday, 7 Sunday
        ({"dayOfWeek": "[1-8]"}, "dayOfWeek"),
        ({"minute": "5", "year": "2027"}, "year"),
        ({"minute": "5", "interval": 60}, "interval"),
        ({"interval": 0}, "interval"),
        ({}, "schedule"),
    ],
)
def test_a_bad_schedule_is_refused_naming_its_field(
    client: TestClient, keys: dict[str, Any], schedule: dict[str, Any], field: str
) -> None:
    assert client.post("/epcis/queries", json={"name": "all", "query": {}}, headers=auth(keys["gz"])).status_code == 201
    resp = _subscribe(client, keys["gz"], "/x", schedule)
    assert resp.status_code == 400, resp.text
    body = resp.json()
    assert body["error"] == "subscription_invalid" and body["reason"] == "schedule" and body["field"] == field
    assert field in body["detail"]
    zh = client.post("/epcis/queries/all/subscriptions", headers={**auth(keys["gz"]), "Accept-Language": "zh-CN"},
                     json={"dest": HOOK + "/x", "schedule": schedule})  # fmt: skip
    assert zh.status_code == 400 and zh.json()["field"] == field
    assert zh.json()["detail"] != body["detail"] and any("\u4e00" <= ch <= "\u9fff" for ch in zh.json()["detail"])


def test_a_schedule_is_stored_as_given_and_first_runs_at_its_next_time(
    client: TestClient, session: Session, keys: dict[str, Any]
) -> None:
    gz = auth(keys["gz"])
    client.post("/epcis/queries", json={"name": "all", "query": {}}, headers=gz)
    before = datetime.now(UTC)
    made = _subscribe(client, keys["gz"], "/a", {"hour": "[0-23]", "minute": "0,30"}, reportIfEmpty=True)
    assert made.status_code == 201, made.text
    assert made.json()["schedule"] == {"hour": "[0-23]", "minute": "0,30"} and made.json()["reportIfEmpty"] is True
    listed = client.get("/epcis/queries/all/subscriptions", headers=gz).json()
    assert listed[0]["schedule"] == {"hour": "[0-23]", "minute": "0,30"}
    sub = session.exec(select(EpcisSubscription)).one()
    first = sub.next_attempt_at.replace(tzinfo=UTC)
    assert first.minute in (0, 30) and first.second == first.microsecond == 0
    assert before < first <= before + timedelta(minutes=30)
    # ours still works beside it
    ours = _subscribe(client, keys["gz"], "/b", {"interval": 300})
    assert ours.status_code == 201 and ours.json()["schedule"] == {"interval": 300}


@pytest.mark.parametrize(
    ("schedule", "after", "expected"),
    [
        ({"minute": "0,30"}, "2026-03-01T10:00:00", ["2026-03-01T10:30:00", "2026-03-01T11:00:00"]),
        ({"minute": "0,30"}, "2026-03-01T10:29:59.5", ["2026-03-01T10:30:00", "2026-03-01T11:00:00"]),
        # the binding's example, "every morning at 1.05am": the finer field (second) at its first value only
        ({"hour": "1", "minute": "5"}, "2026-03-01T10:00:00", ["2026-03-02T01:05:00", "2026-03-03T01:05:00"]),
        # 2026-03-01 is a Sunday; GS1's 1 is Monday, [6-7] the weekend
        ({"dayOfWeek": "1", "hour": "9"}, "2026-03-01T10:00:00", ["2026-03-02T09:00:00", "2026-03-09T09:00:00"]),
        ({"dayOfWeek": "[6-7]", "hour": "8"}, "2026-03-01T10:00:00", ["2026-03-07T08:00:00", "2026-03-08T08:00:00"]),
        ({"second": "15-16", "minute": "2"}, "2026-03-01T10:00:00", ["2026-03-01T10:02:15", "2026-03-01T10:02:16"]),
        ({"dayOfMonth": "29", "month": "2"}, "2026-03-01T10:00:00", ["2028-02-29T00:00:00", "2032-02-29T00:00:00"]),
    ],
)
def test_the_next_run_is_the_schedules_next_time_in_utc(
    schedule: dict[str, str], after: str, expected: list[str]
) -> None:
    stored = json.dumps(schedule)
    at = datetime.fromisoformat(after).replace(tzinfo=UTC)
    runs = []
    for _ in expected:
        at = subscriptions.next_run(stored, at)
        runs.append(at)
    assert runs == [datetime.fromisoformat(e).replace(tzinfo=UTC) for e in expected]


class _Receiver:
    """An in-process webhook: logs each POST at the clock's time; answers 503 to a path's first ``fail_first``."""

    def __init__(self, fail_first: dict[str, int]) -> None:
        self.now = datetime.min
        self.posts: list[dict[str, Any]] = []
        self.fail_first = dict(fail_first)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        status = 503 if self.fail_first.get(path, 0) > 0 else 200
        self.fail_first[path] = self.fail_first.get(path, 0) - 1
        events = json.loads(request.content)["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
        self.posts.append({"path": path, "at": self.now, "status": status,
                           "events": [e["epcList"][0].rsplit(".", 1)[1] for e in events]})  # fmt: skip
        return httpx.Response(status)

    def accepted(self, path: str) -> list[tuple[str, list[str]]]:
        return [(p["at"].strftime("%H:%M:%S"), p["events"]) for p in self.posts if p["path"] == path
                and p["status"] == 200]  # fmt: skip


def test_a_schedule_of_minute_0_30_delivers_at_00_and_30_only(
    client: TestClient, session: Session, settings: Settings, keys: dict[str, Any]
) -> None:
    gz = auth(keys["gz"])
    client.post("/epcis/queries", json={"name": "all", "query": {}}, headers=gz)
    for path, extra in (("/quiet", {}), ("/report", {"reportIfEmpty": True}), ("/flaky", {})):
        assert _subscribe(client, keys["gz"], path, {"minute": "0,30"}, **extra).status_code == 201
    start = datetime(2026, 3, 1, 10, 7, tzinfo=UTC)
    for sub in session.exec(select(EpcisSubscription)).all():  # as if made at 10:07
        assert sub.schedule is not None
        sub.next_attempt_at = subscriptions.next_run(sub.schedule, start)
        session.add(sub)
    session.commit()

    receiver = _Receiver({"/flaky": 1})
    captures = {start + timedelta(minutes=3): "E1", start + timedelta(minutes=33): "E2",
                start + timedelta(minutes=34): "E3"}  # fmt: skip
    with httpx.Client(transport=httpx.MockTransport(receiver)) as http:
        now = start
        while now <= start + timedelta(minutes=90):  # 10:07 to 11:37
            if now in captures:
                capture(client, keys["gz"], event(captures[now]))
            receiver.now = now
            for _ in range(100):
                ctx = JobContext(session=session, now=now, settings=settings)
                result = subscriptions.deliver_subscriptions(ctx, http)
                session.commit()
                if not result.more:
                    break
            now += timedelta(seconds=20)

    # at :00 and :30, with what was captured since; nothing new at 11:30: no post unless reportIfEmpty
    assert receiver.accepted("/quiet") == [("10:30:00", ["E1"]), ("11:00:00", ["E2", "E3"])]
    assert receiver.accepted("/report") == [("10:30:00", ["E1"]), ("11:00:00", ["E2", "E3"]), ("11:30:00", [])]
    # a refused delivery keeps the cursor: retried after the backoff (1 s, the next pass here) with the same events,
    # and the schedule goes on at its own times
    flaky = [(p["at"].strftime("%H:%M:%S"), p["status"], p["events"]) for p in receiver.posts if p["path"] == "/flaky"]
    assert flaky == [("10:30:00", 503, ["E1"]), ("10:30:20", 200, ["E1"]), ("11:00:00", 200, ["E2", "E3"])]
    due = {s.dest.rsplit("/", 1)[1]: s.next_attempt_at.replace(tzinfo=UTC)
           for s in session.exec(select(EpcisSubscription)).all()}  # fmt: skip
    assert set(due.values()) == {datetime(2026, 3, 1, 12, 0, tzinfo=UTC)}
