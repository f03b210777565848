"""Master data read once per process and reused until the database says it changed.

The scan path reads the same rarely changing rows on every request (party roles, the party directory, the flow
graph's master data, the case GTINs). Each read here costs one tiny SELECT of the ``masterdata_generation`` row,
which the database's own triggers redraw on every write to a master-data table (migration 0026), and reloads only
when that row differs from the cached one:

- across processes (``serve --workers N``, the CLI, an import): the row lives in the database every process reads;
- across databases (tests with fresh ones): the row's ``token`` is drawn when the database is created, and the key
  is (engine URL, token, generation);
- inside a transaction that itself wrote master data: the trigger already ran, that transaction reads its own new
  value and reloads; its value is never reused by another state, since a rolled-back value is never drawn again.

What is cached must not be mutated: loaders return frozen values (or the caller copies).
``TRACEABILITY_MASTERDATA_CACHE=0`` turns the cache off (every read loads), for benchmarks and diagnosis.
"""

from __future__ import annotations

import os
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Connection, event
from sqlmodel import Session, select

from traceability.models import MasterDataGeneration

__all__ = ["cached", "enabled", "generation", "wrote"]

T = TypeVar("T")

_ENTRIES = 32  # (database, value) pairs kept: a few databases in one test process, a handful of values each
_lock = threading.Lock()
_cache: OrderedDict[tuple[Any, ...], Any] = OrderedDict()


def enabled() -> bool:
    """Whether the cache is on (``TRACEABILITY_MASTERDATA_CACHE=0`` turns it off)."""
    return os.environ.get("TRACEABILITY_MASTERDATA_CACHE", "1").strip().lower() not in {"0", "false", "no", "off"}


_WRITES = "ledger.masterdata.writes"  # in each DBAPI connection's ``info``: statements that may have written
_MEMO = "ledger.masterdata.generation"  # in each session's ``info``: the generation last read, and when
_READ = re.compile(r"\s*(SELECT\b|WITH\b(?!.*\b(INSERT|UPDATE|DELETE|MERGE)\b))", re.IGNORECASE | re.DOTALL)


def _count_writes(conn: Connection, _cursor: Any, statement: str, *_: Any) -> None:
    # Anything but a plain read may have fired a master-data trigger (savepoint rollbacks included): it ends the
    # generation a transaction remembered. Conservative on purpose; a read costs one tiny SELECT again, no more.
    if not _READ.match(statement):
        wrote(conn)


def wrote(conn: Connection) -> None:
    """Say that ``conn`` wrote past SQLAlchemy's cursor events (a driver-level COPY): the generation is read again."""
    conn.info[_WRITES] = conn.info.get(_WRITES, 0) + 1


def generation(session: Session) -> tuple[str, int] | None:
    """This database's token and current master-data generation, as this transaction sees them.

    Read once per transaction and reused until a statement that may have written runs on its connection: the
    rules' several reads in one scan then cost one SELECT, and a write in between (an import, then a scan) is seen.
    """
    conn = session.connection()
    engine = conn.engine
    if not event.contains(engine, "before_cursor_execute", _count_writes):
        event.listen(engine, "before_cursor_execute", _count_writes)
    transaction, writes = session.get_transaction(), conn.info.get(_WRITES, 0)
    memo = session.info.get(_MEMO)
    if memo is not None and memo[0] is transaction and memo[1] is conn.info and memo[2] == writes:
        return memo[3]  # type: ignore[no-any-return]
    row = session.exec(select(MasterDataGeneration.token, MasterDataGeneration.generation)).first()
    value = None if row is None else (row[0], int(row[1]))
    session.info[_MEMO] = (transaction, conn.info, writes, value)
    return value


def cached(session: Session, name: str, load: Callable[[Session], T]) -> T:
    """``load(session)``, or the value it returned for this database at this master-data generation."""
    if not enabled():
        return load(session)
    # Read before loading: a write committed in between makes the value newer than its key, never older.
    current = generation(session)
    if current is None:  # the row is missing (deleted by hand): no way to know, so no cache
        return load(session)
    key = (str(session.get_bind().engine.url), *current, name)
    with _lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]  # type: ignore[no-any-return]
    value = load(session)
    with _lock:
        _cache[key] = value
        while len(_cache) > _ENTRIES:
            _cache.popitem(last=False)
    return value
