"""Small plots as inline SVG, written by hand: no plotting library, no script, no network.

A card is read in a browser, in a regulatory file, or offline years later: plain SVG inside the
HTML renders everywhere and keeps its numbers (each bar and point carries its value in a
``<title>`` and ``data-value``). Two kinds are enough: bars for counts, and points on an axis for
distributions (one row per structure).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

WIDTH = 560
ROW = 22
LABEL_WIDTH = 190
COLORS = ("#3b6ea8", "#c8553d", "#4f9d69", "#8e6bb8", "#d19a2a", "#5b8e9b")


def bar_chart(title: str, counts: Mapping[str, int | float], *, unit: str = "", label_unit: str = "") -> str:
    """Horizontal bars, one per key, in the order given; ``unit`` follows the values, ``label_unit`` the keys."""
    items = list(counts.items())
    top = max((value for _, value in items), default=0) or 1
    span = WIDTH - LABEL_WIDTH - 60
    rows = []
    for index, (label, value) in enumerate(items):
        y = 28 + index * ROW
        length = max(1.0, span * value / top) if value else 0.0
        rows.append(
            f'<text x="{LABEL_WIDTH - 6}" y="{y + 14}" text-anchor="end">{escape(_short(label + label_unit))}</text>'
            f'<rect class="bar" x="{LABEL_WIDTH}" y="{y + 3}" width="{length:.1f}" height="{ROW - 6}" '
            f'fill="{COLORS[index % len(COLORS)]}" data-label="{escape(label)}" data-value="{value}">'
            f"<title>{escape(label)}: {_format(value)}{unit}</title></rect>"
            f'<text x="{LABEL_WIDTH + length + 4:.1f}" y="{y + 14}">{_format(value)}{escape(unit)}</text>')
    return _svg(title, 36 + max(1, len(items)) * ROW, "".join(rows), kind="bars")


def strip_plot(title: str, rows: Sequence[tuple[str, Sequence[float]]], *, low: float = 0.0,
               high: float | None = None, unit: str = "") -> str:
    """Each row's values as points along one shared axis from ``low`` to ``high`` (default: the largest value)."""
    values = [v for _, row in rows for v in row]
    high = high if high is not None else (max(values, default=1.0) or 1.0)
    span = WIDTH - LABEL_WIDTH - 30
    height = 48 + max(1, len(rows)) * ROW

    def x(value: float) -> float:
        return LABEL_WIDTH + span * (value - low) / ((high - low) or 1.0)

    parts = [f'<line x1="{LABEL_WIDTH}" y1="{height - 18}" x2="{LABEL_WIDTH + span}" y2="{height - 18}" '
             'stroke="#888"/>']
    for tick in (low, (low + high) / 2, high):
        parts.append(f'<text x="{x(tick):.1f}" y="{height - 4}" text-anchor="middle">{_format(tick)}{escape(unit)}'
                     "</text>")
    for index, (label, row) in enumerate(rows):
        y = 28 + index * ROW + ROW / 2
        parts.append(f'<text x="{LABEL_WIDTH - 6}" y="{y + 4}" text-anchor="end">{escape(_short(label))}</text>')
        for value in row:
            parts.append(f'<circle class="point" cx="{x(value):.1f}" cy="{y:.1f}" r="4" fill-opacity="0.6" '
                         f'fill="{COLORS[index % len(COLORS)]}" data-label="{escape(label)}" data-value="{value}">'
                         f"<title>{escape(label)}: {_format(value)}{escape(unit)}</title></circle>")
    return _svg(title, height, "".join(parts), kind="points")


def _svg(title: str, height: float, body: str, *, kind: str) -> str:
    return (f'<svg class="plot" data-kind="{kind}" role="img" aria-label="{escape(title)}" '
            f'xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height:.0f}" '
            f'viewBox="0 0 {WIDTH} {height:.0f}" font-family="sans-serif" font-size="12">'
            f'<title>{escape(title)}</title><text x="0" y="16" font-weight="bold">{escape(title)}</text>{body}</svg>')


def _short(label: str, limit: int = 27) -> str:
    return label if len(label) <= limit else label[:limit - 1] + "…"


def _format(value: float) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)
