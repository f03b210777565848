"""EPCIS 2.0 capture, query and export over the append-only, hash-chained event store.

Capture validates and the ledger stores (:func:`ledger.store.append`). It behaves as a repository's capture: it
refuses only what is not valid EPCIS 2.0 (schema, syntax, an eventID already stored with other content) and stores
every valid event, including events about codes, places or parties it does not know: those become warnings on the
event (and alerts, through the listeners), never a lost event.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import or_
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from codes.errors import MalformedCode
from codes.render import parse_code
from codes.service import keyring
from codes.signing import verify
from ledger.entitlements import Refusal, is_brand_side, refusals
from ledger.errors import NotEntitled
from ledger.event_hash import HashContext, event_hash_id
from ledger.history import code_facts
from ledger.keys import key_of
from ledger.store import NewEvent, append, canonical_json, epcs_of, lock_store, normalise_vocab, parse_event_time
from scanning.epcis_errors import CaptureLimitExceeded, NoSuchResource, QueryParameterInvalid
from scanning.epcis_masterdata import apply_plan, has_nul, header_elements, plan_elements
from scanning.epcis_stream import StreamedDocument
from scanning.errors import CaptureConflict, InvalidDocument
from scanning.query import read_token, sign_token
from traceability.auth.service import Principal, scope_to_party
from traceability.errors import InvalidInput, Problem
from traceability.models import Capture, Event, EventEpc
from traceability.privacy import MEMBER_KEYS, is_member_hash, member_hash

__all__ = [
    "CAPTURE_BATCH",
    "EVENT_TYPES",
    "CaptureResult",
    "EventQuery",
    "capture_document",
    "capture_job",
    "capture_jobs",
    "document_problems",
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
CAPTURE_BATCH = 2000
"""Events stored and derived together: a document is appended (chained, stored, its unit state and listeners run)
a batch at a time, in the one transaction, so the work and the statements of a batch do not grow with the document.
The listeners re-derive from the store, so the result is the one a single append gives; only an alert that a later
batch of an out-of-order document withdraws again is kept, withdrawn, as it would be across two documents. The events
are checked, matched and judged a batch at a time too, so a streamed document (``scanning.epcis_stream``) is never
parsed whole."""
# --- validation ---------------------------------------------------------------------------------------------------


@lru_cache(maxsize=4)
def load_schema(path: Path) -> Any:
    """A compiled validator of the GS1 EPCIS 2.0 JSON schema (read once per process)."""
    import jsonschema

    schema = json.loads(Path(path).read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def _event_list(document: Mapping[str, Any]) -> tuple[list[Any], str]:
    """The events of a document and the path they sit at; InvalidDocument naming the field when it is malformed."""
    header = _check_fields(document, _DOCUMENT_FIELDS, "")
    if header:
        raise InvalidDocument("the document header is not valid EPCIS 2.0", [_problem(r) for r in header])
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
        path = "/epcisBody/queryResults/resultsBody/eventList"
        found: object = document
        for name in path.strip("/").split("/"):
            found = found.get(name) if isinstance(found, dict) else None
        if not isinstance(found, list):
            raise InvalidDocument("EPCISQueryDocument has no result event list", [Problem(path, "missing")])
        return found, path
    kind = document.get("type")
    raise InvalidDocument(
        f"not an EPCIS 2.0 document: type is {_shown(kind)}, expected 'EPCISDocument'",
        [Problem("/type", "not EPCIS")],
    )


# Field checks: a value and where it is (a path inside the event or the document) to the reasons it is wrong.
# Types follow the GS1 EPCIS 2.0 JSON schema; lengths are the store's (its identifier columns and matching keys
# hold 300 characters, vocabulary columns 200), so that a value the store cannot hold is refused by name here,
# never failing later as a database error. The schema, when configured, checks the rest (enums, patterns).
Check = Callable[[object, str], list[str]]

_ID_CHARS = 300
_VOCAB_CHARS = 200
_TIME_CHARS = 64  # far longer than any xsd:dateTime; a longer value is not quoted back
_REASONS_PER_FIELD = 5  # a list of 100,000 wrong items is one problem, not 100,000 lines


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"


def _shown(value: object) -> str:
    """A value quoted in a message, cut short: a 10 MB string does not come back in the error."""
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:50]}… ({len(text):,} characters)"


def _got(value: object) -> str:
    return f"got {_json_type(value)}" + ("" if isinstance(value, list | dict) or value is None else f" {_shown(value)}")


def _string(what: str = "a string", max_chars: int | None = None) -> Check:
    def check(value: object, where: str) -> list[str]:
        if not isinstance(value, str):
            return [f"{where} must be {what}, {_got(value)}"]
        if max_chars is not None and len(value) > max_chars:
            return [f"{where} is {len(value):,} characters long; at most {max_chars} are accepted"]
        return []

    return check


_URI = _string("a string (a URI)")
_ID = _string("a string (a URI)", _ID_CHARS)


def _identifier(value: object, where: str) -> list[str]:
    """An identifier the store lists under its matching key (EPCs, classes, parents): both must fit 300."""
    reasons = _ID(value, where)
    if not reasons and isinstance(value, str) and len(key_of(value)) > _ID_CHARS:
        reasons.append(f"{where} is too long as a GS1 key (more than {_ID_CHARS} characters)")
    return reasons


def _vocabulary(value: object, where: str) -> list[str]:
    """A CBV value (bare, URN or Web URI) or a URI of one's own; kept in its bare form, up to 200 characters."""
    if not isinstance(value, str):
        return [f"{where} must be a string (a CBV value or a URI), {_got(value)}"]
    if len(normalise_vocab(value) or "") > _VOCAB_CHARS:
        return [f"{where} is {len(value):,} characters long; at most {_VOCAB_CHARS} are accepted"]
    return []


def _time(value: object, where: str) -> list[str]:
    if not isinstance(value, str):
        return [f"{where} must be a date-time string with a time-zone offset, {_got(value)}"]
    if len(value) > _TIME_CHARS:
        return [f"{where} is {len(value):,} characters long; not a date-time"]
    try:
        parse_event_time(value)
    except ValueError as exc:
        return [f"{where} {exc}"]
    return []


def _number(value: object, where: str) -> list[str]:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    return [] if ok else [f"{where} must be a number, {_got(value)}"]


def _boolean(value: object, where: str) -> list[str]:
    return [] if isinstance(value, bool) else [f"{where} must be true or false, {_got(value)}"]


def _list(item: Check) -> Check:
    def check(value: object, where: str) -> list[str]:
        if not isinstance(value, list):
            return [f"{where} must be an array, {_got(value)}"]
        reasons: list[str] = []
        for i, element in enumerate(value):
            reasons += item(element, f"{where}/{i}")
            if len(reasons) >= _REASONS_PER_FIELD:
                return [*reasons[:_REASONS_PER_FIELD], f"{where}: more problems not listed"]
        return reasons

    return check


def _object(fields: Mapping[str, Check], required: tuple[str, ...] = ()) -> Check:
    def check(value: object, where: str) -> list[str]:
        if not isinstance(value, dict):
            return [f"{where} must be an object, {_got(value)}"]
        return [f"{where}/{name} is missing" for name in required if name not in value] + _check_fields(
            value, fields, where
        )

    return check


def _uri_or_uris(value: object, where: str) -> list[str]:
    if isinstance(value, list):
        return _list(_URI)(value, where)
    return _string("a string (a URI) or an array of them")(value, where)


def _context(value: object, where: str) -> list[str]:
    entries = value if isinstance(value, list) else [value]
    if all(isinstance(entry, str | dict) for entry in entries):
        return []
    return [f"{where} must be a URI, an object or an array of those, {_got(value)}"]


def _check_fields(value: Mapping[str, Any], fields: Mapping[str, Check], where: str) -> list[str]:
    return [reason for name, check in fields.items() if name in value
            for reason in check(value[name], f"{where}/{name}")]  # fmt: skip


def _problem(reason: str) -> Problem:
    """A reason that starts with its path as a Problem at that path."""
    path, _, _ = reason.partition(" ")
    return Problem(path, reason)


_QUANTITY = _object({"epcClass": _identifier, "quantity": _number, "uom": _string()}, required=("epcClass",))
_SENSOR_METADATA = _object({
    "time": _time, "startTime": _time, "endTime": _time, "deviceID": _URI, "deviceMetadata": _URI, "rawData": _URI,
    "dataProcessingMethod": _URI, "bizRules": _URI,
})  # fmt: skip
_SENSOR_REPORT = _object({
    "type": _URI, "exception": _URI, "deviceID": _URI, "deviceMetadata": _URI, "rawData": _URI,
    "dataProcessingMethod": _URI, "bizRules": _URI, "time": _time, "microorganism": _URI,
    "chemicalSubstance": _URI, "coordinateReferenceSystem": _URI, "component": _URI, "stringValue": _string(),
    "booleanValue": _boolean, "hexBinaryValue": _string(), "uriValue": _URI, "uom": _string(),
    **dict.fromkeys(("value", "minValue", "maxValue", "meanValue", "sDev", "percRank", "percValue"), _number),
})  # fmt: skip
_PLACE = _object({"id": _ID}, required=("id",))
_EVENT_FIELDS: Mapping[str, Check] = {
    "@context": _context,
    "recordTime": _time,
    "certificationInfo": _uri_or_uris,
    "errorDeclaration": _object(
        {"declarationTime": _time, "reason": _URI, "correctiveEventIDs": _list(_ID)}, required=("declarationTime",)
    ),
    **dict.fromkeys(("epcList", "childEPCs", "inputEPCList", "outputEPCList"), _list(_identifier)),
    "parentID": _identifier,
    **dict.fromkeys(("quantityList", "childQuantityList", "inputQuantityList", "outputQuantityList"), _list(_QUANTITY)),
    "bizStep": _vocabulary,
    "disposition": _vocabulary,
    "persistentDisposition": _object({"set": _list(_vocabulary), "unset": _list(_vocabulary)}),
    "readPoint": _PLACE,
    "bizLocation": _PLACE,
    "bizTransactionList": _list(_object({"type": _URI, "bizTransaction": _URI}, required=("bizTransaction",))),
    "sourceList": _list(_object({"type": _URI, "source": _URI}, required=("type", "source"))),
    "destinationList": _list(_object({"type": _URI, "destination": _URI}, required=("type", "destination"))),
    "sensorElementList": _list(_object({"sensorMetadata": _SENSOR_METADATA, "sensorReport": _list(_SENSOR_REPORT)})),
    "ilmd": _object({}),
    "transformationID": _URI,
}
_DOCUMENT_FIELDS: Mapping[str, Check] = {
    "type": _string(),
    "@context": _context,
    "schemaVersion": _string(),
    "creationDate": _time,
    "epcisBody": _object({}),
}


def _check_event(event: object) -> list[str]:
    """The structural rules of EPCIS 2.0 this store relies on, each reason naming its field; the JSON schema, when
    configured, checks the rest."""
    if not isinstance(event, dict):
        return [f"an event must be a JSON object, {_got(event)}"]
    reasons: list[str] = []
    if has_nul(event):
        reasons.append("a value contains a NUL character, which no EPCIS field may hold")
    kind = event.get("type") if isinstance(event.get("type"), str) else None
    if kind not in EVENT_TYPES:
        reasons.append(f"type {_shown(event.get('type'))} is not an EPCIS 2.0 event type")
    action = event.get("action")
    if (kind in _NEEDS_ACTION or "action" in event) and not (isinstance(action, str) and action in _ACTIONS):
        reasons.append(f"action must be ADD, OBSERVE or DELETE, {_got(action)}")
    reasons += [r.removeprefix("/") for r in _time(event.get("eventTime"), "/eventTime")]
    offset = event.get("eventTimeZoneOffset")
    if not isinstance(offset, str) or not _OFFSET.match(offset):
        reasons.append(f"eventTimeZoneOffset must look like +08:00, {_got(offset)}")
    if "eventID" in event:
        given = event["eventID"]
        if not (isinstance(given, str) and given.strip()):
            reasons.append(f"eventID must be a non-empty string (a URI), {_got(given)}")
        elif len(given.strip()) > _ID_CHARS:
            reasons.append(f"eventID is {len(given):,} characters long; at most {_ID_CHARS} are accepted")
    reasons += [r.removeprefix("/") for r in _check_fields(event, _EVENT_FIELDS, "")]
    return reasons


# --- capture ------------------------------------------------------------------------------------------------------


@dataclass
class EventProblem:
    index: int
    event_id: str | None
    reason: str
    code: str = "invalid_event"

    def as_dict(self) -> dict[str, Any]:
        return {"index": self.index, "eventID": self.event_id, "reason": self.reason, "code": self.code}


@dataclass
class CaptureResult:
    """What a capture did: stored and already-present event ids, and (in proceed mode) the refused events."""

    capture_id: int | None
    stored: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    refused: list[EventProblem] = field(default_factory=list)
    warnings: dict[str, list[str]] = field(default_factory=dict)
    master_data: int = 0
    """Vocabulary elements of the header's master data this capture stored or changed."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "captureID": self.capture_id,
            "stored": len(self.stored),
            "duplicates": len(self.duplicates),
            "refused": [p.as_dict() for p in self.refused],
            "storedEventIDs": self.stored,
            "duplicateEventIDs": self.duplicates,
            "warnings": self.warnings,
            "masterDataElements": self.master_data,
        }


def document_problems(document: object, *, schema_path: Path | None = None) -> tuple[int, list[Problem]]:
    """Every problem the capture would find in a document, without a store: the events it holds and, for each
    refused field or event, where and why (what ``traceability epcis validate`` reports, all of them at once)."""
    if not isinstance(document, dict):
        return 0, [Problem("", "an EPCIS document must be a JSON object")]
    try:
        events, base = _event_list(document)
        header_elements(document)
    except InvalidDocument as exc:  # one problem: its message says it (the reason alone is a tag like "missing")
        return 0, [Problem(exc.problems[0].path, exc.message)] if len(exc.problems) == 1 else list(exc.problems)
    problems: list[Problem] = []
    if schema_path is not None:
        for error in load_schema(schema_path).iter_errors(document):
            problems.append(Problem("/" + "/".join(str(p) for p in error.absolute_path), error.message))
    context = HashContext.for_document(document)
    for index, event in enumerate(events):
        where = f"{base}/{index}"
        problems += [Problem(where, reason) for reason in _check_event(event)]
        if isinstance(event, dict) and not _check_event(event):
            try:
                event_hash_id(event, context)
            except (ValueError, TypeError, KeyError) as exc:
                problems.append(Problem(where, f"cannot compute the event hash: {exc}"))
    return len(events), problems


def capture_document(
    *,
    session: Session,
    document: object,
    proceed: bool = False,
    origin: str = "epcis",
    party_id: str | None = None,
    schema_path: Path | None = None,
    capture: Capture | None = None,
    principal: Principal | None = None,
    member_pepper: bytes | None = None,
    max_events: int | None = None,
    lang: str = "en",
) -> CaptureResult:
    """Validate and store an EPCISDocument: all or nothing, or (``proceed``) the valid events with the others refused.

    Idempotent by eventID (or the CBV 2.0 event hash when an event has none): the same event again is acknowledged
    as a duplicate; the same eventID with other content is a conflict. ``principal`` None is the brand's own tools;
    any other caller asserts only what it is entitled to (:mod:`ledger.entitlements`), else 403. A member's phone
    in ``trc:member`` is replaced by its keyed hash before anything is hashed or stored (``member_pepper``). A
    document of more than ``max_events`` events is refused before any is read (the binding's capture limit). The
    capture's job document (``GET /epcis/capture/{id}``) is kept on its :class:`Capture` row. The header's master
    data (``epcisHeader.epcisMasterData``) is stored with the events, all or nothing, a party's key never changing
    another party's elements (:mod:`scanning.epcis_masterdata`: 403 for the whole document).
    """
    streamed = document if isinstance(document, StreamedDocument) else None
    if streamed is not None and schema_path is not None:
        document, streamed = streamed.materialise(), None  # the schema judges the whole document at once
    if streamed is not None:
        top: dict[str, Any] = streamed.top
        _, base = _event_list(top)  # the header's checks; the events come from the stream
        count = streamed.count

        def chunks() -> Iterator[list[Any]]:
            return streamed.chunks(CAPTURE_BATCH)
    else:
        if not isinstance(document, dict):
            raise InvalidDocument("an EPCIS document must be a JSON object", [Problem("", "not an object")])
        top = document
        events, base = _event_list(document)
        count = len(events)

        def chunks() -> Iterator[list[Any]]:
            return (events[start : start + CAPTURE_BATCH] for start in range(0, len(events), CAPTURE_BATCH))

    if max_events is not None and count > max_events:
        raise CaptureLimitExceeded(lang, count=count, limit=max_events)
    elements = header_elements(top)

    schema_errors: dict[int, list[str]] = {}
    if schema_path is not None:
        for error in load_schema(schema_path).iter_errors(top):
            path = list(error.absolute_path)
            prefix: list[object] = list(base.strip("/").split("/"))
            if path[: len(prefix)] == prefix and len(path) > len(prefix) and isinstance(path[len(prefix)], int):
                schema_errors.setdefault(path[len(prefix)], []).append(error.message)
            else:
                where = "/" + "/".join(str(p) for p in path)
                raise InvalidDocument(
                    "document does not conform to the EPCIS 2.0 JSON schema", [Problem(where, error.message)]
                )

    # A chunk of events at a time (see CAPTURE_BATCH): each event is checked, hashed, matched against the store and
    # the events before it, and judged by the entitlement rules, all of which look at one event at a time; only
    # what is needed to decide (ids, hashes, refusals) is kept, so a streamed document never sits in memory whole.
    context = HashContext.for_document(top)
    refused: list[EventProblem] = []
    denied: list[tuple[int, Refusal]] = []  # what this principal may not assert (ledger.entitlements)
    unsigned: list[tuple[int, Refusal]] = []  # our codes without their signature
    seen: dict[tuple[str, bool], str] = {}  # same eventID with other content, within the document itself
    duplicates: list[str] = []
    kept: list[NewEvent] = []  # the events to store (only their positions for a streamed document)
    kept_at: set[int] = set()
    locked = False
    # The store lock first: two identical captures at once must see each other's events, not both insert them.
    if elements:
        lock_store(session)
        locked = True
    offset = 0
    for chunk in chunks():
        prepared: list[tuple[int, NewEvent]] = []
        for index, event in enumerate(chunk, offset):
            outcome = _prepared(index, event, context, top, member_pepper, schema_errors)
            if isinstance(outcome, EventProblem):
                refused.append(outcome)
            else:
                prepared.append((index, outcome))
        offset += len(chunk)
        if prepared and not locked:
            lock_store(session)
            locked = True
        existing = _existing_hashes(session, {(p.event_id, p.declaration) for _, p in prepared})
        fresh: list[NewEvent] = []
        positions: dict[int, int] = {}
        for index, p in prepared:
            key = (p.event_id, p.declaration)
            known = existing.get(key) or seen.get(key)
            if known is None:
                seen[key] = p.hash_id
                positions[id(p)] = index
                fresh.append(p)
            elif known == p.hash_id:
                duplicates.append(p.event_id)
            else:
                refused.append(EventProblem(index, p.event_id, "eventID already stored with different content"))
        # What this principal may not assert, and our codes without their signature, are refused, never stored as
        # evidence. All or nothing, they are reported only when no event is invalid, and the signatures only when
        # every event is entitled: the checks that could not change the answer are skipped.
        for check, into in ((refusals, denied), (_unsigned_codes, unsigned)):
            if not fresh or not proceed and (refused or denied):
                break
            found = check(session, principal, fresh)
            into.extend((positions[id(fresh[r.position])], r) for r in found)
            dropped = {r.position for r in found}
            fresh = [p for i, p in enumerate(fresh) if i not in dropped]
        if streamed is None:
            kept += fresh
        else:
            kept_at.update(positions[id(p)] for p in fresh)

    if refused and not proceed:
        conflicts = [r for r in refused if "already stored" in r.reason]
        problems = [Problem(f"{base}/{r.index}", r.reason) for r in sorted(refused, key=lambda r: r.index)]
        if conflicts and len(conflicts) == len(refused):
            raise CaptureConflict(
                f"{len(conflicts)} event(s) conflict with stored events; nothing was stored", problems
            )
        raise InvalidDocument(f"{len(refused)} event(s) are not valid EPCIS 2.0; nothing was stored", problems)
    if denied and not proceed:
        problems = [Problem(f"{base}/{i}", r.message) for i, r in denied]
        raise NotEntitled(f"{len(denied)} event(s) may not be asserted with this key; nothing was stored", problems,
                          [{"index": i, "eventID": r.event_id, "reason": r.reason} for i, r in denied])  # fmt: skip
    if unsigned and not proceed:
        problems = [Problem(f"{base}/{i}", r.message) for i, r in unsigned]
        raise InvalidDocument(f"{len(unsigned)} event(s) name our codes without their valid signature; nothing was "
                              "stored", problems)  # fmt: skip
    refused.extend(EventProblem(i, r.event_id, r.message, r.reason) for i, r in denied + unsigned)

    plan = plan_elements(session=session, principal=principal, party_id=party_id, elements=elements, lang=lang)
    capture = capture or Capture(origin=origin, party_id=party_id)
    session.add(capture)
    session.flush()
    # Only what the answer needs is kept of each stored event (its id, its warnings): the rows themselves are let go
    # batch by batch, so a large document's capture does not hold every stored event until it ends.
    stored: list[str] = []
    warnings: dict[str, list[str]] = {}
    for batch in _batches(kept) if streamed is None else _reread(streamed, kept_at, context, member_pepper):
        for row in append(session, batch, capture_id=capture.id, origin=origin):  # in this one transaction
            stored.append(row.event_id)
            if row.warnings:
                warnings[row.event_id] = json.loads(row.warnings)
    changed = apply_plan(session=session, plan=plan, capture_id=capture.id)
    capture.stored = len(stored)
    capture.duplicates = len(duplicates)
    if origin == "epcis":
        capture.response = json.dumps({
            "captureErrorBehaviour": "proceed" if proceed else "rollback",
            "finishedAt": _iso(datetime.now(UTC)),
            "errors": [p.as_dict() for p in sorted(refused, key=lambda r: r.index)],
        }, ensure_ascii=False)  # fmt: skip
    session.add(capture)
    session.flush()
    return CaptureResult(
        capture_id=capture.id,
        stored=stored,
        duplicates=duplicates,
        refused=sorted(refused, key=lambda r: r.index),
        warnings=warnings,
        master_data=changed,
    )


def _prepared(
    index: int,
    event: object,
    context: HashContext,
    document: Mapping[str, Any],
    pepper: bytes | None,
    schema_errors: Mapping[int, list[str]],
) -> EventProblem | NewEvent:
    """One event checked, its member's phone hashed, its CBV hash computed and its stored form made; or why not.
    The same event gives the same answer each time (a streamed document is read again to store its events)."""
    reasons = _check_event(event) + schema_errors.get(index, [])
    given_id = event.get("eventID") if isinstance(event, dict) else None
    if reasons:
        return EventProblem(index, given_id, "; ".join(reasons))
    assert isinstance(event, dict)
    member_problem = _members_hashed(event, pepper)
    if member_problem is not None:
        return EventProblem(index, given_id, member_problem, "member_in_clear")
    try:
        hash_id = event_hash_id(event, context)
    except (ValueError, TypeError, KeyError) as exc:
        return EventProblem(index, given_id, f"cannot compute the event hash: {exc}")
    event_id = given_id.strip() if isinstance(given_id, str) else hash_id
    stored_event = dict(event)
    stored_event.setdefault("eventID", event_id)
    if "@context" not in stored_event and "@context" in document:
        stored_event["@context"] = document["@context"]
    return NewEvent(event_id, "errorDeclaration" in event, hash_id, canonical_json(stored_event), stored_event)


def _batches(events: Sequence[NewEvent]) -> Iterator[Sequence[NewEvent]]:
    for start in range(0, len(events), CAPTURE_BATCH):
        yield events[start : start + CAPTURE_BATCH]


def _reread(
    document: StreamedDocument, keep: set[int], context: HashContext, pepper: bytes | None
) -> Iterator[list[NewEvent]]:
    """The events to store of a streamed document, read from its bytes again, CAPTURE_BATCH at a time."""
    batch: list[NewEvent] = []
    for index, event in enumerate(document.events()):
        if index not in keep:
            continue
        outcome = _prepared(index, event, context, document.top, pepper, {})
        assert isinstance(outcome, NewEvent)  # it was prepared once already, from the same bytes
        batch.append(outcome)
        if len(batch) >= CAPTURE_BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _unsigned_codes(session: Session, principal: Principal | None, events: Sequence[NewEvent]) -> list[Refusal]:
    """Events from outside the brand that name one of our signed codes without its valid, unrevoked signature: our
    codes are genuine only with it, on every door. Codes another serialization system issued carry no signature of
    ours and pass (they are verified by look-up). A declaration asserts nothing new about any code: it names the
    event it retracts, in the form that event was stored (our scanners store URNs), and the retraction rules decide
    who may make it (``ledger.entitlements``)."""
    if principal is None or not events:
        return []
    if is_brand_side(principal, session):
        return []
    named = [(i, epc) for i, e in enumerate(events) if not e.declaration for epc, role in epcs_of(e.raw)
             if role != "quantity"]  # fmt: skip
    issued = {k for k, f in code_facts(session, {key_of(epc) for _, epc in named}).items() if f.signed}
    if not issued:
        return []
    ring = keyring(session=session)
    out: dict[int, tuple[str, str]] = {}
    for i, epc in named:
        if i in out or key_of(epc) not in issued:
            continue
        try:
            result = verify(parse_code(epc), ring)
        except MalformedCode:
            out[i] = ("signature_missing", f"{epc} is one of our codes and is valid only with its signature")
            continue
        if not result.ok:
            out[i] = (str(result.reason or "bad_signature"), f"{epc}: {result.message}")
    return [Refusal(i, events[i].event_id, code, why) for i, (code, why) in sorted(out.items())]


def _members_hashed(event: dict[str, Any], pepper: bytes | None) -> str | None:
    """Replace a member's phone sent in clear by its keyed hash, in place; the reason when that cannot be done.

    The reason never repeats the value: a phone number must not reach a response, a log or the store in clear.
    """
    for name in MEMBER_KEYS:
        value = event.get(name)
        if value is None or is_member_hash(value):
            continue
        if not isinstance(value, str):
            return f"{name} must be a member's phone number or its keyed hash"
        if pepper is None:
            return f"{name} holds a phone number in clear, which this door does not take: send the member's hash"
        try:
            event[name] = member_hash(value, pepper)
        except InvalidInput as exc:
            return f"{name}: {exc.message}"
    return None


def _existing_hashes(session: Session, keys: set[tuple[str, bool]]) -> dict[tuple[str, bool], str]:
    found: dict[tuple[str, bool], str] = {}
    ids = sorted({k[0] for k in keys})
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        stmt = select(Event.event_id, Event.declaration, Event.hash_id).where(col(Event.event_id).in_(chunk))
        for event_id, declaration, hash_id in session.exec(stmt).all():
            found[(event_id, bool(declaration))] = hash_id
    return found


# --- capture jobs -------------------------------------------------------------------------------------------------


def _iso(moment: datetime) -> str:
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _job(capture: Capture) -> dict[str, Any]:
    """A capture as the binding's CaptureJob. Capture is synchronous, so a job is finished when its 202 is sent:
    ``running`` is always false; ``success`` false means events were refused (``proceed``), each in ``errors``."""
    kept = json.loads(capture.response or "{}")
    errors = [
        {"type": "epcisException:ValidationException" if e.get("code") == "invalid_event"
         else "epcisException:SecurityException", "title": str(e.get("code", "invalid_event")).replace("_", " "),
         "status": 400 if e.get("code") == "invalid_event" else 403, "detail": str(e.get("reason", "")),
         "index": e.get("index"), "eventID": e.get("eventID"), "error": e.get("code")}
        for e in kept.get("errors", [])
    ]  # fmt: skip
    return {
        "captureID": str(capture.id),
        "createdAt": _iso(capture.received_at),
        "finishedAt": kept.get("finishedAt", _iso(capture.received_at)),
        "running": False,
        "success": not errors,
        "captureErrorBehaviour": kept.get("captureErrorBehaviour", "rollback"),
        "errors": errors,
        "stored": capture.stored,
        "duplicates": capture.duplicates,
    }


def _jobs_visible(stmt: Any, principal: Principal | None) -> Any:
    stmt = stmt.where(col(Capture.origin) == "epcis")
    return stmt if principal is None else scope_to_party(stmt, principal, Capture.party_id)


def capture_jobs(
    *, session: Session, principal: Principal | None, per_page: int, token: str | None, secret: bytes, lang: str
) -> tuple[list[dict[str, Any]], str | None]:
    """The caller's EPCIS capture jobs (every party's for the full-view roles), newest first, a page at a time,
    with the signed token of the next page (None: the last page)."""
    caller = "*" if principal is None else f"{principal.role.value}:{principal.party_id}"
    stmt = _jobs_visible(select(Capture), principal)
    if token is not None:
        payload = read_token(token, secret, lang=lang, scope="capture", digest="", caller=caller)
        before = payload.get("i")
        if not isinstance(before, int):
            raise QueryParameterInvalid(lang, parameter="nextPageToken", why="malformed", token=True)
        stmt = stmt.where(col(Capture.id) < before)
    rows = list(session.exec(stmt.order_by(col(Capture.id).desc()).limit(per_page + 1)).all())
    more = len(rows) > per_page
    rows = rows[:per_page]
    next_token = sign_token({"s": "capture", "q": "", "c": caller, "i": rows[-1].id}, secret) if more else None
    return [_job(r) for r in rows], next_token


def capture_job(*, session: Session, principal: Principal | None, capture_id: str, lang: str) -> dict[str, Any]:
    """One capture job; unknown, not an EPCIS capture, or another party's: one and the same 404."""
    if not (capture_id.isdigit() and 0 < int(capture_id) < 2**31):
        raise NoSuchResource(lang, kind="capture", name=capture_id)
    row = session.exec(_jobs_visible(select(Capture), principal).where(col(Capture.id) == int(capture_id))).first()
    if row is None:
        raise NoSuchResource(lang, kind="capture", name=capture_id)
    return _job(row)


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
