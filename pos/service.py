"""The store's till: sell a unit (to a member or not), give a member her free unit, undo a mistaken sale the same
day, receive goods and open cases, and the store's receipt printer.

A sale is recorded through the scanners' own door (``scanning.service.record_scans``), so every check applies
(signature, life cycle, ``not_holder``, member stores) and an ``Idempotency-Key`` replays the first answer. The till
adds a ``pos_sale`` row beside the event: the member, whether the unit was her free one, and its redemption.

- **Points and six-get-one** are never stored here: they are derived from the sales (``rebates.service``), so a
  retried, undone or late sale can neither lose nor double-count a unit.
- **The free unit** is a ``retail_selling`` of the unit without the member (it earns no points, and it is not a
  step towards the next free unit) with a ``redemption`` naming the unit; settlement pays no store fee on a unit
  redeemed at that store (``settlement.service``), so the free unit is never a sale for fees.
- **Undo** captures an ``errorDeclaration`` of the sale's event as the store (``ledger.entitlements``: only the
  capturer or the brand retracts, never in a locked period), on the sale's day only (the policy's time zone); a free
  unit's redemption goes with it. A sale whose undoing would take back a free unit already given is refused until
  the free unit is undone.

Services add and flush; the request commits. Messages are worded in ``lang`` (zh-CN or en).
"""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func
from sqlmodel import Session, col, select

from codes.keyfiles import KeyFileStore
from ledger.entitlements import refusals
from ledger.errors import NotEntitled
from ledger.keys import gtin_of, is_sscc_key, serial_of, sscc_of
from ledger.store import EPCIS_CONTEXT, lock_store, own_event
from pos.errors import (
    FreeUnitGiven,
    NoFreeUnit,
    NotYourStore,
    PrinterInvalid,
    SaleNotFound,
    TillInvalid,
    UndoTooLate,
    reject_message,
)
from rebates.errors import NoFreeItem
from rebates.policy import Policy
from rebates.service import member_summary, redeem_free_item
from scanning.epcis import capture_document
from scanning.errors import IdempotencyConflict
from scanning.service import ScanOutcome, ScanRequest, record_scans, unpack
from traceability.auth.service import Principal
from traceability.errors import Problem
from traceability.i18n import Catalogue, messages
from traceability.models import (
    Event,
    EventEpc,
    Member,
    Party,
    PartyKind,
    PosPrinter,
    PosSale,
    PosSaleKind,
    PrinterMode,
    Product,
    Redemption,
    Role,
    Sale,
)
from traceability.models.base import utcnow
from traceability.privacy import MEMBER_NAMESPACE

__all__ = [
    "Item",
    "SaleRecord",
    "SaleResult",
    "get_printer",
    "get_sale",
    "open_case",
    "receive",
    "sell",
    "set_printer",
    "till_store",
    "todays_sales",
    "undo",
]

_MESSAGES: Catalogue = messages("pos.errors")
_SCANNING: Catalogue = messages("scanning.service")  # the scan API's words for an Idempotency-Key reused
_WORDS = {
    "en": {"undo_not_entitled": "this sale may not be undone with this key; nothing was changed"},
    "zh-CN": {"undo_not_entitled": "此密钥不能撤销这笔销售；未做任何更改"},
}

TILL_ROLES = frozenset({Role.store, Role.admin})
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?"
_HOST = re.compile(rf"(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*")


def _aware(t: datetime) -> datetime:
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)


# --- the store ----------------------------------------------------------------------------------------------------


def till_store(*, session: Session, principal: Principal, store_id: str | None = None, lang: str = "en") -> Party:
    """The store whose till this is: a store's key its own (and no other); the brand's admin names any store."""
    if principal.role not in TILL_ROLES:
        raise NotYourStore.keyed(_MESSAGES, "not_your_store", own=principal.party_id)
    if principal.role is Role.store:
        if store_id is not None and store_id != principal.party_id:
            raise NotYourStore.keyed(_MESSAGES, "not_your_store", own=principal.party_id)
        store_id = principal.party_id
    if store_id is None:
        raise TillInvalid.keyed(_MESSAGES, "store_required")
    party = session.get(Party, store_id)
    if party is None or party.kind != PartyKind.store:
        raise TillInvalid.keyed(_MESSAGES, "not_a_store", party=store_id)
    return party


def _day_bounds(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    start = datetime(day.year, day.month, day.day, tzinfo=zone)
    return start.astimezone(UTC), (start + timedelta(days=1)).astimezone(UTC)


# --- what a sale shows --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Item:
    """One line of a sale: a unit (product, GTIN, serial) or a case scanned whole."""

    key: str
    gtin: str | None
    name: str | None
    serial: str | None
    case: bool

    @property
    def serial_tail(self) -> str:
        """The last characters of the serial (or SSCC): enough for the clerk to match the can, not to copy it."""
        text = self.serial or sscc_of(self.key) or self.key
        return text[-6:]

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "gtin": self.gtin, "name": self.name, "serial_tail": self.serial_tail,
                "case": self.case}  # fmt: skip


def _member_view(
    session: Session, store_id: str, member_hash: str | None, policy: Policy, event_id: str | None, kind: str
) -> dict[str, Any] | None:
    """The member as the till shows her: id, whether she is this store's, points earned on this sale, balance and
    six-get-one progress ("4 / 6"). Never the phone, nor its hash."""
    if member_hash is None:
        return None
    member = session.exec(select(Member).where(Member.phone_hash == member_hash)).first()
    s = member_summary(session=session, member_hash=member_hash, policy=policy, limit=0)
    earned = 0
    if event_id is not None and kind == PosSaleKind.sale:
        counted = session.exec(
            select(func.count()).select_from(Sale).where(Sale.event_id == event_id, Sale.member_hash == member_hash,
                                                         col(Sale.counted).is_(True))
        ).one()  # fmt: skip
        earned = int(counted) * policy.points.per_unit
    of = policy.points.free_after
    count = s.qualifying_units % of
    if count == 0 and s.free_available > 0:
        count = of  # six bought and the free one still waiting: "6 / 6", not "0 / 6"
    return {
        "id": member.id if member is not None else None,
        "home_store": member.home_store_id if member is not None else None,
        "own": member is not None and member.home_store_id == store_id,
        "points_earned": earned,
        "points": s.points,
        "free_available": s.free_available,
        "free_redeemed": s.free_redeemed,
        "next_free_after": s.next_free_after,
        "progress": {"count": count, "of": of},
    }


def _items(session: Session, event: Event) -> list[Item]:
    keys = list(session.exec(select(EventEpc.key).where(EventEpc.event_pk == event.id, EventEpc.role == "epc")
                             .order_by(col(EventEpc.id))))  # fmt: skip
    gtins = {g for k in keys if (g := gtin_of(k))}
    names = dict(session.exec(select(Product.gtin, Product.name).where(col(Product.gtin).in_(sorted(gtins)))).all())
    return [
        Item(
            key=k,
            gtin=gtin_of(k),
            name=names.get(gtin_of(k) or ""),
            serial=serial_of(k),
            case=is_sscc_key(k) or (gtin_of(k) or "") not in names,
        )  # fmt: skip
        for k in keys
    ]


@dataclass
class SaleRecord:
    """A sale as the till, its receipt and its undo show it."""

    sale_id: str
    store_id: str
    store_name: str
    member_store_no: str | None
    kind: str
    at: datetime
    """The sale's time in the policy's time zone."""
    items: list[Item]
    member: dict[str, Any] | None
    undone: bool
    undoable: bool
    """Undone it may be still: the same day, not undone yet."""

    def as_dict(self) -> dict[str, Any]:
        return {"sale_id": self.sale_id, "store": self.store_id, "store_name": self.store_name, "kind": self.kind,
                "at": self.at.isoformat(), "units": len(self.items), "items": [i.as_dict() for i in self.items],
                "member": self.member, "undone": self.undone, "undoable": self.undoable}  # fmt: skip


@dataclass
class SaleResult:
    """One sale rung up: what the scanners accepted and rejected, the sale's id, and the member's standing after."""

    sale_id: str | None
    kind: str
    accepted: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    member: dict[str, Any] | None = None
    replayed: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"sale_id": self.sale_id, "kind": self.kind, "accepted": self.accepted, "rejected": self.rejected,
                "member": self.member, "replayed": self.replayed}  # fmt: skip


def _record(session: Session, pos: PosSale, policy: Policy, now: datetime | None = None) -> SaleRecord:
    event = session.exec(select(Event).where(Event.event_id == pos.event_id, col(Event.declaration).is_(False))).one()
    store = session.get(Party, pos.store_id)
    zone = ZoneInfo(policy.timezone)
    at = _aware(event.event_time).astimezone(zone)
    today = _aware(now or utcnow()).astimezone(zone).date()
    return SaleRecord(
        sale_id=pos.event_id, store_id=pos.store_id, store_name=store.name if store else pos.store_id,
        member_store_no=store.member_store_no if store else None, kind=pos.kind, at=at, items=_items(session, event),
        member=_member_view(session, pos.store_id, pos.member_hash, policy, pos.event_id, pos.kind),
        undone=pos.undone_at is not None, undoable=pos.undone_at is None and at.date() == today,
    )  # fmt: skip


def _pos_sale(session: Session, event_id: str, store: Party | None) -> PosSale:
    pos = session.exec(select(PosSale).where(PosSale.event_id == event_id)).first()
    if pos is None or (store is not None and pos.store_id != store.id):
        raise SaleNotFound.keyed(_MESSAGES, "sale_not_found", sale=event_id[:80], store=store.id if store else "?")
    return pos


# --- sell ---------------------------------------------------------------------------------------------------------


def sell(
    *,
    session: Session,
    principal: Principal,
    codes: list[str],
    policy: Policy,
    member_hash: str | None = None,
    redeem: bool = False,
    store_id: str | None = None,
    idempotency_key: str | None = None,
    company_prefix_length: int = 7,
    key_files: KeyFileStore | None = None,
    lang: str = "en",
    event_time: datetime | None = None,
) -> SaleResult:
    """Ring up a sale (``redeem``: the member's free unit), one round trip: the scan, the member's standing after it."""
    store = till_store(session=session, principal=principal, store_id=store_id, lang=lang)
    if redeem and member_hash is None:
        raise TillInvalid.keyed(_MESSAGES, "member_required")
    if redeem and len(codes) != 1:
        raise TillInvalid.keyed(_MESSAGES, "one_free_unit")
    kind = PosSaleKind.free if redeem else PosSaleKind.sale
    lock_store(session)
    # The free unit carries no member: it earns no points and is no step towards the next free one.
    request = ScanRequest(biz_step="retail_selling", codes=codes, party_id=store.id, event_time=event_time,
                          member_hash=None if redeem else member_hash)  # fmt: skip
    outcome: ScanOutcome = record_scans(
        session=session, principal=principal, request=request, idempotency_key=idempotency_key,
        company_prefix_length=company_prefix_length, store=key_files, policy=policy.outbound, lang=lang,
    )  # fmt: skip
    rejected = [{**r, "message": reject_message(str(r.get("reason")), str(r.get("message", "")), lang)}
                for r in outcome.rejected]  # fmt: skip
    if outcome.event_id is None:
        return SaleResult(sale_id=None, kind=kind, accepted=outcome.accepted, rejected=rejected,
                          member=_member_view(session, store.id, member_hash, policy, None, kind),
                          replayed=outcome.replayed)  # fmt: skip
    if outcome.replayed:
        pos = _pos_sale(session, outcome.event_id, store)
        if pos.kind != kind or pos.member_hash != member_hash:
            raise IdempotencyConflict.keyed(_SCANNING, "key_reused")
    else:
        pos = PosSale(event_id=outcome.event_id, store_id=store.id, member_hash=member_hash, kind=kind,
                      units=sum(int(a.get("units", 1)) for a in outcome.accepted))  # fmt: skip
        session.add(pos)
        if redeem:
            _give_free_unit(session, pos, outcome, store, policy, principal, company_prefix_length)
        session.flush()
    return SaleResult(sale_id=pos.event_id, kind=kind, accepted=outcome.accepted, rejected=rejected,
                      member=_member_view(session, store.id, member_hash, policy, pos.event_id, kind),
                      replayed=outcome.replayed)  # fmt: skip


def _give_free_unit(
    session: Session, pos: PosSale, outcome: ScanOutcome, store: Party, policy: Policy, principal: Principal,
    company_prefix_length: int,
) -> None:  # fmt: skip
    """Record the redemption of the unit just scanned out; none due (or a case) refuses the whole sale."""
    assert pos.member_hash is not None
    if pos.units != 1 or len(outcome.accepted) != 1:
        raise TillInvalid.keyed(_MESSAGES, "one_free_unit")
    try:
        redemption = redeem_free_item(
            session=session, member_hash=pos.member_hash, store_id=store.id, policy=policy, principal=principal,
            unit=str(outcome.accepted[0]["epc"]), note=f"pos {pos.event_id}"[:500],
            company_prefix_length=company_prefix_length,
        )  # fmt: skip
    except NoFreeItem:
        s = member_summary(session=session, member_hash=pos.member_hash, policy=policy, limit=0)
        of = policy.points.free_after
        raise NoFreeUnit.keyed(_MESSAGES, "no_free_unit", count=s.qualifying_units % of, of=of) from None
    pos.redemption_id = redemption.id


# --- undo ---------------------------------------------------------------------------------------------------------


def _document(event: dict[str, Any]) -> dict[str, Any]:
    return {"@context": [EPCIS_CONTEXT, {"trc": MEMBER_NAMESPACE}], "type": "EPCISDocument", "schemaVersion": "2.0",
            "creationDate": utcnow().isoformat(timespec="milliseconds"),
            "epcisBody": {"eventList": [event]}}  # fmt: skip


def _qualifying_in(session: Session, event_id: str, member_hash: str, policy: Policy) -> int:
    """Units of this sale that count towards the member's next free unit (her counted member packs, not free)."""
    free = select(Redemption.unit_key).where(Redemption.member_hash == member_hash,
                                             col(Redemption.unit_key).is_not(None))  # fmt: skip
    stmt = select(func.count()).select_from(Sale).where(
        Sale.event_id == event_id, Sale.member_hash == member_hash, col(Sale.counted).is_(True),
        col(Sale.unit_key).not_in(free),
    )  # fmt: skip
    if policy.points.member_pack_gtins:
        stmt = stmt.where(col(Sale.gtin).in_(policy.points.member_pack_gtins))
    return int(session.exec(stmt).one())


def undo(
    *,
    session: Session,
    principal: Principal,
    sale_id: str,
    policy: Policy,
    store_id: str | None = None,
    lang: str = "en",
    now: datetime | None = None,
) -> SaleRecord:
    """Undo a sale rung up today at this store: an ``errorDeclaration`` of its event (see the module); idempotent."""
    store = till_store(session=session, principal=principal, store_id=store_id, lang=lang)
    lock_store(session)
    pos = _pos_sale(session, sale_id, store)
    now = _aware(now or utcnow())
    if pos.undone_at is not None:
        return _record(session, pos, policy, now)
    event = session.exec(select(Event).where(Event.event_id == sale_id, col(Event.declaration).is_(False))).one()
    zone = ZoneInfo(policy.timezone)
    day = _aware(event.event_time).astimezone(zone).date()
    if day != now.astimezone(zone).date():
        raise UndoTooLate.keyed(_MESSAGES, "undo_too_late", day=day.isoformat())
    if pos.kind == PosSaleKind.sale and pos.member_hash is not None:
        s = member_summary(session=session, member_hash=pos.member_hash, policy=policy, limit=0)
        left = s.qualifying_units - _qualifying_in(session, sale_id, pos.member_hash, policy)
        if s.free_redeemed > left // policy.points.free_after:
            raise FreeUnitGiven.keyed(_MESSAGES, "free_unit_given")
    original = json.loads(event.document)
    original.pop("@context", None)
    original["errorDeclaration"] = {"declarationTime": now.isoformat(timespec="milliseconds"),
                                    "reason": "incorrect_data"}  # fmt: skip
    # The ledger's rules of who may retract what (the capturer or the brand, never in a locked period), checked here
    # as the capture would; the capture itself then runs as the scanners' own (principal None), as the sale did: a
    # retraction names the unit by its EPC, whose signature the sale's scan verified already.
    refused = refusals(session, principal, [own_event(original)])
    if refused:
        problems = [Problem("sale", r.message) for r in refused]
        reasons = [{"eventID": r.event_id, "reason": r.reason} for r in refused]
        raise NotEntitled.keyed(_WORDS, "undo_not_entitled", detail={"problems": problems, "reasons": reasons})
    capture_document(session=session, document=_document(original), origin="scan", party_id=store.id)
    if pos.redemption_id is not None:
        redemption = session.get(Redemption, pos.redemption_id)
        if redemption is not None:
            session.delete(redemption)
    pos.undone_at = now
    pos.undone_by = f"{principal.role.value}:{principal.party_id}"[:100]
    session.add(pos)
    session.flush()
    return _record(session, pos, policy, now)


# --- read ---------------------------------------------------------------------------------------------------------


def get_sale(
    *, session: Session, principal: Principal, sale_id: str, policy: Policy, store_id: str | None = None,
    lang: str = "en", now: datetime | None = None,
) -> SaleRecord:  # fmt: skip
    """One sale of this store's till (a store's key: its own only), for its receipt."""
    store = till_store(session=session, principal=principal, store_id=store_id, lang=lang)
    return _record(session, _pos_sale(session, sale_id, store), policy, now)


def todays_sales(
    *, session: Session, principal: Principal, policy: Policy, store_id: str | None = None, lang: str = "en",
    now: datetime | None = None, limit: int = 100,
) -> list[SaleRecord]:  # fmt: skip
    """The sales rung up at this store's till today (the policy's time zone), newest first, undone ones marked."""
    store = till_store(session=session, principal=principal, store_id=store_id, lang=lang)
    now = _aware(now or utcnow())
    start, end = _day_bounds(now.astimezone(ZoneInfo(policy.timezone)).date(), ZoneInfo(policy.timezone))
    rows = session.exec(
        select(PosSale).where(PosSale.store_id == store.id, col(PosSale.created_at) >= start,
                              col(PosSale.created_at) < end)
        .order_by(col(PosSale.created_at).desc(), col(PosSale.id).desc()).limit(limit)
    ).all()  # fmt: skip
    return [_record(session, r, policy, now) for r in rows]


# --- receiving and opening cases ----------------------------------------------------------------------------------


def receive(
    *, session: Session, principal: Principal, codes: list[str], policy: Policy, store_id: str | None = None,
    idempotency_key: str | None = None, company_prefix_length: int = 7, key_files: KeyFileStore | None = None,
    lang: str = "en",
) -> ScanOutcome:  # fmt: skip
    """Receive inbound cases or units at the store: warned at once when the sending distributor may not supply it."""
    store = till_store(session=session, principal=principal, store_id=store_id, lang=lang)
    outcome = record_scans(
        session=session, principal=principal,
        request=ScanRequest(biz_step="receiving", codes=codes, party_id=store.id),
        idempotency_key=idempotency_key, company_prefix_length=company_prefix_length, store=key_files,
        policy=policy.outbound, lang=lang,
    )  # fmt: skip
    outcome.rejected = [{**r, "message": reject_message(str(r.get("reason")), str(r.get("message", "")), lang)}
                        for r in outcome.rejected]  # fmt: skip
    return outcome


def open_case(
    *, session: Session, principal: Principal, code: str, store_id: str | None = None, company_prefix_length: int = 7,
    lang: str = "en",
) -> ScanOutcome:  # fmt: skip
    """Open a case at the store (``unpacking``) so that its units are sold one by one."""
    store = till_store(session=session, principal=principal, store_id=store_id, lang=lang)
    acting = principal if principal.party_id == store.id else Principal(role=principal.role, party_id=store.id,
                                                                        api_key_id=principal.api_key_id)  # fmt: skip
    return unpack(session=session, principal=acting, parent=code, company_prefix_length=company_prefix_length,
                  lang=lang)  # fmt: skip


# --- the receipt printer ------------------------------------------------------------------------------------------


def get_printer(*, session: Session, store: Party) -> PosPrinter:
    """The store's receipt printer; a store that chose none prints the 58 mm page from the browser."""
    return session.get(PosPrinter, store.id) or PosPrinter(store_id=store.id, mode=PrinterMode.browser)


def set_printer(
    *, session: Session, principal: Principal, mode: PrinterMode, host: str | None = None, port: int | None = None,
    store_id: str | None = None, lang: str = "en",
) -> PosPrinter:  # fmt: skip
    """Choose the store's receipt printer: the browser's page, or ESC/POS (a network printer's host and port)."""
    store = till_store(session=session, principal=principal, store_id=store_id, lang=lang)
    host = (host or "").strip() or None
    if host is not None and not (_HOST.fullmatch(host) or _is_ip(host)):
        raise PrinterInvalid.keyed(_MESSAGES, "printer_host_invalid")
    if port is not None and not 1 <= port <= 65535:
        raise PrinterInvalid.keyed(_MESSAGES, "printer_host_invalid")
    row = session.get(PosPrinter, store.id) or PosPrinter(store_id=store.id)
    row.mode = PrinterMode(mode).value
    row.host = host if mode is PrinterMode.escpos else None
    row.port = (port or 9100) if mode is PrinterMode.escpos and host else None
    row.updated_at = utcnow()
    session.add(row)
    session.flush()
    return row


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
