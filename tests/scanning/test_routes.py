from __future__ import annotations

import json

from fastapi.testclient import TestClient
from sqlmodel import Session

from tests.factories import api_key, auth, seed_masterdata
from traceability.models import Role

CTX = ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"]
GLN = {"D-GZ": "6901234000030", "D-NJ": "6901234000054", "S-GZ-1": "6901234000047"}


def shipping(epc: str, to: str, at: str = "D-GZ") -> dict:
    return {
        "type": "ObjectEvent", "action": "OBSERVE", "bizStep": "shipping", "epcList": [epc],
        "eventTime": "2026-02-01T09:00:00+08:00", "eventTimeZoneOffset": "+08:00",
        "bizLocation": {"id": f"https://id.gs1.org/414/{GLN[at]}"},
        "destinationList": [{"type": "owning_party", "destination": f"https://id.gs1.org/414/{GLN[to]}"}],
    }  # fmt: skip


def document(*events: dict) -> dict:
    return {"@context": CTX, "type": "EPCISDocument", "schemaVersion": "2.0",
            "creationDate": "2026-02-01T00:00:00Z", "epcisBody": {"eventList": list(events)}}  # fmt: skip


def test_capture_query_and_party_scope(client: TestClient, session: Session) -> None:
    seed_masterdata(session)
    gz = api_key(session, Role.distributor, "D-GZ")
    nj = api_key(session, Role.distributor, "D-NJ")
    auditor = api_key(session, Role.auditor)
    doc = document(shipping("urn:epc:id:sgtin:6901234.000010.A1", "S-GZ-1"))
    resp = client.post(
        "/epcis/capture", content=json.dumps(doc), headers={**auth(gz), "Content-Type": "application/ld+json"}
    )
    assert resp.status_code == 202, resp.text
    assert resp.json()["stored"] == 1
    again = client.post("/epcis/capture", json=doc, headers=auth(gz))
    assert again.status_code == 202 and again.json()["duplicates"] == 1
    theirs = document(shipping("urn:epc:id:sgtin:6901234.000010.B2", "S-GZ-1", at="D-NJ"))
    # D-GZ may not assert what happens at D-NJ (ledger.entitlements); D-NJ may.
    assert client.post("/epcis/capture", json=theirs, headers=auth(gz)).status_code == 403
    assert client.post("/epcis/capture", json=theirs, headers=auth(nj)).status_code == 202

    def ids(key) -> list[str]:
        r = client.get("/epcis/events", headers=auth(key))
        assert r.status_code == 200
        return [e["epcList"][0] for e in r.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]]

    assert ids(gz) == ["urn:epc:id:sgtin:6901234.000010.A1"]
    assert ids(nj) == ["urn:epc:id:sgtin:6901234.000010.B2"]
    assert len(ids(auditor)) == 2


def test_capture_errors_are_problem_details(client: TestClient, session: Session) -> None:
    seed_masterdata(session)
    key = auth(api_key(session, Role.admin))
    bad = client.post("/epcis/capture", content=b"{not json", headers={**key, "Content-Type": "application/json"})
    assert bad.status_code == 422 and "not JSON" in bad.json()["detail"]
    event = shipping("urn:epc:id:sgtin:6901234.000010.C3", "S-GZ-1")
    event["eventID"] = "urn:uuid:3f1c0a52-58f4-4a49-9e3a-2b7a7d3f1e01"
    assert client.post("/epcis/capture", json=document(event), headers=key).status_code == 202
    event["bizStep"] = "receiving"
    conflict = client.post("/epcis/capture", json=document(event), headers=key)
    assert conflict.status_code == 409 and conflict.json()["error"] == "event_id_conflict"
    broken = shipping("urn:epc:id:sgtin:6901234.000010.D4", "S-GZ-1")
    broken["eventTime"] = "soon"
    mixed = document(shipping("urn:epc:id:sgtin:6901234.000010.E5", "S-GZ-1"), broken)
    refused = client.post("/epcis/capture", json=mixed, headers=key)
    assert refused.status_code == 422
    assert refused.json()["problems"][0]["path"] == "/epcisBody/eventList/1"
    proceed = client.post("/epcis/capture", json=mixed, headers={**key, "GS1-Capture-Error-Behaviour": "proceed"})
    assert proceed.status_code == 202 and proceed.json()["stored"] == 1 and len(proceed.json()["refused"]) == 1
