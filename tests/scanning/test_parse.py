"""Scan parsing: every form a scanner yields reads as the right item, every spelling of one item gives one key,
our signatures survive, and nothing, however mangled, escapes as anything but MalformedCode."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from codes.errors import MalformedCode
from codes.identity import CodeIdentity
from codes.render import GS, to_digital_link, to_element_string
from codes.signing import HmacSigner, Keyring, Signer, verify
from ledger.event_hash import canonical_gs1_uri
from scanning.parse import ScannedCode, epc_urn_to_key, parse_scan, sgtin_urn, sscc_urn
from tests.codes.test_identity import CSET82, cset82_values, expiries, gtins
from traceability.gs1 import with_check_digit

# The TDS 2.x examples: one SGTIN and one SSCC, company prefix 0614141.
GTIN = "10614141073464"
SERIAL = "2017"
SGTIN_URN = "urn:epc:id:sgtin:0614141.107346.2017"
SGTIN_KEY = "https://id.gs1.org/01/10614141073464/21/2017"
SSCC = "106141412345678908"
SSCC_URN = "urn:epc:id:sscc:0614141.1234567890"
SSCC_KEY = "https://id.gs1.org/00/106141412345678908"

SIGNER = Signer("k1", Ed25519PrivateKey.from_private_bytes(bytes([7]) * 32))
HMAC_SIGNER = HmacSigner("h1", bytes(range(32)))
RING = Keyring([SIGNER.key_info()])
IDENT = CodeIdentity("09506000134352", "7Q2M9XK4RT8WB", "L(7)/B&C", "270100")
CODE = SIGNER.sign(IDENT)
COMPACT = HMAC_SIGNER.sign(IDENT)


# --- each form ------------------------------------------------------------------------------------------------

SGTIN_FORMS = [
    SGTIN_KEY,
    "https://brand.example/dl/01/10614141073464/21/2017",
    "http://id.example.com/01/10614141073464/21/2017?linkType=gs1:pip",
    "HTTPS://ID.EXAMPLE.COM/01/10614141073464/21/2017",
    "]Q1https://id.gs1.org/01/10614141073464/21/2017",
    SGTIN_URN,
    "URN:EPC:ID:SGTIN:0614141.107346.2017",
    "urn:epc:tag:sgtin-96:3.0614141.107346.2017",
    "0110614141073464212017",
    f"{GS}0110614141073464212017{GS}",
    "(01)10614141073464(21)2017",
    "(01) 10614141073464 (21) 2017",
    "]d20110614141073464212017",
    "]Q30110614141073464212017",
    "]C10110614141073464212017",
    "]e00110614141073464212017",
    "]J10110614141073464212017",
    "]d2(01)10614141073464(21)2017",
    "0110614141073464212017\r\n",
    "  0110614141073464212017\t",
    "212017\x1d0110614141073464",
    "212017<GS>0110614141073464",
    "212017{GS}0110614141073464",
    "212017^0110614141073464",
]


@pytest.mark.parametrize("text", SGTIN_FORMS)
def test_every_sgtin_form_reads_as_the_item(text: str) -> None:
    scanned = parse_scan(text)
    assert (scanned.kind, scanned.gtin, scanned.serial, scanned.sscc) == ("sgtin", GTIN, SERIAL, None)
    assert scanned.key == scanned.dl == SGTIN_KEY
    assert scanned.epc_urn == SGTIN_URN
    assert scanned.signed is None
    assert scanned.raw == text


SSCC_FORMS = [
    SSCC,
    "00106141412345678908",
    "(00)106141412345678908",
    "]C100106141412345678908\r\n",
    "]C0106141412345678908",
    SSCC_KEY,
    "https://brand.example/00/106141412345678908",
    SSCC_URN,
    "urn:epc:tag:sscc-96:0.0614141.1234567890",
]


@pytest.mark.parametrize("text", SSCC_FORMS)
def test_every_sscc_form_reads_as_the_unit(text: str) -> None:
    scanned = parse_scan(text)
    assert (scanned.kind, scanned.gtin, scanned.serial, scanned.sscc) == ("sscc", None, None, SSCC)
    assert scanned.key == SSCC_KEY
    assert scanned.epc_urn == SSCC_URN


def test_lot_and_expiry_are_read_from_every_form() -> None:
    forms = [
        "0110614141073464212017\x1d10LOT-1\x1d17270100",
        "01106141410734641727010010LOT-1<GS>212017",
        "(01)10614141073464(21)2017(10)LOT-1(17)270100",
        "https://id.gs1.org/01/10614141073464/10/LOT-1/21/2017?17=270100",
        "https://r.example/01/10614141073464/21/2017?10=LOT-1&17=270100",
    ]
    for text in forms:
        scanned = parse_scan(text)
        assert (scanned.lot, scanned.expiry, scanned.key) == ("LOT-1", "270100", SGTIN_KEY), text


def test_logistic_label_keeps_the_contents_lot() -> None:
    scanned = parse_scan("(00)106141412345678908(02)10614141073464(37)12(10)B7")
    assert (scanned.kind, scanned.sscc, scanned.lot) == ("sscc", SSCC, "B7")


@pytest.mark.parametrize(
    ("text", "gtin"),
    [
        ("https://id.gs1.org/01/95070001/21/X", "00000095070001"),  # GTIN-8
        ("https://id.gs1.org/01/614141073467/21/X", "00614141073467"),  # GTIN-12
        ("https://id.gs1.org/01/9506000134352/21/X", "09506000134352"),  # GTIN-13
        ("(01)9506000134352(21)X", "09506000134352"),
    ],
)
def test_short_gtins_are_padded_to_14(text: str, gtin: str) -> None:
    assert parse_scan(text).gtin == gtin


def test_percent_encoded_serial_in_a_digital_link() -> None:
    scanned = parse_scan("https://id.example.com/01/10614141073464/21/A%2FB%26C%25%3F")
    assert scanned.serial == "A/B&C%?"
    assert scanned.dl == "https://id.gs1.org/01/10614141073464/21/A%2FB%26C%25%3F"
    assert scanned.epc_urn == "urn:epc:id:sgtin:0614141.107346.A%2FB%26C%25%3F"
    assert parse_scan(scanned.epc_urn).key == scanned.key
    assert parse_scan("(01)10614141073464(21)A/B&C%?").key == scanned.key


def test_hri_escaped_parenthesis_is_part_of_the_value() -> None:
    scanned = parse_scan("(01)10614141073464(21)AB\\(10)X(10)Y")
    assert (scanned.serial, scanned.lot) == ("AB(10)X", "Y")


def test_company_prefix_length_shapes_the_urn_but_not_the_key() -> None:
    text = "(01)10614141073464(21)2017"
    assert parse_scan(text, company_prefix_length=7).epc_urn == SGTIN_URN
    nine = parse_scan(text, company_prefix_length=9)
    assert nine.epc_urn == "urn:epc:id:sgtin:061414107.1346.2017"
    assert nine.key == SGTIN_KEY
    # A URN keeps its own split whatever the argument says.
    assert parse_scan("urn:epc:id:sgtin:061414107.1346.2017", company_prefix_length=7).epc_urn == nine.epc_urn
    assert parse_scan(SSCC, company_prefix_length=10).epc_urn == "urn:epc:id:sscc:0614141234.1567890"
    with pytest.raises(ValueError, match="6-12"):
        parse_scan(text, company_prefix_length=5)


# --- one item, one key ----------------------------------------------------------------------------------------


def _spellings(gtin: str, serial: str) -> list[str]:
    element = f"01{gtin}21{serial}{GS}10L1"
    return [
        f"https://id.gs1.org/01/{gtin}/21/{quote(serial, safe='')}",
        f"https://brand.example/p/01/{gtin}/21/{quote(serial, safe='')}?10=L1",
        sgtin_urn(gtin, serial, 7),
        sgtin_urn(gtin, serial, 11),
        element,
        element.replace(GS, "<GS>"),
        element.replace(GS, "{GS}"),
        element.replace(GS, "^"),
        f"(01){gtin}(21){serial.replace('(', chr(92) + '(')}(10)L1",
        f"]d2{element}",
        f"]Q3{element}\r\n",
    ]


@given(gtins, cset82_values)
@settings(max_examples=60)
def test_every_spelling_of_one_item_gives_one_key(gtin: str, serial: str) -> None:
    keys = {parse_scan(text).key for text in _spellings(gtin, serial)}
    assert len(keys) == 1
    assert keys == {epc_urn_to_key(sgtin_urn(gtin, serial))}


@given(gtins, cset82_values, st.integers(6, 12))
def test_urn_and_digital_link_round_trip(gtin: str, serial: str, prefix_length: int) -> None:
    urn = sgtin_urn(gtin, serial, prefix_length)
    from_urn = parse_scan(urn)
    assert (from_urn.gtin, from_urn.serial, from_urn.epc_urn) == (gtin, serial, urn)
    from_dl = parse_scan(from_urn.dl, company_prefix_length=prefix_length)
    assert (from_dl.gtin, from_dl.serial, from_dl.epc_urn, from_dl.dl) == (gtin, serial, urn, from_urn.dl)
    assert epc_urn_to_key(urn) == epc_urn_to_key(from_urn.dl) == from_urn.key


@given(st.text("0123456789", min_size=17, max_size=17), st.integers(6, 12))
def test_sscc_urn_round_trip(body: str, prefix_length: int) -> None:
    sscc = with_check_digit(body)
    urn = sscc_urn(sscc, prefix_length)
    assert parse_scan(urn).sscc == sscc
    assert parse_scan(urn).epc_urn == urn
    assert epc_urn_to_key(urn) == parse_scan(f"(00){sscc}").key


@given(gtins, st.text(CSET82.replace("%", ""), min_size=1, max_size=20))
def test_keys_agree_with_the_event_hash_canonical_uri(gtin: str, serial: str) -> None:
    # Without '%' (see the note on double decoding in the report): our key is event_hash's canonical URI.
    scanned = parse_scan(sgtin_urn(gtin, serial))
    assert canonical_gs1_uri(scanned.epc_urn) == scanned.key
    assert canonical_gs1_uri(f"https://x.example/01/{gtin}/21/{quote(serial, safe='')}") == scanned.key


def test_urn_escaping_follows_tds() -> None:
    assert sgtin_urn(GTIN, 'A"%&/<>?B') == "urn:epc:id:sgtin:0614141.107346.A%22%25%26%2F%3C%3E%3FB"
    for literal in ("a-b_c.d:e;f=g", "!h'i(j)k*l+m,n"):
        assert sgtin_urn(GTIN, literal) == f"urn:epc:id:sgtin:0614141.107346.{literal}"
    assert parse_scan("urn:epc:id:sgtin:0614141.107346.A%22%25%26%2F%3C%3E%3FB").serial == 'A"%&/<>?B'
    assert sgtin_urn("9506000134352", "X", 7) == "urn:epc:id:sgtin:9506000.013435.X"


def test_helpers_refuse_bad_keys() -> None:
    with pytest.raises(MalformedCode, match="check digit"):
        sgtin_urn("10614141073465", "1")
    with pytest.raises(MalformedCode, match="character set 82"):
        sgtin_urn(GTIN, "a b")
    with pytest.raises(MalformedCode, match="18 digits"):
        sscc_urn("12345")
    with pytest.raises(ValueError, match="6-12"):
        sscc_urn(SSCC, 13)


# --- our signed codes -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("code", [CODE, COMPACT], ids=["ed25519", "hmac"])
def test_signed_codes_keep_their_signature_in_every_form(code) -> None:
    element = to_element_string(code)
    forms = [
        to_digital_link(code),
        to_digital_link(code, "https://other.example/resolve"),
        "]Q1" + to_digital_link(code) + "\r\n",
        element,
        "]d2" + element + "\r\n",
        "]d2" + GS + element,
        element.replace(GS, "<GS>"),
        element.replace(GS, "{GS}"),
        element.replace(GS, "^"),
        to_element_string(code, human=True),
    ]
    for text in forms:
        scanned = parse_scan(text)
        assert scanned.signed == code, text
        assert (scanned.gtin, scanned.serial, scanned.lot, scanned.expiry) == (
            IDENT.gtin,
            IDENT.serial,
            IDENT.lot,
            IDENT.expiry,
        )
        assert scanned.key == f"https://id.gs1.org/01/{IDENT.gtin}/21/{IDENT.serial}"


def test_a_scanned_signature_verifies() -> None:
    scanned = parse_scan("]d2" + to_element_string(CODE).replace(GS, "<GS>") + "\r\n")
    assert scanned.signed is not None
    assert verify(scanned.signed, RING).ok


def test_signed_code_with_a_broken_signature_is_refused_not_downgraded() -> None:
    text = to_digital_link(CODE)
    with pytest.raises(MalformedCode, match="key id and signature"):
        parse_scan(text[:-3])
    with pytest.raises(MalformedCode, match="only AIs"):
        parse_scan(text + "&240=X")


def test_ai_91_alone_is_not_a_signature() -> None:
    scanned = parse_scan("(01)10614141073464(21)2017(91)internal")
    assert scanned.signed is None
    assert scanned.key == SGTIN_KEY


# --- refusals -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty scan"),
        (" \r\n", "empty scan"),
        ("hello", "not a GS1 code"),
        ("]d2", "nothing after the symbology identifier"),
        ("]", "malformed symbology identifier"),
        ("(01)10614141073465(21)2017", r"GTIN 10614141073465 has a wrong check digit \(expected 4\)"),
        ("https://id.gs1.org/01/10614141073465/21/2017", "wrong check digit"),
        ("106141412345678909", r"SSCC 106141412345678909 has a wrong check digit \(expected 8\)"),
        ("5901234123457", "bare GTIN"),
        ("]E05901234123457", "bare GTIN"),
        ("(01)10614141073464", "without a serial"),
        ("https://id.gs1.org/01/10614141073464/10/L1", "without a serial"),
        ("https://id.gs1.org/01/10614141073464?21=2017", "belongs in the Digital Link path"),
        ("https://id.gs1.org/414/0614141000005", "GLN"),
        ("https://id.gs1.org/about", "no GS1 primary key"),
        ("https://id.gs1.org/01/10614141073464/21", "AI/value pairs"),
        ("https://id.gs1.org/01/10614141073464/17/270100", "not a key qualifier"),
        ("https:///01/10614141073464/21/1", "no host"),
        ("https://[/01/1/21/1", "not a valid URI"),
        ("https://x.example/01/10614141073464/21/%C3%A9", "printable ASCII"),
        ("(01)10614141073464(21)2017(21)2018", "more than once"),
        ("(00)106141412345678908(01)10614141073464(21)1", "both an SSCC"),
        ("(10)LOT", "no item identifier"),
        ("(01)10614141073464(21)123456789012345678901", "bad AI"),
        ("(01)10614141073464(21)2017(17)271340", "bad AI"),
        ("(0123)1", "unknown AI"),
        ("(01)10614141073464(21)A\\B", "backslash"),
        ("0110614141073464212017\x00", r"U\+0000"),
        ("0110614141073464212017é", r"U\+00E9"),
        ("01106141410734642120 17", r"U\+0020"),
        ("x" * 2000, "at most"),
        ("urn:epc:idpat:sgtin:0614141.107346.*", "pattern"),
        ("urn:epc:class:lgtin:0614141.107346.L1", "class of items"),
        ("urn:epc:id:sgln:0614141.12345.0", "only sgtin and sscc"),
        ("urn:epc:raw:96.x1234", "not an EPC URN"),
        ("urn:epc:pat:sgtin-96:3.0614141.107346.*", "not a pure-identity"),
        ("urn:epc:tag:sgtin-96:9.0614141.107346.2017", "filter value"),
        ("urn:epc:id:sgtin:0614141.107346", "sgtin URN must be"),
        ("urn:epc:id:sgtin:06141.1073461.2017", "company prefix"),
        ("urn:epc:id:sgtin:0614141.10734.2017", "reference"),
        ("urn:epc:id:sgtin:0614141.107346.", "character set 82"),
        ("urn:epc:id:sgtin:0614141.107346.a%zz", "not a %XX escape"),
        ("urn:epc:id:sgtin:0614141.107346.%20", "character set 82"),
        ("urn:epc:id:sscc:0614141.123456789", "reference"),
        ("urn:isbn:0451450523", "not an EPC URN"),
        ("<GS>^{GS}", "only separators"),
    ],
)
def test_malformed_scans_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(MalformedCode, match=message):
        parse_scan(text)


def test_non_text_is_malformed() -> None:
    with pytest.raises(MalformedCode, match="must be text"):
        parse_scan(b"0110614141073464212017")  # type: ignore[arg-type]
    with pytest.raises(MalformedCode, match="must be text"):
        epc_urn_to_key(None)  # type: ignore[arg-type]


def test_epc_urn_to_key() -> None:
    assert epc_urn_to_key(SGTIN_URN) == epc_urn_to_key(SGTIN_KEY) == SGTIN_KEY
    assert epc_urn_to_key("https://brand.example/01/10614141073464/21/2017?17=270100") == SGTIN_KEY
    assert epc_urn_to_key(SSCC_URN) == SSCC_KEY
    for text, message in [
        ("urn:epc:idpat:sgtin:0614141.107346.*", "pattern"),
        ("urn:epc:id:sgln:0614141.12345.0", "only sgtin and sscc"),
        ("0110614141073464212017", "EPC URN or a GS1 Digital Link"),
        ("]Q1" + SGTIN_KEY, "EPC URN or a GS1 Digital Link"),
        ("https://id.gs1.org/01/10614141073464", "without a serial"),
    ]:
        with pytest.raises(MalformedCode, match=message):
            epc_urn_to_key(text)


def test_scanned_code_is_immutable() -> None:
    scanned = parse_scan(SGTIN_URN)
    assert isinstance(scanned, ScannedCode)
    with pytest.raises(AttributeError):
        scanned.serial = "x"  # type: ignore[misc]


# --- fuzzing: nothing escapes but MalformedCode ---------------------------------------------------------------


def _only_malformed(text: str) -> None:
    try:
        scanned = parse_scan(text)
    except MalformedCode:
        return
    # Whatever parses is self-consistent: its key and its URN name the same item.
    assert parse_scan(scanned.epc_urn).key == scanned.key
    assert parse_scan(scanned.key).key == scanned.key


@given(st.text(max_size=200))
def test_arbitrary_text_raises_only_malformed_code(text: str) -> None:
    _only_malformed(text)


@given(st.binary(max_size=200).map(lambda raw: raw.decode("latin-1")))
def test_arbitrary_bytes_raise_only_malformed_code(text: str) -> None:
    _only_malformed(text)


_PREFIXES = st.sampled_from(["", "]d2", "]Q3", "]C1", "]Q1", "urn:epc:id:sgtin:", "https://x.example/01/", "(01)"])
_ALPHABET = st.sampled_from(list(CSET82 + "()<>{}^[]\\ \x1d\r\n#é/%") + ["<GS>", "{GS}", "%2F", "%", "01", "21"])


@given(_PREFIXES, st.lists(_ALPHABET, max_size=40))
def test_gs1_looking_text_raises_only_malformed_code(prefix: str, parts: list[str]) -> None:
    _only_malformed(prefix + "".join(parts))


_VALID = [
    *SGTIN_FORMS,
    *SSCC_FORMS,
    to_digital_link(CODE),
    to_element_string(CODE),
    to_element_string(COMPACT, human=True),
    "0110614141073464212017\x1d10LOT-1\x1d17270100",
]


@st.composite
def _mutations(draw: st.DrawFn) -> str:
    text = draw(st.sampled_from(_VALID))
    for _ in range(draw(st.integers(1, 3))):
        position = draw(st.integers(0, len(text)))
        action = draw(st.sampled_from(["insert", "delete", "replace", "swap"]))
        char = draw(st.sampled_from(list(CSET82 + "()<>^\\ \x1d\r#é%/?&=.:")))
        if action == "insert":
            text = text[:position] + char + text[position:]
        elif action == "delete":
            text = text[:position] + text[position + 1 :]
        elif action == "replace":
            text = text[:position] + char + text[position + 1 :]
        elif position + 1 < len(text):
            text = text[:position] + text[position + 1] + text[position] + text[position + 2 :]
    return text


@given(_mutations())
@settings(max_examples=300)
def test_mutated_codes_raise_only_malformed_code(text: str) -> None:
    _only_malformed(text)


@given(
    st.builds(
        CodeIdentity, gtin=gtins, serial=cset82_values, lot=st.none() | cset82_values, expiry=st.none() | expiries()
    )
)
@settings(max_examples=40)
def test_signed_round_trip_over_generated_identities(identity: CodeIdentity) -> None:
    code = SIGNER.sign(identity)
    key = parse_scan(to_digital_link(code)).key
    for text in (
        to_digital_link(code, "https://b.example/x"),
        to_element_string(code),
        to_element_string(code, human=True),
    ):
        scanned = parse_scan(text)
        assert scanned.signed == code
        assert scanned.key == key
