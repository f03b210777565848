"""Scans from our own scanners: validation, rejection with reasons, cases standing for units, idempotency."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func
from sqlmodel import Session, select

from codes import service as codes
from codes.identity import CodeIdentity
from codes.keyfiles import KeyFileStore
from codes.render import to_digital_link
from scanning.errors import IdempotencyConflict, ShipmentError
from scanning.service import (
    ScanRequest,
    close_shipment,
    open_shipment,
    pack,
    record_scans,
    scan_into_shipment,
)
from tests.factories import GTIN, api_key, auth, seed_masterdata
from traceability.auth.service import Principal
from traceability.errors import Forbidden
from traceability.models import Code, Event, RejectedScan, Role

PLANT = Principal(role=Role.plant, party_id="PLANT-1")
WAREHOUSE = Principal(role=Role.distributor, party_id="WH-1")
GZ = Principal(role=Role.distributor, party_id="D-GZ")
STORE = Principal(role=Role.store, party_id="S-GZ-1")


@pytest.fixture
def store(tmp_path: Path) -> KeyFileStore:
    return KeyFileStore(tmp_path / "keys")


def make_codes(session: Session, store: KeyFileStore, n: int) -> list[str]:
    out = io.StringIO()
    signer = codes.load_signer(session=session, store=store)
    codes.generate_codes(session=session, signer=signer, gtin=GTIN, lot="L1", expiry="271231", count=n, out=out,
                         party_id="PLANT-1")  # fmt: skip
    return out.getvalue().rstrip("\n").split("\n")


@pytest.fixture
def units(session: Session, store: KeyFileStore) -> list[str]:
    seed_masterdata(session)
    codes.create_key(session=session, store=store)
    return make_codes(session, store, 8)


def scan(session: Session, who: Principal, step: str, raws: list[str], **kw):
    return record_scans(session=session, principal=who, request=ScanRequest(biz_step=step, codes=raws, **kw))


def status(session: Session, raw: str) -> tuple[str, str | None]:
    row = codes.resolve_code(session=session, text=raw)
    session.refresh(row)
    return str(row.status), row.holder_id


def test_life_cycle_from_plant_to_sale(session: Session, units: list[str]) -> None:
    u = units[0]
    assert scan(session, PLANT, "commissioning", [u]).accepted
    assert status(session, u) == ("commissioned", "PLANT-1")
    scan(session, PLANT, "shipping", [u], destination_id="D-GZ")
    assert status(session, u) == ("shipped", "D-GZ")
    scan(session, GZ, "receiving", [u])
    assert status(session, u) == ("received", "D-GZ")
    scan(session, GZ, "shipping", [u], destination_id="S-GZ-1")
    scan(session, STORE, "receiving", [u])
    result = scan(session, STORE, "retail_selling", [u])
    assert result.accepted[0]["units"] == 1
    assert status(session, u) == ("sold", "S-GZ-1")


def test_every_rejection_has_a_reason_and_changes_nothing(session: Session, units: list[str], store) -> None:
    scan(session, PLANT, "commissioning", units[:3])
    scan(session, STORE, "receiving", units[:3])  # only the holder may sell: the store received them
    scan(session, STORE, "retail_selling", [units[0]])
    forged = units[1][:-3] + ("AAA" if not units[1].endswith("AAA") else "BBB")
    signer = codes.load_signer(session=session, store=store)
    never = to_digital_link(signer.sign(CodeIdentity(gtin=GTIN, serial="NEVERISSUED01", lot="L1", expiry="271231")))
    events_before = session.exec(select(func.count()).select_from(Event)).one()
    result = scan(session, STORE, "retail_selling", [units[0], forged, never, units[5], "hello", units[2], units[2]])
    reasons = {r["code"]: r["reason"] for r in result.rejected}
    assert reasons[units[0]] == "already_sold"
    assert reasons[forged] in ("bad_signature", "malformed")
    assert reasons[never] == "never_issued"
    assert reasons[units[5]] == "not_commissioned"
    assert reasons["hello"] == "malformed"
    assert [a["code"] for a in result.accepted] == [units[2]]
    assert len(result.rejected) == 6  # the second units[2] is a duplicate within the request
    stored = session.exec(select(RejectedScan).where(RejectedScan.capture_id == result.capture_id)).all()
    assert {r.reason for r in stored} >= {"already_sold", "never_issued", "not_commissioned", "malformed", "duplicate"}
    assert session.exec(select(func.count()).select_from(Event)).one() == events_before + 1
    assert status(session, units[5]) == ("generated", "PLANT-1")
    wrong_party = scan(session, GZ, "retail_selling", [units[1]])
    assert wrong_party.rejected[0]["reason"] == "party_not_authorized"


def test_keys_scan_only_as_their_own_party(session: Session, units: list[str]) -> None:
    with pytest.raises(Forbidden):
        scan(session, GZ, "receiving", [units[0]], party_id="D-NJ")


def test_a_case_scan_stands_for_its_units(session: Session, units: list[str]) -> None:
    scan(session, PLANT, "commissioning", units[:6])
    case = codes.allocate_ssccs(session=session, company_prefix="6901234", count=1, party_id="PLANT-1")[0]
    assert case.sscc is not None
    pack(session=session, principal=PLANT, parent=case.sscc, children=units[:6])
    result = scan(session, PLANT, "shipping", [case.sscc], destination_id="D-GZ")
    assert result.accepted[0]["units"] == 6
    assert {status(session, u) for u in units[:6]} == {("shipped", "D-GZ")}
    assert status(session, units[6]) == ("generated", "PLANT-1")


def test_idempotency_key_replays_and_refuses_reuse(session: Session, units: list[str]) -> None:
    first = record_scans(session=session, principal=PLANT, request=ScanRequest("commissioning", units[:2]),
                         idempotency_key="phone-42-0001")  # fmt: skip
    again = record_scans(session=session, principal=PLANT, request=ScanRequest("commissioning", units[:2]),
                         idempotency_key="phone-42-0001")  # fmt: skip
    assert again.replayed and again.event_id == first.event_id and again.accepted == first.accepted
    assert session.exec(select(func.count()).select_from(Event)).one() == 1
    with pytest.raises(IdempotencyConflict):
        record_scans(session=session, principal=PLANT, request=ScanRequest("commissioning", units[2:3]),
                     idempotency_key="phone-42-0001")  # fmt: skip


def test_shipment_session(session: Session, units: list[str]) -> None:
    scan(session, PLANT, "commissioning", units)
    scan(session, PLANT, "shipping", units, destination_id="D-GZ")
    shipment = open_shipment(session=session, principal=GZ, destination_id="S-GZ-1")
    assert shipment.id is not None
    first = scan_into_shipment(session=session, principal=GZ, shipment_id=shipment.id, codes=units[:3])
    assert len(first.accepted) == 3
    second = scan_into_shipment(session=session, principal=GZ, shipment_id=shipment.id, codes=[units[0], "junk"])
    assert [r["reason"] for r in second.rejected] == ["duplicate", "malformed"]
    with pytest.raises(Exception, match="no shipment"):
        close_shipment(session=session, principal=STORE, shipment_id=shipment.id)
    closed = close_shipment(session=session, principal=GZ, shipment_id=shipment.id)
    assert closed.event_id is not None
    assert {status(session, u)[1] for u in units[:3]} == {"S-GZ-1"}
    with pytest.raises(ShipmentError):
        close_shipment(session=session, principal=GZ, shipment_id=shipment.id)


def test_scan_api_end_to_end(client: TestClient, session: Session, units: list[str]) -> None:
    plant = auth(api_key(session, Role.plant))
    store_key = auth(api_key(session, Role.store))
    r = client.post("/api/v1/scans", json={"biz_step": "commissioning", "codes": units[:2]},
                    headers={**plant, "Idempotency-Key": "k1"})  # fmt: skip
    assert r.status_code == 200, r.text
    assert len(r.json()["accepted"]) == 2
    replay = client.post("/api/v1/scans", json={"biz_step": "commissioning", "codes": units[:2]},
                         headers={**plant, "Idempotency-Key": "k1"})  # fmt: skip
    assert replay.json()["replayed"] is True
    bad = client.post("/api/v1/scans", json={"biz_step": "retail_selling", "codes": [units[3]]}, headers=store_key)
    assert bad.status_code == 200 and bad.json()["rejected"][0]["reason"] == "not_commissioned"
    listed = client.get("/api/v1/scans/rejected", headers=store_key).json()
    assert listed[0]["reason"] == "not_commissioned"
    assert client.get("/api/v1/scans/rejected", headers=plant).json() == []
    assert session.exec(select(Code).where(Code.status == "commissioned")).all()


def _photo(texts: list[str]) -> bytes:
    """A white canvas with a QR code per text, like a photo of a case top, PNG-encoded."""
    import cv2
    import numpy as np
    import zxingcpp

    tiles = [np.asarray(zxingcpp.create_barcode(t, zxingcpp.BarcodeFormat.QRCode).to_image(scale=4)) for t in texts]
    size = max(t.shape[0] for t in tiles) + 40
    canvas = np.full((size, size * len(tiles)), 255, dtype=np.uint8)
    for i, tile in enumerate(tiles):
        canvas[20 : 20 + tile.shape[0], i * size + 20 : i * size + 20 + tile.shape[1]] = tile
    ok, png = cv2.imencode(".png", canvas)
    assert ok
    return png.tobytes()


def test_photo_of_a_case_top_is_one_scan(client: TestClient, session: Session, units: list[str]) -> None:
    plant = auth(api_key(session, Role.plant))
    photo = _photo(units[:4])
    r = client.post("/api/v1/scans/image", files={"image": ("top.png", photo, "image/png")},
                    data={"biz_step": "commissioning"}, headers=plant)  # fmt: skip
    assert r.status_code == 200, r.text
    assert sorted(a["code"] for a in r.json()["accepted"]) == sorted(units[:4])
    assert {status(session, u)[0] for u in units[:4]} == {"commissioned"}
    corrupt = client.post("/api/v1/scans/image", files={"image": ("x.png", b"\x89PNG broken", "image/png")},
                          data={"biz_step": "commissioning"}, headers=plant)  # fmt: skip
    assert corrupt.status_code == 422 and corrupt.json()["error"] == "corrupt_image"


def test_member_on_a_sale_is_stored_only_as_a_keyed_hash(client: TestClient, session: Session, units) -> None:
    scan(session, PLANT, "commissioning", units[:2])
    scan(session, STORE, "receiving", units[:2])
    store_key = auth(api_key(session, Role.store))
    sale = {"biz_step": "retail_selling", "codes": units[:1], "member": "+86 138-0013-8000"}
    r = client.post("/api/v1/scans", json=sale, headers=store_key)
    assert r.status_code == 200, r.text
    event = session.exec(select(Event).where(Event.biz_step == "retail_selling")).one()
    assert "13800138000" not in event.document
    import json as _json

    stored = _json.loads(event.document)["trc:member"]
    assert len(stored) == 64
    bad = client.post("/api/v1/scans", json={"biz_step": "retail_selling", "codes": units[1:2], "member": "abc"},
                      headers=store_key)  # fmt: skip
    assert bad.status_code == 422


def test_nul_in_input_is_refused_not_a_server_error(client: TestClient, session: Session, units) -> None:
    key = auth(api_key(session, Role.distributor))
    r = client.post("/api/v1/shipments", json={"destination": "S-GZ\x001"}, headers=key)
    assert r.status_code in (404, 422), r.text
    scan_key = auth(api_key(session, Role.store))
    r = client.post("/api/v1/scans", json={"biz_step": "retail_selling", "codes": ["\x00abc"]}, headers=scan_key)
    assert r.status_code == 200
    assert r.json()["rejected"][0]["reason"] == "malformed"
    stored = session.exec(select(RejectedScan)).all()
    assert stored[-1].raw == "\\x00abc"
