"""Receiving against a shipment: the destination (a distributor, a warehouse) scans the cases and units that came on
a shipment, and sees at once what it expected, what it received, what is missing and what came that was never on it.

Each scan goes through the same validation and the same EPCIS capture as every other scan of ours
(:func:`scanning.service.record_scans`): a ``receiving`` ObjectEvent at the receiver, so the ledger, the unit's
state and the diversion rules see it. What the receipt adds is the shipment: a code that was not shipped on it (nor
packed inside a case that was) is an *extra*, rejected with the reason ``not_on_shipment`` and kept (the rejected
scan and the receipt's line), never received; a code received already is refused as ``already_received``. Only
the shipment's destination may receive it (anyone else is told it does not exist). Closing the receipt fixes it:
what is missing then stays listed, and nothing more is received on it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import func, or_
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from codes.keyfiles import KeyFileStore
from ledger.history import codes_for_keys
from ledger.keys import code_key
from ledger.store import lock_store
from scanning.epcis import capture_document
from scanning.errors import ShipmentError
from scanning.service import (
    ScanOutcome,
    _accepted,
    _claim_key,
    _document,
    _event,
    _flush_capture,
    _party_for,
    _reject,
    _storable,
    _validate,
    shipment_items,
)
from traceability.auth.service import Principal, scope_to_party
from traceability.errors import NotFound
from traceability.i18n import Catalogue, messages, wording
from traceability.models import Capture, Code, ReceiptLine, ReceiptOutcome, Shipment, ShipmentStatus
from traceability.models.base import utcnow
from traceability.search import contains, needle, parties_named, row_number

__all__ = [
    "INBOUND_STATES",
    "InboundFilter",
    "InboundListing",
    "ReceiptView",
    "close_receipt",
    "count_inbound",
    "describe_receipt",
    "get_inbound",
    "list_inbound",
    "receive_scans",
]

_MESSAGES: Catalogue = messages("scanning.receiving")
_Row = TypeVar("_Row")


def _say(key: str, lang: str, shipment: int) -> str:
    return wording(_MESSAGES, key, lang, shipment=shipment)


@dataclass
class ReceiptView:
    """A shipment as its destination receives it: every unit expected, the ones received, the lines scanned."""

    shipment: Shipment
    covers: dict[str, frozenset[str]]
    """Every key shipped (an item, or a case or unit packed inside one) → the units of the shipment it stands for."""
    expected: frozenset[str]
    """The keys of the units the shipment carries (an empty case stands for itself)."""
    received: frozenset[str] = frozenset()
    lines: list[ReceiptLine] = field(default_factory=list)

    @property
    def missing(self) -> list[str]:
        return sorted(self.expected - self.received)

    @property
    def extras(self) -> list[ReceiptLine]:
        seen: dict[str, ReceiptLine] = {}
        for line in self.lines:
            if line.outcome == ReceiptOutcome.extra:
                seen.setdefault(line.key or line.raw, line)
        return list(seen.values())

    @property
    def rejected(self) -> list[ReceiptLine]:
        return [line for line in self.lines if line.outcome == ReceiptOutcome.rejected]

    def summary(self) -> dict[str, int]:
        """The page's counters: units expected, received, missing, and extra codes."""
        return {"expected": len(self.expected), "received": len(self.received), "missing": len(self.missing),
                "extra": len(self.extras)}  # fmt: skip


@dataclass(frozen=True)
class InboundListing:
    shipment: Shipment
    expected: int
    received: int


def _inbound_query(principal: Principal) -> SelectOfScalar[Shipment]:
    return scope_to_party(select(Shipment), principal, Shipment.destination_id)


def get_inbound(*, session: Session, principal: Principal, shipment_id: int, lang: str = "en") -> Shipment:
    """A shipment addressed to the caller's party (NotFound for anyone else's: its existence is not told)."""
    shipment = session.exec(_inbound_query(principal).where(Shipment.id == shipment_id)).first()
    if shipment is None:
        raise NotFound(_say("no_shipment", lang, shipment_id), shipment=shipment_id)
    return shipment


@dataclass(frozen=True, slots=True)
class InboundFilter:
    """What the inbound list filters on: whether the receipt is closed (``received``) or not (``awaiting``), and a
    search (a shipment number, or text within the sender's id or name or the order reference)."""

    state: str | None = None
    search: str | None = None


INBOUND_STATES = ("awaiting", "received")


def shipment_search(text: str, party: Any) -> Any:
    """A shipment list's search: the shipment's number, its order reference, or the id or name of the party in
    ``party`` (the sender on a receiving list, the destination on a sender's)."""
    wanted = needle(text)
    found: list[Any] = [col(party).in_(parties_named(wanted)), contains(Shipment.order_ref, wanted)]
    if (number := row_number(wanted)) is not None:
        found.append(col(Shipment.id) == number)
    return or_(*found)


def _inbound_list(stmt: SelectOfScalar[_Row], principal: Principal, filters: InboundFilter) -> SelectOfScalar[_Row]:
    stmt = scope_to_party(stmt, principal, Shipment.destination_id).where(Shipment.status == ShipmentStatus.closed)
    if filters.state == "received":
        stmt = stmt.where(col(Shipment.received_at).is_not(None))
    elif filters.state == "awaiting":
        stmt = stmt.where(col(Shipment.received_at).is_(None))
    if filters.search:
        stmt = stmt.where(shipment_search(filters.search, Shipment.party_id))
    return stmt


def count_inbound(*, session: Session, principal: Principal, filters: InboundFilter | None = None) -> int:
    """How many shipped shipments addressed to the caller's party match (one COUNT, for the list's pager)."""
    stmt = _inbound_list(select(func.count()).select_from(Shipment), principal, filters or InboundFilter())
    return int(session.exec(stmt).one())


def list_inbound(*, session: Session, principal: Principal, limit: int = 50, offset: int = 0,
                 filters: InboundFilter | None = None) -> list[InboundListing]:  # fmt: skip
    """The shipped (closed) shipments addressed to the caller's party, newest first, a page of them (``limit`` from
    ``offset``), with units expected and received."""
    stmt = _inbound_list(select(Shipment), principal, filters or InboundFilter())
    out: list[InboundListing] = []
    for shipment in session.exec(stmt.order_by(col(Shipment.id).desc()).offset(offset).limit(limit)).all():
        view = describe_receipt(session=session, shipment=shipment)
        out.append(InboundListing(shipment=shipment, expected=len(view.expected), received=len(view.received)))
    return out


def _key(code: Code) -> str:
    return code_key(code.gtin, code.serial, code.sscc)


def describe_receipt(*, session: Session, shipment: Shipment) -> ReceiptView:
    """What the shipment carries (its items and everything packed inside them) and what was scanned on receipt."""
    assert shipment.id is not None
    items = shipment_items(session=session, shipment_id=shipment.id)
    records = codes_for_keys(session, [i.key for i in items])
    covers: dict[str, frozenset[str]] = {}
    for item in items:
        code = records.get(item.key)
        if code is None or code.level == "unit":
            covers[item.key] = frozenset({item.key})
            continue
        # Walk down the packing: every case inside stands for its own units, the item for all of them.
        below: dict[int, list[Code]] = {}
        frontier = [code]
        while frontier:
            children = list(session.exec(select(Code).where(col(Code.parent_id).in_([c.id for c in frontier]))).all())
            for child in children:
                below.setdefault(child.parent_id or 0, []).append(child)
            frontier = [c for c in children if c.level != "unit"]

        def units_of(node: Code, below: dict[int, list[Code]] = below) -> frozenset[str]:
            kids = below.get(node.id or 0, [])
            found = frozenset({_key(node)}) if node.level == "unit" or not kids else frozenset().union(
                *(units_of(k) for k in kids))  # fmt: skip
            covers[_key(node)] = found
            return found

        covers[item.key] = units_of(code)
    expected = frozenset().union(*(covers[i.key] for i in items)) if items else frozenset()
    lines = list(session.exec(select(ReceiptLine).where(ReceiptLine.shipment_id == shipment.id)
                              .order_by(col(ReceiptLine.id))).all())  # fmt: skip
    received: set[str] = set()
    for line in lines:
        if line.outcome == ReceiptOutcome.received and line.key is not None:
            received |= covers.get(line.key, frozenset())
    return ReceiptView(shipment=shipment, covers=covers, expected=expected, received=frozenset(received & expected),
                       lines=lines)  # fmt: skip


def receive_scans(
    *, session: Session, principal: Principal, shipment_id: int, codes: list[str], company_prefix_length: int = 7,
    store: KeyFileStore | None = None, lang: str = "en", idempotency_key: str | None = None,
) -> ScanOutcome:  # fmt: skip
    """Receive scanned codes on an inbound shipment: each is validated for ``receiving`` and matched against the
    shipment; the matched ones are captured as one receiving event, the others kept with their reasons.

    A resend with the same ``idempotency_key`` (the page's offline queue) gets the first answer again."""
    shipment = get_inbound(session=session, principal=principal, shipment_id=shipment_id, lang=lang)
    party = _party_for(session, principal, shipment.destination_id)
    lock_store(session)
    session.refresh(shipment)  # as it is now that writers wait on us: a close that committed meanwhile shows
    request_hash = hashlib.sha256(json.dumps(["receipt", shipment_id, codes]).encode()).hexdigest()
    scoped, replay = _claim_key(session, party.id, idempotency_key, request_hash)
    if replay is not None:
        return replay
    if shipment.status != ShipmentStatus.closed:
        raise ShipmentError(_say("not_shipped", lang, shipment_id))
    if shipment.received_at is not None:
        raise ShipmentError(_say("receipt_closed", lang, shipment_id))
    checked = _validate(session, codes, "receiving", party, company_prefix_length=company_prefix_length, store=store)
    view = describe_receipt(session=session, shipment=shipment)
    covered = set(view.received)
    extra_seen: set[str | None] = {line.key for line in view.extras}
    units: dict[int, int] = {}
    for n, item in enumerate(checked):
        if item.reason is not None or item.scanned is None:
            continue
        key = item.scanned.key
        if key not in view.covers:
            item.reason, item.message = "not_on_shipment", _say("not_on_shipment", lang, shipment_id)
            continue
        fresh = view.covers[key] - covered
        if not fresh:
            item.reason, item.message = "already_received", _say("already_received", lang, shipment_id)
            continue
        covered |= fresh
        units[n] = len(fresh)
    capture = Capture(origin="receipt-scan", party_id=party.id, idempotency_key=scoped, request_hash=request_hash)
    _flush_capture(session, capture)
    outcome = ScanOutcome(capture_id=capture.id)
    refused = [c for c in checked if c.reason]
    outcome.rejected = _reject(session, capture, party, "receiving", refused)
    now = utcnow()
    for item in refused:
        line_key = item.scanned.key if item.scanned is not None else None
        repeated = item.reason == "not_on_shipment" and line_key in extra_seen
        if item.reason in ("duplicate", "already_received") or repeated:
            continue  # said once already: the receipt's lines are what arrived, not every repeated scan
        extra_seen.add(line_key)
        outcome_kind = ReceiptOutcome.extra if item.reason == "not_on_shipment" else ReceiptOutcome.rejected
        session.add(ReceiptLine(shipment_id=shipment_id, key=line_key, raw=_storable(item.raw), outcome=outcome_kind,
                                epc=item.scanned.epc_urn if item.scanned is not None else None, reason=item.reason,
                                capture_id=capture.id, scanned_at=now))  # fmt: skip
    accepted = [(n, c) for n, c in enumerate(checked) if c.reason is None and c.scanned is not None]
    if accepted:
        event = _event("receiving", party, [c.scanned for _, c in accepted if c.scanned], destination=None,
                       when=datetime.now(UTC))  # fmt: skip
        capture_document(session=session, document=_document(event), origin="scan", party_id=party.id,
                         capture=capture)  # fmt: skip
        outcome.event_id = event["eventID"]
        for n, item in accepted:
            assert item.scanned is not None
            session.add(ReceiptLine(shipment_id=shipment_id, key=item.scanned.key, epc=item.scanned.epc_urn,
                                    raw=_storable(item.raw), outcome=ReceiptOutcome.received, units=units[n],
                                    capture_id=capture.id, scanned_at=now))  # fmt: skip
            outcome.accepted.append({**_accepted(session, item, lang), "units": units[n]})
    capture.response = json.dumps(outcome.as_dict(), ensure_ascii=False)
    session.add(capture)
    session.flush()
    return outcome


def close_receipt(*, session: Session, principal: Principal, shipment_id: int, lang: str = "en") -> ReceiptView:
    """Close the receipt: what was not received by now is what is missing, and stays listed."""
    shipment = get_inbound(session=session, principal=principal, shipment_id=shipment_id, lang=lang)
    party = _party_for(session, principal, shipment.destination_id)
    lock_store(session)  # first, then the checks: two closes at once cannot both pass them
    session.refresh(shipment)
    if shipment.status != ShipmentStatus.closed:
        raise ShipmentError(_say("not_shipped", lang, shipment_id))
    if shipment.received_at is not None:
        raise ShipmentError(_say("receipt_closed", lang, shipment_id))
    shipment.received_at, shipment.received_by = utcnow(), party.id
    session.add(shipment)
    session.flush()
    return describe_receipt(session=session, shipment=shipment)
