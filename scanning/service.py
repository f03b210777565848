"""Scans from our own scanners (scan API, scanning page, CLI): validated, then captured as EPCIS events.

Every code is checked before anything is written: it parses, its signature verifies, we issued it, its life-cycle
state allows the step, and the scanning party may perform the step. Accepted codes become one EPCIS event; rejected
ones are stored with their reason and change nothing. The event store's write lock is taken first, so two clients
scanning the same unit at once are applied one after the other and the second sees the first.

Outbound scans (shipping, and codes scanned into a shipment) are checked against the channel too
(:mod:`scanning.outbound`): an accepted code carries the ``warnings`` it raised, and a check the brand's policy
refuses makes it a rejected scan with the check as its reason. Closing a shipment that has warnings needs the
caller's confirmation, which is recorded with who gave it.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from codes.errors import MalformedCode
from codes.keyfiles import KeyFileStore
from codes.service import aggregate, disaggregate, keyring
from codes.signing import verify
from ledger.history import codes_for_keys
from ledger.store import lock_store, scans_rejected
from rebates.policy import OutboundPolicy
from scanning import outbound
from scanning.epcis import capture_document
from scanning.errors import ConfirmationRequired, IdempotencyConflict, NotHolder, OutboundRefused, ShipmentError
from scanning.outbound import CodeToShip, OutboundWarning
from scanning.parse import ScannedCode, parse_scan, sgtin_urn, sscc_urn
from traceability.auth.service import Principal, scope_to_party
from traceability.errors import Forbidden, InvalidInput, NotFound
from traceability.gs1 import is_valid_gtin14
from traceability.i18n import Catalogue, messages
from traceability.models import (
    Capture,
    Code,
    CodeStatus,
    Party,
    PartyKind,
    RejectedScan,
    Role,
    Shipment,
    ShipmentItem,
    ShipmentStatus,
)
from traceability.models.base import utcnow
from traceability.privacy import MEMBER_FIELD, MEMBER_NAMESPACE

__all__ = [
    "SCAN_STEPS",
    "ScanOutcome",
    "ScanRequest",
    "ShipmentView",
    "close_shipment",
    "describe_shipment",
    "get_shipment",
    "list_rejected",
    "open_shipment",
    "pack",
    "record_image_scan",
    "record_scans",
    "scan_into_shipment",
]

_MESSAGES: Catalogue = messages("scanning.service")

# Which kinds of party may perform each business step with our scanners.
STEP_PARTIES: dict[str, frozenset[PartyKind]] = {
    "commissioning": frozenset({PartyKind.plant, PartyKind.brand}),
    "packing": frozenset({PartyKind.plant, PartyKind.brand, PartyKind.warehouse}),
    "shipping": frozenset({PartyKind.plant, PartyKind.brand, PartyKind.warehouse, PartyKind.distributor}),
    "receiving": frozenset({PartyKind.warehouse, PartyKind.distributor, PartyKind.store, PartyKind.brand}),
    "retail_selling": frozenset({PartyKind.store}),
    "inspecting": frozenset(PartyKind),
    "unpacking": frozenset({PartyKind.store, PartyKind.distributor, PartyKind.warehouse, PartyKind.brand}),
}
SCAN_STEPS = tuple(STEP_PARTIES)
HOLDER_STEPS = frozenset({"retail_selling", "packing"})
"""Steps, besides shipping, that dispose of a unit: only its holder's side may scan them (``not_holder``)."""
_NEEDS_COMMISSIONED = frozenset({"shipping", "receiving", "retail_selling"})
_COUNTERFEIT = frozenset({"bad_signature", "key_revoked", "unknown_key", "never_issued", "malformed"})


@dataclass
class ScanRequest:
    biz_step: str
    codes: list[str]
    party_id: str | None = None
    destination_id: str | None = None
    event_time: datetime | None = None
    member_hash: str | None = None
    """Keyed hash of the member's phone on a sale (see ``traceability.privacy``); never the number itself."""


@dataclass
class ScanOutcome:
    """Per code: accepted (with the EPC stored) or rejected with a reason; replayed as-is for a repeated key."""

    capture_id: int | None = None
    event_id: str | None = None
    accepted: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    replayed: bool = False
    unreadable: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "capture_id": self.capture_id,
            "event_id": self.event_id,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "replayed": self.replayed,
            "unreadable": self.unreadable,
        }


@dataclass
class _Checked:
    raw: str
    scanned: ScannedCode | None
    code: Code | None
    reason: str | None = None
    message: str = ""
    warnings: list[OutboundWarning] = field(default_factory=list)


def _party_for(session: Session, principal: Principal, party_id: str | None) -> Party:
    """The scanning party: the key's own party; only an admin may scan on behalf of another."""
    wanted = party_id or principal.party_id
    if wanted != principal.party_id and principal.role is not Role.admin:
        raise Forbidden.keyed(_MESSAGES, "own_party_only", role=principal.role.value, party=principal.party_id)
    party = session.get(Party, wanted)
    if party is None:
        raise NotFound.keyed(_MESSAGES, "unknown_party", party=wanted, detail={"party": wanted})
    return party


def _gln_uri(party: Party) -> str:
    return f"https://id.gs1.org/414/{party.gln}"


def _validate(
    session: Session, raws: Sequence[str], step: str, party: Party, *, company_prefix_length: int,
    store: KeyFileStore | None,
) -> list[_Checked]:  # fmt: skip
    """Check every code against the current store; no writes."""
    ring = keyring(session=session)
    checked: list[_Checked] = []
    parsed: list[_Checked] = []
    for raw in raws:
        try:
            scanned = parse_scan(raw, company_prefix_length=company_prefix_length)
        except MalformedCode as exc:
            checked.append(_Checked(raw, None, None, "malformed", exc.message))
            continue
        item = _Checked(raw, scanned, None)
        checked.append(item)
        parsed.append(item)
    records = codes_for_keys(session, [c.scanned.key for c in parsed if c.scanned is not None])
    allowed_kinds = STEP_PARTIES.get(step)
    seen: set[str] = set()
    for item in parsed:
        assert item.scanned is not None
        key = item.scanned.key
        item.code = records.get(key)
        if key in seen:
            item.reason, item.message = "duplicate", "scanned twice in this request; counted once"
        elif allowed_kinds is None:
            item.reason, item.message = "unknown_step", f"{step!r} is not a business step our scanners record"
        elif PartyKind(party.kind) not in allowed_kinds:
            item.reason, item.message = "party_not_authorized", f"a {party.kind} may not record {step}"
        else:
            item.reason, item.message = _check_code(item, step, ring, store)
        seen.add(key)
    return checked


def _check_code(item: _Checked, step: str, ring: Any, store: KeyFileStore | None) -> tuple[str | None, str]:
    scanned, code = item.scanned, item.code
    assert scanned is not None
    if scanned.signed is not None:
        secrets_ = None
        if scanned.signed.mode == "hmac" and store is not None:
            try:
                secrets_ = {scanned.signed.key_id: store.load_hmac_secret(scanned.signed.key_id)}
            except Exception:  # noqa: BLE001 - an unknown compact key is reported as such below
                secrets_ = None
        result = verify(scanned.signed, ring, secrets_)
        if not result.ok:
            return result.reason or "bad_signature", result.message
    elif code is not None and code.key_id is not None:
        # One of our signed codes is genuine only with its signature: a label cut down to GTIN + serial is a copy.
        return "signature_missing", "this code was issued with a signature; scan the whole label, signature included"
    if code is None:
        return "never_issued", f"{scanned.key} was never issued by this brand"
    status = CodeStatus(code.status)
    if status is CodeStatus.voided and step != "inspecting":
        return "voided", "this code was voided and may not be used"
    if status is CodeStatus.sold and step != "inspecting":
        return "already_sold", "this unit was already sold"
    if step == "commissioning" and status not in (CodeStatus.generated, CodeStatus.printed):
        return "already_commissioned", f"this code is already {status.value}"
    if step in _NEEDS_COMMISSIONED and status in (CodeStatus.generated, CodeStatus.printed):
        return "not_commissioned", f"this code is {status.value}, not yet commissioned"
    return None, "accepted"


def _request_hash(request: ScanRequest) -> str:
    body = json.dumps(
        [request.biz_step, request.codes, request.party_id, request.destination_id,
         request.event_time.isoformat() if request.event_time else None, request.member_hash],
        sort_keys=True,
    )  # fmt: skip
    return hashlib.sha256(body.encode()).hexdigest()


def _scoped_key(party_id: str, key: str) -> str:
    """The stored form of an Idempotency-Key: the party and the key, hashed (the column has room for any key)."""
    return "p1:" + hashlib.sha256(f"{party_id}\x1f{key}".encode()).hexdigest()


def _claim_key(
    session: Session, party_id: str, key: str | None, request_hash: str
) -> tuple[str | None, ScanOutcome | None]:
    """The stored form of a request's Idempotency-Key and, when it was answered before, that first answer.

    Scoped to the party: one party's key never replays (or blocks) another party's result."""
    if key is None:
        return None, None
    scoped = _scoped_key(party_id, key)
    return scoped, _replay(session, scoped, request_hash)


def _flush_capture(session: Session, capture: Capture) -> None:
    """Store the capture row, its Idempotency-Key claimed (unique) before anything else is written."""
    session.add(capture)
    try:
        session.flush()
    except IntegrityError:  # pragma: no cover - the lock makes this a lost race of a replica, not of this process
        raise IdempotencyConflict.keyed(_MESSAGES, "key_in_use") from None


def _replay(session: Session, key: str, request_hash: str) -> ScanOutcome | None:
    previous = session.exec(select(Capture).where(Capture.idempotency_key == key)).first()
    if previous is None:
        return None
    if previous.request_hash != request_hash:
        raise IdempotencyConflict.keyed(_MESSAGES, "key_reused")
    data = json.loads(previous.response or "{}")
    return ScanOutcome(
        capture_id=data.get("capture_id"), event_id=data.get("event_id"), accepted=data.get("accepted", []),
        rejected=data.get("rejected", []), replayed=True,
    )  # fmt: skip


def _event(
    step: str, party: Party, scanned: Sequence[ScannedCode], *, destination: Party | None, when: datetime,
    member: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    offset = when.strftime("%z")
    offset = f"{offset[:3]}:{offset[3:]}" if offset else "+00:00"
    event: dict[str, Any] = {
        "eventID": f"urn:uuid:{uuid.uuid4()}",
        "type": "ObjectEvent",
        "action": "ADD" if step == "commissioning" else "OBSERVE",
        "bizStep": step,
        "epcList": [s.epc_urn for s in scanned],
        "eventTime": when.isoformat(timespec="milliseconds"),
        "eventTimeZoneOffset": offset,
        "readPoint": {"id": _gln_uri(party)},
        "bizLocation": {"id": _gln_uri(party)},
    }
    if step == "shipping":
        event["sourceList"] = [{"type": "owning_party", "source": _gln_uri(party)}]
        if destination is not None:
            event["destinationList"] = [{"type": "owning_party", "destination": _gln_uri(destination)}]
    elif step == "receiving":
        event["destinationList"] = [{"type": "owning_party", "destination": _gln_uri(party)}]
    if member is not None:
        event[MEMBER_FIELD] = member
    return event


def _document(*events: dict[str, Any]) -> dict[str, Any]:
    return {
        "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld", {"trc": MEMBER_NAMESPACE}],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": utcnow().isoformat(timespec="milliseconds"),
        "epcisBody": {"eventList": list(events)},
    }


def _reject(
    session: Session, capture: Capture, party: Party, step: str, items: Sequence[_Checked]
) -> list[dict[str, Any]]:
    rows = [
        RejectedScan(
            party_id=party.id,
            biz_step=step,
            raw=_storable(i.raw),
            key=i.scanned.key if i.scanned is not None else None,
            reason=i.reason or "rejected",
            message=_storable(i.message),
            capture_id=capture.id,
        )  # fmt: skip
        for i in items
    ]
    if rows:
        session.add_all(rows)
        session.flush()
        scans_rejected(session, [r for r in rows if r.reason in _COUNTERFEIT])
    return [{"code": i.raw, "reason": i.reason, "message": i.message} for i in items]


def _storable(text: str) -> str:
    """Text a database column can hold: a NUL (never valid in a scan) is kept visibly as a backslash escape."""
    return text.replace("\x00", "\\x00")


def _units_behind(session: Session, code: Code | None) -> int:
    """How many units a scan stands for: 1 for a unit, the units packed inside for a case or pallet."""
    if code is None or code.level == "unit":
        return 1
    total, frontier = 0, [code.id]
    while frontier:
        children = session.exec(select(Code).where(col(Code.parent_id).in_(frontier))).all()
        total += sum(1 for c in children if c.level == "unit")
        frontier = [c.id for c in children if c.level != "unit"]
    return total


def _accepted(session: Session, item: _Checked, lang: str) -> dict[str, Any]:
    assert item.scanned is not None
    return {"code": item.raw, "epc": item.scanned.epc_urn, "units": _units_behind(session, item.code),
            "warnings": [w.as_dict(lang) for w in item.warnings]}  # fmt: skip


def _check_outbound(
    session: Session, checked: Sequence[_Checked], party: Party, destination: str | None, *, policy: OutboundPolicy,
    lang: str, order_ref: str | None = None, order_gtins: Sequence[str] = (),
) -> None:  # fmt: skip
    """Run the outbound checks on the codes still accepted: warnings on each, or a rejection the policy asks for."""
    items = [c for c in checked if c.reason is None and c.scanned is not None]
    if not items:
        return
    gtins = outbound.products_behind(session, [(c.scanned.gtin if c.scanned else None, c.code) for c in items])
    codes = [CodeToShip(c.scanned.key, c.code, g) for c, g in zip(items, gtins, strict=True) if c.scanned]
    found = outbound.code_warnings(session=session, sender=party.id, destination=destination, codes=codes,
                                   order_ref=order_ref, order_gtins=order_gtins)  # fmt: skip
    for item, warnings in zip(items, found, strict=True):
        refused = [w for w in warnings if policy.refuses(w.kind)]
        if refused:
            item.reason, item.message = refused[0].kind, "; ".join(w.message(lang) for w in refused)
        else:
            item.warnings = warnings


def _check_holding(
    session: Session, checked: Sequence[_Checked], party: Party, *, policy: OutboundPolicy, lang: str
) -> None:
    """A sale (or a packing) only by the unit's holder's side: ``not_holder`` refuses, or warns if the policy says."""
    items = [c for c in checked if c.reason is None and c.code is not None]
    for item, warning in zip(items, outbound.holder_warnings(session=session, party=party.id,
                                                            codes=[c.code for c in items]), strict=True):  # fmt: skip
        if warning is None:
            continue
        if policy.refuses(warning.kind):
            item.reason, item.message = warning.kind, warning.message(lang)
        else:
            item.warnings = [*item.warnings, warning]


def _check_receipt(session: Session, checked: Sequence[_Checked], party: Party) -> None:
    """A store receiving goods from a distributor it may not buy from is warned at once (the receipt is kept:
    the goods are there, and the receipt is the evidence the diversion rules read)."""
    items = [c for c in checked if c.reason is None and c.scanned is not None]
    keys = [c.scanned.key for c in items if c.scanned is not None]
    for item, warnings in zip(items, outbound.receipt_warnings(session=session, receiver=party.id, keys=keys),
                              strict=True):  # fmt: skip
        item.warnings = [*item.warnings, *warnings]


def record_scans(
    *,
    session: Session,
    principal: Principal,
    request: ScanRequest,
    idempotency_key: str | None = None,
    company_prefix_length: int = 7,
    store: KeyFileStore | None = None,
    policy: OutboundPolicy | None = None,
    lang: str = "en",
    origin: str = "scan",
) -> ScanOutcome:
    """Validate raw scanned strings and capture the accepted ones as one event; store rejected ones with reasons.

    A shipping scan is also checked outbound (``scanning.outbound``): accepted codes carry their ``warnings``,
    worded in ``lang``, and checks ``policy`` refuses reject the code. ``origin`` says who vouches for the event:
    ``consumer`` (an anonymous check) makes it an unverified sighting (``ledger.history.CONSUMER_ORIGIN``).
    """
    lock_store(session)
    party = _party_for(session, principal, request.party_id)
    destination = None
    if request.destination_id is not None:
        destination = session.get(Party, request.destination_id)
        if destination is None:
            raise NotFound.keyed(_MESSAGES, "unknown_destination", party=request.destination_id,
                                 detail={"party": request.destination_id})  # fmt: skip
    request_hash = _request_hash(request)
    idempotency_key, replay = _claim_key(session, party.id, idempotency_key, request_hash)
    if replay is not None:
        return replay
    checked = _validate(session, request.codes, request.biz_step, party, company_prefix_length=company_prefix_length,
                        store=store)  # fmt: skip
    if request.biz_step == "shipping":
        _check_outbound(session, checked, party, request.destination_id, policy=policy or OutboundPolicy(), lang=lang)
    elif request.biz_step in HOLDER_STEPS:
        _check_holding(session, checked, party, policy=policy or OutboundPolicy(), lang=lang)
    elif request.biz_step == "receiving" and party.kind == PartyKind.store:
        _check_receipt(session, checked, party)
    capture = Capture(origin="scan", party_id=party.id, idempotency_key=idempotency_key, request_hash=request_hash)
    _flush_capture(session, capture)
    accepted = [c for c in checked if c.reason is None and c.scanned is not None]
    outcome = ScanOutcome(capture_id=capture.id)
    outcome.rejected = _reject(session, capture, party, request.biz_step, [c for c in checked if c.reason])
    if accepted:
        event = _event(request.biz_step, party, [c.scanned for c in accepted if c.scanned],
                       destination=destination, when=request.event_time or datetime.now(UTC),
                       member=request.member_hash if request.biz_step == "retail_selling" else None)  # fmt: skip
        capture_document(session=session, document=_document(event), origin=origin, party_id=party.id,
                         capture=capture)  # fmt: skip
        outcome.event_id = event["eventID"]
        outcome.accepted = [_accepted(session, c, lang) for c in accepted]
    capture.response = json.dumps(outcome.as_dict(), ensure_ascii=False)
    session.add(capture)
    session.flush()
    return outcome


def record_image_scan(
    *,
    session: Session,
    principal: Principal,
    image: bytes,
    request: ScanRequest,
    idempotency_key: str | None = None,
    company_prefix_length: int = 7,
    store: KeyFileStore | None = None,
    max_pixels: int | None = None,
    policy: OutboundPolicy | None = None,
    lang: str = "en",
) -> ScanOutcome:
    """Decode every symbol on a photo (a case top holds many) and record them as one scan; say what was unreadable."""
    from scanning.decode import decode_image

    decoded = decode_image(image, max_pixels=max_pixels)
    texts = [s.text for s in decoded.symbols]
    if texts:
        request.codes = texts
        outcome = record_scans(session=session, principal=principal, request=request,
                               idempotency_key=idempotency_key, company_prefix_length=company_prefix_length,
                               store=store, policy=policy, lang=lang)  # fmt: skip
    else:
        outcome = ScanOutcome()
    outcome.unreadable = [
        {"polygon": [list(p) for p in r.polygon], "reason": r.reason} for r in decoded.unreadable_regions
    ]
    return outcome


def pack(
    *, session: Session, principal: Principal, parent: str, children: list[str], company_prefix_length: int = 7,
) -> ScanOutcome:  # fmt: skip
    """Pack children into a case or pallet: the packing record, and an AggregationEvent (ADD, packing)."""
    party = _party_for(session, principal, None)
    if PartyKind(party.kind) not in STEP_PARTIES["packing"]:
        raise Forbidden.keyed(_MESSAGES, "may_not_pack", kind=party.kind)
    lock_store(session)
    parent_scan = parse_scan(parent, company_prefix_length=company_prefix_length)
    child_scans = [parse_scan(c, company_prefix_length=company_prefix_length) for c in children]
    records = codes_for_keys(session, [c.key for c in child_scans])
    held = outbound.holder_warnings(session=session, party=party.id, codes=[records.get(c.key) for c in child_scans])
    refused = [(c, w) for c, w in zip(child_scans, held, strict=True) if w is not None]
    if refused:
        raise NotHolder(
            f"{len(refused)} of the units are held by another party: " + "; ".join(
                f"{c.raw}: {w.message('en')}" for c, w in refused[:5]),
            units=[{"code": c.raw, "reason": w.kind, "message": w.message("en")} for c, w in refused],
        )  # fmt: skip
    aggregate(session=session, parent=parent_scan.raw if parent_scan.signed else _plain(parent_scan),
              children=[c.raw if c.signed else _plain(c) for c in child_scans], party_id=party.id)  # fmt: skip
    now = datetime.now(UTC)
    event_id = f"urn:uuid:{uuid.uuid4()}"
    event: dict[str, Any] = {
        "eventID": event_id,
        "type": "AggregationEvent",
        "action": "ADD",
        "bizStep": "packing",
        "parentID": parent_scan.epc_urn,
        "childEPCs": [c.epc_urn for c in child_scans],
        "eventTime": now.isoformat(timespec="milliseconds"),
        "eventTimeZoneOffset": "+00:00",
        "bizLocation": {"id": _gln_uri(party)},
    }
    result = capture_document(session=session, document=_document(event), origin="scan", party_id=party.id)
    return ScanOutcome(capture_id=result.capture_id, event_id=event_id,
                       accepted=[{"code": c.raw, "epc": c.epc_urn, "units": 1, "warnings": []}
                                 for c in child_scans])  # fmt: skip


def unpack(
    *, session: Session, principal: Principal, parent: str, company_prefix_length: int = 7, lang: str = "en",
) -> ScanOutcome:  # fmt: skip
    """Open a case (or pallet) where it is, so that its units are sold one by one: an AggregationEvent (DELETE,
    ``unpacking``) naming every unit it held, and the packing records cleared.

    Only the case's holder's side may open it (``not_holder``): opening is a disposal, like a sale.
    """
    party = _party_for(session, principal, None)
    if PartyKind(party.kind) not in STEP_PARTIES["unpacking"]:
        raise Forbidden.keyed(_MESSAGES, "may_not_unpack", kind=party.kind)
    lock_store(session)
    scanned = parse_scan(parent, company_prefix_length=company_prefix_length)
    record = codes_for_keys(session, [scanned.key]).get(scanned.key)
    if record is None or record.level == "unit":
        raise InvalidInput.keyed(_MESSAGES, "not_a_case", code=parent,
                                 detail={"field": "code", "reason": "not_a_case"})  # fmt: skip
    (held,) = outbound.holder_warnings(session=session, party=party.id, codes=[record])
    if held is not None:
        words = held.message(lang)
        raise NotHolder(words, units=[{"code": parent, "reason": held.kind, "message": words}])
    inside = session.exec(select(Code).where(Code.parent_id == record.id).order_by(col(Code.id))).all()
    if not inside:
        raise InvalidInput.keyed(_MESSAGES, "empty_case", code=parent,
                                 detail={"field": "code", "reason": "empty_case"})  # fmt: skip
    children = [_epc_of(c, company_prefix_length) for c in inside]
    disaggregate(session=session, parent=scanned.raw if scanned.signed else _plain(scanned), party_id=party.id)
    now = datetime.now(UTC)
    event_id = f"urn:uuid:{uuid.uuid4()}"
    event: dict[str, Any] = {
        "eventID": event_id, "type": "AggregationEvent", "action": "DELETE", "bizStep": "unpacking",
        "parentID": scanned.epc_urn, "childEPCs": children, "eventTime": now.isoformat(timespec="milliseconds"),
        "eventTimeZoneOffset": "+00:00", "readPoint": {"id": _gln_uri(party)}, "bizLocation": {"id": _gln_uri(party)},
    }  # fmt: skip
    result = capture_document(session=session, document=_document(event), origin="scan", party_id=party.id)
    return ScanOutcome(capture_id=result.capture_id, event_id=event_id,
                       accepted=[{"code": e, "epc": e, "units": 1, "warnings": []} for e in children])  # fmt: skip


def _epc_of(code: Code, company_prefix_length: int) -> str:
    if code.sscc is not None:
        return sscc_urn(code.sscc, company_prefix_length)
    assert code.gtin is not None
    assert code.serial is not None
    return sgtin_urn(code.gtin, code.serial, company_prefix_length)


def _plain(scanned: ScannedCode) -> str:
    return scanned.sscc if scanned.sscc else scanned.raw


# --- shipment sessions --------------------------------------------------------------------------------------------


def _order_gtins(gtins: Sequence[str]) -> list[str]:
    cleaned = sorted({g.strip() for g in gtins if g.strip()})
    bad = [g for g in cleaned if not is_valid_gtin14(g)]
    if bad:
        raise InvalidInput.keyed(_MESSAGES, "bad_gtins", gtins=", ".join(bad), detail={"gtins": bad})
    return cleaned


def open_shipment(
    *, session: Session, principal: Principal, destination_id: str, order_ref: str | None = None,
    order_gtins: Sequence[str] = (), expected_quantity: int | None = None, policy: OutboundPolicy | None = None,
    lang: str = "en",
) -> Shipment:  # fmt: skip
    """Open an outbound shipment from the caller's party to a destination party, optionally for an order.

    The destination is checked at once (``describe_shipment`` gives the warnings); a check the policy refuses
    refuses the shipment (:class:`OutboundRefused`, its message in ``lang``).
    """
    party = _party_for(session, principal, None)
    if PartyKind(party.kind) not in STEP_PARTIES["shipping"]:
        raise Forbidden.keyed(_MESSAGES, "may_not_ship", kind=party.kind)
    if session.get(Party, destination_id) is None:
        raise NotFound.keyed(_MESSAGES, "unknown_destination", party=destination_id, detail={"party": destination_id})
    if destination_id == party.id:
        raise ShipmentError.keyed(_MESSAGES, "to_itself")
    if expected_quantity is not None and expected_quantity < 1:
        raise InvalidInput.keyed(_MESSAGES, "expected_quantity",
                                 detail={"expected_quantity": expected_quantity})  # fmt: skip
    gtins = _order_gtins(order_gtins)
    policy = policy or OutboundPolicy()
    refused = [w for w in outbound.destination_warnings(session=session, sender=party.id, destination=destination_id)
               if policy.refuses(w.kind)]  # fmt: skip
    if refused:
        raise OutboundRefused("; ".join(w.message(lang) for w in refused),
                              warnings=[w.as_dict(lang) for w in refused])  # fmt: skip
    shipment = Shipment(party_id=party.id, destination_id=destination_id, order_ref=(order_ref or "").strip() or None,
                        order_gtins=json.dumps(gtins) if gtins else None, expected_quantity=expected_quantity)
    session.add(shipment)
    session.flush()
    return shipment


def get_shipment(*, session: Session, principal: Principal, shipment_id: int) -> Shipment:
    """A shipment of the caller's own party (NotFound for anyone else's)."""
    stmt = scope_to_party(select(Shipment).where(Shipment.id == shipment_id), principal, Shipment.party_id)
    shipment = session.exec(stmt).first()
    if shipment is None:
        raise NotFound.keyed(_MESSAGES, "no_shipment", shipment=shipment_id, detail={"shipment": shipment_id})
    return shipment


def shipment_items(*, session: Session, shipment_id: int) -> list[ShipmentItem]:
    return list(session.exec(select(ShipmentItem).where(ShipmentItem.shipment_id == shipment_id)).all())


def _gtins_of(shipment: Shipment) -> list[str]:
    return list(json.loads(shipment.order_gtins)) if shipment.order_gtins else []


@dataclass
class ShipmentView:
    """A shipment with what its checks say now: the destination's warnings, each item's, and closing's."""

    shipment: Shipment
    items: list[ShipmentItem]
    units: int
    """Units the scanned items stand for (a case counts its units)."""
    warnings: list[OutboundWarning]
    """What shipping to the destination breaks (channel, territory), checked now."""
    item_warnings: dict[int, list[OutboundWarning]]
    """Item id → the warnings its scan raised."""
    closing: list[OutboundWarning]
    """Quantity against the order and a repeated order: what closing checks."""

    @property
    def order_gtins(self) -> list[str]:
        return _gtins_of(self.shipment)

    @property
    def confirmed_warnings(self) -> list[OutboundWarning]:
        return outbound.load(self.shipment.confirmed_warnings)

    def to_confirm(self) -> list[OutboundWarning]:
        """Every distinct warning of the shipment: the ones closing asks the caller to confirm."""
        seen: dict[str, OutboundWarning] = {}
        for w in [*self.warnings, *(w for ws in self.item_warnings.values() for w in ws), *self.closing]:
            seen.setdefault(json.dumps(w.stored(), sort_keys=True), w)
        return list(seen.values())


def describe_shipment(*, session: Session, shipment: Shipment) -> ShipmentView:
    """A shipment with its items, its units and its warnings as they stand (the destination checked now)."""
    assert shipment.id is not None
    items = shipment_items(session=session, shipment_id=shipment.id)
    records = codes_for_keys(session, [i.key for i in items])
    units = sum(_units_behind(session, records.get(i.key)) for i in items)
    earlier = None
    if shipment.order_ref:
        earlier = session.exec(
            select(Shipment.id).where(Shipment.party_id == shipment.party_id, Shipment.order_ref == shipment.order_ref,
                                      Shipment.status == ShipmentStatus.closed, Shipment.id != shipment.id)
            .order_by(col(Shipment.id))
        ).first()  # fmt: skip
    closing = outbound.closing_warnings(units=units, expected=shipment.expected_quantity,
                                        order_ref=shipment.order_ref, earlier_shipment=earlier)  # fmt: skip
    warnings = outbound.destination_warnings(session=session, sender=shipment.party_id,
                                             destination=shipment.destination_id)  # fmt: skip
    return ShipmentView(shipment=shipment, items=items, units=units, warnings=warnings,
                        item_warnings={i.id: outbound.load(i.warnings) for i in items if i.id is not None},
                        closing=closing)  # fmt: skip


def scan_into_shipment(
    *, session: Session, principal: Principal, shipment_id: int, codes: list[str], company_prefix_length: int = 7,
    store: KeyFileStore | None = None, policy: OutboundPolicy | None = None, lang: str = "en",
    idempotency_key: str | None = None,
) -> ScanOutcome:  # fmt: skip
    """Add scanned codes to an open shipment; each is validated for shipping now and checked outbound (its
    ``warnings``, or a rejection the policy asks for); rejected ones are kept.

    With an ``idempotency_key`` (a phone's offline queue sends one with every scan) a resend after a lost answer
    gets the first answer again, instead of its codes coming back as "scanned twice" rejections."""
    shipment = get_shipment(session=session, principal=principal, shipment_id=shipment_id)
    party = _party_for(session, principal, shipment.party_id)
    lock_store(session)
    request_hash = hashlib.sha256(json.dumps(["shipment", shipment_id, codes]).encode()).hexdigest()
    idempotency_key, replay = _claim_key(session, party.id, idempotency_key, request_hash)
    if replay is not None:
        return replay
    if shipment.status != ShipmentStatus.open:
        raise ShipmentError.keyed(_MESSAGES, "not_open", shipment=shipment_id, status=shipment.status)
    checked = _validate(session, codes, "shipping", party, company_prefix_length=company_prefix_length, store=store)
    present = {i.key for i in shipment_items(session=session, shipment_id=shipment_id)}
    for item in checked:
        if item.reason is None and item.scanned is not None and item.scanned.key in present:
            item.reason, item.message = "duplicate", "already in this shipment"
    _check_outbound(session, checked, party, shipment.destination_id, policy=policy or OutboundPolicy(), lang=lang,
                    order_ref=shipment.order_ref, order_gtins=_gtins_of(shipment))  # fmt: skip
    capture = Capture(origin="shipment-scan", party_id=party.id, idempotency_key=idempotency_key,
                      request_hash=request_hash)  # fmt: skip
    _flush_capture(session, capture)
    outcome = ScanOutcome(capture_id=capture.id)
    outcome.rejected = _reject(session, capture, party, "shipping", [c for c in checked if c.reason])
    for item in checked:
        if item.reason is None and item.scanned is not None:
            session.add(ShipmentItem(shipment_id=shipment_id, key=item.scanned.key, epc=item.scanned.epc_urn,
                                     raw=item.raw, warnings=outbound.dump(item.warnings)))  # fmt: skip
            outcome.accepted.append(_accepted(session, item, lang))
    capture.response = json.dumps(outcome.as_dict(), ensure_ascii=False)
    session.flush()
    return outcome


def _biz_transaction(ref: str, party: Party) -> str:
    """The order reference as a CBV business-transaction URI (``urn:epcglobal:cbv:bt:<GLN>:<ref>``) unless it is one."""
    if ":" in ref and not any(ch.isspace() for ch in ref):
        return ref
    return f"urn:epcglobal:cbv:bt:{party.gln}:{quote(ref, safe='')}"


def close_shipment(
    *, session: Session, principal: Principal, shipment_id: int, confirm: bool = False, lang: str = "en",
) -> Shipment:  # fmt: skip
    """Close a shipment: one shipping event with every scanned item, from the sender to the destination.

    A shipment with warnings (destination, items, quantity, a repeated order) closes only with ``confirm``; the
    confirmation is recorded: by which party and key, when, and the warnings confirmed.
    """
    shipment = get_shipment(session=session, principal=principal, shipment_id=shipment_id)
    if shipment.status != ShipmentStatus.open:
        raise ShipmentError.keyed(_MESSAGES, "already", shipment=shipment_id, status=shipment.status)
    view = describe_shipment(session=session, shipment=shipment)
    if not view.items:
        raise ShipmentError.keyed(_MESSAGES, "empty_shipment", shipment=shipment_id)
    warnings = view.to_confirm()
    if warnings and not confirm:
        raise ConfirmationRequired(
            f"shipment {shipment_id} has {len(warnings)} warning(s); confirm to close it: "
            + "; ".join(w.message(lang) for w in warnings),
            warnings=[w.as_dict(lang) for w in warnings],
        )
    party = session.get(Party, shipment.party_id)
    destination = session.get(Party, shipment.destination_id)
    assert party is not None
    assert destination is not None
    lock_store(session)
    scanned = [parse_scan(i.epc) for i in view.items]
    event = _event("shipping", party, scanned, destination=destination, when=datetime.now(UTC))
    if shipment.order_ref:
        event["bizTransactionList"] = [{"type": "po", "bizTransaction": _biz_transaction(shipment.order_ref, party)}]
    capture_document(session=session, document=_document(event), origin="scan", party_id=party.id)
    shipment.status = ShipmentStatus.closed
    shipment.closed_at = utcnow()
    shipment.event_id = event["eventID"]
    if warnings:
        shipment.confirmed_by, shipment.confirmed_key_id = principal.party_id, principal.api_key_id
        shipment.confirmed_at, shipment.confirmed_warnings = shipment.closed_at, outbound.dump(warnings)
    session.add(shipment)
    session.flush()
    return shipment


def list_rejected(*, session: Session, principal: Principal, limit: int = 100) -> list[RejectedScan]:
    """Rejected scans, newest first, of the caller's party (auditors see all)."""
    stmt = scope_to_party(select(RejectedScan), principal, RejectedScan.party_id)
    return list(session.exec(stmt.order_by(col(RejectedScan.id).desc()).limit(limit)).all())
