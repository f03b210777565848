"""The store's side of the counter: receiving warns at once about a supplier it may not buy from, and a case is
opened where it is (``unpacking``) so that its units are sold one by one, keeping their history."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from codes import service as codes
from flow_graph.service import AlertFilter, list_alerts
from scanning.errors import NotHolder
from scanning.service import ScanRequest, pack, record_scans, unpack
from tests.factories import api_key, auth, seed_masterdata, signed_codes
from traceability.auth.service import Principal
from traceability.errors import InvalidInput
from traceability.models import Code, Event, Role

PLANT = Principal(role=Role.plant, party_id="PLANT-1")
GZ = Principal(role=Role.distributor, party_id="D-GZ")
NJ = Principal(role=Role.distributor, party_id="D-NJ")
SHOP = Principal(role=Role.store, party_id="S-GZ-1")


def scan(session: Session, who: Principal, step: str, raws: list[str], destination_id: str | None = None) -> None:
    request = ScanRequest(biz_step=step, codes=raws, destination_id=destination_id)
    outcome = record_scans(session=session, principal=who, request=request)
    assert not outcome.rejected, outcome.rejected


@pytest.fixture
def made(session: Session, tmp_path: Path) -> tuple[list[str], str]:
    """Twelve signed units; six packed in a case at the plant. Nothing shipped yet."""
    seed_masterdata(session)
    units = signed_codes(session, tmp_path / "keys", 12)
    scan(session, PLANT, "commissioning", units)
    case = codes.allocate_ssccs(session=session, company_prefix="6901234", count=1, party_id="PLANT-1")[0]
    assert case.sscc is not None
    pack(session=session, principal=PLANT, parent=case.sscc, children=units[:6])
    return units, case.sscc


@pytest.mark.parametrize(("lang", "words"), [("zh-CN", "未获授权向门店"), ("en", "is not authorised to supply")])
def test_receiving_from_a_distributor_not_authorised_to_supply_the_store_warns_at_once(
    client: TestClient, session: Session, made: tuple[list[str], str], lang: str, words: str
) -> None:
    units, _ = made
    scan(session, PLANT, "shipping", units[6:], destination_id="D-NJ")
    scan(session, NJ, "receiving", units[6:])
    scan(session, NJ, "shipping", units[6:8], destination_id="S-GZ-1")  # D-NJ does not supply S-GZ-1
    shop = auth(api_key(session, Role.store, "S-GZ-1"))
    r = client.post("/api/v1/scans", json={"biz_step": "receiving", "codes": units[6:8]},
                    headers={**shop, "Accept-Language": lang})  # fmt: skip
    assert r.status_code == 200, r.text
    accepted = r.json()["accepted"]
    assert len(accepted) == 2
    for item in accepted:
        (warning,) = item["warnings"]
        assert warning["kind"] == "unauthorized_channel"
        assert words in warning["message"] and "D-NJ" in warning["message"]


def test_receiving_from_its_own_supplier_is_quiet(session: Session, made: tuple[list[str], str]) -> None:
    units, case = made
    scan(session, PLANT, "shipping", [case], destination_id="D-GZ")
    scan(session, GZ, "receiving", [case])
    scan(session, GZ, "shipping", [case], destination_id="S-GZ-1")
    outcome = record_scans(session=session, principal=SHOP, request=ScanRequest(biz_step="receiving", codes=[case]))
    assert outcome.accepted[0]["warnings"] == [] and outcome.accepted[0]["units"] == 6


def test_a_case_opened_at_the_store_sells_unit_by_unit_and_keeps_its_history(
    session: Session, made: tuple[list[str], str]
) -> None:
    units, case = made
    scan(session, PLANT, "shipping", [case], destination_id="D-GZ")
    scan(session, GZ, "receiving", [case])
    scan(session, GZ, "shipping", [case], destination_id="S-GZ-1")
    scan(session, SHOP, "receiving", [case])
    # Another store may not open a case S-GZ-1 holds.
    with pytest.raises(NotHolder):
        unpack(session=session, principal=Principal(role=Role.store, party_id="S-NJ-1"), parent=case)
    opened = unpack(session=session, principal=SHOP, parent=case)
    assert len(opened.accepted) == 6
    (event,) = session.exec(select(Event).where(Event.biz_step == "unpacking")).all()
    doc = json.loads(event.document)
    assert doc["action"] == "DELETE" and len(doc["childEPCs"]) == 6 and event.location_party_id == "S-GZ-1"
    session.expire_all()
    assert all(c.parent_id is None for c in session.exec(select(Code).where(Code.level == "unit")))
    scan(session, SHOP, "retail_selling", units[:1])
    scan(session, SHOP, "retail_selling", units[1:2])
    # The units kept the case's journey (the plant's shipment to D-GZ): sold in D-GZ's own store, no alert.
    assert list_alerts(session=session, filters=AlertFilter()) == []
    with pytest.raises(InvalidInput):
        unpack(session=session, principal=SHOP, parent=case)  # opened already: it holds nothing now
