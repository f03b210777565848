"""SQLite writers queue (traceability.database.WriterQueue): many threads and two queues on one file never fail
and never interleave; a writer that can never get its turn gets SQLite's "database is locked", not a hang."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from traceability.database import WriterQueue, make_engine


@settings(max_examples=5, deadline=None)
@given(threads=st.integers(min_value=2, max_value=12), rounds=st.integers(min_value=1, max_value=8))
def test_concurrent_writers_all_succeed_and_none_is_lost(tmp_path_factory: pytest.TempPathFactory, threads: int,
                                                          rounds: int) -> None:  # fmt: skip
    db = tmp_path_factory.mktemp("wq") / "q.db"
    engines = [make_engine(f"sqlite:///{db}") for _ in range(2)]  # two queues on one file: two worker processes
    with engines[0].begin() as c:
        c.execute(text("CREATE TABLE n (v INTEGER NOT NULL)"))
        c.execute(text("INSERT INTO n VALUES (0)"))
    errors: list[BaseException] = []

    def work(k: int) -> None:
        try:
            for _ in range(rounds):
                with engines[k % 2].begin() as c:  # read, then write what was read: lost if two interleave
                    v = c.execute(text("SELECT v FROM n")).scalar_one()
                    c.execute(text("UPDATE n SET v = :v"), {"v": v + 1})
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    workers = [threading.Thread(target=work, args=(k,)) for k in range(threads)]
    for t in workers:
        t.start()
    for t in workers:
        t.join(timeout=120)
    assert not errors, errors
    with engines[0].connect() as c:
        assert c.execute(text("SELECT v FROM n")).scalar_one() == threads * rounds
    for e in engines:
        e.dispose()


def test_a_writer_that_never_gets_its_turn_is_told_the_database_is_locked(tmp_path: Path) -> None:
    holder, waiter = WriterQueue(tmp_path / "x.writer-lock", timeout=0.3), WriterQueue(tmp_path / "x.writer-lock",
                                                                                        timeout=0.3)  # fmt: skip
    first, second = object(), object()
    holder.acquire(first)
    with pytest.raises(sqlite3.OperationalError, match="database is locked"):
        waiter.acquire(second)  # another process's queue: the flock is held
    with pytest.raises(sqlite3.OperationalError, match="database is locked"):
        holder.acquire(second)  # the same queue: the per-process lock is held
    holder.release(first)
    waiter.acquire(second)  # free now
    waiter.release(second)
    waiter.release(second)  # a second release of a connection that holds nothing is a no-op


def test_the_turn_is_given_back_at_commit_while_the_connection_stays_checked_out(tmp_path: Path) -> None:
    """SQLAlchemy commits through the pool's proxy of the DBAPI connection: the queue must know it for the one that
    took the turn, or a connection kept open after its commit (a script, a test fixture) holds every writer off."""
    db = tmp_path / "c.db"
    engines = [make_engine(f"sqlite:///{db}") for _ in range(2)]
    with engines[0].connect() as kept:
        kept.execute(text("CREATE TABLE t (v INTEGER)"))
        kept.commit()  # still checked out after this
        done: list[object] = []

        def other() -> None:
            try:
                with engines[1].begin() as c:
                    c.execute(text("INSERT INTO t VALUES (1)"))
                done.append(True)
            except BaseException as exc:  # noqa: BLE001 - reported below
                done.append(exc)

        t = threading.Thread(target=other)
        t.start()
        t.join(timeout=10)  # the queue's own timeout is 30 s: a held turn shows as a thread still waiting here
        assert done == [True], done or "the other writer is still waiting for the turn"
        kept.execute(text("INSERT INTO t VALUES (2)"))
        kept.rollback()  # and a rollback gives it back too
        with engines[1].begin() as c:
            c.execute(text("INSERT INTO t VALUES (3)"))
    with engines[0].connect() as c:
        assert sorted(c.execute(text("SELECT v FROM t")).scalars()) == [1, 3]
    for e in engines:
        e.dispose()
