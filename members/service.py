"""The member registry: register, look up, list and import members, and register those first seen on a sale.

A member is known by the keyed hash of her phone (:mod:`traceability.privacy`); the phone is hashed at the door and
never reaches storage, logs or error bodies. Her **home store** is the store that registered her, or the store of the
sale she was first seen on; it never changes afterwards, whoever registers or imports her again. Who sees what:

- a store lists only its own members (the brand promised its stores never to hand their members to anyone), and
  registers only at its own store; the brand's roles (admin, finance, auditor) see every member;
- points are brand-wide (``rebates.service.member_summary``): any store that has her phone sees her balance and her
  home store, but a member of another store shows it only her id, never her name or her baby's birth date.

Services add and flush; the request or the command commits. Messages are worded in ``lang`` (zh-CN or en).
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any, TypeVar

from sqlalchemy import func, or_
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from ledger.history import StoredEvent, chunks
from ledger.store import Listener
from members.errors import (
    ImportInvalid,
    InvalidMember,
    InvalidPhone,
    MemberNotFound,
    NotOwnStore,
    RowProblem,
    UnknownStore,
    word,
)
from rebates.policy import Policy
from rebates.service import member_summary
from traceability.auth.service import Principal, scope_to_party
from traceability.errors import Forbidden, TraceabilityError
from traceability.i18n import Catalogue, messages, wording
from traceability.models import Member, Party, PartyKind, Role
from traceability.models.base import utcnow
from traceability.privacy import MEMBER_KEYS, is_member_hash, member_hash
from traceability.search import contains, needle, row_number

__all__ = [
    "ImportResult",
    "MemberPage",
    "MemberView",
    "Registration",
    "hash_phone",
    "import_members",
    "list_members",
    "lookup",
    "member_points",
    "members_listener",
    "register",
    "register_from_sales",
]

_MESSAGES: Catalogue = messages("members.errors")
_WORDS: Catalogue = messages("members.service:words")

NAME_MAX = 50
SOURCE_MAX = 64
REGISTRARS = frozenset({Role.store, Role.admin})
"""Roles that may register or import members: a store at its own store, the brand's admin at any store."""
_PHONE = re.compile(r"\+?[0-9 ()\-]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_DATE = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?|(\d{4})(\d{2})(\d{2})")
_STAGE = re.compile(r"([1-4一二三四])\s*段?")
_STAGE_DIGITS = {"一": 1, "二": 2, "三": 3, "四": 4}
_YES = frozenset({"yes", "y", "true", "1", "是", "同意", "已同意"})
_NO = frozenset({"", "no", "n", "false", "0", "否", "不同意", "未同意"})
_CONSENT_SKEW = timedelta(minutes=5)
"""A consent time a little ahead of our clock is a till's clock, not the future."""


_E = TypeVar("_E", bound=TraceabilityError)


class _Bad(Exception):
    """A value that breaks a rule: the reason code (a key of the catalogue) and the parameters of its message."""

    def __init__(self, reason: str, **params: Any) -> None:
        super().__init__(reason)
        self.reason = reason
        self.params = params

    def as_error(self, cls: type[_E], *, field: str) -> _E:
        """The public error ``cls`` worded from this reason's key when rendered (so in the caller's language), with
        the field and the reason in its body."""
        error = cls(wording(_MESSAGES, self.reason, "en", **self.params), field=field, reason=self.reason)
        error.words = (_MESSAGES, self.reason, self.params)
        return error


def _aware(t: datetime) -> datetime:
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)


# --- values -----------------------------------------------------------------------------------------------------


def _check_phone(phone: str) -> None:
    text = phone.strip()
    if not _PHONE.fullmatch(text):
        raise _Bad("phone_characters")
    digits = sum(c.isdigit() for c in text)
    if not 6 <= digits <= 15:
        raise _Bad("invalid_phone", digits=digits)


def hash_phone(*, phone: str, pepper: bytes, lang: str = "en") -> str:
    """The member's identity from her phone, refused in words that never repeat the number."""
    try:
        _check_phone(phone)
    except _Bad as bad:
        raise bad.as_error(InvalidPhone, field="member") from None
    return member_hash(phone, pepper)


def _text(value: str | None, name: str, limit: int) -> str | None:
    """A short free text: runs of white space made one space; empty is None; control characters refused."""
    if value is None:
        return None
    if _CONTROL.search(value.replace("\t", " ")):
        raise _Bad("control_characters", field=name)
    value = " ".join(value.split())
    if not value:
        return None
    if len(value) > limit:
        raise _Bad("too_long", field=name, max=limit)
    return value


def _birth_date_range(today: date) -> tuple[date, date]:
    """Formula is for babies and young children, and a member may join before the birth (maternal formula)."""
    return date(today.year - 12, 1, 1), today + timedelta(days=300)


def _check_birth_date(value: date | None, today: date) -> date | None:
    if value is None:
        return None
    low, high = _birth_date_range(today)
    if not low <= value <= high:
        raise _Bad("date_out_of_range", field="baby_birth_date", low=low.isoformat(), high=high.isoformat())
    return value


def _check_stage(value: int | None) -> int | None:
    if value is not None and not 1 <= value <= 4:
        raise _Bad("bad_stage")
    return value


def _check_consent(value: datetime | None, now: datetime) -> datetime | None:
    if value is None:
        return None
    value = _aware(value)
    if value > now + _CONSENT_SKEW:
        raise _Bad("future_consent")
    return value


# --- stores -----------------------------------------------------------------------------------------------------


def _authorise_registrar(principal: Principal) -> None:
    if principal.role not in REGISTRARS:
        raise Forbidden.keyed(_WORDS, "register_role", role=principal.role.value, detail={"role": principal.role.value})


def _store(session: Session, store_id: str) -> Party:
    party = session.get(Party, store_id)
    if party is None or party.kind != PartyKind.store:
        raise UnknownStore.keyed(_MESSAGES, "unknown_store", store=store_id, detail={"store": store_id})
    return party


def _own_store(principal: Principal, store_id: str | None) -> str | None:
    """The store a request is about: a store's key means its own and may name no other; brand roles name any."""
    if principal.role is Role.store:
        if store_id is not None and store_id != principal.party_id:
            raise NotOwnStore.keyed(_MESSAGES, "not_own_store", own=principal.party_id, detail={"store": store_id})
        return principal.party_id
    return store_id


# --- register ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Registration:
    """The member registered, and whether this call created her (``False``: she was a member already)."""

    member: Member
    created: bool

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.member.id, "home_store": self.member.home_store_id, "created": self.created}


def _insert_new(session: Session, rows: Sequence[dict[str, Any]]) -> int:
    """Insert members whose phone hash is not taken yet; a concurrent registration of the same phone wins quietly
    (``ON CONFLICT DO NOTHING``), so two tills or a till and a capture never fail each other. Rows inserted."""
    if not rows:
        return 0
    dialect = session.get_bind().dialect.name
    table: Any = Member.__table__  # type: ignore[attr-defined]
    if dialect == "postgresql":
        stmt: Any = postgresql.insert(table).on_conflict_do_nothing(index_elements=["phone_hash"])
    elif dialect == "sqlite":
        stmt = sqlite.insert(table).on_conflict_do_nothing(index_elements=["phone_hash"])
    else:  # pragma: no cover - the project runs on SQLite and PostgreSQL only
        raise NotImplementedError(f"no insert-or-skip for {dialect}")
    if len(rows) == 1:
        # RETURNING, not the row count: through the ORM's insert path PostgreSQL's driver reports -1 for it.
        inserted = session.connection().execute(stmt.returning(table.c.id), rows[0]).first()
        return 0 if inserted is None else 1
    for batch in chunks(rows, 500):
        session.execute(stmt, batch)
    return len(rows)  # an executemany's row count is the driver's guess: callers count what was new beforehand


def _by_hash(session: Session, phone_hash: str) -> Member | None:
    return session.exec(select(Member).where(Member.phone_hash == phone_hash)).first()


def register(
    *,
    session: Session,
    principal: Principal,
    phone_hash: str,
    store_id: str | None = None,
    name: str | None = None,
    baby_birth_date: date | None = None,
    baby_stage: int | None = None,
    source: str | None = None,
    consent_at: datetime | None = None,
    lang: str = "en",
    now: datetime | None = None,
) -> Registration:
    """Register a member at a store (a store's key: its own); an existing member keeps her home store, see the module.

    Registering a phone that is a member already creates nothing and moves nothing: the answer is the existing id and
    home store. Her home store (or the brand's admin) may fill in what is still empty (name, baby's birth date or
    stage, consent), never overwrite it; another store changes nothing.
    """
    _authorise_registrar(principal)
    if not is_member_hash(phone_hash):
        raise InvalidPhone.keyed(_MESSAGES, "invalid_phone", digits="?",
                                 detail={"field": "member", "reason": "invalid_phone"})  # fmt: skip
    now = _aware(now or utcnow())
    target = _own_store(principal, store_id)
    if target is None:
        raise InvalidMember.keyed(_MESSAGES, "store_required", detail={"field": "store", "reason": "store_required"})
    _store(session, target)
    current = "?"
    try:
        current = "name"
        name = _text(name, "name", NAME_MAX)
        current = "source"
        source = _text(source, "source", SOURCE_MAX)
        current = "baby_birth_date"
        baby_birth_date = _check_birth_date(baby_birth_date, now.date())
        current = "baby_stage"
        baby_stage = _check_stage(baby_stage)
        current = "consent"
        consent_at = _check_consent(consent_at, now)
    except _Bad as bad:
        raise bad.as_error(InvalidMember, field=current) from None
    row = {"phone_hash": phone_hash, "home_store_id": target, "name": name, "baby_birth_date": baby_birth_date,
           "baby_stage": baby_stage, "source": source or "pos", "consent_at": consent_at,
           "created_at": now}  # fmt: skip
    created = _insert_new(session, [row]) == 1
    member = _by_hash(session, phone_hash)
    assert member is not None  # inserted now, or by whoever registered her first
    if created:
        return Registration(member, True)
    session.refresh(member)
    if member.home_store_id == target or principal.role is Role.admin:
        for attr, value in (("name", name), ("baby_birth_date", baby_birth_date), ("baby_stage", baby_stage),
                            ("consent_at", consent_at)):  # fmt: skip
            if value is not None and getattr(member, attr) is None:
                setattr(member, attr, value)
        session.add(member)
        session.flush()
    return Registration(member, False)


# --- look up and points -----------------------------------------------------------------------------------------


def _personal(member: Member) -> dict[str, Any]:
    return {
        "name": member.name,
        "baby_birth_date": member.baby_birth_date.isoformat() if member.baby_birth_date else None,
        "baby_stage": member.baby_stage,
        "source": member.source,
        "consent_at": _aware(member.consent_at).isoformat() if member.consent_at else None,
        "created_at": _aware(member.created_at).isoformat(),
    }


def _may_see_personal(principal: Principal, member: Member) -> bool:
    return principal.sees_all or member.home_store_id == principal.party_id


@dataclass
class MemberView:
    """A member as the asking party may see her: id, home store, whether she is its own, her brand-wide points;
    her personal data only for her home store and the brand's roles."""

    id: int
    home_store: str
    own: bool
    points: dict[str, Any]
    personal: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "home_store": self.home_store, "own": self.own}
        if self.personal is not None:
            out.update(self.personal)
        out.update(self.points)
        return out


def _points(session: Session, phone_hash: str, policy: Policy) -> dict[str, Any]:
    s = member_summary(session=session, member_hash=phone_hash, policy=policy, limit=0)
    return {"points": s.points, "units_bought": s.units_bought, "qualifying_units": s.qualifying_units,
            "free_after": policy.points.free_after, "free_earned": s.free_earned, "free_redeemed": s.free_redeemed,
            "free_available": s.free_available, "next_free_after": s.next_free_after}  # fmt: skip


def lookup(*, session: Session, principal: Principal, phone_hash: str, policy: Policy, lang: str = "en") -> MemberView:
    """The member with this phone as the asking party may see her (:class:`MemberView`); 404 when there is none.

    Whether a phone is a member at all is no secret at the counter (points are brand-wide), so a store learns that and
    her home store, but no more, about another store's member.
    """
    member = _by_hash(session, phone_hash)
    if member is None or member.id is None:
        raise MemberNotFound.keyed(_MESSAGES, "member_not_found")
    personal = _personal(member) if _may_see_personal(principal, member) else None
    return MemberView(id=member.id, home_store=member.home_store_id, own=member.home_store_id == principal.party_id,
                      points=_points(session, phone_hash, policy), personal=personal)  # fmt: skip


def member_points(
    *, session: Session, phone_hash: str, policy: Policy, principal: Principal | None = None
) -> dict[str, Any]:
    """Points, six-get-one standing and history (``rebates``), with the member's ``home_store`` (None: unregistered)."""
    summary = member_summary(session=session, member_hash=phone_hash, policy=policy, principal=principal).as_dict()
    home = session.exec(select(Member.home_store_id).where(Member.phone_hash == phone_hash)).first()
    return {**summary, "home_store": home}


# --- list -------------------------------------------------------------------------------------------------------


@dataclass
class MemberPage:
    """One page of members, newest first, and how many there are in all."""

    items: list[dict[str, Any]]
    total: int
    limit: int
    offset: int

    @property
    def next_offset(self) -> int | None:
        return self.offset + self.limit if self.offset + len(self.items) < self.total else None


def list_members(
    *,
    session: Session,
    principal: Principal,
    store_id: str | None = None,
    limit: int = 50,
    offset: int = 0,
    lang: str = "en",
    search: str | None = None,
) -> MemberPage:
    """The members the asking party may list, newest first: a store its own (403 for another's), the brand's roles
    every store's or one store's; ``search`` narrows them to a member number, or text within the name or the
    source (a store's clerk looks a member up by the name she gave; the phone is never stored to search)."""
    if principal.role is not Role.store and not principal.sees_all:
        raise Forbidden.keyed(_WORDS, "list_role", role=principal.role.value, detail={"role": principal.role.value})
    target = _own_store(principal, store_id)
    if target is not None and store_id is not None:
        _store(session, target)
    stmt = scope_to_party(select(Member), principal, Member.home_store_id)
    counted = scope_to_party(select(func.count()).select_from(Member), principal, Member.home_store_id)
    if target is not None:
        stmt = stmt.where(Member.home_store_id == target)
        counted = counted.where(Member.home_store_id == target)
    text = needle(search or "")
    if text:
        found: list[Any] = [contains(Member.name, text), contains(Member.source, text)]
        if (number := row_number(text)) is not None:
            found.append(col(Member.id) == number)
        stmt, counted = stmt.where(or_(*found)), counted.where(or_(*found))
    total = int(session.exec(counted).one())
    rows = session.exec(
        stmt.order_by(col(Member.created_at).desc(), col(Member.id).desc()).offset(offset).limit(limit)
    ).all()
    items = [{"id": m.id, "home_store": m.home_store_id, **_personal(m)} for m in rows]
    return MemberPage(items=items, total=total, limit=limit, offset=offset)


# --- import -----------------------------------------------------------------------------------------------------

COLUMNS: dict[str, tuple[str, ...]] = {
    "phone": ("phone", "mobile", "phone_number", "tel", "member", "手机号", "手机", "手机号码", "电话", "联系电话"),
    "name": ("name", "姓名", "名字", "会员姓名"),
    "baby_birth_date": ("baby_birth_date", "birth_date", "baby_birthday", "宝宝生日", "宝宝出生日期", "出生日期"),
    "baby_stage": ("baby_stage", "stage", "段数", "阶段", "奶粉段数"),
    "source": ("source", "来源", "渠道"),
    "campaign": ("campaign", "活动", "活动编号"),
    "consent_at": ("consent_at", "consent", "同意时间", "授权时间", "同意"),
    "store": ("store", "store_id", "门店", "门店编号", "门店代码"),
}
"""The columns a member list may have, by every header that names them (English, or the Chinese a store uses)."""
_ALIASES = {alias.casefold(): column for column, aliases in COLUMNS.items() for alias in aliases}


@dataclass
class ImportResult:
    """What an import did: rows read, members created, members skipped because they existed (never moved)."""

    rows: int
    created: int
    existing: int
    ignored_columns: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "created": self.created, "existing": self.existing,
                "ignored_columns": self.ignored_columns}  # fmt: skip


def _parse_date(text: str) -> date:
    m = _DATE.fullmatch(text)
    if m is None:
        raise _Bad("bad_date", field="baby_birth_date")
    y, mo, d = (int(g) for g in (m.groups()[:3] if m.group(1) else m.groups()[3:]))
    try:
        return date(y, mo, d)
    except ValueError:
        raise _Bad("bad_date", field="baby_birth_date") from None


def _parse_stage(text: str) -> int:
    m = _STAGE.fullmatch(text)
    if m is None:
        raise _Bad("bad_stage")
    digit = m.group(1)
    return _STAGE_DIGITS.get(digit) or int(digit)


def _parse_consent(text: str, now: datetime, tz: tzinfo) -> datetime | None:
    folded = text.casefold()
    if folded in _NO:
        return None
    if folded in _YES:
        return now  # consent given, its time unknown: recorded as the time of the import
    try:
        if len(text) <= 10 and "-" in text:
            return datetime.combine(date.fromisoformat(text), time(0), tzinfo=tz)
        at = datetime.fromisoformat(text)
    except ValueError:
        raise _Bad("bad_consent") from None
    return at if at.tzinfo is not None else at.replace(tzinfo=tz)


def _decode(data: bytes | str, lang: str) -> str:
    if isinstance(data, str):
        return data.removeprefix("\ufeff")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        problem = RowProblem(1, "-", "not_utf8", word("not_utf8", lang))
        raise ImportInvalid.keyed(_MESSAGES, "import_invalid", count=1, detail={"rows": [problem]}) from None


@dataclass
class _Row:
    line: int
    phone_hash: str
    store_cell: str | None
    values: dict[str, Any]


def _header(cells: list[str], lang: str) -> tuple[dict[int, str], list[str], list[RowProblem]]:
    columns: dict[int, str] = {}
    ignored: list[str] = []
    problems: list[RowProblem] = []
    for i, cell in enumerate(cells):
        name = _ALIASES.get(cell.strip().casefold())
        if name is None:
            if cell.strip():
                ignored.append(cell.strip())
            continue
        if name in columns.values():
            problems.append(RowProblem(1, cell.strip(), "duplicate_column", word("duplicate_column", lang, field=name)))
            continue
        columns[i] = name
    if "phone" not in columns.values():
        problems.append(RowProblem(1, "phone", "no_phone_column", word("no_phone_column", lang)))
    return columns, ignored, problems


def _read_row(
    cells: dict[str, str], line: int, pepper: bytes, now: datetime, tz: tzinfo, lang: str
) -> tuple[_Row | None, list[RowProblem]]:
    problems: list[RowProblem] = []
    values: dict[str, Any] = {}

    def check(column: str, parse: Any) -> Any:
        text = cells.get(column, "").strip()
        try:
            return parse(text)
        except _Bad as bad:
            problems.append(RowProblem(line, column, bad.reason, word(bad.reason, lang, **bad.params)))
            return None

    def phone(text: str) -> str:
        if not text:
            raise _Bad("missing", field="phone")
        _check_phone(text)
        return member_hash(text, pepper)

    hashed = check("phone", phone)
    values["name"] = check("name", lambda t: _text(t, "name", NAME_MAX))
    values["baby_birth_date"] = check(
        "baby_birth_date", lambda t: _check_birth_date(_parse_date(t), now.date()) if t else None
    )
    values["baby_stage"] = check("baby_stage", lambda t: _parse_stage(t) if t else None)
    source = check("source", lambda t: _text(t, "source", SOURCE_MAX))
    campaign = check("campaign", lambda t: _text(t, "campaign", SOURCE_MAX - len("campaign:")))
    values["source"] = source or (f"campaign:{campaign}" if campaign else "import")
    values["consent_at"] = check("consent_at", lambda t: _check_consent(_parse_consent(t, now, tz), now))
    store = check("store", lambda t: _text(t, "store", 64))
    if problems or hashed is None:
        return None, problems
    return _Row(line, hashed, store, values), problems


def _stores_named(session: Session, cells: Iterable[str]) -> dict[str, str]:
    """Store cells to store ids: a cell is a store's master-data id or its member authorisation number."""
    wanted = sorted(set(cells))
    found: dict[str, str] = {}
    for chunk in chunks(wanted):
        stmt = select(Party.id, Party.member_store_no).where(
            Party.kind == PartyKind.store,
            or_(col(Party.id).in_(chunk), col(Party.member_store_no).in_(chunk)),
        )
        for pid, number in session.exec(stmt):
            if number:
                found.setdefault(number, pid)
            found[pid] = pid
    return found


def import_members(
    *,
    session: Session,
    principal: Principal,
    data: bytes | str,
    pepper: bytes,
    store_id: str | None = None,
    tz: tzinfo = UTC,
    lang: str = "en",
    now: datetime | None = None,
) -> ImportResult:
    """Import a member list (CSV, UTF-8 with or without BOM, a header row; see :data:`COLUMNS`), all or nothing.

    Every row is checked first and every bad cell reported (:class:`ImportInvalid`: line, column, reason; a phone is
    never repeated); nothing is written unless all rows are good. A phone twice in the file is a bad row; a member who
    exists already is skipped and counted, never moved. ``store_id`` (a store's key: its own) is the store of rows
    that name none; naive times are in ``tz``; "yes" in ``consent_at`` means consent at the time of the import.
    """
    _authorise_registrar(principal)
    now = _aware(now or utcnow())
    default = _own_store(principal, store_id)
    if default is not None:
        _store(session, default)
    text = _decode(data, lang)
    problems: list[RowProblem] = []
    rows: list[_Row] = []
    ignored: list[str] = []
    try:
        reader = csv.reader(io.StringIO(text, newline=""), strict=True)  # a broken quote is an error, not data
        header = next(reader, None)
        if header is None:
            empty = RowProblem(1, "-", "empty_file", word("empty_file", lang))
            raise ImportInvalid.keyed(_MESSAGES, "import_invalid", count=1, detail={"rows": [empty]})
        columns, ignored, problems = _header(header, lang)
        if problems:
            raise ImportInvalid.keyed(_MESSAGES, "import_invalid", count=1, detail={"rows": problems})
        first_line: dict[str, int] = {}
        for record in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in record):
                continue
            if len(record) > len(header):
                problems.append(RowProblem(line, "-", "too_many_fields", word("too_many_fields", lang)))
                continue
            cells = {name: record[i] for i, name in columns.items() if i < len(record)}
            row, bad = _read_row(cells, line, pepper, now, tz, lang)
            problems.extend(bad)
            if row is None:
                continue
            if row.phone_hash in first_line:
                again = word("duplicate_in_file", lang, line=first_line[row.phone_hash])
                problems.append(RowProblem(line, "phone", "duplicate_in_file", again))
                continue
            first_line[row.phone_hash] = line
            rows.append(row)
    except csv.Error as exc:
        problems.append(RowProblem(reader.line_num or 1, "-", "bad_csv", word("bad_csv", lang, why=str(exc))))
    stores = _stores_named(session, (r.store_cell for r in rows if r.store_cell))
    for row in rows:
        reason, params = "", {}
        target = stores.get(row.store_cell) if row.store_cell else default
        if row.store_cell and target is None:
            reason, params = "unknown_store", {"store": row.store_cell}
        elif target is None:
            reason = "store_required"
        elif principal.role is Role.store and target != principal.party_id:
            reason, params = "not_own_store", {"own": principal.party_id}
        if reason:
            problems.append(RowProblem(row.line, "store", reason, word(reason, lang, **params)))
        row.values["home_store_id"] = target
    if problems:
        problems.sort(key=lambda p: p.line)
        lines = len({p.line for p in problems})
        raise ImportInvalid.keyed(_MESSAGES, "import_invalid", count=lines, detail={"rows": problems})
    existing: set[str] = set()
    for chunk in chunks([r.phone_hash for r in rows]):
        existing.update(session.exec(select(Member.phone_hash).where(col(Member.phone_hash).in_(chunk))))
    new = [{"phone_hash": r.phone_hash, "created_at": now, **r.values} for r in rows if r.phone_hash not in existing]
    _insert_new(session, new)
    session.flush()
    return ImportResult(rows=len(rows), created=len(new), existing=len(rows) - len(new), ignored_columns=ignored)


# --- first seen on a sale ---------------------------------------------------------------------------------------


def _member_of(event: StoredEvent) -> str | None:
    try:
        doc = json.loads(event.document)
    except json.JSONDecodeError:
        return None
    if not isinstance(doc, dict):
        return None
    for name in MEMBER_KEYS:
        value = doc.get(name)
        if is_member_hash(value):
            assert isinstance(value, str)
            return value
    return None


def register_from_sales(session: Session, events: Sequence[StoredEvent]) -> int:
    """Register the members first seen on a sale among ``events``, at that sale's store (source ``sale``).

    A ``retail_selling`` event at a known store that names a member who has no row yet registers her there; when
    several of her sales arrive in one capture the earliest (event time, then eventID) decides. A member who exists
    keeps her home store whatever arrives later, and a retraction does not unregister her (she did give her phone).
    Returns the members registered.
    """
    retracted = {e.event_id for e in events if e.declaration}
    first: dict[str, tuple[datetime, str, str]] = {}
    for e in events:
        if (e.declaration or e.biz_step != "retail_selling" or e.action not in ("ADD", "OBSERVE")
                or e.location_party_id is None or e.event_id in retracted):  # fmt: skip
            continue
        hashed = _member_of(e)
        if hashed is None:
            continue
        seen = (_aware(e.event_time), e.event_id, e.location_party_id)
        if hashed not in first or seen[:2] < first[hashed][:2]:
            first[hashed] = seen
    if not first:
        return 0
    stores: set[str] = set()
    for chunk in chunks(sorted({s for _, _, s in first.values()})):
        stores.update(session.exec(select(Party.id).where(col(Party.id).in_(chunk), Party.kind == PartyKind.store)))
    known: set[str] = set()
    for chunk in chunks(sorted(first)):
        known.update(session.exec(select(Member.phone_hash).where(col(Member.phone_hash).in_(chunk))))
    now = utcnow()
    rows = [{"phone_hash": h, "home_store_id": store, "name": None, "baby_birth_date": None, "baby_stage": None,
             "source": "sale", "consent_at": None, "created_at": now}
            for h, (_, _, store) in sorted(first.items()) if store in stores and h not in known]  # fmt: skip
    return _insert_new(session, rows)


def _on_stored(session: Session, events: Sequence[StoredEvent]) -> None:
    register_from_sales(session, events)


members_listener = Listener("members", events_stored=_on_stored)
"""Members first seen on a sale get their home store; wired after ``settlement_facts`` by the assembly."""
