"""One key per item, whatever form it arrives in: every character of GS1 AI 21's set, every legal escaping."""

from __future__ import annotations

import string

from hypothesis import given
from hypothesis import strategies as st

from ledger import event_hash
from ledger import keys as keys_module
from ledger.event_hash import MEMO_CHARS, canonical_gs1_uri
from ledger.keys import code_key, gtin_of, is_sgtin_key, is_sscc_key, key_of, serial_of, sgtin_key, sscc_key, sscc_of

CSET82 = "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
# TDS 2.x: the characters an EPC URN serial must escape; all others of CSET 82 stand as they are.
URN_ESCAPED = '"%&/<>?'
# Characters a Digital Link path segment may carry unescaped (RFC 3986 pchar minus what GS1 asks to escape).
PATH_LITERAL = set(string.ascii_letters + string.digits + "-._~!$&'()*+,;=:@") - set("%/?#")
GTIN = "06901234000108"
SSCC = "069012340000000016"

serials = st.text(alphabet=CSET82, min_size=1, max_size=20)


def urn(serial: str) -> str:
    escaped = "".join(f"%{ord(c):02X}" if c in URN_ESCAPED else c for c in serial)
    return f"urn:epc:id:sgtin:6901234.000010.{escaped}"


@st.composite
def digital_links(draw: st.DrawFn, serial: str) -> str:
    """A Digital Link of the unit on any host, each character escaped or not (where it may be), in either case."""
    out = []
    for char in serial:
        escape = char not in PATH_LITERAL or draw(st.booleans())
        if escape:
            code = f"%{ord(char):02X}"
            out.append(code.lower() if draw(st.booleans()) else code)
        else:
            out.append(char)
    host = draw(st.sampled_from(["https://id.gs1.org", "https://example.com", "http://brand.example/dl", "HTTPS://ID.GS1.ORG"]))
    query = draw(st.sampled_from(["", "?17=271231", "?10=L1&linkType=gs1:pip"]))
    return f"{host}/01/{GTIN}/21/{''.join(out)}{query}"


@given(serial=serials, data=st.data())
def test_every_form_of_a_unit_has_one_key(serial: str, data: st.DataObject) -> None:
    key = sgtin_key(GTIN, serial)
    forms = [urn(serial), data.draw(digital_links(serial)), "0106901234000108" + "21" + serial, key]
    if "(" not in serial:  # in the bracketed form an '(' would start the next AI
        forms.append(f"(01){GTIN}(21){serial}")
    assert {form: key_of(form) for form in forms} == dict.fromkeys(forms, key)
    assert gtin_of(key) == GTIN and serial_of(key) == serial and is_sgtin_key(key) and not is_sscc_key(key)
    assert key_of(key) == key == code_key(GTIN, serial, None)


@given(serial=serials)
def test_a_key_escapes_exactly_what_it_must(serial: str) -> None:
    tail = sgtin_key(GTIN, serial).rsplit("/", 1)[1]
    assert "/" not in tail and "?" not in tail and "#" not in tail
    literal = "".join(c for c in serial if c in "-._';=" or c.isalnum())
    assert all(c in tail for c in literal)
    assert tail.count("%") == sum(1 for c in serial if not (c in "-._';=" or c.isalnum()))


def test_a_percent_in_a_serial_is_decoded_once() -> None:
    # The serial is the four characters A%41: in a Digital Link the % must be %25; decoding twice would read "AA".
    assert key_of(f"https://id.gs1.org/01/{GTIN}/21/A%2541") == sgtin_key(GTIN, "A%41")
    assert key_of(urn("A%41")) == sgtin_key(GTIN, "A%41") != sgtin_key(GTIN, "AA")


def test_the_punctuation_gs1_keeps_literal_matches_its_escaped_spelling() -> None:
    assert key_of(f"https://id.gs1.org/01/{GTIN}/21/A%27B%3BC%3DD") == key_of("urn:epc:id:sgtin:6901234.000010.A'B;C=D")
    assert key_of("urn:epc:id:sgtin:6901234.000010.A'B;C=D").endswith("/21/A'B;C=D")


def test_logistic_units_and_texts_without_a_key() -> None:
    assert key_of("urn:epc:id:sscc:6901234.0000000001") == key_of(f"(00){SSCC}") == key_of(SSCC) == sscc_key(SSCC)
    assert sscc_of(sscc_key(SSCC)) == SSCC and is_sscc_key(sscc_key(SSCC)) and gtin_of(sscc_key(SSCC)) is None
    assert key_of("  not a code \n") == "not a code"
    assert key_of("urn:example:other:1") == "urn:example:other:1"
    assert key_of(f"(01){GTIN}") == f"(01){GTIN}"  # a product, not an item: no key of an item


@given(serial=serials, data=st.data(), noise=st.text(max_size=40), padding=st.sampled_from(["", " ", "\t"]))
def test_remembered_keys_are_the_keys_computed_afresh(serial: str, data: st.DataObject, noise: str,
                                                      padding: str) -> None:  # fmt: skip
    """key_of and canonical_gs1_uri remember short texts: asked again (or asked first), they answer as computed."""
    forms = [urn(serial), data.draw(digital_links(serial)), "0106901234000108" + "21" + serial, noise,
             f"urn:epc:id:sscc:6901234.{noise}", "x" * (MEMO_CHARS + 1) + serial]  # fmt: skip
    for form in (padding + f + padding for f in forms):
        for _ in range(2):
            assert key_of(form) == keys_module._key_of(form)
            assert canonical_gs1_uri(form) == event_hash._canonical_gs1_uri(form)
