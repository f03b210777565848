"""A sighting has a source: an anonymous check with invented coordinates costs no distributor anything.

Its alert waits as ``unverified`` (settlement reads none of it) until an auditor opens or confirms it; a signed-in
auditor's own check counts at once.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from codes import service as codes
from codes.keyfiles import KeyFileStore
from rebates.policy import Policy
from scanning.service import ScanRequest, record_scans
from settlement.service import run_settlement
from tests.factories import GTIN, api_key, auth, seed_masterdata
from traceability.auth.service import Principal
from traceability.models import Alert, AlertKind, AlertStatus, Event, Role
from traceability.settings import Settings

NANJING = {"lat": 32.0601, "lon": 118.7999}  # beside S-NJ-1, outside D-GZ's territory


@pytest.fixture
def units(session: Session, settings: Settings) -> list[str]:
    """Three signed units at D-GZ (commissioned, shipped by the plant, received), this month."""
    seed_masterdata(session)
    store = KeyFileStore(settings.key_dir)
    codes.create_key(session=session, store=store)
    out = io.StringIO()
    codes.generate_codes(session=session, signer=codes.load_signer(session=session, store=store), gtin=GTIN,
                         lot="L1", expiry="271231", count=3, out=out, party_id="PLANT-1")  # fmt: skip
    made = out.getvalue().split()
    plant, gz = Principal(role=Role.plant, party_id="PLANT-1"), Principal(role=Role.distributor, party_id="D-GZ")
    for who, step, extra in ((plant, "commissioning", {}), (plant, "shipping", {"destination_id": "D-GZ"}),
                             (gz, "receiving", {})):  # fmt: skip
        outcome = record_scans(session=session, principal=who, request=ScanRequest(biz_step=step, codes=made,
                                                                               destination_id=extra.get("destination_id")))
        assert not outcome.rejected, outcome.rejected
    return made


def _gz_line(session: Session) -> dict[str, object]:
    session.expire_all()
    doc = run_settlement(session=session, period=_period(session), policy=Policy()).as_dict()
    return next(d for d in doc["distributors"] if d["party"] == "D-GZ")


def _period(session: Session) -> str:
    """This month: the purchases and the checks (stamped now) both fall in it."""
    return datetime.now(UTC).strftime("%Y-%m")


def _oot(session: Session) -> list[Alert]:
    session.expire_all()
    return list(session.exec(select(Alert).where(Alert.kind == AlertKind.out_of_territory)).all())


def test_an_anonymous_check_raises_only_an_unverified_alert(
    client: TestClient, session: Session, units: list[str]
) -> None:
    before = _gz_line(session)
    r = client.post("/check/inspect", json={"code": units[0], **NANJING})
    assert r.status_code == 200 and r.json()["recorded"] is True, r.text
    (event,) = session.exec(select(Event).where(Event.biz_step == "inspecting")).all()
    assert event.origin == "consumer" and event.location_party_id == "S-NJ-1"
    (alert,) = _oot(session)
    assert alert.status == AlertStatus.unverified and alert.responsible_distributor_id == "D-GZ"
    assert _gz_line(session) == before  # settlement reads none of it

    # The same invented sightings, a hundred times over (different units, one client): still nothing counts.
    for _ in range(3):
        client.post("/check/inspect", json={"code": units[1], **NANJING})
    assert {a.status for a in _oot(session)} == {AlertStatus.unverified}
    assert _gz_line(session) == before

    # An auditor who checked it opens the case: from then on it counts against D-GZ.
    auditor = auth(api_key(session, Role.auditor, "AUD"))
    r = client.patch(f"/api/v1/alerts/{alert.id}", json={"status": "open", "note": "seen on the shelf"},
                     headers=auditor)  # fmt: skip
    assert r.status_code == 200, r.text
    after = _gz_line(session)
    assert after["diverted_units"] == int(str(before["diverted_units"])) + 1


def test_a_distributor_cannot_open_an_unverified_alert(
    client: TestClient, session: Session, units: list[str]
) -> None:
    client.post("/check/inspect", json={"code": units[0], **NANJING})
    (alert,) = _oot(session)
    rival = auth(api_key(session, Role.distributor, "D-NJ"))
    r = client.patch(f"/api/v1/alerts/{alert.id}", json={"status": "open"}, headers=rival)
    assert r.status_code == 403
    assert _oot(session)[0].status == AlertStatus.unverified


def test_a_signed_in_auditors_check_counts_at_once(client: TestClient, session: Session, units: list[str]) -> None:
    before = _gz_line(session)
    auditor = auth(api_key(session, Role.auditor, "AUD"))
    r = client.post("/check/inspect", json={"code": units[2], **NANJING}, headers=auditor)
    assert r.status_code == 200 and r.json()["recorded"] is True, r.text
    (alert,) = _oot(session)
    assert alert.status == AlertStatus.open
    assert _gz_line(session)["diverted_units"] == int(str(before["diverted_units"])) + 1


def test_a_verified_sighting_opens_an_unverified_alert(
    client: TestClient, session: Session, units: list[str]
) -> None:
    client.post("/check/inspect", json={"code": units[0], **NANJING})
    assert _oot(session)[0].status == AlertStatus.unverified
    # The Nanjing store itself scans the unit (a verified sighting at the same place): the alert opens.
    nj = auth(api_key(session, Role.store, "S-NJ-1"))
    r = client.post("/api/v1/scans", json={"biz_step": "inspecting", "codes": [units[0]]}, headers=nj)
    assert r.status_code in (200, 201) and r.json()["accepted"], r.text
    (alert,) = _oot(session)
    assert alert.status == AlertStatus.open
