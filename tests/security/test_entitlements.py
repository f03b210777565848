"""A dishonest partner with nothing but its own API key, at the EPCIS door: every attempt refused, nothing changed.

Each attack goes through the real API; afterwards the alerts, the settlement figures, the facts and the stored
events are compared with a digest taken before it.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import Session, select

from flow_graph.service import AlertFilter, list_alerts
from rebates.policy import Policy
from settlement.service import run_settlement
from tests.factories import api_key, auth, seed_masterdata
from traceability.models import Event, Purchase, Role, Sale

CTX = ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"]
GLN = {"BRAND": "6901234000009", "WH-1": "6901234000023", "D-GZ": "6901234000030", "D-NJ": "6901234000054",
       "S-GZ-1": "6901234000047", "S-NJ-1": "6901234000061"}  # fmt: skip
PARTIES = ["WH-1", "D-GZ", "D-NJ", "S-GZ-1", "S-NJ-1"]
ROLE = {"WH-1": Role.admin, "D-GZ": Role.distributor, "D-NJ": Role.distributor, "S-GZ-1": Role.store,
        "S-NJ-1": Role.store}  # fmt: skip


def unit(serial: str) -> str:
    return f"urn:epc:id:sgtin:6901234.000010.{serial}"


def event(step: str, serials: list[str], at: str, when: str, *, source: str | None = None, to: str | None = None,
          event_id: str | None = None) -> dict[str, Any]:  # fmt: skip
    e: dict[str, Any] = {
        "eventID": event_id or f"urn:uuid:{uuid.uuid4()}", "type": "ObjectEvent", "action": "OBSERVE",
        "bizStep": step, "epcList": [unit(s) for s in serials], "eventTime": f"2026-02-{when}T10:00:00+08:00",
        "eventTimeZoneOffset": "+08:00", "bizLocation": {"id": f"https://id.gs1.org/414/{GLN[at]}"},
    }  # fmt: skip
    if source:
        e["sourceList"] = [{"type": "owning_party", "source": f"https://id.gs1.org/414/{GLN[source]}"}]
    if to:
        e["destinationList"] = [{"type": "owning_party", "destination": f"https://id.gs1.org/414/{GLN[to]}"}]
    return e


def retraction(original: dict[str, Any]) -> dict[str, Any]:
    return {**original, "errorDeclaration": {"declarationTime": "2026-02-20T00:00:00Z", "reason": "incorrect_data"}}


def document(*events: dict[str, Any]) -> dict[str, Any]:
    return {"@context": CTX, "type": "EPCISDocument", "schemaVersion": "2.0", "creationDate": "2026-02-20T00:00:00Z",
            "epcisBody": {"eventList": list(events)}}  # fmt: skip


class World:
    """Brand → D-GZ and D-NJ; each ships to its store; D-GZ also leaks one unit into S-NJ-1; stores sell."""

    def __init__(self, client: TestClient, session: Session) -> None:
        seed_masterdata(session)
        self.client, self.session = client, session
        self.keys = {party: auth(api_key(session, ROLE[party], party)) for party in PARTIES}
        self.events: dict[str, dict[str, Any]] = {}
        self.by: dict[str, str] = {}
        plan = [
            ("brand_gz", "WH-1", event("shipping", ["G1", "G2", "G3"], "WH-1", "02", source="WH-1", to="D-GZ")),
            ("brand_nj", "WH-1", event("shipping", ["N1", "N2"], "WH-1", "02", source="WH-1", to="D-NJ")),
            ("gz_in", "D-GZ", event("receiving", ["G1", "G2", "G3"], "D-GZ", "03")),
            ("nj_in", "D-NJ", event("receiving", ["N1", "N2"], "D-NJ", "03")),
            ("gz_out", "D-GZ", event("shipping", ["G1"], "D-GZ", "04", source="D-GZ", to="S-GZ-1")),
            ("gz_leak", "D-GZ", event("shipping", ["G2"], "D-GZ", "04", source="D-GZ", to="S-NJ-1")),
            ("nj_out", "D-NJ", event("shipping", ["N1"], "D-NJ", "04", source="D-NJ", to="S-NJ-1")),
            ("gz_sale", "S-GZ-1", event("retail_selling", ["G1"], "S-GZ-1", "05")),
            ("leak_sale", "S-NJ-1", event("retail_selling", ["G2"], "S-NJ-1", "06")),
            ("nj_sale", "S-NJ-1", event("retail_selling", ["N1"], "S-NJ-1", "06")),
        ]
        for name, party, e in plan:
            self.post(party, e, expect=202)
            self.events[name], self.by[name] = e, party

    def post(self, party: str, *events: dict[str, Any], expect: int, proceed: bool = False) -> dict[str, Any]:
        headers = {**self.keys[party], **({"GS1-Capture-Error-Behaviour": "proceed"} if proceed else {})}
        r = self.client.post("/epcis/capture", json=document(*events), headers=headers)
        assert r.status_code == expect, r.text
        body: dict[str, Any] = r.json()
        return body

    def digest(self) -> str:
        """Alerts, settlement, facts and the store, as one comparable value."""
        self.session.expire_all()
        alerts = sorted((a.kind, a.unit_key, a.party_id, a.responsible_distributor_id, a.status)
                        for a in list_alerts(session=self.session, filters=AlertFilter()))  # fmt: skip
        figures = run_settlement(session=self.session, period="2026-02", policy=Policy()).as_dict()
        facts = sorted((s.unit_key, s.event_id, s.counted) for s in self.session.exec(select(Sale)))
        bought = sorted((p.unit_key, p.distributor_id, p.counted) for p in self.session.exec(select(Purchase)))
        stored = sorted((e.event_id, e.declaration) for e in self.session.exec(select(Event)))
        blob = json.dumps([alerts, figures, facts, bought, stored], sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()


def test_a_distributor_cannot_retract_other_parties_events(client: TestClient, session: Session) -> None:
    world = World(client, session)
    assert any(a.responsible_distributor_id == "D-GZ" for a in list_alerts(session=session, filters=AlertFilter()))
    before = world.digest()
    for name in ("brand_gz", "nj_in", "gz_sale", "leak_sale", "nj_sale"):
        body = world.post("D-GZ", retraction(world.events[name]), expect=403)
        assert body["error"] == "not_entitled" and body["events"][0]["reason"] == "not_your_event"
        assert body["problems"][0]["path"] == "/epcisBody/eventList/0"
    # In proceed mode too: nothing it may not assert is stored; the refusals come back with their reasons.
    body = world.post("D-GZ", retraction(world.events["leak_sale"]), retraction(world.events["nj_sale"]),
                      expect=202, proceed=True)  # fmt: skip
    assert body["stored"] == 0 and {r["code"] for r in body["refused"]} == {"not_your_event"}
    assert world.digest() == before


def test_a_distributor_cannot_invent_purchases_from_the_brand(client: TestClient, session: Session) -> None:
    world = World(client, session)
    before = world.digest()
    invented = event("shipping", [f"X{i}" for i in range(50)], "D-GZ", "07", source="BRAND", to="D-GZ")
    assert world.post("D-GZ", invented, expect=403)["events"][0]["reason"] == "brand_shipment"
    at_brand = event("shipping", ["X99"], "WH-1", "07", source="WH-1", to="D-GZ")
    assert world.post("D-GZ", at_brand, expect=403)["events"][0]["reason"] in ("brand_shipment", "not_your_location")
    assert world.digest() == before


def test_a_store_cannot_write_another_stores_sales(client: TestClient, session: Session) -> None:
    world = World(client, session)
    before = world.digest()
    fake = event("retail_selling", ["N2"], "S-NJ-1", "08")
    assert world.post("S-GZ-1", fake, expect=403)["events"][0]["reason"] == "not_your_location"
    nowhere = {k: v for k, v in event("retail_selling", ["N2"], "S-NJ-1", "08").items() if k != "bizLocation"}
    assert world.post("S-GZ-1", nowhere, expect=403)["events"][0]["reason"] == "not_your_location"
    assert world.digest() == before


def test_a_party_retracts_its_own_mistake_but_never_in_a_locked_period(client: TestClient, session: Session) -> None:
    from datetime import UTC, datetime

    from settlement.service import lock_period, locked_document

    world = World(client, session)
    own = world.post("S-GZ-1", event("retail_selling", ["G3"], "S-GZ-1", "10"), expect=202)
    assert own["stored"] == 1
    lock_period(session=session, period="2026-02", policy=Policy(), locked_by="finance", force=True,
                now=datetime(2026, 4, 1, tzinfo=UTC))  # fmt: skip
    session.commit()
    locked = locked_document(session=session, period="2026-02")
    before = world.digest()
    body = world.post("S-GZ-1", retraction(world.events["gz_sale"]), expect=403)
    assert body["events"][0]["reason"] == "period_locked"
    admin = world.post("WH-1", retraction(world.events["gz_sale"]), expect=403)  # no key restates a locked period
    assert admin["events"][0]["reason"] == "period_locked"
    assert world.digest() == before and locked_document(session=session, period="2026-02") == locked


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_party_pair(client: TestClient, session: Session, data: st.DataObject) -> None:
    """Whoever attacks whom: asserting at another's place or retracting another's event is refused, unchanged.

    Every attempt is refused, so one world serves every example (kept on the session); were one let through, the
    digest would show it at once.
    """
    world: World = session.info.get("world") or session.info.setdefault("world", World(client, session))
    before = session.info.setdefault("digest", world.digest())
    attacker = data.draw(st.sampled_from([p for p in PARTIES if ROLE[p] is not Role.admin]), label="attacker")
    victim_event = data.draw(st.sampled_from([n for n, p in world.by.items() if p != attacker]), label="event")
    place = data.draw(st.sampled_from([p for p in PARTIES if p != attacker]), label="place")
    step = data.draw(st.sampled_from(["shipping", "receiving", "retail_selling"]), label="step")
    source = data.draw(st.sampled_from([None, place, "BRAND"]), label="source")
    forged = event(step, ["Z1"], place, "09", source=source, to=attacker)
    world.post(attacker, retraction(world.events[victim_event]), expect=403)
    world.post(attacker, forged, expect=403)
    assert world.digest() == before


def test_an_idempotency_key_is_scoped_to_its_party(client: TestClient, session: Session) -> None:
    """Another party sending the same Idempotency-Key neither replays the first party's result nor is blocked."""
    seed_masterdata(session)
    gz, nj = auth(api_key(session, Role.distributor, "D-GZ")), auth(api_key(session, Role.distributor, "D-NJ"))
    body = {"biz_step": "inspecting", "codes": ["https://id.gs1.org/01/06901234000108/21/NOPE"]}
    first = client.post("/api/v1/scans", json=body, headers={**gz, "Idempotency-Key": "till-1"})
    other = client.post("/api/v1/scans", json=body, headers={**nj, "Idempotency-Key": "till-1"})
    assert first.status_code in (200, 201) and other.status_code in (200, 201), other.text
    assert other.json()["replayed"] is False and other.json()["capture_id"] != first.json()["capture_id"]
    again = client.post("/api/v1/scans", json=body, headers={**gz, "Idempotency-Key": "till-1"})
    assert again.json()["replayed"] is True and again.json()["capture_id"] == first.json()["capture_id"]
