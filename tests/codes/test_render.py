"""Printed forms: exact layout, round trips, strict parsing, and that no one-character change ever verifies."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from codes.errors import MalformedCode
from codes.identity import CodeIdentity
from codes.render import (
    GS,
    decode_signature,
    encode_signature,
    parse_code,
    to_digital_link,
    to_element_string,
)
from codes.signing import HmacSigner, Keyring, SignedCode, Signer, Verification, verify
from tests.codes.test_identity import CSET82, identities

GTIN = "09506000134352"
HOST = "https://id.example.com"
SECRET = bytes(range(32))
SIGNER = Signer("k1", Ed25519PrivateKey.from_private_bytes(bytes([7]) * 32))
HMAC_SIGNER = HmacSigner("h1", SECRET)
RING = Keyring([SIGNER.key_info()])
HMAC_SECRETS = {"h1": SECRET}
IDENT = CodeIdentity(GTIN, "7Q2M9XK4RT8WB", "L(7)/B&C", "270100")
CODE = SIGNER.sign(IDENT)
COMPACT = HMAC_SIGNER.sign(IDENT)


def _verify(code: SignedCode) -> Verification:
    return verify(code, RING, HMAC_SECRETS)


# --- layout ---------------------------------------------------------------------------------------------------


def test_digital_link_layout() -> None:
    sig = encode_signature(CODE.signature)
    assert len(sig) == 86
    assert to_digital_link(CODE) == (
        f"https://id.example.com/01/09506000134352/21/7Q2M9XK4RT8WB?10=L%287%29%2FB%26C&17=270100&91=k1&92={sig}"
    )
    bare = SIGNER.sign(CodeIdentity(GTIN, "A/B"))
    assert to_digital_link(bare, "brand.example/dl/") == (
        f"https://brand.example/dl/01/09506000134352/21/A%2FB?91=k1&92={encode_signature(bare.signature)}"
    )


def test_compact_digital_link_uses_ai_93() -> None:
    link = to_digital_link(COMPACT)
    assert re.fullmatch(r"https://id\.example\.com/01/\d{14}/21/\w+\?10=[^&]+&17=270100&91=h1&93=[\w-]{11}", link)
    assert "92=" not in link


@pytest.mark.parametrize("resolver", ["ftp://x.com", "https://x.com?a=1", "https://x.com/#f", "https://x.com/00/a", ""])
def test_bad_resolvers(resolver: str) -> None:
    with pytest.raises(ValueError, match="resolver"):
        to_digital_link(CODE, resolver)


def test_element_string_layout() -> None:
    sig = encode_signature(CODE.signature)
    assert to_element_string(CODE) == f"010950600013435221{IDENT.serial}{GS}10L(7)/B&C{GS}1727010091k1{GS}92{sig}"
    assert to_element_string(CODE, human=True) == (
        f"(01)09506000134352(21){IDENT.serial}(10)L\\(7)/B&C(17)270100(91)k1(92){sig}"
    )
    bare = SIGNER.sign(CodeIdentity(GTIN, "S1"))
    assert to_element_string(bare) == f"010950600013435221S1{GS}91k1{GS}92{encode_signature(bare.signature)}"
    assert to_element_string(COMPACT).split(GS)[-1].startswith("93")


# --- round trips ----------------------------------------------------------------------------------------------


def _all_forms(code: SignedCode) -> Iterator[str]:
    machine = to_element_string(code)
    human = to_element_string(code, human=True)
    yield to_digital_link(code)
    yield to_digital_link(code, "http://scan.brand.example:8080/p/q.r")
    yield "]Q1" + to_digital_link(code)
    yield machine
    for prefix in ("]d2", "]Q3", "]C1", "]e0"):
        yield prefix + machine
    yield human
    # A value that itself contains the text "<GS>" cannot survive a scanner that writes separators that way
    # (documented); every other value can.
    if "<GS>" not in f"{code.identity.serial}{code.identity.lot}":
        yield machine.replace(GS, "<GS>")
        yield "]d2" + machine.replace(GS, "<GS>")


def test_placeholder_ambiguity_fails_safe() -> None:
    tricky = SIGNER.sign(CodeIdentity(GTIN, "X<GS>10L"))
    text = to_element_string(tricky).replace(GS, "<GS>")
    try:
        misread = parse_code(text)
    except MalformedCode:
        return
    assert misread != tricky
    assert not _verify(misread).ok


def test_every_form_parses_back() -> None:
    for code in (CODE, COMPACT):
        for text in _all_forms(code):
            assert parse_code(text) == code, text
            assert _verify(parse_code(text)).ok


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(identities, st.booleans())
def test_round_trip_property(ident: CodeIdentity, compact: bool) -> None:
    code = (HMAC_SIGNER if compact else SIGNER).sign(ident)
    for text in _all_forms(code):
        assert parse_code(text) == code, text


def test_scanner_text_through_real_symbols() -> None:
    zxingcpp = pytest.importorskip("zxingcpp")
    code = SIGNER.sign(CodeIdentity(GTIN, "7Q2M9XK4RT8WB", "L-7", "270100"))
    qr = zxingcpp.create_barcode(to_digital_link(code), zxingcpp.BarcodeFormat.QRCode, ec_level="M")
    read = zxingcpp.read_barcode(qr.to_image(scale=4))
    assert parse_code(read.symbology_identifier + read.text) == code
    dm = zxingcpp.create_barcode(
        to_element_string(code, human=True), zxingcpp.BarcodeFormat.DataMatrix, gs1=True, force_square=True
    )
    for mode in (zxingcpp.TextMode.Plain, zxingcpp.TextMode.Escaped):
        read = zxingcpp.read_barcode(dm.to_image(scale=4), text_mode=mode)
        assert read.symbology_identifier == "]d2"
        assert parse_code(read.symbology_identifier + read.text) == code


# --- strict parsing -------------------------------------------------------------------------------------------


def _malformed(text: str, match: str | None = None) -> MalformedCode:
    with pytest.raises(MalformedCode, match=match) as caught:
        parse_code(text)
    return caught.value


def test_non_canonical_base64_is_rejected() -> None:
    sig = encode_signature(CODE.signature)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    # The last of 86 characters carries 2 signature bits and 4 unused bits: set one of the unused ones.
    twin = sig[:-1] + alphabet[alphabet.index(sig[-1]) ^ 1]
    assert decode_signature(sig) == CODE.signature
    with pytest.raises(MalformedCode, match="canonical"):
        decode_signature(twin)
    _malformed(to_digital_link(CODE).replace(sig, twin), "canonical")
    _malformed(to_element_string(CODE).replace(sig, twin), "canonical")
    for bad in ("", "A", "AB=", "AB+/", "ABC$"):
        with pytest.raises(MalformedCode):
            decode_signature(bad)


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (lambda s: s.replace("%2F", "%2f"), "form we print"),  # lower-case percent-encoding
        (lambda s: s.replace("&91=", "&&91="), "form we print"),  # empty parameter
        (lambda s: s.replace("&91=k1", "&91=k1&91=k1"), "form we print"),  # repeated parameter
        (lambda s: s + "&utm=1", "form we print"),  # unknown parameter
        (lambda s: s.replace("&17=270100&91", "&91") + "&17=270100", "form we print"),  # reordered
        (lambda s: s + "#x", "fragment"),
        (lambda s: s.replace("/01/0", "/01/"), "form we print"),  # GTIN-13 without padding
        (lambda s: s.replace("/21/", "/10/L/21/"), None),  # lot as a path qualifier
        (lambda s: s.replace("/01/", "//01/"), "prefix"),
        (lambda s: s.replace("&92=", "&93="), "tag"),  # an Ed25519 signature is not a compact tag
        (lambda s: s.replace("91=k1&", ""), "key id"),
        (lambda s: s.replace("17=270100", "17=271301"), "expiry"),
        (lambda s: s.replace("https://id.example.com", "https://"), None),
        (lambda s: s.replace("https", "ftp"), None),
        (lambda s: s + "\n", "line ending"),
        (lambda s: " " + s, "whitespace"),
        (lambda s: "]d2" + s, "symbology"),
    ],
)
def test_digital_link_variants_are_rejected(edit: Callable[[str], str], match: str | None) -> None:
    _malformed(edit(to_digital_link(CODE)), match)


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (lambda s: s + GS, "form we print"),  # trailing separator
        (lambda s: GS + s, "form we print"),  # leading separator
        (lambda s: s.replace(GS + "10", GS + GS + "10"), "form we print"),
        (lambda s: s.replace("91k1" + GS, "91k1" + GS + "21X" + GS), "more than once"),
        (lambda s: s.replace("17270100", "17270100" + "15270100"), "unexpected AI"),
        (lambda s: s.replace(GS + "92", GS + "93"), "tag"),
        (lambda s: s.replace(GS + "92", GS + "92A" + GS + "93"), None),
        (lambda s: "]d1" + s, "symbology"),
        (lambda s: "]Q1" + s, "symbology"),
        (lambda s: s.replace("01095", "0195"), None),
        (lambda s: s.replace(GS + "92", ""), None),
    ],
)
def test_element_string_variants_are_rejected(edit: Callable[[str], str], match: str | None) -> None:
    _malformed(edit(to_element_string(CODE)), match)


@pytest.mark.parametrize(
    "text",
    [
        "(01)09506000134352(21)7Q2M9XK4RT8WB(10)L(7)/B&C",  # unescaped '(' in the lot
        "(01)09506000134352 (21)X",
        "(01)09506000134352(21)X\\Y",
        "(01)09506000134352(21)X\\",
        "(1)09506000134352",
        "(01)",
        "(",
    ],
)
def test_human_form_variants_are_rejected(text: str) -> None:
    _malformed(text)


def test_human_form_must_be_canonical() -> None:
    human = to_element_string(CODE, human=True)
    _malformed(human.replace("(17)270100", "") + "(17)270100", "form we print")


def test_malformed_names_the_field() -> None:
    wrong_check = to_element_string(CODE).replace("09506000134352", "09506000134353")
    assert _malformed(wrong_check).detail["field"] == "gtin"
    long_serial = to_digital_link(CODE).replace(IDENT.serial, "X" * 21)
    assert _malformed(long_serial).detail["field"] == "serial"
    bad_key = to_digital_link(CODE).replace("91=k1", "91=-k")
    assert _malformed(bad_key).detail["field"] == "key_id"
    assert _malformed(to_digital_link(CODE).replace("&92=", "&92=A")).detail["field"] == "signature"


@pytest.mark.parametrize("text", ["", "]", "]d2", "]x9(01)", "x" * 2000, "\x00", "é", "https://", "http://[::1/"])
def test_odd_inputs(text: str) -> None:
    _malformed(text)


def test_non_text_is_malformed() -> None:
    with pytest.raises(MalformedCode, match="text"):
        parse_code(b"0109506000134352")  # type: ignore[arg-type]


@settings(max_examples=500)
@given(st.text())
def test_arbitrary_text_parses_or_is_malformed(text: str) -> None:
    try:
        parse_code(text)
    except MalformedCode:
        pass


@settings(max_examples=500)
@given(st.text(alphabet=CSET82 + GS + "?&=#/%:[]@\\<> \n", max_size=200), st.sampled_from(["", "https://x/", "]d2"]))
def test_gs1_looking_text_parses_or_is_malformed(text: str, prefix: str) -> None:
    try:
        parse_code(prefix + text)
    except MalformedCode:
        pass


# --- tamper evidence ------------------------------------------------------------------------------------------

REPLACEMENTS = ["0", "9", "A", "z", "-", "_", "%", "/", "(", "&", "=", "?", GS, "\\", " "]


def _mutants(text: str, *, first_insert: int = 0) -> Iterator[tuple[str, str]]:
    """Every single-character deletion, and substitution and insertion with each of REPLACEMENTS."""
    for i in range(len(text)):
        yield f"delete {i}", text[:i] + text[i + 1 :]
        for char in REPLACEMENTS:
            if char != text[i]:
                yield f"replace {i} by {char!r}", text[:i] + char + text[i + 1 :]
    for i in range(first_insert, len(text) + 1):
        for char in REPLACEMENTS:
            yield f"insert {char!r} at {i}", text[:i] + char + text[i:]


def _never_verifies(text: str) -> bool:
    """True when ``text`` is refused: MalformedCode, or it parses and fails verification with a reason."""
    try:
        code = parse_code(text)
    except MalformedCode:
        return True
    result = _verify(code)
    return not result.ok and result.reason is not None


def _tail(link: str) -> str:
    assert link.startswith(HOST)
    return link[len(HOST) :]


# The Digital Link host is not signed (it only says which resolver to ask), so only the path and query are
# mutated, and an insertion at position 0 of the path would extend the host: it is left out with the host.
FORMS: dict[str, tuple[Callable[[SignedCode], str], Callable[[str], str], int]] = {
    "digital link": (lambda c: _tail(to_digital_link(c)), lambda t: HOST + t, 1),
    "element string": (to_element_string, lambda t: t, 0),
    "human element string": (lambda c: to_element_string(c, human=True), lambda t: t, 0),
}


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("code", [CODE, COMPACT, SIGNER.sign(CodeIdentity(GTIN, "1"))], ids=["full", "compact", "bare"])
def test_no_single_character_change_verifies(form: str, code: SignedCode) -> None:
    render, wrap, first_insert = FORMS[form]
    original = render(code)
    assert _verify(parse_code(wrap(original))).ok
    parsed_but_failed = 0
    for what, mutant in _mutants(original, first_insert=first_insert):
        assert _never_verifies(wrap(mutant)), f"{form}: {what} still verifies: {mutant!r}"
        try:
            parse_code(wrap(mutant))
            parsed_but_failed += 1
        except MalformedCode:
            pass
    # The verification path is exercised too, not only the parser (e.g. a changed serial or signature digit).
    assert parsed_but_failed > 0


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    identities,
    st.booleans(),
    st.sampled_from(sorted(FORMS)),
    st.sampled_from(["delete", "replace", "insert"]),
    st.integers(min_value=0),
    st.characters(),
)
def test_random_single_character_change_never_verifies(
    ident: CodeIdentity, compact: bool, form: str, op: str, where: int, char: str
) -> None:
    render, wrap, first_insert = FORMS[form]
    original = render((HMAC_SIGNER if compact else SIGNER).sign(ident))
    if op == "insert":
        i = first_insert + where % (len(original) + 1 - first_insert)
        mutant = original[:i] + char + original[i:]
    else:
        i = where % len(original)
        assume(op == "delete" or original[i] != char)
        mutant = original[:i] + ("" if op == "delete" else char) + original[i + 1 :]
    assert _never_verifies(wrap(mutant)), f"{op} at {i} with {char!r} still verifies: {mutant!r}"
