"""Request dependencies: the session (committed once, before the response) and the principal with its roles; and
what a request body is measured with before anything parses it."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import accumulate
from typing import Annotated

import anyio
from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.engine import Engine
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from traceability.auth.service import Principal, authenticate
from traceability.errors import Forbidden, JsonTooDeep, TraceabilityError, Unauthenticated
from traceability.i18n import Catalogue, messages
from traceability.models import Role
from traceability.settings import Settings

__all__ = [
    "JSON_DEPTH_SCOPE_KEY",
    "Caller",
    "PrincipalDep",
    "RequestRefused",
    "RowId",
    "ReadSessionDep",
    "SessionDep",
    "SettingsDep",
    "allow",
    "allow_later",
    "checked_json_depth",
    "get_read_session",
    "get_session",
    "read_session",
    "json_depth",
    "key_principal",
]

_MESSAGES: Catalogue = messages("traceability.api")


async def get_session(request: Request) -> AsyncIterator[Session]:
    """One transaction per request, committed before the response is sent, so an acknowledgement means durable.

    Async, with the database work sent to a worker thread only where there is some: opening a session does no I/O,
    and a route that ended its own transaction (a capture commits in its thread; a query ends its read) leaves
    nothing to commit, so such a request skips the two hops a plain generator costs (a tenth of a query's time)."""
    engine: Engine = request.app.state.engine
    session = Session(engine, expire_on_commit=False)
    try:
        yield session
        if session.in_transaction():
            await _in_thread(session.commit)
    except BaseException:
        if session.in_transaction():
            await _in_thread(session.rollback)
        raise
    finally:
        if session.in_transaction():
            await _in_thread(session.close)
        else:
            session.close()


async def _in_thread(work: Callable[[], object]) -> None:
    """``work`` (a commit, a rollback) in a worker thread, finished even if the request is cancelled meanwhile."""
    with anyio.CancelScope(shield=True):
        await run_in_threadpool(work)


_PRIMARY = "traceability.primary"
GIVEN_SESSION = "given_session"
"""``app.state.given_session``: a session the app's reads use instead of their own — a test's, inside its rolled-back
transaction (``tests/conftest.py``), as ``get_session`` is overridden for the writes."""


def _new_read_session(request: Request) -> Session | None:
    """A session for reads that may be a moment stale, or None where the app was given one: on the read replica
    (``read_db``) when there is one, else on the primary's :func:`traceability.database.reading` view (on SQLite,
    outside the writer queue; ``app.state.reading_engine``, made once by the app)."""
    state = request.app.state
    if getattr(state, GIVEN_SESSION, None) is not None:
        return None
    replica: Engine | None = getattr(state, "read_engine", None)
    if replica is not None:
        return Session(replica, expire_on_commit=False, info={_PRIMARY: state.engine})
    return Session(state.reading_engine, expire_on_commit=False)


async def get_read_session(request: Request) -> AsyncIterator[Session]:
    """:func:`read_session` as a dependency. Rolled back at the end (a standby refuses writes)."""
    read = _new_read_session(request)
    if read is None:
        yield getattr(request.app.state, GIVEN_SESSION)
        return
    try:
        yield read
    finally:
        if read.in_transaction():
            await _in_thread(read.close)  # close rolls back what is open
        else:
            read.close()


@contextmanager
def read_session(request: Request) -> Iterator[Session]:
    """A read-only transaction for a route that does all its database work in its own worker thread (the EPCIS
    event query): opened and closed there, where a dependency would add two generators to every request (a tenth
    of a query's time on the event loop). Rolled back at the end."""
    read = _new_read_session(request)
    if read is None:
        yield getattr(request.app.state, GIVEN_SESSION)
        return
    with read:
        yield read


async def get_settings_dep(request: Request) -> Settings:
    # async: a plain read, so FastAPI calls it on the event loop instead of sending it to a worker thread
    settings: Settings = request.app.state.settings
    return settings


SessionDep = Annotated[Session, Depends(get_session, scope="function")]
ReadSessionDep = Annotated[Session, Depends(get_read_session, scope="function")]
"""For reads that may be stale (a replica's lag): the EPCIS event query and a settlement statement."""
RowId = Annotated[int, Path(ge=1, le=2**31 - 1, description="A row id")]
"""A path id the id columns can hold (32-bit INTEGER on PostgreSQL): anything larger is a 422, not a 500."""
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]

_bearer = HTTPBearer(auto_error=False, description="API key: `Authorization: Bearer trc_<prefix>_<secret>`")


def get_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    return key_principal(request, _token(credentials))


def key_principal(request: Request, token: str) -> Principal:
    """The principal of an API key, read in a transaction of its own on the primary's read-only view
    (``app.state.reading_engine``): on SQLite a key check that began as the request's write transaction took the
    write lock and a place in the writer queue only to read one row, so every scan queued twice behind the captures
    in flight. The view reads the same database, committed rows only, as that transaction would have."""
    given: Session | None = getattr(request.app.state, GIVEN_SESSION, None)
    if given is not None:  # a test's session, which holds what the test set up
        return _authenticated(given, token)
    with Session(request.app.state.reading_engine) as read:
        return authenticate(session=read, token=token)


def _token(credentials: HTTPAuthorizationCredentials | None) -> str:
    if credentials is None:
        raise Unauthenticated.keyed(_MESSAGES, "missing_key")
    return credentials.credentials


def _authenticated(session: Session, token: str) -> Principal:
    principal = authenticate(session=session, token=token)
    # End the read that authenticated: on SQLite every transaction holds the write lock from its start (BEGIN
    # IMMEDIATE), and what a route does before it touches the database (parse and validate a document, decode a
    # photo) must not keep every other request waiting.
    session.commit()
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def allow(*roles: Role) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency admitting only ``roles``; its role set is readable by the route-coverage test."""

    async def check(principal: PrincipalDep) -> Principal:  # async: no I/O, so no hop to a worker thread
        return _admitted(principal, roles)

    check.allowed_roles = frozenset(roles)  # type: ignore[attr-defined]
    return check


@dataclass(frozen=True, slots=True)
class Caller:
    """An API key to be checked in the route's own worker thread (:func:`allow_later`)."""

    token: str
    roles: tuple[Role, ...]

    def principal(self, session: Session) -> Principal:
        """The key's principal if it is valid and of an admitted role. ``session`` is a read's (never the writer's,
        whose transaction would hold SQLite's write lock): the key is read in the same transaction as the query
        that follows, one snapshot for both. Checked on the primary when ``session`` is a replica's, whose lag could
        let a key revoked a moment ago in."""
        primary: Engine | None = session.info.get(_PRIMARY)
        if primary is None:
            return _admitted(authenticate(session=session, token=self.token), self.roles)
        with Session(primary) as on_primary:
            return _admitted(_authenticated(on_primary, self.token), self.roles)


def _admitted(principal: Principal, roles: tuple[Role, ...]) -> Principal:
    if principal.role not in roles:
        raise Forbidden.keyed(
            _MESSAGES,
            "wrong_role",
            role=principal.role.value,
            allowed=", ".join(r.value for r in roles),
            detail={"role": principal.role.value},
        )
    return principal


def allow_later(*roles: Role) -> Callable[..., Awaitable[Caller]]:
    """:func:`allow` for the hottest reads (the EPCIS event query): the key is looked up by the route, in the same
    worker thread as its query, instead of in a thread of its own first — one hop to a thread instead of two, a
    tenth of such a request. The same refusals, in the same order; the role set is as readable as :func:`allow`'s."""

    async def check(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> Caller:
        return Caller(_token(credentials), roles)

    check.allowed_roles = frozenset(roles)  # type: ignore[attr-defined]
    return check


# --- request bodies ---------------------------------------------------------------------------------------------

JSON_DEPTH_SCOPE_KEY = "traceability.json_depth"
"""Where the body limits leave the depth of a JSON body they measured, so a route need not measure it again."""

_ESCAPE = re.compile(rb"\\.", re.DOTALL)
_NOT_STRUCTURE = bytes(sorted(set(range(256)) - set(b'"[]{}')))
_STEP = [0] * 256
_STEP[ord("[")] = _STEP[ord("{")] = 1
_STEP[ord("]")] = _STEP[ord("}")] = -1


def json_depth(raw: bytes) -> int:
    """How deeply arrays and objects nest in a JSON text, measured without parsing it (json would recurse).

    Linear in the size, and in C (a 10 MB document takes about 0.2 s): escapes go first, so every quote left opens
    or closes a string; then everything but quotes and brackets, then what lies between quotes, so every bracket
    left is structure; the depth is the highest running count of open brackets.
    """
    if b"[" not in raw and b"{" not in raw:
        return 0
    encoding = json.detect_encoding(raw)
    if encoding not in ("utf-8", "utf-8-sig"):
        # UTF-16 and UTF-32 JSON (which json accepts): their bytes would read as spurious brackets and quotes
        try:
            raw = raw.decode(encoding).encode("utf-8")
        except UnicodeDecodeError:
            return 0  # not text: the parser will say so
    if b"\\" in raw:
        raw = _ESCAPE.sub(b"", raw)
    structure = b"".join(raw.translate(None, _NOT_STRUCTURE).split(b'"')[::2])
    return max(accumulate(map(_STEP.__getitem__, structure)), default=0)


def checked_json_depth(raw: bytes, *, limit: int) -> int:
    """The depth of a JSON text (:func:`json_depth`); :class:`JsonTooDeep` when it is over ``limit``."""
    depth = json_depth(raw)
    if depth > limit:
        raise JsonTooDeep.keyed(
            _MESSAGES, "too_deep", depth=depth, limit=limit, detail={"limit": limit, "depth": depth}
        )
    return depth


class RequestRefused(HTTPException):
    """A domain error raised while a request body is read (too large, too deep).

    FastAPI passes an ``HTTPException`` raised while it reads a body through unchanged, where any other error
    becomes a bare 400; the app's handler (and a page route's) renders the carried error like any other.
    """

    def __init__(self, error: TraceabilityError) -> None:
        super().__init__(status_code=error.status_code, detail=error.message)
        self.error = error
