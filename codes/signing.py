"""Signing codes and verifying them, online or offline.

Full mode signs :func:`~codes.identity.canonical_bytes` with Ed25519: anyone holding the public keys (a
:class:`Keyring`, exported as JSON) verifies a label offline. Compact mode puts a truncated HMAC-SHA256 tag on the
label instead: far fewer characters, but only the holder of the secret (the online service) can check it.

Keys rotate: a retired key signs nothing new, but its codes keep verifying. A revoked key's codes fail with the
reason ``key_revoked``, which names the key and why it was revoked.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal, NoReturn, get_args

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from codes.errors import (
    ForgedCode,
    InvalidKeyring,
    KeyRevoked,
    MalformedCode,
    UnknownKey,
    UnverifiableCode,
)
from codes.identity import (
    CANONICAL_VERSION,
    CodeIdentity,
    TokenBytes,
    canonical_bytes,
    check_key_id,
    is_valid_key_id,
    new_serials,
)
from codes.keyfiles import public_key_from_pem, public_key_from_raw, public_key_raw

__all__ = [
    "DEFAULT_HMAC_TAG_BYTES",
    "ED25519_SIGNATURE_BYTES",
    "MAX_HMAC_TAG_BYTES",
    "MIN_HMAC_TAG_BYTES",
    "HmacSigner",
    "KeyInfo",
    "KeyStatus",
    "Keyring",
    "Mode",
    "SignedCode",
    "Signer",
    "Verification",
    "VerifyReason",
    "check_signature_length",
    "hmac_tag",
    "key_fingerprint",
    "verify",
]

Mode = Literal["ed25519", "hmac"]
KeyStatus = Literal["active", "retired", "revoked"]
VerifyReason = Literal["bad_signature", "unknown_key", "key_revoked", "hmac_needs_online_check"]

ED25519_SIGNATURE_BYTES = 64
DEFAULT_HMAC_TAG_BYTES = 8
# Below 48 bits a tag is guessable by a determined forger even with online rate limits.
MIN_HMAC_TAG_BYTES = 6
MAX_HMAC_TAG_BYTES = 32

_MODES: tuple[str, ...] = get_args(Mode)
_STATUSES: tuple[str, ...] = get_args(KeyStatus)
_KEYRING_FORMAT = "traceability-keyring"
_KEYRING_VERSION = 1


def check_signature_length(signature: bytes, mode: str) -> None:
    """Raise :class:`MalformedCode` unless ``signature`` has a length that ``mode`` allows."""
    if mode == "ed25519":
        if len(signature) != ED25519_SIGNATURE_BYTES:
            raise MalformedCode(
                f"an Ed25519 signature has {ED25519_SIGNATURE_BYTES} bytes, got {len(signature)}", field="signature"
            )
    elif not MIN_HMAC_TAG_BYTES <= len(signature) <= MAX_HMAC_TAG_BYTES:
        raise MalformedCode(
            f"an HMAC tag has {MIN_HMAC_TAG_BYTES}-{MAX_HMAC_TAG_BYTES} bytes, got {len(signature)}", field="tag"
        )


@dataclass(frozen=True, slots=True)
class SignedCode:
    """An identity with the key id and signature (or compact-mode tag) printed next to it."""

    identity: CodeIdentity
    key_id: str
    signature: bytes
    mode: Mode = "ed25519"

    def __post_init__(self) -> None:
        # The signature's length is not checked here (a template with b"" is handy); parse_code checks it and
        # verify() fails a wrong one.
        if not isinstance(self.identity, CodeIdentity):
            raise MalformedCode("identity must be a CodeIdentity", field="identity")
        check_key_id(self.key_id)
        if self.mode not in _MODES:
            raise MalformedCode(f"mode must be one of {', '.join(_MODES)}, got {self.mode!r}", field="mode")
        if not isinstance(self.signature, bytes):
            raise MalformedCode("signature must be bytes", field="signature")

    def check_signature_length(self) -> None:
        """Raise :class:`MalformedCode` unless the signature (or tag) has a length its mode allows."""
        check_signature_length(self.signature, self.mode)

    @classmethod
    def _trusted(cls, identity: CodeIdentity, key_id: str, signature: bytes, mode: Mode) -> SignedCode:
        """Build without validation: only for values a signer just produced."""
        self = object.__new__(cls)
        _set = object.__setattr__
        _set(self, "identity", identity)
        _set(self, "key_id", key_id)
        _set(self, "signature", signature)
        _set(self, "mode", mode)
        return self

    def message(self) -> bytes:
        """Return the canonical bytes that the signature covers."""
        return canonical_bytes(self.key_id, self.identity)


def hmac_tag(secret: bytes, message: bytes, tag_bytes: int = DEFAULT_HMAC_TAG_BYTES) -> bytes:
    """Return HMAC-SHA256(secret, message) truncated to its first ``tag_bytes`` bytes."""
    return hmac.digest(secret, message, hashlib.sha256)[:tag_bytes]


class _BaseSigner:
    """What both signers share: the canonical message layout and the batch loops."""

    __slots__ = ("key_id",)
    mode: Mode

    def __init__(self, key_id: str) -> None:
        try:
            self.key_id = check_key_id(key_id)
        except MalformedCode as exc:
            raise ValueError(exc.message) from None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(key_id={self.key_id!r})"

    def _sign_bytes(self, message: bytes) -> bytes:  # pragma: no cover - overridden
        raise NotImplementedError

    def _signing_function(self) -> Callable[[bytes], bytes]:
        """Return the bound, fastest callable ``bytes -> signature`` for hot loops."""
        return self._sign_bytes

    def sign(self, identity: CodeIdentity) -> SignedCode:
        """Sign one identity."""
        return SignedCode._trusted(
            identity, self.key_id, self._sign_bytes(canonical_bytes(self.key_id, identity)), self.mode
        )

    def sign_many(self, identities: Iterable[CodeIdentity]) -> list[SignedCode]:
        """Sign many identities; they were validated when constructed, so nothing is checked again."""
        sign = self._signing_function()
        make = SignedCode._trusted
        key_id, mode = self.key_id, self.mode
        head = f"{CANONICAL_VERSION}|{key_id}|"
        out: list[SignedCode] = []
        append = out.append
        for ident in identities:
            message = f"{head}{ident.gtin}|{ident.serial}|{ident.lot or ''}|{ident.expiry or ''}".encode("ascii")
            append(make(ident, key_id, sign(message), mode))
        return out

    def sign_new(
        self,
        gtin: str,
        count: int,
        *,
        lot: str | None = None,
        expiry: str | None = None,
        token_bytes: TokenBytes = secrets.token_bytes,
    ) -> list[SignedCode]:
        """Draw ``count`` fresh random serials for one GTIN / lot / expiry and sign them: the print-job hot loop.

        The shared fields are validated once; each serial is valid by construction, so the loop does only the
        signing and two object constructions per code.
        """
        CodeIdentity(gtin, "0", lot, expiry)  # validates the shared fields once, raising MalformedCode
        serials = new_serials(count, token_bytes)
        sign = self._signing_function()
        make_identity = CodeIdentity._trusted
        make = SignedCode._trusted
        key_id, mode = self.key_id, self.mode
        head = f"{CANONICAL_VERSION}|{key_id}|{gtin}|".encode("ascii")
        tail = f"|{lot or ''}|{expiry or ''}".encode("ascii")
        out: list[SignedCode] = []
        append = out.append
        for serial in serials:
            signature = sign(head + serial.encode("ascii") + tail)
            append(make(make_identity(gtin, serial, lot, expiry), key_id, signature, mode))
        return out


class Signer(_BaseSigner):
    """Signs identities with one Ed25519 private key (full mode: verifiable offline)."""

    __slots__ = ("_private",)
    mode: Mode = "ed25519"

    def __init__(self, key_id: str, private_key: Ed25519PrivateKey) -> None:
        super().__init__(key_id)
        if not isinstance(private_key, Ed25519PrivateKey):
            raise TypeError("Signer needs an Ed25519PrivateKey")
        self._private = private_key

    @property
    def public_key(self) -> Ed25519PublicKey:
        """The public key that verifies this signer's codes."""
        return self._private.public_key()

    def key_info(self) -> KeyInfo:
        """Return the keyring entry (active) for this signer's key."""
        return KeyInfo(self.key_id, public_key_raw(self.public_key))

    def _sign_bytes(self, message: bytes) -> bytes:
        return self._private.sign(message)

    def _signing_function(self) -> Callable[[bytes], bytes]:
        return self._private.sign


class HmacSigner(_BaseSigner):
    """Tags identities with truncated HMAC-SHA256 (compact mode: verifiable only where the secret is)."""

    __slots__ = ("_base", "tag_bytes")
    mode: Mode = "hmac"

    def __init__(self, key_id: str, secret: bytes, tag_bytes: int = DEFAULT_HMAC_TAG_BYTES) -> None:
        super().__init__(key_id)
        if not isinstance(secret, bytes) or len(secret) < 16:
            raise ValueError("an HMAC secret must be at least 16 bytes")
        if not MIN_HMAC_TAG_BYTES <= tag_bytes <= MAX_HMAC_TAG_BYTES:
            raise ValueError(f"tag_bytes must be {MIN_HMAC_TAG_BYTES}-{MAX_HMAC_TAG_BYTES}, got {tag_bytes}")
        self.tag_bytes = tag_bytes
        # Keyed once; each tag copies the keyed state instead of re-deriving the padded keys.
        self._base = hmac.new(secret, digestmod=hashlib.sha256)

    def _sign_bytes(self, message: bytes) -> bytes:
        mac = self._base.copy()
        mac.update(message)
        return mac.digest()[: self.tag_bytes]

    def _signing_function(self) -> Callable[[bytes], bytes]:
        copy, size = self._base.copy, self.tag_bytes

        def tag(message: bytes) -> bytes:
            mac = copy()
            mac.update(message)
            return mac.digest()[:size]

        return tag


def key_fingerprint(public_key: bytes) -> str:
    """Return a short, stable key id for a raw public key: 8 lower-case base32 characters of its SHA-256."""
    digest = hashlib.sha256(public_key).digest()
    return base64.b32encode(digest[:5]).decode("ascii").lower()


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """One keyring entry: a key id, its raw public key (empty for HMAC keys) and its status."""

    key_id: str
    public_key: bytes
    status: KeyStatus = "active"
    revoked_reason: str | None = None
    algorithm: Mode = "ed25519"

    def __post_init__(self) -> None:
        if not is_valid_key_id(self.key_id):
            raise InvalidKeyring(f"invalid key id {self.key_id!r}", key_id=repr(self.key_id))
        if self.algorithm not in _MODES:
            raise InvalidKeyring(f"key {self.key_id}: unknown algorithm {self.algorithm!r}", key_id=self.key_id)
        if not isinstance(self.public_key, bytes):
            raise InvalidKeyring(f"key {self.key_id}: public key must be bytes", key_id=self.key_id)
        if self.algorithm == "ed25519":
            try:
                public_key_from_raw(self.public_key)
            except ValueError:
                raise InvalidKeyring(
                    f"key {self.key_id}: not a valid raw Ed25519 public key (32 bytes)", key_id=self.key_id
                ) from None
        elif self.public_key:
            raise InvalidKeyring(f"key {self.key_id}: an HMAC key has no public key", key_id=self.key_id)
        if self.status not in _STATUSES:
            raise InvalidKeyring(f"key {self.key_id}: unknown status {self.status!r}", key_id=self.key_id)
        if self.status == "revoked":
            if not isinstance(self.revoked_reason, str) or not self.revoked_reason.strip():
                raise InvalidKeyring(f"key {self.key_id}: a revoked key needs a reason", key_id=self.key_id)
        elif self.revoked_reason is not None:
            raise InvalidKeyring(f"key {self.key_id}: only a revoked key has a revocation reason", key_id=self.key_id)


class Keyring(Mapping[str, KeyInfo]):
    """Key id -> :class:`KeyInfo`: everything a scanner needs to verify full-mode codes offline."""

    __slots__ = ("_keys", "_loaded")

    def __init__(self, keys: Iterable[KeyInfo] = ()) -> None:
        self._keys: dict[str, KeyInfo] = {}
        self._loaded: dict[str, Ed25519PublicKey] = {}
        for info in keys:
            self.add(info)

    def __getitem__(self, key_id: str) -> KeyInfo:
        return self._keys[key_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def __repr__(self) -> str:
        listed = ", ".join(f"{k}:{v.status}" for k, v in self._keys.items())
        return f"Keyring({listed})"

    def add(self, info: KeyInfo) -> KeyInfo:
        """Add a key; a key id is never reused, so adding an existing one is an error."""
        if not isinstance(info, KeyInfo):
            raise TypeError("Keyring.add takes a KeyInfo")
        if info.key_id in self._keys:
            raise InvalidKeyring(f"key id {info.key_id!r} is already in the keyring", key_id=info.key_id)
        self._keys[info.key_id] = info
        return info

    def add_ed25519(self, key_id: str, public_key: Ed25519PublicKey | bytes) -> KeyInfo:
        """Add an active Ed25519 public key."""
        raw = public_key if isinstance(public_key, bytes) else public_key_raw(public_key)
        return self.add(KeyInfo(key_id, raw))

    def add_hmac(self, key_id: str) -> KeyInfo:
        """Add an active compact-mode key (no public part: listed so that its status travels offline)."""
        return self.add(KeyInfo(key_id, b"", algorithm="hmac"))

    def _get(self, key_id: str) -> KeyInfo:
        try:
            return self._keys[key_id]
        except KeyError:
            raise UnknownKey(f"key {key_id!r} is not in the keyring", key_id=key_id) from None

    def retire(self, key_id: str) -> KeyInfo:
        """Stop using a key for new codes; its codes keep verifying."""
        info = self._get(key_id)
        if info.status == "revoked":
            raise KeyRevoked(f"key {key_id!r} is revoked; revocation is final", key_id=key_id)
        self._keys[key_id] = updated = replace(info, status="retired")
        return updated

    def revoke(self, key_id: str, reason: str) -> KeyInfo:
        """Revoke a key: every code it signed fails verification with ``key_revoked`` and this reason."""
        info = self._get(key_id)
        self._keys[key_id] = updated = replace(info, status="revoked", revoked_reason=reason)
        return updated

    def active(self) -> list[KeyInfo]:
        """Return the keys that may sign new codes."""
        return [info for info in self._keys.values() if info.status == "active"]

    def public_key(self, key_id: str) -> Ed25519PublicKey:
        """Return the loaded public key of an Ed25519 entry (cached: verification is a hot path too)."""
        loaded = self._loaded.get(key_id)
        if loaded is None:
            info = self._get(key_id)
            if info.algorithm != "ed25519":
                raise InvalidKeyring(f"key {key_id!r} is an HMAC key; it has no public key", key_id=key_id)
            loaded = self._loaded[key_id] = public_key_from_raw(info.public_key)
        return loaded

    @classmethod
    def from_public_pem(cls, pem: bytes | str, key_id: str | None = None) -> Keyring:
        """Return a keyring of one active key read from a public-key PEM; the id defaults to its fingerprint."""
        try:
            raw = public_key_raw(public_key_from_pem(pem))
        except (ValueError, TypeError, UnicodeError) as exc:
            raise InvalidKeyring(f"not an Ed25519 public key PEM: {exc}") from None
        return cls([KeyInfo(key_id if key_id is not None else key_fingerprint(raw), raw)])

    def to_json(self, *, indent: int | None = 2) -> str:
        """Serialise for offline scanners: public keys (base64url) and statuses, never any secret."""
        return json.dumps(self.to_json_dict(), indent=indent)

    def to_json_dict(self) -> dict[str, Any]:
        """Return the JSON document of :meth:`to_json` as a dict (for APIs that serialise it themselves)."""
        keys = [
            {
                "key_id": info.key_id,
                "algorithm": info.algorithm,
                "public_key": _b64u(info.public_key) if info.algorithm == "ed25519" else None,
                "status": info.status,
                "revoked_reason": info.revoked_reason,
            }
            for info in self._keys.values()
        ]
        return {"format": _KEYRING_FORMAT, "version": _KEYRING_VERSION, "keys": keys}

    @classmethod
    def from_json(cls, text: str | bytes) -> Keyring:
        """Parse what :meth:`to_json` wrote; InvalidKeyring on anything else."""
        try:
            document = json.loads(text)
        except (ValueError, TypeError) as exc:
            raise InvalidKeyring(f"keyring is not JSON: {exc}") from None
        if not isinstance(document, dict) or document.get("format") != _KEYRING_FORMAT:
            raise InvalidKeyring(f"not a keyring document (expected format {_KEYRING_FORMAT!r})")
        if document.get("version") != _KEYRING_VERSION:
            raise InvalidKeyring(f"unsupported keyring version {document.get('version')!r}")
        entries = document.get("keys")
        if not isinstance(entries, list):
            raise InvalidKeyring("keyring 'keys' must be a list")
        keyring = cls()
        for index, entry in enumerate(entries):
            keyring.add(_key_info_from_json(index, entry))
        return keyring


def _b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _key_info_from_json(index: int, entry: object) -> KeyInfo:
    where = f"keys[{index}]"
    if not isinstance(entry, dict):
        raise InvalidKeyring(f"{where} must be an object")
    unknown = set(entry) - {"key_id", "algorithm", "public_key", "status", "revoked_reason"}
    if unknown:
        raise InvalidKeyring(f"{where} has unknown fields: {', '.join(sorted(unknown))}")
    algorithm = entry.get("algorithm", "ed25519")
    encoded = entry.get("public_key")
    raw = b""
    if algorithm == "ed25519":
        if not isinstance(encoded, str):
            raise InvalidKeyring(f"{where}.public_key must be a base64url string")
        try:
            raw = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
        except (ValueError, TypeError):
            raise InvalidKeyring(f"{where}.public_key is not base64url") from None
        if _b64u(raw) != encoded:
            raise InvalidKeyring(f"{where}.public_key is not canonical base64url")
    elif encoded is not None:
        raise InvalidKeyring(f"{where}: an HMAC key has no public key")
    for name in ("key_id", "status"):
        if not isinstance(entry.get(name), str):
            raise InvalidKeyring(f"{where}.{name} must be a string")
    reason = entry.get("revoked_reason")
    if reason is not None and not isinstance(reason, str):
        raise InvalidKeyring(f"{where}.revoked_reason must be a string or null")
    return KeyInfo(entry["key_id"], raw, entry["status"], reason, algorithm)


@dataclass(frozen=True, slots=True)
class Verification:
    """The outcome of verifying one code: ``ok``, a machine ``reason`` when not, and a message for people."""

    ok: bool
    reason: VerifyReason | None
    message: str
    key_id: str
    key_status: KeyStatus | None = None

    def raise_for_failure(self) -> None:
        """Raise the domain error matching ``reason`` (for callers that treat failure as an error)."""
        if self.ok:
            return
        _raise(self)


def _raise(result: Verification) -> NoReturn:
    detail = {"key_id": result.key_id, "reason": result.reason}
    if result.reason == "unknown_key":
        raise UnknownKey(result.message, **detail)
    if result.reason == "key_revoked":
        raise KeyRevoked(result.message, **detail)
    if result.reason == "hmac_needs_online_check":
        raise UnverifiableCode(result.message, **detail)
    raise ForgedCode(result.message, **detail)


def _fail(reason: VerifyReason, message: str, key_id: str, status: KeyStatus | None = None) -> Verification:
    return Verification(False, reason, message, key_id, status)


def verify(
    code: SignedCode,
    keyring: Keyring,
    hmac_secrets: Mapping[str, bytes] | None = None,
    *,
    hmac_tag_bytes: int = DEFAULT_HMAC_TAG_BYTES,
) -> Verification:
    """Verify a code's signature (or compact tag) against the keyring; never raises for a bad code.

    Retired keys verify; revoked keys fail with ``key_revoked``. A compact-mode code fails with
    ``hmac_needs_online_check`` where no secrets are given, and with ``bad_signature`` unless its tag has
    exactly ``hmac_tag_bytes`` bytes (a shorter tag would be easier to guess).
    """
    key_id = code.key_id
    info = keyring.get(key_id)
    if info is not None and info.algorithm != code.mode:
        return _fail(
            "bad_signature",
            f"code is in {code.mode} mode but key {key_id!r} is an {info.algorithm} key",
            key_id,
            info.status,
        )
    if info is not None and info.status == "revoked":
        return _fail(
            "key_revoked",
            f"key {key_id!r} was revoked ({info.revoked_reason}); codes signed with it are not trusted",
            key_id,
            "revoked",
        )
    message = canonical_bytes(key_id, code.identity)
    if code.mode == "hmac":
        status = info.status if info is not None else None
        if hmac_secrets is None:
            return _fail(
                "hmac_needs_online_check",
                f"compact code tagged with key {key_id!r}: only the online service can verify it",
                key_id,
                status,
            )
        secret = hmac_secrets.get(key_id)
        if secret is None:
            return _fail("unknown_key", f"no HMAC secret for key {key_id!r}", key_id, status)
        if len(code.signature) != hmac_tag_bytes or not hmac.compare_digest(
            code.signature, hmac_tag(secret, message, hmac_tag_bytes)
        ):
            return _fail("bad_signature", f"HMAC tag does not match (key {key_id!r})", key_id, status)
        return _ok(key_id, status)
    if info is None:
        return _fail("unknown_key", f"key {key_id!r} is not in the keyring", key_id)
    try:
        keyring.public_key(key_id).verify(code.signature, message)
    except InvalidSignature:
        return _fail("bad_signature", f"signature does not match (key {key_id!r})", key_id, info.status)
    return _ok(key_id, info.status)


def _ok(key_id: str, status: KeyStatus | None) -> Verification:
    note = f" (key {status})" if status is not None and status != "active" else ""
    return Verification(True, None, f"signature verified with key {key_id!r}{note}", key_id, status)
