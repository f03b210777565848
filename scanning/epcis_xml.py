"""The EPCIS 2.0 XML binding: XML documents in, as the same JSON-LD events the JSON path stores; events out as XML.

:func:`parse_document` reads an ``EPCISDocument`` or ``EPCISQueryDocument`` (EPCIS 2.0 XML) with a parser that
loads no DTD, resolves no entity and reaches no network, checks its structure (the root, the body, each event's
standard elements, which are in no namespace; every namespaced element is an extension), and converts it to the
JSON-LD document :func:`scanning.epcis.capture_document` takes: extension elements become ``prefix:name`` fields
with their namespaces in the document's ``@context``, the 1.x ``extension`` / ``baseExtension`` wrappers are
flattened, and typed values (quantities, sensor values, ``xsi:type``) become JSON numbers and booleans. So an XML
event's CBV event hash is its JSON-LD twin's, and the one capture path validates and stores both.

The header's master data (``EPCISHeader/extension/EPCISMasterData/VocabularyList``) becomes the JSON-LD header's
``epcisHeader.epcisMasterData.vocabularyList``, and an ``EPCISMasterDataDocument`` (master data alone) is read as an
EPCISDocument with that header and no events, so both capture their vocabulary elements on the one path.

GS1's XSD is not shipped (its licence is a disclaimer, not a grant to redistribute). Where a deployment has it
(``Settings.epcis_xsd_dir``), :func:`parse_document` validates each document against the schema of its root
(``EPCglobal-epcis-2_0.xsd``, ``…-query-2_0.xsd``, ``…-masterdata-2_0.xsd``) before converting it, and refuses one
the XSD refuses with :class:`scanning.epcis_errors.XmlSchemaInvalid` (400, the XSD's message and line).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from lxml import etree

from ledger.event_hash import STANDARD_PREFIXES
from ledger.store import EPCIS_CONTEXT
from scanning.epcis_errors import XmlSchemaInvalid
from scanning.errors import InvalidDocument
from traceability.errors import Problem
from traceability.privacy import MEMBER_NAMESPACE

__all__ = [
    "EPCIS_NS",
    "MASTERDATA_NS",
    "QUERY_NS",
    "XSD_FILES",
    "capture_job_xml",
    "load_xsd",
    "parse_document",
    "parse_xml",
    "query_document_xml",
    "validate_xsd",
    "vocabulary_document_xml",
    "xsd_problems",
]

EPCIS_NS = "urn:epcglobal:epcis:xsd:2"
QUERY_NS = "urn:epcglobal:epcis-query:xsd:2"
MASTERDATA_NS = "urn:epcglobal:epcis-masterdata:xsd:2"
XSD_FILES: Mapping[tuple[str, str], str] = {
    (EPCIS_NS, "EPCISDocument"): "EPCglobal-epcis-2_0.xsd",
    (QUERY_NS, "EPCISQueryDocument"): "EPCglobal-epcis-query-2_0.xsd",
    (MASTERDATA_NS, "EPCISMasterDataDocument"): "EPCglobal-epcis-masterdata-2_0.xsd",
}
"""The XSD file (in GS1's XSD folder) that validates each document root the capture takes."""
_XSI = "http://www.w3.org/2001/XMLSchema-instance"
_XSI_TYPE = f"{{{_XSI}}}type"
_EVENT_TYPES = ("ObjectEvent", "AggregationEvent", "TransactionEvent", "TransformationEvent", "AssociationEvent")
_WRAPPERS = frozenset({"extension", "baseExtension"})
_EPC_LISTS = frozenset({"epcList", "childEPCs", "inputEPCList", "outputEPCList"})
_QUANTITY_LISTS = frozenset({"quantityList", "childQuantityList", "inputQuantityList", "outputQuantityList"})
_TEXT_FIELDS = frozenset({"eventTime", "recordTime", "eventTimeZoneOffset", "eventID", "action", "bizStep",
                          "disposition", "parentID", "transformationID", "certificationInfo"})  # fmt: skip
_TYPED_LISTS = {"bizTransactionList": "bizTransaction", "sourceList": "source", "destinationList": "destination"}
_NUMERIC_ATTRIBUTES = frozenset({"value", "minValue", "maxValue", "meanValue", "sDev", "percRank", "percValue"})
_SCHEME = re.compile(r"\s*([A-Za-z][A-Za-z0-9+.-]*):")
_RESERVED = frozenset(STANDARD_PREFIXES) | {"http", "https", "urn"}
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
                          remove_comments=True, remove_pis=True)  # fmt: skip
_XSD_ERRORS = 20


class _Reader:
    """One document's conversion: the namespace prefixes its extensions use, and the problems found."""

    def __init__(self, root: Any) -> None:
        self.prefixes: dict[str, str] = {}
        self.problems: list[Problem] = []
        # An XML value such as ``example:x`` is a URI whose scheme is ``example``: XML prefixes never apply to
        # values. JSON-LD would expand it with a prefix of that name, so no field prefix may take such a name.
        self.schemes = {m.group(1) for text in _values(root) if (m := _SCHEME.match(text))}

    # --- names and values ------------------------------------------------------------------------------------------

    def key(self, qname: str, element: Any) -> str:
        """``prefix:local`` for an extension element or attribute, its namespace noted for the ``@context``."""
        q = etree.QName(qname)
        namespace = q.namespace or ""
        if not namespace:
            return str(q.localname)  # an element in no namespace inside an extension keeps its bare name
        known = next((p for p, u in self.prefixes.items() if u == namespace), None)
        if known is not None:
            return f"{known}:{q.localname}"
        prefix = next((p for p, u in (element.nsmap or {}).items() if u == namespace and p), None)
        n = 0
        while prefix is None or prefix in self.prefixes or prefix in self.schemes or prefix in _RESERVED:
            n += 1
            prefix = f"ns{n}"
        self.prefixes[prefix] = namespace
        return f"{prefix}:{q.localname}"

    @staticmethod
    def text(element: Any) -> str:
        return (element.text or "").strip()

    def typed(self, element: Any) -> Any:
        """An extension element's value: its children as an object, else its text (typed by ``xsi:type``)."""
        children = [c for c in element if isinstance(c.tag, str)]
        attributes = {k: v for k, v in element.attrib.items() if not k.startswith(f"{{{_XSI}}}")}
        if attributes and not children and not self.text(element):
            return {self.key(k, element): v for k, v in attributes.items()}  # an element holding only attributes
        if not children:
            text = self.text(element)
            kind = element.get(_XSI_TYPE, "").rpartition(":")[2]
            if kind == "boolean" and text in ("true", "false", "1", "0"):
                return text in ("true", "1")
            if kind in ("integer", "int", "long", "short", "decimal", "double", "float"):
                number = _number(text)
                return text if number is None else number
            return text
        out: dict[str, Any] = {self.key(k, element): v for k, v in attributes.items()}
        for child in children:
            self.put(out, self.key(child.tag, child), self.typed(child))
        return out

    @staticmethod
    def put(out: dict[str, Any], key: str, value: Any) -> None:
        """A field, or one more element of it when the name repeats (XML's way of writing an array)."""
        if key not in out:
            out[key] = value
        elif isinstance(out[key], list):
            out[key].append(value)
        else:
            out[key] = [out[key], value]

    def extension_attributes(self, element: Any, out: dict[str, Any], standard: Iterable[str] = ()) -> None:
        known = set(standard)
        for name, value in element.attrib.items():
            if name == _XSI_TYPE or name.startswith(f"{{{_XSI}}}"):
                continue
            q = etree.QName(name)
            if q.namespace is None:
                if q.localname not in known:
                    self.problems.append(Problem(_path(element), f"attribute {q.localname} is not EPCIS 2.0"))
                continue
            out[self.key(name, element)] = value

    # --- structure ---------------------------------------------------------------------------------------------------

    def children(self, element: Any) -> list[Any]:
        """Element children, the 1.x ``extension`` / ``baseExtension`` wrappers opened in place."""
        out: list[Any] = []
        for child in element:
            if not isinstance(child.tag, str):
                continue
            if etree.QName(child).namespace is None and etree.QName(child).localname in _WRAPPERS:
                out.extend(self.children(child))
            else:
                out.append(child)
        return out

    def record(self, element: Any, fields: Mapping[str, Any]) -> dict[str, Any]:
        """A standard object whose standard children are text (or converted by ``fields``) plus extensions."""
        out: dict[str, Any] = {}
        for child in self.children(element):
            q = etree.QName(child)
            if q.namespace is not None:
                self.put(out, self.key(child.tag, child), self.typed(child))
            elif q.localname in fields:
                convert = fields[q.localname]
                value = convert(self, child) if convert is not None else _bare(q.localname, self.text(child))
                if value is not None:  # an empty (nil) quantity is no quantity
                    self.put(out, q.localname, value)
            else:
                self.problems.append(Problem(_path(child), f"{q.localname} is not an EPCIS 2.0 element here"))
        self.extension_attributes(element, out)
        return out

    def ignore_fields(self, element: Any) -> tuple[str, list[str]]:
        """A document's list of fields its events' hashes leave out, each named as a field of the document."""
        return self.key(element.tag, element), [self.key(c.tag, c) for c in element if isinstance(c.tag, str)]

    def vocabularies(self, vocabulary_list: Any) -> list[dict[str, Any]]:
        """A ``VocabularyList`` as EPCIS JSON-LD's ``vocabularyList`` (type, elements, attributes, children)."""
        out: list[dict[str, Any]] = []
        for vocabulary in self.children(vocabulary_list):
            if etree.QName(vocabulary).localname != "Vocabulary" or etree.QName(vocabulary).namespace is not None:
                self.problems.append(Problem(_path(vocabulary), "only Vocabulary elements belong in a VocabularyList"))
                continue
            entry: dict[str, Any] = {"type": vocabulary.get("type", "")}
            holder = _child(vocabulary, "VocabularyElementList")
            elements = [] if holder is None else [self.vocabulary_element(e) for e in self.children(holder)]
            if elements:
                entry["vocabularyElementList"] = elements
            out.append(entry)
        return out

    def vocabulary_element(self, element: Any) -> dict[str, Any]:
        out: dict[str, Any] = {"id": element.get("id", "")}
        attributes: list[dict[str, Any]] = []
        for child in self.children(element):
            q = etree.QName(child)
            if q.namespace is not None:
                self.put(out, self.key(child.tag, child), self.typed(child))
            elif q.localname == "attribute":
                attributes.append({"id": child.get("id", ""), "attribute": self.attribute_value(child)})
            elif q.localname == "children":
                out["children"] = [self.text(i) for i in self.children(child) if etree.QName(i).localname == "id"]
            else:
                self.problems.append(Problem(_path(child), f"{q.localname} is not an EPCIS 2.0 element of a "
                                             "VocabularyElement"))  # fmt: skip
        if attributes:
            out["attributes"] = attributes
        return out

    def attribute_value(self, element: Any) -> Any:
        """An attribute's value: its child elements as an object (``prefix:name`` keys), else its (typed) text."""
        children = [c for c in element if isinstance(c.tag, str)]
        if not children:
            return self.typed(element) if self.text(element) else ""
        out: dict[str, Any] = {}
        for name, value in element.attrib.items():
            if name != "id" and not name.startswith(f"{{{_XSI}}}"):
                out[self.key(name, element)] = value
        for child in children:
            self.put(out, self.key(child.tag, child), self.typed(child))
        return out

    def event(self, element: Any) -> dict[str, Any]:
        event: dict[str, Any] = {"type": etree.QName(element).localname}
        for child in self.children(element):
            q = etree.QName(child)
            name = q.localname
            if q.namespace is not None:
                self.put(event, self.key(child.tag, child), self.typed(child))
            elif name in _TEXT_FIELDS:
                self.put(event, name, _bare(name, self.text(child)))
            elif name in _EPC_LISTS:
                event[name] = [self.text(e) for e in self.children(child) if etree.QName(e).localname == "epc"]
            elif name in _QUANTITY_LISTS:
                event[name] = [self.record(q_el, _QUANTITY_FIELDS) for q_el in self.children(child)]
            elif name in _TYPED_LISTS:
                event[name] = [self.typed_entry(e, _TYPED_LISTS[name]) for e in self.children(child)]
            elif name in ("readPoint", "bizLocation"):
                event[name] = self.record(child, {"id": None})
            elif name == "persistentDisposition":
                pd: dict[str, list[str]] = {}
                for part in self.children(child):
                    pd.setdefault(etree.QName(part).localname, []).append(_bare("disposition", self.text(part)))
                event[name] = pd
            elif name == "sensorElementList":
                event[name] = [self.sensor_element(e) for e in self.children(child)]
            elif name == "ilmd":
                event[name] = self.typed(child) if len(child) else {}
                if not isinstance(event[name], dict):
                    event[name] = {}
            elif name == "errorDeclaration":
                event[name] = self.record(child, _DECLARATION_FIELDS)
            else:
                self.problems.append(Problem(_path(child), f"{name} is not an EPCIS 2.0 element of {event['type']}"))
        self.extension_attributes(element, event)
        return event

    def typed_entry(self, element: Any, field: str) -> dict[str, Any]:
        entry: dict[str, Any] = {}
        if element.get("type") is not None:
            entry["type"] = _bare(field, str(element.get("type")))
        entry[field] = self.text(element)
        self.extension_attributes(element, entry, ("type",))
        return entry

    def sensor_element(self, element: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for child in self.children(element):
            q = etree.QName(child)
            if q.namespace is not None:
                self.put(out, self.key(child.tag, child), self.typed(child))
            elif q.localname == "sensorMetadata":
                out["sensorMetadata"] = self.attributes(child)
            elif q.localname == "sensorReport":
                out.setdefault("sensorReport", []).append(self.attributes(child))
            else:
                self.problems.append(Problem(_path(child), f"{q.localname} is not an EPCIS 2.0 sensor element"))
        return out

    def attributes(self, element: Any) -> dict[str, Any]:
        """A sensorMetadata or sensorReport: its attributes, numbers and booleans as JSON has them."""
        out: dict[str, Any] = {}
        for name, value in element.attrib.items():
            q = etree.QName(name)
            if q.namespace is not None:
                if q.namespace != _XSI:
                    out[self.key(name, element)] = value
                continue
            if q.localname in _NUMERIC_ATTRIBUTES:
                number = _number(value)
                out[q.localname] = value if number is None else number
            elif q.localname == "booleanValue" and value in ("true", "false", "1", "0"):
                out[q.localname] = value in ("true", "1")
            else:
                out[q.localname] = value
        for child in self.children(element):
            self.put(out, self.key(child.tag, child), self.typed(child))
        return out


# The XML binding writes CBV values as URNs, the JSON-LD binding (and its schema) as bare names; the event hash
# reads both alike. Events are stored as JSON-LD has them, and written back to XML as URNs.
_CBV_URNS = {
    "bizStep": "urn:epcglobal:cbv:bizstep:", "disposition": "urn:epcglobal:cbv:disp:",
    "bizTransaction": "urn:epcglobal:cbv:btt:", "source": "urn:epcglobal:cbv:sdt:",
    "destination": "urn:epcglobal:cbv:sdt:", "reason": "urn:epcglobal:cbv:er:",
}  # fmt: skip


def _bare(field: str, value: str) -> str:
    urn = _CBV_URNS.get(field)
    return value[len(urn) :] if urn is not None and value.startswith(urn) else value


def _urn(field: str, value: object) -> str:
    text = str(value)
    urn = _CBV_URNS.get(field)
    return urn + text if urn is not None and text and ":" not in text else text


def _values(root: Any) -> Iterator[str]:
    for element in root.iter():
        if isinstance(element.tag, str):
            if element.text:
                yield element.text
            yield from element.attrib.values()


def _quantity(reader: _Reader, element: Any) -> Any:
    text = reader.text(element)
    if not text:
        return None
    number = _number(text)
    return text if number is None else number


def _corrective(reader: _Reader, element: Any) -> list[str]:
    return [reader.text(e) for e in reader.children(element)]


_QUANTITY_FIELDS: Mapping[str, Any] = {"epcClass": None, "quantity": _quantity, "uom": None}
_DECLARATION_FIELDS: Mapping[str, Any] = {"declarationTime": None, "reason": None, "correctiveEventIDs": _corrective}


def _number(text: str) -> int | float | None:
    try:
        number = float(text)
    except ValueError:
        return None
    if number != number or number in (float("inf"), float("-inf")):
        return None
    if number.is_integer() and "." not in text and "e" not in text.lower():
        return int(text)
    return number


def _path(element: Any) -> str:
    try:
        return str(element.getroottree().getpath(element))
    except (AttributeError, ValueError):
        return ""


def _invalid(message: str, path: str = "", reason: str = "not EPCIS 2.0 XML") -> InvalidDocument:
    return InvalidDocument(message, [Problem(path, reason)])


@lru_cache(maxsize=8)
def load_xsd(path: Path) -> Any:
    """GS1's XSD at ``path``, compiled once per process; its imports are read from the same folder, never the
    network."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    return etree.XMLSchema(etree.parse(str(path), parser))


def validate_xsd(root: Any, xsd_dir: Path, *, lang: str = "en") -> None:
    """Validate a parsed document against the XSD of its root; XmlSchemaInvalid (400) with the XSD's messages and
    lines when it refuses it. A root no XSD here describes is left to :func:`parse_document` to refuse by name."""
    q = etree.QName(root)
    name = XSD_FILES.get((q.namespace or "", q.localname))
    if name is None:
        return
    problems = xsd_problems(root, xsd_dir)
    if problems:
        raise XmlSchemaInvalid(lang, schema=name, problems=problems[:_XSD_ERRORS])


def xsd_problems(root: Any, xsd_dir: Path) -> list[tuple[int, str]]:
    """Every (line, message) GS1's XSD of the document's root finds in it (none for a root no XSD here describes).
    InvalidDocument for a document holding entity references, which libxml2 cannot validate unexpanded."""
    q = etree.QName(root)
    name = XSD_FILES.get((q.namespace or "", q.localname))
    if name is None:
        return []
    schema = load_xsd(Path(xsd_dir) / name)
    try:
        if schema.validate(root.getroottree()):
            return []
    except etree.XMLSchemaValidateError:  # libxml2 gives up on an entity reference left unexpanded (never expanded)
        raise _invalid("the document holds entity references, which this server never expands: it cannot be "
                       "validated against GS1's XSD", "/", "entity reference") from None  # fmt: skip
    return [(int(e.line), str(e.message)) for e in schema.error_log] or [(0, "invalid")]


def parse_xml(raw: bytes) -> Any:
    """The root element of an XML text, read with the parser that loads no DTD, resolves no entity and reaches no
    network; InvalidDocument when it is not well-formed."""
    try:
        root = etree.fromstring(raw, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise _invalid(f"request body is not well-formed XML: {exc}") from None
    if root is None:
        raise _invalid("request body holds no XML element")
    return root


def parse_document(raw: bytes, *, xsd_dir: Path | None = None, lang: str = "en") -> dict[str, Any]:
    """An EPCIS 2.0 XML document as the JSON-LD document the capture takes; InvalidDocument naming what is wrong,
    or (with ``xsd_dir``) XmlSchemaInvalid naming the line GS1's XSD refuses."""
    root = parse_xml(raw)
    if xsd_dir is not None:
        validate_xsd(root, xsd_dir, lang=lang)
    q = etree.QName(root)
    master_only = q.localname == "EPCISMasterDataDocument" and q.namespace == MASTERDATA_NS
    if not master_only and (q.localname not in ("EPCISDocument", "EPCISQueryDocument")
                            or q.namespace not in (EPCIS_NS, QUERY_NS)):  # fmt: skip
        what = "a capture job" if q.localname == "EPCISCaptureJob" else f"{{{q.namespace}}}{q.localname}"
        raise _invalid(f"not an EPCIS 2.0 XML event document: the root is {what}, expected {{{EPCIS_NS}}}"
                       "EPCISDocument, an EPCISQueryDocument or an EPCISMasterDataDocument", "/",
                       "not EPCIS")  # fmt: skip
    reader = _Reader(root)
    event_list = [] if master_only else _event_list(root, query=q.localname == "EPCISQueryDocument")
    events = [reader.event(e) for e in event_list]
    vocabularies = [reader.vocabularies(v) for v in _vocabulary_lists(root, master_only=master_only)]
    ignored = [reader.ignore_fields(c) for c in root if isinstance(c.tag, str) and _is_ignore_fields(c)]
    if reader.problems:
        raise InvalidDocument(f"{len(reader.problems)} element(s) are not EPCIS 2.0 XML; nothing was stored",
                              reader.problems[:50])  # fmt: skip
    context: list[Any] = [EPCIS_CONTEXT]
    if reader.prefixes:
        context.append(dict(sorted(reader.prefixes.items())))
    document: dict[str, Any] = {"@context": context, "type": "EPCISDocument", "schemaVersion": "2.0"}
    if root.get("creationDate"):
        document["creationDate"] = root.get("creationDate")
    if vocabularies:
        vocabulary_list = [v for found in vocabularies for v in found]
        document["epcisHeader"] = {"epcisMasterData": {"vocabularyList": vocabulary_list}}
    for key, names in ignored:
        document[key] = names
    document["epcisBody"] = {"eventList": events}
    return document


def _vocabulary_lists(root: Any, *, master_only: bool) -> list[Any]:
    """The ``VocabularyList`` elements of a document: in its header (``EPCISHeader/extension/EPCISMasterData``, the
    ``extension`` optional as writers differ) and, for an EPCISMasterDataDocument, in its body."""
    found: list[Any] = []
    header = _child(root, "EPCISHeader")
    if header is not None:
        holders = [header, *(c for c in header if isinstance(c.tag, str) and etree.QName(c).localname == "extension")]
        for holder in holders:
            master = _child(holder, "EPCISMasterData")
            vocabulary_list = None if master is None else _child(master, "VocabularyList")
            if vocabulary_list is not None:
                found.append(vocabulary_list)
    if master_only:
        body = _child(root, "EPCISBody")
        vocabulary_list = None if body is None else _child(body, "VocabularyList")
        if vocabulary_list is not None:
            found.append(vocabulary_list)
    return found


def _is_ignore_fields(element: Any) -> bool:
    q = etree.QName(element)
    return q.namespace is not None and q.localname == "ignoreFields"


def _child(element: Any, name: str) -> Any:
    return next((c for c in element if isinstance(c.tag, str) and etree.QName(c).localname == name), None)


def _event_list(root: Any, *, query: bool) -> list[Any]:
    body = _child(root, "EPCISBody")
    if body is None and not query:
        raise _invalid("the document has no EPCISBody", "/", "missing")
    holder = body
    if query:  # EPCISBody/QueryResults/resultsBody; some writers put QueryResults' children under the root
        results = root if body is None else _child(body, "QueryResults")
        holder = None if results is None else _child(results, "resultsBody")
        if holder is None:
            raise _invalid("the query document has no QueryResults/resultsBody", "/EPCISBody", "missing")
    lists = [c for c in holder if isinstance(c.tag, str) and etree.QName(c).localname == "EventList"]
    if not lists:
        return []
    out: list[Any] = []
    for child in lists[0]:
        if not isinstance(child.tag, str):
            continue
        name = etree.QName(child).localname
        if name == "extension":
            out.extend(c for c in child if isinstance(c.tag, str) and etree.QName(c).localname in _EVENT_TYPES)
        elif name in _EVENT_TYPES and etree.QName(child).namespace is None:
            out.append(child)
        else:
            raise _invalid(f"{name} is not an EPCIS 2.0 event type", _path(child), "not an event")
    return out


# --- out: events as XML ----------------------------------------------------------------------------------------------

_BASE_ORDER = ("eventTime", "recordTime", "eventTimeZoneOffset", "eventID", "errorDeclaration", "certificationInfo")
_ORDER: Mapping[str, tuple[str, ...]] = {
    "ObjectEvent": ("epcList", "action", "bizStep", "disposition", "readPoint", "bizLocation", "bizTransactionList",
                    "quantityList", "sourceList", "destinationList", "sensorElementList", "persistentDisposition",
                    "ilmd"),
    "AggregationEvent": ("parentID", "childEPCs", "action", "bizStep", "disposition", "readPoint", "bizLocation",
                         "bizTransactionList", "childQuantityList", "sourceList", "destinationList",
                         "sensorElementList", "persistentDisposition"),
    "TransactionEvent": ("bizTransactionList", "parentID", "epcList", "action", "bizStep", "disposition",
                         "readPoint", "bizLocation", "quantityList", "sourceList", "destinationList",
                         "sensorElementList", "persistentDisposition"),
    "TransformationEvent": ("inputEPCList", "inputQuantityList", "outputEPCList", "outputQuantityList",
                            "transformationID", "bizStep", "disposition", "readPoint", "bizLocation",
                            "bizTransactionList", "sourceList", "destinationList", "sensorElementList",
                            "persistentDisposition", "ilmd"),
    "AssociationEvent": ("parentID", "childEPCs", "childQuantityList", "action", "bizStep", "disposition",
                         "readPoint", "bizLocation", "bizTransactionList", "sourceList", "destinationList",
                         "sensorElementList", "persistentDisposition"),
}  # fmt: skip


class _Writer:
    def __init__(self, context: object) -> None:
        self.declared: dict[str, str] = {}
        _collect(context, self.declared)
        self.prefixes = {**STANDARD_PREFIXES, **self.declared}

    def value(self, value: object) -> str:
        """A value as XML writes it: a CURIE of the event's own prefixes expanded (XML never expands values)."""
        if isinstance(value, bool):
            return "true" if value else "false"
        text = str(value)
        prefix, colon, local = text.partition(":")
        if colon and prefix in self.declared and prefix not in STANDARD_PREFIXES and not local.startswith("//"):
            return self.declared[prefix] + local
        return text

    def qname(self, key: str) -> str | None:
        """The Clark name of an extension field (``prefix:local`` or a full IRI), or None if it cannot be one."""
        prefix, colon, local = key.partition(":")
        if colon and not local.startswith("//") and prefix in self.prefixes and _ncname(local):
            return f"{{{self.prefixes[prefix]}}}{local}"
        cut = max(key.rfind("/"), key.rfind("#")) + 1
        if 0 < cut < len(key) and ":" in key[:cut] and _ncname(key[cut:]):
            return f"{{{key[:cut]}}}{key[cut:]}"
        return None

    def extension(self, parent: Any, key: str, value: Any) -> None:
        name = self.qname(key)
        if name is None or key.startswith("@"):
            return
        for item in value if isinstance(value, list) else [value]:
            element = etree.SubElement(parent, name)
            if isinstance(item, dict):
                for k, v in item.items():
                    self.extension(element, k, v)
            elif item is not None:
                element.text = self.value(item)

    def event(self, parent: Any, event: Mapping[str, Any]) -> None:
        kind = str(event.get("type"))
        element = etree.SubElement(parent, kind)
        order = _BASE_ORDER + _ORDER.get(kind, ())
        for name in order:
            if name in event:
                self.field(element, name, event[name])
        for key, value in event.items():
            if key not in order and key != "type":
                self.extension(element, key, value)

    def field(self, parent: Any, name: str, value: Any) -> None:
        if name in _EPC_LISTS:
            holder = etree.SubElement(parent, name)
            for epc in value if isinstance(value, list) else []:
                etree.SubElement(holder, "epc").text = str(epc)
        elif name in _QUANTITY_LISTS:
            holder = etree.SubElement(parent, name)
            for q in value if isinstance(value, list) else []:
                self.record(etree.SubElement(holder, "quantityElement"), q, ("epcClass", "quantity", "uom"))
        elif name in _TYPED_LISTS:
            holder = etree.SubElement(parent, name)
            inner = _TYPED_LISTS[name]
            for entry in value if isinstance(value, list) else []:
                child = etree.SubElement(holder, inner)
                if isinstance(entry, dict):
                    if "type" in entry:
                        child.set("type", _urn(inner, self.value(entry["type"])))
                    child.text = self.value(entry.get(inner, ""))
        elif name in ("readPoint", "bizLocation"):
            self.record(etree.SubElement(parent, name), value, ("id",))
        elif name == "persistentDisposition" and isinstance(value, dict):
            holder = etree.SubElement(parent, name)
            for part in ("unset", "set"):
                for v in value.get(part, []):
                    etree.SubElement(holder, part).text = _urn("disposition", v)
        elif name == "sensorElementList":
            holder = etree.SubElement(parent, name)
            for element in value if isinstance(value, list) else []:
                self.sensor_element(etree.SubElement(holder, "sensorElement"), element)
        elif name == "ilmd":
            holder = etree.SubElement(parent, name)
            for k, v in value.items() if isinstance(value, dict) else []:
                self.extension(holder, k, v)
        elif name == "errorDeclaration" and isinstance(value, dict):
            holder = etree.SubElement(parent, name)
            for part in ("declarationTime", "reason"):
                if part in value:
                    etree.SubElement(holder, part).text = _urn(part, value[part])
            if "correctiveEventIDs" in value:
                ids = etree.SubElement(holder, "correctiveEventIDs")
                for i in value["correctiveEventIDs"]:
                    etree.SubElement(ids, "correctiveEventID").text = str(i)
            for k, v in value.items():
                if k not in ("declarationTime", "reason", "correctiveEventIDs"):
                    self.extension(holder, k, v)
        else:
            for item in value if isinstance(value, list) else [value]:
                etree.SubElement(parent, name).text = _urn(name, self.value(item))

    def record(self, element: Any, value: Any, fields: Sequence[str]) -> None:
        if not isinstance(value, dict):
            return
        for name in fields:
            if name in value and value[name] is not None:
                etree.SubElement(element, name).text = self.value(value[name])
        for key, v in value.items():
            if key not in fields:
                self.extension(element, key, v)

    def sensor_element(self, element: Any, value: Any) -> None:
        if not isinstance(value, dict):
            return
        if isinstance(value.get("sensorMetadata"), dict):
            self.attributes(etree.SubElement(element, "sensorMetadata"), value["sensorMetadata"])
        for report in value.get("sensorReport", []):
            if isinstance(report, dict):
                self.attributes(etree.SubElement(element, "sensorReport"), report)
        for key, v in value.items():
            if key not in ("sensorMetadata", "sensorReport"):
                self.extension(element, key, v)

    def attributes(self, element: Any, value: Mapping[str, Any]) -> None:
        for key, v in value.items():
            text = self.value(v)
            if ":" in key:
                name = self.qname(key)
                if name is not None:
                    element.set(name, text)
            else:
                element.set(key, text)


def _ncname(text: str) -> bool:
    return bool(text) and (text[0].isalpha() or text[0] == "_") and all(c.isalnum() or c in "_-." for c in text)


def _collect(context: object, into: dict[str, str]) -> None:
    if isinstance(context, Mapping):
        for term, definition in context.items():
            if isinstance(definition, str) and ":" in definition and not term.startswith("@"):
                into[term] = definition
    elif isinstance(context, list):
        for item in context:
            _collect(item, into)


def query_document_xml(events: Sequence[Mapping[str, Any]], query_name: str = "SimpleEventQuery") -> bytes:
    """Events (EPCIS JSON as stored) as an EPCIS 2.0 XML ``EPCISQueryDocument``."""
    nsmap = {"epcisq": QUERY_NS}
    root = etree.Element(f"{{{QUERY_NS}}}EPCISQueryDocument", nsmap=nsmap)
    root.set("schemaVersion", "2.0")
    root.set("creationDate", datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"))
    body = etree.SubElement(root, "EPCISBody")
    results = etree.SubElement(body, f"{{{QUERY_NS}}}QueryResults")
    etree.SubElement(results, "queryName").text = query_name
    event_list = etree.SubElement(etree.SubElement(results, "resultsBody"), "EventList")
    for event in events:
        _Writer(event.get("@context")).event(event_list, event)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _attribute_value(writer: _Writer, element: Any, value: Any) -> None:
    """A master-data attribute's value into its element: text, or (an object) child elements, as the XML reader
    took them: ``prefix:name`` keys in their namespace, bare names in none, a list as repeated elements."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key.startswith("@"):
                continue
            name = writer.qname(key) or (key if _ncname(key) else None)
            if name is None:
                continue
            for each in item if isinstance(item, list) else [item]:
                _attribute_value(writer, etree.SubElement(element, name), each)
    elif value is not None:
        element.text = writer.value(value)
        kind = _XSD_TYPES.get(type(value))
        if kind is not None:  # the reader types a value by xsi:type: without it a number would come back as text
            element.set(_XSI_TYPE, kind)


_XSD = "http://www.w3.org/2001/XMLSchema"
_XSD_TYPES = {bool: "xsd:boolean", int: "xsd:integer", float: "xsd:double"}


def vocabulary_document_xml(document: Mapping[str, Any]) -> bytes:
    """Master data (the JSON :func:`scanning.epcis_masterdata.vocabulary_document` gives) as the XML binding's
    ``EPCISMasterDataDocument``, which GS1's XSD validates: one ``Vocabulary`` per type, an ``attribute`` per
    attribute (a list value: one per item, as XML repeats an attribute), ``children`` as ``id`` elements."""
    writer = _Writer(document.get("@context"))
    nsmap = {p: ns for p, ns in sorted(writer.declared.items()) if _ncname(p) and p not in ("xml", "xsi", "xsd")}
    nsmap.update({"epcismd": MASTERDATA_NS, "xsi": _XSI, "xsd": _XSD})
    root = etree.Element(f"{{{MASTERDATA_NS}}}EPCISMasterDataDocument", nsmap=nsmap)
    root.set("schemaVersion", "2.0")
    root.set("creationDate", _now())
    vocabulary_list = etree.SubElement(etree.SubElement(root, "EPCISBody"), "VocabularyList")
    for vocabulary in document.get("vocabularyList", []):
        holder = etree.SubElement(vocabulary_list, "Vocabulary")
        holder.set("type", str(vocabulary.get("type", "")))
        elements = vocabulary.get("vocabularyElementList", [])
        if not elements:
            continue
        element_list = etree.SubElement(holder, "VocabularyElementList")
        for element in elements:
            out = etree.SubElement(element_list, "VocabularyElement")
            out.set("id", str(element.get("id", "")))
            for attribute in element.get("attributes", []):
                if not isinstance(attribute, Mapping):
                    continue
                value = attribute.get("attribute")
                for item in value if isinstance(value, list) else [value]:
                    node = etree.SubElement(out, "attribute")
                    node.set("id", str(attribute.get("id", "")))
                    _attribute_value(writer, node, item)
            if element.get("children"):
                children = etree.SubElement(out, "children")
                for child in element["children"]:
                    etree.SubElement(children, "id").text = str(child)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


_TRC = MEMBER_NAMESPACE
_JOB_EXTRAS = ("stored", "duplicates")


def capture_job_xml(job: Mapping[str, Any]) -> bytes:
    """A capture job (the JSON :func:`scanning.epcis.capture_job` gives) as the binding's XML ``EPCISCaptureJob``,
    which GS1's XSD validates: the job's state in attributes, each refused event an ``error`` (RFC 7807 fields, and
    ours — its index, eventID and machine reason — in the project's namespace, where the XSD allows others')."""
    root = etree.Element(f"{{{EPCIS_NS}}}EPCISCaptureJob", nsmap={"epcis": EPCIS_NS, "trc": _TRC})
    root.set("captureID", str(job["captureID"]))
    root.set("running", "true" if job.get("running") else "false")
    root.set("success", "true" if job.get("success") else "false")
    etree.SubElement(root, "captureErrorBehaviour").text = str(job.get("captureErrorBehaviour", "rollback"))
    for name in ("createdAt", "finishedAt"):
        if job.get(name):
            etree.SubElement(root, name).text = str(job[name])
    errors = [e for e in job.get("errors", []) if isinstance(e, Mapping)]
    if errors:
        holder = etree.SubElement(root, "errors")
        for error in errors:
            element = etree.SubElement(holder, "error")
            etree.SubElement(element, "type").text = str(error.get("type", "epcisException:ValidationException"))
            etree.SubElement(element, "title").text = str(error.get("title", "error"))
            if isinstance(error.get("status"), int):
                etree.SubElement(element, "status").text = str(error["status"])
            if error.get("detail") is not None:
                etree.SubElement(element, "detail").text = str(error["detail"])
            for name in ("index", "eventID", "error"):
                if error.get(name) is not None:
                    etree.SubElement(element, f"{{{_TRC}}}{name}").text = str(error[name])
    for name in _JOB_EXTRAS:
        if name in job:
            etree.SubElement(root, f"{{{_TRC}}}{name}").text = str(job[name])
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))
