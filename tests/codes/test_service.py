from __future__ import annotations

import io
import itertools
from pathlib import Path

import pytest
from sqlalchemy import func
from sqlmodel import Session, select

from codes import service
from codes.errors import AggregationError, CodeNotFound, KeyStateError
from codes.keyfiles import KeyFileStore
from codes.render import parse_code, to_digital_link
from codes.signing import verify
from tests.factories import CASE_GTIN, GTIN, seed_masterdata
from traceability.errors import NotFound
from traceability.models import AggregationLog, Code, CodeBatch, CodeLevel, KeyStatus


@pytest.fixture
def store(tmp_path: Path) -> KeyFileStore:
    return KeyFileStore(tmp_path / "keys")


@pytest.fixture
def ready(session: Session, store: KeyFileStore) -> Session:
    seed_masterdata(session)
    service.create_key(session=session, store=store)
    return session


def _generate(session: Session, store: KeyFileStore, count: int, **kw) -> tuple[list[str], service.GenerationResult]:
    out = io.StringIO()
    signer = service.load_signer(session=session, store=store)
    result = service.generate_codes(session=session, signer=signer, gtin=kw.pop("gtin", GTIN), lot="L2611",
                                    expiry="271231", count=count, out=out, chunk_size=kw.pop("chunk_size", 7), **kw)
    return out.getvalue().rstrip("\n").split("\n"), result


def test_generate_streams_signed_codes_and_records_them(ready: Session, store: KeyFileStore) -> None:
    lines, result = _generate(ready, store, 20, party_id="PLANT-1")
    assert result.issued == 20 and len(lines) == 20 and len(set(lines)) == 20
    ring = service.keyring(session=ready)
    for line in lines:
        code = parse_code(line)
        assert verify(code, ring).ok
        # The fast formatter must agree with the reference renderer character for character.
        assert line == to_digital_link(code, resolver="https://id.example.com")
    rows = ready.exec(select(Code).where(Code.batch_id == result.batch_id)).all()
    assert len(rows) == 20 and all(r.holder_id == "PLANT-1" and r.signature for r in rows)
    batch = ready.get(CodeBatch, result.batch_id)
    assert batch is not None and batch.issued == 20


@pytest.mark.parametrize("fmt", ["gs1", "gs1-human", "csv"])
def test_other_formats_parse_back(ready: Session, store: KeyFileStore, fmt: str) -> None:
    lines, _ = _generate(ready, store, 3, fmt=fmt)
    if fmt == "csv":
        assert lines[0].startswith("gtin,serial")
        assert len(lines) == 4
        return
    ring = service.keyring(session=ready)
    assert all(verify(parse_code(line), ring).ok for line in lines)


def test_database_refuses_a_serial_twice_and_generation_redraws(ready: Session, store: KeyFileStore) -> None:
    first, _ = _generate(ready, store, 3)
    taken = [parse_code(x).identity.serial for x in first]
    # A broken random source that repeats serials already issued: the unique constraint catches it.
    source = itertools.chain(iter(taken), (f"NEW{i:010d}" for i in itertools.count()))
    lines, result = _generate(ready, store, 3, serial_source=lambda: next(source), chunk_size=3)
    assert result.collisions_retried == 1
    new = [parse_code(x).identity.serial for x in lines]
    assert not set(new) & set(taken)
    total = ready.exec(select(func.count()).select_from(Code)).one()
    distinct = ready.exec(select(func.count(func.distinct(Code.serial)))).one()
    assert total == distinct == 6


def test_generate_refuses_unknown_product(ready: Session, store: KeyFileStore) -> None:
    with pytest.raises(NotFound, match="no product"):
        _generate(ready, store, 1, gtin="00000000000017")


def test_rotation_keeps_old_codes_valid_and_revocation_fails_them(ready: Session, store: KeyFileStore) -> None:
    old_lines, _ = _generate(ready, store, 2)
    with pytest.raises(KeyStateError, match="rotate"):
        service.create_key(session=ready, store=store)
    new_key = service.rotate_key(session=ready, store=store)
    new_lines, _ = _generate(ready, store, 2)
    assert parse_code(new_lines[0]).key_id == new_key.key_id != parse_code(old_lines[0]).key_id
    ring = service.keyring(session=ready)
    assert all(verify(parse_code(x), ring).ok for x in old_lines + new_lines)
    statuses = {k.key_id: k.status for k in service.list_keys(session=ready)}
    assert sorted(statuses.values()) == [KeyStatus.active, KeyStatus.retired]

    service.revoke_key(session=ready, key_id=parse_code(old_lines[0]).key_id, reason="plant laptop stolen")
    ring = service.keyring(session=ready)
    bad = verify(parse_code(old_lines[0]), ring)
    assert not bad.ok and bad.reason == "key_revoked" and "plant laptop stolen" in bad.message
    assert verify(parse_code(new_lines[0]), ring).ok


def test_verify_text_reports_state_and_never_issued(ready: Session, store: KeyFileStore) -> None:
    lines, _ = _generate(ready, store, 1)
    check = service.verify_text(session=ready, text=lines[0])
    assert check.verification.ok and check.issued and check.record is not None
    assert check.record.status == "generated"
    ready.execute(Code.__table__.delete())  # type: ignore[attr-defined]
    ghost = service.verify_text(session=ready, text=lines[0])
    assert ghost.verification.ok and not ghost.issued


def test_keys_never_enter_the_database(ready: Session, store: KeyFileStore) -> None:
    key = service.list_keys(session=ready)[0]
    private_pem = store.pem_path(key.key_id).read_bytes()
    assert key.public_key is not None and len(key.public_key) == 32
    assert b"PRIVATE" in private_pem
    assert repr(store).count("PRIVATE") == 0


def test_aggregation_units_cases_pallets(ready: Session, store: KeyFileStore) -> None:
    units, _ = _generate(ready, store, 6)
    case = service.allocate_ssccs(session=ready, company_prefix="6901234", count=1)[0]
    pallet = service.allocate_ssccs(session=ready, company_prefix="6901234", count=1, level=CodeLevel.pallet)[0]
    assert case.sscc is not None and pallet.sscc is not None and len(case.sscc) == 18
    assert case.id is not None
    service.aggregate(session=ready, parent=case.sscc, children=units)
    service.aggregate(session=ready, parent=f"(00){pallet.sscc}", children=[case.sscc])
    assert len(service.children_of(session=ready, parent_id=case.id)) == 6

    other_case = service.allocate_ssccs(session=ready, company_prefix="6901234", count=1)[0]
    assert other_case.sscc is not None
    with pytest.raises(AggregationError, match="already packed"):
        service.aggregate(session=ready, parent=other_case.sscc, children=[units[0]])
    with pytest.raises(AggregationError, match="cannot go into a case"):
        service.aggregate(session=ready, parent=case.sscc, children=[case.sscc])
    with pytest.raises(AggregationError, match="cannot go into"):
        service.aggregate(session=ready, parent=other_case.sscc, children=[pallet.sscc])

    service.disaggregate(session=ready, parent=case.sscc, children=[units[0]])
    service.aggregate(session=ready, parent=other_case.sscc, children=[units[0]])
    actions = [str(a.action) for a in ready.exec(select(AggregationLog)).all()]
    assert actions.count("unpack") == 1 and actions.count("pack") == 6 + 1 + 1


def test_case_level_signed_codes(ready: Session, store: KeyFileStore) -> None:
    cases, _ = _generate(ready, store, 1, gtin=CASE_GTIN, level=CodeLevel.case)
    units, _ = _generate(ready, store, 2)
    service.aggregate(session=ready, parent=cases[0], children=units)
    row = service.resolve_code(session=ready, text=units[1])
    assert row.parent_id == service.resolve_code(session=ready, text=cases[0]).id


def test_unknown_and_malformed_references(ready: Session) -> None:
    with pytest.raises(CodeNotFound):
        service.resolve_code(session=ready, text="069012340000000009")
    with pytest.raises(Exception, match="check digit"):
        service.resolve_code(session=ready, text="069012340000000007")
