"""Signing and verification, key rotation and revocation, the keyring document and key files."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from codes.errors import (
    ForgedCode,
    InvalidKeyring,
    KeyFileError,
    KeyRevoked,
    MalformedCode,
    UnknownKey,
    UnverifiableCode,
)
from codes.identity import CodeIdentity, canonical_bytes
from codes.keyfiles import (
    KeyFileStore,
    public_key_from_pem,
    public_key_from_raw,
    public_key_raw,
    public_key_to_pem,
)
from codes.signing import (
    HmacSigner,
    KeyInfo,
    Keyring,
    SignedCode,
    Signer,
    check_signature_length,
    hmac_tag,
    key_fingerprint,
    verify,
)
from tests.codes.test_identity import identities

GTIN = "09506000134352"
SECRET = bytes(range(32))
IDENT = CodeIdentity(GTIN, "7Q2M9XK4RT8WB", "LOT-7", "270100")


def _signer(key_id: str = "k1", seed: int = 1) -> Signer:
    return Signer(key_id, Ed25519PrivateKey.from_private_bytes(bytes([seed]) * 32))


@pytest.fixture
def signer() -> Signer:
    return _signer()


@pytest.fixture
def ring(signer: Signer) -> Keyring:
    return Keyring([signer.key_info()])


def test_sign_and_verify(signer: Signer, ring: Keyring) -> None:
    code = signer.sign(IDENT)
    assert code.mode == "ed25519"
    assert len(code.signature) == 64
    assert code.message() == canonical_bytes("k1", IDENT)
    result = verify(code, ring)
    assert result.ok
    assert result.reason is None
    assert result.key_status == "active"
    result.raise_for_failure()


@given(identities)
def test_any_valid_identity_signs_and_verifies(ident: CodeIdentity) -> None:
    signer = _signer()
    assert verify(signer.sign(ident), Keyring([signer.key_info()])).ok


@pytest.mark.parametrize(
    "change",
    [
        {"serial": "7Q2M9XK4RT8WC"},
        {"gtin": "04006381333931"},
        {"lot": "LOT-8"},
        {"lot": None},
        {"expiry": "270101"},
        {"expiry": None},
    ],
)
def test_changed_identity_fails(signer: Signer, ring: Keyring, change: dict[str, str | None]) -> None:
    code = signer.sign(IDENT)
    fields = {"gtin": IDENT.gtin, "serial": IDENT.serial, "lot": IDENT.lot, "expiry": IDENT.expiry} | change
    forged = SignedCode(CodeIdentity(**fields), code.key_id, code.signature)  # type: ignore[arg-type]
    result = verify(forged, ring)
    assert not result.ok
    assert result.reason == "bad_signature"
    with pytest.raises(ForgedCode):
        result.raise_for_failure()


def test_signature_is_bound_to_the_key_id() -> None:
    # Same private key registered under two ids: a signature made for one id does not verify under the other.
    one, two = _signer("k1"), _signer("k2")
    ring = Keyring([one.key_info(), two.key_info()])
    code = one.sign(IDENT)
    assert verify(code, ring).ok
    moved = SignedCode(code.identity, "k2", code.signature)
    assert verify(moved, ring).reason == "bad_signature"


def test_wrong_length_or_flipped_signature_fails(signer: Signer, ring: Keyring) -> None:
    code = signer.sign(IDENT)
    for sig in (
        b"",
        code.signature[:-1],
        code.signature + b"\x00",
        bytes([code.signature[0] ^ 1]) + code.signature[1:],
    ):
        assert verify(SignedCode(IDENT, "k1", sig), ring).reason == "bad_signature"


def test_unknown_key(signer: Signer) -> None:
    result = verify(signer.sign(IDENT), Keyring([_signer("k2", seed=2).key_info()]))
    assert not result.ok
    assert result.reason == "unknown_key"
    assert "k1" in result.message
    with pytest.raises(UnknownKey):
        result.raise_for_failure()


def test_rotation_keeps_old_codes_verifying(signer: Signer, ring: Keyring) -> None:
    old_code = signer.sign(IDENT)
    new_signer = _signer("k2", seed=2)
    ring.add(new_signer.key_info())
    ring.retire("k1")
    result = verify(old_code, ring)
    assert result.ok
    assert result.key_status == "retired"
    assert "retired" in result.message
    assert verify(new_signer.sign(IDENT), ring).ok
    assert [k.key_id for k in ring.active()] == ["k2"]


def test_revoked_key_fails_with_its_reason(signer: Signer, ring: Keyring) -> None:
    code = signer.sign(IDENT)
    ring.revoke("k1", "plant laptop stolen")
    result = verify(code, ring)
    assert not result.ok
    assert result.reason == "key_revoked"
    assert "'k1'" in result.message
    assert "plant laptop stolen" in result.message
    with pytest.raises(KeyRevoked) as caught:
        result.raise_for_failure()
    assert caught.value.status_code == 409
    with pytest.raises(KeyRevoked, match="final"):
        ring.retire("k1")


def test_keyring_rules(signer: Signer, ring: Keyring) -> None:
    with pytest.raises(InvalidKeyring, match="already"):
        ring.add(signer.key_info())
    with pytest.raises(UnknownKey):
        ring.revoke("nope", "x")
    with pytest.raises(InvalidKeyring, match="reason"):
        ring.revoke("k1", "  ")
    with pytest.raises(InvalidKeyring, match="reason"):
        KeyInfo("k9", public_key_raw(signer.public_key), "active", "why")
    with pytest.raises(InvalidKeyring, match="Ed25519"):
        KeyInfo("k9", b"short")
    with pytest.raises(InvalidKeyring, match="key id"):
        KeyInfo("../k", public_key_raw(signer.public_key))
    with pytest.raises(InvalidKeyring, match="status"):
        KeyInfo("k9", public_key_raw(signer.public_key), "lost")  # type: ignore[arg-type]
    assert ring.public_key("k1") is ring.public_key("k1")  # loaded once


def test_keyring_json_round_trip(signer: Signer) -> None:
    ring = Keyring([signer.key_info()])
    ring.add_ed25519("k2", _signer("k2", seed=2).public_key)
    ring.add_ed25519("k3", public_key_raw(_signer("k3", seed=3).public_key))
    ring.add_hmac("h1")
    ring.retire("k1")
    ring.revoke("k2", "leaked: ticket #42")
    text = ring.to_json()
    again = Keyring.from_json(text)
    assert again == ring
    assert list(again) == ["k1", "k2", "k3", "h1"]
    assert again["k2"].revoked_reason == "leaked: ticket #42"
    assert again.to_json() == text
    assert Keyring.from_json(text.encode()) == ring
    assert json.loads(text) == ring.to_json_dict()
    assert verify(signer.sign(IDENT), again).ok


@pytest.mark.parametrize(
    "document",
    [
        "not json",
        "[]",
        '{"format": "other", "version": 1, "keys": []}',
        '{"format": "traceability-keyring", "version": 2, "keys": []}',
        '{"format": "traceability-keyring", "version": 1, "keys": {}}',
        '{"format": "traceability-keyring", "version": 1, "keys": [1]}',
        '{"format": "traceability-keyring", "version": 1, "keys": [{"key_id": "k1"}]}',
        '{"format": "traceability-keyring", "version": 1, "keys": [{"key_id": "k1", "public_key": "AAAA",'
        ' "status": "active"}]}',
        '{"format": "traceability-keyring", "version": 1, "keys": [{"key_id": "k1", "public_key": "%%%",'
        ' "status": "active"}]}',
        '{"format": "traceability-keyring", "version": 1, "keys": [{"key_id": "h1", "algorithm": "hmac",'
        ' "public_key": "AAAA", "status": "active"}]}',
        '{"format": "traceability-keyring", "version": 1, "keys": [{"key_id": "k1", "colour": "red"}]}',
    ],
)
def test_keyring_json_rejects(document: str) -> None:
    with pytest.raises(InvalidKeyring):
        Keyring.from_json(document)


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(), lambda c: st.lists(c) | st.dictionaries(st.text(), c)
    )
)
def test_keyring_json_never_raises_anything_else(value: object) -> None:
    documents = [json.dumps(value), json.dumps({"format": "traceability-keyring", "version": 1, "keys": value})]
    for document in documents:
        try:
            Keyring.from_json(document)
        except InvalidKeyring:
            pass


def test_keyring_from_public_pem(signer: Signer) -> None:
    pem = public_key_to_pem(signer.public_key)
    ring = Keyring.from_public_pem(pem, key_id="k1")
    assert verify(signer.sign(IDENT), ring).ok
    anonymous = Keyring.from_public_pem(pem.decode())
    (key_id,) = anonymous
    assert key_id == key_fingerprint(public_key_raw(signer.public_key))
    assert len(key_id) == 8
    with pytest.raises(InvalidKeyring):
        Keyring.from_public_pem(b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")


def test_sign_many_and_sign_new_match_sign(signer: Signer, ring: Keyring) -> None:
    idents = [CodeIdentity(GTIN, f"S{i}", "L", None) for i in range(20)]
    assert signer.sign_many(idents) == [signer.sign(i) for i in idents]  # Ed25519 is deterministic
    fresh = signer.sign_new(GTIN, 50, lot="L/1", expiry="270100")
    assert len({c.identity.serial for c in fresh}) == 50
    for code in fresh:
        assert code == signer.sign(CodeIdentity(GTIN, code.identity.serial, "L/1", "270100"))
        assert verify(code, ring).ok
    with pytest.raises(MalformedCode) as caught:
        signer.sign_new("09506000134353", 1)
    assert caught.value.detail["field"] == "gtin"


def test_signers_never_show_private_material(signer: Signer) -> None:
    hmac_signer = HmacSigner("h1", SECRET)
    for text in (repr(signer), str(signer), repr(hmac_signer)):
        assert "PRIVATE" not in text
        assert SECRET.hex() not in text
        assert repr(SECRET) not in text
    assert repr(signer) == "Signer(key_id='k1')"
    with pytest.raises(ValueError, match="key id"):
        Signer("bad/id", Ed25519PrivateKey.generate())


# --- compact mode ---------------------------------------------------------------------------------------------


def test_compact_codes_need_the_secret() -> None:
    code = HmacSigner("h1", SECRET).sign(IDENT)
    assert code.mode == "hmac"
    assert len(code.signature) == 8
    assert code.signature == hmac_tag(SECRET, canonical_bytes("h1", IDENT))
    offline = verify(code, Keyring())
    assert not offline.ok
    assert offline.reason == "hmac_needs_online_check"
    with pytest.raises(UnverifiableCode):
        offline.raise_for_failure()
    assert verify(code, Keyring(), {"h1": SECRET}).ok
    assert verify(code, Keyring(), {"h1": bytes(32)}).reason == "bad_signature"
    assert verify(code, Keyring(), {"h2": SECRET}).reason == "unknown_key"
    forged = SignedCode(CodeIdentity(GTIN, "OTHER", "LOT-7", "270100"), "h1", code.signature, "hmac")
    assert verify(forged, Keyring(), {"h1": SECRET}).reason == "bad_signature"


def test_compact_tag_length_is_enforced() -> None:
    long_code = HmacSigner("h1", SECRET, tag_bytes=12).sign(IDENT)
    assert verify(long_code, Keyring(), {"h1": SECRET}, hmac_tag_bytes=12).ok
    # A truncated tag is easier to guess: it fails even though it is a prefix of the right one.
    short = SignedCode(IDENT, "h1", long_code.signature[:6], "hmac")
    assert verify(short, Keyring(), {"h1": SECRET}, hmac_tag_bytes=12).reason == "bad_signature"
    with pytest.raises(ValueError, match="tag_bytes"):
        HmacSigner("h1", SECRET, tag_bytes=4)
    with pytest.raises(ValueError, match="16 bytes"):
        HmacSigner("h1", b"short")


def test_compact_keys_in_the_keyring_carry_revocation() -> None:
    ring = Keyring()
    ring.add_hmac("h1")
    code = HmacSigner("h1", SECRET).sign(IDENT)
    assert verify(code, ring, {"h1": SECRET}).ok
    ring.revoke("h1", "secret leaked")
    for secrets_ in (None, {"h1": SECRET}):
        result = verify(code, ring, secrets_)
        assert result.reason == "key_revoked"
        assert "secret leaked" in result.message


def test_mode_and_key_type_must_match(signer: Signer) -> None:
    ring = Keyring([signer.key_info()])
    ring.add_hmac("h1")
    hmac_as_k1 = HmacSigner("k1", SECRET).sign(IDENT)
    assert verify(hmac_as_k1, ring, {"k1": SECRET}).reason == "bad_signature"
    ed_as_h1 = SignedCode(IDENT, "h1", signer.sign(IDENT).signature)
    assert verify(ed_as_h1, ring).reason == "bad_signature"
    with pytest.raises(InvalidKeyring):
        ring.public_key("h1")


def test_hmac_sign_many_matches_sign() -> None:
    signer = HmacSigner("h1", SECRET)
    idents = [CodeIdentity(GTIN, f"S{i}") for i in range(10)]
    assert signer.sign_many(idents) == [signer.sign(i) for i in idents]
    fresh = signer.sign_new(GTIN, 10)
    assert all(verify(c, Keyring(), {"h1": SECRET}).ok for c in fresh)


def test_signature_length_rules() -> None:
    check_signature_length(bytes(64), "ed25519")
    check_signature_length(bytes(8), "hmac")
    for sig, mode in ((bytes(63), "ed25519"), (bytes(5), "hmac"), (bytes(33), "hmac")):
        with pytest.raises(MalformedCode):
            check_signature_length(sig, mode)
    with pytest.raises(MalformedCode, match="mode"):
        SignedCode(IDENT, "k1", bytes(64), "rsa")  # type: ignore[arg-type]
    with pytest.raises(MalformedCode, match="key id"):
        SignedCode(IDENT, "k 1", bytes(64))


# --- key files ------------------------------------------------------------------------------------------------


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_key_file_with_passphrase_round_trips(tmp_path: Path) -> None:
    store = KeyFileStore(tmp_path / "keys", passphrase=b"correct horse")
    public = store.create_ed25519("k1")
    path = store.pem_path("k1")
    assert path == tmp_path / "keys" / "k1.pem"
    assert b"ENCRYPTED PRIVATE KEY" in path.read_bytes()
    assert _mode(path) == 0o600
    private = store.load_private("k1")
    assert public_key_raw(private.public_key()) == public_key_raw(public)
    assert public_key_raw(store.load_public("k1")) == public_key_raw(public)
    code = Signer("k1", private).sign(IDENT)
    assert verify(code, Keyring([KeyInfo("k1", public_key_raw(public))])).ok
    assert store.key_ids() == ["k1"]
    assert "correct horse" not in repr(store)


def test_wrong_or_missing_passphrase_names_the_file(tmp_path: Path) -> None:
    KeyFileStore(tmp_path, passphrase=b"right").create_ed25519("k1")
    for store in (KeyFileStore(tmp_path, passphrase=b"wrong"), KeyFileStore(tmp_path)):
        with pytest.raises(KeyFileError) as caught:
            store.load_private("k1")
        assert str(tmp_path / "k1.pem") in caught.value.message
    KeyFileStore(tmp_path).create_ed25519("plain")
    with pytest.raises(KeyFileError, match="not encrypted"):
        KeyFileStore(tmp_path, passphrase=b"right").load_private("plain")
    with pytest.raises(KeyFileError, match="empty"):
        KeyFileStore(tmp_path, passphrase=b"")


def test_key_files_are_never_overwritten(tmp_path: Path) -> None:
    store = KeyFileStore(tmp_path)
    store.create_ed25519("k1")
    before = store.pem_path("k1").read_bytes()
    with pytest.raises(KeyFileError, match="exists already"):
        store.create_ed25519("k1")
    assert store.pem_path("k1").read_bytes() == before
    store.create_hmac_secret("h1")
    with pytest.raises(KeyFileError, match="exists already"):
        store.create_hmac_secret("h1")


def test_missing_unsafe_and_malformed_key_files(tmp_path: Path) -> None:
    store = KeyFileStore(tmp_path)
    with pytest.raises(KeyFileError, match=r"k9\.pem not found"):
        store.load_private("k9")
    with pytest.raises(KeyFileError, match="not found"):
        store.load_hmac_secret("h9")
    with pytest.raises(KeyFileError, match="key id"):
        store.load_private("../etc/passwd")
    store.create_ed25519("k1")
    os.chmod(store.pem_path("k1"), 0o644)
    with pytest.raises(KeyFileError, match="chmod 600"):
        store.load_private("k1")
    bogus = tmp_path / "k2.pem"
    bogus.write_bytes(b"not a key")
    bogus.chmod(0o600)
    with pytest.raises(KeyFileError, match="k2.pem"):
        store.load_private("k2")
    short = tmp_path / "h2.hmac"
    short.write_bytes(b"123")
    short.chmod(0o600)
    with pytest.raises(KeyFileError, match="32 bytes"):
        store.load_hmac_secret("h2")


def test_hmac_secret_files(tmp_path: Path) -> None:
    store = KeyFileStore(tmp_path)
    store.create_hmac_secret("h1")
    path = store.hmac_path("h1")
    assert _mode(path) == 0o600
    secret = store.load_hmac_secret("h1")
    assert len(secret) == 32
    assert secret == path.read_bytes()
    code = HmacSigner("h1", secret).sign(IDENT)
    assert verify(code, Keyring(), {"h1": store.load_hmac_secret("h1")}).ok


def test_public_key_helpers(signer: Signer) -> None:
    public = signer.public_key
    raw = public_key_raw(public)
    assert len(raw) == 32
    assert public_key_raw(public_key_from_raw(raw)) == raw
    pem = public_key_to_pem(public)
    assert pem.startswith(b"-----BEGIN PUBLIC KEY-----")
    assert public_key_raw(public_key_from_pem(pem)) == raw
    assert public_key_raw(public_key_from_pem(pem.decode())) == raw
    with pytest.raises(ValueError, match="32 bytes"):
        public_key_from_raw(raw[:31])
