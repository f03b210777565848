"""Arrival order does not matter: any order, any split into documents, with duplicates, gives the same states."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import Session, select

from codes import service as codes
from codes.keyfiles import KeyFileStore
from scanning.epcis import capture_document
from scanning.parse import parse_scan
from tests.factories import GTIN, seed_masterdata
from traceability.models import Code, CodeLevel, CodeStatus

GLN = {"PLANT-1": "6901234000016", "D-GZ": "6901234000030", "S-GZ-1": "6901234000047", "D-NJ": "6901234000054"}
SSCC = "069012340000000009"


def party(pid: str) -> str:
    return f"urn:epc:id:sgln:6901234.{GLN[pid][7:12]}.0"


def ev(n: int, step: str, epcs: list[str], at: str, *, dest: str | None = None, kind: str = "ObjectEvent",
       action: str = "OBSERVE", parent: str | None = None) -> dict[str, Any]:  # fmt: skip
    e: dict[str, Any] = {
        "eventID": f"urn:uuid:00000000-0000-4000-8000-{n:012d}", "type": kind, "action": action, "bizStep": step,
        "eventTime": f"2026-04-01T{8 + n:02d}:00:00+08:00", "eventTimeZoneOffset": "+08:00",
        "bizLocation": {"id": party(at)},
    }  # fmt: skip
    if kind == "AggregationEvent":
        e["parentID"] = parent
        e["childEPCs"] = epcs
    else:
        e["epcList"] = epcs
    if dest:
        e["destinationList"] = [{"type": "owning_party", "destination": party(dest)}]
    return e


@pytest.fixture
def world(session: Session, tmp_path: Path) -> tuple[list[str], list[dict[str, Any]]]:
    seed_masterdata(session)
    store = KeyFileStore(tmp_path / "keys")
    codes.create_key(session=session, store=store)
    out = io.StringIO()
    signer = codes.load_signer(session=session, store=store)
    codes.generate_codes(session=session, signer=signer, gtin=GTIN, lot=None, expiry=None, count=4, out=out,
                         party_id="PLANT-1")  # fmt: skip
    urns = [parse_scan(line).epc_urn for line in out.getvalue().split()]
    session.add(Code(level=CodeLevel.case, sscc=SSCC, status=CodeStatus.generated, holder_id="PLANT-1"))
    session.flush()
    case = f"urn:epc:id:sscc:6901234.{SSCC[0]}{SSCC[8:17]}"
    events = [
        ev(0, "commissioning", urns, "PLANT-1", action="ADD"),
        ev(1, "packing", urns[:3], "PLANT-1", kind="AggregationEvent", action="ADD", parent=case),
        ev(2, "shipping", [case], "PLANT-1", dest="D-GZ"),
        ev(3, "receiving", [case], "D-GZ"),
        ev(4, "unpacking", [urns[0]], "D-GZ", kind="AggregationEvent", action="DELETE", parent=case),
        ev(5, "shipping", [urns[0], urns[3]], "D-GZ", dest="S-GZ-1"),
        ev(6, "retail_selling", [urns[0]], "S-GZ-1"),
        ev(7, "shipping", [case], "D-GZ", dest="D-NJ"),
    ]
    return urns, events


def states(session: Session) -> dict[str, tuple[str, str | None]]:
    rows = session.exec(select(Code).order_by(Code.id)).all()  # type: ignore[arg-type]
    for r in rows:
        session.refresh(r)
    return {f"{r.serial or r.sscc}": (str(r.status), r.holder_id) for r in rows}


def document(events: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "EPCISDocument", "schemaVersion": "2.0", "creationDate": "2026-04-01T00:00:00Z",
            "epcisBody": {"eventList": events}}  # fmt: skip


def test_reference_states(session: Session, world) -> None:
    urns, events = world
    capture_document(session=session, document=document(events))
    got = states(session)
    serial = [u.rsplit(".", 1)[1] for u in urns]
    assert got[serial[0]] == ("sold", "S-GZ-1")
    assert got[serial[1]] == ("shipped", "D-NJ")  # still in the case when the case left for Nanjing
    assert got[serial[3]] == ("shipped", "S-GZ-1")
    assert got[SSCC] == ("shipped", "D-NJ")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_order_and_split_gives_the_same_states(session: Session, world, data: st.DataObject) -> None:
    _, events = world
    savepoint = session.begin_nested()
    capture_document(session=session, document=document(events))
    expected = states(session)
    savepoint.rollback()

    shuffled = data.draw(st.permutations(events))
    repeats = data.draw(st.lists(st.sampled_from(events), max_size=4))
    stream = list(shuffled) + repeats
    cuts = sorted(data.draw(st.sets(st.integers(1, max(1, len(stream) - 1)), max_size=4)))
    savepoint = session.begin_nested()
    start = 0
    for cut in [*cuts, len(stream)]:
        if cut > start:
            capture_document(session=session, document=document(stream[start:cut]))
            start = cut
    got = states(session)
    savepoint.rollback()
    assert got == expected


def test_error_declaration_retracts_what_followed_from_an_event(session: Session, world) -> None:
    urns, events = world
    capture_document(session=session, document=document(events))
    serial0 = urns[0].rsplit(".", 1)[1]
    assert states(session)[serial0] == ("sold", "S-GZ-1")
    wrong = dict(events[6])
    wrong["errorDeclaration"] = {"declarationTime": "2026-04-02T10:00:00+08:00", "reason": "incorrect_data"}
    result = capture_document(session=session, document=document([wrong]))
    assert result.stored == [events[6]["eventID"]]
    assert states(session)[serial0] == ("shipped", "S-GZ-1")
    # The declaration arriving before the event it retracts: the event never counts.
    again = capture_document(session=session, document=document([wrong]))
    assert again.duplicates == [events[6]["eventID"]]
