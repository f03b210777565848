"""The scan path's master data is cached per process and keyed by the database's own generation row: every change
(a new party, a moved territory, a removed authorisation) is seen by the very next scan, in the same transaction,
in another session, through another engine; and the cache saves statements on every scan."""

from __future__ import annotations

import itertools
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, event, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from flow_graph.history import load_masterdata
from ledger import masterdata
from ledger.parties import PartyRoles
from ledger.store import PartyDirectory
from scanning.service import ScanRequest, record_scans
from tests.factories import BASE_DOC, seed_masterdata, signed_codes
from traceability.auth.service import Principal
from traceability.database import make_engine
from traceability.models import Party, PartyKind, PartyTerritory, Role, StoreSupplier, Territory

PLANT = Principal(role=Role.plant, party_id="PLANT-1")
GZ = Principal(role=Role.distributor, party_id="D-GZ")


@pytest.fixture
def units(session: Session, tmp_path: Path) -> list[str]:
    """Eight signed units, commissioned by the plant and received by 广州."""
    seed_masterdata(session)
    made = signed_codes(session, tmp_path / "keys", 8)
    scan(session, PLANT, "commissioning", made)
    scan(session, PLANT, "shipping", made, destination_id="D-GZ")
    scan(session, GZ, "receiving", made)
    return made


def scan(session: Session, who: Principal, step: str, raws: list[str], **kw: Any) -> Any:
    outcome = record_scans(session=session, principal=who, request=ScanRequest(biz_step=step, codes=raws, **kw))
    assert not outcome.rejected, outcome.rejected
    return outcome


def warnings_shipping(session: Session, code: str, destination: str) -> list[str]:
    (accepted,) = scan(session, GZ, "shipping", [code], destination_id=destination).accepted
    return sorted(w["kind"] for w in accepted["warnings"])


# --- the same transaction sees its own changes -------------------------------------------------------------------


def test_a_scan_sees_each_master_data_change_at_once(session: Session, units: list[str]) -> None:
    assert warnings_shipping(session, units[0], "S-NJ-1") == ["out_of_territory", "unauthorized_channel"]
    # Authorised: 广州 may now sell into 江苏 and supply the 南京 store.
    session.add(PartyTerritory(party_id="D-GZ", territory_id="CN-32"))
    session.add(StoreSupplier(store_id="S-NJ-1", distributor_id="D-GZ"))
    session.flush()
    assert warnings_shipping(session, units[1], "S-NJ-1") == []
    # Authorised territory removed: 广州 no longer sells into 广州 itself.
    session.execute(
        delete(PartyTerritory).where(
            col(PartyTerritory.party_id) == "D-GZ", col(PartyTerritory.territory_id) == "CN-44-01"
        )
    )
    session.flush()
    assert warnings_shipping(session, units[2], "S-GZ-1") == ["out_of_territory"]
    # Changed territory: the 南京 store moves outside every territory 广州 holds.
    session.execute(update(Party).where(col(Party.id) == "S-NJ-1").values(territory_id="CN-44-03"))
    session.flush()
    assert warnings_shipping(session, units[3], "S-NJ-1") == ["out_of_territory"]
    # A new party: a store 广州 supplies, in 江苏 (authorised above).
    session.add(Party(id="S-NJ-2", kind=PartyKind.store, name="Store NJ 2", gln="6901234000085",
                      territory_id="CN-32-01", member_store_no="M-000009"))  # fmt: skip
    session.flush()
    session.add(StoreSupplier(store_id="S-NJ-2", distributor_id="D-GZ"))
    session.flush()
    assert warnings_shipping(session, units[4], "S-NJ-2") == []
    assert PartyDirectory.load(session).resolve("urn:epc:id:sgln:6901234.00008.0") == "S-NJ-2"
    assert PartyRoles.load(session).kind["S-NJ-2"] == "store"


def test_cached_and_uncached_master_data_agree_for_every_choice_of_parties(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_masterdata(session)
    ids = [p["id"] for p in BASE_DOC["parties"]] + ["NOBODY"]
    choices = [None, *([c] for c in ids), *(list(c) for c in itertools.combinations(ids, 2)), ids]
    cached = [load_masterdata(session, c) for c in choices]
    monkeypatch.setenv("TRACEABILITY_MASTERDATA_CACHE", "0")
    for choice, hit in zip(choices, cached, strict=True):
        fresh = load_masterdata(session, choice)
        assert (hit.parties, hit.ancestors, hit.authorised, hit.suppliers) == (
            fresh.parties, fresh.ancestors, fresh.authorised, fresh.suppliers,
        ), choice  # fmt: skip


def test_the_shared_values_cannot_be_changed_by_a_caller(session: Session) -> None:
    seed_masterdata(session)
    roles, directory = PartyRoles.load(session), PartyDirectory.load(session)
    assert PartyRoles.load(session) is roles  # the same object: cached
    with pytest.raises(TypeError):
        roles.kind["D-GZ"] = "brand"  # type: ignore[index]
    with pytest.raises(AttributeError):
        directory.ids.add("X")  # type: ignore[attr-defined]
    md = load_masterdata(session, ["D-GZ"])
    md.parties.clear()  # a caller's own copy
    md.authorised.clear()
    assert load_masterdata(session, ["D-GZ"]).authorised == {"D-GZ": frozenset({"CN-44-01"})}


def test_a_rolled_back_change_is_not_seen_afterwards(session: Session) -> None:
    seed_masterdata(session)
    before = masterdata.generation(session)
    savepoint = session.begin_nested()
    session.add(Territory(id="CN-99", name="Nowhere", parent_id="CN"))
    session.flush()
    inside = masterdata.generation(session)
    assert inside != before
    assert "CN-99" in load_masterdata(session).ancestors
    savepoint.rollback()
    assert masterdata.generation(session) == before
    assert "CN-99" not in load_masterdata(session).ancestors
    session.add(Territory(id="CN-98", name="Elsewhere", parent_id="CN"))
    session.flush()
    # Drawn afresh (a sequence or random()), never the rolled-back value again: the cached view of CN-99 is unreachable.
    assert masterdata.generation(session) not in {before, inside}
    assert "CN-99" not in load_masterdata(session).ancestors


# --- another engine on the same database: what another process sees --------------------------------------------


def test_a_change_committed_through_another_engine_is_seen_at_once(engine: Engine, db_url: str) -> None:
    other = make_engine(db_url)
    name = "X-" + uuid.uuid4().hex[:8]
    gln = str(uuid.uuid4().int)[:13]
    try:
        with Session(engine) as mine:
            assert load_masterdata(mine, [name]).parties == {}  # warm: cached under the current generation
            assert PartyDirectory.load(mine).resolve(name) is None
        with Session(other) as theirs:
            theirs.add(Territory(id=name, name="Cache test"))
            theirs.flush()  # no relationship tells the unit of work the order
            theirs.add(Party(id=name, kind=PartyKind.store, name="Cache test", gln=gln, territory_id=name))
            theirs.commit()
        with Session(engine) as mine:
            assert load_masterdata(mine, [name]).parties[name].territory == name
            assert PartyDirectory.load(mine).resolve(name) == name
        with Session(other) as theirs:
            theirs.execute(update(Party).where(Party.id == name).values(kind="distributor"))  # type: ignore[arg-type]
            theirs.commit()
        with Session(engine) as mine:
            assert load_masterdata(mine, [name]).parties[name].kind == "distributor"
            assert PartyRoles.load(mine).kind[name] == "distributor"
    finally:
        with Session(other) as theirs:
            theirs.execute(delete(Party).where(Party.id == name))  # type: ignore[arg-type]
            theirs.flush()
            theirs.execute(delete(Territory).where(Territory.id == name))  # type: ignore[arg-type]
            theirs.commit()
        other.dispose()
    with Session(engine) as mine:
        assert load_masterdata(mine, [name]).parties == {}
        assert PartyDirectory.load(mine).resolve(name) is None


# --- the statements it saves -------------------------------------------------------------------------------------


def _statements_per_scan(session: Session, codes_: list[str]) -> list[int]:
    counts: list[int] = []
    bind = session.connection().engine
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    event.listen(bind, "before_cursor_execute", count)
    try:
        for code in codes_:
            seen.clear()
            scan(session, GZ, "shipping", [code], destination_id="S-GZ-1")
            counts.append(len(seen))
    finally:
        event.remove(bind, "before_cursor_execute", count)
    return counts


def test_a_scan_reads_master_data_once_per_generation(
    session: Session, units: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRACEABILITY_MASTERDATA_CACHE", "0")
    off = _statements_per_scan(session, units[0:2])
    monkeypatch.delenv("TRACEABILITY_MASTERDATA_CACHE")
    _statements_per_scan(session, units[2:3])  # warms the cache
    on = _statements_per_scan(session, units[3:5])
    print(f"statements per shipping scan: cache off {off}, cache on {on}")
    assert on[0] == on[1] and off[0] == off[1]
    assert off[0] - on[0] >= 4, (off, on)
