"""The append-only, hash-chained event store: the one way in, and the proof nothing in it was changed.

:func:`append` is the single door every capture goes through (EPCIS documents, our scanners, label voids): it
serialises writers, chains and stores the events with the identifiers they name under their matching keys
(:mod:`ledger.keys`), re-derives the state of every code they concern (:mod:`ledger.state`), then runs the capture
listeners, all inside the caller's transaction, so what they derive commits or rolls back with the events.

Listeners are set explicitly, in order, by the assembly (:func:`traceability.app.wire_listeners`): the ledger
names no domain, and no behaviour depends on the order in which modules happen to be imported.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import bindparam, text, update
from sqlmodel import Session, col, select

from codes.keyfiles import KeyFileStore
from ledger import masterdata
from ledger.bulk import insert_rows
from ledger.event_hash import HashContext, canonical_gs1_uri, event_hash_id
from ledger.history import Named, StoredEvent, batch, query, rows
from ledger.keys import key_of
from ledger.state import rederive
from traceability.models import ChainHead, Event, EventEpc, Party, RejectedScan

__all__ = [
    "EPCIS_CONTEXT",
    "AppendedEvent",
    "GENESIS",
    "CHAIN_KEY_ID",
    "COVERED",
    "ChainReport",
    "Checkpoint",
    "Listener",
    "NewEvent",
    "PartyDirectory",
    "append",
    "chain_key",
    "chain_link",
    "checkpoint_signed_by",
    "facts_digest",
    "canonical_json",
    "epcs_of",
    "listeners",
    "lock_store",
    "normalise_vocab",
    "own_event",
    "parse_event_time",
    "resolve_columns",
    "scans_rejected",
    "set_listeners",
    "sign_checkpoint",
    "verify_chain",
]

_VOCAB_PREFIXES = (
    "urn:epcglobal:cbv:bizstep:",
    "urn:epcglobal:cbv:disp:",
    "https://ref.gs1.org/cbv/BizStep-",
    "https://ref.gs1.org/cbv/Disp-",
    "cbv:BizStep-",
    "cbv:Disp-",
)
GENESIS = "0" * 64

# --- reading an event ----------------------------------------------------------------------------------------------


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


@dataclass(frozen=True)
class PartyDirectory:
    """Resolves the ways a party is named in events (SGLN URN, GLN Digital Link, master-data id) to its id.

    Frozen (read-only mapping, frozenset): one value is shared by every request of a process (:mod:`ledger.masterdata`).
    """

    by_gln: Mapping[str, str]
    ids: frozenset[str]

    @classmethod
    def load(cls, session: Session) -> PartyDirectory:
        """Every party's id and GLN, reused until master data changes."""
        return masterdata.cached(session, "ledger.store.directory", cls._fetch)

    @classmethod
    def _fetch(cls, session: Session) -> PartyDirectory:
        rows = session.exec(select(Party.id, Party.gln)).all()
        return cls(by_gln=MappingProxyType({gln: pid for pid, gln in rows}), ids=frozenset(pid for pid, _ in rows))

    def resolve(self, identifier: str | None) -> str | None:
        if not identifier:
            return None
        if identifier in self.ids:
            return identifier
        gln = _gln_of(identifier)
        return self.by_gln.get(gln) if gln else None


def epcs_of(event: Mapping[str, Any]) -> list[tuple[str, str]]:
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


# --- the chain -------------------------------------------------------------------------------------------------------


def lock_store(session: Session) -> ChainHead:
    """Serialise writers of the event store until this transaction ends; returns the chain head."""
    # A write first: on SQLite it takes the database's write lock, on PostgreSQL the row lock; either way concurrent
    # captures append one after the other and the chain never forks. A request that already holds it (the till,
    # then the scan, then the capture, then the append each ask) reads the head again and takes nothing twice.
    conn = session.connection()
    held = (conn.get_transaction(), conn.get_nested_transaction())
    known = session.info.get(_LOCK)
    if not (isinstance(known, tuple) and known[0] is held[0] and known[1] is held[1] and held[0] is not None
            and held[0].is_active and (held[1] is None or held[1].is_active)):  # fmt: skip
        session.execute(update(ChainHead).where(col(ChainHead.id) == 1).values(seq=ChainHead.seq))
        session.info[_LOCK] = held
    return session.exec(select(ChainHead).where(ChainHead.id == 1).execution_options(populate_existing=True)).one()


_LOCK = "ledger.store_lock"
"""``session.info`` entry: the (transaction, savepoint) in which this session took the store lock."""


COVERED = (
    "seq", "event_id", "declaration", "hash_id", "event_type", "action", "biz_step", "disposition", "event_time",
    "tz_offset", "record_time", "read_point", "biz_location", "location_party_id", "source_party_id",
    "destination_party_id", "capture_id", "origin", "warnings",
)  # fmt: skip
"""Every stored column of an event but its row id and its link: what alerts, state and settlement are made of."""


def _plain(value: Any) -> Any:
    """A column value as the chain hashes it, the same whichever driver read it back."""
    if isinstance(value, datetime):
        moment = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return moment.astimezone(UTC).isoformat()
    if isinstance(value, bool) or value is None or isinstance(value, int | str):
        return value
    return str(value)


def facts_digest(row: Mapping[str, Any], epcs: Iterable[tuple[str, str, str]]) -> str:
    """The digest of an event's columns (:data:`COVERED`) and its identifier rows (key, EPC as captured, role)."""
    payload = [[_plain(row.get(name)) for name in COVERED], sorted(epcs)]
    return hashlib.sha256(json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")).hexdigest()


def chain_link(previous: str, hash_id: str, document: str, facts: str) -> str:
    """One link of the tamper-evident chain: the previous link, the event hash, the stored JSON, and the digest of
    every column and identifier row derived from it (so rewriting a party column breaks the chain too)."""
    digest = hashlib.sha256()
    digest.update(previous.encode("ascii"))
    digest.update(b"|")
    digest.update(hash_id.encode("utf-8"))
    digest.update(b"|")
    digest.update(hashlib.sha256(document.encode("utf-8")).digest())
    digest.update(b"|")
    digest.update(facts.encode("ascii"))
    return digest.hexdigest()


# --- listeners -------------------------------------------------------------------------------------------------------

EventsListener = Callable[[Session, Sequence[StoredEvent]], None]
RejectionListener = Callable[[Session, Sequence[RejectedScan]], None]


@dataclass(frozen=True)
class Listener:
    """Work that runs inside every capture: after events are stored, and after scans of ours are rejected."""

    name: str
    events_stored: EventsListener | None = None
    scans_rejected: RejectionListener | None = None


_listeners: tuple[Listener, ...] = ()


def set_listeners(chain: Sequence[Listener]) -> None:
    """Replace the listeners with ``chain``, run in that order. Setting the same chain again changes nothing."""
    global _listeners
    names = [listener.name for listener in chain]
    if len(set(names)) != len(names):
        raise ValueError(f"listener names must be unique, got {names}")
    _listeners = tuple(chain)


def listeners() -> tuple[Listener, ...]:
    """The listeners in the order they run."""
    return _listeners


def scans_rejected(session: Session, rejected: Sequence[RejectedScan]) -> None:
    """Tell the listeners about scans of ours that were rejected and recorded (counterfeit evidence, for one)."""
    if not rejected:
        return
    session.flush()
    for listener in _listeners:
        if listener.scans_rejected is not None:
            listener.scans_rejected(session, rejected)


# --- appending -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewEvent:
    """One valid event to append: its id, its CBV event hash, the JSON as it is stored, and that JSON parsed."""

    event_id: str
    declaration: bool
    hash_id: str
    document: str
    raw: Mapping[str, Any]


def canonical_json(event: Mapping[str, Any]) -> str:
    """The stored form of an event: sorted keys, no insignificant white space, Unicode kept."""
    return json.dumps(event, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


EPCIS_CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"


def own_event(raw: Mapping[str, Any]) -> NewEvent:
    """An event this system built itself (valid by construction: label voids, corrections), ready to append."""
    stored = {"@context": [EPCIS_CONTEXT], **raw}
    hash_id = event_hash_id(stored, HashContext.for_document(stored))
    stored.setdefault("eventID", hash_id)
    return NewEvent(str(stored["eventID"]), "errorDeclaration" in stored, hash_id, canonical_json(stored), stored)


@dataclass(frozen=True, slots=True)
class AppendedEvent:
    """One event as :func:`append` stored it: every column of its row, kept from the insert, not read back.

    The listeners only read the events they are told of; an ORM ``Event`` per row (loaded, identity-mapped,
    instrumented) cost more than inserting it.
    """

    id: int
    seq: int
    event_id: str
    declaration: bool
    hash_id: str
    event_type: str
    action: str | None
    biz_step: str | None
    disposition: str | None
    event_time: datetime
    tz_offset: str
    record_time: datetime
    read_point: str | None
    biz_location: str | None
    location_party_id: str | None
    source_party_id: str | None
    destination_party_id: str | None
    capture_id: int | None
    origin: str
    document: str
    warnings: str | None
    chain_hash: str


def append(session: Session, events: Sequence[NewEvent], *, capture_id: int | None, origin: str) -> list[AppendedEvent]:
    """Store new events (already checked for duplicates), re-derive unit state, then run the listeners."""
    if not events:
        return []
    stored, named = _insert(session, events, capture_id=capture_id, origin=origin)
    with batch(session, stored, named):  # unit state and the listeners share one look at the codes concerned
        rederive(session, stored)
        for listener in _listeners:
            if listener.events_stored is not None:
                listener.events_stored(session, stored)
    return stored


def _insert(
    session: Session, prepared: Sequence[NewEvent], *, capture_id: int | None, origin: str
) -> tuple[list[AppendedEvent], Named]:
    """Append events to the chain in one bulk insert each for events and identifiers; returns the stored rows and
    each one's identifier rows (key, role), which the listeners then need not read back."""
    directory = PartyDirectory.load(session)
    head = lock_store(session)
    first, seq, link = head.seq + 1, head.seq, head.hash
    columns: list[dict[str, Any]] = []
    epcs_by_seq: dict[int, list[tuple[str, str, str]]] = {}
    received = datetime.now(UTC)
    for p in prepared:
        seq += 1
        row = resolve_columns(p, directory)
        row.update(seq=seq, capture_id=capture_id, origin=origin, record_time=received)
        epcs = [(key_of(epc), epc, role) for epc, role in epcs_of(p.raw)]
        link = chain_link(link, p.hash_id, p.document, facts_digest(row, epcs))
        row["chain_hash"] = link
        columns.append(row)
        epcs_by_seq[seq] = epcs
    # Core inserts, then the new row ids: SQLModel's per-instance validation costs more than the insert itself,
    # and the rows the listeners read are the ones just written.
    insert_rows(session, Event, columns)
    ids = dict(rows(session, _IDS, {"first": first, "last": seq}).all())
    stored = [AppendedEvent(id=ids[row["seq"]], **row) for row in columns]
    values = [
        {"event_pk": event.id, "key": key, "epc": epc, "role": role}
        for event in stored
        for key, epc, role in epcs_by_seq[event.seq]
    ]
    named: Named = {event.id: [(key, role) for key, _, role in epcs_by_seq[event.seq]] for event in stored}
    if values:
        insert_rows(session, EventEpc, values)
    session.execute(update(ChainHead).where(col(ChainHead.id) == 1).values(seq=seq, hash=link))
    session.flush()
    _refresh_statistics(session, len(values))
    return stored, named


_IDS = query(Event.seq, Event.id).where(col(Event.seq) >= bindparam("first"), col(Event.seq) <= bindparam("last"))

_BIG_APPEND = 1000
"""Identifier rows in one append from which PostgreSQL's statistics of the event tables may be refreshed."""


def _refresh_statistics(session: Session, identifiers: int) -> None:
    """On PostgreSQL, let the planner see what a large append just wrote, before the listeners read it back.

    Autovacuum cannot see rows of a transaction not yet committed, and without column statistics the planner takes
    a look-up of a few hundred keys for much of the table: the recursive container query and the code look-ups then
    scan the event tables whole (20 s of a 10,000-event capture's 38 s of SQL; 1.3 s with statistics). ``ANALYZE``
    inside the transaction samples its own new rows too. It runs only while the append is large against what the
    statistics know (a tenth or more), so a store of millions of events is not sampled again at every batch.
    """
    conn = session.connection()
    if conn.dialect.name != "postgresql" or identifiers < _BIG_APPEND:
        return
    known = conn.execute(text("SELECT reltuples FROM pg_class WHERE oid = 'epcis_event_epc'::regclass")).scalar()
    if known is not None and identifiers * 10 < float(known):
        return
    for table in ("epcis_event", "epcis_event_epc", "code"):
        conn.execute(text(f"ANALYZE {table}"))


def resolve_columns(p: NewEvent, directory: PartyDirectory) -> dict[str, Any]:
    """The query columns of one event, read from its JSON, with its places and parties resolved to party ids."""
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
    return row


# --- verification ------------------------------------------------------------------------------------------------


@dataclass
class ChainReport:
    ok: bool
    events: int
    problems: list[str]


def verify_chain(*, session: Session, batch: int = 5000, checkpoint: Checkpoint | None = None) -> ChainReport:
    """Walk the chain from the start: every link over every column and identifier row, every sequence number, the
    JSON against the query columns, and (given a signed checkpoint) the link the checkpoint vouches for."""
    problems: list[str] = []
    link, expected_seq, count = GENESIS, 1, 0
    last_id = 0
    vouched: str | None = GENESIS if checkpoint is not None and checkpoint.seq == 0 else None  # an empty chain's
    while True:
        page = select(Event).where(col(Event.id) > last_id).order_by(col(Event.id)).limit(batch)
        rows = session.exec(page.execution_options(populate_existing=True)).all()
        if not rows:
            break
        named: dict[int, list[tuple[str, str, str]]] = {}
        pks = [r.id for r in rows]
        epc_rows = select(EventEpc.event_pk, EventEpc.key, EventEpc.epc, EventEpc.role).where(
            col(EventEpc.event_pk) >= pks[0], col(EventEpc.event_pk) <= pks[-1]
        )
        for pk, key, epc, role in session.exec(epc_rows).all():
            named.setdefault(pk, []).append((key, epc, role))
        for r in rows:
            assert r.id is not None
            last_id = r.id
            count += 1
            if r.seq != expected_seq:
                problems.append(
                    f"sequence jumps from {expected_seq - 1} to {r.seq}: events removed before {r.event_id}"
                )
            expected_seq = r.seq + 1
            facts = facts_digest({name: getattr(r, name) for name in COVERED}, named.pop(r.id, []))
            link = chain_link(link, r.hash_id, r.document, facts)
            if link != r.chain_hash:
                problems.append(f"event {r.event_id} (seq {r.seq}) was altered: its chain link does not match")
                link = r.chain_hash  # resynchronise so one alteration is reported once
            if checkpoint is not None and r.seq == checkpoint.seq:
                vouched = link
            problems.extend(_field_drift(r))
        problems.extend(f"identifier rows of a removed event (row {pk}) remain" for pk in named)
    head = session.exec(select(ChainHead).where(ChainHead.id == 1)).one()
    if head.seq != expected_seq - 1 or head.hash != link:
        problems.append(
            f"chain head says seq {head.seq}, the store ends at {expected_seq - 1}: events removed at the end"
        )
    if checkpoint is not None:
        if vouched is None:
            problems.append(f"the checkpoint vouches for event {checkpoint.seq}, which the store no longer holds")
        elif vouched != checkpoint.head:
            problems.append(
                f"the store was rewritten: the chain at event {checkpoint.seq} is not the one the checkpoint of "
                f"{checkpoint.at} signed"
            )
    return ChainReport(ok=not problems, events=count, problems=problems)


def _field_drift(r: Event) -> list[str]:
    """Columns that no longer say what the stored JSON says (the JSON is what the event hash covers)."""
    try:
        e = json.loads(r.document)
    except json.JSONDecodeError:
        return [f"event {r.event_id}: stored document is not JSON"]
    read_point = e.get("readPoint", {}).get("id") if isinstance(e.get("readPoint"), dict) else None
    biz_location = e.get("bizLocation", {}).get("id") if isinstance(e.get("bizLocation"), dict) else None
    expected = {
        "event_id": e.get("eventID"),
        "event_type": e.get("type"),
        "action": e.get("action"),
        "biz_step": normalise_vocab(e.get("bizStep")),
        "disposition": normalise_vocab(e.get("disposition")),
        "event_time": parse_event_time(e.get("eventTime")) if "eventTime" in e else None,
        "tz_offset": e.get("eventTimeZoneOffset"),
        "read_point": read_point,
        "biz_location": biz_location,
    }
    out = []
    for name, value in expected.items():
        actual = getattr(r, name)
        if isinstance(actual, datetime) and actual.tzinfo is None:
            actual = actual.replace(tzinfo=UTC)
        if actual != value:
            out.append(f"event {r.event_id}: column {name} was altered ({actual!r} != {value!r})")
    return out


# --- signed checkpoints ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    """The chain head at one moment, signed with a key kept outside the database.

    Anyone who can write the database can recompute the whole chain; nobody without the key can sign a checkpoint,
    so a copy held elsewhere (with finance, with a locked period) proves that nothing up to ``seq`` changed since.
    """

    seq: int
    head: str
    at: str
    key_id: str
    signature: str = ""

    def payload(self) -> bytes:
        body = {"seq": self.seq, "head": self.head, "at": self.at, "key_id": self.key_id}
        return json.dumps(body, sort_keys=True, separators=(",", ":")).encode("ascii")

    def as_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "head": self.head, "at": self.at, "key_id": self.key_id, "signature": self.signature}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Checkpoint:
        try:
            return cls(int(raw["seq"]), str(raw["head"]), str(raw["at"]), str(raw["key_id"]), str(raw["signature"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a chain checkpoint: {exc}") from None


def sign_checkpoint(*, session: Session, key: Ed25519PrivateKey, key_id: str) -> Checkpoint:
    """Sign the current chain head (after verifying nothing is broken is the caller's choice; see the CLI)."""
    head = session.exec(select(ChainHead).where(ChainHead.id == 1)).one()
    unsigned = Checkpoint(head.seq, head.hash, datetime.now(UTC).isoformat(timespec="seconds"), key_id)
    signature = base64.urlsafe_b64encode(key.sign(unsigned.payload())).decode("ascii").rstrip("=")
    return Checkpoint(unsigned.seq, unsigned.head, unsigned.at, unsigned.key_id, signature)


CHAIN_KEY_ID = "chain"
"""The key file (in the settings' key directory, never in the database) that signs chain checkpoints."""


def chain_key(keys: KeyFileStore) -> Ed25519PrivateKey:
    """The checkpoint signing key, created on first use beside the code-signing keys."""
    if not keys.pem_path(CHAIN_KEY_ID).exists():
        keys.create_ed25519(CHAIN_KEY_ID)
    return keys.load_private(CHAIN_KEY_ID)


def checkpoint_signed_by(checkpoint: Checkpoint, public_key: Ed25519PublicKey) -> bool:
    """Whether the checkpoint carries a valid signature of that key (so its head can be trusted)."""
    try:
        raw = base64.urlsafe_b64decode(checkpoint.signature + "=" * (-len(checkpoint.signature) % 4))
        public_key.verify(raw, checkpoint.payload())
    except (InvalidSignature, ValueError):
        return False
    return True
