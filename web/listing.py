"""Lists that scale: one pager for every list page (a page of rows, the total, the query string kept).

A list never stops silently: it says which rows of how many it shows ("第 1–50 条，共 1,234 条"), and every link
to another page or size keeps the user's search and filters, so a filtered queue can be walked to its end. The
total is one ``COUNT`` in the database and the page one ``LIMIT … OFFSET``; no list loads rows it does not show.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import Query
from sqlmodel import Session

from rebates.deps import PolicyDep
from traceability.api import SessionDep
from traceability.auth.service import Principal
from traceability.errors import InvalidInput
from traceability.i18n import Catalogue, messages
from traceability.models import ShipmentStatus
from web import service
from web.i18n import phrase

_PAGES: Catalogue = messages("web")  # the pages' words, for the errors a page raises (worded when shown)

__all__ = ["DEFAULT_SIZE", "SIZES", "PageNo", "PageSize", "Pager", "ShipmentList", "pager", "shipment_list"]

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


# --- the shipments list --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ShipmentList:
    """The shipments list's query as the page got it: its filters (as typed, for the form and the links), the
    parsed filter, the page and its size."""

    f: dict[str, str]
    filters: service.ShipmentFilter
    page: int
    size: int

    def rows(self, *, session: Session, principal: Principal) -> dict[str, Any]:
        """The page of the principal's shipments and its pager, for ``shipments.html``."""
        total = service.count_shipments(session=session, principal=principal, filters=self.filters)
        pages = pager(page=self.page, size=self.size, total=total, params=self.f)
        rows = service.list_shipments(session=session, principal=principal, limit=pages.size, offset=pages.offset,
                                      filters=self.filters)  # fmt: skip
        return {"rows": rows, "pager": pages, "f": self.f, "statuses": [s.value for s in ShipmentStatus]}


def _day(value: str) -> date | None:
    if not value:
        return None
    try:
        day = date.fromisoformat(value)
        if day == date.max:  # the list asks for the day after the last one: past the calendar's end
            raise ValueError(value)
        return day
    except ValueError:
        raise InvalidInput.keyed(_PAGES, "list.bad_date", value=value[:20],
                                 detail={"field": "date", "reason": "bad_date"}) from None  # fmt: skip


def shipment_list(
    policy: PolicyDep,
    session: SessionDep,
    status: Annotated[str, Query(max_length=20)] = "",
    since: Annotated[str, Query(alias="from", max_length=10)] = "",
    until: Annotated[str, Query(alias="to", max_length=10)] = "",
    q: Annotated[str, Query(max_length=100)] = "",
    page: PageNo = 1,
    size: PageSize = DEFAULT_SIZE,
) -> ShipmentList:
    """The shipments list's filters from the query string (a dependency of the page): a status, the days opened
    (from / to, both included, the brand's calendar), a search; a bad one is named back in the page's language."""
    if status and status not in {s.value for s in ShipmentStatus}:
        allowed = phrase(*(f"shipment.status.{s.value}" for s in ShipmentStatus))
        raise InvalidInput.keyed(_PAGES, "list.bad_status", value=status[:20], allowed=allowed,
                                 detail={"field": "status", "reason": "bad_status"})  # fmt: skip
    zone = ZoneInfo(policy.timezone)
    first, last = _day(since), _day(until)

    def midnight(day: date) -> datetime:
        return datetime(day.year, day.month, day.day, tzinfo=zone)

    filters = service.ShipmentFilter(status=status or None, since=midnight(first) if first else None,
                                     until=midnight(last + timedelta(days=1)) if last else None,
                                     search=q.strip() or None)  # fmt: skip
    return ShipmentList(f={"status": status, "from": since, "to": until, "q": q}, filters=filters, page=page,
                        size=size)  # fmt: skip
