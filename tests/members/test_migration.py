"""Migration 0011 registers the members already seen on sales, at the store of their earliest sale."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy import text

from traceability.database import make_engine, migrate

H1, H2, H3 = "a" * 64, "b" * 64, "c" * 64


def test_members_seen_on_sales_get_the_store_of_their_earliest_sale(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine, "0010")
    engine.dispose()
    with sqlite3.connect(path) as db:  # plain sqlite3: foreign keys off, so sales need no stored events here
        db.execute("INSERT INTO territory (id, name) VALUES ('CN', 'China')")
        for pid, kind, gln in (("S1", "store", "1"), ("S2", "store", "2"), ("D1", "distributor", "3")):
            db.execute("INSERT INTO party (id, kind, name, gln, territory_id) VALUES (?, ?, ?, ?, 'CN')",
                       (pid, kind, pid, gln))  # fmt: skip
        sales = [
            ("u1", "S2", "2026-04-03", H1),
            ("u2", "S1", "2026-04-02", H1),
            ("u3", "D1", "2026-04-01", H2),
            ("u4", "S2", "2026-04-05", H2),
            ("u5", "S1", "2026-04-05", None),
            ("u6", None, "2026-04-05", H3),
        ]
        db.executemany("INSERT INTO sale (unit_key, store_id, event_pk, event_id, event_time, member_hash, counted) "
                       "VALUES (?, ?, 1, ?, ?, ?, 1)",
                       [(u, s, u, f"{day} 10:00:00.000000", m) for u, s, day, m in sales])  # fmt: skip
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT phone_hash, home_store_id, source FROM member ORDER BY phone_hash")).all()
    engine.dispose()
    # H1: her earliest sale was at S1; H2: a distributor is no store, so S2; H3: a sale at no store registers nothing
    assert [tuple(r) for r in rows] == [(H1, "S1", "sale"), (H2, "S2", "sale")]
