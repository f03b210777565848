"""The EPCIS 2.0 REST binding: events by id, capture jobs, top-level resources, the query language, paging tokens,
the binding's headers, and party scope on every one of them."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from tests.factories import api_key, auth, seed_masterdata
from traceability.models import Role

CTX = ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"]
GLN = {"D-GZ": "6901234000030", "D-NJ": "6901234000054", "S-GZ-1": "6901234000047", "WH-1": "6901234000023"}


def event(serial: str, at: str = "D-GZ", step: str = "shipping", t: str = "2026-02-01T09:00:00+08:00",
          **extra: Any) -> dict[str, Any]:  # fmt: skip
    place = {"id": f"https://id.gs1.org/414/{GLN[at]}"}
    e = {"type": "ObjectEvent", "action": "OBSERVE", "bizStep": step,
         "epcList": [f"urn:epc:id:sgtin:6901234.000010.{serial}"], "eventTime": t, "eventTimeZoneOffset": "+08:00",
         "bizLocation": dict(place), "readPoint": dict(place)}  # fmt: skip
    e.update(extra)
    return e


def document(*events: dict[str, Any]) -> dict[str, Any]:
    return {"@context": CTX, "type": "EPCISDocument", "schemaVersion": "2.0",
            "creationDate": "2026-02-01T00:00:00Z", "epcisBody": {"eventList": list(events)}}  # fmt: skip


def listed(resp: Any) -> list[dict[str, Any]]:
    assert resp.status_code == 200, resp.text
    found: list[dict[str, Any]] = resp.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    return found


@pytest.fixture
def keys(session: Session) -> dict[str, Any]:
    seed_masterdata(session)
    return {
        "gz": api_key(session, Role.distributor, "D-GZ"),
        "nj": api_key(session, Role.distributor, "D-NJ"),
        "store": api_key(session, Role.store, "S-GZ-1"),
        "admin": api_key(session, Role.admin),
        "auditor": api_key(session, Role.auditor),
    }


def capture(client: TestClient, key: Any, *events: dict[str, Any], **headers: str) -> Any:
    resp = client.post("/epcis/capture", json=document(*events), headers={**auth(key), **headers})
    assert resp.status_code == 202, resp.text
    return resp


def test_event_by_id_is_percent_encoded_and_party_scoped(client: TestClient, keys: dict[str, Any]) -> None:
    mine = capture(client, keys["gz"], event("A1", eventID="urn:uuid:7d2b3b8e-0d2f-4f55-9a7e-1b0c1d2e3f40"))
    hashed = capture(client, keys["nj"], event("B1", at="D-NJ")).json()["storedEventIDs"][0]
    assert hashed.startswith("ni:///sha-256;")
    eid = mine.json()["storedEventIDs"][0]
    resp = client.get(f"/epcis/events/{quote(eid, safe='')}", headers=auth(keys["gz"]))
    assert [e["eventID"] for e in listed(resp)] == [eid]
    assert resp.headers["GS1-EPCIS-Version"] == "2.0.0" and resp.headers["GS1-CBV-Version"] == "2.0.0"
    assert "GS1-Extensions" in resp.headers
    # a hash id holds '/', ';' and '?': only percent-encoded does it reach the route whole
    theirs = client.get(f"/epcis/events/{quote(hashed, safe='')}", headers=auth(keys["nj"]))
    assert [e["eventID"] for e in listed(theirs)] == [hashed]
    for key, wanted in ((keys["gz"], 404), (keys["store"], 404), (keys["auditor"], 200)):
        assert client.get(f"/epcis/events/{quote(hashed, safe='')}", headers=auth(key)).status_code == wanted
    unknown = client.get("/epcis/events/urn:uuid:nothing", headers={**auth(keys["admin"]), "Accept-Language": "en"})
    body = unknown.json()
    assert unknown.status_code == 404 and body["type"] == "epcisException:NoSuchNameException"
    assert body["error"] == "no_such_resource" and "does not exist" in body["detail"]
    zh = client.get("/epcis/events/urn:uuid:nothing", headers={**auth(keys["admin"]), "Accept-Language": "zh-CN"})
    assert "不存在" in zh.json()["detail"]
    # another party's event and an unknown one are the same answer, so ids cannot be probed
    other = client.get(f"/epcis/events/{quote(hashed, safe='')}", headers={**auth(keys["gz"]), "Accept-Language": "en"})
    assert other.json()["detail"].replace(hashed, "X") == unknown.json()["detail"].replace("urn:uuid:nothing", "X")


def test_options_and_headers_on_every_epcis_route(client: TestClient, keys: dict[str, Any]) -> None:
    paths = ("/epcis/", "/epcis/events", "/epcis/capture", "/epcis/capture/1", "/epcis/events/x", "/epcis/eventTypes",
             "/epcis/epcs/urn:epc:id:sgtin:1.2.3/events", "/epcis/bizSteps/shipping")  # fmt: skip
    for path in paths:
        resp = client.options(path, headers=auth(keys["gz"]))
        assert resp.status_code == 204, (path, resp.text)
        assert resp.headers["GS1-EPCIS-Version"] == "2.0.0" and "GET" in resp.headers["Allow"]
        assert resp.headers["GS1-EPCIS-Max"] == "2.0.0" and resp.headers["GS1-CBV-Version"] == "2.0.0"
    cap = client.options("/epcis/capture", headers=auth(keys["gz"]))
    assert cap.headers["GS1-EPCIS-Capture-Limit"] == "10000" and "POST" in cap.headers["Allow"]
    assert int(cap.headers["GS1-EPCIS-Capture-File-Size-Limit"]) > 0
    refused = client.get("/epcis/events")
    assert refused.status_code == 401 and refused.headers["GS1-EPCIS-Version"] == "2.0.0"
    assert refused.json()["type"] == "epcisException:SecurityException" and refused.json()["error"] == "unauthenticated"


def test_capture_answers_with_its_job(client: TestClient, keys: dict[str, Any]) -> None:
    resp = capture(client, keys["gz"], event("C1"))
    assert resp.json()["stored"] == 1  # the body scanners read today
    location = resp.headers["Location"]
    assert location == f"/epcis/capture/{resp.json()['captureID']}"
    job = client.get(location, headers=auth(keys["gz"])).json()
    assert job["running"] is False and job["success"] is True and job["errors"] == []
    assert job["captureErrorBehaviour"] == "rollback" and job["captureID"] == str(resp.json()["captureID"])
    bad = event("C2", t="soon")
    partial = capture(client, keys["gz"], event("C3"), bad, **{"GS1-Capture-Error-Behaviour": "proceed"})
    failed = client.get(partial.headers["Location"], headers=auth(keys["gz"])).json()
    assert failed["success"] is False and failed["captureErrorBehaviour"] == "proceed"
    assert failed["errors"][0]["index"] == 1 and "eventTime" in failed["errors"][0]["detail"]
    assert failed["errors"][0]["type"] == "epcisException:ValidationException"
    # the capturing party and the brand's full-view roles see a job; another party gets the unknown-job answer
    assert client.get(location, headers=auth(keys["nj"])).status_code == 404
    assert client.get(location, headers=auth(keys["auditor"])).status_code == 200
    assert client.get("/epcis/capture/99999999", headers=auth(keys["admin"])).status_code == 404
    assert client.get("/epcis/capture/not-a-number", headers=auth(keys["admin"])).status_code == 404
    capture(client, keys["nj"], event("N1", at="D-NJ"))
    mine = client.get("/epcis/capture", headers=auth(keys["gz"])).json()
    assert [j["captureID"] for j in mine] == [failed["captureID"], job["captureID"]]  # newest first, only its own
    everyone = client.get("/epcis/capture?perPage=2", headers=auth(keys["auditor"]))
    assert len(everyone.json()) == 2 and 'rel="next"' in everyone.headers["Link"]
    token = everyone.headers["Link"].split("nextPageToken=")[1].split(">")[0]
    rest = client.get(f"/epcis/capture?perPage=2&nextPageToken={token}", headers=auth(keys["auditor"])).json()
    assert [j["captureID"] for j in rest] == [job["captureID"]]
    # a token is the caller's: another key cannot page on with it
    assert client.get(f"/epcis/capture?nextPageToken={token}", headers=auth(keys["gz"])).status_code == 400


def test_capture_limit_is_advertised_and_enforced(client: TestClient, keys: dict[str, Any]) -> None:
    client.app.state.settings.max_capture_events = 3  # type: ignore[attr-defined]
    resp = client.post("/epcis/capture", json=document(*[event(f"L{i}") for i in range(4)]),
                       headers={**auth(keys["gz"]), "Accept-Language": "en"})  # fmt: skip
    body = resp.json()
    assert resp.status_code == 413 and body["limit"] == 3 and body["events"] == 4
    assert body["type"] == "epcisException:CaptureLimitExceededException" and "at most 3" in body["detail"]
    assert resp.headers["GS1-EPCIS-Capture-Limit"] == "10000"  # the header is the app's setting at start
    assert client.get("/epcis/events", headers=auth(keys["gz"])).json()["epcisBody"]["queryResults"][
        "resultsBody"]["eventList"] == []  # fmt: skip
    assert capture(client, keys["gz"], *[event(f"L{i}") for i in range(3)]).json()["stored"] == 3


def test_query_language(client: TestClient, keys: dict[str, Any]) -> None:
    po = {"type": "po", "bizTransaction": "urn:epcglobal:cbv:bt:6901234000030:PO-1"}
    capture(client, keys["admin"],
            event("Q1", t="2026-02-01T09:00:00+08:00", bizTransactionList=[po], disposition="in_transit"),
            event("Q2", step="receiving", t="2026-02-02T09:00:00+08:00", action="ADD"),
            event("Q3", t="2026-02-03T09:00:00+08:00",
                  sourceList=[{"type": "owning_party", "source": "https://id.gs1.org/414/6901234000030"}]),
            event("Q4", t="2026-02-04T09:00:00+08:00", quantityList=[
                {"epcClass": "urn:epc:class:lgtin:6901234.000010.LOT7", "quantity": 12, "uom": "EA"}]),
            event("Q5", at="D-NJ", t="2026-02-05T09:00:00+08:00"))  # fmt: skip
    admin = auth(keys["admin"])

    def serials(query: str, key: dict[str, str] = admin) -> list[str]:
        found = listed(client.get(f"/epcis/events?{query}", headers=key))
        return [e["epcList"][0].rsplit(".", 1)[1] for e in found]

    assert serials("EQ_bizStep=receiving") == ["Q2"]
    assert serials("EQ_bizStep=urn:epcglobal:cbv:bizstep:shipping|receiving") == ["Q1", "Q2", "Q3", "Q4", "Q5"]
    assert serials("EQ_action=ADD") == ["Q2"]
    assert serials("EQ_disposition=in_transit") == ["Q1"]
    assert serials(f"EQ_readPoint=https://id.gs1.org/414/{GLN['D-NJ']}") == ["Q5"]
    assert serials("GE_eventTime=2026-02-02T00:00:00%2B08:00&LT_eventTime=2026-02-04T00:00:00%2B08:00") == ["Q2", "Q3"]
    assert serials("MATCH_epc=https://id.gs1.org/01/06901234000108/21/Q3") == ["Q3"]  # a Digital Link matches a URN
    assert serials("MATCH_epc=urn:epc:idpat:sgtin:6901234.000010.*&eventCountLimit=2") == ["Q1", "Q2"]
    assert serials("MATCH_anyEPC=urn:epc:id:sgtin:6901234.000010.Q5") == ["Q5"]
    assert serials("MATCH_epcClass=urn:epc:class:lgtin:6901234.000010.LOT7") == ["Q4"]
    assert serials("MATCH_anyEPCClass=urn:epc:idpat:sgtin:6901234.000010.*") == ["Q4"]
    assert serials("GE_quantity=12") == ["Q4"] and serials("GT_quantity=12") == []
    assert serials("EQ_bizTransaction_po=urn:epcglobal:cbv:bt:6901234000030:PO-1") == ["Q1"]
    assert serials("EQ_bizTransaction_urn:epcglobal:cbv:btt:po=urn:epcglobal:cbv:bt:6901234000030:PO-1") == ["Q1"]
    assert serials("EQ_bizTransaction_inv=urn:epcglobal:cbv:bt:6901234000030:PO-1") == []
    assert serials("EQ_source_owning_party=https://id.gs1.org/414/6901234000030") == ["Q3"]
    assert serials("EXISTS_bizTransactionList") == ["Q1"] and serials("EXISTS_disposition") == ["Q1"]
    assert serials("eventType=AggregationEvent") == []
    assert serials("orderBy=eventTime&orderDirection=DESC&perPage=2") == ["Q5", "Q4"]
    assert serials("GE_recordTime=2000-01-01T00:00:00Z") == ["Q1", "Q2", "Q3", "Q4", "Q5"]
    # a distributor sees only what happened at, from or to it, whatever it asks
    assert serials("EQ_bizStep=shipping|receiving", auth(keys["nj"])) == ["Q5"]
    too_many = client.get("/epcis/events?maxEventCount=2", headers=admin)
    assert too_many.status_code == 413 and too_many.json()["type"] == "epcisException:QueryTooLargeException"
    assert len(serials("maxEventCount=5")) == 5


@pytest.mark.parametrize(
    ("query", "parameter"),
    [("EQ_bizStap=shipping", "EQ_bizStap"), ("GE_eventTime=yesterday", "GE_eventTime"), ("EQ_action=JUMP", "EQ_action"),
     ("orderBy=size", "orderBy"), ("GE_quantity=many", "GE_quantity"), ("eventCountLimit=0", "eventCountLimit")],
)  # fmt: skip
def test_a_bad_parameter_is_a_400_naming_it(client: TestClient, keys: dict[str, Any], query: str,
                                            parameter: str) -> None:  # fmt: skip
    resp = client.get(f"/epcis/events?{query}", headers={**auth(keys["gz"]), "Accept-Language": "en"})
    body = resp.json()
    assert resp.status_code == 400 and body["parameter"] == parameter and parameter in body["detail"]
    assert body["type"] == "epcisException:QueryParameterException" and body["error"] == "query_parameter_invalid"


def test_paging_by_signed_token(client: TestClient, keys: dict[str, Any]) -> None:
    capture(client, keys["admin"], *[event(f"P{i}", t=f"2026-03-01T09:00:{i:02d}+08:00") for i in range(7)],
            event("NJ", at="D-NJ", t="2026-03-01T09:00:03+08:00"))  # fmt: skip
    seen: list[str] = []
    url = "/epcis/events?EQ_bizStep=shipping&perPage=3"
    pages = 0
    while url:
        resp = client.get(url, headers=auth(keys["gz"]))
        seen += [e["epcList"][0].rsplit(".", 1)[1] for e in listed(resp)]
        link = resp.headers.get("Link")
        url = link.split(">")[0].lstrip("<") if link else ""
        pages += 1
        assert "EQ_bizStep=shipping" in url or not url  # the next page is the same query
    assert seen == [f"P{i}" for i in range(7)] and pages == 3
    first = client.get("/epcis/events?perPage=3", headers=auth(keys["gz"]))
    token = first.headers["Link"].split("nextPageToken=")[1].split(">")[0]
    for forged in (token[:-2] + ("AA" if not token.endswith("AA") else "BB"), "12", "x.y", token.split(".")[0],
                   "eyJpIjoxfQ.AAAA"):  # fmt: skip
        bad = client.get(f"/epcis/events?perPage=3&nextPageToken={forged}", headers=auth(keys["gz"]))
        assert bad.status_code == 400 and bad.json()["parameter"] == "nextPageToken", forged
    # a good token for one query or key is worthless for another: never other rows
    other_query = client.get(f"/epcis/events?perPage=3&EQ_action=ADD&nextPageToken={token}", headers=auth(keys["gz"]))
    assert other_query.status_code == 400
    other_key = client.get(f"/epcis/events?perPage=3&nextPageToken={token}", headers=auth(keys["nj"]))
    assert other_key.status_code == 400


def test_top_level_resources(client: TestClient, keys: dict[str, Any]) -> None:
    capture(client, keys["admin"], event("R1", disposition="in_transit"), event("R2", step="receiving"),
            event("R3", at="D-NJ", step="inspecting"))  # fmt: skip
    gz, admin = auth(keys["gz"]), auth(keys["admin"])
    top = client.get("/epcis/", headers=gz).json()
    assert top["type"] == "Collection" and "events" in top["member"]
    assert client.get("/epcis/eventTypes", headers=gz).json()["member"][2] == "ObjectEvent"
    assert client.get("/epcis/bizSteps", headers=gz).json()["member"] == ["receiving", "shipping"]
    assert client.get("/epcis/bizSteps", headers=admin).json()["member"] == ["inspecting", "receiving", "shipping"]
    assert client.get("/epcis/dispositions", headers=gz).json()["member"] == ["in_transit"]
    assert client.get("/epcis/bizLocations", headers=gz).json()["member"] == [f"https://id.gs1.org/414/{GLN['D-GZ']}"]
    assert client.get("/epcis/readPoints", headers=admin).json()["member"] == [
        f"https://id.gs1.org/414/{GLN['D-GZ']}", f"https://id.gs1.org/414/{GLN['D-NJ']}"]  # fmt: skip
    epcs = client.get("/epcis/epcs?perPage=1", headers=gz)
    assert epcs.json()["member"] == ["https://id.gs1.org/01/06901234000108/21/R1"]
    token = epcs.headers["Link"].split("nextPageToken=")[1].split(">")[0]
    more = client.get(f"/epcis/epcs?perPage=5&nextPageToken={token}", headers=gz).json()["member"]
    assert more == ["https://id.gs1.org/01/06901234000108/21/R2"]  # never another party's R3
    epc = quote("urn:epc:id:sgtin:6901234.000010.R1", safe="")
    assert client.get(f"/epcis/epcs/{epc}", headers=gz).json()["member"] == ["events"]
    r3 = quote("https://id.gs1.org/01/06901234000108/21/R3", safe="")
    assert client.get(f"/epcis/epcs/{r3}", headers=gz).status_code == 404
    assert client.get(f"/epcis/epcs/{r3}", headers=admin).status_code == 200
    assert [e["bizStep"] for e in listed(client.get(f"/epcis/epcs/{r3}/events", headers=admin))] == ["inspecting"]
    assert listed(client.get(f"/epcis/epcs/{r3}/events", headers=gz)) == []
    assert len(listed(client.get("/epcis/bizSteps/shipping/events", headers=gz))) == 1
    assert len(listed(client.get("/epcis/bizSteps/urn:epcglobal:cbv:bizstep:receiving/events", headers=gz))) == 1
    assert client.get("/epcis/bizSteps/inspecting", headers=gz).status_code == 404
    assert client.get("/epcis/eventTypes/ObjectEvent", headers=gz).json()["member"] == ["events"]
    assert client.get("/epcis/eventTypes/NoEvent", headers=gz).status_code == 404
    assert len(listed(client.get("/epcis/eventTypes/ObjectEvent/events?EQ_bizStep=receiving", headers=gz))) == 1
    loc = quote(f"https://id.gs1.org/414/{GLN['D-NJ']}", safe="")
    assert listed(client.get(f"/epcis/bizLocations/{loc}/events", headers=gz)) == []
    assert len(listed(client.get(f"/epcis/readPoints/{loc}/events", headers=admin))) == 1
    assert len(listed(client.get("/epcis/dispositions/in_transit/events", headers=gz))) == 1


def test_error_declarations_are_queried_with_their_event(client: TestClient, keys: dict[str, Any]) -> None:
    original = event("E1", eventID="urn:uuid:0b0c4c1e-8a6d-4b8e-9a57-3c6f1f3c2a11")
    capture(client, keys["gz"], original)
    declaration = {"declarationTime": "2026-02-03T00:00:00Z", "reason": "incorrect_data",
                   "correctiveEventIDs": ["urn:uuid:c0ffee00-0000-4000-8000-000000000001"]}  # fmt: skip
    declared = {**original, "errorDeclaration": declaration}
    capture(client, keys["gz"], declared, event("E2"))
    gz = auth(keys["gz"])
    found = listed(client.get("/epcis/events?EXISTS_errorDeclaration=true", headers=gz))
    assert [e["eventID"] for e in found] == [original["eventID"]]
    assert found[0]["errorDeclaration"]["reason"] == "incorrect_data"
    reason = "urn:epcglobal:cbv:er:incorrect_data"
    assert len(listed(client.get(f"/epcis/events?EQ_errorReason={reason}", headers=gz))) == 1
    corrective = "urn:uuid:c0ffee00-0000-4000-8000-000000000001"
    assert len(listed(client.get(f"/epcis/events?EQ_correctiveEventID={corrective}", headers=gz))) == 1
    assert len(listed(client.get("/epcis/events?GE_errorDeclarationTime=2026-02-04T00:00:00Z", headers=gz))) == 0
    one = listed(client.get(f"/epcis/events/{original['eventID']}", headers=gz))
    assert one[0]["errorDeclaration"]["declarationTime"] == "2026-02-03T00:00:00Z"
    # A query on columns only (no JSON checks) merges the declaration in as well, and lists the event once.
    plain = [e for e in listed(client.get("/epcis/events?eventType=ObjectEvent", headers=gz))
             if e["eventID"] == original["eventID"]]  # fmt: skip
    assert len(plain) == 1
    assert plain[0]["errorDeclaration"]["reason"] == "incorrect_data"


def test_query_document_conforms_to_the_gs1_json_schema(client: TestClient, keys: dict[str, Any]) -> None:
    from tests.scanning.test_epcis import schema_path

    extended: dict[str, Any] = {"@context": [{"ex": "https://example.org/ext/"}], "ex:note": "x"}
    capture(client, keys["gz"], event("S1", **extended))
    body = client.get("/epcis/events", headers=auth(keys["gz"])).json()
    import jsonschema

    schema = json.loads(schema_path().read_text(encoding="utf-8"))
    jsonschema.validate(body, schema)
    assert {"ex": "https://example.org/ext/"} in body["@context"]  # the extension's prefix is declared
