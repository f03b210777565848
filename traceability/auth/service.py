"""API keys: issued once in clear, stored as a hash, resolved to a principal (role + party) per request."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, bindparam, func, or_
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from traceability.errors import NotFound, Unauthenticated
from traceability.i18n import Catalogue, messages
from traceability.models import ApiKey, Party, Role
from traceability.models.base import utcnow

__all__ = [
    "FULL_VIEW_ROLES",
    "IssuedKey",
    "Principal",
    "authenticate",
    "create_api_key",
    "get_api_key",
    "list_api_keys",
    "page_api_keys",
    "revoke_api_key",
    "scope_to_party",
]

_MESSAGES: Catalogue = messages("traceability.auth.service")

FULL_VIEW_ROLES = frozenset({Role.auditor, Role.finance, Role.admin})
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is asking: a role bound to a party. Auditors, finance and admins see every party."""

    role: Role
    party_id: str
    api_key_id: int | None = None

    @property
    def sees_all(self) -> bool:
        return self.role in FULL_VIEW_ROLES

    def may_see_party(self, party_id: str | None) -> bool:
        return self.sees_all or party_id == self.party_id


def scope_to_party(stmt: SelectOfScalar[_T], principal: Principal, *columns: Any) -> SelectOfScalar[_T]:
    """Restrict a query to rows whose party ``columns`` (any of them) name the principal's party.

    The one place party scoping happens: services call it on every query that returns party-owned rows.
    """
    if principal.sees_all:
        return stmt
    conditions: list[ColumnElement[bool]] = [col(c) == principal.party_id for c in columns]
    return stmt.where(or_(*conditions))


@dataclass(frozen=True, slots=True)
class IssuedKey:
    """A new key; ``token`` is shown once and never stored."""

    id: int
    token: str
    role: Role
    party_id: str


def _hash(secret: str) -> str:
    # The secret is 256 random bits, so a fast hash is enough; no password stretching needed.
    return hashlib.sha256(secret.encode()).hexdigest()


def create_api_key(*, session: Session, role: Role, party_id: str, name: str = "") -> IssuedKey:
    """Issue a key for a party; the clear token is returned once."""
    if session.get(Party, party_id) is None:
        raise NotFound.keyed(_MESSAGES, "unknown_party", party=party_id, detail={"party": party_id})
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    row = ApiKey(prefix=prefix, secret_hash=_hash(secret), role=role, party_id=party_id, name=name)
    session.add(row)
    session.flush()
    assert row.id is not None
    return IssuedKey(id=row.id, token=f"trc_{prefix}_{secret}", role=role, party_id=party_id)


_KEY_BY_PREFIX = sa_select(
    col(ApiKey.id), col(ApiKey.role), col(ApiKey.party_id), col(ApiKey.secret_hash), col(ApiKey.revoked_at)
).where(col(ApiKey.prefix) == bindparam("prefix"))
"""Built once (every request runs it): only the columns a check reads, as a row, no key object made per request."""


def authenticate(*, session: Session, token: str) -> Principal:
    """Resolve a bearer token to its principal, or refuse without saying which part was wrong."""
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != "trc":
        raise Unauthenticated.keyed(_MESSAGES, "malformed_key")
    row = session.connection().execute(_KEY_BY_PREFIX, {"prefix": parts[1]}).first()  # Core: no ORM per request
    if row is None or row.revoked_at is not None or not hmac.compare_digest(row.secret_hash, _hash(parts[2])):
        raise Unauthenticated.keyed(_MESSAGES, "unknown_key")
    assert row.id is not None
    return Principal(role=Role(row.role), party_id=row.party_id, api_key_id=row.id)


def list_api_keys(*, session: Session) -> list[ApiKey]:
    """Every key, without secrets (only hashes are stored)."""
    return list(session.exec(select(ApiKey).order_by(col(ApiKey.id))).all())


def page_api_keys(
    *, session: Session, role: Role | None = None, party_id: str | None = None, limit: int = 20, offset: int = 0
) -> tuple[list[ApiKey], int]:
    """One page of keys, newest first, with the total that match; what a list that grows with the network needs."""
    stmt = select(ApiKey)
    count = select(func.count()).select_from(ApiKey)
    if role is not None:
        stmt, count = stmt.where(ApiKey.role == role), count.where(col(ApiKey.role) == role)
    if party_id is not None:
        stmt, count = stmt.where(ApiKey.party_id == party_id), count.where(col(ApiKey.party_id) == party_id)
    rows = session.exec(stmt.order_by(col(ApiKey.id).desc()).offset(offset).limit(limit)).all()
    return list(rows), int(session.exec(count).one())


def get_api_key(*, session: Session, key_id: int) -> ApiKey:
    """One key (its hash only), or NotFound; what a revocation is confirmed against."""
    row = session.get(ApiKey, key_id)
    if row is None:
        raise NotFound.keyed(_MESSAGES, "unknown_key_id", key_id=key_id)
    return row


def revoke_api_key(*, session: Session, key_id: int) -> ApiKey:
    """Revoke a key; later requests with it are refused."""
    row = session.get(ApiKey, key_id)
    if row is None:
        raise NotFound.keyed(_MESSAGES, "unknown_key_id", key_id=key_id)
    row.revoked_at = row.revoked_at or utcnow()
    session.add(row)
    return row
