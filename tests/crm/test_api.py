"""The CRM API: a store sees and works its own tasks and members only; words follow Accept-Language."""

from __future__ import annotations

from datetime import date

from fastapi.testclient import TestClient
from sqlmodel import Session

from crm.tasks import generate_tasks
from rebates.policy import Policy
from tests.crm.helpers import Shop, seed
from tests.factories import api_key, auth
from traceability.models import Role


def test_tasks_outcomes_segments_and_the_ticket(client: TestClient, session: Session, settings) -> None:
    seed(session)
    shop = Shop(session, settings.key_dir)
    gz = shop.member("王<b>芳</b>")
    nj = shop.member("李娜", store="S-NJ-1")
    shop.buy("王<b>芳</b>", date(2026, 4, 1), 2)
    shop.buy("李娜", date(2026, 4, 1), 2)
    generate_tasks(session=session, day=date(2026, 4, 4), policy=Policy())
    store = auth(api_key(session, Role.store, "S-GZ-1"))
    admin = auth(api_key(session, Role.admin))
    plant = auth(api_key(session, Role.plant))
    mine = client.get("/api/v1/tasks", params={"date": "2026-04-04"}, headers=store)
    assert mine.status_code == 200
    assert [(t["member"], t["kind"], t["due"]) for t in mine.json()] == [(gz, "follow_up", "2026-04-06")]
    assert mine.json()[0]["reason_text"].endswith("回访宝宝食用情况")  # zh-CN by default
    english = client.get("/api/v1/tasks", params={"date": "2026-04-04"}, headers=store | {"Accept-Language": "en"})
    assert english.json()[0]["reason_text"].startswith("first purchase of 2 unit(s) on 2026-04-01")
    assert len(client.get("/api/v1/tasks", params={"date": "2026-04-04"}, headers=admin).json()) == 2
    other = client.get("/api/v1/tasks", params={"date": "2026-04-04", "store": "S-NJ-1"}, headers=store)
    assert other.status_code == 403 and other.json()["error"] == "not_own_store"
    assert client.get("/api/v1/tasks", params={"date": "2026-04-04"}, headers=plant).status_code == 403
    assert client.get("/api/v1/tasks", params={"date": "2026-13-01"}, headers=store).status_code == 422
    ticket = client.get("/api/v1/tasks/ticket", params={"date": "2026-04-04"}, headers=store)
    assert ticket.status_code == 200 and ticket.headers["content-type"].startswith("text/html")
    assert "58mm" in ticket.text and "王&lt;b&gt;芳&lt;/b&gt;" in ticket.text and "李娜" not in ticket.text
    nj_task = next(t["id"] for t in client.get("/api/v1/tasks", params={"date": "2026-04-04"}, headers=admin).json()
                   if t["member"] == nj)  # fmt: skip
    assert client.post(f"/api/v1/tasks/{nj_task}/outcome", json={"status": "reached"}, headers=store).status_code == 404
    task = mine.json()[0]["id"]
    bad = client.post(f"/api/v1/tasks/{task}/outcome", json={"status": "maybe"}, headers=store)
    assert bad.status_code == 422
    done = client.post(f"/api/v1/tasks/{task}/outcome", json={"status": "bought", "note": "买了"}, headers=store)
    assert done.status_code == 200
    assert (done.json()["status"], done.json()["outcome_by"]) == ("bought", "store:S-GZ-1")
    effect = client.get("/api/v1/tasks/effect", params={"from": "2026-04-01", "to": "2026-04-30"}, headers=store)
    assert effect.status_code == 200
    assert effect.json()["overall"]["worked"] == 1 and [s["store"] for s in effect.json()["stores"]] == ["S-GZ-1"]
    reversed_range = client.get("/api/v1/tasks/effect", params={"from": "2026-04-30", "to": "2026-04-01"},
                                headers=store)  # fmt: skip
    assert reversed_range.status_code == 422
    seg = client.get("/api/v1/members/segments", params={"as_of": "2026-04-30"}, headers=store)
    assert seg.status_code == 200 and [(s["member"], s["tier"], s["monetary"]) for s in seg.json()] == [
        (gz, "ordinary", "536.00")]  # fmt: skip
    everyone = client.get("/api/v1/members/segments", params={"as_of": "2026-04-30", "limit": 1}, headers=admin)
    assert [s["member"] for s in everyone.json()] == [gz]
    page2 = client.get("/api/v1/members/segments", params={"as_of": "2026-04-30", "after": gz}, headers=admin)
    assert [s["member"] for s in page2.json()] == [nj]
    summary = client.get("/api/v1/members/segments/summary", params={"as_of": "2026-04-30"}, headers=admin).json()
    assert summary["members"] == 2 and summary["active"] == 2
