from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, text
from sqlmodel import Session, select

from ledger.event_hash import document_events
from ledger.store import verify_chain
from scanning.epcis import EventQuery, capture_document, export_document, query_events
from scanning.errors import CaptureConflict, InvalidDocument
from tests.conftest import conformance_dir
from traceability.models import Event

CTX = ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"]


def doc(*events: dict[str, Any]) -> dict[str, Any]:
    return {"@context": CTX, "type": "EPCISDocument", "schemaVersion": "2.0",
            "creationDate": "2026-01-01T00:00:00Z", "epcisBody": {"eventList": list(events)}}  # fmt: skip


def obj(epcs: list[str], step: str = "shipping", t: str = "2026-01-05T10:00:00+08:00", **kw: Any) -> dict[str, Any]:
    e = {"type": "ObjectEvent", "action": "OBSERVE", "bizStep": step, "epcList": epcs, "eventTime": t,
         "eventTimeZoneOffset": t[-6:] if t[-6] in "+-" else "+00:00"}  # fmt: skip
    e.update(kw)
    return e


def schema_path() -> Path:
    return conformance_dir("epcis") / "EPCIS-JSON-Schema.json"


def official_examples() -> list[Path]:
    root = conformance_dir("epcis", "JSON")
    return sorted(p for p in root.rglob("*") if p.suffix in (".jsonld", ".json"))


def test_every_official_example_captures_or_is_refused_with_a_reason(session: Session) -> None:
    """Each example into an empty store (several examples reuse one eventID for different content, on purpose)."""
    captured, refused = [], []
    for path in official_examples():
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            refused.append((path.name, f"not JSON: {exc}"))
            continue
        savepoint = session.begin_nested()
        try:
            result = capture_document(session=session, document=raw, schema_path=schema_path())
        except InvalidDocument as exc:
            refused.append((path.name, str(exc) if exc.problems else ""))
            savepoint.rollback()
            continue
        captured.append(path.name)
        events, _ = query_events(session=session, query=EventQuery(limit=10_000))
        assert {e["eventID"] for e in events} == set(result.stored), path.name
        assert result.stored and not result.refused, path.name
        assert verify_chain(session=session).ok
        savepoint.rollback()
    print(f"\nEPCIS examples: {len(captured)} captured, {len(refused)} refused")
    for name, reason in refused:
        print(f"  refused {name}: {reason.splitlines()[0]}")
    assert all(reason for _, reason in refused)
    assert len(refused) <= 1, refused


def test_events_without_an_id_get_the_published_event_hash(session: Session) -> None:
    checked = 0
    for path in sorted(conformance_dir("event-hash").glob("*.jsonld")):
        raw = json.loads(path.read_text(encoding="utf-8"))
        for e in document_events(raw):
            e.pop("eventID", None)  # type: ignore[attr-defined]
        expected = [h.strip() for h in path.with_suffix(".hashes").read_text().splitlines() if h.strip()]
        savepoint = session.begin_nested()
        result = capture_document(session=session, document=raw)
        savepoint.rollback()
        # Events with identical content share one hash: the second is acknowledged as a duplicate.
        assert sorted(set(result.stored + result.duplicates)) == sorted(set(expected)), path.name
        checked += len(expected)
    assert checked >= 40


def test_capture_is_idempotent_and_conflicts_are_409(session: Session) -> None:
    e1 = obj(["urn:epc:id:sgtin:0614141.107346.2017"], eventID="urn:uuid:11111111-1111-4111-8111-111111111111")
    first = capture_document(session=session, document=doc(e1))
    assert len(first.stored) == 1
    again = capture_document(session=session, document=doc(e1))
    assert again.stored == [] and again.duplicates == [e1["eventID"]]
    changed = copy.deepcopy(e1)
    changed["bizStep"] = "receiving"
    with pytest.raises(CaptureConflict) as info:
        capture_document(session=session, document=doc(changed))
    assert info.value.status_code == 409
    assert session.exec(select(func.count()).select_from(Event)).one() == 1


def test_same_event_in_other_notation_is_a_duplicate(session: Session) -> None:
    urn = obj(["urn:epc:id:sgtin:0614141.107346.2017"])
    dl = obj(["https://id.gs1.org/01/10614141073464/21/2017"])
    first = capture_document(session=session, document=doc(urn))
    second = capture_document(session=session, document=doc(dl))
    assert second.duplicates == first.stored


def test_document_is_all_or_nothing_unless_proceed(session: Session) -> None:
    good = obj(["urn:epc:id:sgtin:0614141.107346.1"])
    bad = obj(["urn:epc:id:sgtin:0614141.107346.2"], t="yesterday")
    with pytest.raises(InvalidDocument) as info:
        capture_document(session=session, document=doc(good, bad))
    assert info.value.problems[0].path == "/epcisBody/eventList/1"
    assert "eventTime" in info.value.problems[0].reason
    assert session.exec(select(func.count()).select_from(Event)).one() == 0
    result = capture_document(session=session, document=doc(good, bad), proceed=True)
    assert len(result.stored) == 1 and result.refused[0].index == 1


@pytest.mark.parametrize(
    "document",
    [[], {"type": "Nope"}, {"type": "EPCISDocument"}, {"type": "EPCISDocument", "epcisBody": {"eventList": 3}}],
)
def test_non_documents_are_refused_clearly(session: Session, document: Any) -> None:
    with pytest.raises(InvalidDocument) as info:
        capture_document(session=session, document=document)
    assert str(info.value)


def test_unknown_things_are_stored_with_warnings(session: Session) -> None:
    e = obj(["urn:epc:id:sgtin:0614141.107346.9"], bizLocation={"id": "urn:epc:id:sgln:0614141.00001.0"})
    result = capture_document(session=session, document=doc(e))
    assert result.stored and any("unknown location" in w for w in result.warnings[result.stored[0]])


def test_query_filters_and_paging(session: Session) -> None:
    events = [obj([f"urn:epc:id:sgtin:0614141.107346.{i}"], step="shipping" if i % 2 else "receiving",
                  t=f"2026-01-0{1 + i % 5}T10:00:00+08:00") for i in range(10)]  # fmt: skip
    capture_document(session=session, document=doc(*events))
    shipping, _ = query_events(session=session, query=EventQuery(biz_step=["shipping"]))
    assert len(shipping) == 5
    one, _ = query_events(session=session, query=EventQuery(match_epc=["https://id.gs1.org/01/10614141073464/21/3"]))
    assert len(one) == 1 and one[0]["epcList"] == ["urn:epc:id:sgtin:0614141.107346.3"]
    page1, cursor = query_events(session=session, query=EventQuery(limit=4))
    page2, cursor2 = query_events(session=session, query=EventQuery(limit=4, after=cursor or 0))
    page3, cursor3 = query_events(session=session, query=EventQuery(limit=4, after=cursor2 or 0))
    assert [len(page1), len(page2), len(page3), cursor3] == [4, 4, 2, None]
    exported = export_document(session=session)
    assert len(exported["epcisBody"]["eventList"]) == 10


def test_chain_detects_alteration_and_removal(session: Session) -> None:
    capture_document(session=session, document=doc(*[obj([f"urn:epc:id:sgtin:0614141.107346.{i}"]) for i in range(5)]))
    assert verify_chain(session=session).ok
    session.execute(text("UPDATE epcis_event SET document = replace(document, 'shipping', 'receiving') WHERE seq = 3"))
    report = verify_chain(session=session)
    assert not report.ok and any("altered" in p for p in report.problems)
    session.execute(text("DELETE FROM epcis_event_epc WHERE event_pk IN (SELECT id FROM epcis_event WHERE seq = 5)"))
    session.execute(text("DELETE FROM epcis_event WHERE seq = 5"))
    report = verify_chain(session=session)
    assert any("removed" in p for p in report.problems)
