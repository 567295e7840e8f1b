"""Inline SVG charts for report.html: horizontal stacked bars and histograms, no script, no external resource.

Every drawn bar is a `<rect class="bar">` carrying its figures as data attributes (`data-row`, `data-kind`,
`data-count`; histograms add `data-lo` and `data-hi`), so that the page can be checked by reading it: a
bar's length is its count times the chart's scale (`data-scale` on the `<svg>`), written with two decimals.
"""

from __future__ import annotations

import math
from html import escape

LABEL_WIDTH = 260
BAR_AREA = 420
ROW_HEIGHT = 18
ROW_GAP = 4
HIST_WIDTH = 360
HIST_HEIGHT = 120
HIST_BINS = 10
COLORS = {
    "real": "#2b6cb0", "synthetic": "#dd6b20", "missing": "#cbd5e0",
    "not conforming": "#805ad5", "not checked": "#a0aec0", "too long": "#d69e2e", "not executable": "#c53030",
    "executable": "#2f855a", "flaky": "#d69e2e", "not validated": "#a0aec0",
}
FALLBACK_COLORS = ("#319795", "#b83280", "#4a5568", "#718096")


def color(kind: str) -> str:
    return COLORS.get(kind) or FALLBACK_COLORS[sum(map(ord, kind)) % len(FALLBACK_COLORS)]


def _attr(value: object) -> str:
    return escape(str(value), quote=True)


def _px(value: float) -> str:
    return f"{value:.2f}"


def legend(kinds: list[str]) -> str:
    """A legend line: one coloured square per kind (plain HTML, beside the SVG)."""
    items = "".join(f'<span class="key"><span class="swatch" style="background:{color(kind)}"></span>'
                    f"{escape(kind)}</span>" for kind in kinds)
    return f'<p class="legend">{items}</p>'


def stacked_bars(rows: list[tuple[str, list[tuple[str, int]]]], *, title: str, scale: float | None = None,
                 note: dict[str, str] | None = None) -> str:
    """One horizontal bar per row, its segments (kind, count) stacked left to right; zero segments are not
    drawn. `scale` (pixels per unit) defaults to the longest row filling the bar area; pass one to draw
    several charts on the same scale. `note` adds a text after a row's bar (e.g. "requested 12")."""
    if scale is None:
        longest = max((sum(count for _, count in segments) for _, segments in rows), default=0)
        scale = BAR_AREA / longest if longest else 0.0
    height = len(rows) * (ROW_HEIGHT + ROW_GAP) + ROW_GAP
    width = LABEL_WIDTH + BAR_AREA + 140
    parts = [f'<svg class="chart" role="img" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" data-scale="{scale!r}"><title>{escape(title)}</title>']
    for index, (label, segments) in enumerate(rows):
        y = ROW_GAP + index * (ROW_HEIGHT + ROW_GAP)
        parts.append(f'<text x="{LABEL_WIDTH - 6}" y="{y + ROW_HEIGHT - 5}" text-anchor="end">{escape(label)}</text>')
        x = float(LABEL_WIDTH)
        for kind, count in segments:
            if not count:
                continue
            length = count * scale
            parts.append(f'<rect class="bar" x="{_px(x)}" y="{y}" width="{_px(length)}" height="{ROW_HEIGHT}" '
                         f'fill="{color(kind)}" data-row="{_attr(label)}" data-kind="{_attr(kind)}" '
                         f'data-count="{count}"><title>{escape(label)}: {count} {escape(kind)}</title></rect>')
            x += length
        total = sum(count for _, count in segments)
        extra = f" ({note[label]})" if note and label in note else ""
        parts.append(f'<text x="{_px(x + 4)}" y="{y + ROW_HEIGHT - 5}">{total}{escape(extra)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def bins(values: list[int], count: int = HIST_BINS) -> list[tuple[int, int]]:
    """`count` equal integer bins [lo, hi] covering min..max of `values` (one bin when they are all equal)."""
    if not values:
        return []
    low, high = min(values), max(values)
    width = max(1, math.ceil((high - low + 1) / count))
    edges = []
    lo = low
    while lo <= high:
        edges.append((lo, lo + width - 1))
        lo += width
    return edges


def histogram(values: list[int], edges: list[tuple[int, int]], *, title: str, row: str) -> str:
    """Vertical bars, one per bin of `edges` (shared by the splits so their charts compare); a bar's height
    is its count times `data-scale`, the fullest bin filling the chart."""
    counts = [sum(1 for value in values if lo <= value <= hi) for lo, hi in edges]
    fullest = max(counts, default=0)
    scale = HIST_HEIGHT / fullest if fullest else 0.0
    slot = HIST_WIDTH / len(edges) if edges else HIST_WIDTH
    height = HIST_HEIGHT + 34
    parts = [f'<svg class="chart histogram" role="img" width="{HIST_WIDTH}" '
             f'height="{height}" viewBox="0 0 {HIST_WIDTH} {height}" data-scale="{scale!r}" '
             f'data-values="{len(values)}"><title>{escape(title)}</title>']
    for index, ((lo, hi), count) in enumerate(zip(edges, counts)):
        bar = count * scale
        parts.append(f'<rect class="bar" x="{_px(index * slot + 1)}" y="{_px(HIST_HEIGHT - bar)}" '
                     f'width="{_px(slot - 2)}" height="{_px(bar)}" fill="{color("real")}" data-row="{_attr(row)}" '
                     f'data-kind="bin" data-lo="{lo}" data-hi="{hi}" data-count="{count}">'
                     f"<title>{lo}–{hi} tokens: {count}</title></rect>")
    if edges:
        parts.append(f'<text x="0" y="{HIST_HEIGHT + 14}">{edges[0][0]}</text>')
        parts.append(f'<text x="{HIST_WIDTH}" y="{HIST_HEIGHT + 14}" text-anchor="end">{edges[-1][1]}</text>')
    parts.append(f'<text x="{HIST_WIDTH / 2:.0f}" y="{HIST_HEIGHT + 30}" text-anchor="middle">'
                 f"{escape(title)} ({len(values)} examples)</text></svg>")
    return "".join(parts)
