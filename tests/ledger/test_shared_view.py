"""One history view per append, shared by unit state and every listener, derives what each reading the store afresh
derives: the same unit states, alerts and settlement facts, whatever the network, the planted diversion, the
arrival order and the split into documents."""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlmodel import Session, col

import ledger.store
from ledger.history import Named, query
from tests.flow_graph.scenario import Network, build, scenario_examples
from tests.flow_graph.test_scenarios import comparable, networks, plans, play
from traceability.masterdata.service import import_masterdata
from traceability.models import Code, Dispatch, Event, Purchase, Sale


@contextmanager
def _no_batch(session: Session, events: Sequence[Event], named: Named | None = None) -> Iterator[None]:
    """``ledger.history.batch`` switched off: every step of an append reads the store afresh."""
    yield


def _derived(session: Session) -> dict[str, Any]:
    """Everything an append derives, without row ids (which differ between two runs on PostgreSQL)."""
    session.flush()

    def plain(value: Any) -> Any:
        return value.replace(tzinfo=value.tzinfo or UTC) if isinstance(value, datetime) else value

    facts = {}
    for table in (Sale, Purchase, Dispatch):
        sa_table: Any = table.__table__  # type: ignore[union-attr]
        columns = [c for c in sa_table.columns if c.name not in ("id", "event_pk")]
        facts[table.__name__] = sorted(
            (tuple(plain(v) for v in row) for row in session.connection().execute(query(*columns))), key=repr
        )
    codes = session.connection().execute(
        query(Code.gtin, Code.serial, Code.sscc, Code.level, Code.status, Code.holder_id).order_by(col(Code.id))
    )
    return {"alerts": comparable(session), "codes": sorted(map(tuple, codes), key=repr), **facts}


@scenario_examples(10)
@given(net=networks, plan=plans, seed=st.integers(0, 2**32 - 1), data=st.data())
def test_the_shared_view_derives_what_fresh_reads_derive(
    session: Session, monkeypatch: pytest.MonkeyPatch, net: Network, plan: dict[str, int], seed: int,
    data: st.DataObject,
) -> None:  # fmt: skip
    sc = build(net, random.Random(seed), plan, honest=2)
    stream = data.draw(st.permutations(sc.events + sc.declarations), label="order")
    if sc.events:
        stream += data.draw(st.lists(st.sampled_from(sc.events), max_size=3), label="repeats")
    cuts = sorted(data.draw(st.sets(st.integers(1, max(1, len(stream) - 1)), max_size=3), label="cuts"))
    rejected_at = data.draw(st.integers(0, len(cuts) + 1), label="rejections after document")
    seen = []
    for shared in (True, False):
        with monkeypatch.context() as patch:
            if not shared:
                patch.setattr(ledger.store, "batch", _no_batch)
            savepoint = session.begin_nested()
            try:
                import_masterdata(session=session, raw=net.doc)
                play(session, sc, stream, cuts, rejected_at)
                seen.append(_derived(session))
            finally:
                savepoint.rollback()
    assert seen[0]["codes"], "the scenario records codes"
    assert seen[0] == seen[1]
