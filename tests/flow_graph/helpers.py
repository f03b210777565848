"""Events over the sample master data (tests.factories): parties by id, units by number, times by hour."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel import Session, select

from codes.errors import MalformedCode
from scanning.epcis import capture_document
from scanning.parse import parse_scan, sgtin_urn, sscc_urn
from tests.factories import BASE_DOC, GTIN
from traceability.models import Alert, AlertStatus

GLN = {party["id"]: party["gln"] for party in BASE_DOC["parties"]}
T0 = datetime(2026, 4, 1, tzinfo=UTC)


def unit(n: int) -> str:
    return sgtin_urn(GTIN, f"T{n:05d}")


def key(n: int) -> str:
    return f"https://id.gs1.org/01/{GTIN}/21/T{n:05d}"


def case(n: int) -> str:
    from traceability.gs1 import with_check_digit

    return sscc_urn(with_check_digit(f"06901234{n:09d}"))


def place(party: str) -> str:
    return f"https://id.gs1.org/414/{GLN[party]}"


def ev(n: int, step: str, epcs: list[str], at: str, hour: float, *, dest: str | None = None,
       parent: str | None = None, action: str = "OBSERVE") -> dict[str, Any]:  # fmt: skip
    """Event ``n`` (its eventID), a business step at a party, ``hour`` hours after T0."""
    e: dict[str, Any] = {
        "eventID": f"urn:uuid:00000000-0000-4000-8000-{n:012d}",
        "type": "AggregationEvent" if parent else "ObjectEvent", "action": action, "bizStep": step,
        "eventTime": (T0 + timedelta(hours=hour)).isoformat(),
        "eventTimeZoneOffset": "+00:00", "bizLocation": {"id": place(at)},
    }  # fmt: skip
    if parent:
        e["parentID"], e["childEPCs"] = parent, epcs
    else:
        e["epcList"] = epcs
    if dest:
        e["destinationList"] = [{"type": "owning_party", "destination": place(dest)}]
    return e


def retract(event: dict[str, Any]) -> dict[str, Any]:
    out = dict(event)
    out["errorDeclaration"] = {"declarationTime": "2026-05-01T00:00:00+00:00", "reason": "incorrect_data"}
    return out


def doc(*events: dict[str, Any]) -> dict[str, Any]:
    return {"type": "EPCISDocument", "schemaVersion": "2.0", "creationDate": "2026-04-01T00:00:00Z",
            "epcisBody": {"eventList": list(events)}}  # fmt: skip


def capture(session: Session, *events: dict[str, Any]) -> None:
    capture_document(session=session, document=doc(*events))


def alerts(session: Session, *, withdrawn: bool = False) -> list[Alert]:
    stmt = select(Alert).order_by(Alert.id)  # type: ignore[arg-type]
    if not withdrawn:
        stmt = stmt.where(Alert.status != AlertStatus.withdrawn)
    rows = list(session.exec(stmt).all())
    for r in rows:
        session.refresh(r)
    return rows


def brief(session: Session) -> set[tuple[str, str, str | None, str | None]]:
    """(kind, unit key tail, place, responsible distributor) of every active alert."""
    return {(str(a.kind), a.unit_key.rsplit("/", 1)[1], a.party_id, a.responsible_distributor_id)
            for a in alerts(session)}  # fmt: skip


def made(first: int, n: int, *, hour: float = 0, packed_in: int | None = None) -> list[dict[str, Any]]:
    """Units ``first``… commissioned at the plant (and packed into case ``packed_in``)."""
    units = [unit(i) for i in range(first, first + n)]
    events = [ev(9000 + first, "commissioning", units, "PLANT-1", hour, action="ADD")]
    if packed_in is not None:
        events.append(ev(9500 + first, "packing", units, "PLANT-1", hour + 1, parent=case(packed_in), action="ADD"))
    return events


def scanned_key(raw: str) -> str | None:
    """The key our scanners store with a rejected scan: what the scan parser read, or None if it read nothing."""
    try:
        return parse_scan(raw).key
    except MalformedCode:
        return None
