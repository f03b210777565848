"""Request dependencies: the session (committed once, before the response) and the principal with its roles."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.engine import Engine
from sqlmodel import Session

from traceability.auth.service import Principal, authenticate
from traceability.errors import Forbidden, Unauthenticated
from traceability.models import Role
from traceability.settings import Settings

__all__ = ["PrincipalDep", "RowId", "SessionDep", "SettingsDep", "allow", "get_session"]


def get_session(request: Request) -> Iterator[Session]:
    """One transaction per request, committed before the response is sent, so an acknowledgement means durable."""
    engine: Engine = request.app.state.engine
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SessionDep = Annotated[Session, Depends(get_session, scope="function")]
RowId = Annotated[int, Path(ge=1, le=2**31 - 1, description="A row id")]
"""A path id the id columns can hold (32-bit INTEGER on PostgreSQL): anything larger is a 422, not a 500."""
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]

_bearer = HTTPBearer(auto_error=False, description="API key: `Authorization: Bearer trc_<prefix>_<secret>`")


def get_principal(
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None:
        raise Unauthenticated("missing API key; send Authorization: Bearer <key>")
    return authenticate(session=session, token=credentials.credentials)


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def allow(*roles: Role) -> Callable[[Principal], Principal]:
    """A dependency admitting only ``roles``; its role set is readable by the route-coverage test."""

    def check(principal: PrincipalDep) -> Principal:
        if principal.role not in roles:
            raise Forbidden(
                f"role {principal.role.value!r} may not do this; allowed: {', '.join(r.value for r in roles)}",
                role=principal.role.value,
            )
        return principal

    check.allowed_roles = frozenset(roles)  # type: ignore[attr-defined]
    return check
