"""The full re-evaluation, partition by partition, changes the stored alerts exactly as one evaluation of the whole
store in memory did: for any partition size, from any state of the alerts (missing, altered, withdrawn, or about
codes the store no longer names)."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, update
from sqlmodel import Session, col, select

from flow_graph import service
from flow_graph.history import code_partitions, count_codes, load_everything, load_masterdata
from ledger.history import no_gc, utc
from ledger.keys import is_sgtin_key
from ledger.store import lock_store
from tests.factories import GTIN as FACTORY_GTIN
from tests.factories import seed_masterdata
from tests.flow_graph.helpers import capture, case, ev, made, retract, unit
from tests.flow_graph.scenario import GTIN, PLANTS, Network, build, scenario_examples
from tests.flow_graph.test_scenarios import replay
from traceability.gs1 import with_check_digit
from traceability.masterdata.service import import_masterdata
from traceability.models import Alert, AlertKind, AlertNote, AlertStatus, Code, CodeLevel, CodeStatus
from traceability.models.base import utcnow


def whole_store(session: Session) -> service.Reconciliation:
    """The re-evaluation as it was before partitions: every history in one view, one reconciliation of all."""
    lock_store(session)
    service._index_rejections(session, None)
    with no_gc():
        view = load_everything(session)
        md = load_masterdata(session)
        keys = sorted({k for k in view.direct if is_sgtin_key(k)} | set(view.rejections))
        findings = service._evaluate(view, md, keys)
    result = service._reconcile(session, view, md, findings, scope=None)
    result.evaluated = len(keys)
    return result


def stored(session: Session) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Every stored alert in id order with all it says (not the moment it was written), and every note.

    Alerts raised by the run are named by their order among the new ones: PostgreSQL's sequences do not roll back
    with a savepoint, so the second run's new ids follow the first run's, where SQLite gives the same ones again."""
    session.expire_all()
    found = session.exec(select(Alert).order_by(col(Alert.id))).all()
    new = iter(range(1, len(found) + 1))
    name = {a.id: a.id if utc(a.created_at) < session.info["runs_from"] else f"new {next(new)}" for a in found}
    alerts = [(name[a.id], str(a.kind), a.unit_key, a.epc, a.party_id, a.responsible_distributor_id, a.territory_id,
               a.event_ids, a.rejected_scan_ids, a.detail, a.first_seen, a.last_seen, str(a.status),
               a.withdrawn_reason, a.withdrawn_at is None) for a in found]  # fmt: skip
    notes = session.exec(select(AlertNote).order_by(col(AlertNote.alert_id), col(AlertNote.id))).all()
    return alerts, [(name[n.alert_id], n.author, n.action, n.from_status, n.to_status, n.text) for n in notes]


def both(session: Session, size: int) -> list[tuple[Any, ...]]:
    """What the whole store at once, then the partitions of ``size``, change from the same state."""
    seen = []
    for run in (whole_store, lambda s: service.reevaluate(session=s, partition=size)):
        savepoint = session.begin_nested()
        try:
            session.info["runs_from"] = utcnow()
            result = run(session)
            seen.append((result.as_dict(), *stored(session)))
        finally:
            savepoint.rollback()
    return seen


def differences(a: tuple[Any, ...], b: tuple[Any, ...]) -> str:
    """What differs between two runs' (counts, alerts, notes), row by row."""
    out = [f"counts {a[0]} != {b[0]}"] if a[0] != b[0] else []
    for name, x, y in (("alert", a[1], b[1]), ("note", a[2], b[2])):
        out += [f"{name}: {r} != {s}" for r, s in zip(x, y, strict=False) if r != s]
        out += [f"{name} only in one: {r}" for r in x[len(y) :] + y[len(x) :]]
    return "\n".join(out)


def disturb(session: Session, data: st.DataObject) -> None:
    """Put the stored alerts in a state a re-evaluation must repair: some deleted, altered, withdrawn, and one
    about a code no event names."""
    ids = list(session.exec(select(Alert.id).order_by(col(Alert.id))).all())
    if ids:
        gone = data.draw(st.sets(st.sampled_from(ids), max_size=2), label="deleted")
        altered = data.draw(st.sets(st.sampled_from(ids), max_size=2), label="altered")
        withdrawn = data.draw(st.sets(st.sampled_from(ids), max_size=2), label="withdrawn")
        session.execute(update(Alert).where(col(Alert.id).in_(altered)).values(detail="stale", event_ids="[]"))
        session.execute(update(Alert).where(col(Alert.id).in_(withdrawn)).values(
            status=AlertStatus.withdrawn.value, withdrawn_reason="earlier"))  # fmt: skip
        session.execute(delete(AlertNote).where(col(AlertNote.alert_id).in_(gone)))
        session.execute(delete(Alert).where(col(Alert.id).in_(gone)))
    if data.draw(st.booleans(), label="orphan alert"):
        key = f"https://id.gs1.org/01/{GTIN}/21/NOWHERE"
        session.add(Alert(kind=AlertKind.clone_suspected, unit_key=key, epc=key, party_id=None, event_ids="[]",
                          rejected_scan_ids="[]", detail="stale", status=AlertStatus.open))  # fmt: skip
    session.flush()


networks = st.builds(Network, provinces=st.integers(2, 3), cities=st.integers(1, 2), stores_per_city=st.integers(1, 2))
plans = st.fixed_dictionaries({name: st.integers(0, 1) for name in PLANTS})


@scenario_examples(12)
@given(net=networks, plan=plans, seed=st.integers(0, 2**32 - 1), size=st.integers(1, 40), data=st.data())
def test_partitioned_reevaluation_equals_the_whole_store_at_once(
    session: Session, net: Network, plan: dict[str, int], seed: int, size: int, data: st.DataObject
) -> None:
    sc = build(net, random.Random(seed), plan, honest=1)
    outer = session.begin_nested()
    try:
        import_masterdata(session=session, raw=net.doc)
        replay(session, sc, data)
        if data.draw(st.booleans(), label="master data changed"):
            doc = json.loads(json.dumps(net.doc))
            for party in doc["parties"]:
                if party["kind"] == "distributor":
                    party["authorized_territories"] = ["C"]
            import_masterdata(session=session, raw=doc)
        disturb(session, data)
        seen = both(session, size)
        assert seen[0] == seen[1], differences(seen[0], seen[1])
    finally:
        outer.rollback()


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(net=networks, seed=st.integers(0, 2**32 - 1), size=st.integers(1, 30), data=st.data())
def test_partitions_cover_every_key_once_in_order(
    session: Session, net: Network, seed: int, size: int, data: st.DataObject
) -> None:
    sc = build(net, random.Random(seed), dict.fromkeys(PLANTS, 1), honest=1)
    outer = session.begin_nested()
    try:
        import_masterdata(session=session, raw=net.doc)
        replay(session, sc, data)
        parts = list(code_partitions(session, size))
        assert all(p.scanned <= size for p in parts) and all(p.scanned == size for p in parts[:-1])
        assert sum(p.scanned for p in parts) == count_codes(session)
        keys = [k for p in parts for k in sorted(p.keys)]
        assert keys == sorted(set(keys))  # each key once, partitions in key order
    finally:
        outer.rollback()


def test_progress_reaches_every_code(session: Session) -> None:
    net = Network(provinces=2, cities=1, stores_per_city=1)
    sc = build(net, random.Random(7), dict.fromkeys(PLANTS, 1), honest=2)
    import_masterdata(session=session, raw=net.doc)
    from scanning.epcis import capture_document
    from tests.flow_graph.scenario import document

    capture_document(session=session, document=document(sc.events + sc.declarations))
    told: list[tuple[int, int]] = []
    result = service.reevaluate(session=session, partition=3, progress=lambda done, total: told.append((done, total)))
    total = count_codes(session)
    assert told[-1] == (total, total) and len(told) == -(-total // 3)
    assert [done for done, _ in told] == sorted(done for done, _ in told)
    assert result.evaluated > 0 and (result.raised, result.updated, result.withdrawn) == (0, 0, 0)


@pytest.mark.parametrize("size", [1, 2, 1000])
def test_a_withdrawal_names_a_retraction_the_partition_did_not_load(session: Session, size: int) -> None:
    """Evidence on a case the unit has since been unpacked from (by its record), then retracted: the partition no
    longer reaches the case, and still says the evidence was retracted, as the whole store in view said."""
    seed_masterdata(session)
    sscc = with_check_digit(f"06901234{1:09d}")
    box = Code(level=CodeLevel.case, sscc=sscc, status=CodeStatus.commissioned)
    session.add(box)
    session.flush()
    inside = Code(level=CodeLevel.unit, gtin=FACTORY_GTIN, serial="T00001", status=CodeStatus.commissioned,
                  parent_id=box.id)  # fmt: skip
    session.add(inside)
    session.flush()
    breach = ev(13, "shipping", [case(1)], "D-GZ", 30, dest="S-NJ-1")
    capture(session, *made(1, 1), ev(11, "shipping", [case(1)], "PLANT-1", 2, dest="D-GZ"),
            ev(12, "receiving", [case(1)], "D-GZ", 20), breach, ev(14, "receiving", [case(1)], "S-NJ-1", 60),
            ev(15, "retail_selling", [unit(1)], "S-NJ-1", 80))  # fmt: skip
    assert {str(a.kind) for a in session.exec(select(Alert)).all()} >= {"unauthorized_channel"}
    inside.parent_id = None  # unpacked through the codes service: no event, so no listener
    session.add(inside)
    session.flush()
    capture(session, retract(breach))  # reaches the case's contents, which no longer hold the unit
    seen = both(session, size)
    assert seen[0] == seen[1], differences(seen[0], seen[1])
    assert any(a[13] and breach["eventID"] in a[13] for a in seen[1][1])  # the retraction is named
