"""Member identities: a phone number is stored only as a keyed hash, never in clear.

Phone numbers have little entropy, so a plain salted hash could be brute-forced from the database alone; the key
(pepper) lives outside the database, in the key directory, created on first use.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from pathlib import Path

from traceability.errors import InvalidInput

__all__ = ["MEMBER_FIELD", "MEMBER_NAMESPACE", "member_hash", "member_pepper", "normalise_phone"]

MEMBER_NAMESPACE = "https://traceability.dev/ns/"
MEMBER_FIELD = "trc:member"
"""The EPCIS extension field that carries the member's hash on a retail_selling event."""


def normalise_phone(phone: str) -> str:
    """Digits only, with a leading + kept: the same member however the cashier typed the number."""
    text = phone.strip()
    digits = re.sub(r"\D", "", text)
    if not 6 <= len(digits) <= 15:
        raise InvalidInput(f"{phone!r} is not a phone number (6 to 15 digits)", field="member")
    return ("+" if text.startswith("+") else "") + digits


def member_pepper(key_dir: Path) -> bytes:
    """The keyed-hash secret, from ``<key_dir>/member.pepper`` (32 random bytes, created once, mode 0600)."""
    path = Path(key_dir) / "member.pepper"
    if path.exists():
        return path.read_bytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    data = secrets.token_bytes(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    return data


def member_hash(phone: str, pepper: bytes) -> str:
    """The stored identity of a member: HMAC-SHA256 of the normalised phone number."""
    return hmac.new(pepper, normalise_phone(phone).encode(), hashlib.sha256).hexdigest()
