"""The alert contract over HTTP, the case workflow behind the auditor role, and the flow views."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlmodel import Session

from tests.factories import api_key, auth, seed_masterdata
from tests.flow_graph.helpers import capture, unit
from tests.flow_graph.test_service import cross_territory
from traceability.models import Role

CONTRACT = {"kind", "epc", "party", "responsible_distributor", "event_ids", "status"}


def test_alerts_api(client: TestClient, session: Session) -> None:
    seed_masterdata(session)
    capture(session, *cross_territory())
    auditor, admin = auth(api_key(session, Role.auditor)), auth(api_key(session, Role.admin))
    d_gz, d_nj = auth(api_key(session, Role.distributor, "D-GZ")), auth(api_key(session, Role.distributor, "D-NJ"))

    listed = client.get("/api/v1/alerts", headers=auditor).json()
    assert {(a["kind"], a["party"], a["responsible_distributor"]) for a in listed} == {
        ("out_of_territory", "S-NJ-1", "D-GZ"), ("unauthorized_channel", "S-NJ-1", "D-GZ")}  # fmt: skip
    assert all(CONTRACT <= a.keys() and a["epc"] == unit(1) and a["status"] == "open" for a in listed)
    assert len(client.get("/api/v1/alerts", headers=d_gz).json()) == 2
    assert client.get("/api/v1/alerts", headers=d_nj).json() == []
    only = client.get("/api/v1/alerts", params={"kind": "out_of_territory", "territory": "CN-32"}, headers=auditor)
    assert [a["kind"] for a in only.json()] == ["out_of_territory"]
    assert client.get("/api/v1/alerts", params={"period": "April"}, headers=auditor).status_code == 422

    alert_id = next(a["id"] for a in listed if a["kind"] == "out_of_territory")
    assert client.get(f"/api/v1/alerts/{alert_id}", headers=d_nj).status_code == 404
    moved = client.patch(f"/api/v1/alerts/{alert_id}", headers=auditor,
                         json={"status": "investigating", "assignee": "Li Wei", "note": "called D-GZ"})  # fmt: skip
    assert moved.status_code == 200 and moved.json()["status"] == "investigating"
    refused = client.patch(f"/api/v1/alerts/{alert_id}", headers=auditor, json={"status": "open"})
    assert refused.status_code == 200  # back to the queue is allowed from investigating
    wrong = client.patch(f"/api/v1/alerts/{alert_id}", headers=auditor, json={"status": "confirmed"})
    assert wrong.status_code == 409 and wrong.json()["error"] == "invalid_transition"
    assert client.patch(f"/api/v1/alerts/{alert_id}", headers=d_gz, json={"note": "x"}).status_code == 403
    case = client.get(f"/api/v1/alerts/{alert_id}", headers=d_gz).json()
    assert case["alert"]["assignee"] == "Li Wei"
    assert [h["action"] for h in case["history"]] == ["status", "assign", "status"]

    again = client.post("/api/v1/alerts/reevaluate", headers=admin).json()
    assert again["raised"] == again["withdrawn"] == 0 and again["unchanged"] == 2


def test_flow_views_api(client: TestClient, session: Session) -> None:
    seed_masterdata(session)
    capture(session, *cross_territory())
    auditor = auth(api_key(session, Role.auditor))
    trail = client.get("/api/v1/flow/trail", params={"epc": unit(1)}, headers=auditor).json()
    assert [s["biz_step"] for s in trail["steps"]][-1] == "retail_selling" and len(trail["alerts"]) == 2
    leaks = client.get("/api/v1/flow/leaks/D-GZ", headers=auditor).json()
    assert leaks["diverted_units"] == 1 and leaks["paths"] == [[["D-GZ", "S-NJ-1"], 1]]
    assert client.get("/api/v1/flow/leaks", headers=auditor).json()[0]["distributor"] == "D-GZ"
    document = client.get("/api/v1/flow/graph", headers=auditor).json()
    assert document["units"] == 2 and {"source": "D-GZ", "target": "S-NJ-1"}.items() <= document["links"][0].items()
    graphml = client.get("/api/v1/flow/graph.graphml", headers=auditor)
    assert graphml.headers["content-type"].startswith("application/xml") and b"<graphml" in graphml.content
    store = auth(api_key(session, Role.store))
    assert client.get("/api/v1/flow/graph", headers=store).status_code == 403
