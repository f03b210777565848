"""EPCIS 2.0 capture, query and export over the append-only, hash-chained event store.

Capture behaves as a repository's capture: it refuses only what is not valid EPCIS 2.0 (schema, syntax, an eventID
already stored with other content) and stores every valid event, including events about codes, places or parties it
does not know: those become warnings on the event (and alerts, through the listeners), never a lost event.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import insert, or_, update
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from scanning.errors import CaptureConflict, InvalidDocument
from scanning.event_hash import HashContext, canonical_gs1_uri, event_hash_id
from scanning.state import rederive_for_events
from traceability.auth.service import Principal, scope_to_party
from traceability.errors import Problem
from traceability.hooks import notify_events_stored
from traceability.models import Capture, ChainHead, Event, EventEpc, Party

__all__ = [
    "EVENT_TYPES",
    "CaptureResult",
    "ChainReport",
    "EventQuery",
    "PartyDirectory",
    "capture_document",
    "export_document",
    "load_schema",
    "lock_store",
    "normalise_vocab",
    "query_events",
    "verify_chain",
]

EVENT_TYPES = frozenset(
    {"ObjectEvent", "AggregationEvent", "TransactionEvent", "TransformationEvent", "AssociationEvent"}
)
_NEEDS_ACTION = frozenset({"ObjectEvent", "AggregationEvent", "TransactionEvent", "AssociationEvent"})
_ACTIONS = frozenset({"ADD", "OBSERVE", "DELETE"})
_OFFSET = re.compile(r"^[+-](0\d|1[0-4]):[0-5]\d$")
_VOCAB_PREFIXES = (
    "urn:epcglobal:cbv:bizstep:",
    "urn:epcglobal:cbv:disp:",
    "https://ref.gs1.org/cbv/BizStep-",
    "https://ref.gs1.org/cbv/Disp-",
    "cbv:BizStep-",
    "cbv:Disp-",
)
GENESIS = "0" * 64


# --- helpers ------------------------------------------------------------------------------------------------------


def normalise_vocab(value: str | None) -> str | None:
    """CBV values in any of their spellings (bare, URN, Web URI) to the bare name: ``shipping``."""
    if value is None:
        return None
    for prefix in _VOCAB_PREFIXES:
        if value.startswith(prefix):
            return value[len(prefix) :]
    return value


def parse_event_time(raw: object) -> datetime:
    """An xsd:dateTime with offset (or Z) to an aware UTC datetime; fractions beyond microseconds are cut."""
    if not isinstance(raw, str):
        raise ValueError("must be a date-time string")
    text = raw.strip()
    m = re.fullmatch(r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})", text)
    if m is None:
        raise ValueError(f"{raw!r} is not an ISO 8601 date-time with a time-zone offset")
    fraction = (m[2] or "")[:7]
    parsed = datetime.fromisoformat(m[1] + fraction + ("+00:00" if m[3] == "Z" else m[3]))
    return parsed.astimezone(UTC)


def _gln_of(identifier: str) -> str | None:
    canonical = canonical_gs1_uri(identifier)
    if canonical is None:
        return None
    m = re.match(r"https://id\.gs1\.org/414/(\d{13})", canonical)
    return m[1] if m else None


@dataclass
class PartyDirectory:
    """Resolves the ways a party is named in events (SGLN URN, GLN Digital Link, master-data id) to its id."""

    by_gln: dict[str, str]
    ids: set[str]

    @classmethod
    def load(cls, session: Session) -> PartyDirectory:
        rows = session.exec(select(Party.id, Party.gln)).all()
        return cls(by_gln={gln: pid for pid, gln in rows}, ids={pid for pid, _ in rows})

    def resolve(self, identifier: str | None) -> str | None:
        if not identifier:
            return None
        if identifier in self.ids:
            return identifier
        gln = _gln_of(identifier)
        return self.by_gln.get(gln) if gln else None


def item_key(epc: str) -> str:
    """The matching key of an identifier: its canonical GS1 Digital Link, or the text itself for other schemes."""
    return canonical_gs1_uri(epc) or epc


def _epcs(event: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(identifier, role) for every instance-level or class-level identifier an event names."""
    out: list[tuple[str, str]] = []

    def items(name: str, role: str) -> None:
        value = event.get(name)
        if isinstance(value, list):
            out.extend((str(v), role) for v in value if isinstance(v, str))

    def classes(name: str) -> None:
        value = event.get(name)
        if isinstance(value, list):
            out.extend((str(q["epcClass"]), "quantity") for q in value if isinstance(q, dict) and "epcClass" in q)

    items("epcList", "epc")
    items("childEPCs", "child")
    items("inputEPCList", "input")
    items("outputEPCList", "output")
    parent = event.get("parentID")
    if isinstance(parent, str):
        out.append((parent, "parent"))
    for name in ("quantityList", "childQuantityList", "inputQuantityList", "outputQuantityList"):
        classes(name)
    return out


def _party_from_list(entries: object, key: str, directory: PartyDirectory) -> tuple[str | None, list[str]]:
    """The owning (else possessing, else location) party of a source or destination list, and any unknown ones."""
    if not isinstance(entries, list):
        return None, []
    ranked: dict[str, str | None] = {}
    unknown: list[str] = []
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        kind = normalise_vocab(str(entry.get("type", ""))) or ""
        kind = kind.rsplit("SDT-", 1)[-1].rsplit(":", 1)[-1]
        ident = entry.get(key)
        if not isinstance(ident, str):
            continue
        party = directory.resolve(ident)
        if party is None:
            unknown.append(ident)
        ranked.setdefault(kind, party)
    for kind in ("owning_party", "possessing_party", "location"):
        if ranked.get(kind):
            return ranked[kind], unknown
    return None, unknown


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


@dataclass
class _Prepared:
    index: int
    raw: dict[str, Any]
    event_id: str
    declaration: bool
    hash_id: str
    document: str


def _canonical_json(event: Mapping[str, Any]) -> str:
    return json.dumps(event, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def lock_store(session: Session) -> ChainHead:
    """Serialise writers of the event store until this transaction ends; returns the chain head."""
    # A write first: on SQLite it takes the database's write lock, on PostgreSQL the row lock; either way concurrent
    # captures append one after the other and the chain never forks.
    session.execute(update(ChainHead).where(col(ChainHead.id) == 1).values(seq=ChainHead.seq))
    head = session.exec(select(ChainHead).where(ChainHead.id == 1)).one()
    session.refresh(head)
    return head


def chain_link(previous: str, hash_id: str, document: str) -> str:
    """One link of the tamper-evident chain: covers the previous link, the event hash and the stored JSON."""
    digest = hashlib.sha256()
    digest.update(previous.encode("ascii"))
    digest.update(b"|")
    digest.update(hash_id.encode("utf-8"))
    digest.update(b"|")
    digest.update(hashlib.sha256(document.encode("utf-8")).digest())
    return digest.hexdigest()


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
    prepared: list[_Prepared] = []
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
        prepared.append(
            _Prepared(
                index, stored_event, event_id, "errorDeclaration" in event, hash_id, _canonical_json(stored_event)
            )
        )

    # Same eventID with other content, against the store and within the document itself.
    seen: dict[tuple[str, bool], str] = {}
    existing = _existing_hashes(session, {(p.event_id, p.declaration) for p in prepared})
    fresh: list[_Prepared] = []
    duplicates: list[str] = []
    for p in prepared:
        key = (p.event_id, p.declaration)
        known = existing.get(key) or seen.get(key)
        if known is None:
            seen[key] = p.hash_id
            fresh.append(p)
        elif known == p.hash_id:
            duplicates.append(p.event_id)
        else:
            refused.append(EventProblem(p.index, p.event_id, "eventID already stored with different content"))

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
    rows = _append(session, fresh, capture_id=capture.id, origin=origin)
    capture.stored = len(rows)
    capture.duplicates = len(duplicates)
    session.add(capture)
    session.flush()
    if rows:
        rederive_for_events(session, rows)
        notify_events_stored(session, rows)
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


def _append(session: Session, prepared: Sequence[_Prepared], *, capture_id: int | None, origin: str) -> list[Event]:
    """Append events to the chain in one bulk insert each for events and identifiers; returns the stored rows."""
    if not prepared:
        return []
    directory = PartyDirectory.load(session)
    head = lock_store(session)
    first, seq, link = head.seq + 1, head.seq, head.hash
    rows: list[dict[str, Any]] = []
    epcs_by_seq: dict[int, list[tuple[str, str]]] = {}
    received = datetime.now(UTC)
    for p in prepared:
        seq += 1
        link = chain_link(link, p.hash_id, p.document)
        row, epcs = _row(p, directory)
        row.update(seq=seq, chain_hash=link, capture_id=capture_id, origin=origin, record_time=received)
        rows.append(row)
        epcs_by_seq[seq] = epcs
    # Core inserts, then one select: SQLModel's per-instance validation costs more than the insert itself.
    session.execute(insert(Event), rows)
    # populate_existing: a row id reused after a rolled-back savepoint must not come back as the stale object.
    just_stored = select(Event).where(col(Event.seq) >= first, col(Event.seq) <= seq).order_by(col(Event.seq))
    stored = list(session.exec(just_stored.execution_options(populate_existing=True)))
    values = [
        {"event_pk": event.id, "key": item_key(epc), "epc": epc, "role": role}
        for event in stored
        for epc, role in epcs_by_seq[event.seq]
    ]
    if values:
        session.execute(insert(EventEpc), values)
    session.execute(update(ChainHead).where(col(ChainHead.id) == 1).values(seq=seq, hash=link))
    session.flush()
    return stored


def _row(p: _Prepared, directory: PartyDirectory) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """The query columns of one event, read from its JSON, and the identifiers it names."""
    e = p.raw
    warnings: list[str] = []
    read_point = e.get("readPoint", {}).get("id") if isinstance(e.get("readPoint"), dict) else None
    biz_location = e.get("bizLocation", {}).get("id") if isinstance(e.get("bizLocation"), dict) else None
    location = directory.resolve(biz_location) or directory.resolve(read_point)
    if biz_location and directory.resolve(biz_location) is None:
        warnings.append(f"unknown location {biz_location}")
    source, unknown_src = _party_from_list(e.get("sourceList"), "source", directory)
    destination, unknown_dst = _party_from_list(e.get("destinationList"), "destination", directory)
    warnings.extend(f"unknown party {x}" for x in unknown_src + unknown_dst)
    row = {
        "event_id": p.event_id,
        "declaration": p.declaration,
        "hash_id": p.hash_id,
        "event_type": str(e["type"]),
        "action": e.get("action"),
        "biz_step": normalise_vocab(e.get("bizStep")),
        "disposition": normalise_vocab(e.get("disposition")),
        "event_time": parse_event_time(e["eventTime"]),
        "tz_offset": str(e["eventTimeZoneOffset"]),
        "read_point": read_point,
        "biz_location": biz_location,
        "location_party_id": location,
        "source_party_id": source,
        "destination_party_id": destination,
        "document": p.document,
        "warnings": json.dumps(warnings, ensure_ascii=False) if warnings else None,
    }
    return row, _epcs(e)


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
        keys = [item_key(e) for e in query.match_epc]
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


# --- chain verification -------------------------------------------------------------------------------------------


@dataclass
class ChainReport:
    ok: bool
    events: int
    problems: list[str]


def verify_chain(*, session: Session, batch: int = 5000) -> ChainReport:
    """Walk the chain from the start: every link, sequence number and stored field must match what was captured."""
    problems: list[str] = []
    link, expected_seq, count = GENESIS, 1, 0
    last_id = 0
    while True:
        page = select(Event).where(col(Event.id) > last_id).order_by(col(Event.id)).limit(batch)
        rows = session.exec(page.execution_options(populate_existing=True)).all()
        if not rows:
            break
        for r in rows:
            assert r.id is not None
            last_id = r.id
            count += 1
            if r.seq != expected_seq:
                problems.append(
                    f"sequence jumps from {expected_seq - 1} to {r.seq}: events removed before {r.event_id}"
                )
            expected_seq = r.seq + 1
            link = chain_link(link, r.hash_id, r.document)
            if link != r.chain_hash:
                problems.append(f"event {r.event_id} (seq {r.seq}) was altered: its chain link does not match")
                link = r.chain_hash  # resynchronise so one alteration is reported once
            problems.extend(_field_drift(r))
    head = session.exec(select(ChainHead).where(ChainHead.id == 1)).one()
    if head.seq != expected_seq - 1 or head.hash != link:
        problems.append(
            f"chain head says seq {head.seq}, the store ends at {expected_seq - 1}: events removed at the end"
        )
    return ChainReport(ok=not problems, events=count, problems=problems)


def _field_drift(r: Event) -> list[str]:
    try:
        e = json.loads(r.document)
    except json.JSONDecodeError:
        return [f"event {r.event_id}: stored document is not JSON"]
    expected = {
        "event_id": e.get("eventID"),
        "event_type": e.get("type"),
        "action": e.get("action"),
        "biz_step": normalise_vocab(e.get("bizStep")),
        "event_time": parse_event_time(e.get("eventTime")) if "eventTime" in e else None,
    }
    out = []
    for name, value in expected.items():
        actual = getattr(r, name)
        if isinstance(actual, datetime) and actual.tzinfo is None:
            actual = actual.replace(tzinfo=UTC)
        if actual != value:
            out.append(f"event {r.event_id}: column {name} was altered ({actual!r} != {value!r})")
    return out
