"""A distributor answers the alerts attributed to it with a note, and can do nothing else to them (issue 13): not to
another distributor's alerts, not to a status or an assignee, not to settlement. Auditors and admins note any."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from flow_graph import service
from flow_graph.errors import AlertNotFound
from rebates.policy import Policy
from settlement.service import run_settlement
from tests.factories import api_key, auth, seed_masterdata
from tests.flow_graph.helpers import alerts, capture, ev, made, unit
from tests.flow_graph.test_service import cross_territory
from traceability.auth.service import Principal
from traceability.errors import InvalidInput
from traceability.models import Alert, AlertNote, AlertStatus, Role


@pytest.fixture
def two_leaks(session: Session) -> dict[str, Alert]:
    """D-GZ leaks unit 1 into Nanjing; D-NJ leaks unit 2 into Guangzhou: each is responsible for its own alerts."""
    seed_masterdata(session)
    capture(session, *cross_territory(1))
    capture(
        session,
        *made(2, 1, hour=100),
        ev(201, "shipping", [unit(2)], "PLANT-1", 102, dest="D-NJ"),
        ev(202, "shipping", [unit(2)], "D-NJ", 130, dest="S-GZ-1"),
        ev(203, "retail_selling", [unit(2)], "S-GZ-1", 180),
    )
    found = {(a.responsible_distributor_id, str(a.kind)): a for a in alerts(session)}
    return {"D-GZ": found[("D-GZ", "out_of_territory")], "D-NJ": found[("D-NJ", "out_of_territory")]}


def _state(session: Session) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Every alert row and the April settlement: what a note must leave as it was."""
    rows = [{name: getattr(a, name) for name in Alert.model_fields} for a in alerts(session, withdrawn=True)]
    return rows, run_settlement(session=session, period="2026-04", policy=Policy()).as_dict()


def _notes(session: Session, alert: Alert) -> list[AlertNote]:
    return list(session.exec(select(AlertNote).where(AlertNote.alert_id == alert.id, AlertNote.action == "note")))


def test_a_distributor_sees_only_the_alerts_attributed_to_it(client: TestClient, session: Session,
                                                             two_leaks) -> None:  # fmt: skip
    gz = client.get("/api/v1/alerts", headers=auth(api_key(session, Role.distributor, "D-GZ"))).json()
    assert gz and {a["responsible_distributor"] for a in gz} == {"D-GZ"}
    nj = client.get("/api/v1/alerts", headers=auth(api_key(session, Role.distributor, "D-NJ"))).json()
    assert nj and {a["responsible_distributor"] for a in nj} == {"D-NJ"}
    assert client.get(f"/api/v1/alerts/{two_leaks['D-NJ'].id}",
                      headers=auth(api_key(session, Role.distributor, "D-GZ"))).status_code == 404  # fmt: skip


def test_a_distributor_answers_its_own_alert_and_changes_nothing_else(client: TestClient, session: Session,
                                                                      two_leaks) -> None:  # fmt: skip
    own = two_leaks["D-GZ"]
    before = _state(session)
    key = api_key(session, Role.distributor, "D-GZ")
    resp = client.post(f"/api/v1/alerts/{own.id}/notes", headers=auth(key), json={"text": "  已联系门店，正在核实  "})
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert body["alert"]["status"] == "open"
    note = body["history"][-1]
    assert (note["action"], note["text"]) == ("note", "已联系门店，正在核实")
    assert note["author"] == f"D-GZ (distributor, key {key.id})" and note["from_status"] is None
    session.expire_all()
    assert _state(session) == before  # every alert column (status, assignee, updated_at) and every figure


@pytest.mark.parametrize(
    "patch", [{"status": "dismissed"}, {"status": "investigating"}, {"assignee": "D-GZ"}, {"note": "via patch"}]
)
def test_a_distributor_may_never_patch_an_alert(client: TestClient, session: Session, two_leaks, patch) -> None:
    own = two_leaks["D-GZ"]
    before = _state(session)
    resp = client.patch(f"/api/v1/alerts/{own.id}", headers=auth(api_key(session, Role.distributor, "D-GZ")),
                        json=patch)  # fmt: skip
    assert resp.status_code == 403 and resp.json()["error"] == "forbidden"
    session.expire_all()
    assert _state(session) == before and _notes(session, own) == []


def test_a_distributor_cannot_note_another_distributors_alert(client: TestClient, session: Session,
                                                              two_leaks) -> None:  # fmt: skip
    theirs = two_leaks["D-NJ"]
    before = _state(session)
    key = auth(api_key(session, Role.distributor, "D-GZ"))
    for alert_id in (theirs.id, 999_999):
        resp = client.post(f"/api/v1/alerts/{alert_id}/notes", headers=key, json={"text": "not ours, dismiss it"})
        assert resp.status_code == 404 and resp.json()["error"] == "alert_not_found"
        assert "没有您可查看的预警" in resp.json()["detail"]  # Chinese by default
    english = client.post(f"/api/v1/alerts/{theirs.id}/notes", headers={**key, "Accept-Language": "en"},
                          json={"text": "x"})  # fmt: skip
    assert english.status_code == 404 and "that you may see" in english.json()["detail"]
    session.expire_all()
    assert _state(session) == before and _notes(session, theirs) == []
    with pytest.raises(AlertNotFound):
        service.add_note(session=session, alert_id=theirs.id or 0, principal=Principal(Role.distributor, "D-GZ"),
                         text="from the service door too")  # fmt: skip


def test_stores_and_finance_cannot_note_and_notes_need_text(client: TestClient, session: Session,
                                                            two_leaks) -> None:  # fmt: skip
    own = two_leaks["D-GZ"]
    url = f"/api/v1/alerts/{own.id}/notes"
    for role, party in ((Role.store, "S-NJ-1"), (Role.finance, "BRAND"), (Role.plant, "PLANT-1")):
        assert client.post(url, headers=auth(api_key(session, role, party)), json={"text": "hi"}).status_code == 403
    key = auth(api_key(session, Role.distributor, "D-GZ"))
    for text in ("", "x" * 2001):
        assert client.post(url, headers=key, json={"text": text}).status_code == 422
    blank = client.post(url, headers=key, json={"text": "   "})
    assert blank.status_code == 422 and blank.json()["error"] == "invalid_input"
    assert _notes(session, own) == []
    with pytest.raises(InvalidInput):
        service.add_note(session=session, alert_id=own.id or 0, principal=Principal(Role.distributor, "D-GZ"),
                         text="\n\t ")  # fmt: skip


def test_auditors_and_admins_note_any_alert_and_the_status_stays(client: TestClient, session: Session,
                                                                 two_leaks) -> None:  # fmt: skip
    for role, party in ((Role.auditor, "AUD"), (Role.admin, "BRAND")):
        for alert in two_leaks.values():
            resp = client.post(f"/api/v1/alerts/{alert.id}/notes", headers=auth(api_key(session, role, party)),
                               json={"text": f"{role.value} looked"})  # fmt: skip
            assert resp.status_code == 201 and resp.json()["alert"]["status"] == AlertStatus.open.value
    assert [n.text for n in _notes(session, two_leaks["D-NJ"])] == ["auditor looked", "admin looked"]
