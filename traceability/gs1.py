"""GS1 key checks shared by master data and codes: GTIN, GLN and SSCC with their mod-10 check digits."""

from __future__ import annotations

from biip.checksums import gs1_standard_check_digit

__all__ = ["check_digit", "is_valid_gln", "is_valid_gtin14", "is_valid_sscc", "with_check_digit"]


def check_digit(body: str) -> int:
    """The GS1 mod-10 check digit of a numeric body (the key without its last digit)."""
    return gs1_standard_check_digit(body)


def with_check_digit(body: str) -> str:
    return body + str(check_digit(body))


def _valid(value: str, length: int) -> bool:
    return len(value) == length and value.isascii() and value.isdigit() and check_digit(value[:-1]) == int(value[-1])


def is_valid_gtin14(value: str) -> bool:
    return _valid(value, 14)


def is_valid_gln(value: str) -> bool:
    return _valid(value, 13)


def is_valid_sscc(value: str) -> bool:
    return _valid(value, 18)
