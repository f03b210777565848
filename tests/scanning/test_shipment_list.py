"""``GET /api/v1/shipments``: the sender's own shipments, newest first, a page at a time (issue 13)."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlmodel import Session

from tests.factories import api_key, auth, seed_masterdata
from traceability.models import Role


def test_a_sender_lists_only_its_own_shipments_newest_first(client: TestClient, session: Session) -> None:
    seed_masterdata(session)
    gz = auth(api_key(session, Role.distributor, "D-GZ"))
    nj = auth(api_key(session, Role.distributor, "D-NJ"))
    opened = [client.post("/api/v1/shipments", headers=gz, json={"destination": "S-GZ-1", "order": f"PO-{i}"})
              for i in range(3)]  # fmt: skip
    assert all(r.status_code == 201 for r in opened), [r.text for r in opened]
    theirs = client.post("/api/v1/shipments", headers=nj, json={"destination": "S-NJ-1"}).json()
    mine = client.get("/api/v1/shipments", headers=gz).json()
    assert [s["id"] for s in mine] == [r.json()["id"] for r in reversed(opened)]
    assert {s["party_id"] for s in mine} == {"D-GZ"} and theirs["id"] not in {s["id"] for s in mine}
    assert (mine[0]["order_ref"], mine[0]["status"], mine[0]["items"]) == ("PO-2", "open", 0)
    page = client.get("/api/v1/shipments?limit=1&offset=1", headers=gz).json()
    assert [s["order_ref"] for s in page] == ["PO-1"]
    everyone = client.get("/api/v1/shipments", headers=auth(api_key(session, Role.admin))).json()
    assert {s["party_id"] for s in everyone} == {"D-GZ", "D-NJ"}
    assert client.get("/api/v1/shipments", headers=auth(api_key(session, Role.store))).status_code == 403
    assert client.get("/api/v1/shipments?limit=0", headers=gz).status_code == 422
