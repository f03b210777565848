"""The EPCIS 2.0 Query Language over the event store, as the REST binding spells it in a query string.

A query is parsed once (:func:`parse_query`) into SQL conditions on the event's query columns and its identifier
rows, plus checks on the stored JSON for what has no column (business transactions, sources, sensor reports,
error declarations). Pages are cut on ``(eventTime, row id)`` (or ``recordTime``) with a signed, opaque
``nextPageToken`` bound to the query and the caller: never an offset, never valid for another query or party, and a
forged one is a 400, never other rows. Every query goes through the same party scope as ``GET /epcis/events``.

Parameters are the binding's (``eventType``, ``GE_eventTime`` … ``EQ_bizTransaction_<type>``, ``EXISTS_<field>``,
the sensor filters); an unknown one is refused by name (QueryParameterException), so a typo never silently widens
a query. ``WD_readPoint`` / ``WD_bizLocation`` are their ``EQ_`` forms and every direct or indirect descendant of a
value as the captured master data's ``children`` say (``ReadPoint`` / ``BusinessLocation`` vocabularies).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import operator
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, false, func, literal, or_
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from ledger.event_hash import canonical_gs1_uri
from ledger.keys import key_of
from ledger.store import canonical_json, normalise_vocab, parse_event_time
from scanning.epcis_errors import NoSuchResource, QueryParameterInvalid, QueryTooLarge
from traceability.auth.service import Principal, scope_to_party
from traceability.models import Event, EventEpc, VocabularyElement

__all__ = [
    "MAX_PER_PAGE",
    "EventFilter",
    "EventPage",
    "ValuePage",
    "event_by_id",
    "event_document",
    "event_page",
    "list_values",
    "page_secret",
    "parse_query",
    "read_token",
    "resource_value",
    "sign_token",
]

MAX_PER_PAGE = 1000
"""The global upper limit of ``perPage`` (the binding lets a server state one)."""
_SCAN_BUDGET = 20_000  # rows read per request for a query with JSON checks; beyond it the page ends early
EVENT_TYPES = ("AggregationEvent", "AssociationEvent", "ObjectEvent", "TransactionEvent", "TransformationEvent")

Check = Callable[[Mapping[str, Any]], bool]


@dataclass
class EventFilter:
    """A parsed query: SQL conditions, checks on the event JSON, the order, limits, and a digest of what was asked."""

    conditions: list[ColumnElement[bool]] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    order_by: str = "eventTime"
    descending: bool = False
    event_count_limit: int | None = None
    max_event_count: int | None = None
    digest: str = ""
    matches: list[tuple[tuple[str, ...], tuple[str, ...]]] = field(default_factory=list)
    """The exact identifier matches (roles, keys), kept apart from ``conditions``: a query of nothing else is one
    prepared SQL text (:func:`_fast_rows`), no statement built and compiled per request."""

    def sql_conditions(self) -> list[ColumnElement[bool]]:
        """Every SQL condition, the identifier matches built as statements (what a query of other shapes needs)."""
        return [*self.conditions, *(_match_condition(roles, set(keys), ()) for roles, keys in self.matches)]


# --- parsing -------------------------------------------------------------------------------------------------------


def _values(raw: Sequence[str]) -> list[str]:
    """A parameter's values: repeated, or joined with ``|`` as the binding writes a list."""
    return [v for item in raw for v in item.split("|") if v != ""]


_CANONICAL_SGLN = re.compile(r"https://id\.gs1\.org/414/(\d{13})(?:/254/(.+))?")


def _place_spellings(values: Iterable[str]) -> list[str]:
    """Each location as asked, its canonical Digital Link, and that GLN and extension as an SGLN URN at every
    company prefix length (6 to 12 digits): events keep a location as their capturer spelt it, and a WMS that
    writes URNs must find what the brand's scanners stored as Digital Links, and the other way round — one place,
    as the event hash already treats it (``ledger.event_hash.canonical_gs1_uri``). Exact strings, so the
    location index still serves the query."""
    out: set[str] = set()
    for value in values:
        out.add(value)
        canonical = canonical_gs1_uri(value)
        found = _CANONICAL_SGLN.fullmatch(canonical) if canonical is not None else None
        if canonical is None or found is None:
            continue
        gln, extension = found[1], found[2] or "0"  # extension 0 is the GLN itself (the URN's spelling of none)
        out.update((f"https://id.gs1.org/414/{gln}", f"https://id.gs1.org/414/{gln}/254/0") if extension == "0"
                   else (canonical,))  # fmt: skip
        out.update(f"urn:epc:id:sgln:{gln[:n]}.{gln[n:12]}.{extension}" for n in range(6, 13))
    return sorted(out)


def _time(lang: str, name: str, raw: Sequence[str]) -> datetime:
    if len(raw) != 1:
        raise QueryParameterInvalid(lang, parameter=name, why="give one date-time")
    try:
        return parse_event_time(raw[0])
    except ValueError:
        raise QueryParameterInvalid(lang, parameter=name, why="an ISO 8601 date-time with a time-zone offset") from None


def _int(lang: str, name: str, raw: Sequence[str], low: int = 1) -> int:
    if len(raw) != 1 or not raw[0].isdigit() or not low <= int(raw[0]) <= 2**31 - 1:
        raise QueryParameterInvalid(lang, parameter=name, why=f"an integer from {low} to {2**31 - 1}")
    return int(raw[0])


def _number(lang: str, name: str, raw: Sequence[str]) -> Decimal:
    try:
        if len(raw) != 1:
            raise InvalidOperation
        value = Decimal(raw[0])
        if not value.is_finite():
            raise InvalidOperation
    except InvalidOperation:
        raise QueryParameterInvalid(lang, parameter=name, why="give one number") from None
    return value


def _as_decimal(value: object) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


_COMPARE: Mapping[str, Callable[[Any, Any], bool]] = {
    "EQ": operator.eq, "GT": operator.gt, "GE": operator.ge, "LT": operator.lt, "LE": operator.le,
}  # fmt: skip
_COLUMNS: Mapping[str, tuple[Any, bool]] = {
    # parameter: (column, values spelt in CBV's bare / URN / Web URI forms)
    "eventType": (Event.event_type, False),
    "EQ_action": (Event.action, False),
    "EQ_bizStep": (Event.biz_step, True),
    "EQ_disposition": (Event.disposition, True),
    "EQ_readPoint": (Event.read_point, False),
    "EQ_eventID": (Event.event_id, False),
}
_LOCATION_PARAMS = ("EQ_bizLocation", "WD_bizLocation")
_HIERARCHY = {"WD_bizLocation": "urn:epcglobal:epcis:vtype:BusinessLocation",
              "WD_readPoint": "urn:epcglobal:epcis:vtype:ReadPoint"}  # fmt: skip
_TIME_COLUMNS: Mapping[str, Any] = {
    "GE_eventTime": (Event.event_time, operator.ge), "LT_eventTime": (Event.event_time, operator.lt),
    "GE_recordTime": (Event.record_time, operator.ge), "LT_recordTime": (Event.record_time, operator.lt),
}  # fmt: skip
# MATCH_ parameters: the identifier rows' roles, and for class-level ones the JSON lists that hold them.
_MATCH_ROLES: Mapping[str, tuple[str, ...]] = {
    "MATCH_epc": ("epc", "child"),
    "MATCH_parentID": ("parent",),
    "MATCH_inputEPC": ("input",),
    "MATCH_outputEPC": ("output",),
    "MATCH_anyEPC": ("epc", "child", "input", "output", "parent"),
}
_MATCH_FIELDS: Mapping[str, tuple[str, ...]] = {
    "MATCH_epc": ("epcList", "childEPCs"),
    "MATCH_parentID": ("parentID",),
    "MATCH_inputEPC": ("inputEPCList",),
    "MATCH_outputEPC": ("outputEPCList",),
    "MATCH_anyEPC": ("epcList", "childEPCs", "inputEPCList", "outputEPCList", "parentID"),
    "MATCH_epcClass": ("quantityList", "childQuantityList"),
    "MATCH_inputEPCClass": ("inputQuantityList",),
    "MATCH_outputEPCClass": ("outputQuantityList",),
    "MATCH_anyEPCClass": ("quantityList", "childQuantityList", "inputQuantityList", "outputQuantityList"),
}
_SENSOR_REPORT_TEXT = ("type", "microorganism", "chemicalSubstance", "stringValue", "hexBinaryValue", "uriValue",
                       "booleanValue")  # fmt: skip
_SENSOR_BOTH_TEXT = ("deviceID", "dataProcessingMethod", "bizRules")
_SENSOR_TIMES = {"GE_startTime": ("startTime", operator.ge), "LT_startTime": ("startTime", operator.lt),
                 "GE_endTime": ("endTime", operator.ge), "LT_endTime": ("endTime", operator.lt)}  # fmt: skip
_SENSOR_NUMBERS = ("value", "minValue", "maxValue", "meanValue", "sDev", "percRank", "percValue")
_SENSOR_NUMBER = re.compile(rf"(EQ|GT|GE|LT|LE)_({'|'.join(_SENSOR_NUMBERS)})(?:_(.+))?")
_QUANTITY = re.compile(r"(EQ|GT|GE|LT|LE)_quantity")
_TYPED_LIST = re.compile(r"EQ_(bizTransaction|source|destination)_(.+)")
_VOCAB_TAIL = re.compile(r"^(?:urn:epcglobal:cbv:(?:btt|sdt|er):|https://ref\.gs1\.org/cbv/(?:BTT|SDT|ER)-|"
                         r"cbv:(?:BTT|SDT|ER)-)")  # fmt: skip
_PAGING = frozenset({"perPage", "nextPageToken"})
_NEUTRAL = frozenset({"GS1-EPCIS-Min", "GS1-EPCIS-Max", "GS1-CBV-Min", "GS1-CBV-Max", "GS1-EPC-Format",
                      "GS1-CBV-XML-Format", "GS1-Extensions"})  # fmt: skip


def _tail(value: object) -> str:
    """A business transaction, source / destination type or error reason in its bare CBV form."""
    return _VOCAB_TAIL.sub("", str(value))


def _gs1_voc(value: object) -> str:
    text = str(value)
    for prefix in ("gs1:", "https://gs1.org/voc/"):
        if text.startswith(prefix):
            return text[len(prefix) :]
    return text


def _entries(doc: Mapping[str, Any], name: str) -> list[Mapping[str, Any]]:
    value = doc.get(name)
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []


def _reports(doc: Mapping[str, Any]) -> Iterable[tuple[Mapping[str, Any], Mapping[str, Any]]]:
    """(sensorMetadata, sensorReport) for every report of every sensor element."""
    for element in _entries(doc, "sensorElementList"):
        metadata = element.get("sensorMetadata")
        meta = metadata if isinstance(metadata, Mapping) else {}
        reports = element.get("sensorReport")
        for report in reports if isinstance(reports, list) else []:
            if isinstance(report, Mapping):
                yield meta, report


def _key_matcher(values: Sequence[str]) -> tuple[set[str], list[str]]:
    """Exact keys and pattern prefixes (``urn:epc:idpat:…*`` is every serial of the key before the ``*``)."""
    exact: set[str] = set()
    prefixes: list[str] = []
    for value in values:
        key = key_of(value)
        exact.add(key)
        if value.startswith("urn:epc:idpat:") and key != value:
            prefixes.append(key.rstrip("/") + "/")
    return exact, prefixes


def _match_condition(roles: Sequence[str], exact: set[str], prefixes: Sequence[str]) -> ColumnElement[bool]:
    keyed: list[ColumnElement[bool]] = [col(EventEpc.key).in_(sorted(exact))]
    keyed += [col(EventEpc.key).startswith(p, autoescape=True) for p in prefixes]
    sub = select(EventEpc.event_pk).where(col(EventEpc.role).in_(roles), or_(*keyed))
    return col(Event.id).in_(sub)


def _epcs_in(doc: Mapping[str, Any], fields: Sequence[str]) -> Iterable[str]:
    for name in fields:
        value = doc.get(name)
        if isinstance(value, str):
            yield value
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, str):
                    yield item
                elif isinstance(item, Mapping) and isinstance(item.get("epcClass"), str):
                    yield item["epcClass"]


def _match_check(fields: Sequence[str], exact: set[str], prefixes: Sequence[str]) -> Check:
    def check(doc: Mapping[str, Any]) -> bool:
        for epc in _epcs_in(doc, fields):
            key = key_of(epc)
            if key in exact or any(key.startswith(p) for p in prefixes):
                return True
        return False

    return check


def _like_literal(expr: Any) -> Any:
    """A column's value escaped for LIKE (``\\`` the escape), so an id holding ``%`` or ``_`` matches only itself."""
    return func.replace(func.replace(func.replace(expr, "\\", "\\\\"), "%", "\\%"), "_", "\\_")


def _listed_in(children: Any, value: Any) -> ColumnElement[bool]:
    """Whether a stored ``children`` JSON list holds ``value`` (a column): ``…"<value>"…`` in its text."""
    return children.like(literal('%"') + _like_literal(value) + literal('"%'), escape="\\")  # type: ignore[no-any-return]


def _within(column: Any, values: Sequence[str], vtype: str) -> ColumnElement[bool]:
    """``WD_``: the column is one of ``values`` or a direct or indirect descendant of one, as the master data of
    ``vtype`` says (each element's ``children``). A recursive CTE walks down the described elements (UNION, so a
    cycle in the master data ends); a child nobody described is matched as a child of the last described one."""
    v, child = VocabularyElement, aliased(VocabularyElement)
    seed: Any = select(col(v.element_id).label("id"), col(v.children).label("children")).where(
        col(v.vocabulary_type) == vtype, col(v.element_id).in_(values))
    # Named by the column: a query may ask WD_ of several (bizLocation and readPoint), each its own tree.
    tree = seed.cte(f"wd_tree_{column.key}", recursive=True)
    tree = tree.union(select(col(child.element_id), col(child.children)).where(
        col(child.vocabulary_type) == vtype, _listed_in(tree.c.children, col(child.element_id))))
    descendant = exists(select(literal(1)).select_from(tree).where(_listed_in(tree.c.children, column)))
    return or_(col(column).in_(values), col(column).in_(select(tree.c.id)), descendant)


def _contains(value: str) -> ColumnElement[bool]:
    """A cheap superset in SQL for a value the JSON checks then decide: the stored JSON holds it as written."""
    return col(Event.document).contains(json.dumps(value, ensure_ascii=False)[1:-1], autoescape=True)


def parse_query(
    params: Sequence[tuple[str, str]], *, lang: str, fixed: Mapping[str, Sequence[str]] | None = None
) -> EventFilter:
    """The query string's parameters (``perPage`` and ``nextPageToken`` excepted) as an :class:`EventFilter`; an
    unknown parameter or a value it cannot hold is a :class:`QueryParameterInvalid` naming it."""
    grouped: dict[str, list[str]] = {}
    for name, value in params:
        if name in _PAGING or name in _NEUTRAL:
            continue
        grouped.setdefault(name, []).append(value)
    digest_source = sorted((k, sorted(v)) for k, v in grouped.items())
    out = EventFilter()
    for name, raw in list(grouped.items()) + [(k, list(v)) for k, v in (fixed or {}).items()]:
        _apply(out, name, raw, lang)
    digest_source.append(("", sorted(f"{k}={v}" for k, vs in (fixed or {}).items() for v in vs)))
    out.digest = hashlib.sha256(json.dumps(digest_source).encode()).hexdigest()[:32]
    return out


def _apply(out: EventFilter, name: str, raw: list[str], lang: str) -> None:  # noqa: C901 - one table of parameters
    values = _values(raw)
    if name in _COLUMNS:
        column, vocabulary = _COLUMNS[name]
        if name == "EQ_action" and not set(values) <= {"ADD", "OBSERVE", "DELETE"}:
            raise QueryParameterInvalid(lang, parameter=name, why="ADD, OBSERVE or DELETE")
        wanted = [normalise_vocab(v) for v in values] if vocabulary else (
            _place_spellings(values) if name == "EQ_readPoint" else values)
        out.conditions.append(col(column).in_(wanted) if wanted else false())
    elif name in _LOCATION_PARAMS:
        places = _place_spellings(values)
        place = _within(Event.biz_location, places, _HIERARCHY[name]) if name in _HIERARCHY else (
            col(Event.biz_location).in_(places))
        out.conditions.append(or_(place, col(Event.location_party_id).in_(values)) if values else false())
    elif name == "WD_readPoint":
        out.conditions.append(_within(Event.read_point, _place_spellings(values), _HIERARCHY[name]) if values
                              else false())  # fmt: skip
    elif name in _TIME_COLUMNS:
        column, compare = _TIME_COLUMNS[name]
        out.conditions.append(compare(col(column), _time(lang, name, raw)))
    elif name in _MATCH_FIELDS:
        exact, prefixes = _key_matcher(values)
        if not exact:
            out.conditions.append(false())
        elif name in _MATCH_ROLES:
            if not prefixes:
                out.matches.append((_MATCH_ROLES[name], tuple(sorted(exact))))
            else:
                out.conditions.append(_match_condition(_MATCH_ROLES[name], exact, prefixes))
                out.checks.append(_match_check(_MATCH_FIELDS[name], exact, prefixes))  # SQLite's LIKE ignores case
        else:
            out.conditions.append(_match_condition(("quantity",), exact, prefixes))
            out.checks.append(_match_check(_MATCH_FIELDS[name], exact, prefixes))
    elif name == "EQ_transformationID":
        wanted_ids = set(values)
        out.conditions.append(col(Event.event_type) == "TransformationEvent")
        out.checks.append(lambda d: d.get("transformationID") in wanted_ids)
    elif name in ("EQ_persistentDisposition_set", "EQ_persistentDisposition_unset"):
        which = name.rsplit("_", 1)[1]
        wanted_set = {normalise_vocab(v) for v in values}

        def persistent(d: Mapping[str, Any], which: str = which, wanted: set[str | None] = wanted_set) -> bool:
            pd = d.get("persistentDisposition")
            listed = pd.get(which) if isinstance(pd, Mapping) else None
            return isinstance(listed, list) and any(normalise_vocab(str(v)) in wanted for v in listed)

        out.conditions.append(col(Event.document).contains('"persistentDisposition"'))
        out.checks.append(persistent)
    elif m := _QUANTITY.fullmatch(name):
        compare, bound = _COMPARE[m[1]], _number(lang, name, raw)

        def quantity(d: Mapping[str, Any], compare: Any = compare, bound: Decimal = bound) -> bool:
            for element in _entries(d, "quantityList") + _entries(d, "childQuantityList"):
                number = _as_decimal(element.get("quantity"))
                if number is not None and compare(number, bound):
                    return True
            return False

        out.conditions.append(col(Event.document).contains('"quantity":'))
        out.checks.append(quantity)
    elif m := _TYPED_LIST.fullmatch(name):
        kind, wanted_type = m[1], _tail(m[2])
        listed = set(values)
        list_name = f"{kind}List"

        def typed(d: Mapping[str, Any], list_name: str = list_name, kind: str = kind, wanted_type: str = wanted_type,
                  listed: set[str] = listed) -> bool:  # fmt: skip
            return any(_tail(e.get("type", "")) == wanted_type and e.get(kind) in listed
                       for e in _entries(d, list_name))  # fmt: skip

        out.conditions.append(or_(*[_contains(v) for v in listed]) if listed else false())
        out.checks.append(typed)
    elif name == "EXISTS_errorDeclaration":
        declared = aliased(Event)
        same_event = col(declared.event_id) == col(Event.event_id)
        has_declaration = exists().where(same_event, col(declared.declaration).is_(True))
        out.conditions.append(or_(col(Event.declaration).is_(True), has_declaration))
    elif name.startswith("EXISTS_") and len(name) > len("EXISTS_"):
        field_name = name[len("EXISTS_") :]

        def present(d: Mapping[str, Any], f: str = field_name) -> bool:
            return d.get(f) not in (None, [], {})

        out.checks.append(present)
        out.conditions.append(col(Event.document).contains(json.dumps(field_name)[:-1] + '":', autoescape=True))
    elif name in ("GE_errorDeclarationTime", "LT_errorDeclarationTime"):
        compare_time = operator.ge if name.startswith("GE") else operator.lt
        bound_time = _time(lang, name, raw)

        def declared_at(d: Mapping[str, Any], compare: Any = compare_time, bound: datetime = bound_time) -> bool:
            ed = d.get("errorDeclaration")
            try:
                return isinstance(ed, Mapping) and compare(parse_event_time(ed.get("declarationTime")), bound)
            except ValueError:
                return False

        out.checks.append(declared_at)
    elif name == "EQ_errorReason":
        reasons = {_tail(v) for v in values}
        out.checks.append(lambda d: isinstance(d.get("errorDeclaration"), Mapping)
                          and _tail(d["errorDeclaration"].get("reason", "")) in reasons)  # fmt: skip
    elif name == "EQ_correctiveEventID":
        corrective = set(values)

        def corrected(d: Mapping[str, Any]) -> bool:
            ed = d.get("errorDeclaration")
            ids = ed.get("correctiveEventIDs") if isinstance(ed, Mapping) else None
            return isinstance(ids, list) and bool(corrective & {str(i) for i in ids})

        out.checks.append(corrected)
    elif name in ("eventCountLimit", "maxEventCount"):
        number = _int(lang, name, raw)
        if name == "eventCountLimit":
            out.event_count_limit = number
        else:
            out.max_event_count = number
    elif name == "orderBy":
        if raw not in (["eventTime"], ["recordTime"]):
            raise QueryParameterInvalid(lang, parameter=name, why="eventTime or recordTime")
        out.order_by = raw[0]
    elif name == "orderDirection":
        if raw not in (["ASC"], ["DESC"]):
            raise QueryParameterInvalid(lang, parameter=name, why="ASC or DESC")
        out.descending = raw[0] == "DESC"
    elif name in _SENSOR_TIMES:
        meta_field, compare_meta = _SENSOR_TIMES[name]
        bound_meta = _time(lang, name, raw)

        def sensor_time(d: Mapping[str, Any], f: str = meta_field, compare: Any = compare_meta,
                        bound: datetime = bound_meta) -> bool:  # fmt: skip
            for meta, _ in _reports(d):
                try:
                    if f in meta and compare(parse_event_time(meta[f]), bound):
                        return True
                except ValueError:
                    continue
            return False

        out.conditions.append(col(Event.document).contains('"sensorElementList"'))
        out.checks.append(sensor_time)
    elif name.startswith("EQ_") and name[3:] in _SENSOR_REPORT_TEXT + _SENSOR_BOTH_TEXT:
        report_field = name[3:]
        normal = _gs1_voc if report_field == "type" else str
        wanted_text = {normal(v).lower() if report_field == "booleanValue" else normal(v) for v in values}

        def sensor_text(d: Mapping[str, Any], f: str = report_field, normal: Any = normal,
                        wanted: set[str] = wanted_text) -> bool:  # fmt: skip
            for meta, report in _reports(d):
                for holder in (report, meta) if f in _SENSOR_BOTH_TEXT else (report,):
                    if f in holder:
                        value = holder[f]
                        text = ("true" if value else "false") if isinstance(value, bool) else normal(value)
                        if text in wanted:
                            return True
            return False

        out.conditions.append(col(Event.document).contains('"sensorElementList"'))
        out.checks.append(sensor_text)
    elif m := _SENSOR_NUMBER.fullmatch(name):
        compare_number, report_field, uom = _COMPARE[m[1]], m[2], m[3]
        bound_number = _number(lang, name, raw)

        def sensor_number(d: Mapping[str, Any], f: str = report_field, compare: Any = compare_number,
                          bound: Decimal = bound_number, uom: str | None = uom) -> bool:  # fmt: skip
            for _, report in _reports(d):
                number = _as_decimal(report.get(f))
                if number is not None and (uom is None or report.get("uom") == uom) and compare(number, bound):
                    return True
            return False

        out.conditions.append(col(Event.document).contains('"sensorElementList"'))
        out.checks.append(sensor_number)
    else:
        raise QueryParameterInvalid(lang, parameter=name)


# --- paging tokens -------------------------------------------------------------------------------------------------


def page_secret(pepper: bytes) -> bytes:
    """The key that signs page tokens, derived from the system's secret (its own purpose, never the pepper)."""
    return hmac.new(pepper, b"epcis nextPageToken v1", hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _caller(principal: Principal | None) -> str:
    return "*" if principal is None else f"{principal.role.value}:{principal.party_id}"


def sign_token(payload: Mapping[str, Any], secret: bytes) -> str:
    body = _b64(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode())
    return f"{body}.{_b64(hmac.new(secret, body.encode(), hashlib.sha256).digest()[:18])}"


def read_token(token: str, secret: bytes, *, lang: str, scope: str, digest: str, caller: str) -> dict[str, Any]:
    """A token's payload, if this system signed it for this very query and caller; else a 400 saying why."""
    body, dot, signature = token.partition(".")
    try:
        expected = hmac.new(secret, body.encode(), hashlib.sha256).digest()[:18]
        if not dot or not hmac.compare_digest(_unb64(signature), expected):
            raise ValueError
        payload = json.loads(_unb64(body))
        if not isinstance(payload, dict):
            raise ValueError
    except (ValueError, UnicodeError):
        raise QueryParameterInvalid(lang, parameter="nextPageToken", why="not a token this system issued",
                                    token=True) from None  # fmt: skip
    if payload.get("s") != scope or payload.get("q") != digest or payload.get("c") != caller:
        raise QueryParameterInvalid(lang, parameter="nextPageToken", why="issued for another query or key", token=True)
    return payload


# --- running a query -----------------------------------------------------------------------------------------------


@dataclass
class EventPage:
    """One page of events and the token of the next, or None.

    ``documents`` are the events' stored JSON texts (error declarations merged in), kept as text so that a JSON
    answer splices them rather than parsing and re-encoding every event (:func:`scanning.rest.query_document_json`);
    ``events`` parses them for the callers that need objects (XML, subscriptions).
    """

    documents: list[str]
    next_token: str | None

    @property
    def events(self) -> list[dict[str, Any]]:
        return [json.loads(d) for d in self.documents]


def _visible(stmt: Any, principal: Principal | None) -> Any:
    if principal is None:
        return stmt
    return scope_to_party(stmt, principal, Event.location_party_id, Event.source_party_id, Event.destination_party_id)


@functools.cache
def _not_superseded() -> ColumnElement[bool]:
    """An event, or an error declaration whose event never reached us: it then stands for that event (it carries
    all its fields). Built once: aliasing the table costs more than running the query."""
    original = aliased(Event)
    has_original = (
        select(original.id).where(original.event_id == Event.event_id, col(original.declaration).is_(False)).exists()
    )
    return or_(col(Event.declaration).is_(False), ~has_original)


@functools.cache
def _declared() -> Any:
    """Whether an error declaration of the row's event is stored: one probe of the (eventID, declaration) index
    per row, so that a page without one needs no second query."""
    declaration = aliased(Event)
    return (
        select(declaration.id)
        .where(declaration.event_id == Event.event_id, col(declaration.declaration).is_(True))
        .exists()
        .label("declared")
    )


def _base(flt: EventFilter) -> Any:
    """Only the columns a page needs, as plain rows (the order column as ``at``): building ORM objects, or reading a
    second time column, would cost more than the query itself."""
    columns = (Event.id, Event.event_id, Event.declaration, Event.document, _order_column(flt).label("at"), _declared())
    return select(*columns).where(_not_superseded(), *flt.sql_conditions())  # type: ignore[call-overload]


def _order_column(flt: EventFilter) -> Any:
    return col(Event.record_time) if flt.order_by == "recordTime" else col(Event.event_time)


def _utc(moment: datetime) -> datetime:
    """Aware UTC, however the driver read it back (SQLite gives naive UTC)."""
    return moment.astimezone(UTC) if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _after(flt: EventFilter, at: datetime, row_id: int) -> ColumnElement[bool]:
    column = _order_column(flt)
    if flt.descending:
        return or_(column < at, and_(column == at, col(Event.id) < row_id))
    return or_(column > at, and_(column == at, col(Event.id) > row_id))


def _merged_text(session: Session, rows: Sequence[Any]) -> list[str]:
    """The rows' stored JSON text (with its ``@context``); a row with an error declaration of its own is parsed,
    merged and written back in the stored form, every other row is passed through untouched."""
    ids = [r.event_id for r in rows if r.declared and not r.declaration]
    declared: dict[str, Any] = {}
    for start in range(0, len(ids), 500):
        stmt = select(Event.event_id, Event.document).where(col(Event.declaration).is_(True),
                                                            col(Event.event_id).in_(ids[start : start + 500]))
        for event_id, document in session.connection().execute(stmt).all():
            declared[event_id] = json.loads(document).get("errorDeclaration", {})
    if not declared:
        return [r.document for r in rows]
    out = []
    for r in rows:
        if r.event_id in declared and not r.declaration:
            doc = json.loads(r.document)
            doc["errorDeclaration"] = declared[r.event_id]
            out.append(canonical_json(doc))
        else:
            out.append(r.document)
    return out


def _merged(session: Session, rows: Sequence[Any]) -> list[dict[str, Any]]:
    """The rows' JSON (with its ``@context``) and any error declaration of theirs merged in."""
    return [json.loads(text) for text in _merged_text(session, rows)]


def event_page(
    *,
    session: Session,
    flt: EventFilter,
    principal: Principal | None,
    per_page: int,
    token: str | None,
    secret: bytes,
    lang: str,
    scope: str = "events",
) -> EventPage:
    """One page of the events matching ``flt`` that ``principal`` may see, in ``(time, id)`` order."""
    caller = _caller(principal)
    remaining = flt.event_count_limit
    after: tuple[datetime, int] | None = None
    if token is not None:
        payload = read_token(token, secret, lang=lang, scope=scope, digest=flt.digest, caller=caller)
        try:
            after = (_utc(datetime.fromisoformat(str(payload["t"]))), int(payload["i"]))
            remaining = None if payload.get("n") is None else int(payload["n"])
        except (KeyError, TypeError, ValueError):
            raise QueryParameterInvalid(lang, parameter="nextPageToken", why="malformed", token=True) from None
    elif flt.max_event_count is not None:
        _check_max(session, flt, principal, lang)
    size = per_page if remaining is None else min(per_page, remaining)
    if size <= 0:
        return EventPage([], None)
    rows: Sequence[Any]
    if _fast(flt):  # the common query: no statement to build
        rows = _fast_rows(session.connection(), flt, principal, after, size + 1)
        resume = rows[size - 1] if len(rows) > size else None
        events = _merged_text(session, rows[:size])
    else:
        stmt = _visible(_base(flt), principal)
        if after is not None:
            stmt = stmt.where(_after(flt, *after))
        order = _order_column(flt)
        if flt.descending:
            ordered = stmt.order_by(order.desc(), col(Event.id).desc())
        else:
            ordered = stmt.order_by(order, col(Event.id))
        if not flt.checks:
            rows = list(session.connection().execute(ordered.limit(size + 1)).all())
            resume = rows[size - 1] if len(rows) > size else None
            events = _merged_text(session, rows[:size])
        else:
            events, resume = _scan(session, ordered, flt, size)
    left = None if remaining is None else remaining - len(events)
    if resume is None or (left is not None and left <= 0):
        return EventPage(events, None)
    payload = {"s": scope, "q": flt.digest, "c": caller, "t": _order_value(flt, resume).isoformat(),
               "i": resume.id, "n": left}  # fmt: skip
    return EventPage(events, sign_token(payload, secret))


def _fast(flt: EventFilter) -> bool:
    return bool(flt.matches) and not flt.conditions and not flt.checks


@dataclass(frozen=True, slots=True)
class _FastRow:
    """A row as the driver gives it; its time is read (a text to parse, on SQLite) only for the row a token
    names, not for every row of a page."""

    id: int
    event_id: str
    declaration: bool
    document: str
    raw_at: Any
    declared: bool
    read_at: Any

    @property
    def at(self) -> datetime:
        return self.read_at(self.raw_at) if self.read_at else self.raw_at  # type: ignore[no-any-return]


@functools.lru_cache(maxsize=256)  # bounded: a client chooses the shape (how many keys each MATCH_ names)
def _fast_sql(dialect: str, order_by: str, descending: bool, shape: tuple[tuple[int, int], ...], scoped: bool,
              after: bool) -> tuple[str, tuple[str, ...]]:  # fmt: skip
    """The SQL text of a page of identifier matches, with bind parameters, for one shape of query; what
    :func:`_base`, :func:`_visible` and :func:`_after` build for it, written once instead of built per request."""
    names: list[str] = []

    def bind(name: str) -> str:
        names.append(name)
        return f":{name}" if dialect == "sqlite" else f"%({name})s"

    order = "e.record_time" if order_by == "recordTime" else "e.event_time"
    where = [f"(e.declaration = {bind('false')} OR NOT EXISTS (SELECT 1 FROM epcis_event o "
             f"WHERE o.event_id = e.event_id AND o.declaration = {bind('false')}))"]  # fmt: skip
    for m, (n_roles, n_keys) in enumerate(shape):
        roles = ", ".join(bind(f"r{m}_{i}") for i in range(n_roles))
        keys = ", ".join(bind(f"k{m}_{i}") for i in range(n_keys))
        where.append(f"e.id IN (SELECT event_pk FROM epcis_event_epc WHERE role IN ({roles}) AND key IN ({keys}))")
    if scoped:
        party = bind("party")
        where.append(f"(e.location_party_id = {party} OR e.source_party_id = {party} "
                     f"OR e.destination_party_id = {party})")  # fmt: skip
    if after:
        cmp = "<" if descending else ">"
        at, row_id = bind("at"), bind("row_id")
        where.append(f"({order} {cmp} {at} OR ({order} = {at} AND e.id {cmp} {row_id}))")
    direction = " DESC" if descending else ""
    # the declarations' own partial index (SQLite's planner would take the unique index, a seek into every event's
    # entry; PostgreSQL's chooses the small one by cost)
    hint = " INDEXED BY ix_event_declared" if dialect == "sqlite" else ""
    declared = f"EXISTS (SELECT 1 FROM epcis_event d{hint} WHERE d.event_id = e.event_id AND d.declaration)"
    sql = (f"SELECT e.id, e.event_id, e.declaration, e.document, {order} AS at, {declared} AS declared "
           f"FROM epcis_event e WHERE {' AND '.join(where)} "
           f"ORDER BY {order}{direction}, e.id{direction} LIMIT {bind('limit')}")  # fmt: skip
    return sql, tuple(names)


@functools.cache
def _time_processors(dialect: Any) -> tuple[Any, Any]:
    """How the time column is written to and read from this dialect's driver (SQLite keeps text)."""
    impl = Event.__table__.c.event_time.type.dialect_impl(dialect)  # type: ignore[attr-defined]
    return impl.bind_processor(dialect), impl.result_processor(dialect, None)


def _fast_rows(conn: Any, flt: EventFilter, principal: Principal | None, after: tuple[datetime, int] | None,
               limit: int) -> list[_FastRow]:  # fmt: skip
    dialect = conn.dialect
    scoped = principal is not None and not principal.sees_all
    shape = tuple((len(roles), len(keys)) for roles, keys in flt.matches)
    sql, names = _fast_sql(dialect.name, flt.order_by, flt.descending, shape, scoped, after is not None)
    to_db, from_db = _time_processors(dialect)
    values: dict[str, Any] = {"false": False, "limit": limit}
    for m, (roles, keys) in enumerate(flt.matches):
        values.update({f"r{m}_{i}": r for i, r in enumerate(roles)})
        values.update({f"k{m}_{i}": k for i, k in enumerate(keys)})
    if scoped:
        assert principal is not None
        values["party"] = principal.party_id
    if after is not None:
        values["at"] = to_db(after[0]) if to_db else after[0]
        values["row_id"] = after[1]
    params = {n: values[n] for n in names}
    rows = conn.exec_driver_sql(sql, params)
    return [_FastRow(r[0], r[1], bool(r[2]), r[3], r[4], bool(r[5]), from_db) for r in rows]


def _scan(session: Session, ordered: Any, flt: EventFilter, size: int) -> tuple[list[str], Any]:
    """Read rows in order, keeping those the JSON checks pass, until a page is full, the rows end or the budget
    is spent; the matches and the row the next page starts after (None: no more rows)."""
    found: list[str] = []
    batch, scanned, last = max(2 * size, 200), 0, None
    while True:
        stmt = ordered if last is None else ordered.where(_after(flt, _order_value(flt, last), last.id or 0))
        rows = list(session.connection().execute(stmt.limit(batch)).all())
        for i, (row, text) in enumerate(zip(rows, _merged_text(session, rows), strict=True)):
            scanned += 1
            last = row
            doc = json.loads(text)
            if all(check(doc) for check in flt.checks):
                found.append(text)
                if len(found) == size:
                    return found, None if (i == len(rows) - 1 and len(rows) < batch) else row
        if len(rows) < batch:
            return found, None
        if scanned >= _SCAN_BUDGET:  # a short page; the token goes on from the last row read
            return found, last


def _order_value(flt: EventFilter, row: Any) -> datetime:
    return _utc(row.at)


def _check_max(session: Session, flt: EventFilter, principal: Principal | None, lang: str) -> None:
    """``maxEventCount``: a query that matches more events is refused whole (QueryTooLargeException)."""
    assert flt.max_event_count is not None
    limit = flt.max_event_count
    probe = EventFilter(flt.conditions, flt.checks, flt.order_by, flt.descending, None, None, flt.digest, flt.matches)
    if not probe.checks:
        rows = session.exec(_visible(_base(probe), principal).limit(limit + 1)).all()
        count = len(rows)
    else:
        count = 0
        rows = session.exec(_visible(_base(probe), principal).limit(_SCAN_BUDGET)).all()
        for doc in _merged(session, rows):
            count += all(check(doc) for check in probe.checks)
    if count > limit:
        raise QueryTooLarge(lang, limit=limit)


# --- top-level resources -------------------------------------------------------------------------------------------


@dataclass
class ValuePage:
    values: list[str]
    next_token: str | None


_RESOURCE_COLUMNS: Mapping[str, Any] = {
    "bizSteps": Event.biz_step,
    "bizLocations": Event.biz_location,
    "readPoints": Event.read_point,
    "dispositions": Event.disposition,
}


def list_values(
    *, session: Session, resource: str, principal: Principal | None, per_page: int, token: str | None, secret: bytes,
    lang: str,
) -> ValuePage:  # fmt: skip
    """The distinct values of a top-level resource (``epcs``, ``bizSteps`` …) among the events the caller may see,
    in order, a page at a time; the token holds the last value given."""
    caller = _caller(principal)
    digest = hashlib.sha256(resource.encode()).hexdigest()[:32]
    if resource == "eventTypes":
        values = list(EVENT_TYPES)
        start = 0
        if token is not None:
            start = int(read_token(token, secret, lang=lang, scope=resource, digest=digest, caller=caller).get("k", 0))
        chunk = values[start : start + per_page]
        more = start + per_page < len(values)
        return ValuePage(chunk, sign_token({"s": resource, "q": digest, "c": caller, "k": start + per_page},
                                           secret) if more else None)  # fmt: skip
    if resource == "epcs":
        column: Any = col(EventEpc.key)
        stmt = select(column).join(Event, col(Event.id) == col(EventEpc.event_pk)).where(
            col(EventEpc.role) != "quantity"
        )
    else:
        column = col(_RESOURCE_COLUMNS[resource])
        stmt = select(column).where(column.is_not(None))
    stmt = _visible(stmt, principal)
    if token is not None:
        payload = read_token(token, secret, lang=lang, scope=resource, digest=digest, caller=caller)
        stmt = stmt.where(column > str(payload.get("k", "")))
    rows = [str(v) for v in session.exec(stmt.distinct().order_by(column).limit(per_page + 1)).all()]
    more = len(rows) > per_page
    rows = rows[:per_page]
    next_token = sign_token({"s": resource, "q": digest, "c": caller, "k": rows[-1]}, secret) if more else None
    return ValuePage(rows, next_token)


def resource_value(*, session: Session, resource: str, value: str, principal: Principal | None, lang: str) -> None:
    """Nothing when ``value`` is a value of ``resource`` among the events the caller may see; else a 404."""
    if resource == "eventTypes":
        known = value in EVENT_TYPES
    else:
        if resource == "epcs":
            stmt: Any = select(EventEpc.id).join(Event, col(Event.id) == col(EventEpc.event_pk)).where(
                col(EventEpc.key) == key_of(value), col(EventEpc.role) != "quantity"
            )
        else:
            column = _RESOURCE_COLUMNS[resource]
            wanted = normalise_vocab(value) if resource in ("bizSteps", "dispositions") else value
            stmt = select(Event.id).where(col(column) == wanted)
        known = session.exec(_visible(stmt, principal).limit(1)).first() is not None
    if not known:
        raise NoSuchResource(lang, kind=resource, name=value)


def event_document(*, session: Session, event_id: str, principal: Principal | None, lang: str) -> str:
    """One event's JSON text by its eventID, with its error declaration merged in; unknown or not visible: one 404."""
    rows = list(session.exec(_visible(_base(EventFilter([col(Event.event_id) == event_id])), principal).limit(1)))
    if not rows:
        raise NoSuchResource(lang, kind="event", name=event_id)
    return _merged_text(session, rows)[0]


def event_by_id(*, session: Session, event_id: str, principal: Principal | None, lang: str) -> dict[str, Any]:
    """:func:`event_document`, parsed."""
    return dict(json.loads(event_document(session=session, event_id=event_id, principal=principal, lang=lang)))
