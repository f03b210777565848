"""``GS1-Capture-Error-Behaviour``. The binding's header takes ``rollback`` (the default), ``proceed`` and ``all``,
and describes two behaviours: ``rollback`` — "All or nothing": the job entirely succeeds or every event is refused —
and ``proceed``, greedy capture. ``all`` has no description of its own, and the capture job's
``captureErrorBehaviour`` may only be ``rollback`` or ``proceed``: ``all`` is the all-or-nothing capture, named as
the binding names rollback ("All or nothing"). So ``all`` is ``rollback`` here, and its job says ``rollback``."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from tests.factories import api_key, auth, seed_masterdata
from tests.scanning.test_epcis_rest import document, event, listed
from traceability.models import Role


@pytest.fixture
def key(session: Session) -> Any:
    seed_masterdata(session)
    return api_key(session, Role.distributor, "D-GZ")


def _stored(client: TestClient, key: Any) -> list[str]:
    return [e["epcList"][0].rsplit(".", 1)[1] for e in listed(client.get("/epcis/events", headers=auth(key)))]


@pytest.mark.parametrize("mode", ["all", "ALL", "rollback", None])
def test_all_is_all_or_nothing_like_rollback(client: TestClient, key: Any, mode: str | None) -> None:
    headers = {**auth(key), "Accept-Language": "en", **({"GS1-Capture-Error-Behaviour": mode} if mode else {})}
    mixed = document(event("G1"), event("B1", t="soon"), event("G2"))
    refused = client.post("/epcis/capture", json=mixed, headers=headers)
    assert refused.status_code == 422, refused.text
    assert [p["path"] for p in refused.json()["problems"]] == ["/epcisBody/eventList/1"]
    assert _stored(client, key) == []  # the valid events were refused with the bad one
    good = client.post("/epcis/capture", json=document(event("G1"), event("G2")), headers=headers)
    assert good.status_code == 202 and good.json()["stored"] == 2
    job = client.get(good.headers["Location"], headers=auth(key)).json()
    assert job["success"] is True and job["captureErrorBehaviour"] == "rollback"
    assert _stored(client, key) == ["G1", "G2"]


def test_proceed_is_not_all(client: TestClient, key: Any) -> None:
    mixed = document(event("G1"), event("B1", t="soon"), event("G2"))
    kept = client.post("/epcis/capture", json=mixed, headers={**auth(key), "GS1-Capture-Error-Behaviour": "proceed"})
    assert kept.status_code == 202 and kept.json()["stored"] == 2 and len(kept.json()["refused"]) == 1
    job = client.get(kept.headers["Location"], headers=auth(key)).json()
    assert job["success"] is False and job["captureErrorBehaviour"] == "proceed"
    assert _stored(client, key) == ["G1", "G2"]


@pytest.mark.parametrize(("lang", "words"), [("zh-CN", "应为以下之一：rollback、proceed、all"),
                                             ("en", "must be one of rollback, proceed, all")])  # fmt: skip
def test_a_value_the_binding_does_not_define_is_refused_by_name(client: TestClient, key: Any, lang: str,
                                                                words: str) -> None:  # fmt: skip
    """A typo must not quietly mean all or nothing: the caller learns which header is wrong, and nothing is stored."""
    headers = {**auth(key), "Accept-Language": lang, "GS1-Capture-Error-Behaviour": "proceeed"}
    refused = client.post("/epcis/capture", json=document(event("G1"), event("G2")), headers=headers)
    assert refused.status_code == 400, refused.text
    body = refused.json()
    assert body["error"] == "header_invalid" and body["header"] == "GS1-Capture-Error-Behaviour"
    assert body["allowed"] == ["rollback", "proceed", "all"]
    assert words in body["detail"] and "proceeed" in body["detail"]
    assert _stored(client, key) == []
