"""Builders for settlement scenarios: EPCIS events captured the repository way, units by serial."""

from __future__ import annotations

import itertools
from typing import Any

from sqlmodel import Session

from scanning.epcis import capture_document
from tests.factories import masterdata_doc
from traceability.masterdata.service import import_masterdata
from traceability.privacy import MEMBER_FIELD

GLN = {"BRAND": "6901234000009", "PLANT-1": "6901234000016", "WH-1": "6901234000023", "D-GZ": "6901234000030",
       "S-GZ-1": "6901234000047", "D-NJ": "6901234000054", "S-NJ-1": "6901234000061"}  # fmt: skip
P1 = "06901234000108"  # 268.00 CNY
P2 = "06901234000115"  # 99.50 CNY
_ITEM = {P1: "000010", P2: "000011"}
_seq = itertools.count(1)


def seed(session: Session) -> None:
    doc = masterdata_doc()
    doc["products"].append({"gtin": P2, "name": "会员装 婴儿米粉 225 g", "unit_price": "99.50", "currency": "CNY"})
    import_masterdata(session=session, raw=doc)
    session.flush()


def unit(gtin: str, serial: str) -> str:
    return f"urn:epc:id:sgtin:6901234.{_ITEM[gtin]}.{serial}"


def units(gtin: str, prefix: str, n: int) -> list[str]:
    return [unit(gtin, f"{prefix}{i}") for i in range(1, n + 1)]


def sscc(n: int) -> str:
    return f"urn:epc:id:sscc:6901234.{n:010d}"


def party(pid: str) -> str:
    return f"urn:epc:id:sgln:6901234.{GLN[pid][7:12]}.0"


def event(step: str, epcs: list[str], at: str, when: str, *, to: str | None = None, member: str | None = None,
          kind: str = "ObjectEvent", action: str = "OBSERVE", parent: str | None = None,
          event_id: str | None = None) -> dict[str, Any]:  # fmt: skip
    e: dict[str, Any] = {
        "eventID": event_id or f"urn:uuid:00000000-0000-4000-8000-{next(_seq):012d}", "type": kind, "action": action,
        "bizStep": step, "eventTime": when, "eventTimeZoneOffset": when[-6:] if when[-6] in "+-" else "+00:00",
        "bizLocation": {"id": party(at)},
    }  # fmt: skip
    if kind == "AggregationEvent":
        e["parentID"], e["childEPCs"] = parent, epcs
    else:
        e["epcList"] = epcs
    if step == "shipping":
        e["sourceList"] = [{"type": "owning_party", "source": party(at)}]
        if to:
            e["destinationList"] = [{"type": "owning_party", "destination": party(to)}]
    if member:
        e[MEMBER_FIELD] = member
    return e


def retract(e: dict[str, Any]) -> dict[str, Any]:
    wrong = dict(e)
    wrong["errorDeclaration"] = {"declarationTime": "2026-05-02T00:00:00Z", "reason": "incorrect_data"}
    return wrong


def capture(session: Session, *events: dict[str, Any]) -> None:
    document = {"type": "EPCISDocument", "schemaVersion": "2.0", "creationDate": "2026-04-01T00:00:00Z",
                "epcisBody": {"eventList": list(events)}}  # fmt: skip
    capture_document(session=session, document=document)
