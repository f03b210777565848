"""Capture in sets: a document larger than any statement may bind is stored whole, in statements of a fixed size."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from scanning.epcis import CAPTURE_BATCH, capture_document
from tests.sql import sent
from traceability.models import ChainHead, Event, EventEpc

CTX = ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"]
PG_LIMIT, SQLITE_LIMIT = 65_535, 32_766  # bound parameters per statement: psycopg's, SQLite's default maximum
EVENTS = 70_000  # more events (and identifiers) than either limit


def _document(events: int) -> dict[str, Any]:
    body = [
        {"type": "ObjectEvent", "action": "OBSERVE", "bizStep": "inspecting", "eventTimeZoneOffset": "+08:00",
         "eventID": f"urn:uuid:00000000-0000-4000-8000-{i:012d}", "eventTime": f"2026-01-05T10:{i // 3600 % 60:02d}:"
         f"{i // 60 % 60:02d}.{i % 60:03d}+08:00", "epcList": [f"urn:epc:id:sgtin:6901234.000010.S{i}"]}
        for i in range(events)
    ]  # fmt: skip
    return {"@context": CTX, "type": "EPCISDocument", "schemaVersion": "2.0",
            "creationDate": "2026-01-01T00:00:00Z", "epcisBody": {"eventList": body}}  # fmt: skip


def test_a_document_beyond_every_parameter_limit_is_stored_whole_in_fixed_size_statements(session: Session) -> None:
    head_before = session.exec(select(ChainHead.seq)).one()
    with sent(session) as seen:
        result = capture_document(session=session, document=_document(EVENTS))
    assert len(result.stored) == EVENTS and not result.refused
    assert session.exec(select(func.count()).select_from(Event)).one() == head_before + EVENTS
    assert session.exec(select(func.count()).select_from(EventEpc)).one() >= EVENTS
    assert session.exec(select(ChainHead.seq)).one() == head_before + EVENTS
    # No statement grows with the document: the largest binds what one chunk of a batch holds.
    assert max(s.widest for s in seen) <= 2 * CAPTURE_BATCH < min(PG_LIMIT, SQLITE_LIMIT)
    # A fixed number of statements per batch: far fewer than one per event (4.4 per event before).
    assert len(seen) < EVENTS / 10, len(seen)


def test_batches_give_what_one_append_gives(session: Session) -> None:
    """A document of several batches stores the same rows, in document order, as its events one by one would."""
    events = CAPTURE_BATCH * 2 + 7
    result = capture_document(session=session, document=_document(events))
    stored = session.exec(select(Event.event_id).order_by(col(Event.seq))).all()[-events:]
    assert stored == result.stored == [f"urn:uuid:00000000-0000-4000-8000-{i:012d}" for i in range(events)]
    again = capture_document(session=session, document=_document(events))
    assert not again.stored and len(again.duplicates) == events
