"""The clone rule's precision: the expected hop of a delivery is never a speed violation, scanner clocks may disagree
by the clock-skew tolerance, and the demo's network raises only the clones it plants, receipts or not."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from flow_graph import service
from flow_graph.rules import CLOCK_SKEW
from tests.factories import masterdata_doc
from tests.flow_graph.helpers import GLN, brief, capture, ev, made, unit
from traceability.database import session_scope
from traceability.masterdata.service import import_masterdata
from traceability.models import AlertKind, Event, Party, PartyKind
from traceability.settings import Settings, get_settings

MINUTE = 1 / 60
EXTRA_PARTIES = [
    {"id": "W-NJ", "kind": "warehouse", "name": "南京经销商仓库", "gln": "6901234000085", "territory": "CN-32-01",
     "owner": "D-NJ", "lat": 31.95, "lon": 118.90},
    {"id": "S-GZ-2", "kind": "store", "name": "Store 2", "gln": "6901234000092", "territory": "CN-44-01",
     "supplied_by": ["D-GZ"], "lat": 23.45, "lon": 113.26},
]  # fmt: skip
GLN.update({p["id"]: p["gln"] for p in EXTRA_PARTIES})  # so that the helpers' events can name them


@pytest.fixture
def world(session: Session) -> Session:
    """The sample network with coordinates: 广州 parties a few km apart, 南京 ~1,100 km away."""
    doc = masterdata_doc()
    coords = {"WH-1": (23.11, 113.32), "D-GZ": (23.10, 113.30), "D-NJ": (32.05, 118.78)}
    for party in doc["parties"]:
        if party["id"] in coords:
            party["lat"], party["lon"] = coords[party["id"]]
    doc["parties"] += EXTRA_PARTIES
    import_masterdata(session=session, raw=doc)
    session.flush()
    return session


def clones(session: Session) -> set[tuple[str, str, str | None, str | None]]:
    return {a for a in brief(session) if a[0] == "clone_suspected"}


def to_nanjing(receipt_at: str, receipt_hour: float, *, step: str = "receiving") -> list[dict[str, Any]]:
    """Unit 1 shipped by the brand's 广州 warehouse to the 南京 distributor at hour 10, then seen at ``receipt_at``."""
    return [
        *made(1, 1),
        ev(1, "receiving", [unit(1)], "WH-1", 5),
        ev(2, "shipping", [unit(1)], "WH-1", 10, dest="D-NJ"),
        ev(3, step, [unit(1)], receipt_at, receipt_hour),
    ]


def test_a_receipt_minutes_after_dispatch_at_the_declared_destination_is_the_expected_hop(world: Session) -> None:
    # 1,100 km in 30 minutes: the dispatch was booked when the truck arrived, not when it left.
    capture(world, *to_nanjing("D-NJ", 10 + 30 * MINUTE))
    assert clones(world) == set()


def test_a_receipt_at_a_place_the_destination_owns_is_the_expected_hop_too(world: Session) -> None:
    capture(world, *to_nanjing("W-NJ", 10 + 30 * MINUTE))
    assert clones(world) == set()


def test_a_receipt_elsewhere_minutes_after_dispatch_is_a_clone(world: Session) -> None:
    capture(world, *to_nanjing("S-NJ-1", 10 + 30 * MINUTE))
    assert clones(world) == {("clone_suspected", "T00001", "S-NJ-1", "D-NJ")}


def test_a_sale_is_not_a_receipt_it_is_still_judged_on_speed(world: Session) -> None:
    capture(world, *to_nanjing("D-NJ", 10 + 30 * MINUTE, step="inspecting"))
    assert clones(world) == {("clone_suspected", "T00001", "D-NJ", "D-NJ")}


def test_the_expected_hop_is_the_shipment_the_unit_travels_on_not_an_older_one(world: Session) -> None:
    # Shipped to 南京, still seen in 广州 five minutes later, then "received" in 南京 fifteen minutes after that: the
    # receipt is judged from the 广州 sighting, and no unit travels 1,100 km in a quarter of an hour.
    capture(world, *to_nanjing("S-GZ-1", 10 + 5 * MINUTE, step="inspecting"),
            ev(4, "receiving", [unit(1)], "D-NJ", 10 + 20 * MINUTE))  # fmt: skip
    assert clones(world) == {("clone_suspected", "T00001", "D-NJ", "D-NJ")}


def test_a_receipt_stamped_before_its_dispatch_within_the_skew_is_the_same_hop(world: Session) -> None:
    # The store's clock runs 4 minutes late: its receipt sorts before the dispatch; its sale after is at home.
    capture(world, *to_nanjing("D-NJ", 10 - 4 * MINUTE), ev(4, "retail_selling", [unit(1)], "D-NJ", 10 + 5 * MINUTE))
    assert clones(world) == set()


def test_a_receipt_long_before_its_dispatch_is_not_excused(world: Session) -> None:
    capture(world, *to_nanjing("D-NJ", 10 - 40 * MINUTE))
    assert clones(world) == {("clone_suspected", "T00001", "WH-1", "D-NJ")}


def test_clock_skew_tolerance_widens_the_time_between_sightings(world: Session, monkeypatch: pytest.MonkeyPatch,
                                                                ) -> None:  # fmt: skip
    # 广州 store 1 and store 2 are 36 km apart; sightings 5 minutes apart: 430 km/h by the clocks, 140 km/h allowing
    # 10 minutes of skew between them.
    events = [*made(1, 1), ev(1, "inspecting", [unit(1)], "S-GZ-1", 10),
              ev(2, "inspecting", [unit(1)], "S-GZ-2", 10 + 5 * MINUTE)]  # fmt: skip
    capture(world, *events)
    assert service.clock_skew() == CLOCK_SKEW == timedelta(minutes=10)
    assert clones(world) == set()
    monkeypatch.setenv("TRACEABILITY_CLONE_CLOCK_SKEW_MINUTES", "0")
    get_settings.cache_clear()
    try:
        assert service.clock_skew() == timedelta(0)
        service.reevaluate(session=world)
        (found,) = clones(world)
        assert found == ("clone_suspected", "T00001", "S-GZ-2", None)
    finally:
        monkeypatch.delenv("TRACEABILITY_CLONE_CLOCK_SKEW_MINUTES")
        get_settings.cache_clear()
    service.reevaluate(session=world)
    assert clones(world) == set()


def test_the_demo_network_raises_only_the_clones_it_plants(committing_engine: Engine, tmp_path: Path) -> None:
    """The demo, then every store delivery received a minute after its dispatch: still only the planted clone."""
    from demo.run import run_demo

    settings = Settings(db=committing_engine.url.render_as_string(hide_password=False), key_dir=tmp_path / "keys")
    result = run_demo(settings=settings, out=tmp_path / "reports", scale=0.04, engine=committing_engine, lang="en")
    planted = [p for p in result.planted if "clone" in p]
    assert planted, result.planted
    # The demo plants its resale at S-QD-010 each month, of the same 杭州 unit: one alert, grown by evidence.
    assert result.summary.alerts_by_kind["clone_suspected"] == 1

    with session_scope(committing_engine) as session:
        stores = set(session.exec(select(Party.id).where(Party.kind == PartyKind.store)).all())
        shipments = session.exec(select(Event).where(Event.biz_step == "shipping",
                                                     col(Event.destination_party_id).in_(stores))).all()  # fmt: skip
        receipts = []
        for n, shipment in enumerate(shipments):
            body = json.loads(shipment.document)
            when = shipment.event_time.replace(tzinfo=shipment.event_time.tzinfo or UTC) + timedelta(minutes=1)
            destination = body["destinationList"][0]["destination"]
            receipts.append({
                "eventID": f"urn:uuid:00000000-0000-4000-9000-{n:012d}", "type": "ObjectEvent", "action": "OBSERVE",
                "bizStep": "receiving", "epcList": body["epcList"], "eventTime": when.isoformat(),
                "eventTimeZoneOffset": "+00:00", "bizLocation": {"id": destination},
                "destinationList": [{"type": "owning_party", "destination": destination}],
            })  # fmt: skip
        assert len(receipts) > 100
        capture(session, *receipts)
    with session_scope(committing_engine) as session:
        found = service.list_alerts(session=session, filters=service.AlertFilter(kind=[AlertKind.clone_suspected]))
        assert Counter(a.party_id for a in found) == {"S-QD-010": 1}
