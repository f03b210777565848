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


def _every_stored_value(session: Session) -> str:
    """Every row of every table, as one text: what a phone in clear would have to hide in."""
    from sqlmodel import SQLModel

    session.flush()
    return "\n".join(repr(tuple(row)) for table in SQLModel.metadata.sorted_tables
                     for row in session.connection().execute(table.select()))  # fmt: skip


def test_the_member_registry_keeps_no_phone_in_clear(client: TestClient, session: Session) -> None:
    seed_masterdata(session)
    store = auth(api_key(session, Role.store, "S-GZ-1"))
    bodies = []
    r = client.post("/api/v1/members", json={"member": PHONE, "name": "王芳"}, headers=store)
    assert r.status_code == 201, r.text
    bodies.append(r.text)
    bodies.append(client.post("/api/v1/members/lookup", json={"member": PHONE}, headers=store).text)
    bodies.append(client.get("/api/v1/members", headers=store).text)
    bodies.append(client.post("/api/v1/members", json={"member": "138 0013 80"}, headers=store).text)
    bodies.append(client.post("/api/v1/members/import", content="手机号\n13900139000\n13900139000\n139001\n".encode(),
                              headers=store | {"Content-Type": "text/csv"}).text)  # fmt: skip
    for body in bodies:
        assert "13800138000" not in body and "138 0013" not in body and "13900139000" not in body
        assert "139001" not in body and "1380013800" not in body
    stored = _every_stored_value(session)
    assert "王芳" in stored  # the registry did store what it was given
    assert "13800138000" not in stored and "138 0013" not in stored and "13900139000" not in stored
