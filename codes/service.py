"""Codes service: key records, bulk generation of signed codes, verification with state, aggregation.

Private keys stay in key files (``codes.keyfiles``); the database holds only public keys and key status.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TextIO
from urllib.parse import quote

from sqlalchemy import func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from codes.errors import AggregationError, CodeNotFound, KeyStateError, MalformedCode
from codes.identity import CodeIdentity, new_serial
from codes.keyfiles import KeyFileStore, public_key_raw
from codes.render import parse_code, to_element_string
from codes.signing import KeyInfo, Keyring, SignedCode, Signer, Verification, verify
from traceability.auth.service import Principal, scope_to_party
from traceability.errors import NotFound
from traceability.gs1 import is_valid_sscc, with_check_digit
from traceability.i18n import Catalogue, messages
from traceability.models import (
    AggregationAction,
    AggregationLog,
    Code,
    CodeBatch,
    CodeLevel,
    CodeStatus,
    KeyAlgorithm,
    KeyStatus,
    Party,
    Product,
    SigningKey,
)
from traceability.models.base import utcnow
from traceability.settings import Settings

__all__ = [
    "CodeCheck",
    "GenerationResult",
    "OutputFormat",
    "aggregate",
    "allocate_ssccs",
    "create_key",
    "disaggregate",
    "generate_codes",
    "get_code",
    "key_store",
    "keyring",
    "passphrase",
    "list_keys",
    "load_signer",
    "resolve_code",
    "revoke_key",
    "rotate_key",
    "verify_text",
]

_MESSAGES: Catalogue = messages("codes.service")

OutputFormat = Literal["dl", "gs1", "gs1-human", "csv"]
ProgressFn = Callable[[int], None]


def key_store(settings: Settings) -> KeyFileStore:
    """The key-file directory the settings point at, unlocked with the configured passphrase."""
    return KeyFileStore(settings.key_dir, passphrase(settings))


def passphrase(settings: Settings) -> bytes | None:
    return settings.key_passphrase.get_secret_value().encode() if settings.key_passphrase else None


# --- keys -------------------------------------------------------------------------------------------------------


def _next_key_id(session: Session, prefix: str) -> str:
    # Short ids keep printed payloads small; key ids are public, so a counter is fine.
    n = session.exec(select(func.count()).select_from(SigningKey)).one()
    while session.get(SigningKey, f"{prefix}{n + 1}") is not None:
        n += 1
    return f"{prefix}{n + 1}"


def create_key(
    *, session: Session, store: KeyFileStore, key_id: str | None = None, algorithm: KeyAlgorithm = KeyAlgorithm.ed25519
) -> SigningKey:
    """Create the first active key of an algorithm: a key file on disk and a public record in the database."""
    active = _active_key(session, algorithm)
    if active is not None:
        raise KeyStateError.keyed(_MESSAGES, "already_active", key_id=active.key_id, algorithm=algorithm.value)
    return _new_key(session=session, store=store, key_id=key_id, algorithm=algorithm)


def _new_key(*, session: Session, store: KeyFileStore, key_id: str | None, algorithm: KeyAlgorithm) -> SigningKey:
    key_id = key_id or _next_key_id(session, "K" if algorithm is KeyAlgorithm.ed25519 else "H")
    if session.get(SigningKey, key_id) is not None:
        raise KeyStateError.keyed(_MESSAGES, "key_taken", key_id=key_id)
    public: bytes | None = None
    if algorithm is KeyAlgorithm.ed25519:
        public = public_key_raw(store.create_ed25519(key_id))
    else:
        store.create_hmac_secret(key_id)
    row = SigningKey(key_id=key_id, algorithm=algorithm, public_key=public, status=KeyStatus.active)
    session.add(row)
    session.flush()
    return row


def _active_key(session: Session, algorithm: KeyAlgorithm) -> SigningKey | None:
    stmt = select(SigningKey).where(SigningKey.algorithm == algorithm, SigningKey.status == KeyStatus.active)
    return session.exec(stmt).first()


def rotate_key(
    *, session: Session, store: KeyFileStore, key_id: str | None = None, algorithm: KeyAlgorithm = KeyAlgorithm.ed25519
) -> SigningKey:
    """Make a new key active; the old one is retired, and codes it signed keep verifying."""
    old = _active_key(session, algorithm)
    new = _new_key(session=session, store=store, key_id=key_id, algorithm=algorithm)
    if old is not None:
        old.status = KeyStatus.retired
        old.retired_at = utcnow()
        session.add(old)
        session.flush()
    return new


def revoke_key(*, session: Session, key_id: str, reason: str) -> SigningKey:
    """Revoke a key: every code it signed now fails verification, naming the key and the reason."""
    row = session.get(SigningKey, key_id)
    if row is None:
        raise NotFound.keyed(_MESSAGES, "no_key", key_id=key_id, detail={"key_id": key_id})
    if not reason.strip():
        raise KeyStateError.keyed(_MESSAGES, "revoke_reason")
    row.status = KeyStatus.revoked
    row.revoked_at = utcnow()
    row.revoked_reason = reason.strip()
    session.add(row)
    session.flush()
    return row


def list_keys(*, session: Session) -> list[SigningKey]:
    """Every key record, oldest first."""
    return list(session.exec(select(SigningKey).order_by(col(SigningKey.created_at))).all())


def keyring(*, session: Session) -> Keyring:
    """The public keyring (Ed25519 keys with status) that offline scanners verify against."""
    infos = [
        KeyInfo(key_id=k.key_id, public_key=k.public_key, status=k.status.value if isinstance(k.status, KeyStatus)
                else str(k.status), revoked_reason=k.revoked_reason)
        for k in list_keys(session=session)
        if k.algorithm == KeyAlgorithm.ed25519 and k.public_key is not None
    ]  # fmt: skip
    return Keyring(infos)


def load_signer(*, session: Session, store: KeyFileStore) -> Signer:
    """The signer of the active Ed25519 key, its private half read from its key file."""
    active = _active_key(session, KeyAlgorithm.ed25519)
    if active is None:
        raise KeyStateError.keyed(_MESSAGES, "no_active_key")
    return Signer(active.key_id, store.load_private(active.key_id))


def _hmac_secrets(session: Session, store: KeyFileStore) -> dict[str, bytes]:
    rows = session.exec(
        select(SigningKey).where(SigningKey.algorithm == KeyAlgorithm.hmac, SigningKey.status != KeyStatus.revoked)
    ).all()
    return {r.key_id: store.load_hmac_secret(r.key_id) for r in rows}


# --- generation -------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GenerationResult:
    batch_id: int
    issued: int
    key_id: str
    collisions_retried: int


def _b64(sig: bytes) -> str:
    return base64.urlsafe_b64encode(sig).rstrip(b"=").decode("ascii")


class _Formatter:
    """Renders one code per output line; the per-batch parts are formatted once, not a million times."""

    def __init__(self, fmt: OutputFormat, template: SignedCode, resolver: str) -> None:
        self.fmt = fmt
        self.template = template
        ident = template.identity
        if fmt == "dl":
            # Serials (Crockford base32) and base64url signatures need no percent-encoding; checked by a test
            # against codes.render.to_digital_link.
            query = []
            if ident.lot is not None:
                query.append(f"10={quote(ident.lot, safe='')}")
            if ident.expiry is not None:
                query.append(f"17={ident.expiry}")
            query.append(f"91={template.key_id}")
            self.head = f"{resolver}/01/{ident.gtin}/21/"
            self.mid = "?" + "&".join(query) + "&92="

    def line(self, serial: str, signature: bytes) -> str:
        if self.fmt == "dl":
            return f"{self.head}{serial}{self.mid}{_b64(signature)}"
        t = self.template
        code = SignedCode(CodeIdentity(gtin=t.identity.gtin, serial=serial, lot=t.identity.lot,
                                       expiry=t.identity.expiry), t.key_id, signature, "ed25519")  # fmt: skip
        if self.fmt == "gs1":
            return to_element_string(code)
        if self.fmt == "gs1-human":
            return to_element_string(code, human=True)
        i = code.identity
        return f"{i.gtin},{i.serial},{i.lot or ''},{i.expiry or ''},{code.key_id},{_b64(signature)}"

    def header(self) -> str | None:
        return "gtin,serial,lot,expiry,key_id,signature" if self.fmt == "csv" else None


# Worker processes load the private key once from its file, never through a pipe.
_worker_signer: Signer | None = None


def _worker_init(key_dir: str, passphrase: bytes | None, key_id: str) -> None:
    global _worker_signer
    _worker_signer = Signer(key_id, KeyFileStore(Path(key_dir), passphrase).load_private(key_id))


def _sign_chunk(spec: tuple[str, str | None, str | None, int]) -> list[tuple[str, bytes]]:
    gtin, lot, expiry, n = spec
    assert _worker_signer is not None
    return _sign_fresh(_worker_signer, gtin, lot, expiry, n)


def _sign_fresh(signer: Signer, gtin: str, lot: str | None, expiry: str | None, n: int) -> list[tuple[str, bytes]]:
    """Draw and sign ``n`` new serials; the shared fields are validated once, not per code."""
    return [(c.identity.serial, c.signature) for c in signer.sign_new(gtin, n, lot=lot, expiry=expiry)]


def _sign_serials(
    signer: Signer, gtin: str, lot: str | None, expiry: str | None, serials: list[str]
) -> list[tuple[str, bytes]]:
    identities = [CodeIdentity(gtin=gtin, serial=s, lot=lot, expiry=expiry) for s in serials]
    return [(c.identity.serial, c.signature) for c in signer.sign_many(identities)]


def generate_codes(
    *,
    session: Session,
    signer: Signer,
    gtin: str,
    lot: str | None,
    expiry: str | None,
    count: int,
    out: TextIO,
    fmt: OutputFormat = "dl",
    resolver: str = "https://id.example.com",
    level: CodeLevel = CodeLevel.unit,
    party_id: str | None = None,
    chunk_size: int = 5000,
    workers: int = 1,
    key_dir: Path | None = None,
    passphrase: bytes | None = None,
    progress: ProgressFn | None = None,
    serial_source: Callable[[], str] = new_serial,
) -> GenerationResult:
    """Sign ``count`` new codes and stream them to ``out`` and to the database, a chunk at a time.

    Memory stays bounded by ``chunk_size``. Uniqueness is the database's unique constraint: a chunk that collides
    is rolled back to its savepoint and re-drawn, and a code reaches the file only after its row is in.
    """
    template = CodeIdentity(gtin=gtin, serial="0", lot=lot, expiry=expiry)  # validates gtin, lot, expiry once
    if count < 1:
        raise MalformedCode.keyed(_MESSAGES, "count", detail={"field": "count"})
    if level is CodeLevel.unit and session.get(Product, gtin) is None:
        raise NotFound.keyed(_MESSAGES, "no_product", gtin=gtin, detail={"gtin": gtin})
    if party_id is not None and session.get(Party, party_id) is None:
        raise NotFound.keyed(_MESSAGES, "unknown_party", party=party_id, detail={"party": party_id})

    batch = CodeBatch(level=level, gtin=gtin, lot=lot, expiry=expiry, key_id=signer.key_id, party_id=party_id,
                      requested=count)  # fmt: skip
    session.add(batch)
    session.flush()
    assert batch.id is not None
    formatter = _Formatter(fmt, SignedCode(template, signer.key_id, b"", "ed25519"), resolver)
    if (head := formatter.header()) is not None:
        out.write(head + "\n")

    sizes = [min(chunk_size, count - start) for start in range(0, count, chunk_size)]
    table = Code.__table__  # type: ignore[attr-defined]
    created = utcnow()
    retried = 0

    def chunks() -> Iterator[list[tuple[str, bytes]]]:
        if workers > 1 and serial_source is new_serial:
            if key_dir is None:
                raise KeyStateError.keyed(_MESSAGES, "parallel_keys")
            with ProcessPoolExecutor(
                max_workers=workers, initializer=_worker_init,
                initargs=(str(key_dir), passphrase, signer.key_id),
            ) as pool:  # fmt: skip
                yield from pool.map(_sign_chunk, [(gtin, lot, expiry, n) for n in sizes])
        elif serial_source is new_serial:
            for n in sizes:
                yield _sign_fresh(signer, gtin, lot, expiry, n)
        else:
            for n in sizes:
                yield _sign_serials(signer, gtin, lot, expiry, [serial_source() for _ in range(n)])

    # Bulk rows go straight to the driver: per-row parameter processing in SQLAlchemy costs more than the insert.
    dialect = session.get_bind().dialect
    columns = ("level", "gtin", "serial", "lot", "expiry", "key_id", "signature", "status", "batch_id", "holder_id",
               "created_at")  # fmt: skip
    mark = "?" if dialect.paramstyle == "qmark" else "%s"
    sql = f"INSERT INTO code ({', '.join(columns)}) VALUES ({', '.join([mark] * len(columns))})"
    to_db = table.c.created_at.type.bind_processor(dialect)
    created_value = to_db(created) if to_db is not None else created
    fixed_head = (level.value, gtin)
    fixed_tail = (lot, expiry, signer.key_id)
    fixed_end = (CodeStatus.generated.value, batch.id, party_id, created_value)

    issued = 0
    for signed in chunks():
        while True:
            rows = [(*fixed_head, s, *fixed_tail, sig, *fixed_end) for s, sig in signed]
            try:
                with session.begin_nested():
                    session.connection().exec_driver_sql(sql, rows)
                break
            except IntegrityError:
                # A serial already exists (vanishingly rare with 65 random bits, but the database decides).
                retried += 1
                signed = _sign_fresh(signer, gtin, lot, expiry, len(signed))
        out.write("".join(formatter.line(s, sig) + "\n" for s, sig in signed))
        issued += len(signed)
        if progress is not None:
            progress(len(signed))
    batch.issued = issued
    session.add(batch)
    session.flush()
    return GenerationResult(batch_id=batch.id, issued=issued, key_id=signer.key_id, collisions_retried=retried)


# --- verification and look-up ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CodeCheck:
    """A verification and, when the code is ours, its record: what a scanner or inspector needs to know."""

    code: SignedCode
    verification: Verification
    record: Code | None

    @property
    def issued(self) -> bool:
        return self.record is not None


def verify_text(*, session: Session, text: str, store: KeyFileStore | None = None) -> CodeCheck:
    """Parse and verify a scanned code against the database keyring, then look up its record."""
    code = parse_code(text)
    secrets_ = _hmac_secrets(session, store) if (store is not None and code.mode == "hmac") else None
    verification = verify(code, keyring(session=session), secrets_)
    record = session.exec(
        select(Code).where(Code.gtin == code.identity.gtin, Code.serial == code.identity.serial)
    ).first()
    return CodeCheck(code=code, verification=verification, record=record)


def resolve_code(*, session: Session, text: str) -> Code:
    """The record a code string stands for: a signed unit/case code, or an SSCC (18 digits, ``(00)…``, URN)."""
    text = text.strip()
    sscc = _as_sscc(text)
    if sscc is not None:
        row = session.exec(select(Code).where(Code.sscc == sscc)).first()
        if row is None:
            raise CodeNotFound.keyed(_MESSAGES, "sscc_never_issued", sscc=sscc, detail={"sscc": sscc})
        return row
    code = parse_code(text)
    row = session.exec(select(Code).where(Code.gtin == code.identity.gtin, Code.serial == code.identity.serial)).first()
    if row is None:
        raise CodeNotFound.keyed(_MESSAGES, "never_issued", gtin=code.identity.gtin, serial=code.identity.serial,
                                 detail={"gtin": code.identity.gtin, "serial": code.identity.serial})  # fmt: skip
    return row


def _as_sscc(text: str) -> str | None:
    candidate = None
    if text.isdigit() and len(text) == 18:
        candidate = text
    elif text.startswith("(00)"):
        candidate = text[4:]
    elif text.startswith("00") and len(text) == 20 and text.isdigit():
        candidate = text[2:]
    elif text.startswith("urn:epc:id:sscc:"):
        parts = text.removeprefix("urn:epc:id:sscc:").split(".")
        if len(parts) == 2 and parts[1]:
            body = parts[1][0] + parts[0] + parts[1][1:]
            candidate = with_check_digit(body) if body.isdigit() and len(body) == 17 else None
    if candidate is None:
        return None
    if not is_valid_sscc(candidate):
        raise MalformedCode.keyed(_MESSAGES, "bad_sscc", sscc=candidate, detail={"field": "sscc"})
    return candidate


def get_code(*, session: Session, principal: Principal, gtin: str, serial: str) -> Code:
    """One code record, visible only to the party that holds it (and to full-view roles)."""
    stmt = select(Code).where(Code.gtin == gtin, Code.serial == serial)
    row = session.exec(scope_to_party(stmt, principal, Code.holder_id)).first()
    if row is None:
        raise CodeNotFound.keyed(_MESSAGES, "no_code", gtin=gtin, serial=serial,
                                 detail={"gtin": gtin, "serial": serial})  # fmt: skip
    return row


# --- SSCC and aggregation ---------------------------------------------------------------------------------------


def allocate_ssccs(
    *,
    session: Session,
    company_prefix: str,
    count: int,
    extension: str = "0",
    party_id: str | None = None,
    level: CodeLevel = CodeLevel.case,
) -> list[Code]:
    """Allocate random, never-reused SSCCs for cases or pallets under a GS1 company prefix."""
    if not (company_prefix.isdigit() and 6 <= len(company_prefix) <= 12):
        raise MalformedCode.keyed(_MESSAGES, "company_prefix", detail={"field": "company_prefix"})
    if extension not in "0123456789" or len(extension) != 1:
        raise MalformedCode.keyed(_MESSAGES, "extension", detail={"field": "extension"})
    ref_len = 16 - len(company_prefix)
    made: list[Code] = []
    while len(made) < count:
        body = extension + company_prefix + "".join(secrets.choice("0123456789") for _ in range(ref_len))
        row = Code(level=level, sscc=with_check_digit(body), status=CodeStatus.generated, holder_id=party_id)
        try:
            with session.begin_nested():
                session.add(row)
                session.flush()
        except IntegrityError:
            continue
        made.append(row)
    return made


# Levels make cycles impossible: a case holds only units, a pallet only cases and units.
_ALLOWED_CHILD = {CodeLevel.case: {CodeLevel.unit}, CodeLevel.pallet: {CodeLevel.case, CodeLevel.unit}}


def aggregate(*, session: Session, parent: str, children: list[str], party_id: str | None = None) -> Code:
    """Pack children into a parent (units into a case, cases into a pallet); a child is in at most one parent."""
    parent_row = resolve_code(session=session, text=parent)
    allowed = _ALLOWED_CHILD.get(CodeLevel(parent_row.level))
    if allowed is None:
        raise AggregationError.keyed(_MESSAGES, "holds_nothing", level=parent_row.level, detail={"parent": parent})
    rows: list[Code] = []
    seen: set[int] = set()
    for i, text in enumerate(children):
        child = resolve_code(session=session, text=text)
        assert child.id is not None
        if child.id in seen:
            raise AggregationError.keyed(_MESSAGES, "twice", i=i, detail={"child": text})
        seen.add(child.id)
        if CodeLevel(child.level) not in allowed:
            raise AggregationError.keyed(_MESSAGES, "wrong_level", level=child.level, parent_level=parent_row.level,
                                        detail={"child": text})  # fmt: skip
        if child.parent_id is not None and child.parent_id != parent_row.id:
            raise AggregationError.keyed(_MESSAGES, "packed_elsewhere", i=i, parent_id=child.parent_id,
                                         detail={"child": text})  # fmt: skip
        if child.status in (CodeStatus.voided, CodeStatus.sold):
            raise AggregationError.keyed(_MESSAGES, "unpackable", i=i, status=child.status, detail={"child": text})
        rows.append(child)
    assert parent_row.id is not None
    for child in rows:
        if child.parent_id == parent_row.id:
            continue
        assert child.id is not None
        child.parent_id = parent_row.id
        session.add(child)
        session.add(AggregationLog(parent_id=parent_row.id, child_id=child.id, action=AggregationAction.pack,
                                   party_id=party_id))  # fmt: skip
    session.flush()
    return parent_row


def disaggregate(*, session: Session, parent: str, children: list[str] | None = None,
                 party_id: str | None = None) -> list[Code]:  # fmt: skip
    """Unpack some or all children of a parent; each unpacking is logged."""
    parent_row = resolve_code(session=session, text=parent)
    if children is None:
        targets = list(session.exec(select(Code).where(Code.parent_id == parent_row.id)).all())
    else:
        targets = [resolve_code(session=session, text=t) for t in children]
        for t, row in zip(children, targets, strict=True):
            if row.parent_id != parent_row.id:
                raise AggregationError.keyed(_MESSAGES, "not_inside", child=t, detail={"child": t})
    assert parent_row.id is not None
    for row in targets:
        assert row.id is not None
        row.parent_id = None
        session.add(row)
        session.add(AggregationLog(parent_id=parent_row.id, child_id=row.id, action=AggregationAction.unpack,
                                   party_id=party_id))  # fmt: skip
    session.flush()
    return targets


def children_of(*, session: Session, parent_id: int) -> list[Code]:
    """Direct children of a case or pallet."""
    return list(session.exec(select(Code).where(Code.parent_id == parent_id).order_by(col(Code.id))).all())


def mark_status(*, session: Session, ids: list[int], status: CodeStatus) -> None:
    """Set the status of many codes in one statement (used by print jobs and scans)."""
    if ids:
        session.execute(update(Code).where(col(Code.id).in_(ids)).values(status=status.value))
