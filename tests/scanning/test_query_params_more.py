"""The query parameters ``test_epcis_rest.py`` leaves out, through ``GET /epcis/events`` on captured documents: the
sensor filters, ``WD_`` locations, persistent dispositions, typed sources and destinations, transformations, and
``EQ_eventID``. Each query has events it should and should not find, so every assertion can fail."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from tests.factories import api_key, auth, seed_masterdata
from tests.scanning.test_epcis_masterdata import LOCATION, READ_POINT, element, vocabulary, with_master_data
from tests.scanning.test_epcis_rest import GLN, capture, document, event, listed
from traceability.models import Role

SGTIN = "urn:epc:id:sgtin:6901234.000010."
GZ, NJ = f"https://id.gs1.org/414/{GLN['D-GZ']}", f"https://id.gs1.org/414/{GLN['D-NJ']}"
PARTY_GZ, PARTY_NJ = "https://id.gs1.org/417/6901234000030", "https://id.gs1.org/417/6901234000054"
TX1, TX2 = "urn:epc:id:gdti:6901234.00001.TX1", "urn:epc:id:gdti:6901234.00001.TX2"


def _id(name: str) -> str:
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, name)}"


NAMES = {_id(n): n for n in ("T1", "T2", "T3", "L1", "L2", "P1", "P2", "S1", "S2", "X1", "X2", "O1")}


def _sensor(device: str, *reports: dict[str, Any], start: str = "2026-02-01T08:00:00Z",
            end: str = "2026-02-01T09:00:00Z") -> list[dict[str, Any]]:  # fmt: skip
    meta = {"time": "2026-02-01T09:00:00Z", "deviceID": device, "startTime": start, "endTime": end}
    return [{"sensorMetadata": meta, "sensorReport": list(reports)}]


def _transformation(name: str, inputs: list[str], outputs: list[str], tx: str) -> dict[str, Any]:
    return {"type": "TransformationEvent", "eventID": _id(name), "eventTime": "2026-02-03T09:00:00+08:00",
            "eventTimeZoneOffset": "+08:00", "bizStep": "commissioning", "transformationID": tx,
            "inputEPCList": [SGTIN + s for s in inputs], "outputEPCList": [SGTIN + s for s in outputs],
            "readPoint": {"id": GZ}, "bizLocation": {"id": GZ}}  # fmt: skip


@pytest.fixture
def admin(client: TestClient, session: Session) -> dict[str, str]:
    seed_masterdata(session)
    gz, nj = api_key(session, Role.distributor, "D-GZ"), api_key(session, Role.distributor, "D-NJ")
    hashed = capture(client, gz, event("H1", t="2026-02-09T09:00:00+08:00")).json()["storedEventIDs"][0]
    NAMES[hashed] = "H1"
    capture(
        client, gz,
        event("T1", eventID=_id("T1"), t="2026-02-01T09:00:00+08:00", sensorElementList=_sensor(
            "urn:epc:id:giai:4000001.111", {"type": "gs1:Temperature", "value": 4.5, "uom": "CEL"},
            {"type": "gs1:RelativeHumidity", "value": 60, "uom": "A93"})),
        event("T2", eventID=_id("T2"), t="2026-02-01T10:00:00+08:00", sensorElementList=_sensor(
            "urn:epc:id:giai:4000001.222", {"type": "https://gs1.org/voc/Temperature", "value": 12.0, "uom": "CEL"},
            start="2026-02-01T10:00:00Z", end="2026-02-01T11:00:00Z")),
        event("T3", eventID=_id("T3"), t="2026-02-01T11:00:00+08:00"),
        event("P1", eventID=_id("P1"), t="2026-02-02T09:00:00+08:00",
              persistentDisposition={"set": ["completeness_verified"], "unset": ["completeness_inferred"]}),
        event("P2", eventID=_id("P2"), t="2026-02-02T10:00:00+08:00",
              persistentDisposition={"set": ["https://ref.gs1.org/cbv/Disp-completeness_inferred"]}),
        event("S1", eventID=_id("S1"), t="2026-02-02T11:00:00+08:00",
              sourceList=[{"type": "owning_party", "source": PARTY_GZ}],
              destinationList=[{"type": "urn:epcglobal:cbv:sdt:possessing_party", "destination": PARTY_NJ}]),
        event("S2", eventID=_id("S2"), t="2026-02-02T12:00:00+08:00",
              destinationList=[{"type": "owning_party", "destination": PARTY_NJ}]),
        _transformation("X1", ["IN1", "IN2"], ["OUT1"], TX1),
        _transformation("X2", ["OUT1"], ["FIN1"], TX2),
        event("O1", eventID=_id("O1"), t="2026-02-04T09:00:00+08:00"),
        event("L1", eventID=_id("L1"), t="2026-02-05T09:00:00+08:00"),
    )  # fmt: skip
    capture(client, nj, event("L2", at="D-NJ", eventID=_id("L2"), t="2026-02-05T10:00:00+08:00"))
    return auth(api_key(session, Role.admin))


def _found(client: TestClient, key: dict[str, str], **params: str) -> list[str]:
    return [NAMES[e["eventID"]] for e in listed(client.get("/epcis/events", params=params, headers=key))]



@pytest.mark.parametrize(
    ("params", "expected"),
    [
        # sensor values, with and without a unit: any report of the event may match
        ({"GE_value": "50"}, ["T1"]),  # T1's humidity, 60
        ({"GE_value_CEL": "10"}, ["T2"]),
        ({"GE_value_CEL": "50"}, []),  # the 60 is in A93, not CEL
        ({"LT_value_CEL": "5"}, ["T1"]),
        ({"GE_value_CEL": "4.5", "LT_value_CEL": "5"}, ["T1"]),
        ({"GT_value_CEL": "4.5"}, ["T2"]),
        ({"LE_value_CEL": "4.5"}, ["T1"]),
        ({"EQ_value_CEL": "12"}, ["T2"]),  # 12.0 as a number
        ({"EQ_value_A93": "60"}, ["T1"]),
        ({"LT_value": "0"}, []),
        # the report's type in any of its spellings
        ({"EQ_type": "gs1:RelativeHumidity"}, ["T1"]),
        ({"EQ_type": "https://gs1.org/voc/Temperature"}, ["T1", "T2"]),
        ({"EQ_type": "gs1:Temperature|gs1:Speed"}, ["T1", "T2"]),
        ({"EQ_type": "gs1:Speed"}, []),
        ({"EQ_deviceID": "urn:epc:id:giai:4000001.222"}, ["T2"]),
        ({"EQ_deviceID": "urn:epc:id:giai:4000001.111"}, ["T1"]),
        ({"EQ_deviceID": "urn:epc:id:giai:4000001.333"}, []),
        ({"GE_startTime": "2026-02-01T09:30:00Z"}, ["T2"]),
        ({"LT_endTime": "2026-02-01T10:00:00Z"}, ["T1"]),
    ],
)
def test_sensor_filters(client: TestClient, admin: dict[str, str], params: dict[str, str],
                        expected: list[str]) -> None:  # fmt: skip
    assert _found(client, admin, **params) == expected


def test_within_a_location_is_that_location(client: TestClient, admin: dict[str, str]) -> None:
    window = {"GE_eventTime": "2026-02-05T00:00:00+08:00"}
    assert _found(client, admin, **window) == ["L1", "L2", "H1"]
    assert _found(client, admin, WD_bizLocation=GZ, **window) == ["L1", "H1"]
    assert _found(client, admin, WD_bizLocation=NJ, **window) == ["L2"]
    assert _found(client, admin, WD_readPoint=NJ, **window) == ["L2"]
    assert _found(client, admin, WD_readPoint=f"{GZ}|{NJ}", **window) == ["L1", "L2", "H1"]
    assert _found(client, admin, WD_bizLocation="https://id.gs1.org/414/6901234999994", **window) == []


def test_a_location_is_found_in_its_urn_and_digital_link_spellings(client: TestClient, session: Session,
                                                                    admin: dict[str, str]) -> None:  # fmt: skip
    """L2 was stored at D-NJ as a Digital Link; U1 at D-NJ's dock 7 as an SGLN URN (a WMS's spelling)."""
    dock = "urn:epc:id:sgln:6901234.00005.7"
    NAMES[_id("U1")] = "U1"
    capture(client, api_key(session, Role.distributor, "D-NJ"),
            event("U1", at="D-NJ", eventID=_id("U1"), t="2026-02-06T09:00:00+08:00", bizLocation={"id": dock},
                  readPoint={"id": dock}))  # fmt: skip
    window = {"GE_eventTime": "2026-02-05T00:00:00+08:00"}
    for spelling in (NJ, "urn:epc:id:sgln:6901234.00005.0", f"{NJ}/254/0"):
        assert _found(client, admin, EQ_bizLocation=spelling, **window) == ["L2"], spelling
        assert _found(client, admin, EQ_readPoint=spelling, **window) == ["L2"], spelling
    for spelling in (dock, f"{NJ}/254/7", "https://example.com/414/6901234000054/254/7"):
        assert _found(client, admin, EQ_bizLocation=spelling, **window) == ["U1"], spelling
        assert _found(client, admin, EQ_readPoint=spelling, **window) == ["U1"], spelling
        assert _found(client, admin, WD_bizLocation=spelling, **window) == ["U1"], spelling
    for other in (f"{NJ}/254/8", "urn:epc:id:sgln:6901234.00005.8", GZ, "urn:epc:id:sgln:6901234.00004.0"):
        assert _found(client, admin, EQ_bizLocation=other, **window) == ([] if other != GZ else ["L1", "H1"])


REGION = "https://id.gs1.org/414/6901234000016"  # described as holding GZ, which holds its dock
DOCK = f"{GZ}/254/1"
ODD = "https://example.com/loc/a_b"  # LIKE's _ in an id matches only itself, not the region's child axb


def test_within_a_location_is_it_and_its_descendants_by_the_master_data(
    client: TestClient, session: Session, admin: dict[str, str]
) -> None:
    gz = api_key(session, Role.distributor, "D-GZ")
    header = with_master_data(
        document(event("L3", eventID=_id("L3"), t="2026-02-05T11:00:00+08:00", bizLocation={"id": DOCK},
                       readPoint={"id": DOCK}),
                 event("L4", eventID=_id("L4"), t="2026-02-05T12:00:00+08:00", bizLocation={"id": ODD})),
        vocabulary(LOCATION, element(REGION, "华南", [GZ, "https://example.com/loc/axb"]),
                   element(GZ, "广州仓", [DOCK, REGION]),  # a cycle back to the region: the walk still ends
                   element("https://example.com/loc/other", "别处", [ODD])),
        vocabulary(READ_POINT, element(GZ, "广州仓门", [DOCK])),
    )  # fmt: skip
    resp = client.post("/epcis/capture", json=header, headers=auth(gz))
    assert resp.status_code == 202, resp.text
    NAMES.update({_id("L3"): "L3", _id("L4"): "L4"})
    window = {"GE_eventTime": "2026-02-05T00:00:00+08:00"}
    assert _found(client, admin, WD_bizLocation=REGION, **window) == ["L1", "L3", "H1"]
    assert _found(client, admin, WD_bizLocation=GZ, **window) == ["L1", "L3", "H1"]
    assert _found(client, admin, WD_bizLocation=DOCK, **window) == ["L3"]
    assert _found(client, admin, EQ_bizLocation=REGION, **window) == []  # EQ_ is the value itself
    assert _found(client, admin, WD_bizLocation="https://example.com/loc/other", **window) == ["L4"]
    assert _found(client, admin, WD_bizLocation="https://example.com/loc/axb", **window) == []
    # a read point's hierarchy is the ReadPoint vocabulary's, not the business locations'
    assert _found(client, admin, WD_readPoint=GZ, **window) == ["L1", "L3", "L4", "H1"]  # L4 is read at GZ
    assert _found(client, admin, WD_readPoint=REGION, **window) == []
    # both hierarchies in one query (each its own recursive walk): the events within both
    assert _found(client, admin, WD_bizLocation=REGION, WD_readPoint=GZ, **window) == ["L1", "L3", "H1"]
    # the hierarchy widens a query, never the party scope
    assert _found(client, auth(api_key(session, Role.distributor, "D-NJ")), WD_bizLocation=REGION, **window) == []


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"EQ_persistentDisposition_set": "completeness_verified"}, ["P1"]),
        # a CBV disposition in any spelling, on either side
        ({"EQ_persistentDisposition_set": "urn:epcglobal:cbv:disp:completeness_inferred"}, ["P2"]),
        ({"EQ_persistentDisposition_set": "completeness_inferred|completeness_verified"}, ["P1", "P2"]),
        ({"EQ_persistentDisposition_unset": "completeness_inferred"}, ["P1"]),
        ({"EQ_persistentDisposition_unset": "completeness_verified"}, []),
    ],
)
def test_persistent_disposition(client: TestClient, admin: dict[str, str], params: dict[str, str],
                                expected: list[str]) -> None:  # fmt: skip
    assert _found(client, admin, **params) == expected


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"EQ_source_owning_party": PARTY_GZ}, ["S1"]),
        ({"EQ_source_possessing_party": PARTY_GZ}, []),  # the type must match too
        ({"EQ_source_owning_party": PARTY_NJ}, []),
        ({"EQ_destination_possessing_party": PARTY_NJ}, ["S1"]),  # stored as a URN type, asked bare
        ({"EQ_destination_owning_party": PARTY_NJ}, ["S2"]),
        ({"EQ_destination_https://ref.gs1.org/cbv/SDT-owning_party": PARTY_NJ}, ["S2"]),
        ({"EQ_destination_owning_party": f"{PARTY_GZ}|{PARTY_NJ}"}, ["S2"]),
        ({"EQ_destination_location": PARTY_NJ}, []),
    ],
)
def test_typed_sources_and_destinations(client: TestClient, admin: dict[str, str], params: dict[str, str],
                                        expected: list[str]) -> None:  # fmt: skip
    assert _found(client, admin, **params) == expected


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"EQ_transformationID": TX1}, ["X1"]),
        ({"EQ_transformationID": f"{TX1}|{TX2}"}, ["X1", "X2"]),
        ({"EQ_transformationID": "urn:epc:id:gdti:6901234.00001.TX9"}, []),
        ({"MATCH_inputEPC": SGTIN + "IN1"}, ["X1"]),
        ({"MATCH_inputEPC": SGTIN + "OUT1"}, ["X2"]),  # X1's output is X2's input
        ({"MATCH_outputEPC": SGTIN + "OUT1"}, ["X1"]),
        ({"MATCH_outputEPC": SGTIN + "IN1"}, []),
        ({"MATCH_inputEPC": "urn:epc:idpat:sgtin:6901234.000010.*"}, ["X1", "X2"]),
        ({"MATCH_outputEPC": "urn:epc:idpat:sgtin:6901234.000010.*"}, ["X1", "X2"]),
        ({"MATCH_inputEPC": "https://id.gs1.org/01/06901234000108/21/IN2"}, ["X1"]),  # a Digital Link
        ({"MATCH_inputEPC": SGTIN + "O1"}, []),  # an ObjectEvent's epcList is not an input
        ({"MATCH_epc": SGTIN + "IN1"}, []),  # nor is an input an epcList's EPC
        ({"MATCH_anyEPC": SGTIN + "OUT1"}, ["X1", "X2"]),
    ],
)
def test_transformations(client: TestClient, admin: dict[str, str], params: dict[str, str],
                         expected: list[str]) -> None:  # fmt: skip
    assert _found(client, admin, **params) == expected


def test_event_id(client: TestClient, admin: dict[str, str]) -> None:
    hashed = next(k for k, v in NAMES.items() if v == "H1")
    assert hashed.startswith("ni:///sha-256;")
    assert _found(client, admin, EQ_eventID=_id("S2")) == ["S2"]
    assert _found(client, admin, EQ_eventID=hashed) == ["H1"]  # its / ; ? percent-encoded in the query string
    assert _found(client, admin, EQ_eventID=f"{_id('T1')}|{hashed}") == ["T1", "H1"]
    assert _found(client, admin, EQ_eventID=_id("nothing")) == []
    # with other parameters: all must hold
    assert _found(client, admin, EQ_eventID=_id("T1"), EQ_type="gs1:Temperature") == ["T1"]
    assert _found(client, admin, EQ_eventID=_id("T3"), EQ_type="gs1:Temperature") == []
