"""EPCIS 2.0 master data captured in a document's header (``epcisHeader.epcisMasterData.vocabularyList``).

Capture (:func:`scanning.epcis.capture_document`) reads the header's vocabularies (:func:`header_elements`, which
names the field of anything malformed), decides what each element would change (:func:`plan_elements`) under the
store's lock, and writes it with the capture's events (:func:`apply_plan`): all or nothing, as the events are.

Who may write an element. Master data describes places and things that other parties' evidence refers to (a
``bizLocation`` named "Guangzhou DC" is what an auditor reads), so a party's key must not rewrite another party's:

- an element nobody has described yet is stored, owned by the party whose key sent it (the first writer);
- the same element sent again unchanged is acknowledged and changes nothing, whoever sends it;
- a change is accepted from the owning party, or from any brand-side key (the brand's own systems, admin and plant
  keys, a brand-owned party), which then owns it: once the brand has described an element, only the brand changes
  it, and a party that described a brand location first cannot keep the brand from correcting it;
- any other change is refused, the whole document with it (403, ``vocabulary_not_owned``, each element named), in
  ``proceed`` mode too: the header is not an event, and a document half of whose description of a place was
  refused would store a place that nobody described.

An element's attributes and children are replaced by each accepted capture (the latest description is the
element's description), never merged attribute by attribute: a capture that drops an attribute removes it.

Reading (:func:`vocabulary_page`, ``GET /epcis/vocabularies``). GS1's REST binding has no master-data resource:
EPCIS 2.0 dropped the 1.x master-data query, and its top-level resources (``/bizLocations/{id}``…) answer a
``ResourceCollection`` whose members may only be ``events``. So master data is served beside them, under
``/epcis/vocabularies``, in the very shape the header carries it (``vocabularyList`` of ``type`` and
``vocabularyElementList``), filtered by ``type`` and ``id``, paged as the binding pages (``perPage``,
``nextPageToken``, ``Link``). A key sees the elements its party owns; the brand's full-view roles see all.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session, col, select

from ledger.entitlements import is_brand_side
from ledger.store import EPCIS_CONTEXT
from scanning.epcis_errors import QueryParameterInvalid, VocabularyNotOwned
from scanning.errors import InvalidDocument
from scanning.query import read_token, sign_token
from scanning.rest import context_prefixes
from traceability.auth.service import Principal, scope_to_party
from traceability.errors import Problem
from traceability.models import VocabularyElement
from traceability.models.base import utcnow

__all__ = [
    "HeaderElement",
    "Plan",
    "apply_plan",
    "element_read",
    "header_elements",
    "plan_elements",
    "vocabulary_document",
    "vocabulary_page",
]

_ID_CHARS = 300
_MAX_ELEMENTS = 10_000
_HEADER = "/epcisHeader/epcisMasterData/vocabularyList"
_REASONS = 20


def _used(value: object, known: Mapping[str, str], into: dict[str, str]) -> None:
    """The prefixes of ``known`` that keys or string values inside ``value`` use."""
    if isinstance(value, dict):
        for k, v in value.items():
            _used(k, known, into)
            _used(v, known, into)
    elif isinstance(value, list):
        for v in value:
            _used(v, known, into)
    elif isinstance(value, str):
        prefix, colon, rest = value.partition(":")
        if colon and prefix in known and not rest.startswith("//"):
            into[prefix] = known[prefix]


@dataclass(frozen=True, slots=True)
class HeaderElement:
    """One vocabulary element of a header: its vocabulary type, id, attributes and children, as EPCIS JSON has them."""

    vocabulary_type: str
    element_id: str
    attributes: list[Any]
    children: list[str]
    path: str
    context: dict[str, str] = field(default_factory=dict)
    """The document's JSON-LD prefixes that the attributes use."""

    def content(self) -> tuple[str, str, str | None]:
        context = _canonical(self.context) if self.context else None
        return _canonical(self.attributes), _canonical(self.children), context


def _canonical(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def has_nul(value: object) -> bool:
    """Whether a NUL character hides anywhere in a JSON value (no database text column can hold one); the
    capture of events asks it too."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(has_nul(k) or has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(has_nul(v) for v in value)
    return False


def _uri(value: object, where: str, problems: list[Problem]) -> str | None:
    if not isinstance(value, str) or not value.strip():
        problems.append(Problem(where, f"{where} must be a non-empty string (a URI)"))
        return None
    if len(value) > _ID_CHARS:
        problems.append(Problem(where, f"{where} is {len(value):,} characters long; at most {_ID_CHARS} are accepted"))
        return None
    if "\x00" in value:
        problems.append(Problem(where, f"{where} contains a NUL character"))
        return None
    return value.strip()


def _element(
    vtype: str, raw: object, where: str, problems: list[Problem], known: Mapping[str, str]
) -> HeaderElement | None:
    if not isinstance(raw, dict):
        problems.append(Problem(where, f"{where} must be an object (a vocabulary element)"))
        return None
    element_id = _uri(raw.get("id"), f"{where}/id", problems)
    attributes = raw.get("attributes", [])
    children = raw.get("children", [])
    ok = element_id is not None
    if not isinstance(attributes, list):
        problems.append(Problem(f"{where}/attributes", f"{where}/attributes must be an array"))
        ok = False
    else:
        for i, attribute in enumerate(attributes):
            at = f"{where}/attributes/{i}"
            if not isinstance(attribute, dict) or _uri(attribute.get("id"), f"{at}/id", problems) is None:
                if not isinstance(attribute, dict):
                    problems.append(Problem(at, f"{at} must be an object with an id and an attribute"))
                ok = False
            elif has_nul(attribute):
                problems.append(Problem(at, f"{at} contains a NUL character"))
                ok = False
    if not isinstance(children, list):
        problems.append(Problem(f"{where}/children", f"{where}/children must be an array of ids"))
        ok = False
    else:
        for i, child in enumerate(children):  # every bad child named, not only the first
            ok = _uri(child, f"{where}/children/{i}", problems) is not None and ok
    if not ok or element_id is None:
        return None
    used: dict[str, str] = {}
    _used(attributes, known, used)
    return HeaderElement(vtype, element_id, list(attributes), [str(c).strip() for c in children], where,
                         dict(sorted(used.items())))  # fmt: skip


def header_elements(document: Mapping[str, Any]) -> list[HeaderElement]:
    """The vocabulary elements of a document's header (none without one); InvalidDocument naming each bad field.

    An element given twice in one document is its last description, as two captures in a row would leave it.
    """
    header = document.get("epcisHeader")
    if header is None:
        return []
    if not isinstance(header, dict):
        raise InvalidDocument("epcisHeader must be an object", [Problem("/epcisHeader", "not an object")])
    master = header.get("epcisMasterData")
    if master is None:
        return []
    if not isinstance(master, dict) or not isinstance(master.get("vocabularyList", []), list):
        raise InvalidDocument("epcisMasterData must be an object holding a vocabularyList array",
                              [Problem("/epcisHeader/epcisMasterData", "not a vocabularyList")])  # fmt: skip
    problems: list[Problem] = []
    known = context_prefixes(document.get("@context"))
    found: dict[tuple[str, str], HeaderElement] = {}
    for v, vocabulary in enumerate(master.get("vocabularyList", [])):
        where = f"{_HEADER}/{v}"
        if not isinstance(vocabulary, dict):
            problems.append(Problem(where, f"{where} must be an object (a vocabulary)"))
            continue
        vtype = _uri(vocabulary.get("type"), f"{where}/type", problems)
        elements = vocabulary.get("vocabularyElementList", [])
        if not isinstance(elements, list):
            at = f"{where}/vocabularyElementList"
            problems.append(Problem(at, f"{at} must be an array"))
            continue
        for e, raw in enumerate(elements):
            element = _element(vtype or "", raw, f"{where}/vocabularyElementList/{e}", problems, known)
            if element is not None and vtype is not None:
                found[(vtype, element.element_id)] = element
        if len(problems) >= _REASONS:
            break
    if problems:
        raise InvalidDocument(f"{len(problems)} problem(s) in the header's master data; nothing was stored",
                              problems[:_REASONS])  # fmt: skip
    if len(found) > _MAX_ELEMENTS:
        raise InvalidDocument(f"the header holds {len(found):,} vocabulary elements; at most {_MAX_ELEMENTS:,} are "
                              "captured at once", [Problem(_HEADER, "too many elements")])  # fmt: skip
    return list(found.values())


@dataclass
class Plan:
    """What a header would change: elements to insert, rows to update (with their new content), refusals."""

    inserts: list[HeaderElement] = field(default_factory=list)
    updates: list[tuple[VocabularyElement, HeaderElement]] = field(default_factory=list)
    unchanged: int = 0
    refused: list[HeaderElement] = field(default_factory=list)
    brand: bool = False
    owner: str | None = None


def _existing(session: Session, elements: Sequence[HeaderElement]) -> dict[tuple[str, str], VocabularyElement]:
    found: dict[tuple[str, str], VocabularyElement] = {}
    ids = sorted({e.element_id for e in elements})
    for start in range(0, len(ids), 500):
        stmt = select(VocabularyElement).where(col(VocabularyElement.element_id).in_(ids[start : start + 500]))
        for row in session.exec(stmt).all():
            found[(row.vocabulary_type, row.element_id)] = row
    return found


def plan_elements(
    *, session: Session, principal: Principal | None, party_id: str | None, elements: Sequence[HeaderElement],
    lang: str,
) -> Plan:  # fmt: skip
    """Decide what the header's elements change, under the ownership rule of this module; VocabularyNotOwned (403)
    naming every element the caller may not change. Run it under the store's lock, so two writers are ordered."""
    brand = is_brand_side(principal, session)
    owner = principal.party_id if principal is not None else party_id
    plan = Plan(brand=brand, owner=owner)
    if not elements:
        return plan
    existing = _existing(session, elements)
    for element in elements:
        row = existing.get((element.vocabulary_type, element.element_id))
        if row is None:
            plan.inserts.append(element)
        elif (row.attributes, row.children, row.context) == element.content():
            plan.unchanged += 1
        elif brand or (not row.owner_brand and owner is not None and row.owner_party_id == owner):
            plan.updates.append((row, element))
        else:
            plan.refused.append(element)
    if plan.refused:
        raise VocabularyNotOwned(lang, elements=[{"path": e.path, "type": e.vocabulary_type, "id": e.element_id}
                                                 for e in plan.refused])  # fmt: skip
    return plan


def apply_plan(*, session: Session, plan: Plan, capture_id: int | None) -> int:
    """Write a plan (inserts and updates, with the capture that made them); the number of elements changed."""
    now = utcnow()
    for element in plan.inserts:
        attributes, children, context = element.content()
        session.add(VocabularyElement(
            vocabulary_type=element.vocabulary_type, element_id=element.element_id, attributes=attributes,
            children=children, context=context, owner_party_id=plan.owner, owner_brand=plan.brand,
            capture_id=capture_id, created_at=now, updated_at=now,
        ))  # fmt: skip
    for row, element in plan.updates:
        row.attributes, row.children, row.context = element.content()
        row.capture_id = capture_id
        row.updated_at = now
        if plan.brand:  # the brand's description is the brand's: from now on only the brand changes it
            row.owner_party_id, row.owner_brand = plan.owner, True
        session.add(row)
    session.flush()
    return len(plan.inserts) + len(plan.updates)


# --- reading --------------------------------------------------------------------------------------------------------


def _caller(principal: Principal) -> str:
    return f"{principal.role.value}:{principal.party_id}"


def _digest(types: Sequence[str], ids: Sequence[str]) -> str:
    text = _canonical([sorted(types), sorted(ids)])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def vocabulary_page(
    *, session: Session, principal: Principal, types: Sequence[str], ids: Sequence[str], per_page: int,
    token: str | None, secret: bytes, lang: str,
) -> tuple[dict[str, Any], str | None]:  # fmt: skip
    """The master data the caller may see (its party's elements; a full-view role: all), filtered by vocabulary
    ``types`` and element ``ids``, in the header's own shape, with the signed token of the next page (or None)."""
    for name, values in (("type", types), ("id", ids)):
        for value in values:
            if len(value) > _ID_CHARS or "\x00" in value:
                raise QueryParameterInvalid(lang, parameter=name, why=f"at most {_ID_CHARS} characters, no NUL")
    digest = _digest(types, ids)
    stmt = scope_to_party(select(VocabularyElement), principal, VocabularyElement.owner_party_id)
    if types:
        stmt = stmt.where(col(VocabularyElement.vocabulary_type).in_(list(types)))
    if ids:
        stmt = stmt.where(col(VocabularyElement.element_id).in_(list(ids)))
    if token is not None:
        payload = read_token(token, secret, lang=lang, scope="vocabularies", digest=digest, caller=_caller(principal))
        after = payload.get("k")
        if not isinstance(after, int):
            raise QueryParameterInvalid(lang, parameter="nextPageToken", why="malformed", token=True)
        stmt = stmt.where(col(VocabularyElement.id) > after)
    rows = list(session.exec(stmt.order_by(col(VocabularyElement.id)).limit(per_page + 1)).all())
    more = len(rows) > per_page
    rows = rows[:per_page]
    next_token = None
    if more:
        next_token = sign_token({"s": "vocabularies", "q": digest, "c": _caller(principal), "k": rows[-1].id}, secret)
    return vocabulary_document(rows), next_token


def element_read(row: VocabularyElement) -> dict[str, Any]:
    """One element as EPCIS JSON writes it in a header (``children`` only when it has some)."""
    out: dict[str, Any] = {"id": row.element_id, "attributes": json.loads(row.attributes)}
    children = json.loads(row.children)
    if children:
        out["children"] = children
    return out


def vocabulary_document(rows: Sequence[VocabularyElement]) -> dict[str, Any]:
    """Elements grouped by vocabulary type, in the order met, as ``epcisMasterData`` holds them."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    prefixes: dict[str, str] = {}
    for row in rows:
        grouped.setdefault(row.vocabulary_type, []).append(element_read(row))
        prefixes.update(json.loads(row.context) if row.context else {})
    return {
        "@context": [EPCIS_CONTEXT, dict(sorted(prefixes.items()))] if prefixes else EPCIS_CONTEXT,
        "vocabularyList": [{"type": t, "vocabularyElementList": e} for t, e in grouped.items()],
    }
