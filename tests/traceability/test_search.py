"""The lists' search reads what was typed literally: ``%`` and ``_`` are characters, not wildcards."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Column, MetaData, String, Table, create_engine, insert, select

from traceability.search import contains, needle, row_number

TYPED = st.text(alphabet="ab%_\\x1", min_size=0, max_size=6)

_META = MetaData()
_NAMES = Table("names", _META, Column("name", String))
_ENGINE = create_engine("sqlite://")
_META.create_all(_ENGINE)


@settings(max_examples=200, deadline=None)
@given(names=st.lists(TYPED, min_size=1, max_size=8), typed=TYPED)
def test_contains_finds_exactly_the_names_that_hold_the_text(names: list[str], typed: str) -> None:
    with _ENGINE.begin() as conn:
        conn.execute(_NAMES.delete())
        conn.execute(insert(_NAMES), [{"name": n} for n in names])
        found = sorted(r.name for r in conn.execute(select(_NAMES.c.name).where(contains(_NAMES.c.name, typed))))
    assert found == sorted(n for n in names if typed.lower() in n.lower())


def test_a_number_alone_is_a_row_number_that_fits_a_column() -> None:
    assert row_number("42") == 42 and row_number("4 2") is None and row_number("1" * 10) is None
    assert needle("  x" + "y" * 300) == ("x" + "y" * 300)[:100]
