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
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, TypeVar

from sqlmodel import Session, select

from traceability.models import MasterDataGeneration

__all__ = ["cached", "enabled", "generation"]

T = TypeVar("T")

_ENTRIES = 32  # (database, value) pairs kept: a few databases in one test process, a handful of values each
_lock = threading.Lock()
_cache: OrderedDict[tuple[Any, ...], Any] = OrderedDict()


def enabled() -> bool:
    """Whether the cache is on (``TRACEABILITY_MASTERDATA_CACHE=0`` turns it off)."""
    return os.environ.get("TRACEABILITY_MASTERDATA_CACHE", "1").strip().lower() not in {"0", "false", "no", "off"}


def generation(session: Session) -> tuple[str, int] | None:
    """This database's token and current master-data generation, as this transaction sees them."""
    row = session.exec(select(MasterDataGeneration.token, MasterDataGeneration.generation)).first()
    return None if row is None else (row[0], int(row[1]))


def cached(session: Session, name: str, load: Callable[[Session], T]) -> T:
    """``load(session)``, or the value it returned for this database at this master-data generation."""
    if not enabled():
        return load(session)
    # Read before loading: a write committed in between makes the value newer than its key, never older.
    current = generation(session)
    if current is None:  # a database without the row (not migrated to 0026): no way to know, so no cache
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
