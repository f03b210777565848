"""GS1 syntax of identities, check digits, random serials and the canonical signed bytes."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from biip.checksums import gs1_standard_check_digit
from hypothesis import given
from hypothesis import strategies as st

from codes.errors import MalformedCode
from codes.identity import (
    CROCKFORD_ALPHABET,
    SERIAL_ENTROPY_BITS,
    SERIAL_LENGTH,
    CodeIdentity,
    canonical_bytes,
    gs1_check_digit,
    gtin_check_digit,
    is_valid_expiry,
    is_valid_gln,
    is_valid_gtin,
    is_valid_key_id,
    is_valid_sscc,
    new_serial,
    new_serials,
    sscc_check_digit,
)

# Strategies shared with test_signing and test_render.
CSET82 = "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
assert len(CSET82) == 82

gtins = st.text("0123456789", min_size=13, max_size=13).map(lambda body: body + str(gtin_check_digit(body)))
cset82_values = st.text(CSET82, min_size=1, max_size=20)


@st.composite
def expiries(draw: st.DrawFn) -> str:
    year = draw(st.integers(0, 99))
    month = draw(st.integers(1, 12))
    day = draw(st.integers(0, 28))
    return f"{year:02d}{month:02d}{day:02d}"


identities = st.builds(
    CodeIdentity,
    gtin=gtins,
    serial=cset82_values,
    lot=st.none() | cset82_values,
    expiry=st.none() | expiries(),
)
key_ids = st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9._-]{0,31}\Z")

GTIN = "09506000134352"


@given(st.text("0123456789", min_size=1, max_size=20))
def test_check_digit_agrees_with_biip(body: str) -> None:
    assert gs1_check_digit(body) == int(gs1_standard_check_digit(body))


def test_known_check_digits() -> None:
    assert gtin_check_digit("0950600013435") == 2
    assert sscc_check_digit("10614141234567890") == 8
    assert is_valid_gtin("09506000134352")
    assert is_valid_gtin("04006381333931")
    assert is_valid_sscc("106141412345678908")
    assert is_valid_gln("9506000134376")
    assert not is_valid_gln("9506000134377")


@pytest.mark.parametrize(
    "value",
    [
        "09506000134353",  # wrong check digit
        "9506000134352",  # 13 digits: a GTIN-13 must be padded to 14
        "0950600013435２",  # full-width digit
        "٠9506000134352",  # Arabic-Indic zero
        "0950600013435a",
        "",
        None,
        9506000134352,
    ],
)
def test_invalid_gtins(value: object) -> None:
    assert not is_valid_gtin(value)


def test_sscc_and_gln_lengths() -> None:
    assert not is_valid_sscc("10614141234567890")
    assert not is_valid_gln("09506000134352")
    with pytest.raises(ValueError, match="13 digits"):
        gtin_check_digit("123")
    with pytest.raises(ValueError, match="17 digits"):
        sscc_check_digit("123")


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("260131", True),
        ("260100", True),  # day 00: last day of the month
        ("000229", True),  # 2000 was a leap year
        ("240229", True),
        ("250229", False),
        ("260431", False),
        ("261301", False),
        ("260001", False),
        ("26013", False),
        ("2601311", False),
        ("26O131", False),
    ],
)
def test_expiry(value: str, ok: bool) -> None:
    assert is_valid_expiry(value) is ok


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"gtin": "09506000134353"}, "gtin"),
        ({"gtin": "0950600013435"}, "gtin"),
        ({"serial": ""}, "serial"),
        ({"serial": "A" * 21}, "serial"),
        ({"serial": "AB C"}, "serial"),  # space is not in CSET 82
        ({"serial": "AB|C"}, "serial"),  # nor the canonical separator
        ({"serial": "ÄB"}, "serial"),
        ({"lot": ""}, "lot"),
        ({"lot": "L" * 21}, "lot"),
        ({"lot": "L\x1d1"}, "lot"),
        ({"expiry": "261301"}, "expiry"),
        ({"expiry": "2601"}, "expiry"),
    ],
)
def test_identity_names_the_bad_field(kwargs: dict[str, str | None], field: str) -> None:
    fields: dict[str, str | None] = {"gtin": GTIN, "serial": "ABC", "lot": None, "expiry": None} | kwargs
    with pytest.raises(MalformedCode) as caught:
        CodeIdentity(**fields)  # type: ignore[arg-type]
    assert caught.value.detail["field"] == field
    assert caught.value.code == "malformed_code"
    assert caught.value.status_code == 422


def test_identity_accepts_all_of_cset82() -> None:
    ident = CodeIdentity(GTIN, "!\"%&'()*+,-./09:;<=>", "?AZ_az", "260100")
    assert ident.sgtin == "(01)09506000134352(21)!\"%&'()*+,-./09:;<=>(10)?AZ_az(17)260100"


def test_identity_is_immutable() -> None:
    ident = CodeIdentity(GTIN, "ABC")
    with pytest.raises(AttributeError):
        ident.serial = "XYZ"  # type: ignore[misc]


def test_new_serial_shape_and_entropy() -> None:
    assert SERIAL_LENGTH == 13
    assert SERIAL_ENTROPY_BITS == 65 >= 64
    serial = new_serial()
    assert len(serial) == 13
    assert set(serial) <= set(CROCKFORD_ALPHABET)
    CodeIdentity(GTIN, serial)  # within AI 21's character set
    assert not set("ILOU") & set(CROCKFORD_ALPHABET)


def test_new_serial_uses_the_injected_source() -> None:
    assert new_serial(lambda n: b"\x00" * n) == "0" * 13
    assert new_serial(lambda n: b"\xff" * n) == "Z" * 13
    one, two = random.Random(7), random.Random(7)
    assert new_serial(one.randbytes) == new_serial(two.randbytes)
    with pytest.raises(ValueError, match="bytes"):
        new_serial(lambda n: b"\x00")


def test_every_serial_position_is_uniform() -> None:
    rng = random.Random(1)
    serials = new_serials(32 * 200, rng.randbytes)
    for position in range(SERIAL_LENGTH):
        counts = Counter(s[position] for s in serials)
        assert set(counts) == set(CROCKFORD_ALPHABET), position
        assert max(counts.values()) < 2 * 200, position


def test_new_serials_are_distinct_even_when_the_source_repeats() -> None:
    stream = iter([b"\x01" * 9 * 3, b"\x02" * 9, b"\x03" * 9])

    def repeating(n: int) -> bytes:
        return next(stream)

    serials = new_serials(3, repeating)
    assert len(serials) == len(set(serials)) == 3
    assert new_serials(0) == []
    assert len(set(new_serials(1000))) == 1000


def test_canonical_bytes_layout() -> None:
    full = CodeIdentity(GTIN, "ABC", "L1", "260131")
    assert canonical_bytes("k1", full) == b"TRC1|k1|09506000134352|ABC|L1|260131"
    assert canonical_bytes("k1", CodeIdentity(GTIN, "ABC")) == b"TRC1|k1|09506000134352|ABC||"


@given(key_ids, identities, key_ids, identities)
def test_canonical_bytes_are_injective(kid1: str, id1: CodeIdentity, kid2: str, id2: CodeIdentity) -> None:
    assert (canonical_bytes(kid1, id1) == canonical_bytes(kid2, id2)) == ((kid1, id1) == (kid2, id2))


@given(key_ids, identities)
def test_canonical_bytes_split_back(key_id: str, ident: CodeIdentity) -> None:
    version, kid, gtin, serial, lot, expiry = canonical_bytes(key_id, ident).decode("ascii").split("|")
    assert (version, kid, gtin, serial) == ("TRC1", key_id, ident.gtin, ident.serial)
    assert (lot or None, expiry or None) == (ident.lot, ident.expiry)


@pytest.mark.parametrize("key_id", ["k1", "K-2025.a_1", "a" * 32])
def test_valid_key_ids(key_id: str) -> None:
    assert is_valid_key_id(key_id)


@pytest.mark.parametrize("key_id", ["", "a" * 33, "../k", ".k", "-k", "k/1", "k|1", "k 1", "ké", None])
def test_invalid_key_ids(key_id: object) -> None:
    assert not is_valid_key_id(key_id)
