"""Read whatever a scanner yields into one item identity with one matching key.

The same unit reaches us in many spellings: a QR read by a phone (a GS1 Digital Link on our resolver or on
``id.gs1.org``), a DataMatrix read by a barcode gun in keyboard-wedge mode (an element string whose FNC1 arrives as
GS, as ``<GS>``, ``{GS}`` or ``^``, often behind a ``]d2`` symbology identifier and followed by CR LF), the
human-readable line under the symbol, an RFID read or an EPCIS event (an EPC URN). Matching scans to codes and to
events only works if all of them give the same key, so :func:`parse_scan` turns every form into a
:class:`ScannedCode` whose :attr:`~ScannedCode.key` is the constrained canonical Digital Link
(``https://id.gs1.org/01/<gtin>/21/<serial>`` or ``https://id.gs1.org/00/<sscc>``).

Only items are accepted: an SGTIN (GTIN + serial) or an SSCC. A GTIN alone, a lot, a location or an EPC pattern
names many things or none, and is refused. So is anything malformed, always with :class:`MalformedCode` and a
message that says what is wrong, because scans come from the outside world and a scanner app shows that message.

Our own signed codes (AI 91 key id with AI 92 signature or AI 93 compact tag) keep their signature: the text is
brought into the one form :func:`codes.render.parse_code` accepts (whatever host, separator or symbology it came
with) and parsed by it, so a scan is verified exactly like a code we printed. A text carrying AI 91 and AI 92/93
that is not a valid signed code of ours is refused rather than read as unsigned: a damaged signature is news.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal
from urllib.parse import parse_qsl, unquote, urlsplit

from biip import ParseConfig
from biip.gs1_application_identifiers import GS1ApplicationIdentifier
from biip.gs1_element_strings import GS1ElementString
from biip.gs1_messages import GS1Message

from codes.errors import MalformedCode
from codes.render import GS, MAX_CODE_LENGTH, parse_code
from codes.signing import SignedCode
from ledger.keys import ROOT, sgtin_key, sscc_key
from traceability.gs1 import check_digit

__all__ = [
    "DEFAULT_COMPANY_PREFIX_LENGTH",
    "DL_ROOT",
    "GS_PLACEHOLDERS",
    "ScanKind",
    "ScannedCode",
    "epc_urn_to_key",
    "parse_scan",
    "sgtin_urn",
    "sscc_urn",
]

ScanKind = Literal["sgtin", "sscc"]

DL_ROOT: Final = ROOT
"""Root of the canonical Digital Link that serves as the matching key (the one :mod:`ledger.keys` spells)."""
DEFAULT_COMPANY_PREFIX_LENGTH: Final = 7
GS_PLACEHOLDERS: Final = ("<GS>", "{GS}", "^")
"""What barcode guns are configured to send for FNC1 when the control character would not survive the keyboard."""

_WHITESPACE: Final = " \t\r\n\f\v"  # not str.strip(): Python counts GS (0x1D) as whitespace, and GS is data here
_SYMBOLOGY: Final = re.compile(r"\][A-Za-z][0-9A-Za-z]", re.ASCII)
_PRINTABLE: Final = re.compile(r"[\x1d\x21-\x7e]*", re.ASCII)
_VALUE: Final = re.compile(r"[\x21-\x7e]+", re.ASCII)
_CSET82_20: Final = re.compile(r"""[!"%-?A-Z_a-z]{1,20}""", re.ASCII)
_DIGITS: Final = re.compile(r"[0-9]+", re.ASCII)
_HRI_AI: Final = re.compile(r"\(([0-9]{2,4})\)", re.ASCII)
_URN: Final = re.compile(r"(?i:urn:epc:)([A-Za-z]+):([A-Za-z0-9-]+):(.*)", re.ASCII | re.DOTALL)
_PERCENT: Final = re.compile(r"%([0-9A-Fa-f]{2})", re.ASCII)
_BIIP_AI: Final = re.compile(r"AI \(([0-9]{2,4})\)")
_BIIP_CONFIG: Final = ParseConfig(separator_chars=(GS,))

# TDS 2.x: the characters of GS1 AI character set 82 that an EPC URN must %-escape.
_URN_ESCAPES: Final = {char: f"%{ord(char):02X}" for char in '"%&/<>?'}
_GTIN_LENGTHS: Final = (8, 12, 13, 14)
_SIGNED_AIS: Final = frozenset({"01", "21", "10", "17", "91", "92", "93"})
_DL_QUALIFIERS: Final = {"01": ("22", "10", "21"), "00": ()}
_PATH_ONLY_AIS: Final = frozenset({"00", "01", "21", "22"})
_PRIMARY_KEYS: Final = {
    "00": "an SSCC", "01": "a GTIN", "253": "a GDTI", "255": "a GCN", "401": "a GINC", "402": "a GSIN",
    "414": "a GLN", "417": "a party GLN", "8003": "a GRAI", "8004": "a GIAI", "8006": "an ITIP",
    "8010": "a CPID", "8013": "a GMN", "8017": "a GSRN-P", "8018": "a GSRN",
}  # fmt: skip
_TAG_SCHEMES: Final = {"sgtin-96": "sgtin", "sgtin-198": "sgtin", "sscc-96": "sscc"}
_SNIPPET: Final = 40


@dataclass(frozen=True, slots=True)
class ScannedCode:
    """One scanned item: its GS1 identity, its EPC URN and canonical Digital Link, and our signature if it has one.

    ``raw`` is the text exactly as received (for audit); everything else is normalised. ``lot`` and ``expiry``
    (YYMMDD) are those the code carries, on a logistic label those of its contents.
    """

    raw: str
    kind: ScanKind
    gtin: str | None
    serial: str | None
    sscc: str | None
    lot: str | None
    expiry: str | None
    signed: SignedCode | None
    epc_urn: str
    dl: str

    @property
    def key(self) -> str:
        """The matching key: equal for every representation of the same item (the canonical Digital Link)."""
        return self.dl


# --------------------------------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------------------------------


def parse_scan(text: str, *, company_prefix_length: int = DEFAULT_COMPANY_PREFIX_LENGTH) -> ScannedCode:
    """Parse one scan (Digital Link, element string in any FNC1 spelling, HRI, EPC URN, bare SSCC) into an item.

    ``company_prefix_length`` splits a GTIN or SSCC into the EPC URN's company prefix and reference; a URN given
    as input keeps its own split. Raises :class:`MalformedCode` for every input that is not exactly one item
    and ``ValueError`` only for a ``company_prefix_length`` outside 6-12 (a caller's bug, not a bad scan).
    """
    _check_prefix_length(company_prefix_length)
    body = _clean(text)
    if body[:4].lower() == "urn:":
        return _parse_urn(text, body)
    if body[:8].lower().startswith(("http://", "https://")):
        return _from_pairs(text, _digital_link_pairs(body), company_prefix_length)
    if body.startswith("("):
        return _from_pairs(text, _hri_pairs(body), company_prefix_length)
    if _DIGITS.fullmatch(body):
        return _from_pairs(text, _bare_digit_pairs(body), company_prefix_length)
    return _from_pairs(text, _element_string_pairs(body), company_prefix_length)


def epc_urn_to_key(urn_or_dl: str) -> str:
    """Return the matching key of an EPC as an EPCIS event gives it: a pure-identity URN or a Digital Link.

    Raises :class:`MalformedCode` for anything that is not one item: patterns (``urn:epc:idpat``), classes,
    locations and other non-item schemes, and text in any other form.
    """
    if not isinstance(urn_or_dl, str):
        raise MalformedCode(f"an EPC must be text, got {type(urn_or_dl).__name__}")
    head = urn_or_dl.strip(_WHITESPACE)[:8].lower()
    if not head.startswith(("urn:", "http://", "https://")):
        raise MalformedCode(f"an EPC must be an EPC URN or a GS1 Digital Link URI, got {_snippet(urn_or_dl)}")
    return parse_scan(urn_or_dl).key


def sgtin_urn(gtin: str, serial: str, company_prefix_length: int = DEFAULT_COMPANY_PREFIX_LENGTH) -> str:
    """Return the pure-identity EPC URN ``urn:epc:id:sgtin:CP.IR.S`` with the serial escaped as TDS 2.x asks."""
    _check_prefix_length(company_prefix_length)
    gtin = _gtin14(gtin)
    _check_cset82(serial, "serial (AI 21)")
    split = 1 + company_prefix_length
    return f"urn:epc:id:sgtin:{gtin[1:split]}.{gtin[0]}{gtin[split:13]}.{_urn_escape(serial)}"


def sscc_urn(sscc: str, company_prefix_length: int = DEFAULT_COMPANY_PREFIX_LENGTH) -> str:
    """Return the pure-identity EPC URN ``urn:epc:id:sscc:CP.SR`` (extension digit leads the serial reference)."""
    _check_prefix_length(company_prefix_length)
    _check_key(sscc, "SSCC", 18)
    split = 1 + company_prefix_length
    return f"urn:epc:id:sscc:{sscc[1:split]}.{sscc[0]}{sscc[split:17]}"


# --------------------------------------------------------------------------------------------------------------------
# Input clean-up: type, length, keyboard-wedge whitespace, symbology identifier, characters
# --------------------------------------------------------------------------------------------------------------------


def _clean(text: object) -> str:
    if not isinstance(text, str):
        raise MalformedCode(f"a scan must be text, got {type(text).__name__}")
    if len(text) > MAX_CODE_LENGTH:
        raise MalformedCode(f"scan is {len(text)} characters long; at most {MAX_CODE_LENGTH} are accepted")
    body = text.strip(_WHITESPACE)
    if not body:
        raise MalformedCode("empty scan")
    if body.startswith("]"):
        # ISO/IEC 15424: ']', symbology character, modifier. It says which symbol was read, not what it holds.
        if _SYMBOLOGY.match(body) is None:
            raise MalformedCode(f"malformed symbology identifier {body[:3]!r}: expected ']' + letter + modifier")
        body = body[3:].strip(_WHITESPACE)
        if not body:
            raise MalformedCode("nothing after the symbology identifier")
    if body.startswith("("):
        body = "".join(body.split())  # printed HRI is often spaced; no AI value may contain whitespace
    if not _PRINTABLE.fullmatch(body):
        position, char = next((i, c) for i, c in enumerate(body) if not _PRINTABLE.fullmatch(c))
        raise MalformedCode(f"unexpected character U+{ord(char):04X} at position {position} of the scan")
    return body


def _snippet(text: str) -> str:
    return repr(text if len(text) <= _SNIPPET else text[:_SNIPPET] + "…")


def _check_prefix_length(length: int) -> None:
    if isinstance(length, bool) or not isinstance(length, int) or not 6 <= length <= 12:
        raise ValueError(f"a GS1 company prefix has 6-12 digits, got company_prefix_length={length!r}")


# --------------------------------------------------------------------------------------------------------------------
# GS1 forms to (AI, value) pairs
# --------------------------------------------------------------------------------------------------------------------

_Pairs = list[tuple[str, str]]


def _element_string_pairs(body: str) -> _Pairs:
    data = body
    for placeholder in GS_PLACEHOLDERS:
        data = data.replace(placeholder, GS)
    data = data.strip(GS)  # a leading FNC1 is sent as GS by some guns; a trailing one is harmless
    if not data:
        raise MalformedCode("scan holds only separators")
    if not (data[:2].isascii() and data[:2].isdigit()):
        raise MalformedCode(
            f"unrecognised content {_snippet(body)}: not a GS1 code (Digital Link, element string, or EPC URN)"
        )
    try:
        message = GS1Message.parse(data, config=_BIIP_CONFIG)
    except Exception as exc:  # biip raises ParseError; hostile input must never escape as another type
        raise _biip_error("GS1 element string", exc) from None
    return [(es.ai.ai, es.value) for es in message.element_strings]


def _bare_digit_pairs(body: str) -> _Pairs:
    if len(body) == 18:
        return [("00", body)]  # an SSCC as a plain Code 128 or typed by hand
    if len(body) in (8, 12, 13, 14):
        raise MalformedCode(
            f"{body} is a bare GTIN (EAN/UPC): it identifies a product, not an item; a serial (AI 21) is needed"
        )
    return _element_string_pairs(body)


def _hri_pairs(body: str) -> _Pairs:
    """Split ``(AI)value…``; a ``(`` starts an AI only as ``(digits)``, and ``\\(`` is always a literal ``(``."""
    pairs: _Pairs = []
    match = _HRI_AI.match(body)
    if match is None:
        raise MalformedCode("human-readable element string must start with an AI in parentheses, e.g. (01)")
    end = len(body)
    while match is not None:
        ai, position = match.group(1), match.end()
        value: list[str] = []
        match = None
        while position < end:
            char = body[position]
            if char == "\\":
                if body[position + 1 : position + 2] != "(":
                    raise MalformedCode(f"a backslash may only escape '(' (position {position})")
                value.append("(")
                position += 2
                continue
            if char == "(":
                match = _HRI_AI.match(body, position)
                if match is not None:
                    break
            value.append(char)
            position += 1
        pairs.append(_checked_pair(ai, "".join(value), "human-readable element string"))
    return pairs


def _digital_link_pairs(url: str) -> _Pairs:
    """_Pairs of a Digital Link: the primary key and its qualifiers from the path, other AIs from the query.

    Any host and any path prefix before the key are accepted: they only say where to resolve the link.
    """
    try:
        parts = urlsplit(url)
        query = parse_qsl(parts.query, keep_blank_values=True)
    except ValueError as exc:
        raise MalformedCode(f"not a valid URI: {exc}") from None
    if not parts.netloc:
        raise MalformedCode("Digital Link URI has no host")
    segments = parts.path.split("/")[1:]
    if segments and segments[-1] == "":
        segments.pop()
    start = next((i for i, segment in enumerate(segments) if segment in _PRIMARY_KEYS), None)
    if start is None:
        raise MalformedCode(f"no GS1 primary key (such as /01/ or /00/) in the Digital Link path {parts.path!r}")
    primary = segments[start]
    if primary not in _DL_QUALIFIERS:
        raise MalformedCode(
            f"Digital Link identifies {_PRIMARY_KEYS[primary]} (AI {primary}), not an item: "
            "expected an SGTIN (/01/…/21/…) or an SSCC (/00/…)"
        )
    tail = segments[start:]
    if len(tail) % 2:
        raise MalformedCode(f"Digital Link path after the primary key must be AI/value pairs, got /{'/'.join(tail)}")
    pairs: _Pairs = []
    for index in range(0, len(tail), 2):
        ai = tail[index]
        if index and ai not in _DL_QUALIFIERS[primary]:
            raise MalformedCode(f"AI ({ai}) is not a key qualifier of AI ({primary}) in a Digital Link path")
        pairs.append(_checked_pair(ai, unquote(tail[index + 1]), "Digital Link"))
    for name, value in query:
        if not _is_ai(name):
            continue  # GS1 Digital Link allows other query parameters (linkType, context, …)
        if name in _PATH_ONLY_AIS:
            raise MalformedCode(f"AI ({name}) belongs in the Digital Link path, not in the query")
        pairs.append(_checked_pair(name, value, "Digital Link"))
    return pairs


def _is_ai(name: str) -> bool:
    if not (2 <= len(name) <= 4 and _DIGITS.fullmatch(name)):
        return False
    try:
        return GS1ApplicationIdentifier.extract(name).ai == name
    except Exception:  # ParseError: not a known AI
        return False


def _checked_pair(ai: str, value: str, what: str) -> tuple[str, str]:
    """Validate one AI value against biip's AI table (format, dates); pad a short GTIN as Digital Link allows."""
    if not _VALUE.fullmatch(value):
        raise MalformedCode(f"AI ({ai}) in the {what} has an empty value or characters outside printable ASCII")
    if not _is_ai(ai):
        raise MalformedCode(f"unknown AI ({ai}) in the {what}", field=f"ai_{ai}")
    if ai == "01" and _DIGITS.fullmatch(value) and len(value) in _GTIN_LENGTHS:
        value = value.zfill(14)
    try:
        element = GS1ElementString.parse(ai + value, config=_BIIP_CONFIG)
    except Exception as exc:  # see _element_string_pairs
        raise _biip_error(what, exc) from None
    return ai, element.value


def _biip_error(what: str, exc: Exception) -> MalformedCode:
    match = _BIIP_AI.search(str(exc))
    if match is None:
        return MalformedCode(f"not a valid {what}: {exc}")
    return MalformedCode(f"bad AI ({match.group(1)}) in the {what}: {exc}", field=f"ai_{match.group(1)}")


# --------------------------------------------------------------------------------------------------------------------
# _Pairs to an item
# --------------------------------------------------------------------------------------------------------------------


def _from_pairs(raw: str, pairs: _Pairs, company_prefix_length: int) -> ScannedCode:
    fields: dict[str, str] = {}
    for ai, value in pairs:
        if ai in fields:
            raise MalformedCode(f"AI ({ai}) appears more than once", field=f"ai_{ai}")
        fields[ai] = value
    if "00" in fields and "21" in fields:
        raise MalformedCode("scan carries both an SSCC (AI 00) and a serial (AI 21): which item is meant is unclear")
    if "01" in fields:
        fields["01"] = _gtin14(fields["01"])
    if "00" in fields:
        sscc = _check_key(fields["00"], "SSCC", 18)
        return _sscc_code(raw, sscc, company_prefix_length, lot=fields.get("10"), expiry=fields.get("17"))
    if "01" not in fields:
        found = ", ".join(f"({ai})" for ai in fields)
        raise MalformedCode(
            f"no item identifier: expected an SGTIN (AI 01 + AI 21) or an SSCC (AI 00), found AIs {found}"
        )
    if "21" not in fields:
        raise MalformedCode(
            f"GTIN {fields['01']} without a serial (AI 21) identifies a product, not an item", field="serial"
        )
    gtin, serial = fields["01"], fields["21"]
    _check_cset82(serial, "serial (AI 21)")
    signed = _signed(fields) if "91" in fields and ("92" in fields or "93" in fields) else None
    lot = signed.identity.lot if signed else fields.get("10")
    expiry = signed.identity.expiry if signed else fields.get("17")
    return _sgtin_code(raw, gtin, serial, company_prefix_length, lot=lot, expiry=expiry, signed=signed)


def _sgtin_code(
    raw: str, gtin: str, serial: str, prefix_length: int, *, lot: str | None = None, expiry: str | None = None,
    signed: SignedCode | None = None,
) -> ScannedCode:  # fmt: skip
    return ScannedCode(
        raw=raw, kind="sgtin", gtin=gtin, serial=serial, sscc=None, lot=lot, expiry=expiry, signed=signed,
        epc_urn=sgtin_urn(gtin, serial, prefix_length), dl=sgtin_key(gtin, serial),
    )  # fmt: skip


def _sscc_code(
    raw: str, sscc: str, prefix_length: int, *, lot: str | None = None, expiry: str | None = None
) -> ScannedCode:
    return ScannedCode(
        raw=raw, kind="sscc", gtin=None, serial=None, sscc=sscc, lot=lot, expiry=expiry, signed=None,
        epc_urn=sscc_urn(sscc, prefix_length), dl=sscc_key(sscc),
    )  # fmt: skip


def _signed(fields: dict[str, str]) -> SignedCode:
    """Rebuild the human-readable form we print and let the one strict parser of signed codes read it."""
    extra = sorted(set(fields) - _SIGNED_AIS)
    if extra:
        found = ", ".join(f"({ai})" for ai in extra)
        raise MalformedCode(f"a signed code carries only AIs 01, 21, 10, 17, 91 and 92/93; found also {found}")
    parts = [f"(01){fields['01']}(21){_escape_hri(fields['21'])}"]
    if "10" in fields:
        parts.append(f"(10){_escape_hri(fields['10'])}")
    if "17" in fields:
        parts.append(f"(17){fields['17']}")
    parts.append(f"(91){fields['91']}")
    parts.extend(f"({ai}){fields[ai]}" for ai in ("92", "93") if ai in fields)
    try:
        return parse_code("".join(parts))
    except MalformedCode as exc:
        raise MalformedCode(f"carries a key id and signature (AIs 91, 92/93) but {exc.message}", **exc.detail) from None


def _escape_hri(value: str) -> str:
    return value.replace("(", "\\(")


# --------------------------------------------------------------------------------------------------------------------
# EPC URNs
# --------------------------------------------------------------------------------------------------------------------


def _parse_urn(raw: str, body: str) -> ScannedCode:
    match = _URN.fullmatch(body)
    if match is None:
        raise MalformedCode(f"not an EPC URN (urn:epc:id:sgtin:… or urn:epc:id:sscc:…): {_snippet(body)}")
    form, scheme, rest = match[1].lower(), match[2].lower(), match[3]
    if form == "idpat":
        raise MalformedCode("urn:epc:idpat is a pattern that may match many items, not an item")
    if form == "class":
        raise MalformedCode(f"urn:epc:class:{scheme} names a class of items (e.g. a GTIN and lot), not an item")
    if form == "tag" and scheme in _TAG_SCHEMES:
        # An RFID tag URN is the pure identity behind a filter value (and an encoding name): drop both.
        filter_value, dot, rest = rest.partition(".")
        if not (dot and len(filter_value) == 1 and filter_value in "01234567"):
            raise MalformedCode(f"EPC tag URN urn:epc:tag:{scheme} must start with a filter value 0-7")
        form, scheme = "id", _TAG_SCHEMES[scheme]
    if form != "id":
        raise MalformedCode(f"urn:epc:{form}:{scheme} is not a pure-identity EPC URN (urn:epc:id:…)")
    if scheme == "sgtin":
        return _parse_sgtin_urn(raw, rest)
    if scheme == "sscc":
        return _parse_sscc_urn(raw, rest)
    raise MalformedCode(
        f"EPC scheme {scheme!r} does not identify a trade item or logistic unit; only sgtin and sscc do"
    )


def _urn_numbers(scheme: str, company: str, reference: str, length: int) -> str:
    """Check an EPC's company prefix and reference; return the key body: indicator/extension digit first."""
    if not (_DIGITS.fullmatch(company) and 6 <= len(company) <= 12):
        raise MalformedCode(f"{scheme} URN: company prefix must be 6-12 digits, got {company!r}")
    if not (_DIGITS.fullmatch(reference) and len(company) + len(reference) == length):
        raise MalformedCode(
            f"{scheme} URN: reference must be digits making {length} with the company prefix, got {reference!r}"
        )
    return reference[0] + company + reference[1:]


def _parse_sgtin_urn(raw: str, rest: str) -> ScannedCode:
    parts = rest.split(".", 2)
    if len(parts) != 3:
        raise MalformedCode("sgtin URN must be urn:epc:id:sgtin:<company prefix>.<item reference>.<serial>")
    company, reference, escaped = parts
    body = _urn_numbers("sgtin", company, reference, 13)
    gtin = body + str(check_digit(body))
    serial = _urn_unescape(escaped)
    return _sgtin_code(raw, gtin, serial, len(company))


def _parse_sscc_urn(raw: str, rest: str) -> ScannedCode:
    parts = rest.split(".")
    if len(parts) != 2:
        raise MalformedCode("sscc URN must be urn:epc:id:sscc:<company prefix>.<serial reference>")
    body = _urn_numbers("sscc", parts[0], parts[1], 17)
    sscc = body + str(check_digit(body))
    return _sscc_code(raw, sscc, len(parts[0]))


def _urn_escape(serial: str) -> str:
    return "".join(_URN_ESCAPES.get(char, char) for char in serial)


def _urn_unescape(escaped: str) -> str:
    # Lenient on input: any %XX is decoded (TDS only asks for the seven in _URN_ESCAPES), a stray % is refused.
    if "%" in _PERCENT.sub("", escaped):
        raise MalformedCode(f"sgtin URN serial {escaped!r} has a '%' that is not a %XX escape", field="serial")
    serial = _PERCENT.sub(lambda m: chr(int(m[1], 16)), escaped)
    _check_cset82(serial, "sgtin URN serial")
    return serial


# --------------------------------------------------------------------------------------------------------------------
# Keys and check digits
# --------------------------------------------------------------------------------------------------------------------


def _check_key(value: str, name: str, length: int) -> str:
    if not isinstance(value, str) or len(value) != length or not _DIGITS.fullmatch(value):
        raise MalformedCode(f"{name} must be {length} digits, got {value!r}", field=name.lower())
    expected = check_digit(value[:-1])
    if expected != int(value[-1]):
        raise MalformedCode(f"{name} {value} has a wrong check digit (expected {expected})", field=name.lower())
    return value


def _gtin14(gtin: str) -> str:
    if isinstance(gtin, str) and _DIGITS.fullmatch(gtin) and len(gtin) in _GTIN_LENGTHS:
        gtin = gtin.zfill(14)
    return _check_key(gtin, "GTIN", 14)


def _check_cset82(value: str, name: str) -> None:
    if not isinstance(value, str) or not _CSET82_20.fullmatch(value):
        raise MalformedCode(f"{name} must be 1-20 characters of GS1 character set 82, got {value!r}", field="serial")
