"""Master-data import: validate the whole document first, then upsert; idempotent by construction."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import ValidationError
from sqlmodel import Session, SQLModel, col, select

from traceability.auth.service import Principal, scope_to_party
from traceability.errors import NotFound, Problem, ValidationFailed
from traceability.gs1 import is_valid_gln, is_valid_gtin14
from traceability.masterdata.errors import problem, word
from traceability.masterdata.schemas import ImportSummary, MasterDataDocument, TerritoryIn
from traceability.models import Party, PartyKind, PartyTerritory, Product, StoreSupplier, Territory

__all__ = [
    "get_party",
    "import_masterdata",
    "list_parties",
    "list_products",
    "list_territories",
    "parse_document",
    "territory_ancestors",
]

_KINDS = ("territories", "parties", "products")


def parse_document(raw: Any) -> MasterDataDocument:
    """Parse JSON into the document model, turning every schema error into a located problem."""
    try:
        return MasterDataDocument.model_validate(raw)
    except ValidationError as exc:
        problems = [
            Problem(path="/" + "/".join(str(p) for p in err["loc"]), reason=err["msg"])
            for err in exc.errors(include_url=False)
        ]
        raise ValidationFailed("master data document is invalid; nothing was written", problems) from None


def _duplicates(values: Iterable[str]) -> set[str]:
    seen: set[str] = set()
    dup: set[str] = set()
    for v in values:
        (dup if v in seen else seen).add(v)
    return dup


def _check(session: Session, doc: MasterDataDocument, lang: str) -> list[Problem]:
    problems: list[Problem] = []
    add = problems.append

    stored_parents = dict(session.exec(select(Territory.id, Territory.parent_id)).all())
    doc_parents = {t.id: t.parent for t in doc.territories}
    parents: dict[str, str | None] = {**stored_parents, **doc_parents}
    dup_t = _duplicates(t.id for t in doc.territories)
    for i, t in enumerate(doc.territories):
        if t.id in dup_t:
            add(problem(f"/territories/{i}/id", "territory_duplicate", lang, id=t.id))
        if t.parent is not None and t.parent not in parents:
            add(problem(f"/territories/{i}/parent", "territory_unknown_parent", lang, parent=t.parent))
    for i, t in enumerate(doc.territories):
        seen = {t.id}
        node = parents.get(t.id)
        while node is not None:
            if node in seen:
                add(problem(f"/territories/{i}/parent", "territory_cycle", lang, id=t.id, through=node))
                break
            seen.add(node)
            node = parents.get(node)

    stored_parties = {p.id: p for p in session.exec(select(Party)).all()}
    doc_parties = {p.id: p for p in doc.parties}
    party_kind: dict[str, PartyKind] = {pid: PartyKind(p.kind) for pid, p in stored_parties.items()}
    party_kind.update({pid: p.kind for pid, p in doc_parties.items()})
    gln_owner = {p.gln: pid for pid, p in stored_parties.items() if pid not in doc_parties}
    dup_p = _duplicates(p.id for p in doc.parties)
    dup_gln = _duplicates(p.gln for p in doc.parties)
    for i, p in enumerate(doc.parties):
        at = f"/parties/{i}"
        if p.id in dup_p:
            add(problem(f"{at}/id", "party_duplicate", lang, id=p.id))
        if not is_valid_gln(p.gln):
            add(problem(f"{at}/gln", "gln_invalid", lang, gln=p.gln))
        elif p.gln in dup_gln:
            add(problem(f"{at}/gln", "gln_repeated", lang, gln=p.gln))
        elif p.gln in gln_owner:
            add(problem(f"{at}/gln", "gln_taken", lang, gln=p.gln, owner=gln_owner[p.gln]))
        if p.territory not in parents:
            add(problem(f"{at}/territory", "territory_unknown", lang, id=p.territory))
        for j, tid in enumerate(p.authorized_territories):
            if tid not in parents:
                add(problem(f"{at}/authorized_territories/{j}", "territory_unknown", lang, id=tid))
        if p.authorized_territories and p.kind is not PartyKind.distributor:
            add(problem(f"{at}/authorized_territories", "authorised_not_distributor", lang))
        for j, sid in enumerate(p.supplied_by):
            if sid not in party_kind:
                add(problem(f"{at}/supplied_by/{j}", "party_unknown", lang, id=sid))
            elif party_kind[sid] is not PartyKind.distributor:
                add(problem(f"{at}/supplied_by/{j}", "supplier_not_distributor", lang, id=sid, kind=party_kind[sid]))
        if p.supplied_by and p.kind is not PartyKind.store:
            add(problem(f"{at}/supplied_by", "supplied_not_store", lang))
        if p.owner is not None:
            if p.owner not in party_kind:
                add(problem(f"{at}/owner", "party_unknown", lang, id=p.owner))
            elif p.owner == p.id:
                add(problem(f"{at}/owner", "owner_self", lang))
        if (p.lat is None) != (p.lon is None):
            add(problem(f"{at}/{'lon' if p.lon is None else 'lat'}", "lat_lon_pair", lang))

    dup_g = _duplicates(p.gtin for p in doc.products)
    for i, pr in enumerate(doc.products):
        at = f"/products/{i}"
        if not is_valid_gtin14(pr.gtin):
            add(problem(f"{at}/gtin", "gtin_invalid", lang, gtin=pr.gtin))
        elif pr.gtin in dup_g:
            add(problem(f"{at}/gtin", "product_duplicate", lang, gtin=pr.gtin))
        if pr.case_gtin is not None and not is_valid_gtin14(pr.case_gtin):
            add(problem(f"{at}/case_gtin", "gtin_invalid", lang, gtin=pr.case_gtin))
        if (pr.case_gtin is None) != (pr.units_per_case is None):
            add(problem(f"{at}/units_per_case", "case_pair", lang))
    return problems


def _upsert(session: Session, row: SQLModel, existing: SQLModel | None) -> str:
    """Insert, update or leave one row; says which, so a re-import can report that nothing changed."""
    if existing is None:
        session.add(row)
        return "created"
    changed = False
    for name in type(row).model_fields:
        new = getattr(row, name)
        if getattr(existing, name) != new:
            setattr(existing, name, new)
            changed = True
    return "updated" if changed else "unchanged"


def _sync_links(
    session: Session,
    model: type[PartyTerritory] | type[StoreSupplier],
    key: str,
    other: str,
    owner_id: str,
    wanted: Sequence[str],
) -> bool:
    """Make the link rows of one party equal ``wanted``; says whether anything changed."""
    rows = session.exec(select(model).where(col(getattr(model, key)) == owner_id)).all()
    have = {getattr(r, other) for r in rows}
    target = set(wanted)
    for r in rows:
        if getattr(r, other) not in target:
            session.delete(r)
    for value in target - have:
        session.add(model(**{key: owner_id, other: value}))
    return have != target


def _parents_first(doc: MasterDataDocument) -> list[TerritoryIn]:
    """Territories ordered so that every parent is written before its children."""
    pending = {t.id: t for t in doc.territories}
    ordered: list[TerritoryIn] = []
    while pending:
        ready = sorted(tid for tid, t in pending.items() if t.parent is None or t.parent not in pending)
        ordered.extend(pending.pop(tid) for tid in ready)
    return ordered


def import_masterdata(*, session: Session, raw: Any, lang: str = "en") -> ImportSummary:
    """Validate the whole document (every problem, with its path, worded in ``lang``) and upsert it; nothing is
    written if invalid."""
    doc = parse_document(raw)
    problems = _check(session, doc, lang)
    if problems:
        raise ValidationFailed(word("document_refused", lang, count=len(problems)), problems)

    result: dict[str, dict[str, int]] = {o: dict.fromkeys(_KINDS, 0) for o in ("created", "updated", "unchanged")}

    for t in _parents_first(doc):
        row = Territory(id=t.id, name=t.name, parent_id=t.parent)
        result[_upsert(session, row, session.get(Territory, t.id))]["territories"] += 1
        session.flush()

    # Owners may come later in the same document: write the parties first, then their links.
    outcomes: dict[str, str] = {}
    for p in doc.parties:
        existing = session.get(Party, p.id)
        party_row = Party(
            id=p.id, kind=p.kind, name=p.name, gln=p.gln, territory_id=p.territory,
            owner_id=existing.owner_id if existing else None,
            member_store_no=p.member_store_no, lat=p.lat, lon=p.lon,
        )  # fmt: skip
        outcomes[p.id] = _upsert(session, party_row, existing)
    session.flush()
    for p in doc.parties:
        party = session.get(Party, p.id)
        assert party is not None
        changed = party.owner_id != p.owner
        party.owner_id = p.owner
        changed |= _sync_links(session, PartyTerritory, "party_id", "territory_id", p.id, p.authorized_territories)
        changed |= _sync_links(session, StoreSupplier, "store_id", "distributor_id", p.id, p.supplied_by)
        if changed and outcomes[p.id] == "unchanged":
            outcomes[p.id] = "updated"
        result[outcomes[p.id]]["parties"] += 1
    session.flush()

    for pr in doc.products:
        product_row = Product(
            gtin=pr.gtin, name=pr.name, unit_price=pr.unit_price, currency=pr.currency,
            case_gtin=pr.case_gtin, units_per_case=pr.units_per_case,
        )  # fmt: skip
        result[_upsert(session, product_row, session.get(Product, pr.gtin))]["products"] += 1
    session.flush()
    return ImportSummary(**result)


def territory_ancestors(session: Session, territory_id: str) -> list[str]:
    """The territory and its ancestors, nearest first; what "inside a territory" is decided on."""
    parents = dict(session.exec(select(Territory.id, Territory.parent_id)).all())
    chain: list[str] = []
    node: str | None = territory_id
    while node is not None and node not in chain:
        chain.append(node)
        node = parents.get(node)
    return chain


def list_parties(*, session: Session, principal: Principal, kind: PartyKind | None = None) -> list[Party]:
    """Parties the principal may see, by id."""
    stmt = scope_to_party(select(Party), principal, Party.id).order_by(col(Party.id))
    if kind is not None:
        stmt = stmt.where(Party.kind == kind)
    return list(session.exec(stmt).all())


def get_party(*, session: Session, principal: Principal, party_id: str) -> Party:
    """One party, or NotFound when it does not exist or is outside the principal's scope (no existence leak)."""
    stmt = scope_to_party(select(Party).where(Party.id == party_id), principal, Party.id)
    party = session.exec(stmt).first()
    if party is None:
        raise NotFound(f"no party {party_id!r}", party=party_id)
    return party


def list_territories(*, session: Session) -> list[Territory]:
    """The whole territory tree; it is not secret within the brand's network."""
    return list(session.exec(select(Territory).order_by(col(Territory.id))).all())


def list_products(*, session: Session) -> list[Product]:
    """Every product with its price."""
    return list(session.exec(select(Product).order_by(col(Product.gtin))).all())
