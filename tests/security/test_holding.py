"""Knowing a unit's code is not holding it: a party that ships, sells or packs what another holds is named for it.

Through EPCIS the event is stored (it is evidence) and raises ``holder_mismatch`` against the party that asserted
it, never against the holder's distributor; through our own scanners it is refused (``not_holder``, naming the
holder). Either way the framed distributor's settlement line and alerts are unchanged.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from codes import service as codes
from codes.keyfiles import KeyFileStore
from flow_graph.service import AlertFilter, list_alerts
from rebates.policy import Policy
from scanning.errors import NotHolder
from scanning.service import ScanRequest, pack, record_scans
from settlement.service import run_settlement
from tests.factories import GTIN, api_key, auth, masterdata_doc
from tests.security.test_entitlements import World, event
from traceability.auth.service import Principal
from traceability.gs1 import with_check_digit
from traceability.masterdata.service import import_masterdata
from traceability.models import Role
from traceability.settings import Settings


def _line(session: Session, distributor: str) -> dict[str, object]:
    figures = run_settlement(session=session, period="2026-02", policy=Policy()).as_dict()
    return next(d for d in figures["distributors"] if d["party"] == distributor)


def _blamed(session: Session, distributor: str) -> set[tuple[str, str, str | None]]:
    return {(str(a.kind), a.unit_key, a.party_id) for a in list_alerts(session=session, filters=AlertFilter())
            if a.responsible_distributor_id == distributor}  # fmt: skip


def test_a_distributor_shipping_a_competitors_unit_is_named_and_the_competitor_is_not(
    client: TestClient, session: Session
) -> None:
    world = World(client, session)
    before_line, before_blame = _line(session, "D-GZ"), _blamed(session, "D-GZ")
    # D-NJ "ships" G3, which D-GZ received and holds, to its own store, which receives and sells it (outside
    # D-GZ's territory): an attempt to make D-GZ look like a leaker.
    world.post("D-NJ", event("shipping", ["G3"], "D-NJ", "07", source="D-NJ", to="S-NJ-1"), expect=202)
    world.post("S-NJ-1", event("receiving", ["G3"], "S-NJ-1", "08"), expect=202)
    world.post("S-NJ-1", event("retail_selling", ["G3"], "S-NJ-1", "09"), expect=202)
    session.expire_all()
    # (The world's codes are nobody's issue, so each also has its counterfeit_suspected alerts: left aside here.)
    found = [a for a in list_alerts(session=session, filters=AlertFilter())
             if a.unit_key.endswith("/21/G3") and a.kind != "counterfeit_suspected"]  # fmt: skip
    assert {(str(a.kind), a.party_id, a.responsible_distributor_id) for a in found} == {
        ("holder_mismatch", "D-NJ", "D-NJ")
    }
    (mismatch,) = found
    assert "held by D-GZ" in mismatch.detail and mismatch.status == "open"
    assert _blamed(session, "D-GZ") == before_blame and _line(session, "D-GZ") == before_line


def test_a_store_selling_a_unit_another_store_holds_is_named(client: TestClient, session: Session) -> None:
    world = World(client, session)
    before_line, before_blame = _line(session, "D-GZ"), _blamed(session, "D-GZ")
    # G1 was sold at S-GZ-1; S-NJ-1 "sells" its code again; G3 is still at D-GZ and S-NJ-1 "sells" it too.
    world.post("S-NJ-1", event("retail_selling", ["G1"], "S-NJ-1", "10"), expect=202)
    world.post("S-NJ-1", event("retail_selling", ["G3"], "S-NJ-1", "10"), expect=202)
    session.expire_all()
    mine = {(str(a.kind), a.unit_key.rsplit("/", 1)[1], a.party_id, a.responsible_distributor_id)
            for a in list_alerts(session=session, filters=AlertFilter()) if a.party_id == "S-NJ-1"
            and a.unit_key.rsplit("/", 1)[1] in ("G1", "G3") and a.kind != "counterfeit_suspected"}  # fmt: skip
    assert mine == {("holder_mismatch", "G1", "S-NJ-1", None), ("clone_suspected", "G1", "S-NJ-1", None),
                    ("holder_mismatch", "G3", "S-NJ-1", None)}  # fmt: skip
    assert _blamed(session, "D-GZ") == before_blame and _line(session, "D-GZ") == before_line


# --- our scanners refuse -------------------------------------------------------------------------------------------


@pytest.fixture
def made(session: Session, tmp_path: Path) -> list[str]:
    """Six signed units commissioned at the plant and shipped to D-GZ, which received them and sent four on to
    S-GZ-1, which received those. A warehouse of D-NJ's own (WH-NJ) is in the master data too."""
    doc = masterdata_doc()
    doc["parties"].append({"id": "WH-NJ", "kind": "warehouse", "name": "南京经销商仓库", "gln": with_check_digit(
        "690123400009"), "territory": "CN-32-01", "owner": "D-NJ"})  # fmt: skip
    import_masterdata(session=session, raw=doc)
    store = KeyFileStore(tmp_path / "keys")
    codes.create_key(session=session, store=store)
    out = io.StringIO()
    codes.generate_codes(session=session, signer=codes.load_signer(session=session, store=store), gtin=GTIN,
                         lot="L1", expiry="271231", count=6, out=out, party_id="PLANT-1")  # fmt: skip
    units = out.getvalue().split()
    plant, gz, store_gz = (Principal(role=Role.plant, party_id="PLANT-1"),
                           Principal(role=Role.distributor, party_id="D-GZ"),
                           Principal(role=Role.store, party_id="S-GZ-1"))  # fmt: skip
    steps = [(plant, "commissioning", units, {}), (plant, "shipping", units, {"destination_id": "D-GZ"}),
             (gz, "receiving", units, {}), (gz, "shipping", units[:4], {"destination_id": "S-GZ-1"}),
             (store_gz, "receiving", units[:4], {})]  # fmt: skip
    for who, step, scanned, extra in steps:
        request = ScanRequest(biz_step=step, codes=scanned, destination_id=extra.get("destination_id"))
        outcome = record_scans(session=session, principal=who, request=request)
        assert not outcome.rejected, outcome.rejected
    return units


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    return Settings(db=db_url, key_dir=tmp_path / "keys", resolver="https://id.example.com")


@pytest.mark.parametrize(("lang", "holder_words"), [("zh-CN", "该货品由"), ("en", "held by")])
def test_the_scan_api_refuses_to_sell_a_unit_another_store_holds(
    client: TestClient, session: Session, made: list[str], lang: str, holder_words: str
) -> None:
    nj = auth(api_key(session, Role.store, "S-NJ-1"))
    before = _blamed(session, "D-GZ")
    r = client.post("/api/v1/scans", json={"biz_step": "retail_selling", "codes": made[:2]},
                    headers={**nj, "Accept-Language": lang})  # fmt: skip
    assert r.status_code in (200, 201), r.text
    body = r.json()
    assert body["accepted"] == []
    assert [i["reason"] for i in body["rejected"]] == ["not_holder", "not_holder"]
    assert all(holder_words in i["message"] and "S-GZ-1" in i["message"] for i in body["rejected"])
    session.expire_all()
    assert _blamed(session, "D-GZ") == before
    # The holder sells them without a word.
    gz = auth(api_key(session, Role.store, "S-GZ-1"))
    r = client.post("/api/v1/scans", json={"biz_step": "retail_selling", "codes": made[:2]}, headers=gz)
    assert [i["code"] for i in r.json()["accepted"]] == made[:2]


def test_a_warehouse_may_not_pack_units_another_distributor_holds(session: Session, made: list[str]) -> None:
    nj_warehouse = Principal(role=Role.plant, party_id="WH-NJ")
    with pytest.raises(NotHolder) as refused:
        pack(session=session, principal=nj_warehouse, parent=_sscc(session), children=made[4:6])
    assert [u["reason"] for u in refused.value.detail["units"]] == ["not_holder", "not_holder"]
    assert "D-GZ" in refused.value.message
    # The brand's own warehouse may (the brand may recall or re-route its goods).
    outcome = pack(session=session, principal=Principal(role=Role.plant, party_id="WH-1"), parent=_sscc(session),
                   children=made[4:6])  # fmt: skip
    assert len(outcome.accepted) == 2


def _sscc(session: Session) -> str:
    case = codes.allocate_ssccs(session=session, company_prefix="6901234", count=1, party_id="PLANT-1")[0]
    assert case.sscc is not None
    return case.sscc


def test_a_store_retracts_its_own_scanned_sale_through_epcis_and_no_one_elses(
    client: TestClient, session: Session, made: list[str]
) -> None:
    import json

    from sqlmodel import select

    from traceability.models import Event, Sale

    gz = auth(api_key(session, Role.store, "S-GZ-1"))
    r = client.post("/api/v1/scans", json={"biz_step": "retail_selling", "codes": made[:1]}, headers=gz)
    assert r.json()["accepted"], r.text
    stored = session.exec(select(Event).where(Event.biz_step == "retail_selling")).one()
    # The event as our scanner stored it names the unit by its URN, without the label's signature: retracting it
    # repeats it, and a declaration asserts nothing new about the code.
    declaration = {**json.loads(stored.document), "errorDeclaration": {
        "declarationTime": "2026-12-01T12:00:00Z", "reason": "incorrect_data"}}  # fmt: skip
    declaration.pop("@context", None)
    doc = {"@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"], "type": "EPCISDocument",
           "schemaVersion": "2.0", "creationDate": "2026-12-01T12:00:00Z",
           "epcisBody": {"eventList": [declaration]}}  # fmt: skip
    nj = auth(api_key(session, Role.store, "S-NJ-1"))
    assert client.post("/epcis/capture", json=doc, headers=nj).status_code == 403
    assert session.exec(select(Sale)).all(), "another store's retraction changed nothing"
    r = client.post("/epcis/capture", json=doc, headers=gz)
    assert r.status_code == 202, r.text
    session.expire_all()
    assert session.exec(select(Sale)).all() == []
