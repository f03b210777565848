"""Member identities: a phone number is stored only as a keyed hash, never in clear.

Phone numbers have little entropy, so a plain salted hash could be brute-forced from the database alone; the key
(pepper) lives outside the database, in the key directory, created on first use.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import re
import secrets
import tempfile
from pathlib import Path

from traceability.errors import InvalidInput

__all__ = ["MEMBER_FIELD", "MEMBER_KEYS", "MEMBER_NAMESPACE", "is_member_hash", "member_hash", "member_pepper",
           "normalise_phone"]

MEMBER_NAMESPACE = "https://traceability.dev/ns/"
MEMBER_FIELD = "trc:member"
"""The EPCIS extension field that carries the member's hash on a retail_selling event."""
MEMBER_KEYS = (MEMBER_FIELD, MEMBER_NAMESPACE + MEMBER_FIELD.split(":", 1)[1])
"""The field as a compact IRI and expanded, the two ways a JSON-LD document may name it."""
_HASH = re.compile(r"[0-9a-f]{64}")


def normalise_phone(phone: str) -> str:
    """Digits only, with a leading + kept: the same member however the cashier typed the number."""
    text = phone.strip()
    digits = re.sub(r"\D", "", text)
    if not 6 <= len(digits) <= 15:
        # Never echo what was typed: a mistyped number is still somebody's number.
        raise InvalidInput(f"the member's phone has {len(digits)} digits; a phone number has 6 to 15", field="member")
    return ("+" if text.startswith("+") else "") + digits


def member_pepper(key_dir: Path) -> bytes:
    """The keyed-hash secret, from ``<key_dir>/member.pepper`` (32 random bytes, created once, mode 0600)."""
    path = Path(key_dir) / "member.pepper"
    if path.exists():
        return path.read_bytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written aside (mkstemp: mode 0600) and linked into place, which fails if it exists: concurrent first uses (two
    # captures at once) agree on one pepper, and none reads a file still being written.
    fd, aside = tempfile.mkstemp(dir=path.parent, prefix=".member.pepper.")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(secrets.token_bytes(32))
            fh.flush()
            os.fsync(fh.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(aside, path)
    finally:
        os.unlink(aside)
    return path.read_bytes()


def member_hash(phone: str, pepper: bytes) -> str:
    """The stored identity of a member: HMAC-SHA256 of the normalised phone number."""
    return hmac.new(pepper, normalise_phone(phone).encode(), hashlib.sha256).hexdigest()


def is_member_hash(value: object) -> bool:
    """Whether a value has the form of a stored member identity (so it is not a phone in clear)."""
    return isinstance(value, str) and _HASH.fullmatch(value) is not None
