"""Networks with known diversion: every rule finds exactly what was planted, whatever the arrival order, and the
alerts raised at capture time equal a full re-evaluation of the store."""

from __future__ import annotations

import json
import random
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from sqlmodel import Session, select

from flow_graph import details
from flow_graph.service import reevaluate
from ledger.store import scans_rejected as notify_scan_rejected
from scanning.epcis import capture_document
from tests.flow_graph.helpers import scanned_key
from tests.flow_graph.scenario import PLANTS, Expected, Network, Scenario, build, document, scenario_examples
from traceability.masterdata.service import import_masterdata
from traceability.models import Alert, AlertStatus, RejectedScan


def active(session: Session) -> list[Alert]:
    rows = session.exec(select(Alert).where(Alert.status != AlertStatus.withdrawn)).all()
    for r in rows:
        session.refresh(r)
    return list(rows)


def found(session: Session) -> set[Expected]:
    return {Expected(str(a.kind), a.epc, a.party_id, a.responsible_distributor_id) for a in active(session)}


def snapshot(session: Session) -> set[tuple[Any, ...]]:
    """Everything derived about the active alerts (not their row ids or timestamps of writing)."""
    return {(str(a.kind), a.unit_key, a.epc, a.party_id, a.responsible_distributor_id, a.territory_id, a.event_ids,
             a.rejected_scan_ids, a.detail, a.first_seen, a.last_seen) for a in active(session)}  # fmt: skip


def replay(session: Session, sc: Scenario, data: st.DataObject) -> None:
    """Capture the scenario's events (and retractions) in a drawn order and split, with repeats; reject the scans."""
    stream = data.draw(st.permutations(sc.events + sc.declarations), label="order")
    if sc.events:
        stream += data.draw(st.lists(st.sampled_from(sc.events), max_size=3), label="repeats")
    cuts = sorted(data.draw(st.sets(st.integers(1, max(1, len(stream) - 1)), max_size=4), label="cuts"))
    rejected_at = data.draw(st.integers(0, len(cuts)), label="rejections after document")
    play(session, sc, stream, cuts, rejected_at)


def play(session: Session, sc: Scenario, stream: list[dict[str, Any]], cuts: list[int], rejected_at: int) -> None:
    """Capture ``stream`` split at ``cuts``, the scenario's rejected scans recorded after document ``rejected_at``."""
    start = 0
    for n, cut in enumerate([*cuts, len(stream)]):
        if n == rejected_at:
            reject(session, sc)
        if cut > start:
            capture_document(session=session, document=document(stream[start:cut]))
            start = cut
    if rejected_at > len(cuts):
        reject(session, sc)


def reject(session: Session, sc: Scenario) -> None:
    rows = [RejectedScan(party_id=party, biz_step="retail_selling", raw=raw, key=scanned_key(raw), reason=reason,
                         message="forged")
            for party, raw, reason in sc.rejections]  # fmt: skip
    if rows:
        session.add_all(rows)
        session.flush()
        notify_scan_rejected(session, rows)


networks = st.builds(Network, provinces=st.integers(2, 4), cities=st.integers(1, 2), stores_per_city=st.integers(1, 2))
plans = st.fixed_dictionaries({name: st.integers(0, 2) for name in PLANTS})


@scenario_examples(16)
@given(net=networks, plan=plans, honest=st.integers(0, 3), seed=st.integers(0, 2**32 - 1), data=st.data())
def test_every_rule_finds_exactly_the_planted_cases(
    session: Session, net: Network, plan: dict[str, int], honest: int, seed: int, data: st.DataObject
) -> None:
    sc = build(net, random.Random(seed), plan, honest)
    savepoint = session.begin_nested()
    try:
        import_masterdata(session=session, raw=net.doc)
        replay(session, sc, data)
        got = found(session)
        missed, false = sc.expected - got, got - sc.expected
        assert not missed and not false, f"missed {sorted(missed, key=str)}; false {sorted(false, key=str)}"
        # Every explanation the rules store is one a page can read back and word in its language.
        assert [a.detail for a in active(session) if details.parse(a.detail) is None] == []
        incremental = snapshot(session)
        result = reevaluate(session=session)
        assert (result.raised, result.updated, result.withdrawn, result.reopened) == (0, 0, 0, 0), result
        assert snapshot(session) == incremental
    finally:
        savepoint.rollback()


def comparable(session: Session) -> set[tuple[Any, ...]]:
    """The snapshot, with what differs between two runs by nature (ids and receipt times of rejected scans) left out."""
    out = set()
    for a in active(session):
        scanned = a.rejected_scan_ids != "[]"
        out.add((str(a.kind), a.unit_key, a.epc, a.party_id, a.responsible_distributor_id, a.territory_id,
                 a.event_ids, len(json.loads(a.rejected_scan_ids)), a.detail,
                 None if scanned else a.first_seen, None if scanned else a.last_seen))  # fmt: skip
    return out


@scenario_examples(6)
@given(net=networks, plan=plans, seed=st.integers(0, 2**32 - 1), data=st.data())
def test_arrival_order_does_not_matter(
    session: Session, net: Network, plan: dict[str, int], seed: int, data: st.DataObject
) -> None:
    sc = build(net, random.Random(seed), plan, honest=1)
    seen = []
    for _ in range(2):
        savepoint = session.begin_nested()
        try:
            import_masterdata(session=session, raw=net.doc)
            replay(session, sc, data)
            seen.append(comparable(session))
        finally:
            savepoint.rollback()
    assert seen[0] == seen[1]
