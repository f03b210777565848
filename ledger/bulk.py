"""Bulk inserts of derived and stored rows: one Core ``executemany`` per table, whatever the rows hold.

SQLAlchemy's ORM bulk insert (``session.execute(insert(Model), rows)``) leaves out the ``None`` values of every
row and groups consecutive rows by the columns that remain, so a batch whose rows differ in which optional columns
are empty (a disposition here, a member there) becomes thousands of small statements. The table's own Core insert
takes every row with every column, in one statement per batch. :func:`insert_rows` keeps the ORM's meaning of an
empty value: a missing or ``None`` value of a column with a default takes the default, as it would have.

On PostgreSQL the rows go through ``COPY … FROM STDIN`` (psycopg's copy support) instead: one stream per table,
no statement and no bound parameter per row, each value passed through its column type's bind processing first,
as the Core insert would pass it. On SQLite the same processed values go to the driver's ``executemany`` as tuples
(``exec_driver_sql``): SQLAlchemy building a parameter dictionary per row cost as much as SQLite storing it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, cast

from sqlalchemy import Connection, Table
from sqlmodel import Session

from ledger import masterdata

__all__ = ["insert_rows", "table_of"]


def table_of(model: Any) -> Table:
    """The Core table of a SQLModel table class."""
    return cast(Table, model.__table__)


def insert_rows(session: Session, model: Any, rows: Sequence[Mapping[str, Any]]) -> int:
    """Insert ``rows`` into ``model``'s table in the session's transaction; returns how many."""
    if not rows:
        return 0
    table = table_of(model)
    names: dict[str, None] = {}
    for row in rows:
        names.update(dict.fromkeys(row))
    defaults: dict[str, Any] = {name: table.c[name].default for name in names if table.c[name].default is not None}
    filled = [name for name, d in defaults.items() if not (d.is_scalar and d.arg is None)]
    if filled or any(len(row) != len(names) for row in rows):
        out = []
        for row in rows:
            full = {name: row.get(name) for name in names}
            for name in filled:
                if full[name] is None:
                    d = defaults[name]
                    full[name] = d.arg if d.is_scalar else d.arg(None)
            out.append(full)
        rows = out
    conn = session.connection()
    if conn.dialect.name == "postgresql" and len(rows) >= _COPY_FROM:
        _copy(conn, table, list(names), rows)
    elif conn.dialect.name == "sqlite" and conn.dialect.paramstyle == "qmark":
        _executemany(conn, table, list(names), rows)
    else:
        conn.execute(table.insert(), list(rows))
    return len(rows)


_COPY_FROM = 50
"""Rows from which COPY is used: below, one multi-row INSERT costs no more."""


_Rows = Sequence[Mapping[str, Any]]


def _processed(conn: Connection, table: Table, names: list[str], rows: _Rows) -> Iterator[tuple[Any, ...]]:
    """Each row's values in ``names`` order, through their column types' bind processing (as a Core insert)."""
    processors = [table.c[name].type.bind_processor(conn.dialect) for name in names]
    for row in rows:
        yield tuple(
            value if process is None or value is None else process(value)
            for value, process in zip((row.get(name) for name in names), processors, strict=True)
        )


def _executemany(conn: Connection, table: Table, names: list[str], rows: Sequence[Mapping[str, Any]]) -> None:
    quoted = conn.dialect.identifier_preparer
    columns = ", ".join(quoted.quote(name) for name in names)
    marks = ", ".join("?" * len(names))
    sql = f"INSERT INTO {quoted.format_table(table)} ({columns}) VALUES ({marks})"
    conn.exec_driver_sql(sql, list(_processed(conn, table, names, rows)))


def _copy(conn: Connection, table: Table, names: list[str], rows: Sequence[Mapping[str, Any]]) -> None:
    quoted = conn.dialect.identifier_preparer
    columns = ", ".join(quoted.quote(name) for name in names)
    target = quoted.format_table(table)
    raw: Any = conn.connection.dbapi_connection  # a psycopg connection: its cursors copy
    masterdata.wrote(conn)  # no cursor event sees a COPY: the master-data generation must not be trusted past it
    with raw.cursor() as cursor, cursor.copy(f"COPY {target} ({columns}) FROM STDIN") as copy:
        for values in _processed(conn, table, names, rows):
            copy.write_row(values)
