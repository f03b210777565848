"""Engines and sessions. SQLite gets WAL with ``synchronous=FULL`` so an acknowledged write survives a crash."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event

try:
    import fcntl
except ImportError:  # not on Windows: there SQLite's busy handler alone queues the writers
    fcntl = None  # type: ignore[assignment]
from sqlalchemy.engine import Engine
from sqlmodel import Session, create_engine

__all__ = ["is_sqlite", "make_engine", "migrate", "reading", "session_scope"]


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy, not pysqlite, decide where transactions begin: SAVEPOINTs then work as documented.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


READ_ONLY = "traceability_read_only"
"""The execution option :func:`reading` sets on its connections."""


def reading(engine: Engine) -> Engine:
    """``engine`` for transactions that only read (the event query and its key check): on SQLite they begin
    DEFERRED and outside the writer queue, so a query reads its WAL snapshot while a capture writes, instead of
    waiting for the capture's commit (and every capture for it); elsewhere the same engine. The same pool."""
    return engine.execution_options(**{READ_ONLY: True}) if is_sqlite(engine) else engine


def _reads_only(connection: Any) -> bool:
    return bool(connection.get_execution_options().get(READ_ONLY))


def _sqlite_begin(connection: Any) -> None:
    # IMMEDIATE takes the write lock up front: a transaction that read first and writes later would otherwise fail
    # at once (not wait) when another writer committed in between, which is exactly what concurrent scans do.
    # A transaction that only reads (reading()) takes none: WAL gives it a snapshot.
    connection.exec_driver_sql("BEGIN" if _reads_only(connection) else "BEGIN IMMEDIATE")


class _FifoLock:
    """A lock granted in the order it was asked for (``threading.Lock`` wakes an arbitrary waiter, and under 32
    clients some waited seconds), releasable by any thread."""

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._waiters: deque[threading.Event] = deque()
        self._held = False

    def acquire(self, timeout: float) -> bool:
        with self._mutex:
            if not self._held:
                self._held = True
                return True
            turn = threading.Event()
            self._waiters.append(turn)
        if turn.wait(timeout):
            return True
        with self._mutex:
            if turn.is_set():  # handed over just as the wait timed out
                return True
            self._waiters.remove(turn)
            return False

    def release(self) -> None:
        with self._mutex:
            if self._waiters:
                self._waiters.popleft().set()  # handed straight to the next: it stays held
            else:
                self._held = False


class WriterQueue:
    """The writers of one SQLite file, queued before ``BEGIN IMMEDIATE`` instead of inside SQLite's busy handler.

    SQLite lets a waiting writer sleep and retry (1, 2, 5 … 100 ms): under 8–32 concurrent scans the unlucky ones
    retry for seconds while others keep winning (p99 1.8 s at 8 clients, 2 workers). Here the threads of a process
    wait in turn (first come, first served), and one at a time per process goes on to the processes' queue
    (``serve --workers N``): ``flock`` on ``<path>.turn`` then on ``<path>``, polled every millisecond or two, and
    the turn given back once the writer's lock is taken — so a process that just committed cannot take the writer's
    lock again before a process already waiting for it. Both waits end after ``timeout`` seconds with SQLite's own
    "database is locked", as before.
    """

    def __init__(self, path: Path, timeout: float = 30.0) -> None:
        self._thread_lock = _FifoLock()  # released by whichever thread commits (FastAPI may use another)
        self._paths = (path.with_name(path.name + ".turn"), path)
        self._fds: tuple[int, int] | None = None
        self._holders: set[int] = set()
        self._timeout = timeout

    def _flock(self, fd: int, deadline: float) -> None:
        pause = 0.0005
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise sqlite3.OperationalError("database is locked") from None
                time.sleep(pause)
                pause = min(pause * 2, 0.002)

    @staticmethod
    def _key(connection: Any) -> int:
        # SQLAlchemy commits and rolls back through the pool's proxy of the DBAPI connection, begins and checks in
        # with the DBAPI connection itself: both name the same holder
        return id(getattr(connection, "dbapi_connection", None) or connection)

    def acquire(self, dbapi_connection: Any) -> None:
        key = self._key(dbapi_connection)
        if key in self._holders:  # this connection already holds the turn: nothing to wait for
            return
        deadline = time.monotonic() + self._timeout
        if not self._thread_lock.acquire(timeout=self._timeout):
            raise sqlite3.OperationalError("database is locked")
        try:
            if self._fds is None:
                turn, writer = (os.open(p, os.O_RDWR | os.O_CREAT, 0o600) for p in self._paths)
                self._fds = (turn, writer)
            turn, writer = self._fds
            self._flock(turn, deadline)
            try:
                self._flock(writer, deadline)
            finally:
                fcntl.flock(turn, fcntl.LOCK_UN)
        except BaseException:
            self._thread_lock.release()
            raise
        self._holders.add(key)

    def release(self, dbapi_connection: Any) -> None:
        key = self._key(dbapi_connection)
        if key not in self._holders:
            return
        self._holders.discard(key)
        if self._fds is not None:
            fcntl.flock(self._fds[1], fcntl.LOCK_UN)
        self._thread_lock.release()


def _queue_writers(engine: Engine, path: Path) -> None:
    """Wire a :class:`WriterQueue` into ``engine``: taken before each ``BEGIN IMMEDIATE``, given back after the
    DBAPI commit or rollback (not before it, as the ``commit`` event would) or when the connection goes away."""
    queue = WriterQueue(path.with_name(path.name + ".writer-lock"))
    dialect = engine.dialect
    do_commit, do_rollback = dialect.do_commit, dialect.do_rollback

    def begin(connection: Any) -> None:
        if _reads_only(connection):  # no write lock to queue for
            _sqlite_begin(connection)
            return
        dbapi_connection = connection.connection.dbapi_connection
        queue.acquire(dbapi_connection)
        try:
            _sqlite_begin(connection)
        except BaseException:
            queue.release(dbapi_connection)
            raise

    def commit(dbapi_connection: Any) -> None:
        try:
            do_commit(dbapi_connection)
        finally:
            queue.release(dbapi_connection)

    def rollback(dbapi_connection: Any) -> None:
        try:
            do_rollback(dbapi_connection)
        finally:
            queue.release(dbapi_connection)

    def gone(dbapi_connection: Any, *_: Any) -> None:
        queue.release(dbapi_connection)

    dialect.do_commit = commit  # type: ignore[method-assign]
    dialect.do_rollback = rollback  # type: ignore[method-assign]
    event.listen(engine, "begin", begin)
    for name in ("checkin", "invalidate", "close", "close_detached"):
        event.listen(engine.pool, name, gone)


def _refuse_nul(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
    """PostgreSQL text cannot hold NUL: refuse such input as invalid, by name, before the driver fails with a 500."""
    rows = parameters if executemany else [parameters]
    for row in rows or ():
        values = row.values() if isinstance(row, dict) else row
        for value in values or ():
            if isinstance(value, str) and "\x00" in value:
                from traceability.errors import InvalidInput

                raise InvalidInput("text input must not contain a NUL character")


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """Create an engine with the pragmas and pool settings each backend needs."""
    if url.startswith("sqlite"):
        engine = create_engine(url, echo=echo, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        database = engine.url.database
        if fcntl is not None and database and database != ":memory:" and not database.startswith("file:"):
            _queue_writers(engine, Path(database).absolute())
        else:
            event.listen(engine, "begin", _sqlite_begin)
        return engine
    engine = create_engine(url, echo=echo, pool_pre_ping=True)
    if engine.dialect.name == "postgresql":
        event.listen(engine, "before_cursor_execute", _refuse_nul)
    return engine


def migrate(engine: Engine, revision: str = "heads") -> None:
    """Bring the schema to ``revision`` with Alembic; safe to call on every start."""
    from alembic import command
    from alembic.config import Config

    here = Path(__file__).parent
    config = Config()
    config.set_main_option("script_location", str(here / "migrations"))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error. The caller's boundary, never a service's."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
