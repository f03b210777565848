"""Outbound checks at the scan: a shipment to a store the distributor may not supply, or outside its territories,
warns at once and on every code scanned into it (or, by policy, refuses); closing with warnings needs confirmation,
recorded with who gave it; an order's expected quantity and reference are checked at close."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from codes import service as codes
from codes.keyfiles import KeyFileStore
from rebates.errors import PolicyInvalid
from rebates.policy import OutboundPolicy, load_policy
from scanning.errors import ConfirmationRequired, OutboundRefused
from scanning.service import (
    ScanRequest,
    close_shipment,
    describe_shipment,
    open_shipment,
    pack,
    record_scans,
    scan_into_shipment,
)
from tests.factories import GTIN, api_key, auth, seed_masterdata, signed_codes
from traceability.auth.service import Principal
from traceability.errors import InvalidInput
from traceability.gs1 import with_check_digit
from traceability.models import Alert, Event, RejectedScan, Role, Shipment

PLANT = Principal(role=Role.plant, party_id="PLANT-1")
GZ = Principal(role=Role.distributor, party_id="D-GZ")
NJ = Principal(role=Role.distributor, party_id="D-NJ")
OTHER_GTIN = with_check_digit("0690123400011")
EN = {"Accept-Language": "en"}


@pytest.fixture
def store(tmp_path: Path) -> KeyFileStore:
    return KeyFileStore(tmp_path / "keys")


@pytest.fixture
def units(session: Session, store: KeyFileStore) -> list[str]:
    """Eight signed units, commissioned: six shipped to (and received by) 广州, two left at the plant."""
    seed_masterdata(session)
    made = signed_codes(session, store, 8)
    scan(session, PLANT, "commissioning", made)
    scan(session, PLANT, "shipping", made[:6], destination_id="D-GZ")
    scan(session, GZ, "receiving", made[:6])
    return made


def scan(session: Session, who: Principal, step: str, raws: list[str], **kw):
    outcome = record_scans(session=session, principal=who, request=ScanRequest(biz_step=step, codes=raws, **kw))
    assert not outcome.rejected, outcome.rejected
    return outcome


def sid(shipment: Shipment) -> int:
    assert shipment.id is not None
    return shipment.id


def kinds(item: dict) -> list[str]:
    return [w["kind"] for w in item["warnings"]]


@pytest.fixture
def policy_app(app: FastAPI, tmp_path: Path) -> Iterator[Callable[[str], None]]:
    """``use(toml)``: the app reads that policy file from now on."""
    original = app.state.settings

    def use(text: str) -> None:
        path = tmp_path / "policy.toml"
        path.write_text(text, encoding="utf-8")
        app.state.settings = original.model_copy(update={"policy_file": path})

    yield use
    app.state.settings = original


# --- at once: opening the shipment -----------------------------------------------------------------------------------


def test_opening_a_shipment_to_an_unauthorised_store_answers_with_warnings(client: TestClient, session: Session,
                                                                          units: list[str]) -> None:  # fmt: skip
    gz = auth(api_key(session, Role.distributor, "D-GZ"))
    r = client.post("/api/v1/shipments", json={"destination": "S-NJ-1"}, headers={**gz, **EN})
    assert r.status_code == 201, r.text
    warnings = {w["kind"]: w for w in r.json()["warnings"]}
    assert set(warnings) == {"unauthorized_channel", "out_of_territory"}
    assert {w["severity"] for w in warnings.values()} == {"high"}
    channel, territory = warnings["unauthorized_channel"]["message"], warnings["out_of_territory"]["message"]
    assert channel == "广州经销商 (D-GZ) is not authorised to supply store Store NJ 1 (S-NJ-1)"
    assert "CN-32-01" in territory and "CN-44-01" in territory
    zh = client.get(f"/api/v1/shipments/{r.json()['id']}", headers={**gz, "Accept-Language": "zh-CN,en;q=0.5"})
    assert "未获授权" in {w["kind"]: w for w in zh.json()["warnings"]}["unauthorized_channel"]["message"]
    own = client.post("/api/v1/shipments", json={"destination": "S-GZ-1"}, headers={**gz, **EN})
    assert own.status_code == 201 and own.json()["warnings"] == [] and own.json()["close_warnings"] == []


def test_the_brand_shipping_to_a_distributor_is_not_checked(session: Session, units: list[str]) -> None:
    shipment = open_shipment(session=session, principal=PLANT, destination_id="D-NJ")
    assert describe_shipment(session=session, shipment=shipment).warnings == []
    outcome = scan_into_shipment(session=session, principal=PLANT, shipment_id=sid(shipment), codes=units[6:])
    assert [kinds(a) for a in outcome.accepted] == [[], []]


# --- on every scan, and at close -------------------------------------------------------------------------------------


def test_each_code_scanned_into_it_carries_the_warnings_and_closing_asks_for_confirmation(
    client: TestClient, session: Session, units: list[str]
) -> None:
    key = api_key(session, Role.distributor, "D-GZ")
    gz = auth(key)
    shipment = client.post("/api/v1/shipments", json={"destination": "S-NJ-1"}, headers={**gz, **EN}).json()
    url = f"/api/v1/shipments/{shipment['id']}"
    first = client.post(f"{url}/scans", json={"codes": units[:1]}, headers={**gz, **EN})
    assert first.status_code == 200, first.text
    (accepted,) = first.json()["accepted"]
    assert sorted(kinds(accepted)) == ["out_of_territory", "unauthorized_channel"]
    assert all(w["message"] for w in accepted["warnings"])
    second = client.post(f"{url}/scans", json={"codes": units[1:3]}, headers={**gz, **EN}).json()
    assert [sorted(kinds(a)) for a in second["accepted"]] == [["out_of_territory", "unauthorized_channel"]] * 2

    refused = client.post(f"{url}/close", headers={**gz, **EN})
    assert refused.status_code == 409 and refused.json()["error"] == "confirmation_required"
    assert {w["kind"] for w in refused.json()["warnings"]} == {"unauthorized_channel", "out_of_territory"}
    row = session.get(Shipment, shipment["id"])
    assert row is not None and row.status == "open"
    closed = client.post(f"{url}/close", json={"confirm": True}, headers={**gz, **EN})
    assert closed.status_code == 200, closed.text
    body = closed.json()
    assert body["status"] == "closed" and body["confirmed_by"] == "D-GZ" and body["confirmed_at"]
    assert {w["kind"] for w in body["close_warnings"]} == {"unauthorized_channel", "out_of_territory"}
    session.refresh(row)
    assert row.confirmed_key_id == key.id
    # What the scan warned about is what the diversion rules find once the goods move and arrive.
    store_key = auth(api_key(session, Role.store, "S-NJ-1"))
    assert client.post("/api/v1/scans", json={"biz_step": "receiving", "codes": units[:3]},
                       headers=store_key).status_code == 200  # fmt: skip
    alerts = session.exec(select(Alert)).all()
    assert {str(a.kind) for a in alerts} == {"unauthorized_channel", "out_of_territory"}
    assert {a.responsible_distributor_id for a in alerts} == {"D-GZ"}


def test_a_shipment_without_warnings_closes_without_confirmation(session: Session, units: list[str]) -> None:
    shipment = open_shipment(session=session, principal=GZ, destination_id="S-GZ-1")
    outcome = scan_into_shipment(session=session, principal=GZ, shipment_id=sid(shipment), codes=units[:2])
    assert [kinds(a) for a in outcome.accepted] == [[], []]
    closed = close_shipment(session=session, principal=GZ, shipment_id=sid(shipment))
    assert closed.status == "closed" and closed.confirmed_by is None and closed.confirmed_warnings is None


def test_a_unit_another_party_holds_is_refused_by_default(session: Session, units: list[str]) -> None:
    shipment = open_shipment(session=session, principal=GZ, destination_id="S-GZ-1")
    outcome = scan_into_shipment(session=session, principal=GZ, shipment_id=sid(shipment), codes=[units[6], units[0]])
    assert [r["reason"] for r in outcome.rejected] == ["not_holder"] and len(outcome.accepted) == 1


def test_a_unit_another_party_holds_warns_not_holder_where_the_policy_relaxes_it(
    session: Session, units: list[str]
) -> None:
    shipment = open_shipment(session=session, principal=GZ, destination_id="S-GZ-1")
    outcome = scan_into_shipment(session=session, principal=GZ, shipment_id=sid(shipment), codes=[units[6], units[0]],
                                 policy=OutboundPolicy(not_holder="warn"))  # fmt: skip
    held, own = outcome.accepted
    assert kinds(held) == ["not_holder"] and held["warnings"][0]["severity"] == "medium"
    assert "Plant 1 (PLANT-1)" in held["warnings"][0]["message"]
    assert kinds(own) == []
    with pytest.raises(ConfirmationRequired) as refused:
        close_shipment(session=session, principal=GZ, shipment_id=sid(shipment))
    assert [w["kind"] for w in refused.value.detail["warnings"]] == ["not_holder"]


def test_goods_from_another_distributor_are_judged_by_its_territories(session: Session, units: list[str]) -> None:
    # The brand ships a unit to 南京; 南京 passes it to 广州, which sends it on to its own store in 广州.
    scan(session, PLANT, "shipping", units[7:8], destination_id="D-NJ")
    scan(session, NJ, "receiving", units[7:8])
    scan(session, NJ, "shipping", units[7:8], destination_id="D-GZ")
    scan(session, GZ, "receiving", units[7:8])
    shipment = open_shipment(session=session, principal=GZ, destination_id="S-GZ-1")
    (accepted,) = scan_into_shipment(session=session, principal=GZ, shipment_id=sid(shipment), codes=units[7:8],
                                     lang="en").accepted  # fmt: skip
    assert kinds(accepted) == ["out_of_territory"]
    assert "D-NJ" in accepted["warnings"][0]["message"] and "CN-32" in accepted["warnings"][0]["message"]


def test_the_plain_scan_api_warns_on_shipping_too(client: TestClient, session: Session, units: list[str]) -> None:
    gz = auth(api_key(session, Role.distributor, "D-GZ"))
    r = client.post("/api/v1/scans", json={"biz_step": "shipping", "codes": units[:1], "destination": "S-NJ-1"},
                    headers={**gz, **EN})  # fmt: skip
    assert r.status_code == 200, r.text
    assert sorted(kinds(r.json()["accepted"][0])) == ["out_of_territory", "unauthorized_channel"]


# --- the policy decides: warn or refuse ------------------------------------------------------------------------------


def test_the_policy_file_has_an_outbound_section_warning_by_default_but_for_not_holder(tmp_path: Path) -> None:
    assert load_policy(None).outbound == OutboundPolicy()
    defaults = OutboundPolicy().model_dump()
    assert defaults.pop("not_holder") == "refuse" and set(defaults.values()) == {"warn"}
    path = tmp_path / "p.toml"
    path.write_text('[outbound]\nunauthorized_channel = "refuse"\n', encoding="utf-8")
    loaded = load_policy(path).outbound
    assert loaded.refuses("unauthorized_channel") and not loaded.refuses("out_of_territory")
    path.write_text('[outbound]\nnot_holder = "ignore"\n', encoding="utf-8")
    with pytest.raises(PolicyInvalid, match="invalid") as bad:
        load_policy(path)
    assert "outbound.not_holder" in json.dumps(bad.value.detail)


def test_a_refused_destination_cannot_be_opened(client: TestClient, session: Session, units: list[str],
                                                policy_app) -> None:  # fmt: skip
    policy_app('[outbound]\nunauthorized_channel = "refuse"\n')
    gz = auth(api_key(session, Role.distributor, "D-GZ"))
    r = client.post("/api/v1/shipments", json={"destination": "S-NJ-1"}, headers={**gz, **EN})
    assert r.status_code == 403 and r.json()["error"] == "outbound_refused"
    assert [w["kind"] for w in r.json()["warnings"]] == ["unauthorized_channel"]
    assert client.post("/api/v1/shipments", json={"destination": "S-GZ-1"}, headers=gz).status_code == 201
    with pytest.raises(OutboundRefused):
        open_shipment(session=session, principal=GZ, destination_id="S-NJ-1",
                      policy=OutboundPolicy(out_of_territory="refuse"))  # fmt: skip


def test_a_refused_scan_is_a_rejected_scan_stored_with_its_reason(client: TestClient, session: Session,
                                                                  units: list[str], policy_app) -> None:  # fmt: skip
    gz = auth(api_key(session, Role.distributor, "D-GZ"))
    shipment = client.post("/api/v1/shipments", json={"destination": "S-NJ-1"}, headers=gz).json()
    policy_app('[outbound]\nout_of_territory = "refuse"\nnot_holder = "refuse"\n')
    r = client.post(f"/api/v1/shipments/{shipment['id']}/scans", json={"codes": units[:1]},
                    headers={**gz, **EN}).json()  # fmt: skip
    assert r["accepted"] == []
    (rejected,) = r["rejected"]
    assert rejected["reason"] == "out_of_territory" and "CN-32-01" in rejected["message"]
    own = client.post("/api/v1/shipments", json={"destination": "S-GZ-1"}, headers=gz).json()
    held = client.post(f"/api/v1/shipments/{own['id']}/scans", json={"codes": [units[6], units[1]]},
                       headers={**gz, **EN}).json()  # fmt: skip
    assert [x["reason"] for x in held["rejected"]] == ["not_holder"] and len(held["accepted"]) == 1
    stored = session.exec(select(RejectedScan).where(RejectedScan.party_id == "D-GZ")).all()
    assert sorted((s.reason, s.message) for s in stored) == sorted(
        [("out_of_territory", rejected["message"]), ("not_holder", held["rejected"][0]["message"])]
    )
    # The plain scan API refuses the same way; a refusal is not counterfeit evidence.
    plain = client.post("/api/v1/scans", json={"biz_step": "shipping", "codes": units[1:2], "destination": "S-NJ-1"},
                        headers={**gz, **EN}).json()  # fmt: skip
    assert [x["reason"] for x in plain["rejected"]] == ["out_of_territory"]
    assert session.exec(select(Alert)).all() == []


# --- an order: products, quantity, reference ------------------------------------------------------------------------


def test_an_order_checks_products_on_scan_and_quantity_and_reference_at_close(session: Session,
                                                                             units: list[str]) -> None:  # fmt: skip
    shipment = open_shipment(session=session, principal=GZ, destination_id="S-GZ-1", order_ref="PO-2611-7",
                             order_gtins=[OTHER_GTIN], expected_quantity=3)  # fmt: skip
    (accepted,) = scan_into_shipment(session=session, principal=GZ, shipment_id=sid(shipment), codes=units[:1],
                                     lang="en").accepted  # fmt: skip
    assert kinds(accepted) == ["wrong_product"]
    assert accepted["warnings"][0]["message"] == f"product {GTIN} is not on order PO-2611-7"
    with pytest.raises(ConfirmationRequired) as refused:
        close_shipment(session=session, principal=GZ, shipment_id=sid(shipment), lang="en")
    found = {w["kind"]: w["message"] for w in refused.value.detail["warnings"]}
    assert found == {"wrong_product": f"product {GTIN} is not on order PO-2611-7",
                     "under_quantity": "1 units scanned, 3 expected: 2 missing"}  # fmt: skip
    closed = close_shipment(session=session, principal=GZ, shipment_id=sid(shipment), confirm=True)
    event = session.exec(select(Event).where(Event.event_id == closed.event_id)).one()
    (transaction,) = json.loads(event.document)["bizTransactionList"]
    assert transaction == {"type": "po", "bizTransaction": "urn:epcglobal:cbv:bt:6901234000030:PO-2611-7"}

    again = open_shipment(session=session, principal=GZ, destination_id="S-GZ-1", order_ref="PO-2611-7",
                          order_gtins=[GTIN], expected_quantity=1)  # fmt: skip
    outcome = scan_into_shipment(session=session, principal=GZ, shipment_id=sid(again), codes=units[1:3])
    assert [kinds(a) for a in outcome.accepted] == [[], []]
    view = describe_shipment(session=session, shipment=again)
    assert [w.kind for w in view.to_confirm()] == ["over_quantity", "duplicate_order"]
    assert view.to_confirm()[1].message("zh-CN") == f"订单 PO-2611-7 已在发货单 #{shipment.id} 中发出"


def test_a_case_counts_its_units_and_products(session: Session, units: list[str]) -> None:
    case = codes.allocate_ssccs(session=session, company_prefix="6901234", count=1, party_id="PLANT-1")[0]
    assert case.sscc is not None
    pack(session=session, principal=PLANT, parent=case.sscc, children=units[6:8])
    scan(session, PLANT, "shipping", [case.sscc], destination_id="D-GZ")
    scan(session, GZ, "receiving", [case.sscc])
    shipment = open_shipment(session=session, principal=GZ, destination_id="S-GZ-1", order_gtins=[GTIN],
                             expected_quantity=2)  # fmt: skip
    (accepted,) = scan_into_shipment(session=session, principal=GZ, shipment_id=sid(shipment),
                                     codes=[case.sscc]).accepted  # fmt: skip
    assert accepted["units"] == 2 and kinds(accepted) == []
    view = describe_shipment(session=session, shipment=shipment)
    assert view.units == 2 and view.to_confirm() == []
    other = open_shipment(session=session, principal=GZ, destination_id="S-GZ-1", order_gtins=[OTHER_GTIN])
    (accepted,) = scan_into_shipment(session=session, principal=GZ, shipment_id=sid(other), codes=[case.sscc]).accepted
    assert kinds(accepted) == ["wrong_product"]


def test_order_products_must_be_gtins(session: Session, units: list[str]) -> None:
    with pytest.raises(InvalidInput, match="GTIN"):
        open_shipment(session=session, principal=GZ, destination_id="S-GZ-1", order_gtins=["12345"])
