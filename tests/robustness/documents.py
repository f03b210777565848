"""EPCIS documents for the hostile-input suite: one full event of each kind (every field the standard has, so each
can be made wrong), wrong values to put in them, and the malformed documents the server must refuse by name."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

CONTEXT = ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld", {"ex": "https://example.com/ns/"}]
T = "2026-03-01T10:00:00.000+08:00"
SENSOR = {
    "sensorMetadata": {"time": T, "deviceID": "urn:epc:id:giai:4000001.111", "rawData": "https://example.com/raw/1"},
    "sensorReport": [{"type": "Temperature", "value": 26.0, "uom": "CEL", "minValue": 20, "stringValue": "ok",
                      "booleanValue": True, "hexBinaryValue": "AB12", "time": T}],
}  # fmt: skip
COMMON = {
    "eventTime": T, "eventTimeZoneOffset": "+08:00", "recordTime": "2026-03-01T02:00:01Z",
    "bizStep": "shipping", "disposition": "in_transit",
    "readPoint": {"id": "urn:epc:id:sgln:0614141.07346.1234"}, "bizLocation": {"id": "urn:epc:id:sgln:0614141.07346.0"},
    "bizTransactionList": [{"type": "po", "bizTransaction": "urn:epcglobal:cbv:bt:0614141073467:1152"}],
    "sourceList": [{"type": "owning_party", "source": "urn:epc:id:pgln:0614141.00001"}],
    "destinationList": [{"type": "owning_party", "destination": "urn:epc:id:pgln:4012345.00001"}],
    "sensorElementList": [SENSOR],
    "certificationInfo": "https://accreditation-council.example.org/certificate/ABC12345",
    "ex:note": "an extension field",
}  # fmt: skip
QUANTITY = [{"epcClass": "urn:epc:class:lgtin:4012345.012345.998877", "quantity": 200, "uom": "KGM"}]
EPCS = ["urn:epc:id:sgtin:0614141.107346.2017", "urn:epc:id:sgtin:0614141.107346.2018"]


def full_events(tag: str) -> list[dict[str, Any]]:
    """One event of each type with every field, eventIDs made unique by ``tag``."""
    events = [
        {"type": "ObjectEvent", "action": "OBSERVE", "epcList": EPCS, "quantityList": QUANTITY,
         "persistentDisposition": {"set": ["completeness_verified"], "unset": ["completeness_inferred"]},
         "ilmd": {"ex:bestBefore": "2027-01-01"}, **COMMON},
        {"type": "AggregationEvent", "action": "ADD", "parentID": "urn:epc:id:sscc:0614141.1234567890",
         "childEPCs": EPCS, "childQuantityList": QUANTITY, **COMMON},
        {"type": "TransactionEvent", "action": "ADD", "parentID": "urn:epc:id:sscc:0614141.1234567891",
         "epcList": EPCS, "quantityList": QUANTITY, **COMMON},
        {"type": "TransformationEvent", "inputEPCList": EPCS, "inputQuantityList": QUANTITY,
         "outputEPCList": ["urn:epc:id:sgtin:0614141.107346.3001"], "outputQuantityList": QUANTITY,
         "transformationID": "urn:epc:id:gdti:0614141.12345.400", "ilmd": {"ex:lot": "L1"}, **COMMON},
        {"type": "AssociationEvent", "action": "ADD", "parentID": "urn:epc:id:grai:4012345.55555.987",
         "childEPCs": ["urn:epc:id:giai:4000001.12345"], "childQuantityList": QUANTITY, **COMMON},
    ]  # fmt: skip
    out = copy.deepcopy(events)
    for i, event in enumerate(out):
        event["eventID"] = f"urn:uuid:00000000-0000-4000-8000-{tag}{i:04d}"
    return out


def document(*events: Any, **header: Any) -> dict[str, Any]:
    return {"@context": CONTEXT, "type": "EPCISDocument", "schemaVersion": "2.0",
            "creationDate": "2026-03-01T02:00:00Z", **header, "epcisBody": {"eventList": list(events)}}  # fmt: skip


WRONG: list[Any] = [None, True, 5, 1.5, "", "x", [], ["ADD"], [5], {}, {"id": 5}, "y" * 1000]
"""Wrong values: every JSON type, empty and not, and a string longer than any identifier column."""


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every place in a JSON value: object members and the first element of each array."""
    if isinstance(value, dict):
        for key, member in value.items():
            yield (*prefix, key)
            yield from paths(member, (*prefix, key))
    elif isinstance(value, list) and value:
        yield (*prefix, 0)
        yield from paths(value[0], (*prefix, 0))


def replaced(event: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    out = copy.deepcopy(event)
    holder: Any = out
    for step in path[:-1]:
        holder = holder[step]
    holder[path[-1]] = value
    return out


MB = 1024 * 1024
BIG = "z" * (10 * 1000 * 1000)
"""A 10 MB string (the body limit is 16 MiB, so documents holding one reach the field checks)."""


def malformed_documents() -> list[tuple[str, bytes, str]]:
    """(name, body, a word the refusal must contain): 50 documents the server must refuse with a 4xx naming why."""
    base = full_events("99990000")[0]

    def event_with(**fields: Any) -> bytes:
        return json.dumps(document({**base, **fields})).encode()

    def deep(levels: int) -> bytes:
        return b'{"type": "EPCISDocument", "epcisBody": {"eventList": [' + b"[" * levels + b"]" * levels + b"]}}"

    cases: list[tuple[str, bytes, str]] = [
        ("action as a list", event_with(action=["ADD"]), "action"),
        ("action as a number", event_with(action=1), "action"),
        ("bizStep as a number", event_with(bizStep=5), "bizStep"),
        ("bizStep as an object", event_with(bizStep={"id": "shipping"}), "bizStep"),
        ("disposition as a list", event_with(disposition=["in_transit"]), "disposition"),
        ("type as a list", event_with(type=["ObjectEvent"]), "type"),
        ("type as null", event_with(type=None), "type"),
        ("eventTime as a number", event_with(eventTime=1717000000), "eventTime"),
        ("eventTime without offset", event_with(eventTime="2026-03-01T10:00:00"), "eventTime"),
        ("eventTimeZoneOffset as a number", event_with(eventTimeZoneOffset=8), "eventTimeZoneOffset"),
        ("eventID as a number", event_with(eventID=42), "eventID"),
        ("eventID as an object", event_with(eventID={"id": "x"}), "eventID"),
        ("recordTime as a boolean", event_with(recordTime=True), "recordTime"),
        ("epcList as a string", event_with(epcList="urn:epc:id:sgtin:0614141.107346.2017"), "epcList"),
        ("epcList of numbers", event_with(epcList=[1, 2, 3]), "epcList"),
        ("epcList of objects", event_with(epcList=[{"epc": "x"}]), "epcList"),
        ("quantityList as an object", event_with(quantityList={"epcClass": "x"}), "quantityList"),
        ("quantity as a string", event_with(quantityList=[{"epcClass": "urn:x", "quantity": "200"}]), "quantity"),
        ("epcClass missing", event_with(quantityList=[{"quantity": 2}]), "epcClass"),
        ("readPoint as a string", event_with(readPoint="urn:epc:id:sgln:0614141.07346.1234"), "readPoint"),
        ("readPoint id as a number", event_with(readPoint={"id": 7}), "readPoint"),
        ("bizLocation as a list", event_with(bizLocation=[{"id": "x"}]), "bizLocation"),
        ("bizLocation id missing", event_with(bizLocation={}), "bizLocation"),
        ("sourceList as an object", event_with(sourceList={"type": "owning_party"}), "sourceList"),
        ("source as a number", event_with(sourceList=[{"type": "owning_party", "source": 5}]), "sourceList"),
        ("destinationList of strings", event_with(destinationList=["x"]), "destinationList"),
        ("bizTransactionList as a string", event_with(bizTransactionList="po"), "bizTransactionList"),
        ("sensorElementList as an object", event_with(sensorElementList={}), "sensorElementList"),
        ("sensor value as a string",
         event_with(sensorElementList=[{"sensorReport": [{"type": "Temperature", "value": "26"}]}]), "value"),
        ("sensor booleanValue as a string",
         event_with(sensorElementList=[{"sensorReport": [{"type": "x", "booleanValue": "true"}]}]), "booleanValue"),
        ("persistentDisposition as a list", event_with(persistentDisposition=["x"]), "persistentDisposition"),
        ("ilmd as a string", event_with(ilmd="lot 1"), "ilmd"),
        ("certificationInfo as a number", event_with(certificationInfo=5), "certificationInfo"),
        ("errorDeclaration as a string", event_with(errorDeclaration="oops"), "errorDeclaration"),
        ("declarationTime as a number", event_with(errorDeclaration={"declarationTime": 5}), "declarationTime"),
        ("parentID as a list", event_with(type="AggregationEvent", action="ADD", parentID=["x"]), "parentID"),
        ("childEPCs as a string", event_with(type="AggregationEvent", action="ADD", childEPCs="x"), "childEPCs"),
        ("@context of numbers", event_with(**{"@context": [5]}), "@context"),
        ("event as a string", json.dumps(document("ObjectEvent")).encode(), "object"),
        ("eventList as an object", json.dumps({**document(), "epcisBody": {"eventList": {}}}).encode(), "eventList"),
        ("epcisBody as a list", json.dumps({**document(), "epcisBody": []}).encode(), "epcisBody"),
        ("creationDate as a number", json.dumps(document(base, creationDate=20260301)).encode(), "creationDate"),
        ("document type as a list", json.dumps({**document(base), "type": ["EPCISDocument"]}).encode(), "type"),
        ("not JSON", b"{'type': 'EPCISDocument'}", "JSON"),
        ("not UTF-8", b'{"type": "EPCISDocument\xff"}', "JSON"),
        ("200,000-deep nesting", deep(200_000), "nested"),
        ("10 MB eventID", event_with(eventID="urn:uuid:" + BIG), "eventID"),
        ("10 MB EPC", event_with(epcList=["urn:epc:id:sgtin:0614141.107346." + BIG]), "epcList"),
        ("10 MB bizStep", event_with(bizStep=BIG), "bizStep"),
        ("10 MB eventTime", event_with(eventTime=BIG), "eventTime"),
    ]  # fmt: skip
    return cases
