"""EPCIS 2.0 capture, query and export over the append-only, hash-chained event store.

Capture validates and the ledger stores (:func:`ledger.store.append`). It behaves as a repository's capture: it
refuses only what is not valid EPCIS 2.0 (schema, syntax, an eventID already stored with other content) and stores
every valid event, including events about codes, places or parties it does not know: those become warnings on the
event (and alerts, through the listeners), never a lost event.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import or_
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from ledger.event_hash import HashContext, event_hash_id
from ledger.keys import key_of
from ledger.store import NewEvent, append, canonical_json, normalise_vocab, parse_event_time
from scanning.errors import CaptureConflict, InvalidDocument
from traceability.auth.service import Principal, scope_to_party
from traceability.errors import Problem
from traceability.models import Capture, Event, EventEpc

__all__ = [
    "EVENT_TYPES",
    "CaptureResult",
    "EventQuery",
    "capture_document",
    "export_document",
    "load_schema",
    "query_events",
]

EVENT_TYPES = frozenset(
    {"ObjectEvent", "AggregationEvent", "TransactionEvent", "TransformationEvent", "AssociationEvent"}
)
_NEEDS_ACTION = frozenset({"ObjectEvent", "AggregationEvent", "TransactionEvent", "AssociationEvent"})
_ACTIONS = frozenset({"ADD", "OBSERVE", "DELETE"})
_OFFSET = re.compile(r"^[+-](0\d|1[0-4]):[0-5]\d$")
# --- validation ---------------------------------------------------------------------------------------------------


@lru_cache(maxsize=4)
def load_schema(path: Path) -> Any:
    """A compiled validator of the GS1 EPCIS 2.0 JSON schema (read once per process)."""
    import jsonschema

    schema = json.loads(Path(path).read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def _event_list(document: Mapping[str, Any]) -> tuple[list[Any], str]:
    if document.get("type") == "EPCISDocument":
        body = document.get("epcisBody")
        if not isinstance(body, dict):
            raise InvalidDocument("EPCISDocument has no epcisBody object", [Problem("/epcisBody", "missing")])
        if "event" in body and "eventList" not in body:
            return [body["event"]], "/epcisBody/event"
        events = body.get("eventList")
        if not isinstance(events, list):
            raise InvalidDocument("epcisBody has no eventList array", [Problem("/epcisBody/eventList", "missing")])
        return events, "/epcisBody/eventList"
    if document.get("type") == "EPCISQueryDocument":
        results = document.get("epcisBody", {}).get("queryResults", {}).get("resultsBody", {})
        events = results.get("eventList") if isinstance(results, dict) else None
        if not isinstance(events, list):
            path = "/epcisBody/queryResults/resultsBody/eventList"
            raise InvalidDocument("EPCISQueryDocument has no result event list", [Problem(path, "missing")])
        return events, "/epcisBody/queryResults/resultsBody/eventList"
    kind = document.get("type")
    raise InvalidDocument(
        f"not an EPCIS 2.0 document: type is {kind!r}, expected 'EPCISDocument'", [Problem("/type", "not EPCIS")]
    )


def _has_nul(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def _check_event(event: object) -> list[str]:
    """The structural rules of EPCIS 2.0 this store relies on; the JSON schema, when configured, checks the rest."""
    if not isinstance(event, dict):
        return ["an event must be a JSON object"]
    reasons: list[str] = []
    if _has_nul(event):
        reasons.append("a value contains a NUL character, which no EPCIS field may hold")
    kind = event.get("type")
    if kind not in EVENT_TYPES:
        reasons.append(f"type {kind!r} is not an EPCIS 2.0 event type")
    if kind in _NEEDS_ACTION and event.get("action") not in _ACTIONS:
        reasons.append(f"action must be ADD, OBSERVE or DELETE, got {event.get('action')!r}")
    try:
        parse_event_time(event.get("eventTime"))
    except ValueError as exc:
        reasons.append(f"eventTime {exc}")
    offset = event.get("eventTimeZoneOffset")
    if not isinstance(offset, str) or not _OFFSET.match(offset):
        reasons.append(f"eventTimeZoneOffset must look like +08:00, got {offset!r}")
    if "eventID" in event and not (isinstance(event["eventID"], str) and event["eventID"].strip()):
        reasons.append("eventID must be a non-empty string (a URI)")
    for name in ("epcList", "childEPCs", "inputEPCList", "outputEPCList"):
        if name in event and not (isinstance(event[name], list) and all(isinstance(x, str) for x in event[name])):
            reasons.append(f"{name} must be a list of URI strings")
    for name in ("readPoint", "bizLocation"):
        if name in event and not (isinstance(event[name], dict) and isinstance(event[name].get("id"), str)):
            reasons.append(f"{name} must be an object with an id")
    if "errorDeclaration" in event:
        decl = event["errorDeclaration"]
        if not isinstance(decl, dict) or "declarationTime" not in decl:
            reasons.append("errorDeclaration must be an object with a declarationTime")
    return reasons


# --- capture ------------------------------------------------------------------------------------------------------


@dataclass
class EventProblem:
    index: int
    event_id: str | None
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"index": self.index, "eventID": self.event_id, "reason": self.reason}


@dataclass
class CaptureResult:
    """What a capture did: stored and already-present event ids, and (in proceed mode) the refused events."""

    capture_id: int | None
    stored: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    refused: list[EventProblem] = field(default_factory=list)
    warnings: dict[str, list[str]] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list, repr=False)

    def as_dict(self) -> dict[str, Any]:
        return {
            "captureID": self.capture_id,
            "stored": len(self.stored),
            "duplicates": len(self.duplicates),
            "refused": [p.as_dict() for p in self.refused],
            "storedEventIDs": self.stored,
            "duplicateEventIDs": self.duplicates,
            "warnings": self.warnings,
        }


def capture_document(
    *,
    session: Session,
    document: object,
    proceed: bool = False,
    origin: str = "epcis",
    party_id: str | None = None,
    schema_path: Path | None = None,
    capture: Capture | None = None,
) -> CaptureResult:
    """Validate and store an EPCISDocument: all or nothing, or (``proceed``) the valid events with the others refused.

    Idempotent by eventID (or the CBV 2.0 event hash when an event has none): the same event again is acknowledged
    as a duplicate; the same eventID with other content is a conflict.
    """
    if not isinstance(document, dict):
        raise InvalidDocument("an EPCIS document must be a JSON object", [Problem("", "not an object")])
    events, base = _event_list(document)

    schema_errors: dict[int, list[str]] = {}
    if schema_path is not None:
        for error in load_schema(schema_path).iter_errors(document):
            path = list(error.absolute_path)
            prefix: list[object] = list(base.strip("/").split("/"))
            if path[: len(prefix)] == prefix and len(path) > len(prefix) and isinstance(path[len(prefix)], int):
                schema_errors.setdefault(path[len(prefix)], []).append(error.message)
            else:
                where = "/" + "/".join(str(p) for p in path)
                raise InvalidDocument(
                    "document does not conform to the EPCIS 2.0 JSON schema", [Problem(where, error.message)]
                )

    context = HashContext.for_document(document)
    refused: list[EventProblem] = []
    prepared: list[tuple[int, NewEvent]] = []
    for index, event in enumerate(events):
        reasons = _check_event(event) + schema_errors.get(index, [])
        given_id = event.get("eventID") if isinstance(event, dict) else None
        if reasons:
            refused.append(EventProblem(index, given_id, "; ".join(reasons)))
            continue
        assert isinstance(event, dict)
        try:
            hash_id = event_hash_id(event, context)
        except (ValueError, TypeError, KeyError) as exc:
            refused.append(EventProblem(index, given_id, f"cannot compute the event hash: {exc}"))
            continue
        event_id = given_id.strip() if isinstance(given_id, str) else hash_id
        stored_event = dict(event)
        stored_event.setdefault("eventID", event_id)
        if "@context" not in stored_event and "@context" in document:
            stored_event["@context"] = document["@context"]
        document_json = canonical_json(stored_event)
        prepared.append((index, NewEvent(event_id, "errorDeclaration" in event, hash_id, document_json, stored_event)))

    # Same eventID with other content, against the store and within the document itself.
    seen: dict[tuple[str, bool], str] = {}
    existing = _existing_hashes(session, {(p.event_id, p.declaration) for _, p in prepared})
    fresh: list[NewEvent] = []
    duplicates: list[str] = []
    for index, p in prepared:
        key = (p.event_id, p.declaration)
        known = existing.get(key) or seen.get(key)
        if known is None:
            seen[key] = p.hash_id
            fresh.append(p)
        elif known == p.hash_id:
            duplicates.append(p.event_id)
        else:
            refused.append(EventProblem(index, p.event_id, "eventID already stored with different content"))

    if refused and not proceed:
        conflicts = [r for r in refused if "already stored" in r.reason]
        problems = [Problem(f"{base}/{r.index}", r.reason) for r in sorted(refused, key=lambda r: r.index)]
        if conflicts and len(conflicts) == len(refused):
            raise CaptureConflict(
                f"{len(conflicts)} event(s) conflict with stored events; nothing was stored", problems
            )
        raise InvalidDocument(f"{len(refused)} event(s) are not valid EPCIS 2.0; nothing was stored", problems)

    capture = capture or Capture(origin=origin, party_id=party_id)
    session.add(capture)
    session.flush()
    rows = append(session, fresh, capture_id=capture.id, origin=origin)
    capture.stored = len(rows)
    capture.duplicates = len(duplicates)
    session.add(capture)
    session.flush()
    return CaptureResult(
        capture_id=capture.id,
        stored=[r.event_id for r in rows],
        duplicates=duplicates,
        refused=sorted(refused, key=lambda r: r.index),
        warnings={r.event_id: json.loads(r.warnings) for r in rows if r.warnings},
        events=rows,
    )


def _existing_hashes(session: Session, keys: set[tuple[str, bool]]) -> dict[tuple[str, bool], str]:
    found: dict[tuple[str, bool], str] = {}
    ids = sorted({k[0] for k in keys})
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        stmt = select(Event.event_id, Event.declaration, Event.hash_id).where(col(Event.event_id).in_(chunk))
        for event_id, declaration, hash_id in session.exec(stmt).all():
            found[(event_id, bool(declaration))] = hash_id
    return found


# --- query and export ---------------------------------------------------------------------------------------------


@dataclass
class EventQuery:
    """The common EPCIS query filters."""

    event_type: list[str] | None = None
    biz_step: list[str] | None = None
    match_epc: list[str] | None = None
    ge_event_time: datetime | None = None
    lt_event_time: datetime | None = None
    biz_location: list[str] | None = None
    action: list[str] | None = None
    after: int = 0
    limit: int = 100


def _visible(stmt: Any, principal: Principal | None) -> Any:
    if principal is None:
        return stmt
    return scope_to_party(stmt, principal, Event.location_party_id, Event.source_party_id, Event.destination_party_id)


def query_events(
    *, session: Session, query: EventQuery, principal: Principal | None = None
) -> tuple[list[dict[str, Any]], int | None]:
    """Events matching the filters in capture order, as EPCIS JSON, with the cursor of the next page (or None)."""
    original = aliased(Event)
    has_original = (
        select(original.id).where(original.event_id == Event.event_id, col(original.declaration).is_(False)).exists()
    )
    # An error declaration whose event never reached us still stands for that event (it carries all its fields).
    stmt = select(Event).where(or_(col(Event.declaration).is_(False), ~has_original), col(Event.seq) > query.after)
    if query.event_type:
        stmt = stmt.where(col(Event.event_type).in_(query.event_type))
    if query.biz_step:
        stmt = stmt.where(col(Event.biz_step).in_([normalise_vocab(b) for b in query.biz_step]))
    if query.action:
        stmt = stmt.where(col(Event.action).in_(query.action))
    if query.ge_event_time is not None:
        stmt = stmt.where(col(Event.event_time) >= query.ge_event_time)
    if query.lt_event_time is not None:
        stmt = stmt.where(col(Event.event_time) < query.lt_event_time)
    if query.biz_location:
        stmt = stmt.where(or_(col(Event.biz_location).in_(query.biz_location),
                              col(Event.location_party_id).in_(query.biz_location)))  # fmt: skip
    if query.match_epc:
        keys = [key_of(e) for e in query.match_epc]
        sub = select(EventEpc.event_pk).where(col(EventEpc.key).in_(keys))
        stmt = stmt.where(col(Event.id).in_(sub))
    stmt = _visible(stmt, principal).order_by(col(Event.seq)).limit(query.limit + 1)
    rows = list(session.exec(stmt).all())
    more = len(rows) > query.limit
    rows = rows[: query.limit]
    return _with_declarations(session, rows), (rows[-1].seq if more and rows else None)


def _with_declarations(session: Session, rows: Sequence[Event]) -> list[dict[str, Any]]:
    ids = [r.event_id for r in rows]
    declared: dict[str, dict[str, Any]] = {}
    for start in range(0, len(ids), 500):
        stmt = select(Event).where(col(Event.declaration).is_(True), col(Event.event_id).in_(ids[start : start + 500]))
        for d in session.exec(stmt).all():
            declared[d.event_id] = json.loads(d.document).get("errorDeclaration", {})
    out = []
    for r in rows:
        doc = json.loads(r.document)
        doc.pop("@context", None)
        if r.event_id in declared and not r.declaration:
            doc["errorDeclaration"] = declared[r.event_id]
        out.append(doc)
    return out


def export_document(
    *, session: Session, query: EventQuery | None = None, principal: Principal | None = None
) -> dict[str, Any]:
    """The store (or a filtered part of it) as one EPCISDocument."""
    query = query or EventQuery(limit=10**9)
    events, _ = query_events(session=session, query=query, principal=principal)
    return {
        "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "epcisBody": {"eventList": events},
    }

