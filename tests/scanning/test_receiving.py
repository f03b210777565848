"""Receiving against a shipment: expected against received, missing and extra units; only its destination may
receive it; a replay is answered once; a forged code is rejected with its reason kept."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import Session, func, select

from codes import service as codes
from ledger.keys import key_of
from scanning import receiving
from scanning.errors import IdempotencyConflict, ShipmentError
from scanning.service import (
    ScanOutcome,
    ScanRequest,
    close_shipment,
    open_shipment,
    pack,
    record_scans,
    scan_into_shipment,
)
from tests.factories import seed_masterdata, signed_codes
from traceability.auth.service import Principal
from traceability.errors import NotFound
from traceability.models import Capture, Code, CodeStatus, Event, ReceiptLine, RejectedScan, Role, Shipment

PLANT = Principal(role=Role.plant, party_id="PLANT-1")
GZ = Principal(role=Role.distributor, party_id="D-GZ")
NJ = Principal(role=Role.distributor, party_id="D-NJ")
ADMIN = Principal(role=Role.admin, party_id="BRAND")


class Shipped:
    """Twelve signed units; six packed in a case; the case and two loose units shipped PLANT-1 → D-GZ."""

    def __init__(self, units: list[str], case: str, shipment: Shipment) -> None:
        self.units, self.case, self.shipment = units, case, shipment

    @property
    def id(self) -> int:
        assert self.shipment.id is not None
        return self.shipment.id


@pytest.fixture
def shipped(session: Session, tmp_path: Path) -> Shipped:
    seed_masterdata(session)
    units = signed_codes(session, tmp_path / "keys", 12)
    outcome = record_scans(session=session, principal=PLANT, request=ScanRequest(biz_step="commissioning", codes=units))
    assert not outcome.rejected
    case = codes.allocate_ssccs(session=session, company_prefix="6901234", count=1, party_id="PLANT-1")[0]
    assert case.sscc is not None
    pack(session=session, principal=PLANT, parent=case.sscc, children=units[:6])
    shipment = open_shipment(session=session, principal=PLANT, destination_id="D-GZ", order_ref="PO-77")
    assert shipment.id is not None
    added = scan_into_shipment(session=session, principal=PLANT, shipment_id=shipment.id,
                               codes=[case.sscc, units[6], units[7]])  # fmt: skip
    assert not added.rejected, added.rejected
    close_shipment(session=session, principal=PLANT, shipment_id=shipment.id, confirm=True)
    return Shipped(units, case.sscc, shipment)


def _receive(session: Session, s: Shipped, raws: list[str], who: Principal = GZ, key: str | None = None,
             lang: str = "en") -> ScanOutcome:  # fmt: skip
    return receiving.receive_scans(session=session, principal=who, shipment_id=s.id, codes=raws, lang=lang,
                                   idempotency_key=key)  # fmt: skip


def _count(session: Session, model: type) -> int:
    return int(session.exec(select(func.count()).select_from(model)).one())


def _forged(code: str) -> str:
    """The same label with one character of its serial changed: its signature no longer matches."""
    head, serial = code.split("/21/", 1)
    return f"{head}/21/{'A' if serial[0] != 'A' else 'B'}{serial[1:]}"


def test_the_inbound_list_shows_only_shipments_sent_to_the_party(session: Session, shipped: Shipped) -> None:
    rows = receiving.list_inbound(session=session, principal=GZ)
    assert [(r.shipment.id, r.expected, r.received) for r in rows] == [(shipped.id, 8, 0)]
    assert receiving.list_inbound(session=session, principal=NJ) == []
    assert [r.shipment.id for r in receiving.list_inbound(session=session, principal=ADMIN)] == [shipped.id]


def test_expected_received_missing_and_extra(session: Session, shipped: Shipped) -> None:
    units = shipped.units
    first = _receive(session, shipped, [shipped.case])
    assert [a["units"] for a in first.accepted] == [6] and first.rejected == []
    second = _receive(session, shipped, [units[6], units[0], units[9]])
    assert [a["code"] for a in second.accepted] == [units[6]]
    assert {r["code"]: r["reason"] for r in second.rejected} == {units[0]: "already_received",
                                                                 units[9]: "not_on_shipment"}  # fmt: skip
    view = receiving.describe_receipt(session=session, shipment=shipped.shipment)
    assert view.summary() == {"expected": 8, "received": 7, "missing": 1, "extra": 1}
    assert view.missing == [key_of(units[7])]
    assert [line.key for line in view.extras] == [key_of(units[9])]
    # The extra is kept as a rejected scan with its reason, and changed nothing about the unit.
    kept = session.exec(select(RejectedScan).where(RejectedScan.reason == "not_on_shipment")).one()
    assert kept.party_id == "D-GZ" and kept.key == key_of(units[9])
    extra = session.exec(select(Code).where(Code.serial == units[9].split("/21/")[1].split("?")[0])).one()
    assert extra.status == CodeStatus.commissioned


def test_each_accepted_scan_is_a_receiving_event_at_the_receiver(session: Session, shipped: Shipped) -> None:
    before = _count(session, Event)
    outcome = _receive(session, shipped, [shipped.units[6]])
    assert _count(session, Event) == before + 1
    event = session.exec(select(Event).where(Event.event_id == outcome.event_id)).one()
    assert event.biz_step == "receiving" and event.location_party_id == "D-GZ"
    unit = session.exec(select(Code).where(Code.serial == shipped.units[6].split("/21/")[1].split("?")[0])).one()
    assert unit.status == CodeStatus.received


def test_a_unit_scanned_before_its_case_leaves_the_case_its_other_units(session: Session, shipped: Shipped) -> None:
    assert [a["units"] for a in _receive(session, shipped, [shipped.units[2]]).accepted] == [1]
    assert [a["units"] for a in _receive(session, shipped, [shipped.case]).accepted] == [5]
    again = _receive(session, shipped, [shipped.case])
    assert [r["reason"] for r in again.rejected] == ["already_received"]


def test_another_party_cannot_receive_the_shipment_and_nothing_is_stored(session: Session, shipped: Shipped) -> None:
    counts = (_count(session, Event), _count(session, Capture), _count(session, RejectedScan),
              _count(session, ReceiptLine))  # fmt: skip
    for who in (NJ, Principal(role=Role.distributor, party_id="D-NJ", api_key_id=None)):
        with pytest.raises(NotFound):
            _receive(session, shipped, [shipped.units[6]], who=who, key="k-1")
        with pytest.raises(NotFound):
            receiving.close_receipt(session=session, principal=who, shipment_id=shipped.id)
        with pytest.raises(NotFound):
            receiving.get_inbound(session=session, principal=who, shipment_id=shipped.id)
    # The sender cannot receive its own shipment either: receiving is the destination's.
    with pytest.raises(NotFound):
        _receive(session, shipped, [shipped.units[6]], who=PLANT)
    assert counts == (_count(session, Event), _count(session, Capture), _count(session, RejectedScan),
                      _count(session, ReceiptLine))  # fmt: skip
    assert session.get(Shipment, shipped.id).received_at is None  # type: ignore[union-attr]


def test_a_replayed_scan_is_answered_once(session: Session, shipped: Shipped) -> None:
    first = _receive(session, shipped, [shipped.units[6]], key="phone-1")
    counts = (_count(session, Event), _count(session, ReceiptLine), _count(session, RejectedScan))
    again = _receive(session, shipped, [shipped.units[6]], key="phone-1")
    assert again.replayed and again.accepted == first.accepted and again.rejected == []
    assert counts == (_count(session, Event), _count(session, ReceiptLine), _count(session, RejectedScan))
    with pytest.raises(IdempotencyConflict):
        _receive(session, shipped, [shipped.units[7]], key="phone-1")
    # Another party's key of the same name is its own: it neither replays nor blocks D-GZ's (and is refused).
    with pytest.raises(NotFound):
        _receive(session, shipped, [shipped.units[6]], who=NJ, key="phone-1")
    assert receiving.describe_receipt(session=session, shipment=shipped.shipment).summary()["received"] == 1


@pytest.mark.parametrize(("lang", "words"), [("en", "not on shipment"), ("zh-CN", "不在发货单")])
def test_a_forged_code_is_rejected_with_its_reason_kept(session: Session, shipped: Shipped, lang: str,
                                                        words: str) -> None:  # fmt: skip
    forged = _forged(shipped.units[7])
    outcome = _receive(session, shipped, [forged, shipped.units[10]], lang=lang)
    reasons = {r["code"]: r for r in outcome.rejected}
    assert reasons[forged]["reason"] == "bad_signature" and outcome.accepted == []
    assert words in reasons[shipped.units[10]]["message"]
    kept = session.exec(select(RejectedScan).where(RejectedScan.raw == forged)).one()
    assert kept.reason == "bad_signature" and kept.party_id == "D-GZ"
    view = receiving.describe_receipt(session=session, shipment=shipped.shipment)
    assert [(line.raw, line.reason) for line in view.rejected] == [(forged, "bad_signature")]
    assert view.summary()["received"] == 0 and view.summary()["missing"] == 8


def test_closing_lists_what_is_missing_and_ends_the_receipt(session: Session, shipped: Shipped) -> None:
    _receive(session, shipped, [shipped.case])
    view = receiving.close_receipt(session=session, principal=GZ, shipment_id=shipped.id)
    assert view.missing == sorted(key_of(u) for u in shipped.units[6:8])
    assert shipped.shipment.received_by == "D-GZ" and shipped.shipment.received_at is not None
    with pytest.raises(ShipmentError, match="closed"):
        _receive(session, shipped, [shipped.units[6]])
    with pytest.raises(ShipmentError, match="closed"):
        receiving.close_receipt(session=session, principal=GZ, shipment_id=shipped.id)


def test_a_shipment_not_yet_shipped_cannot_be_received(session: Session, shipped: Shipped) -> None:
    pending = open_shipment(session=session, principal=PLANT, destination_id="D-GZ")
    assert pending.id is not None
    before = _count(session, ReceiptLine), _count(session, Capture)
    with pytest.raises(ShipmentError, match="not been shipped"):
        receiving.receive_scans(session=session, principal=GZ, shipment_id=pending.id, codes=[shipped.units[8]])
    assert (_count(session, ReceiptLine), _count(session, Capture)) == before
    assert [r.shipment.id for r in receiving.list_inbound(session=session, principal=GZ)] == [shipped.id]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(order=st.permutations(range(9)), split=st.integers(min_value=1, max_value=8))
def test_received_plus_missing_is_expected_whatever_the_scan_order(session: Session, shipped: Shipped,
                                                                   order: list[int], split: int) -> None:  # fmt: skip
    """Invariant: however the codes come off the truck (case or its units, twice or not), each expected unit is
    counted once, received or missing, never both."""
    sp = session.begin_nested()
    pool = [shipped.case, *shipped.units[:8]]
    scanned = [pool[i] for i in order][:split]
    for raw in scanned:
        _receive(session, shipped, [raw])
    view = receiving.describe_receipt(session=session, shipment=shipped.shipment)
    assert view.received | set(view.missing) == view.expected and not view.received & set(view.missing)
    counted = sum(line.units for line in view.lines if line.outcome == "received")
    assert counted == len(view.received) == len(
        {key_of(u) for u in shipped.units[:6] if shipped.case in scanned or u in scanned}
        | {key_of(u) for u in shipped.units[6:8] if u in scanned})  # fmt: skip
    sp.rollback()
