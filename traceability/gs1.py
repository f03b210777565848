"""GS1 key checks shared by master data, codes and scanning: GTIN, GLN and SSCC with their mod-10 check digits."""

from __future__ import annotations

import re
from functools import lru_cache

__all__ = ["check_digit", "is_valid_gln", "is_valid_gtin14", "is_valid_sscc", "with_check_digit"]

_DIGITS = re.compile(r"[0-9]+", re.ASCII)


@lru_cache(maxsize=1 << 14)
def check_digit(body: str) -> int:
    """The GS1 mod-10 check digit of a string of digits (weights 3, 1, 3, … from the right)."""
    if not _DIGITS.fullmatch(body):
        raise ValueError(f"check digit body must be ASCII digits, got {body!r}")
    total = sum(int(char) * (3 if index % 2 == 0 else 1) for index, char in enumerate(reversed(body)))
    return (10 - total % 10) % 10


def with_check_digit(body: str) -> str:
    return body + str(check_digit(body))


def _valid(value: object, length: int) -> bool:
    if not isinstance(value, str) or len(value) != length or not _DIGITS.fullmatch(value):
        return False
    return check_digit(value[:-1]) == int(value[-1])


def is_valid_gtin14(value: object) -> bool:
    """14 ASCII digits with a correct check digit."""
    return _valid(value, 14)


def is_valid_gln(value: object) -> bool:
    """13 ASCII digits with a correct check digit."""
    return _valid(value, 13)


def is_valid_sscc(value: object) -> bool:
    """18 ASCII digits with a correct check digit."""
    return _valid(value, 18)
