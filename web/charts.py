"""Small bar charts drawn on the server as inline SVG, for the pages' figures (the marketing page's first).

Why on the server: the figures are already in the page's context, so a chart needs no script, no new browser
dependency and no second request, and it prints. Each chart is accessible on its own (``role="img"`` with a
``<title>`` and a ``<desc>`` that states every number) and the page shows the same numbers in a table beside it.
The drawing scales with its box (a ``viewBox`` and ``width: 100%``), so a phone's width never scrolls sideways.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from markupsafe import Markup, escape

__all__ = ["Bar", "bar_chart"]

_WIDTH = 360
_LABEL = 118
"""Room for the labels, left of the bars (in the drawing's units)."""
_BARS = 150
_ROW = 28
_FONT = 13
_FILL = "#2f6db5"
"""A bar's colour where the page's style sheet gives none (a saved copy of the chart)."""
_ID = re.compile(r"[^A-Za-z0-9_-]")


@dataclass(frozen=True, slots=True)
class Bar:
    """One bar: its label, its size (any non-negative number) and the value written beside it."""

    label: str
    value: Decimal | int | float
    text: str
    tone: str = ""
    """A CSS class of the bar (``t-loyal``, ``good``), so related charts share colours."""


def _width(ch: str) -> float:
    return _FONT if unicodedata.east_asian_width(ch) in ("W", "F") else _FONT * 0.58


def _fit(label: str, room: float) -> str:
    """The label cut to the room it has, with an ellipsis (the table beside the chart has it whole)."""
    used = 0.0
    for i, ch in enumerate(label):
        used += _width(ch)
        if used > room:
            return label[: max(i - 1, 0)] + "…"
    return label


def bar_chart(*, key: str, title: str, desc: str, bars: Sequence[Bar]) -> Markup:
    """A horizontal bar chart as an ``<svg>`` element: one row per bar, the longest bar the largest value.

    ``key`` makes the ids of its title and description unique in the page; ``desc`` should say what the numbers
    are (the chart adds each bar's label and value to it, for a screen reader)."""
    ident = _ID.sub("-", key)
    height = max(len(bars), 1) * _ROW + 8
    top = max((Decimal(str(b.value)) for b in bars), default=Decimal(0))
    said = "; ".join(f"{b.label}: {b.text}" for b in bars)
    parts = [
        f'<svg class="chart" id="chart-{ident}" data-testid="chart-{ident}" role="img" '
        f'aria-labelledby="chart-{ident}-t chart-{ident}-d" viewBox="0 0 {_WIDTH} {height}" width="100%" '
        f'preserveAspectRatio="xMinYMin meet" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="chart-{ident}-t">{escape(title)}</title>',
        f'<desc id="chart-{ident}-d">{escape(desc)}{escape(" — " + said) if said else ""}</desc>',
    ]
    for i, b in enumerate(bars):
        y = 4 + i * _ROW
        size = Decimal(str(b.value))
        length = float(size / top * _BARS) if top > 0 and size > 0 else 0.0
        shown = max(length, 1.5) if size > 0 else 0.0  # a non-zero value never vanishes
        tone = f" {escape(b.tone)}" if b.tone else ""
        parts.append(
            f'<g class="row" data-label="{escape(b.label)}" data-value="{escape(str(b.value))}">'
            f'<text x="{_LABEL - 6}" y="{y + 18}" text-anchor="end" font-size="{_FONT}">'
            f"{escape(_fit(b.label, _LABEL - 10))}</text>"
            f'<rect class="bar{tone}" x="{_LABEL}" y="{y + 3}" width="{shown:.1f}" height="{_ROW - 8}" rx="2" '
            f'fill="{_FILL}"/>'
            f'<text class="value" x="{_LABEL + shown + 4:.1f}" y="{y + 18}" font-size="{_FONT}">{escape(b.text)}</text>'
            "</g>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))
