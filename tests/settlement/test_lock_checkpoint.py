"""Each lock signs a checkpoint of the chain head and keeps it with the locked document (issue 11): it verifies,
it catches a later rewrite of an event the period was settled from, and later captures leave it valid."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from cli.main import app as cli_app
from codes.keyfiles import KeyFileStore
from codes.service import key_store
from ledger.store import (
    CHAIN_KEY_ID,
    COVERED,
    GENESIS,
    Checkpoint,
    chain_link,
    checkpoint_signed_by,
    facts_digest,
    verify_chain,
)
from rebates.policy import Policy
from settlement.errors import NoCheckpoint
from settlement.reports import report_data, to_pdf
from settlement.service import canonical, lock_checkpoint, lock_period, locked_document, run_settlement
from tests.factories import api_key, auth, masterdata_doc
from tests.settlement.scenario import P1, capture, event, seed, units
from tests.settlement.test_scenario import GZ_UNITS, april  # noqa: F401  (fixture)
from traceability.models import ChainHead, Event, EventEpc, Role
from traceability.settings import Settings

POLICY = Policy()
LATER = datetime(2026, 7, 4, tzinfo=UTC)


@pytest.fixture
def keys(settings: Settings) -> KeyFileStore:
    return key_store(settings)


def _head(session: Session) -> ChainHead:
    return session.exec(select(ChainHead).where(ChainHead.id == 1).execution_options(populate_existing=True)).one()


def _rewrite_whole_chain(session: Session, seq: int) -> None:
    """What someone with write access to the database can do: change a fact, then recompute every link."""
    session.execute(update(Event).where(col(Event.seq) == seq).values(destination_party_id="D-NJ"))
    link = GENESIS
    for e in session.exec(select(Event).order_by(col(Event.seq)).execution_options(populate_existing=True)):
        epcs = [(x.key, x.epc, x.role) for x in session.exec(select(EventEpc).where(EventEpc.event_pk == e.id))]
        link = chain_link(link, e.hash_id, e.document, facts_digest({n: getattr(e, n) for n in COVERED}, epcs))
        session.execute(update(Event).where(col(Event.id) == e.id).values(chain_hash=link))
    session.execute(update(ChainHead).where(col(ChainHead.id) == 1).values(hash=link))


def test_a_lock_signs_the_chain_head_and_keeps_it_with_the_document(session: Session, april, keys) -> None:  # noqa: F811
    head = _head(session)
    locked = lock_period(session=session, period="2026-04", policy=POLICY, now=LATER, keys=keys)
    checkpoint = locked.checkpoint
    assert checkpoint is not None
    assert (checkpoint.seq, checkpoint.head, checkpoint.key_id) == (head.seq, head.hash, CHAIN_KEY_ID)
    assert keys.pem_path(CHAIN_KEY_ID).exists()  # created on first use, in the key directory, not the database
    assert checkpoint_signed_by(checkpoint, keys.load_private(CHAIN_KEY_ID).public_key())
    assert verify_chain(session=session, checkpoint=checkpoint).ok

    document = locked_document(session=session, period="2026-04")
    assert document is not None and document == canonical(locked.as_dict())
    assert json.loads(document)["checkpoint"] == checkpoint.as_dict()
    again = run_settlement(session=session, period="2026-04", policy=POLICY)
    assert again.checkpoint == checkpoint and again.as_dict() == locked.as_dict()
    assert lock_checkpoint(session=session, period="2026-04") == checkpoint
    with pytest.raises(NoCheckpoint):
        lock_checkpoint(session=session, period="2026-05")  # open: nothing signed yet


def test_a_rewrite_before_the_lock_is_caught_against_its_checkpoint(session: Session, april, keys) -> None:  # noqa: F811
    locked = lock_period(session=session, period="2026-04", policy=POLICY, now=LATER, keys=keys)
    assert locked.checkpoint is not None
    shipped = session.exec(select(Event.seq).where(Event.biz_step == "shipping").order_by(col(Event.seq))).first()
    assert shipped is not None and shipped <= locked.checkpoint.seq
    _rewrite_whole_chain(session, shipped)  # a brand shipment moved to another distributor
    assert verify_chain(session=session).ok  # self-consistent: only the checkpoint can tell
    kept = Checkpoint.from_dict(json.loads(locked_document(session=session, period="2026-04") or "{}")["checkpoint"])
    report = verify_chain(session=session, checkpoint=kept)
    assert not report.ok and any("rewritten" in p for p in report.problems), report.problems


def test_captures_after_the_lock_leave_its_checkpoint_valid(session: Session, april, keys) -> None:  # noqa: F811
    locked = lock_period(session=session, period="2026-04", policy=POLICY, now=LATER, keys=keys)
    assert locked.checkpoint is not None
    late = units(P1, "Z", 3)
    capture(session,
            event("commissioning", late, "PLANT-1", "2026-05-01T08:00:00+08:00", action="ADD"),
            event("shipping", late, "PLANT-1", "2026-05-02T08:00:00+08:00", to="D-GZ"),
            event("retail_selling", [GZ_UNITS[9]], "S-GZ-1", "2026-04-29T10:00:00+08:00"))  # fmt: skip
    assert _head(session).seq == locked.checkpoint.seq + 3
    report = verify_chain(session=session, checkpoint=locked.checkpoint)
    assert report.ok, report.problems
    # The next lock signs its own, later head; both stand.
    may = lock_period(session=session, period="2026-05", policy=POLICY, now=LATER, keys=keys)
    assert may.checkpoint is not None and may.checkpoint.seq == locked.checkpoint.seq + 3
    assert verify_chain(session=session, checkpoint=locked.checkpoint).ok
    assert verify_chain(session=session, checkpoint=may.checkpoint).ok


def test_an_empty_store_locks_with_a_checkpoint_of_the_empty_chain(session: Session, keys: KeyFileStore) -> None:
    seed(session)
    locked = lock_period(session=session, period="2026-04", policy=POLICY, now=LATER, keys=keys, force=True)
    assert locked.checkpoint is not None and (locked.checkpoint.seq, locked.checkpoint.head) == (0, GENESIS)
    assert verify_chain(session=session, checkpoint=locked.checkpoint).ok


def test_the_api_shows_a_locked_checkpoint_and_none_while_open(client: TestClient, session: Session, april,  # noqa: F811
                                                               keys) -> None:  # fmt: skip
    finance = auth(api_key(session, Role.finance))
    open_body = client.get("/api/v1/settlement/2026-04", headers=finance).json()
    # Byte for byte the contract as before: no checkpoint key at all while open.
    assert list(open_body) == ["period", "status", "timezone", "starts_at", "ends_at", "locked_at", "policy",
                               "distributors", "stores", "adjustments", "totals"]  # fmt: skip
    lock = client.post("/api/v1/settlement/2026-04/lock", headers=finance)
    assert lock.status_code == 200, lock.text
    shown = client.get("/api/v1/settlement/2026-04", headers=finance).json()
    assert shown["checkpoint"] == lock.json()["checkpoint"]
    assert set(shown["checkpoint"]) == {"seq", "head", "at", "key_id", "signature"}
    signed = Checkpoint.from_dict(shown["checkpoint"])
    assert checkpoint_signed_by(signed, keys.load_private(CHAIN_KEY_ID).public_key())  # the app's key directory
    assert verify_chain(session=session, checkpoint=signed).ok


def test_the_locked_pdf_names_the_checkpoint(session: Session, april, keys, tmp_path: Path) -> None:  # noqa: F811
    import subprocess

    locked = lock_period(session=session, period="2026-04", policy=POLICY, now=LATER, keys=keys)
    assert locked.checkpoint is not None
    pdf = to_pdf(report_data(session=session, settlement=locked))
    target = tmp_path / "locked.pdf"
    target.write_bytes(pdf)
    text = subprocess.run(["pdftotext", "-layout", str(target), "-"], capture_output=True, text=True)
    if text.returncode != 0:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    flat = " ".join(text.stdout.split())
    assert f"event {locked.checkpoint.seq}" in flat and locked.checkpoint.head in flat


def test_cli_lock_prints_it_and_checkpoint_writes_what_verify_chain_checks(tmp_path: Path) -> None:
    runner = CliRunner()
    env = {"TRACEABILITY_KEY_DIR": str(tmp_path / "keys"), "COLUMNS": "300"}
    db = ["--db", f"sqlite:///{tmp_path / 'cli.db'}"]

    def run(*args: str) -> str:
        result = runner.invoke(cli_app, [*db, *args], env=env, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    sold = units(P1, "K", 2)
    events = [event("commissioning", sold, "PLANT-1", "2026-04-01T08:00:00+08:00", action="ADD"),
              event("shipping", sold, "PLANT-1", "2026-04-02T08:00:00+08:00", to="D-GZ")]  # fmt: skip
    document = {"type": "EPCISDocument", "schemaVersion": "2.0", "creationDate": "2026-04-03T00:00:00Z",
                "epcisBody": {"eventList": events}}  # fmt: skip
    (tmp_path / "events.json").write_text(json.dumps(document), encoding="utf-8")
    (tmp_path / "md.json").write_text(json.dumps(masterdata_doc()), encoding="utf-8")
    run("masterdata", "import", str(tmp_path / "md.json"))
    run("epcis", "capture", str(tmp_path / "events.json"))
    out = run("settlement", "lock", "--period", "2026-04")
    assert "chain checkpoint: event 2, head " in " ".join(out.split())
    missing = runner.invoke(cli_app, [*db, "settlement", "checkpoint", "--period", "2026-05", "--out",
                                      str(tmp_path / "no.json")], env=env)  # fmt: skip
    assert isinstance(missing.exception, NoCheckpoint) and "not locked" in missing.exception.message
    target = tmp_path / "lock-2026-04.json"
    run("settlement", "checkpoint", "--period", "2026-04", "--out", str(target))
    written = json.loads(target.read_text(encoding="utf-8"))
    assert set(written) == {"seq", "head", "at", "key_id", "signature"} and written["seq"] == 2
    assert "unchanged since the checkpoint" in run("epcis", "verify-chain", "--checkpoint", str(target))
