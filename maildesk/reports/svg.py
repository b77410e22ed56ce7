"""Inline SVG charts: columns over time and horizontal bars, nothing else needed.

Each chart is an accessible image (role="img", <title> and <desc>) whose numbers are
also given in a table next to it, so the page reads well without the picture.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

COLOR = "#2f6f9f"
ALERT = "#b8442f"
GRID = "#d7dde3"
TEXT = "#333"


def _open(name: str, title: str, width: int, height: int, summary: str,
          fluid: bool = False) -> str:
    """Fluid charts stretch to the page; others keep their size (and shrink if need be)."""
    key = f"chart-{name}"
    size = 'width="100%"' if fluid else f'width="{width}" height="{height}"'
    return (f'<svg class="chart" data-chart="{escape(name)}" role="img" '
            f'viewBox="0 0 {width} {height}" {size} preserveAspectRatio="xMinYMin meet" '
            f'aria-labelledby="{key}-t {key}-d" xmlns="http://www.w3.org/2000/svg">'
            f'<title id="{key}-t">{escape(title)}</title><desc id="{key}-d">{escape(summary)}'
            f'</desc>')


def columns(name: str, title: str, labels: Sequence[str], values: Sequence[float],
            width: int = 760, height: int = 220, color: str = COLOR,
            fluid: bool = True) -> str:
    """Vertical columns (one per label), with a zero line, a max gridline and labels."""
    left, bottom, top = 40, 36, 14
    plot_w, plot_h = width - left - 10, height - bottom - top
    peak = max(values, default=0) or 1
    step = plot_w / max(len(values), 1)
    every = max(1, round(len(values) / 12))  # at most ~12 x labels
    parts = [_open(name, title, width, height, _summary(labels, values), fluid),
             f'<line x1="{left}" y1="{top}" x2="{width - 10}" y2="{top}" stroke="{GRID}"/>',
             f'<text x="{left - 6}" y="{top + 4}" text-anchor="end" font-size="11" '
             f'fill="{TEXT}">{_num(peak)}</text>',
             f'<line x1="{left}" y1="{top + plot_h}" x2="{width - 10}" y2="{top + plot_h}" '
             f'stroke="#888"/>']
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        bar_h = plot_h * value / peak
        x = left + i * step + step * 0.12
        parts.append(f'<rect x="{x:.1f}" y="{top + plot_h - bar_h:.1f}" '
                     f'width="{step * 0.76:.1f}" height="{bar_h:.1f}" fill="{color}">'
                     f'<title>{escape(label)}: {_num(value)}</title></rect>')
        if i % every == 0:
            parts.append(f'<text x="{x + step * 0.38:.1f}" y="{height - bottom + 16}" '
                         f'text-anchor="middle" font-size="11" fill="{TEXT}">'
                         f'{escape(label)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def hbars(name: str, title: str, labels: Sequence[str], values: Sequence[float],
          width: int = 400, fmt: str = "{:g}", maximum: float | None = None,
          color: str = COLOR) -> str:
    """Horizontal bars, one row per label, value printed after the bar."""
    row, label_w, value_w = 22, 150, 60
    height = row * max(len(values), 1) + 8
    peak = maximum or max(values, default=0) or 1
    plot_w = width - label_w - value_w
    parts = [_open(name, title, width, height, _summary(labels, values))]
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = 4 + i * row
        short = label if len(label) <= 22 else label[:21] + "…"
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end" font-size="12" '
            f'fill="{TEXT}">{escape(short)}</text>'
            f'<rect x="{label_w}" y="{y + 3}" width="{plot_w * value / peak:.1f}" height="15" '
            f'fill="{color}"><title>{escape(label)}: {escape(fmt.format(value))}</title></rect>'
            f'<text x="{label_w + plot_w * value / peak + 4:.1f}" y="{y + 15}" font-size="12" '
            f'fill="{TEXT}">{escape(fmt.format(value))}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _num(value: float) -> str:
    return f"{value:g}"


def _summary(labels: Sequence[str], values: Sequence[float]) -> str:
    if not values:
        return "No data."
    pairs = ", ".join(f"{label} {_num(value)}" for label, value in
                      zip(labels[:40], values[:40], strict=False))
    return pairs + ("…" if len(values) > 40 else ".")
