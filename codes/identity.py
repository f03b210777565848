"""GS1 identities of the units we sign, their check digits, random serials and the bytes we sign.

A unit is an SGTIN: GTIN-14 + serial (AI 21), optionally with its lot (AI 10) and expiry (AI 17). Every field is
checked against its GS1 syntax here, once, so that everything downstream (signing, rendering, parsing) can rely on
it: in particular no field can contain the ``|`` that separates fields in :func:`canonical_bytes`, nor anything
outside printable ASCII.
"""

from __future__ import annotations

import base64
import calendar
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from codes.errors import MalformedCode
from traceability.gs1 import check_digit, is_valid_gln, is_valid_gtin14, is_valid_sscc

__all__ = [
    "CANONICAL_VERSION",
    "CROCKFORD_ALPHABET",
    "CSET82_PATTERN",
    "KEY_ID_PATTERN",
    "SERIAL_ENTROPY_BITS",
    "SERIAL_LENGTH",
    "CodeIdentity",
    "canonical_bytes",
    "check_key_id",
    "gs1_check_digit",
    "gtin_check_digit",
    "is_valid_expiry",
    "is_valid_gln",
    "is_valid_gtin",
    "is_valid_key_id",
    "is_valid_sscc",
    "new_serial",
    "new_serials",
    "sscc_check_digit",
]

CANONICAL_VERSION = "TRC1"
"""Prefix of the signed byte string; bump it (never reuse it) if the layout ever changes."""

CROCKFORD_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
"""Crockford base32: digits and upper-case letters without I, L, O, U (no look-alikes when typed by hand)."""

SERIAL_LENGTH = 13
SERIAL_ENTROPY_BITS = 5 * SERIAL_LENGTH  # 65 bits: DESIGN asks for at least 64.

CSET82_PATTERN = r"""[!"%-?A-Z_a-z]"""
"""One character of GS1 AI encodable character set 82 (the set of AI 10 and AI 21)."""

KEY_ID_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._-]{0,31}"
"""Key ids are short, URL-safe, file-name-safe and a subset of CSET 82 (they travel in AI 91 and in file names)."""

_DIGITS = re.compile(r"[0-9]+", re.ASCII)
_CSET82_20 = re.compile(CSET82_PATTERN + "{1,20}", re.ASCII)
_KEY_ID = re.compile(KEY_ID_PATTERN, re.ASCII)
_YYMMDD = re.compile(r"[0-9]{2}(0[1-9]|1[0-2])([0-2][0-9]|3[01])", re.ASCII)

# Standard base32 (RFC 4648) to Crockford, symbol for symbol, so that b32encode does the bit work in C.
_TO_CROCKFORD = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", CROCKFORD_ALPHABET.encode("ascii"))
# 9 random bytes = 72 bits encode to 15 base32 symbols; the first 13 carry 65 full bits.
_SERIAL_RANDOM_BYTES = 9

TokenBytes = Callable[[int], bytes]


gs1_check_digit = check_digit
"""The GS1 mod-10 check digit of a string of digits (one implementation, in ``traceability.gs1``)."""


def gtin_check_digit(body13: str) -> int:
    """Return the check digit of a GTIN-14 whose first 13 digits are ``body13``."""
    if len(body13) != 13:
        raise ValueError(f"GTIN-14 body must have 13 digits, got {len(body13)}")
    return gs1_check_digit(body13)


def sscc_check_digit(body17: str) -> int:
    """Return the check digit of an SSCC whose first 17 digits are ``body17``."""
    if len(body17) != 17:
        raise ValueError(f"SSCC body must have 17 digits, got {len(body17)}")
    return gs1_check_digit(body17)


is_valid_gtin = is_valid_gtin14


def is_valid_expiry(s: object) -> bool:
    """Tell whether ``s`` is a GS1 YYMMDD date (DD may be 00: the last day of the month).

    The century is taken as 20YY, which decides only whether 29 February exists in year 00.
    """
    if not isinstance(s, str) or not _YYMMDD.fullmatch(s):
        return False
    day = int(s[4:6])
    return day == 0 or day <= calendar.monthrange(2000 + int(s[:2]), int(s[2:4]))[1]


def is_valid_key_id(s: object) -> bool:
    """Tell whether ``s`` is a syntactically valid key id (see :data:`KEY_ID_PATTERN`)."""
    return isinstance(s, str) and _KEY_ID.fullmatch(s) is not None


def check_key_id(key_id: object) -> str:
    """Return ``key_id`` if valid, else raise :class:`MalformedCode` naming the field."""
    if not is_valid_key_id(key_id):
        raise MalformedCode(
            f"key id {key_id!r} is not valid: 1-32 characters of A-Z a-z 0-9 . _ -, starting with a letter or digit",
            field="key_id",
        )
    assert isinstance(key_id, str)
    return key_id


@dataclass(frozen=True, slots=True)
class CodeIdentity:
    """What a unit's code says about it: GTIN-14, serial, and optionally lot and expiry (YYMMDD).

    Construction validates every field and raises :class:`MalformedCode` naming the bad one.
    """

    gtin: str
    serial: str
    lot: str | None = None
    expiry: str | None = None

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise :class:`MalformedCode` naming the first field that breaks its GS1 syntax."""
        gtin, serial, lot, expiry = self.gtin, self.serial, self.lot, self.expiry
        if not isinstance(gtin, str) or len(gtin) != 14 or not _DIGITS.fullmatch(gtin):
            raise MalformedCode(f"GTIN (AI 01) must be 14 digits, got {gtin!r}", field="gtin")
        if gs1_check_digit(gtin[:13]) != int(gtin[13]):
            raise MalformedCode(
                f"GTIN (AI 01) {gtin} has a wrong check digit (expected {gs1_check_digit(gtin[:13])})",
                field="gtin",
            )
        if not isinstance(serial, str) or not _CSET82_20.fullmatch(serial):
            raise MalformedCode(
                f"serial (AI 21) must be 1-20 characters of GS1 character set 82, got {serial!r}", field="serial"
            )
        if lot is not None and (not isinstance(lot, str) or not _CSET82_20.fullmatch(lot)):
            raise MalformedCode(
                f"lot (AI 10) must be 1-20 characters of GS1 character set 82, got {lot!r}", field="lot"
            )
        if expiry is not None and not is_valid_expiry(expiry):
            raise MalformedCode(f"expiry (AI 17) must be a valid YYMMDD date, got {expiry!r}", field="expiry")

    @classmethod
    def _trusted(cls, gtin: str, serial: str, lot: str | None, expiry: str | None) -> CodeIdentity:
        """Build without validation: only for fields validated already (hot loops over fresh serials)."""
        self = object.__new__(cls)
        _set = object.__setattr__
        _set(self, "gtin", gtin)
        _set(self, "serial", serial)
        _set(self, "lot", lot)
        _set(self, "expiry", expiry)
        return self

    @property
    def sgtin(self) -> str:
        """The identity as a GS1 element string in human-readable form, for messages and logs."""
        parts = [f"(01){self.gtin}(21){self.serial}"]
        if self.lot is not None:
            parts.append(f"(10){self.lot}")
        if self.expiry is not None:
            parts.append(f"(17){self.expiry}")
        return "".join(parts)


def canonical_bytes(key_id: str, identity: CodeIdentity) -> bytes:
    """Return the byte string that is signed: ``TRC1|key_id|gtin|serial|lot|expiry`` in ASCII.

    Unambiguous because no field can contain ``|`` (CSET 82, digits and the key id syntax exclude it) and an
    absent lot or expiry is the empty string, which a present one can never be. The key id is inside so a
    signature cannot be re-attributed to another key.
    """
    return (
        f"{CANONICAL_VERSION}|{key_id}|{identity.gtin}|{identity.serial}|{identity.lot or ''}|{identity.expiry or ''}"
    ).encode("ascii")


def _serial_from_random(raw9: bytes) -> str:
    return base64.b32encode(raw9)[:SERIAL_LENGTH].translate(_TO_CROCKFORD).decode("ascii")


def new_serial(token_bytes: TokenBytes = secrets.token_bytes) -> str:
    """Return a random serial: 13 Crockford base32 characters, 65 bits from a CSPRNG.

    ``token_bytes`` is injectable so tests can make serials reproducible; production keeps the default.
    """
    raw = token_bytes(_SERIAL_RANDOM_BYTES)
    if len(raw) != _SERIAL_RANDOM_BYTES:
        raise ValueError(f"random source returned {len(raw)} bytes, expected {_SERIAL_RANDOM_BYTES}")
    return _serial_from_random(raw)


def new_serials(count: int, token_bytes: TokenBytes = secrets.token_bytes) -> list[str]:
    """Return ``count`` distinct random serials, drawing the randomness in one call.

    A batch never repeats a serial (a repeat, ~2^-65 per pair, is simply redrawn); uniqueness against serials
    issued earlier is the database's job.
    """
    if count < 0:
        raise ValueError("count must not be negative")
    width = _SERIAL_RANDOM_BYTES
    raw = token_bytes(width * count)
    if len(raw) != width * count:
        raise ValueError(f"random source returned {len(raw)} bytes, expected {width * count}")
    encode, table, length = base64.b32encode, _TO_CROCKFORD, SERIAL_LENGTH
    serials = [encode(raw[i : i + width])[:length].translate(table).decode("ascii") for i in range(0, len(raw), width)]
    if len(set(serials)) != count:
        seen: set[str] = set()
        unique: list[str] = []
        for serial in serials:
            while serial in seen:
                serial = new_serial(token_bytes)
            seen.add(serial)
            unique.append(serial)
        serials = unique
    return serials
