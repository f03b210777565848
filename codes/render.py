"""Printed forms of a signed code and the one parser that reads them all back.

Two payloads (DESIGN, "Identifiers and codes"):

* a GS1 Digital Link URI for QR codes::

      https://<resolver>/01/<gtin>/21/<serial>?10=<lot>&17=<expiry>&91=<key id>&92=<signature>

* a GS1 element string for DataMatrix, ``01…21…<GS>10…<GS>17…91…<GS>92…`` (``<GS>`` is the FNC1 separator,
  byte 0x1D, after each variable-length AI that is not last), or its human-readable ``(01)…(21)…`` form.

AI 91 carries the key id and AI 92 the Ed25519 signature (base64url, no padding, 86 characters); compact mode puts
its truncated HMAC tag in AI 93 instead. AIs 91-99 are company-internal in GS1, so no other system will misread them.

The parser is deliberately strict: each form has exactly one text per code (checked by rendering the parsed code
again and comparing), signatures must be canonical base64url, and anything else raises :class:`MalformedCode`.
So a changed character either breaks the parse or changes what is verified; it can never yield a second text that
verifies. The Digital Link host (and a resolver path prefix) is not signed: it only says where to look the code up.
"""

from __future__ import annotations

import base64
import re
from urllib.parse import quote, urlsplit

from biip import ParseConfig
from biip.gs1_digital_link_uris import GS1DigitalLinkURI
from biip.gs1_messages import GS1Message

from codes.errors import MalformedCode
from codes.identity import CodeIdentity, check_key_id
from codes.signing import Mode, SignedCode, check_signature_length

__all__ = [
    "DEFAULT_RESOLVER",
    "ELEMENT_STRING_SYMBOLOGIES",
    "GS",
    "GS_PLACEHOLDER",
    "MAX_CODE_LENGTH",
    "URI_SYMBOLOGIES",
    "decode_signature",
    "encode_signature",
    "parse_code",
    "to_digital_link",
    "to_element_string",
]

DEFAULT_RESOLVER = "https://id.example.com"
GS = "\x1d"
"""ASCII group separator: how scanners transmit the FNC1 that ends a variable-length AI."""
GS_PLACEHOLDER = "<GS>"
"""What some scanners and keyboard wedges emit instead of the control character."""
ELEMENT_STRING_SYMBOLOGIES = ("]d2", "]Q3", "]C1", "]e0")
"""Symbology identifiers of GS1 DataMatrix, GS1 QR, GS1-128 and GS1 DataBar: their payload is an element string."""
URI_SYMBOLOGIES = ("]Q1", "]d1")
"""Symbology identifiers of plain QR and DataMatrix, which carry a Digital Link URI."""
MAX_CODE_LENGTH = 1024
"""Longer input is refused before any parsing (our longest form is about 200 characters)."""

_SIGNATURE_AI: dict[Mode, str] = {"ed25519": "92", "hmac": "93"}
_SIGNATURE_FIELD = {"92": "signature", "93": "tag"}
_AI_FIELD = {"01": "gtin", "21": "serial", "10": "lot", "17": "expiry", "91": "key_id"} | _SIGNATURE_FIELD
_BIIP_AI = re.compile(r"AI \(([0-9]{2,4})\)")
_KNOWN_AIS = ("01", "21", "10", "17", "91", "92", "93")
_ALLOWED_TEXT = re.compile(r"[\x1d\x21-\x7e]*", re.ASCII)
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+", re.ASCII)
_HRI_AI = re.compile(r"\(([0-9]{2,4})\)", re.ASCII)
# A resolver path prefix: unreserved characters, no all-digit segment (it could be taken for an AI).
_PREFIX_SEGMENT = re.compile(r"[A-Za-z0-9._~-]*[A-Za-z._~-][A-Za-z0-9._~-]*", re.ASCII)
_BIIP_CONFIG = ParseConfig(separator_chars=(GS,))


def encode_signature(signature: bytes) -> str:
    """Return ``signature`` as base64url without padding (URL-safe and inside GS1 character set 82)."""
    return base64.urlsafe_b64encode(signature).rstrip(b"=").decode("ascii")


def decode_signature(text: str, field: str = "signature") -> bytes:
    """Decode unpadded base64url, refusing any text that is not the canonical encoding of its bytes.

    Without that check the unused low bits of the last character could be flipped: a different text with the
    same signature bytes, i.e. a second printable form of one code.
    """
    if not _BASE64URL.fullmatch(text) or len(text) % 4 == 1:
        raise MalformedCode(f"{field} is not unpadded base64url", field=field)
    raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if encode_signature(raw) != text:
        raise MalformedCode(f"{field} is not canonical base64url (unused low bits are set)", field=field)
    return raw


def _pct(value: str) -> str:
    # GS1 Digital Link: everything outside A-Z a-z 0-9 - . _ is percent-encoded, with upper-case hex.
    return quote(value, safe="")


def _digital_link_tail(code: SignedCode) -> str:
    ident = code.identity
    query = []
    if ident.lot is not None:
        query.append(f"10={_pct(ident.lot)}")
    if ident.expiry is not None:
        query.append(f"17={ident.expiry}")
    query.append(f"91={code.key_id}")
    query.append(f"{_SIGNATURE_AI[code.mode]}={encode_signature(code.signature)}")
    return f"/01/{ident.gtin}/21/{_pct(ident.serial)}?{'&'.join(query)}"


def _resolver_base(resolver: str) -> str:
    text = resolver if "://" in resolver else f"https://{resolver}"
    try:
        parts = urlsplit(text)
    except ValueError as exc:
        raise ValueError(f"resolver {resolver!r} is not a valid URI: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ValueError(f"resolver must be http(s)://host[/prefix] without query or fragment, got {resolver!r}")
    prefix = parts.path.rstrip("/")
    if prefix and not all(_PREFIX_SEGMENT.fullmatch(seg) for seg in prefix.split("/")[1:]):
        raise ValueError(f"resolver path prefix {prefix!r} must be segments of A-Z a-z 0-9 . _ ~ -, none all digits")
    return f"{parts.scheme}://{parts.netloc}{prefix}"


def to_digital_link(code: SignedCode, resolver: str = DEFAULT_RESOLVER) -> str:
    """Render as a GS1 Digital Link URI (for QR): identity in the path, lot, expiry, key id and signature in the query.

    ``resolver`` is ``https://host`` with an optional path prefix; it is not covered by the signature.
    """
    return _resolver_base(resolver) + _digital_link_tail(code)


def to_element_string(code: SignedCode, *, human: bool = False) -> str:
    """Render as a GS1 element string: what a GS1 DataMatrix carries (``human=False``) or its ``(AI)`` form.

    The carried form has no symbology identifier and a GS after each variable-length AI followed by another.
    In the human form a ``(`` inside a value is written ``\\(`` so that it cannot be taken for the start of an AI.
    """
    ident = code.identity
    sig_ai = _SIGNATURE_AI[code.mode]
    sig = encode_signature(code.signature)
    if human:
        parts = [f"(01){ident.gtin}(21){_escape_hri(ident.serial)}"]
        if ident.lot is not None:
            parts.append(f"(10){_escape_hri(ident.lot)}")
        if ident.expiry is not None:
            parts.append(f"(17){ident.expiry}")
        parts.append(f"(91){code.key_id}({sig_ai}){sig}")
        return "".join(parts)
    parts = [f"01{ident.gtin}21{ident.serial}{GS}"]
    if ident.lot is not None:
        parts.append(f"10{ident.lot}{GS}")
    if ident.expiry is not None:
        parts.append(f"17{ident.expiry}")
    parts.append(f"91{code.key_id}{GS}{sig_ai}{sig}")
    return "".join(parts)


def _escape_hri(value: str) -> str:
    return value.replace("(", "\\(")


def parse_code(text: str) -> SignedCode:
    """Parse any printed form of a signed code: Digital Link, element string, or human-readable element string.

    An element string may start with a GS1 symbology identifier (``]d2``, ``]Q3``, ``]C1``, ``]e0``) and use
    ``<GS>`` for the separator; a Digital Link may start with ``]Q1`` or ``]d1``. Raises :class:`MalformedCode`,
    and nothing else, for any other input, including surrounding whitespace (strip a scanner's line ending first).
    """
    if not isinstance(text, str):
        raise MalformedCode(f"a code must be text, got {type(text).__name__}")
    if not text:
        raise MalformedCode("empty code")
    if len(text) > MAX_CODE_LENGTH:
        raise MalformedCode(f"code is {len(text)} characters long; at most {MAX_CODE_LENGTH} are accepted")
    if not _ALLOWED_TEXT.fullmatch(text):
        position, char = next((i, c) for i, c in enumerate(text) if not _ALLOWED_TEXT.fullmatch(c))
        hint = " (strip the scanner's whitespace or line ending first)" if char.isspace() else ""
        raise MalformedCode(f"unexpected character U+{ord(char):04X} at position {position}{hint}")
    symbology: str | None = None
    body = text
    if text.startswith("]"):
        symbology, body = text[:3], text[3:]
    if body[:8].lower().startswith(("https://", "http://")):
        if symbology is not None and symbology not in URI_SYMBOLOGIES:
            raise MalformedCode(f"symbology identifier {symbology} does not carry a Digital Link URI")
        return _parse_digital_link(body)
    if symbology is not None and symbology not in ELEMENT_STRING_SYMBOLOGIES:
        raise MalformedCode(
            f"unsupported symbology identifier {symbology!r} (expected one of {', '.join(ELEMENT_STRING_SYMBOLOGIES)})"
        )
    if not body:
        raise MalformedCode("nothing after the symbology identifier")
    if body.startswith("("):
        return _parse_human_element_string(body)
    return _parse_element_string(body)


def _parse_digital_link(url: str) -> SignedCode:
    if GS in url:
        raise MalformedCode("a Digital Link URI cannot contain a GS separator")
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise MalformedCode(f"not a valid URI: {exc}") from None
    if not parts.netloc:
        raise MalformedCode("Digital Link URI has no host")
    # Everything after scheme://host is signed-or-checked; the host (and any resolver prefix) is not.
    tail = url[len(parts.scheme) + 3 + len(parts.netloc) :]
    if "#" in tail:
        raise MalformedCode("Digital Link URI must not have a fragment")
    try:
        dl = GS1DigitalLinkURI.parse(url, config=_BIIP_CONFIG)
    except Exception as exc:  # biip raises ParseError, but hostile input must never escape as another type
        raise _biip_error("GS1 Digital Link URI", exc) from None
    code = _code_from_pairs([(es.ai.ai, es.value) for es in dl.element_strings])
    expected = _digital_link_tail(code)
    if not tail.endswith(expected):
        raise MalformedCode(f"Digital Link is not in the form we print; expected the path and query {expected}")
    prefix = tail[: len(tail) - len(expected)]
    if prefix and not all(_PREFIX_SEGMENT.fullmatch(seg) for seg in prefix.split("/")[1:]):
        raise MalformedCode(f"Digital Link path prefix {prefix!r} is not valid")
    return code


def _parse_element_string(body: str) -> SignedCode:
    placeholder = GS not in body and GS_PLACEHOLDER in body
    data = body.replace(GS_PLACEHOLDER, GS) if placeholder else body
    try:
        message = GS1Message.parse(data, config=_BIIP_CONFIG)
    except Exception as exc:  # see _parse_digital_link
        raise _biip_error("GS1 element string", exc) from None
    code = _code_from_pairs([(es.ai.ai, es.value) for es in message.element_strings])
    expected = to_element_string(code)
    if placeholder:
        expected = expected.replace(GS, GS_PLACEHOLDER)
    if body != expected:
        raise MalformedCode(_difference("element string", body, expected))
    return code


def _parse_human_element_string(body: str) -> SignedCode:
    pairs: list[tuple[str, str]] = []
    position, end = 0, len(body)
    while position < end:
        match = _HRI_AI.match(body, position)
        if match is None:
            raise MalformedCode(f"expected an AI in parentheses at position {position} of the element string")
        ai, position = match.group(1), match.end()
        value: list[str] = []
        while position < end and body[position] != "(":
            char = body[position]
            if char == "\\":
                if body[position + 1 : position + 2] != "(":
                    raise MalformedCode(f"a backslash may only escape '(' (position {position})")
                char = "("
                position += 1
            value.append(char)
            position += 1
        pairs.append((ai, "".join(value)))
    code = _code_from_pairs(pairs)
    expected = to_element_string(code, human=True)
    if body != expected:
        raise MalformedCode(_difference("element string", body, expected))
    return code


def _biip_error(what: str, exc: Exception) -> MalformedCode:
    """Turn biip's message into ours, naming our field when biip names the AI it choked on."""
    match = _BIIP_AI.search(str(exc))
    field = _AI_FIELD.get(match.group(1)) if match else None
    if field is None:
        return MalformedCode(f"not a {what}: {exc}")
    return MalformedCode(f"bad {field.replace('_', ' ')} in {what}: {exc}", field=field)


def _difference(what: str, got: str, expected: str) -> str:
    pairs = zip(got, expected, strict=False)
    index = next((i for i, (a, b) in enumerate(pairs) if a != b), min(len(got), len(expected)))
    return f"{what} is not in the form we print: it differs at character {index}"


def _code_from_pairs(pairs: list[tuple[str, str]]) -> SignedCode:
    fields: dict[str, str] = {}
    for ai, value in pairs:
        if ai not in _KNOWN_AIS:
            raise MalformedCode(f"unexpected AI ({ai}) in a signed unit code", field=f"ai_{ai}")
        if ai in fields:
            raise MalformedCode(f"AI ({ai}) appears more than once", field=f"ai_{ai}")
        fields[ai] = value
    for ai, name in (("01", "gtin"), ("21", "serial"), ("91", "key_id")):
        if ai not in fields:
            raise MalformedCode(f"missing AI ({ai}) ({name.replace('_', ' ')})", field=name)
    if "92" in fields and "93" in fields:
        raise MalformedCode("a code carries either a signature (AI 92) or a compact tag (AI 93), not both")
    sig_ai = "92" if "92" in fields else "93" if "93" in fields else None
    if sig_ai is None:
        raise MalformedCode("missing signature (AI 92) or compact tag (AI 93)", field="signature")
    identity = CodeIdentity(fields["01"], fields["21"], fields.get("10"), fields.get("17"))
    key_id = check_key_id(fields["91"])
    field = _SIGNATURE_FIELD[sig_ai]
    signature = decode_signature(fields[sig_ai], field)
    mode: Mode = "ed25519" if sig_ai == "92" else "hmac"
    check_signature_length(signature, mode)
    return SignedCode(identity, key_id, signature, mode)
