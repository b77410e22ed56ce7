"""Chart geometry for the HTML report: pure numbers, drawn by templates/report.html.j2.

Two kinds of chart, both sized so that their text stays at the page's size whatever the
width: horizontal bars are HTML (a label that wraps, a bar whose width is a percentage,
the value), and columns over time are an SVG without a viewBox, whose x positions are
percentages of its width and whose heights are pixels, so the SVG is never scaled and
its labels never shrink. Each chart's numbers are also in a table next to it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

COLOR = "#2f6f9f"
ALERT = "#b8442f"
MAX_COLUMN_LABELS = 7  # "03-14" fits 7 times across a phone screen, with room


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    text: str  # the value as shown
    percent: float  # bar length, 0-100 of the track


@dataclass(frozen=True, slots=True)
class HBars:
    name: str
    title: str
    summary: str
    bars: tuple[Bar, ...]
    color: str = COLOR


@dataclass(frozen=True, slots=True)
class Column:
    label: str
    text: str
    x: float  # percent of the width
    width: float  # percent of the width
    top: float  # pixels
    height: float  # pixels
    labelled: bool  # whether the x label is drawn (the others are in the <title>)
    label_x: float  # percent of the width
    anchor: str  # text-anchor: the first and last labels stay inside the chart


@dataclass(frozen=True, slots=True)
class Columns:
    name: str
    title: str
    summary: str
    peak: str
    columns: tuple[Column, ...]
    height: int
    base: int  # y of the zero line, pixels
    top: int  # y of the peak line, pixels
    max_width: int | None
    color: str = COLOR


def hbars(name: str, title: str, labels: Sequence[str], values: Sequence[float],
          fmt: str = "{:g}", maximum: float | None = None, color: str = COLOR) -> HBars:
    """One bar per label, its length relative to `maximum` (by default the largest)."""
    peak = maximum or max(values, default=0) or 1
    bars = tuple(Bar(label, fmt.format(value), round(100 * min(value, peak) / peak, 1))
                 for label, value in zip(labels, values, strict=True))
    return HBars(name, title, summary(labels, values), bars, color)


def columns(name: str, title: str, labels: Sequence[str], values: Sequence[float],
            height: int = 200, max_width: int | None = None, color: str = COLOR) -> Columns:
    """Vertical columns, one per label; at most MAX_COLUMN_LABELS x labels are drawn."""
    top, bottom = 22, 24
    plot = height - top - bottom
    peak = max(values, default=0) or 1
    step = 100 / max(len(values), 1)
    every = max(1, math.ceil(len(values) / MAX_COLUMN_LABELS))
    cols = tuple(
        Column(label, _num(value), round(i * step + step * 0.12, 2), round(step * 0.76, 2),
               round(top + plot - plot * value / peak, 1), round(plot * value / peak, 1),
               i % every == 0, *_label_place(i, len(values), step))
        for i, (label, value) in enumerate(zip(labels, values, strict=True)))
    return Columns(name, title, summary(labels, values), _num(peak), cols, height,
                   top + plot, top, max_width, color)


def _label_place(index: int, count: int, step: float) -> tuple[float, str]:
    """Centred under its column; with many narrow columns, the first and last labels are
    aligned to the chart's edges instead, so that they are not cut."""
    if index == 0 and count > 10:
        return round(step * 0.12, 2), "start"
    if index == count - 1 and count > 10:
        return round(100 - step * 0.12, 2), "end"
    return round(index * step + step / 2, 2), "middle"


def _num(value: float) -> str:
    return f"{value:g}"


def summary(labels: Sequence[str], values: Sequence[float]) -> str:
    """The chart in words, for its accessible description."""
    if not values:
        return "No data."
    pairs = ", ".join(f"{label} {_num(value)}" for label, value in
                      zip(labels[:40], values[:40], strict=False))
    return pairs + ("…" if len(values) > 40 else ".")
