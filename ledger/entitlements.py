"""Who may assert what: DESIGN.md's trust rules, applied once, where events enter the ledger, for every door.

The system pays the parties it polices, so a key must never be a way to write another party's history:

- the brand's own systems (admin and plant keys, the key of any brand-owned party, and the brand's command line,
  which acts without a principal) assert any valid EPCIS event;
- any other party asserts only what happens at its own places (the event's bizLocation, else readPoint, is the
  party or one it owns) or, for an event without a place, what leaves from it (its source);
- a shipment from a brand-owned party is asserted only by the brand (else a distributor could invent purchases,
  and the rebate on them);
- an ``errorDeclaration`` is made by the party whose capture stored the event, or by the brand; and by no key for an
  event dated in a locked settlement period: that is a restatement, which finance starts from the brand's command
  line (no principal), and which settles as an adjustment in the next open period, never in the locked one.

What a key may not assert is refused with its reason, never stored as evidence.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from ledger.history import chunks, utc
from ledger.parties import PartyRoles
from ledger.store import NewEvent, PartyDirectory, parse_event_time, resolve_columns
from traceability.auth.service import Principal
from traceability.models import Capture, Event, Role, SettlementPeriod

__all__ = ["Refusal", "is_brand_side", "refusals"]

_SHIPPING = frozenset({"shipping", "departing"})


@dataclass(frozen=True, slots=True)
class Refusal:
    """One event a principal may not assert: its position in the batch, its eventID, a machine reason and why."""

    position: int
    event_id: str
    reason: str
    message: str


def is_brand_side(principal: Principal | None, session: Session | PartyRoles) -> bool:
    """The brand's own systems: no principal (the brand's CLI), an admin or plant key, or a brand-owned party's."""
    if principal is None or principal.role in (Role.admin, Role.plant):
        return True
    parties = session if isinstance(session, PartyRoles) else PartyRoles.load(session)
    return parties.brand_owned(principal.party_id)


def refusals(session: Session, principal: Principal | None, events: Sequence[NewEvent]) -> list[Refusal]:
    """The events of ``events`` that ``principal`` may not assert (module rules), in order."""
    if not events:
        return []
    parties = PartyRoles.load(session)
    brand = is_brand_side(principal, parties)
    out: list[Refusal] = []
    declarations = [(i, e) for i, e in enumerate(events) if e.declaration]
    locked = _locked_periods(session) if declarations else []
    captured_by = _captured_by(session, [e.event_id for _, e in declarations]) if declarations and not brand else {}
    for i, event in declarations:
        when = _event_time(event)
        period = next((p for p, start, end in locked if when is not None and start <= when < end), None)
        if period is not None and principal is not None:
            out.append(Refusal(i, event.event_id, "period_locked",
                               f"event {event.event_id} is dated in {period}, a locked settlement period: it cannot be "
                               f"retracted; finance restates it in the next open period"))  # fmt: skip
        elif not brand and principal is not None and captured_by.get(event.event_id) != principal.party_id:
            whose = captured_by.get(event.event_id)
            why = f"was captured by {whose or 'the brand'}" if event.event_id in captured_by else "was never stored"
            message = f"{principal.party_id} may retract only events it captured; {event.event_id} {why}"
            out.append(Refusal(i, event.event_id, "not_your_event", message))
    if brand or principal is None:
        return sorted(out, key=lambda r: r.position)
    directory = PartyDirectory.load(session)
    for i, event in enumerate(events):
        if event.declaration:
            continue
        columns = resolve_columns(event, directory)
        place, source = columns["location_party_id"], columns["source_party_id"]
        if str(columns.get("biz_step")) in _SHIPPING and parties.brand_owned(source):
            out.append(Refusal(i, event.event_id, "brand_shipment",
                               f"only the brand's own systems record a shipment from {source}; "
                               f"{principal.party_id} may record what it receives"))  # fmt: skip
        elif place is not None and not parties.owns(principal.party_id, place):
            out.append(Refusal(i, event.event_id, "not_your_location",
                               f"{principal.party_id} may record only what happens at its own places; "
                               f"event {event.event_id} is at {place}"))  # fmt: skip
        elif place is None and not parties.owns(principal.party_id, source):
            named = source or "no known place or source"
            out.append(Refusal(i, event.event_id, "not_your_location",
                               f"{principal.party_id} may record only what happens at its own places or leaves from "
                               f"them; event {event.event_id} names {named}"))  # fmt: skip
    return sorted(out, key=lambda r: r.position)


def _event_time(event: NewEvent) -> datetime | None:
    try:
        return parse_event_time(event.raw.get("eventTime"))
    except ValueError:
        return None


def _locked_periods(session: Session) -> list[tuple[str, datetime, datetime]]:
    rows = session.exec(select(SettlementPeriod.period, SettlementPeriod.starts_at, SettlementPeriod.ends_at)).all()
    return [(p, utc(s), utc(e)) for p, s, e in rows]


def _captured_by(session: Session, event_ids: Sequence[str]) -> dict[str, str | None]:
    """eventID → the party whose capture stored it (None: the brand's own tools), for the stored events."""
    out: dict[str, str | None] = {}
    for chunk in chunks(sorted(set(event_ids))):
        stmt = (
            select(Event.event_id, Capture.party_id)
            .join(Capture, col(Capture.id) == col(Event.capture_id), isouter=True)
            .where(col(Event.event_id).in_(chunk), col(Event.declaration).is_(False))
        )
        for event_id, party in session.exec(stmt).all():
            out[event_id] = party
    return out
