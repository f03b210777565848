"""Lists that scale: one pager for every list page (a page of rows, the total, the query string kept).

A list never stops silently: it says which rows of how many it shows ("第 1–50 条，共 1,234 条"), and every link
to another page or size keeps the user's search and filters, so a filtered queue can be walked to its end. The
total is one ``COUNT`` in the database and the page one ``LIMIT … OFFSET``; no list loads rows it does not show.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated
from urllib.parse import urlencode

from fastapi import Query

__all__ = ["DEFAULT_SIZE", "SIZES", "PageNo", "PageSize", "Pager", "pager"]

SIZES = (20, 50, 100, 200)
"""The page sizes a list offers; any size up to the largest is accepted in the query string."""
DEFAULT_SIZE = 50

PageNo = Annotated[int, Query(ge=1, le=1_000_000, description="Which page of the list (1 is the first)")]
PageSize = Annotated[int, Query(ge=1, le=SIZES[-1], description="Rows on a page")]


@dataclass(frozen=True, slots=True)
class Pager:
    """Where a page lies in its list, and the links to its neighbours with the list's filters kept."""

    page: int
    size: int
    total: int
    params: Mapping[str, str] = field(default_factory=dict)
    """The list's filters as they came (empty ones left out of the links)."""

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.size))

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.size

    @property
    def first(self) -> int:
        """The number of the page's first row (0 when the list is empty)."""
        return min(self.offset + 1, self.total)

    @property
    def last(self) -> int:
        return min(self.offset + self.size, self.total)

    @property
    def sizes(self) -> tuple[int, ...]:
        return tuple(sorted({*SIZES, self.size}))

    def query(self, **changes: str | int | None) -> str:
        """The query string of this list with ``changes`` (None drops a parameter); the default size is left out."""
        merged: dict[str, str | int | None] = {**self.params, "page": self.page, "size": self.size, **changes}
        return urlencode({k: v for k, v in merged.items()
                          if v not in (None, "") and not (k == "size" and v == DEFAULT_SIZE)
                          and not (k == "page" and v == 1)})  # fmt: skip


def pager(*, page: int, size: int, total: int, params: Mapping[str, str] | None = None) -> Pager:
    """The pager of a list; a page past the last shows the last (a narrowed search never strands the user)."""
    pages = max(1, math.ceil(total / size))
    return Pager(page=min(max(page, 1), pages), size=size, total=total,
                 params={k: v for k, v in (params or {}).items() if v})  # fmt: skip
