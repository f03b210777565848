"""What the pages show, assembled from the domain services: no page runs a query of its own.

The consumer check lives here too. A printed QR is a GS1 Digital Link URI, so the app answers
``GET /01/<gtin>/21/<serial>?…`` itself: it verifies the signature, looks the code up, and says in plain words
whether the unit is genuine. When the person shares the browser's location, the look-up becomes an ``inspecting``
observation that the diversion rules read like any other sighting.

Whose observation is it? An anonymous consumer has no party, and the rules reason about parties (territories,
authorised channels, coordinates). We attribute it to the **nearest member store within** :data:`INSPECTION_RADIUS_KM`
of the shared position: that is where a consumer who scans a pack has, in all likelihood, bought or is buying it, and
a unit of a Guangzhou distributor scanned next to a Nanjing store is exactly the leak the rules exist to catch. With
no store that close nothing is recorded: a sighting pinned to a far-away store would be evidence against the wrong
place. The event is recorded through the scan service, as the store's scanner would, so it is validated the same way
and a forged code becomes a rejected scan (counterfeit evidence) rather than an event.

The human-readable line printed under a symbol (``(01) … (21) …``) carries no signature, so what a person types from
it can only be looked up: issued or not, voided, sold. The page says so, and never calls a typed number forged; nor
does a typed look-up count as a check (anyone can type a number). A signed-in inspector (:data:`VOUCHING_ROLES`)
sees the unit's channel beside the verdict (:func:`channel_view`); nobody else does, since which distributor holds
which goods, and where it may sell them, is the brand's business, not the public's.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import func
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from codes.errors import MalformedCode
from codes.keyfiles import KeyFileStore
from codes.service import verify_text
from flow_graph import details
from ledger.history import CONSUMER_ORIGIN, unit_events
from ledger.keys import code_key, sgtin_key
from scanning import service as scans
from scanning.outbound import OutboundWarning
from scanning.receiving import shipment_search
from scanning.service import ScanOutcome, ScanRequest
from traceability.auth.service import Principal, scope_to_party
from traceability.gs1 import is_valid_gtin14
from traceability.models import (
    Alert,
    CheckCount,
    Code,
    CodeStatus,
    Party,
    PartyKind,
    Product,
    Role,
    Shipment,
    ShipmentItem,
    StoreSupplier,
    Territory,
)
from traceability.models.base import utcnow

__all__ = [
    "INSPECTION_RADIUS_KM",
    "VOUCHING_ROLES",
    "Channel",
    "alert_page",
    "author_words",
    "explain",
    "note_words",
    "step_word",
    "word_detail",
    "channel_view",
    "graph_around",
    "CheckTally",
    "CodeVerdict",
    "InspectionResult",
    "ShipmentFilter",
    "ShipmentPage",
    "ShipmentRow",
    "check_code",
    "count_shipments",
    "count_check",
    "destinations_for",
    "list_shipments",
    "nearest_store",
    "party_ids",
    "party_names",
    "record_check",
    "record_inspection",
    "shipment_page",
    "territory_names",
]

INSPECTION_RADIUS_KM = 50.0
"""A consumer's sighting is pinned to the nearest member store no farther than this; beyond it, nothing is recorded."""

Verdict = Literal["genuine", "sold", "voided", "not_released", "not_issued", "forged", "revoked", "malformed",
                  "typed_issued", "typed_not_issued", "typed_mismatch"]  # fmt: skip
"""The ``typed_*`` verdicts answer a human-readable line typed in: a look-up, with no signature to check."""


@dataclass(frozen=True, slots=True)
class CheckTally:
    """How often a code has been checked by the public, and when first and last (in the brand's time zone)."""

    checks: int
    first_checked_at: datetime
    last_checked_at: datetime

    @property
    def offset(self) -> str:
        """The time zone's UTC offset as printed beside the times (``+08:00``)."""
        delta = self.first_checked_at.utcoffset()
        minutes = int(delta.total_seconds() // 60) if delta is not None else 0
        sign = "-" if minutes < 0 else "+"
        return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


@dataclass(frozen=True, slots=True)
class CodeVerdict:
    """What a consumer or inspector needs to hear about one scanned code, and the facts behind it."""

    verdict: Verdict
    reason: str | None = None
    message: str = ""
    gtin: str | None = None
    serial: str | None = None
    lot: str | None = None
    expiry: str | None = None
    key_id: str | None = None
    product: str | None = None
    signature_ok: bool = False
    issued: bool = False
    sold_at: datetime | None = None
    sold_in: str | None = None
    """The city (territory name) of the store that sold it, not the store: enough for a buyer to recognise."""
    tally: CheckTally | None = None
    """How often the code has been checked, this check included, when it was counted (``check_code(count=True)``)."""
    typed: bool = False
    """Looked up from the human-readable line (GTIN and serial typed in): the signature was not checked."""

    @property
    def good(self) -> bool:
        return self.verdict == "genuine"

    @property
    def tone(self) -> Literal["good", "warn", "bad"]:
        """The card's colour: green only for a verified genuine code; amber where a person should look closer."""
        if self.good:
            return "good"
        return "warn" if self.verdict in ("sold", "not_released", "typed_issued") else "bad"

    @property
    def checks(self) -> list[tuple[str, bool | None]]:
        """The four questions a buyer asks, each answered yes, no, or unknown (None).

        Once one answer is no, the others are not shown as yes: a forged code names a real serial as easily as a
        fake one, and a copied genuine code has a valid signature, so a tick beside a cross would reassure about
        exactly what is in doubt. A typed number has no signature to check (unknown).
        """
        if self.verdict == "malformed":
            return [("signature", None), ("issued", None), ("not_voided", None), ("not_sold", None)]
        if not self.signature_ok and not self.typed:
            return [("signature", False), ("issued", None), ("not_voided", None), ("not_sold", None)]
        known = self.issued
        answers: list[tuple[str, bool | None]] = [
            ("signature", None if self.typed else self.signature_ok),
            ("issued", self.issued and self.verdict != "typed_mismatch"),
            ("not_voided", (self.verdict != "voided") if known else None),
            ("not_sold", (self.verdict != "sold") if known else None),
        ]
        if any(ok is False for _, ok in answers):
            return [(name, None if ok else ok) for name, ok in answers]
        return answers


def check_code(
    *, session: Session, text: str, store: KeyFileStore | None = None, count: bool = False, zone: str = "UTC"
) -> CodeVerdict:
    """Verify a printed code and judge it: signature, issued by us, not voided, not already sold.

    ``count`` (a consumer's check on a public door) adds one to the code's tally and returns it with the verdict,
    its times in the time zone ``zone``; only our own codes with their valid signature count, so neither a typo nor
    a forgery adds a row, and the tally moves only for whoever holds the printed code.
    """
    verdict = _judge(session, text, store)
    if count and verdict.signature_ok and verdict.issued and verdict.gtin and verdict.serial is not None:
        tally = record_check(session=session, key=sgtin_key(verdict.gtin, verdict.serial), zone=zone)
        verdict = replace(verdict, tally=tally)
    return verdict


def count_check(
    *, session: Session, text: str, store: KeyFileStore | None = None, zone: str = "UTC"
) -> CheckTally | None:
    """Count a consumer's check that renders no page (``/check/inspect``), by the rule of :func:`check_code`."""
    return check_code(session=session, text=text, store=store, count=True, zone=zone).tally


def record_check(*, session: Session, key: str, zone: str = "UTC", at: datetime | None = None) -> CheckTally:
    """Add one check to the code ``key``'s tally and return it: one upsert, so racing checks each count once."""
    now = at or utcnow()
    table = CheckCount.__table__  # type: ignore[attr-defined]
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    row = insert(table).values(key=key, checks=1, first_checked_at=now, last_checked_at=now)
    upsert = row.on_conflict_do_update(
        index_elements=[table.c.key],
        set_={"checks": table.c.checks + 1, "last_checked_at": row.excluded.last_checked_at},
    ).returning(table.c.checks, table.c.first_checked_at, table.c.last_checked_at)
    checks, first, last = session.execute(upsert).one()
    tz = ZoneInfo(zone)
    return CheckTally(checks=checks, first_checked_at=first.astimezone(tz), last_checked_at=last.astimezone(tz))


_TYPED_AI = re.compile(r"\((\d{2})\)([^()]*)")
_TYPED_AIS = frozenset({"01", "21", "10", "17"})


def typed_identity(text: str) -> tuple[str, str, str | None, str | None] | None:
    """GTIN, serial, lot and expiry from the human-readable line a person typed (``(01) … (21) … [(10) …] [(17) …]``,
    spaces and line breaks anywhere), or None when the text is not that line.

    The GS1 AI 21 character set has no space, so every blank is the typist's and is dropped. A text with a key id or
    signature (AI 91-93) is a whole signed code, for :func:`codes.service.verify_text`, not a typed line.
    """
    body = "".join(text.split())
    if not body.startswith("("):
        return None
    fields: dict[str, str] = {}
    position = 0
    for match in _TYPED_AI.finditer(body):
        if match.start() != position or match.group(1) not in _TYPED_AIS or match.group(1) in fields:
            return None
        fields[match.group(1)] = match.group(2)
        position = match.end()
    if position != len(body) or "01" not in fields or not fields.get("21"):
        return None
    gtin, serial = fields["01"], fields["21"]
    if not is_valid_gtin14(gtin) or len(serial) > 20:
        return None
    expiry = fields.get("17")
    if expiry is not None and not (len(expiry) == 6 and expiry.isdigit()):
        return None
    return gtin, serial, fields.get("10") or None, expiry


def _typed(session: Session, text: str) -> CodeVerdict | None:
    """The verdict on a typed human-readable line: looked up by GTIN and serial, its lot and expiry compared."""
    found = typed_identity(text)
    if found is None:
        return None
    gtin, serial, lot, expiry = found
    product = session.get(Product, gtin)
    record = session.exec(select(Code).where(Code.gtin == gtin, Code.serial == serial)).first()
    facts: dict[str, Any] = {"gtin": gtin, "serial": serial, "lot": lot, "expiry": expiry, "typed": True,
                             "product": product.name if product else None, "reason": "typed_lookup"}  # fmt: skip
    if record is None:
        return CodeVerdict(verdict="typed_not_issued", **facts)
    facts.update(issued=True, lot=record.lot, expiry=record.expiry)
    if (lot is not None and lot != record.lot) or (expiry is not None and expiry != record.expiry):
        return CodeVerdict(verdict="typed_mismatch", **facts)
    status = CodeStatus(record.status)
    if status is CodeStatus.voided:
        return CodeVerdict(verdict="voided", **facts)
    if status in (CodeStatus.generated, CodeStatus.printed):
        return CodeVerdict(verdict="not_released", **facts)
    if status is CodeStatus.sold:
        sold_at, sold_in = _sale(session, record)
        return CodeVerdict(verdict="sold", sold_at=sold_at, sold_in=sold_in, **facts)
    return CodeVerdict(verdict="typed_issued", **facts)


def _judge(session: Session, text: str, store: KeyFileStore | None) -> CodeVerdict:
    try:
        check = verify_text(session=session, text=text, store=store)
    except MalformedCode as exc:
        return _typed(session, text) or CodeVerdict(verdict="malformed", reason="malformed", message=exc.message)
    ident = check.code.identity
    product = session.get(Product, ident.gtin)
    facts = {
        "gtin": ident.gtin, "serial": ident.serial, "lot": ident.lot, "expiry": ident.expiry,
        "key_id": check.code.key_id, "product": product.name if product else None,
        "signature_ok": check.verification.ok, "issued": check.issued,
        "reason": check.verification.reason, "message": check.verification.message,
    }  # fmt: skip
    if not check.verification.ok:
        verdict: Verdict = "revoked" if check.verification.reason == "key_revoked" else "forged"
        return CodeVerdict(verdict=verdict, **facts)  # type: ignore[arg-type]
    record = check.record
    if record is None:
        return CodeVerdict(verdict="not_issued", **facts)  # type: ignore[arg-type]
    status = CodeStatus(record.status)
    if status is CodeStatus.voided:
        return CodeVerdict(verdict="voided", **facts)  # type: ignore[arg-type]
    if status in (CodeStatus.generated, CodeStatus.printed):
        return CodeVerdict(verdict="not_released", **facts)  # type: ignore[arg-type]
    if status is CodeStatus.sold:
        sold_at, sold_in = _sale(session, record)
        return CodeVerdict(verdict="sold", sold_at=sold_at, sold_in=sold_in, **facts)  # type: ignore[arg-type]
    return CodeVerdict(verdict="genuine", **facts)  # type: ignore[arg-type]


def _sale(session: Session, record: Code) -> tuple[datetime | None, str | None]:
    key = code_key(record.gtin, record.serial, record.sscc)
    sales = [e for e in unit_events(session, key) if e.biz_step == "retail_selling"]
    if not sales:
        return None, None
    first = sales[0]
    place = session.get(Party, first.location) if first.location else None
    territory = session.get(Territory, place.territory_id) if place else None
    return first.time, territory.name if territory else None


def _distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine) on a 6371 km sphere."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0 * math.asin(min(1.0, math.sqrt(a)))


def nearest_store(
    *, session: Session, lat: float, lon: float, max_km: float = INSPECTION_RADIUS_KM
) -> tuple[Party, float] | None:
    """The member store nearest to a position, with its distance, if one is within ``max_km``."""
    stores = session.exec(
        select(Party).where(Party.kind == PartyKind.store, col(Party.lat).is_not(None), col(Party.lon).is_not(None))
    ).all()
    best: tuple[Party, float] | None = None
    for store in stores:
        assert store.lat is not None
        assert store.lon is not None
        d = _distance_km(lat, lon, store.lat, store.lon)
        if d <= max_km and (best is None or d < best[1]):
            best = (store, d)
    return best


@dataclass(frozen=True, slots=True)
class InspectionResult:
    recorded: bool
    reason: Literal["recorded", "rejected", "no_store_nearby"]
    store_name: str | None = None
    distance_km: float | None = None
    outcome: ScanOutcome | None = None


VOUCHING_ROLES = frozenset({Role.auditor, Role.admin})
"""Signed-in roles whose check is a verified sighting: the brand's inspectors, who answer for where they stood."""


@dataclass(frozen=True, slots=True)
class Channel:
    """Where a unit stands in the brand's channel, as an inspector reads it on the spot: names, not codes."""

    status: str | None
    holder: str | None
    distributor: str | None
    """The responsible distributor's name (the last one the brand shipped the unit, or its case, to)."""
    territories: list[str]
    """The territories that distributor is authorised for, by name."""
    place: str | None
    """Where the unit was last seen (name), and that place's territory (name)."""
    place_territory: str | None
    authorised: bool | None
    """Whether the last place lies in the distributor's territories; None when there is no distributor or the place
    is the brand's own (a warehouse, the plant) or the distributor's own."""
    supplied: bool | None
    """For a store: whether the distributor is one of its suppliers (``unauthorized_channel`` when not)."""
    member: bool | None
    """For a store: whether it is a member store (only member stores may sell the brand's goods)."""
    alerts: list[tuple[str, str]] = field(default_factory=list)
    """The unit's alerts that still count (kind, status)."""


_LIVE_ALERTS = ("unverified", "open", "investigating", "confirmed")


def channel_view(*, session: Session, principal: Principal | None, verdict: CodeVerdict) -> Channel | None:
    """The unit's channel for a signed-in inspector (:data:`VOUCHING_ROLES`); None for anyone else, and for a code
    the brand never issued. The whole trail crosses every party, so only the brand's inspectors may read it."""
    if principal is None or principal.role not in VOUCHING_ROLES:
        return None
    if not verdict.issued or verdict.gtin is None or verdict.serial is None:
        return None
    from flow_graph.errors import UnitNotFound
    from flow_graph.graph import unit_trail
    from flow_graph.history import load_masterdata

    key = sgtin_key(verdict.gtin, verdict.serial)
    record = session.exec(select(Code).where(Code.gtin == verdict.gtin, Code.serial == verdict.serial)).first()
    try:
        trail = unit_trail(session=session, epc=key)
    except UnitNotFound:
        trail = None
    steps = [step for step in (trail.steps if trail else []) if not step.retracted]
    distributor = next((st.responsible_distributor for st in reversed(steps) if st.responsible_distributor), None)
    place = next((st.location for st in reversed(steps) if st.location), None)
    holder = record.holder_id if record else None
    md = load_masterdata(session, {p for p in (distributor, place, holder) if p})
    authorised = supplied = member = None
    if distributor and place:
        own = md.brand_owned(place) or md.distributor_of(place) == distributor or not md.is_market(place)
        authorised = None if own else md.authorised_at(distributor, place)
        if md.kind(place) == "store":
            supplied = md.supplies(distributor, place)
    if place and md.kind(place) == "store":
        member = md.parties[place].member
    allowed = sorted(md.authorised.get(distributor, frozenset())) if distributor else []
    place_territory = md.territory(place)
    territory_ids = {*allowed, *([place_territory] if place_territory else [])}
    territory_names = dict(session.exec(select(Territory.id, Territory.name).where(
        col(Territory.id).in_(sorted(territory_ids))
    )).all()) if territory_ids else {}  # fmt: skip
    names = party_names(session=session, ids={p for p in (distributor, place, holder) if p})
    alerts: list[Alert] = trail.alerts if trail else []
    return Channel(
        status=str(record.status) if record else None,
        holder=names.get(holder, holder) if holder else None,
        distributor=names.get(distributor, distributor) if distributor else None,
        territories=[territory_names.get(t, t) for t in allowed],
        place=names.get(place, place) if place else None,
        place_territory=territory_names.get(place_territory, place_territory) if place_territory else None,
        authorised=authorised, supplied=supplied, member=member,
        alerts=[(str(a.kind), str(a.status)) for a in alerts if str(a.status) in _LIVE_ALERTS],
    )  # fmt: skip


def record_inspection(
    *, session: Session, text: str, lat: float, lon: float, store: KeyFileStore | None = None,
    company_prefix_length: int = 7, max_km: float = INSPECTION_RADIUS_KM, inspector: Principal | None = None,
) -> InspectionResult:  # fmt: skip
    """Record a check as an ``inspecting`` scan at the nearest member store (see the module notes).

    Anyone can send a position, so an anonymous check is an unverified sighting (origin ``consumer``): an alert
    resting on it alone waits for an auditor and costs no one anything. A signed-in inspector's (``inspector``
    of a :data:`VOUCHING_ROLES` role) counts at once.
    """
    found = nearest_store(session=session, lat=lat, lon=lon, max_km=max_km)
    if found is None:
        return InspectionResult(recorded=False, reason="no_store_nearby")
    place, distance = found
    vouched = inspector is not None and inspector.role in VOUCHING_ROLES
    # The system records on the checker's behalf, as that store's scanner would; the key is not the store's.
    principal = Principal(role=Role.store, party_id=place.id)
    outcome = scans.record_scans(
        session=session, principal=principal, request=ScanRequest(biz_step="inspecting", codes=[text]),
        company_prefix_length=company_prefix_length, store=store,
        origin="inspection" if vouched else CONSUMER_ORIGIN,
    )  # fmt: skip
    ok = bool(outcome.accepted)
    return InspectionResult(recorded=ok, reason="recorded" if ok else "rejected", store_name=place.name,
                            distance_km=round(distance, 1), outcome=outcome)  # fmt: skip


# --- shipments -------------------------------------------------------------------------------------------------


def party_ids(*, session: Session, kind: PartyKind) -> list[str]:
    """Ids of every party of a kind, sorted (for filters and pickers on full-view pages)."""
    return list(session.exec(select(Party.id).where(Party.kind == kind).order_by(col(Party.id))).all())


def territory_names(*, session: Session, ids: set[str] | None = None) -> dict[str, str]:
    """Territory names by id (``510100`` → 成都市): the lists show names, never codes; ``None``: every territory."""
    stmt = select(Territory.id, Territory.name)
    if ids is not None:
        if not ids:
            return {}
        stmt = stmt.where(col(Territory.id).in_(sorted(ids)))
    return dict(session.exec(stmt.order_by(col(Territory.id))).all())


def party_names(*, session: Session, ids: set[str]) -> dict[str, str]:
    """Display names of parties by id (names are not secret inside the brand's network)."""
    if not ids:
        return {}
    rows = session.exec(select(Party.id, Party.name).where(col(Party.id).in_(sorted(ids)))).all()
    return dict(rows)


@dataclass(frozen=True, slots=True)
class ShipmentRow:
    id: int
    destination_id: str
    destination_name: str
    status: str
    opened_at: datetime
    closed_at: datetime | None
    items: int


@dataclass(frozen=True, slots=True)
class ShipmentFilter:
    """What the shipments list filters on: a status, the opening time's bounds (UTC), a search (a shipment number,
    or text within the destination's id or name or the order reference)."""

    status: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    search: str | None = None


def _shipment_query(stmt: Any, principal: Principal, filters: ShipmentFilter) -> Any:
    stmt = scope_to_party(stmt, principal, Shipment.party_id)
    if filters.status:
        stmt = stmt.where(col(Shipment.status) == filters.status)
    if filters.since is not None:
        stmt = stmt.where(col(Shipment.opened_at) >= filters.since)
    if filters.until is not None:
        stmt = stmt.where(col(Shipment.opened_at) < filters.until)
    if filters.search:
        stmt = stmt.where(shipment_search(filters.search, Shipment.destination_id))
    return stmt


def count_shipments(*, session: Session, principal: Principal, filters: ShipmentFilter | None = None) -> int:
    """How many of the principal's shipments match (one COUNT, for the list's pager)."""
    stmt = _shipment_query(select(func.count()).select_from(Shipment), principal, filters or ShipmentFilter())
    return int(session.exec(stmt).one())


def list_shipments(*, session: Session, principal: Principal, limit: int = 50, offset: int = 0,
                   filters: ShipmentFilter | None = None) -> list[ShipmentRow]:  # fmt: skip
    """The principal's own shipments, newest first, with item counts and destination names."""
    stmt = _shipment_query(select(Shipment), principal, filters or ShipmentFilter())
    shipments = list(session.exec(stmt.order_by(col(Shipment.id).desc()).offset(offset).limit(limit)).all())
    ids = [s.id for s in shipments]
    n_items: dict[int, int] = {}
    if ids:
        counts = (
            select(ShipmentItem.shipment_id, func.count())
            .where(col(ShipmentItem.shipment_id).in_(ids))
            .group_by(col(ShipmentItem.shipment_id))
        )
        n_items = dict(session.exec(counts).all())
    names = party_names(session=session, ids={s.destination_id for s in shipments})
    return [
        ShipmentRow(id=s.id, destination_id=s.destination_id, destination_name=names.get(s.destination_id, ""),
                    status=str(s.status), opened_at=s.opened_at, closed_at=s.closed_at, items=n_items.get(s.id, 0))
        for s in shipments
        if s.id is not None
    ]  # fmt: skip


def destinations_for(*, session: Session, principal: Principal) -> list[Party]:
    """Where the principal's party normally ships: a distributor's authorised stores, a plant's distributors."""
    me = session.get(Party, principal.party_id)
    if me is None:
        return []
    if me.kind == PartyKind.distributor:
        stmt = (
            select(Party)
            .join(StoreSupplier, col(StoreSupplier.store_id) == col(Party.id))
            .where(StoreSupplier.distributor_id == me.id)
        )
    else:
        stmt = select(Party).where(col(Party.kind).in_([PartyKind.distributor, PartyKind.warehouse]))
    return [p for p in session.exec(stmt.order_by(col(Party.id))).all() if p.id != me.id]


@dataclass
class ShipmentPage:
    shipment: Shipment
    sender_name: str
    destination_name: str
    items: list[ShipmentItem] = field(default_factory=list)
    warnings: list[OutboundWarning] = field(default_factory=list)
    """What shipping to the destination breaks, shown as soon as the shipment is open."""
    item_warnings: dict[int, list[OutboundWarning]] = field(default_factory=dict)
    to_confirm: list[OutboundWarning] = field(default_factory=list)
    """Open: what closing will ask to confirm. Closed: what was confirmed (with ``shipment.confirmed_by``)."""
    units: int = 0
    order_gtins: list[str] = field(default_factory=list)


def shipment_page(*, session: Session, principal: Principal, shipment_id: int) -> ShipmentPage:
    """One of the principal's shipments with what was scanned into it and its warnings (NotFound for another
    party's)."""
    shipment = scans.get_shipment(session=session, principal=principal, shipment_id=shipment_id)
    assert shipment.id is not None
    names = party_names(session=session, ids={shipment.party_id, shipment.destination_id})
    view = scans.describe_shipment(session=session, shipment=shipment)
    confirm = view.confirmed_warnings if shipment.confirmed_warnings else view.to_confirm()
    return ShipmentPage(shipment=shipment, sender_name=names.get(shipment.party_id, shipment.party_id),
                        destination_name=names.get(shipment.destination_id, shipment.destination_id),
                        items=sorted(view.items, key=lambda i: i.id or 0, reverse=True), warnings=view.warnings,
                        item_warnings=view.item_warnings, to_confirm=confirm, units=view.units,
                        order_gtins=view.order_gtins)  # fmt: skip


# --- auditor ------------------------------------------------------------------------------------------------------


def graph_around(*, session: Session, distributor: str) -> dict[str, Any]:
    """Cytoscape elements for the party graph around one distributor, its leaks marked ``leak``.

    The neighbourhood is who supplies it and whom it ships to, plus every place its diverted goods surfaced and the
    paths they took there (``flow_graph.graph.leak_report``); the whole network (500 stores) would hide the story.
    """
    from flow_graph.graph import build_party_graph, graph_json, leak_report

    report = leak_report(session=session, distributor=distributor)
    graph = graph_json(build_party_graph(session=session))
    leak_places = {place for place, _ in report.by_place}
    leak_edges = {(a, b) for a, b, _ in report.edges}
    keep: set[str] = {distributor} | leak_places | {a for a, _ in leak_edges} | {b for _, b in leak_edges}
    links = []
    for link in graph["links"]:
        pair = (link["source"], link["target"])
        if distributor in pair or pair in leak_edges:
            keep.update(pair)
            links.append(link)
    nodes = {n["id"]: n for n in graph["nodes"] if n["id"] in keep}
    elements: list[dict[str, Any]] = []
    for node_id, n in sorted(nodes.items()):
        classes = [str(n.get("kind", ""))] + (["leak"] if node_id in leak_places else [])
        if node_id == distributor:
            classes.append("focus")
        elements.append({"data": {"id": node_id, "label": f"{n.get('name', node_id)}\n{node_id}",
                                  "kind": n.get("kind"), "territory": n.get("territory")},
                         "classes": " ".join(classes)})  # fmt: skip
    for link in links:
        pair = (link["source"], link["target"])
        leak = pair in leak_edges or link["target"] in leak_places
        elements.append({"data": {"id": f"{pair[0]}>{pair[1]}", "source": pair[0], "target": pair[1],
                                  "units": link["units"], "label": str(link["units"])},
                         "classes": "leak" if leak else ""})  # fmt: skip
    return {"elements": elements, "report": report}


def alert_page(*, session: Session, principal: Principal, alert_id: int) -> dict[str, Any]:
    """An alert, its case history, the unit's trail, and party names for all of them."""
    from flow_graph import service as flow
    from flow_graph.graph import unit_trail

    case = flow.alert_case(session=session, alert_id=alert_id, principal=principal)
    # The unit's whole trail crosses other parties: the auditors' view (as /api/v1/flow/trail), not a partner's.
    trail = unit_trail(session=session, epc=case.alert.epc) if principal.sees_all else None
    ids = {p for p in (case.alert.party_id, case.alert.responsible_distributor_id) if p}
    for step in trail.steps if trail is not None else []:
        ids.update(p for p in (step.location, step.source, step.destination, step.responsible_distributor) if p)
    places: set[str | None] = {case.alert.territory_id}
    stored = [case.alert.detail, case.alert.withdrawn_reason or "", *(n.text for n in case.history)]
    for fields in _fields_within(stored):
        ids.update(v for k, v in fields.items() if k in _PARTY_FIELDS and v != details.UNKNOWN_PLACE)
        places.update({fields.get("territory"), *_territory_list(fields.get("allowed", ""))})
    ids.update(who for n in case.history if (who := _author_party(n.author)))
    evidence = set(flow.alert_event_ids(case.alert))
    allowed = sorted(s.value for s in flow.TRANSITIONS[case.alert.status])
    return {"case": case, "trail": trail, "names": party_names(session=session, ids=ids), "evidence": evidence,
            "transitions": allowed, "territories": territory_names(session=session, ids={t for t in places if t})}


_PARTY_FIELDS = frozenset({"taker", "holder", "sender", "store", "place", "distributor", "first", "second", "before",
                           "party"})  # fmt: skip
"""The fields of a stored alert detail or system note (flow_graph.details) that hold a party id."""
_API_AUTHOR = re.compile(r"^(?P<party>\S+) \((?P<role>\w+), key \d+\)$")
"""How the API signs a case note (flow_graph.routes); the pages sign ``role:party``."""


def _fields_within(texts: list[str]) -> list[dict[str, str]]:
    """The fields of every stored explanation and system note among ``texts`` (a reopening's detail within)."""
    out = []
    for text in texts:
        note = details.parse(text, details.NOTES)
        if note is not None:
            out.append(note[1])
            text = note[1].get("detail", "")
        parsed = details.parse(text)
        if parsed is not None:
            out.append(parsed[1])
    return out


def _author_party(author: str) -> str | None:
    found = _API_AUTHOR.match(author)
    if found:
        return found["party"]
    role, sep, party = author.partition(":")
    return party if sep and role in Role.__members__ else None


def author_words(author: str, *, names: dict[str, str], _: Callable[..., str]) -> str:
    """Who wrote a case note: the system, or a role and its party's name."""
    if author == "system":
        return _("alert.by_system")
    found = _API_AUTHOR.match(author)
    role, sep, party = (found["role"], ":", found["party"]) if found else author.partition(":")
    if not sep or role not in Role.__members__:
        return author
    return f"{_('role.' + role)} {names.get(party, party)}"


def note_words(text: str, *, names: dict[str, str], territories: dict[str, str], _: Callable[..., str]) -> str:
    """A case note in the page's language: one the system wrote worded afresh (flow_graph.details.NOTES); one a
    person wrote as written."""
    parsed = details.parse(text, details.NOTES)
    if parsed is None:
        return text
    key, fields = parsed
    if "detail" in fields:
        fields["detail"] = word_detail(fields["detail"], None, names=names, territories=territories, _=_)
    if "party" in fields:
        fields["party"] = names.get(fields["party"], fields["party"])
    return _("alert.note." + key, **fields)


def _territory_list(allowed: str) -> list[str]:
    return [] if allowed in ("", details.NO_TERRITORY) else allowed.split(", ")


def explain(alert: Alert, *, names: dict[str, str], territories: dict[str, str], _: Callable[..., str]) -> str:
    """Why the alert was raised, in the page's language: its stored English detail read back into its case and
    fields (flow_graph.details) and worded afresh, parties and territories by name. A detail no template wrote
    (older data) is said as the alert's kind."""
    return word_detail(alert.detail, str(alert.kind), names=names, territories=territories, _=_)


def word_detail(detail: str, kind: str | None, *, names: dict[str, str], territories: dict[str, str],
                _: Callable[..., str]) -> str:  # fmt: skip
    """A stored explanation (flow_graph.details.TEMPLATES) in the page's language; see :func:`explain`."""
    parsed = details.parse(detail)
    if parsed is None:
        return _("alert.why.other", kind=_("kind." + kind) if kind else "")
    key, fields = parsed

    def party(value: str) -> str:
        return _("alert.why.unknown_place") if value == details.UNKNOWN_PLACE else names.get(value, value)

    words = {k: party(v) if k in _PARTY_FIELDS else v for k, v in fields.items()}
    if "step" in words:
        words["step"] = step_word(words["step"], _)
    if "territory" in words:
        words["territory"] = territories.get(words["territory"], words["territory"])
    if "allowed" in words:
        listed = [territories.get(t, t) for t in _territory_list(words["allowed"])]
        words["allowed"] = _("alert.why.list_sep").join(listed) if listed else _("alert.why.no_territory")
    if "reason" in words:
        words["reason"] = _("reason." + words["reason"])
    if key == "speed":
        kmh = words["speed"].removesuffix(" km/h")
        words["speed"] = _("alert.why.instant") if words["speed"] == details.INSTANT else _("alert.why.kmh", speed=kmh)
        skew = re.search(r"\d+", words["tolerance"])
        words["tolerance"] = _("alert.why.tolerance", minutes=skew.group()) if skew else ""
    return _("alert.why." + key, **words)


def step_word(code: str | None, _: Callable[..., str], event_type: str = "") -> str:
    """A business step (or, without one, the event type) in words; a step outside the catalogue (a URN of the
    brand's own) as it is."""
    key = f"step.{code}" if code else f"event.{event_type}"
    text = _(key)
    return (code or event_type) if text == key else text
