"""The chain proves the store: every column and identifier row edited, any row deleted, and a rewrite of the whole
chain (caught only against a signed checkpoint) are each reported by ``verify_chain``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import text, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from ledger.store import (
    COVERED,
    GENESIS,
    Checkpoint,
    chain_link,
    checkpoint_signed_by,
    facts_digest,
    sign_checkpoint,
    verify_chain,
)
from scanning.epcis import capture_document
from tests.factories import seed_masterdata
from traceability.database import migrate
from traceability.models import ChainHead, Event, EventEpc

CTX = ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"]
SGLN = "urn:epc:id:sgln:6901234.00003.0"  # D-GZ's GLN in the factories' master data


def _event(i: int, step: str, **kw: Any) -> dict[str, Any]:
    return {"type": "ObjectEvent", "action": "OBSERVE", "bizStep": step,
            "epcList": [f"urn:epc:id:sgtin:6901234.000010.S{i}", f"https://id.gs1.org/01/06901234000108/21/T{i}"],
            "eventTime": f"2026-01-0{1 + i}T10:00:00+08:00", "eventTimeZoneOffset": "+08:00",
            "readPoint": {"id": SGLN}, "bizLocation": {"id": SGLN}, **kw}  # fmt: skip


@pytest.fixture
def store(session: Session) -> Session:
    seed_masterdata(session)
    events = [_event(i, "receiving" if i % 2 else "shipping",
                     sourceList=[{"type": "owning_party", "source": "BRAND"}],
                     destinationList=[{"type": "owning_party", "destination": "D-GZ"}]) for i in range(4)]  # fmt: skip
    capture_document(session=session, document={"@context": CTX, "type": "EPCISDocument", "schemaVersion": "2.0",
                                                "creationDate": "2026-01-01T00:00:00Z",
                                                "epcisBody": {"eventList": events}})  # fmt: skip
    session.flush()
    assert verify_chain(session=session).ok
    return session


def _other(value: Any) -> Any:
    """A different value of the same type, so the edit is one a database would accept."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1000
    if isinstance(value, datetime):
        return value + timedelta(seconds=1)
    if value is None:
        return "D-SZ"
    return "D-SZ" if value != "D-SZ" else "D-GZ"


@pytest.mark.parametrize("column", [c for c in (*COVERED, "document", "chain_hash") if c != "seq"])
def test_editing_any_column_of_an_event_breaks_the_chain(store: Session, column: str) -> None:
    row = store.exec(select(Event).where(Event.seq == 2)).one()
    value = _other(getattr(row, column))
    if column == "document":
        value = row.document.replace("receiving", "shipping")
    if column == "capture_id":
        value = None  # another capture would have to exist; detaching the event from its receipt is an edit too
    savepoint = store.begin_nested()
    store.execute(update(Event).where(col(Event.id) == row.id).values({column: value}))
    report = verify_chain(session=store)
    savepoint.rollback()
    assert not report.ok, column
    assert any("seq 2" in p or "was altered" in p for p in report.problems), report.problems


def test_reordering_events_breaks_the_chain(store: Session) -> None:
    store.execute(text("UPDATE epcis_event SET seq = seq + 100 WHERE seq = 2"))
    report = verify_chain(session=store)
    assert not report.ok and any("sequence" in p for p in report.problems), report.problems


@pytest.mark.parametrize("column", ["key", "epc", "role", "event_pk"])
def test_editing_any_identifier_row_breaks_the_chain(store: Session, column: str) -> None:
    row = store.exec(select(EventEpc).order_by(col(EventEpc.id)).offset(2)).first()
    assert row is not None
    value: Any = {"key": "https://id.gs1.org/01/06901234000108/21/OTHER", "epc": "urn:epc:id:sgtin:6901234.000010.X",
                  "role": "child", "event_pk": row.event_pk + 1}[column]  # fmt: skip
    store.execute(update(EventEpc).where(col(EventEpc.id) == row.id).values({column: value}))
    assert not verify_chain(session=store).ok, column


@pytest.mark.parametrize("table", ["epcis_event", "epcis_event_epc"])
@pytest.mark.parametrize("which", ["first", "middle", "last"])
def test_deleting_any_row_is_reported(store: Session, table: str, which: str) -> None:
    ids = [r[0] for r in store.execute(text(f"SELECT id FROM {table} ORDER BY id"))]
    target = {"first": ids[0], "middle": ids[len(ids) // 2], "last": ids[-1]}[which]
    if table == "epcis_event":  # with the rows that hang on it, as whoever deletes an event must
        for dependent in ("epcis_event_epc", "sale", "purchase", "dispatch"):
            store.execute(text(f"DELETE FROM {dependent} WHERE event_pk = :id"), {"id": target})
    store.execute(text(f"DELETE FROM {table} WHERE id = :id"), {"id": target})
    assert not verify_chain(session=store).ok


def _rewrite_whole_chain(session: Session) -> None:
    """What someone with write access to the database can do: change a fact, then recompute every link."""
    session.execute(update(Event).where(col(Event.seq) == 1).values(destination_party_id="D-SZ"))
    link = GENESIS
    for event in session.exec(select(Event).order_by(col(Event.seq)).execution_options(populate_existing=True)):
        epcs = [(e.key, e.epc, e.role) for e in session.exec(select(EventEpc).where(EventEpc.event_pk == event.id))]
        link = chain_link(link, event.hash_id, event.document,
                          facts_digest({n: getattr(event, n) for n in COVERED}, epcs))  # fmt: skip
        session.execute(update(Event).where(col(Event.id) == event.id).values(chain_hash=link))
    session.execute(update(ChainHead).where(col(ChainHead.id) == 1).values(hash=link))


def test_a_rewrite_of_the_whole_chain_is_caught_by_a_signed_checkpoint(store: Session) -> None:
    key = Ed25519PrivateKey.generate()
    checkpoint = sign_checkpoint(session=store, key=key, key_id="chain-1")
    assert checkpoint_signed_by(checkpoint, key.public_key())
    assert verify_chain(session=store, checkpoint=checkpoint).ok
    _rewrite_whole_chain(store)
    # Without a checkpoint the rewritten chain is self-consistent: that is what the checkpoint is for.
    assert verify_chain(session=store).ok
    report = verify_chain(session=store, checkpoint=checkpoint)
    assert not report.ok and any("rewritten" in p for p in report.problems), report.problems


def test_a_checkpoint_cannot_be_forged_or_edited() -> None:
    key, other = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    at = datetime(2026, 1, 1, tzinfo=UTC).isoformat()
    signed = Checkpoint(3, "a" * 64, at, "chain-1")
    good = Checkpoint.from_dict({**signed.as_dict(), "signature": _sign(key, signed)})
    assert checkpoint_signed_by(good, key.public_key())
    assert not checkpoint_signed_by(good, other.public_key())
    moved = Checkpoint.from_dict({**good.as_dict(), "head": "b" * 64})
    assert not checkpoint_signed_by(moved, key.public_key())
    assert not checkpoint_signed_by(Checkpoint.from_dict({**good.as_dict(), "signature": "!!"}), key.public_key())
    with pytest.raises(ValueError, match="not a chain checkpoint"):
        Checkpoint.from_dict({"seq": "x"})


def _sign(key: Ed25519PrivateKey, checkpoint: Checkpoint) -> str:
    import base64

    return base64.urlsafe_b64encode(key.sign(checkpoint.payload())).decode("ascii").rstrip("=")


def test_the_upgrade_relinks_a_chain_of_the_earlier_form(committing_engine: Engine) -> None:
    """Migration 0009 turns a chain of links over the JSON alone into links over every fact, and back."""
    from alembic import command
    from alembic.config import Config

    import traceability

    with Session(committing_engine) as session:
        seed_masterdata(session)
        capture_document(session=session, document={"@context": CTX, "type": "EPCISDocument", "schemaVersion": "2.0",
                                                    "creationDate": "2026-01-01T00:00:00Z",
                                                    "epcisBody": {"eventList": [_event(i, "shipping")
                                                                                for i in range(3)]}})  # fmt: skip
        session.commit()
    config = Config()
    config.set_main_option("script_location", str(Path(traceability.__file__).parent / "migrations"))
    with committing_engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0008")
    with Session(committing_engine) as session:
        report = verify_chain(session=session)
        assert not report.ok and len([p for p in report.problems if "altered" in p]) == 3  # the earlier form
    migrate(committing_engine)
    with Session(committing_engine) as session:
        assert verify_chain(session=session).ok
