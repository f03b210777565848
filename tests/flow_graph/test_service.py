"""The rules on the sample network, alerts that withdraw themselves, counterfeit scans, the case workflow, filters."""

from __future__ import annotations

import json

import pytest
from sqlmodel import Session, select

from flow_graph import service
from flow_graph.errors import InvalidFilter, InvalidTransition
from flow_graph.service import AlertFilter
from ledger.store import scans_rejected as notify_scan_rejected
from tests.factories import masterdata_doc, seed_masterdata
from tests.flow_graph.helpers import alerts, brief, capture, case, ev, key, made, retract, scanned_key, unit
from traceability.auth.service import Principal
from traceability.masterdata.service import import_masterdata
from traceability.models import AlertKind, AlertStatus, Code, RejectedScan, Role


@pytest.fixture
def world(session: Session) -> Session:
    seed_masterdata(session)
    return session


def cross_territory(first: int = 1) -> list[dict]:
    """Unit ``first``: made, shipped to D-GZ, shipped by D-GZ to a Nanjing store that sells it."""
    return [
        *made(first, 1),
        ev(first * 10 + 1, "shipping", [unit(first)], "PLANT-1", 2, dest="D-GZ"),
        ev(first * 10 + 2, "receiving", [unit(first)], "D-GZ", 20),
        ev(first * 10 + 3, "shipping", [unit(first)], "D-GZ", 30, dest="S-NJ-1"),
        ev(first * 10 + 4, "receiving", [unit(first)], "S-NJ-1", 60),
        ev(first * 10 + 5, "retail_selling", [unit(first)], "S-NJ-1", 80),
    ]


def test_cross_territory_delivery_is_out_of_territory_and_unauthorized(world: Session) -> None:
    events = cross_territory()
    capture(world, *events)
    assert brief(world) == {("unauthorized_channel", "T00001", "S-NJ-1", "D-GZ"),
                            ("out_of_territory", "T00001", "S-NJ-1", "D-GZ")}  # fmt: skip
    by_kind = {str(a.kind): a for a in alerts(world)}
    oot = by_kind["out_of_territory"]
    assert oot.epc == unit(1) and oot.territory_id == "CN-32-01" and oot.status == AlertStatus.open
    # Evidence: the shipment that made D-GZ responsible, and every sighting at the place, in event-time order.
    assert json.loads(oot.event_ids) == [events[1]["eventID"], events[4]["eventID"], events[5]["eventID"]]
    assert json.loads(by_kind["unauthorized_channel"].event_ids) == [events[3]["eventID"]]


def test_a_case_shipment_attributes_the_units_inside(world: Session) -> None:
    capture(
        world,
        *made(1, 3, packed_in=1),
        ev(1, "shipping", [case(1)], "PLANT-1", 2, dest="D-GZ"),
        ev(2, "shipping", [case(1)], "D-GZ", 30, dest="D-NJ"),
        ev(3, "receiving", [case(1)], "D-NJ", 40),
        ev(4, "shipping", [unit(1)], "D-NJ", 50, dest="S-NJ-1"),
        ev(5, "retail_selling", [unit(1)], "S-NJ-1", 70),
    )
    expected = {("out_of_territory", f"T{n:05d}", "D-NJ", "D-GZ") for n in (1, 2, 3)}
    expected.add(("out_of_territory", "T00001", "S-NJ-1", "D-GZ"))
    assert brief(world) == expected  # D-NJ supplies S-NJ-1: no channel breach of its own


def test_repeated_scans_grow_one_alert(world: Session) -> None:
    capture(world, *cross_territory())
    for n in range(3):
        capture(world, ev(100 + n, "inspecting", [unit(1)], "S-NJ-1", 90 + n))
    oot = [a for a in alerts(world) if a.kind == AlertKind.out_of_territory]
    assert len(oot) == 1 and len(json.loads(oot[0].event_ids)) == 6


def test_unknown_code_alert_withdraws_itself_when_its_commissioning_arrives(world: Session) -> None:
    sale = ev(1, "retail_selling", [unit(7)], "S-GZ-1", 50)
    capture(world, sale)
    assert brief(world) == {("counterfeit_suspected", "T00007", "S-GZ-1", None)}
    capture(world, *made(7, 1))
    # Genuine after all, but the plant still holds it: the store that sold it answers for that, nobody else.
    assert brief(world) == {("holder_mismatch", "T00007", "S-GZ-1", None)}
    (withdrawn,) = [a for a in alerts(world, withdrawn=True) if a.status == AlertStatus.withdrawn]
    assert withdrawn.status == AlertStatus.withdrawn and "commissioned by PLANT-1" in (withdrawn.withdrawn_reason or "")
    history = service.alert_case(session=world, alert_id=withdrawn.id or 0).history
    assert [h.action for h in history] == ["withdrawn"]
    # The foreign code now has a record of its own (no key of ours), so scanners know it.
    code = world.exec(select(Code).where(Code.serial == "T00007")).one()
    assert code.key_id is None and code.level == "unit"


def test_commissioning_first_never_raises(world: Session) -> None:
    capture(world, *made(7, 1), ev(1, "shipping", [unit(7)], "PLANT-1", 2, dest="D-GZ"),
            ev(2, "shipping", [unit(7)], "D-GZ", 20, dest="S-GZ-1"))  # fmt: skip
    capture(world, ev(3, "retail_selling", [unit(7)], "S-GZ-1", 50))
    assert alerts(world, withdrawn=True) == []


def test_a_market_party_cannot_commission(world: Session) -> None:
    capture(world, ev(1, "commissioning", [unit(8)], "D-GZ", 1, action="ADD"))
    assert brief(world) == {("counterfeit_suspected", "T00008", "D-GZ", None)}


def test_error_declaration_withdraws_what_rested_on_the_event(world: Session) -> None:
    events = cross_territory()
    savepoint = world.begin_nested()
    capture(world, *events)
    capture(world, retract(events[3]), retract(events[4]), retract(events[5]))
    assert brief(world) == set()
    reasons = {a.withdrawn_reason for a in alerts(world, withdrawn=True)}
    assert all(r and r.startswith("evidence retracted by an errorDeclaration") for r in reasons), reasons
    savepoint.rollback()
    # The declarations first: the events never count, nothing is raised.
    capture(world, retract(events[3]), retract(events[4]), retract(events[5]))
    capture(world, *events)
    assert alerts(world, withdrawn=True) == []


def reject(session: Session, party: str, raw: str, reason: str) -> None:
    # Our scanners store the key the parser read beside the raw text.
    row = RejectedScan(party_id=party, biz_step="retail_selling", raw=raw, key=scanned_key(raw), reason=reason,
                       message=reason)  # fmt: skip
    session.add(row)
    session.flush()
    notify_scan_rejected(session, [row])


def test_scans_rejected_as_forged_are_counterfeit_evidence(world: Session) -> None:
    reject(world, "S-GZ-1", "https://id.example.com/01/06901234000108/21/T00009", "bad_signature")
    reject(world, "S-GZ-1", "https://id.example.com/01/06901234000108/21/T00009", "bad_signature")
    reject(world, "S-GZ-1", "https://id.example.com/01/06901234000108/21/T00010", "never_issued")
    reject(world, "S-GZ-1", "https://id.example.com/01/06901234000108/21/T00011", "already_sold")
    reject(world, "S-NJ-1", "]d2 not a code", "malformed")
    found = {(a.unit_key, a.party_id): a for a in alerts(world)}
    (garbage,) = [k for k, _ in found if k.startswith("raw:")]
    assert set(found) == {(key(9), "S-GZ-1"), (key(10), "S-GZ-1"), (garbage, "S-NJ-1")}
    assert len(json.loads(found[(key(9), "S-GZ-1")].rejected_scan_ids)) == 2
    assert all(a.kind == AlertKind.counterfeit_suspected for a in found.values())
    # A code "never issued" that turns out to be commissioned by the plant is withdrawn; a bad signature is not.
    capture(world, *made(9, 2))
    assert {a.unit_key for a in alerts(world)} == {key(9), garbage}


def test_clone_sold_twice_and_impossible_travel(world: Session) -> None:
    capture(
        world, *made(1, 2),
        ev(1, "shipping", [unit(1), unit(2)], "PLANT-1", 2, dest="D-GZ"),
        ev(2, "shipping", [unit(1), unit(2)], "D-GZ", 20, dest="S-GZ-1"),
        ev(3, "retail_selling", [unit(1)], "S-GZ-1", 40),
        ev(4, "retail_selling", [unit(1)], "S-NJ-1", 41),  # sold again, 1,100 km away, an hour later
        ev(5, "retail_selling", [unit(2)], "S-GZ-1", 40),
        ev(6, "inspecting", [unit(2)], "S-NJ-1", 40 + 24 * 5),  # five days later: a trip, not a clone
    )  # fmt: skip
    # S-NJ-1 "sells" a unit S-GZ-1 already sold (and so holds): it answers for that sale, D-GZ does not.
    assert brief(world) == {
        ("clone_suspected", "T00001", "S-NJ-1", None),
        ("holder_mismatch", "T00001", "S-NJ-1", None),
        ("out_of_territory", "T00002", "S-NJ-1", "D-GZ"),
    }
    clone = next(a for a in alerts(world) if a.kind == AlertKind.clone_suspected)
    assert "sold twice" in clone.detail or "km/h" in clone.detail
    assert len(json.loads(clone.event_ids)) == 2


def test_case_workflow(world: Session) -> None:
    capture(world, *cross_territory())
    alert = next(a for a in alerts(world) if a.kind == AlertKind.out_of_territory)
    assert alert.id is not None
    with pytest.raises(InvalidTransition):
        service.update_alert(session=world, alert_id=alert.id, author="aud", status=AlertStatus.confirmed)
    service.update_alert(session=world, alert_id=alert.id, author="aud", status=AlertStatus.investigating,
                         assignee="Li Wei", note="asked D-GZ for its delivery notes")  # fmt: skip
    service.update_alert(session=world, alert_id=alert.id, author="aud", status=AlertStatus.confirmed, note="seen")
    with pytest.raises(InvalidTransition):
        service.update_alert(session=world, alert_id=alert.id, author="aud", status=AlertStatus.dismissed)
    service.update_alert(session=world, alert_id=alert.id, author="aud", note="rebate withheld")
    case_ = service.alert_case(session=world, alert_id=alert.id)
    assert case_.alert.status == AlertStatus.confirmed and case_.alert.assignee == "Li Wei"
    assert [(h.action, h.to_status) for h in case_.history] == [
        ("status", "investigating"), ("assign", None), ("status", "confirmed"), ("note", None)]  # fmt: skip
    # A confirmed case stays confirmed when more evidence arrives, and the system may still withdraw it.
    capture(world, ev(100, "inspecting", [unit(1)], "S-NJ-1", 99))
    world.refresh(alert)
    assert alert.status == AlertStatus.confirmed


def test_filters_and_party_scope(world: Session) -> None:
    capture(world, *cross_territory(1), ev(1, "retail_selling", [unit(50)], "S-GZ-1", 5))

    def ids(**kw) -> set[str]:  # noqa: E306
        principal = kw.pop("principal", None)
        return {f"{a.kind}@{a.party_id}" for a in service.list_alerts(session=world, filters=AlertFilter(**kw),
                                                                       principal=principal)}  # fmt: skip

    everything = {"out_of_territory@S-NJ-1", "unauthorized_channel@S-NJ-1", "counterfeit_suspected@S-GZ-1"}
    assert ids() == everything
    assert ids(kind=[AlertKind.counterfeit_suspected]) == {"counterfeit_suspected@S-GZ-1"}
    assert ids(distributor="D-GZ") == everything - {"counterfeit_suspected@S-GZ-1"}
    assert ids(territory="CN-32") == everything - {"counterfeit_suspected@S-GZ-1"}
    assert ids(territory="CN-44") == {"counterfeit_suspected@S-GZ-1"}
    assert ids(period="2026-04") == everything and ids(period="2026-05") == set()
    assert ids(status=[AlertStatus.withdrawn]) == set()
    assert ids(principal=Principal(Role.distributor, "D-NJ")) == set()
    assert ids(principal=Principal(Role.distributor, "D-GZ")) == everything - {"counterfeit_suspected@S-GZ-1"}
    assert ids(principal=Principal(Role.auditor, "AUD")) == everything
    with pytest.raises(InvalidFilter):
        ids(period="April")


def test_master_data_change_then_reevaluation(world: Session) -> None:
    capture(world, *cross_territory())
    assert service.reevaluate(session=world).as_dict() | {"evaluated": 0} == {
        "evaluated": 0, "raised": 0, "updated": 0, "withdrawn": 0, "reopened": 0, "unchanged": 2}  # fmt: skip
    doc = masterdata_doc()
    for party in doc["parties"]:
        if party["id"] == "D-GZ":
            party["authorized_territories"] = ["CN"]
        if party["id"] == "S-NJ-1":
            party["supplied_by"] = ["D-NJ", "D-GZ"]
    import_masterdata(session=world, raw=doc)
    result = service.reevaluate(session=world)
    assert (result.withdrawn, result.raised) == (2, 0)
    assert brief(world) == set()
