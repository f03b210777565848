"""A phone number never reaches storage or an error body in clear, on the EPCIS door or the scan API."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from tests.factories import api_key, auth, seed_masterdata
from tests.security.test_entitlements import document, event
from traceability.models import Event, Role

PHONE = "+86 138 0013 8000"


def test_a_phone_sent_through_epcis_is_stored_only_as_its_keyed_hash(client: TestClient, session: Session) -> None:
    seed_masterdata(session)
    store = auth(api_key(session, Role.store, "S-GZ-1"))
    sale = event("retail_selling", ["P1"], "S-GZ-1", "05") | {"trc:member": PHONE}
    r = client.post("/epcis/capture", json=document(sale), headers=store)
    assert r.status_code == 202, r.text
    session.expire_all()
    stored = session.exec(select(Event.document)).all()
    assert all("13800138000" not in d and "138 0013" not in d for d in stored)
    assert any('"trc:member":"' in d for d in stored)


def test_a_mistyped_phone_is_not_echoed(client: TestClient, session: Session) -> None:
    seed_masterdata(session)
    store = auth(api_key(session, Role.store, "S-GZ-1"))
    typo = "13800"  # too short to be a phone number, but still somebody's digits
    sale = event("retail_selling", ["P2"], "S-GZ-1", "05") | {"trc:member": typo}
    r = client.post("/epcis/capture", json=document(sale), headers=store)
    assert r.status_code == 422 and typo not in r.text
    scan = client.post("/api/v1/scans", json={"biz_step": "retail_selling", "codes": ["x"], "member": typo},
                       headers=store)  # fmt: skip
    assert scan.status_code == 422 and typo not in scan.text
    assert session.exec(select(Event)).all() == []
