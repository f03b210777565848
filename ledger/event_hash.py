"""CBV 2.0 event hash ID (CBV section 8.9) for EPCIS 2.0 JSON / JSON-LD events.

Capture is idempotent on eventID, and an event that arrives without one is identified by this hash, so the same event
in any valid serialisation must give the same id and any meaningful change a different one. The pre-hash string is
canonical: key order and the order of list elements do not matter, times are UTC with milliseconds, EPC URNs and
Digital Links become one constrained Digital Link form, bare and URN vocabulary become CBV web URIs, CURIEs are
expanded with the document's ``@context``, and eventID, recordTime, errorDeclaration and comments are left out.

The published test vectors of the reference implementation (github.com/RalphTro/epcis-event-hash-generator) decide
where the prose is loose, because other implementations are checked against them:

- ``bizTransactionList``, ``sourceList``, ``destinationList`` and ``ilmd`` are not placed by the property order;
  they are sorted together with the user extensions after ``sensorElementList``;
- the ``type`` of a business transaction, source or destination comes before its value;
- a document may name fields to leave out of its events' hashes (``<prefix>:ignoreFields``).

Where the reference is lossy or inconsistent we keep the value: numbers are canonicalised exactly (never through a
binary float), JSON booleans are ``true``/``false`` as in XML, and half a millisecond rounds up.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from types import MappingProxyType
from typing import Any, Final
from urllib.parse import quote, unquote

from traceability.gs1 import with_check_digit

__all__ = [
    "HASH_VERSION",
    "STANDARD_PREFIXES",
    "HashContext",
    "canonical_gs1_uri",
    "document_event_hashes",
    "document_events",
    "event_hash_id",
    "prehash_string",
]

HASH_VERSION: Final = "CBV2.0"

_CBV: Final = "https://ref.gs1.org/cbv/"
_GS1_VOC: Final = "https://gs1.org/voc/"
_RDFS_COMMENT: Final = "{http://www.w3.org/2000/01/rdf-schema#}comment"

STANDARD_PREFIXES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "epcis": "https://ref.gs1.org/epcis/",
        "cbv": _CBV,
        "cbvmda": "urn:epcglobal:cbv:mda:",
        "gs1": _GS1_VOC,
        "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
        "owl": "http://www.w3.org/2002/07/owl#",
        "xsd": "http://www.w3.org/2001/XMLSchema#",
        "dcterms": "http://purl.org/dc/terms/",
    }
)
"""The prefixes the standard EPCIS 2.0 JSON-LD context declares; every document has them."""


# --------------------------------------------------------------------------------------------------------------------
# Context: CURIE prefixes and ignored fields
# --------------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HashContext:
    """The namespace prefixes (and fields to leave out) an event's document declares, needed to expand its CURIEs."""

    prefixes: Mapping[str, str] = field(default_factory=lambda: STANDARD_PREFIXES)
    ignore_fields: frozenset[str] = frozenset()
    """Top-level event fields left out of the hash, as expanded names (``{namespace}local``)."""

    @classmethod
    def from_jsonld(cls, context: object, *, ignore_fields: Iterable[str] = ()) -> HashContext:
        """Read prefixes from a JSON-LD ``@context`` value (a URL, an object, or a list of them)."""
        prefixes = dict(STANDARD_PREFIXES)
        _collect_prefixes(context, prefixes)
        frozen = MappingProxyType(prefixes)
        return cls(prefixes=frozen, ignore_fields=frozenset(_expand_key(name, frozen) for name in ignore_fields))

    @classmethod
    def for_document(cls, document: Mapping[str, Any]) -> HashContext:
        """The context of an EPCISDocument or EPCISQueryDocument: its ``@context`` and any ``ignoreFields`` list."""
        holders: list[Mapping[str, Any]] = [document]
        body = document.get("epcisBody")
        if isinstance(body, Mapping) and isinstance(body.get("queryResults"), Mapping):
            holders.append(body["queryResults"])
        ignored: list[str] = []
        for holder in holders:
            for key, value in holder.items():
                if key == "ignoreFields" or key.endswith(":ignoreFields"):
                    ignored.extend(str(name) for name in _as_list(value))
        return cls.from_jsonld(document.get("@context"), ignore_fields=ignored)

    def expand_key(self, key: str) -> str:
        """``prefix:local`` or a full IRI as ``{namespace}local``, the form XML gives the same field."""
        return _expand_key(key, self.prefixes)


_DEFAULT_CONTEXT: Final = HashContext()


def _collect_prefixes(context: object, into: dict[str, str]) -> None:
    # A string is a remote context; the only one EPCIS documents use is the standard one, whose prefixes we know.
    if isinstance(context, Mapping):
        for term, definition in context.items():
            if term.startswith("@") or ":" in term:
                continue
            if isinstance(definition, str) and ":" in definition:
                into[term] = definition
            elif isinstance(definition, Mapping):
                iri = definition.get("@id")
                if isinstance(iri, str) and (definition.get("@prefix") is True or iri.endswith(("/", "#", ":"))):
                    into[term] = iri
    elif isinstance(context, Sequence) and not isinstance(context, str):
        for item in context:
            _collect_prefixes(item, into)


def _expand_key(key: str, prefixes: Mapping[str, str]) -> str:
    prefix, colon, local = key.partition(":")
    if not colon:
        return key
    if local.startswith("//"):  # an absolute IRI used as a key
        cut = max(key.rfind("/"), key.rfind("#")) + 1
        return "{" + key[:cut] + "}" + key[cut:]
    namespace = prefixes.get(prefix)
    return key if namespace is None else "{" + namespace + "}" + local


def _expand_curie(text: str, prefixes: Mapping[str, str]) -> str:
    prefix, colon, local = text.partition(":")
    if colon and not local.startswith("//"):
        namespace = prefixes.get(prefix)
        if namespace is not None:
            return namespace + local
    return text


def _is_skipped(key: str, expanded: str) -> bool:
    """JSON-LD keywords and comments carry no event content."""
    return key.startswith("@") or key == "comment" or expanded == _RDFS_COMMENT


# --------------------------------------------------------------------------------------------------------------------
# Values: vocabulary, numbers, timestamps
# --------------------------------------------------------------------------------------------------------------------

_URN_VOCABULARY: Final = (
    ("urn:epcglobal:cbv:bizstep:", _CBV + "BizStep-"),
    ("urn:epcglobal:cbv:disp:", _CBV + "Disp-"),
    ("urn:epcglobal:cbv:btt:", _CBV + "BTT-"),
    ("urn:epcglobal:cbv:sdt:", _CBV + "SDT-"),
    ("urn:epcglobal:cbv:er:", _CBV + "ER-"),
)
_NUMBER: Final = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d{1,4})?")
_MAX_EXPONENT: Final = 64  # beyond this a "number" is an identifier that only looks numeric; keep its text


def _canonical_number(text: str) -> str | None:
    """``1.50`` -> ``1.5``, ``+007`` -> ``7``: XML has no types, so numeric-looking text is compared as a number."""
    if _NUMBER.fullmatch(text) is None:
        return None
    number = Decimal(text)
    if abs(number.adjusted()) > _MAX_EXPONENT:
        return None
    if number == 0:
        return "0"
    if number == number.to_integral_value():
        return str(int(number))
    return format(number.normalize(), "f")


def _canonical_value(raw: object, context: HashContext, vocabulary: str | None = None) -> str:
    """One leaf value in canonical form; ``vocabulary`` is the URI prefix of the field's bare CBV values."""
    if isinstance(raw, bool):
        return "true" if raw else "false"
    text = str(raw).strip()
    if not text:
        return ""
    if vocabulary is not None and ":" not in text:
        return vocabulary + text
    text = _expand_curie(text, context.prefixes)
    if text.startswith("urn:epcglobal:cbv:"):
        for urn, web in _URN_VOCABULARY:
            if text.startswith(urn):
                return web + text[len(urn) :]
    number = _canonical_number(text)
    if number is not None:
        return number
    return canonical_gs1_uri(text) or text


_TIMESTAMP: Final = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:[.,](\d+))?(?:([Zz])|([+-])(\d{2}):?(\d{2}))?"
)


def _canonical_time(raw: object) -> str:
    """UTC with exactly three fraction digits, half a millisecond rounding up; text that is no timestamp stays."""
    text = str(raw).strip()
    match = _TIMESTAMP.fullmatch(text)
    if match is None:
        return text
    year, month, day, hour, minute, second = (int(group) for group in match.groups()[:6])
    millis = int((Decimal("0." + (match[7] or "0")) * 1000).quantize(Decimal(1), ROUND_HALF_UP))
    offset = timedelta(0)
    if match[9]:
        offset = timedelta(hours=int(match[10]), minutes=int(match[11])) * (-1 if match[9] == "-" else 1)
    try:  # a time without offset is taken as UTC
        moment = datetime(year, month, day, hour, minute, second, tzinfo=timezone(offset))
        utc = (moment + timedelta(milliseconds=millis)).astimezone(UTC)
    except (ValueError, OverflowError):
        return text
    return (
        f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}T{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d}"
        f".{utc.microsecond // 1000:03d}Z"
    )


# --------------------------------------------------------------------------------------------------------------------
# GS1 keys: EPC URNs and Digital Links to one constrained canonical Digital Link
# --------------------------------------------------------------------------------------------------------------------

_DL_ROOT: Final = "https://id.gs1.org/"
_GS1_SAFE: Final = "-._';="  # kept literally in Digital Link values; everything else is percent-encoded


def _quote(value: str) -> str:
    """Percent-encode one decoded value in the one canonical way (GS1's literal characters kept)."""
    return quote(value, safe=_GS1_SAFE)


def _encode(value: str) -> str:
    """Percent-encode one value taken from a URN, decoding its escapes exactly once."""
    return _quote(unquote(value))


def _digits(value: str, length: int | None = None) -> bool:
    return value.isascii() and value.isdigit() and (length is None or len(value) == length)


def _fits(company: str, reference: str, length: int) -> bool:
    """Whether an EPC's company prefix and reference make a key body of ``length`` digits."""
    return 6 <= len(company) <= 12 and _digits(company + reference, length)


def _key(company: str, reference: str, length: int) -> str | None:
    return with_check_digit(company + reference) if _fits(company, reference, length) else None


def _indicator_key(company: str, reference: str, length: int) -> str | None:
    """GTIN and SSCC: the first digit of the EPC's reference (indicator, extension digit) leads the key."""
    if not reference or not _fits(company, reference, length):
        return None
    return with_check_digit(reference[0] + company + reference[1:])


def _grai(company: str, asset_type: str) -> str | None:
    return with_check_digit("0" + company + asset_type) if _fits(company, asset_type, 12) else None


def _gtin(company: str, item: str) -> str | None:
    return _indicator_key(company, item, 13)


# EPC schemes whose key is company prefix + reference + check digit: the AI and the digits before the check digit.
_PLAIN_KEYS: Final = {"gsrn": ("8018", 17), "gsrnp": ("8017", 17), "gsin": ("402", 16), "pgln": ("417", 12)}


def _urn_to_path(kind: str, scheme: str, body: str) -> str | None:
    """The Digital Link path (``01/…/21/…``) of an EPC id, class or pattern URN, or None if it has no GS1 key."""
    if kind == "idpat":
        if not body.endswith(".*"):
            return None
        body = body[:-2]
    head = body.split(".", 2)
    company = head[0]
    if kind == "id":
        if scheme == "sgtin" and len(head) == 3 and head[2]:
            gtin = _gtin(company, head[1])
            return gtin and f"01/{gtin}/21/{_encode(head[2])}"
        if scheme == "sscc" and len(head) == 2 and head[1]:
            key = _indicator_key(company, head[1], 17)
            return key and f"00/{key}"
        if scheme == "sgln" and len(head) == 3 and head[2]:
            gln = _key(company, head[1], 12)
            return gln and (f"414/{gln}" if head[2] == "0" else f"414/{gln}/254/{_encode(head[2])}")
        if scheme == "grai" and len(head) == 3:
            key = _grai(company, head[1])
            return key and f"8003/{key}{_encode(head[2])}"
        if scheme in ("giai", "ginc") and len(head) >= 2 and _digits(company) and 6 <= len(company) <= 12:
            reference = body[len(company) + 1 :]
            return reference and f"{'8004' if scheme == 'giai' else '401'}/{company}{_encode(reference)}"
        if scheme in _PLAIN_KEYS and len(head) == 2:
            ai, length = _PLAIN_KEYS[scheme]
            key = _key(company, head[1], length)
            return key and f"{ai}/{key}"
        if scheme in ("gdti", "sgcn") and len(head) == 3:
            key = _key(company, head[1], 12)
            if key is None or (scheme == "sgcn" and not _digits(head[2])):
                return None
            return f"253/{key}{_encode(head[2])}" if scheme == "gdti" else f"255/{key}{head[2]}"
        if scheme == "cpi" and "." in body[len(company) + 1 :]:
            reference, _, serial = body[len(company) + 1 :].rpartition(".")
            if not (_digits(company) and reference and _digits(serial)):
                return None
            return f"8010/{_encode(company + reference)}/8011/{serial}"
        if scheme == "itip":
            parts = body.split(".", 4)
            if len(parts) != 5 or not (_digits(parts[2], 2) and _digits(parts[3], 2) and parts[4]):
                return None
            gtin = _gtin(company, parts[1])
            return gtin and f"8006/{gtin}{parts[2]}{parts[3]}/21/{_encode(parts[4])}"
        if scheme == "upui" and len(head) == 3 and head[2]:
            gtin = _gtin(company, head[1])
            return gtin and f"01/{gtin}/235/{_encode(head[2])}"
        return None
    if kind == "class":
        if scheme == "lgtin" and len(head) == 3 and head[2]:
            gtin = _gtin(company, head[1])
            return gtin and f"01/{gtin}/10/{_encode(head[2])}"
        return None
    # idpat: the pattern of every serial of one key is that key
    if scheme in ("sgtin", "upui") and len(head) == 2:
        gtin = _gtin(company, head[1])
        return gtin and f"01/{gtin}"
    if scheme == "grai" and len(head) == 2:
        key = _grai(company, head[1])
        return key and f"8003/{key}"
    if scheme in ("gdti", "sgcn") and len(head) == 2:
        key = _key(company, head[1], 12)
        return key and f"{'253' if scheme == 'gdti' else '255'}/{key}"
    if scheme == "cpi" and len(head) == 2 and _digits(company) and head[1]:
        return f"8010/{_encode(company + head[1])}"
    if scheme == "itip":
        parts = body.split(".")
        if len(parts) != 4 or not (_digits(parts[2], 2) and _digits(parts[3], 2)):
            return None
        gtin = _gtin(company, parts[1])
        return gtin and f"8006/{gtin}{parts[2]}{parts[3]}"
    return None


# Scheme and namespace are case-insensitive (RFC 3986, RFC 8141); the rest is not.
_EPC_URN: Final = re.compile(r"(?i:urn:epc:)(id|class|idpat):([a-z]+):(.+)")
_DIGITAL_LINK: Final = re.compile(r"(?i:https?)://[^/?#]*(/[^?#]*)(?:\?[^#]*)?(?:#.*)?")
_SHORT_NAMES: Final = {
    "gtin": "01", "itip": "8006", "cpid": "8010", "gln": "414", "party": "417", "gsrnp": "8017", "gsrn": "8018",
    "gcn": "255", "sscc": "00", "gdti": "253", "ginc": "401", "gsin": "402", "grai": "8003", "giai": "8004",
    "cpv": "22", "lot": "10", "ser": "21", "glnx": "254", "tpx": "235",
}  # fmt: skip
_SET82: Final = r"[!\"%-?A-Z_a-z]"
_PRIMARY_KEYS: Final[Mapping[str, re.Pattern[str]]] = {
    ai: re.compile(pattern)
    for ai, pattern in {
        "00": r"\d{18}",
        "01": r"\d{14}",
        "8006": r"\d{18}",
        "414": r"\d{13}",
        "417": r"\d{13}",
        "8017": r"\d{18}",
        "8018": r"\d{18}",
        "402": r"\d{17}",
        "253": rf"\d{{13}}{_SET82}{{0,17}}",
        "255": r"\d{13}\d{0,12}",
        "8003": rf"\d{{14}}{_SET82}{{0,16}}",
        "8004": rf"\d{{4}}{_SET82}{{0,26}}",
        "401": rf"\d{{4}}{_SET82}{{0,26}}",
        "8010": r"\d{4}[#\-/0-9A-Z]{0,26}",
    }.items()
}
_QUALIFIERS: Final[Mapping[str, re.Pattern[str]]] = {
    ai: re.compile(pattern)
    for ai, pattern in {
        "21": rf"{_SET82}{{1,20}}",
        "10": rf"{_SET82}{{1,20}}",
        "254": rf"{_SET82}{{1,20}}",
        "235": rf"{_SET82}{{1,28}}",
        "8011": r"\d{1,12}",
    }.items()
}
# Qualifiers kept with each key, most fine-grained first; only the first present one is kept (CBV 8.9: the most
# fine-grained level of identification). The consumer product variant (22) is dropped; any other qualifier makes the
# URI something other than a plain key, and it is left as it is.
_KEPT_QUALIFIERS: Final[Mapping[str, tuple[str, ...]]] = {
    "01": ("21", "235", "10"),
    "8006": ("21", "10"),
    "414": ("254",),
    "8010": ("8011",),
}


def _digital_link_path(path: str) -> str | None:
    segments = path.split("/")[1:]
    if segments and segments[-1] == "":
        segments.pop()
    for start, segment in enumerate(segments):
        ai = _SHORT_NAMES.get(segment, segment)
        if ai in _PRIMARY_KEYS and start + 1 < len(segments) and _digits(segments[start + 1][:4], 4):
            break
    else:
        return None
    pairs = segments[start:]
    if len(pairs) % 2:
        return None
    ai = _SHORT_NAMES.get(pairs[0], pairs[0])
    key = unquote(pairs[1])
    if ai == "01" and _digits(key) and len(key) in (8, 12, 13):
        key = key.zfill(14)
    if _PRIMARY_KEYS[ai].fullmatch(key) is None:
        return None
    qualifiers: dict[str, str] = {}
    for index in range(2, len(pairs), 2):
        qualifier = _SHORT_NAMES.get(pairs[index], pairs[index])
        if qualifier in qualifiers or (qualifier != "22" and qualifier not in _KEPT_QUALIFIERS.get(ai, ())):
            return None
        qualifiers[qualifier] = unquote(pairs[index + 1])
    result = f"{ai}/{_quote(key)}"
    for qualifier in _KEPT_QUALIFIERS.get(ai, ()):
        if qualifier in qualifiers:
            value = qualifiers[qualifier]
            if _QUALIFIERS[qualifier].fullmatch(value) is None:
                return None
            return f"{result}/{qualifier}/{_quote(value)}"
    return result


MEMO_CHARS: Final = 512
"""Identifiers up to this length are remembered (:data:`MEMO_SIZE` of them): a capture names each EPC several times
(hash, matching key, parties), and a longer text is no identifier worth keeping."""
MEMO_SIZE: Final = 1 << 16


def canonical_gs1_uri(text: str) -> str | None:
    """The constrained canonical Digital Link of an EPC URN or any Digital Link, or None if it holds no GS1 key.

    Canonical means ``https://id.gs1.org``, numeric AIs, a 14-digit GTIN, no query string, only the most
    fine-grained key qualifier, and one percent-encoding; URN and Digital Link forms of one key then hash alike.
    A pure function of the text, so remembered for short texts (a bounded cache: memory stays flat).
    """
    if len(text) <= MEMO_CHARS:
        return _remembered_uri(text)
    return _canonical_gs1_uri(text)


def _canonical_gs1_uri(text: str) -> str | None:
    urn = _EPC_URN.fullmatch(text)
    if urn is not None:
        path = _urn_to_path(urn[1], urn[2], urn[3])
    else:
        link = _DIGITAL_LINK.fullmatch(text)
        path = None if link is None else _digital_link_path(link[1])
    return None if path is None else _DL_ROOT + path


_remembered_uri = lru_cache(maxsize=MEMO_SIZE)(_canonical_gs1_uri)


# --------------------------------------------------------------------------------------------------------------------
# Structure: the canonical property order
# --------------------------------------------------------------------------------------------------------------------


def _as_list(value: object) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]


def _extension(name: str, value: object, context: HashContext) -> list[str]:
    """A user extension (or any field the order does not name): its expanded name, value or sorted children."""
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return [part for item in value for part in _extension(name, item, context)]
    if isinstance(value, Mapping):
        children: list[str] = []
        for key, child in value.items():
            expanded = context.expand_key(key)
            if not _is_skipped(key, expanded):
                children.extend(_extension(expanded, child, context))
        return [name + "".join(sorted(children))]
    text = _canonical_value(value, context)
    return [f"{name}={text}" if text else name]


class _Shape:
    """How one standard field is written; ``emit`` returns one string per occurrence, for the caller to sort."""

    def emit(self, name: str, value: object, context: HashContext) -> list[str]:
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class _Text(_Shape):
    vocabulary: str | None = None
    time: bool = False

    def emit(self, name: str, value: object, context: HashContext) -> list[str]:
        parts: list[str] = []
        for item in _as_list(value):
            if item is None:
                continue
            if isinstance(item, Mapping | list | tuple):
                parts.extend(_extension(name, item, context))
                continue
            text = _canonical_time(item) if self.time else _canonical_value(item, context, self.vocabulary)
            if text:
                parts.append(f"{name}={text}")
        return parts


@dataclass(frozen=True, slots=True)
class _Items(_Shape):
    """A standard list: written once under its own name, its elements (under ``item``) sorted."""

    item: str
    shape: _Shape

    def emit(self, name: str, value: object, context: HashContext) -> list[str]:
        parts = [part for element in _as_list(value) for part in self.shape.emit(self.item, element, context)]
        return [name + "".join(sorted(parts))] if parts else []


@dataclass(frozen=True, slots=True)
class _Record(_Shape):
    """A standard object: its fields in order, then its extensions sorted (CBV 8.9: at the end of their parent)."""

    fields: tuple[tuple[str, _Shape], ...]

    def emit(self, name: str, value: object, context: HashContext) -> list[str]:
        if isinstance(value, list | tuple):
            return [part for item in value for part in self.emit(name, item, context)]
        if not isinstance(value, Mapping):
            return _extension(name, value, context)
        parts: list[str] = []
        for field_name, shape in self.fields:
            if field_name in value:
                parts.extend(sorted(shape.emit(field_name, value[field_name], context)))
        known = {field_name for field_name, _ in self.fields}
        extensions: list[str] = []
        for key, child in value.items():
            if key in known:
                continue
            expanded = context.expand_key(key)
            if not _is_skipped(key, expanded):
                extensions.extend(_extension(expanded, child, context))
        content = "".join(parts) + "".join(sorted(extensions))
        return [name + content] if content else []


_TEXT: Final = _Text()
_TIME: Final = _Text(time=True)
_DISPOSITION: Final = _Text(vocabulary=_CBV + "Disp-")
_EPCS: Final = _Items("epc", _TEXT)
_QUANTITIES: Final = _Items("quantityElement", _Record((("epcClass", _TEXT), ("quantity", _TEXT), ("uom", _TEXT))))
_LOCATION: Final = _Record((("id", _TEXT),))
_SENSOR_METADATA: Final = _Record(
    (
        ("time", _TIME),
        ("startTime", _TIME),
        ("endTime", _TIME),
        ("deviceID", _TEXT),
        ("deviceMetadata", _TEXT),
        ("rawData", _TEXT),
        ("dataProcessingMethod", _TEXT),
        ("bizRules", _TEXT),
    )
)
_SENSOR_REPORT: Final = _Record(
    (
        ("type", _Text(vocabulary=_GS1_VOC)),
        ("exception", _Text(vocabulary=_GS1_VOC)),
        ("deviceID", _TEXT),
        ("deviceMetadata", _TEXT),
        ("rawData", _TEXT),
        ("dataProcessingMethod", _TEXT),
        ("time", _TIME),
        ("microorganism", _TEXT),
        ("chemicalSubstance", _TEXT),
        ("value", _TEXT),
        ("component", _Text(vocabulary=_CBV + "Comp-")),
        ("stringValue", _TEXT),
        ("booleanValue", _TEXT),
        ("hexBinaryValue", _TEXT),
        ("uriValue", _TEXT),
        ("minValue", _TEXT),
        ("maxValue", _TEXT),
        ("meanValue", _TEXT),
        ("sDev", _TEXT),
        ("percRank", _TEXT),
        ("percValue", _TEXT),
        ("uom", _TEXT),
        ("coordinateReferenceSystem", _TEXT),
    )
)

_SENSOR_ELEMENT: Final = _Record((("sensorMetadata", _SENSOR_METADATA), ("sensorReport", _SENSOR_REPORT)))

_ORDERED: Final[tuple[tuple[str, _Shape], ...]] = (
    ("eventTime", _TIME),
    ("eventTimeZoneOffset", _TEXT),
    ("certificationInfo", _TEXT),
    ("parentID", _TEXT),
    ("epcList", _EPCS),
    ("inputEPCList", _EPCS),
    ("childEPCs", _EPCS),
    ("quantityList", _QUANTITIES),
    ("childQuantityList", _QUANTITIES),
    ("inputQuantityList", _QUANTITIES),
    ("outputEPCList", _EPCS),
    ("outputQuantityList", _QUANTITIES),
    ("action", _TEXT),
    ("transformationID", _TEXT),
    ("bizStep", _Text(vocabulary=_CBV + "BizStep-")),
    ("disposition", _DISPOSITION),
    ("persistentDisposition", _Record((("set", _DISPOSITION), ("unset", _DISPOSITION)))),
    ("readPoint", _LOCATION),
    ("bizLocation", _LOCATION),
    ("sensorElementList", _Items("sensorElement", _SENSOR_ELEMENT)),
)
# Standard fields written among the sorted extensions, as the published vectors have them.
_SORTED_WITH_EXTENSIONS: Final[Mapping[str, _Shape]] = {
    "bizTransactionList": _Items("", _Record((("type", _Text(vocabulary=_CBV + "BTT-")), ("bizTransaction", _TEXT)))),
    "sourceList": _Items("", _Record((("type", _Text(vocabulary=_CBV + "SDT-")), ("source", _TEXT)))),
    "destinationList": _Items("", _Record((("type", _Text(vocabulary=_CBV + "SDT-")), ("destination", _TEXT)))),
    "ilmd": _Record(()),
}
# Not part of what happened: the type is written first, the id and record time are the repository's, and an error
# declaration must not change the id of the event it declares wrong.
_EXCLUDED: Final = frozenset({"type", "eventID", "recordTime", "errorDeclaration"})
_NOT_EXTENSIONS: Final = _EXCLUDED | {name for name, _ in _ORDERED}


# --------------------------------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------------------------------


def prehash_string(event: Mapping[str, Any], context: HashContext | None = None) -> str:
    """The canonical CBV 2.0 pre-hash string of one EPCIS 2.0 JSON event; ``context`` expands its CURIEs."""
    context = context or _DEFAULT_CONTEXT
    event_type = event.get("type")
    if not isinstance(event_type, str) or not event_type:
        raise ValueError("an EPCIS event needs a 'type' (ObjectEvent, AggregationEvent, ...)")
    parts = [f"eventType={event_type}"]
    for name, shape in _ORDERED:
        if name in event:
            parts.extend(sorted(shape.emit(name, event[name], context)))
    rest: list[str] = []
    for key, value in event.items():
        if key in _NOT_EXTENSIONS:
            continue
        standard = _SORTED_WITH_EXTENSIONS.get(key)
        if standard is not None:
            rest.extend(standard.emit(key, value, context))
            continue
        expanded = context.expand_key(key)
        if not _is_skipped(key, expanded) and expanded not in context.ignore_fields:
            rest.extend(_extension(expanded, value, context))
    parts.extend(sorted(rest))
    return "".join(parts)


def event_hash_id(event: Mapping[str, Any], context: HashContext | None = None) -> str:
    """The CBV 2.0 event hash ID, ``ni:///sha-256;<hex>?ver=CBV2.0`` (RFC 6920), of one EPCIS 2.0 JSON event."""
    digest = hashlib.sha256(prehash_string(event, context).encode("utf-8")).hexdigest()
    return f"ni:///sha-256;{digest}?ver={HASH_VERSION}"


def document_events(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The events of an EPCISDocument (``epcisBody.eventList``) or EPCISQueryDocument (its ``resultsBody``)."""
    body = document.get("epcisBody")
    if not isinstance(body, Mapping):
        return []
    if "eventList" in body:
        events = body["eventList"]
    elif "event" in body:
        events = [body["event"]]
    else:
        results = body.get("queryResults")
        results_body = results.get("resultsBody") if isinstance(results, Mapping) else None
        events = results_body.get("eventList", []) if isinstance(results_body, Mapping) else []
    return [event for event in _as_list(events) if isinstance(event, Mapping)]


def document_event_hashes(document: Mapping[str, Any]) -> list[str]:
    """The event hash IDs of a document's events, in document order, with the prefixes its ``@context`` declares."""
    context = HashContext.for_document(document)
    return [event_hash_id(event, context) for event in document_events(document)]
