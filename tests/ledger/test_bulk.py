"""Bulk inserts (ORM meaning of empty values; COPY on PostgreSQL) store every value as a Core insert would."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import Session, col, select

from ledger.bulk import insert_rows
from traceability.models import RejectedScan

TEXT = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=40)
AWKWARD = ["\t", "\n", "\\", "\\N", "NULL", "a\tb\nc\\d", "é漢字", "", " ", '"quoted"', "back\\slash\\\\"]


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raws=st.lists(st.one_of(st.sampled_from(AWKWARD), TEXT), min_size=60, max_size=80))
def test_every_value_comes_back_as_written(session: Session, raws: list[str]) -> None:
    base = datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=UTC)
    rows = [
        {"raw": raw, "reason": "bad_signature", "message": raw[::-1],
         "received_at": (base + timedelta(seconds=i)).astimezone(timezone(timedelta(hours=8))),
         "party_id": None, "biz_step": None if i % 3 else raw[:200], "key": None}
        for i, raw in enumerate(raws)
    ]  # fmt: skip
    marker = f"m-{len(raws)}-{hash(tuple(raws)) % 10**9}"
    for row in rows:
        row["key"] = marker
    assert insert_rows(session, RejectedScan, rows) == len(rows)
    stored = session.exec(select(RejectedScan).where(col(RejectedScan.key) == marker).order_by(col(RejectedScan.id)))
    got = [(r.raw, r.message, r.biz_step, r.received_at.replace(tzinfo=r.received_at.tzinfo or UTC)) for r in stored]
    assert got == [(r["raw"], r["message"], r["biz_step"], r["received_at"]) for r in rows]


def test_an_empty_value_of_a_column_with_a_default_takes_the_default(session: Session) -> None:
    """As the ORM bulk insert did: a None ``received_at`` is now, not NULL (the column has a default)."""
    before = datetime.now(UTC) - timedelta(seconds=5)
    rows = [{"raw": f"r{i}", "reason": "bad", "message": "m", "received_at": None, "key": "defaults"}
            for i in range(60)]  # fmt: skip
    insert_rows(session, RejectedScan, rows)
    stored = session.exec(select(RejectedScan).where(col(RejectedScan.key) == "defaults")).all()
    assert len(stored) == 60
    assert all(r.received_at.replace(tzinfo=r.received_at.tzinfo or UTC) >= before for r in stored)
