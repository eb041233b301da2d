"""Inline SVG charts drawn on the server: bars and lines, readable without JavaScript.

A dashboard page shows a handful of small series (at most a year of days), so drawing them here is
cheaper than shipping a chart library, works with htmx swaps, and screen readers get the figures from
each chart's title, description and per-point <title>s.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

WIDTH = 640
HEIGHT = 200
MARGIN_LEFT = 44
MARGIN_BOTTOM = 28
MARGIN_TOP = 12
MARGIN_RIGHT = 8
BAR_COLOUR = "#1f6feb"
LINE_COLOURS = ("#1f6feb", "#d1242f", "#1a7f37")
AXIS_COLOUR = "#57606a"
# With many days, only every n-th label fits under the axis.
MAX_X_LABELS = 8


@dataclass(frozen=True)
class ChartPoint:
    label: str
    value: float | None  # None: no data that day (a gap in a line, no bar)


@dataclass(frozen=True)
class Series:
    name: str
    points: Sequence[ChartPoint]


def count_format(value: float) -> str:
    # Axis lines fall halfway up: with a top of 1 the middle line is 0.5, not a rounded "0".
    return f"{value:,.0f}" if value == int(value) else f"{value:,.1f}"


def percent_format(value: float) -> str:
    return f"{value:.0%}"


def _nice_maximum(value: float) -> float:
    """The axis top: the smallest of 1, 2, 2.5, 5 times a power of ten at or above the data."""
    if value <= 0:
        return 1.0
    magnitude = 10 ** (len(str(int(value))) - 1) if value >= 1 else 0.1
    for step in (1, 2, 2.5, 5, 10):
        if step * magnitude >= value:
            return step * magnitude
    return value


def _frame(*, title: str, summary: str, body: list[str], top: float, fmt: Callable[[float], str],
           labels: Sequence[str]) -> SafeString:
    plot_height = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title><desc>{escape(summary)}</desc>",
    ]
    for fraction in (0, 0.5, 1):
        y = MARGIN_TOP + plot_height * (1 - fraction)
        parts.append(f'<line x1="{MARGIN_LEFT}" x2="{WIDTH - MARGIN_RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
                     f'stroke="#d0d7de" stroke-width="1"/>')
        parts.append(f'<text x="{MARGIN_LEFT - 4}" y="{y + 4:.1f}" text-anchor="end" font-size="11" '
                     f'fill="{AXIS_COLOUR}">{escape(fmt(top * fraction))}</text>')
    parts.extend(body)
    count = len(labels)
    if count:
        every = max(1, -(-count // MAX_X_LABELS))
        slot = (WIDTH - MARGIN_LEFT - MARGIN_RIGHT) / count
        for index in range(0, count, every):
            x = MARGIN_LEFT + slot * (index + 0.5)
            parts.append(f'<text x="{x:.1f}" y="{HEIGHT - 8}" text-anchor="middle" font-size="11" '
                         f'fill="{AXIS_COLOUR}">{escape(labels[index])}</text>')
    parts.append("</svg>")
    return mark_safe("".join(parts))  # every piece of text above went through escape()


def bar_chart_svg(*, title: str, points: Sequence[ChartPoint], fmt: Callable[[float], str] = count_format,
                  maximum: float | None = None) -> SafeString:
    values = [point.value for point in points if point.value is not None]
    top = _nice_maximum(maximum if maximum is not None else max(values, default=0))
    plot_height = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
    slot = (WIDTH - MARGIN_LEFT - MARGIN_RIGHT) / max(len(points), 1)
    bar_width = max(slot * 0.7, 1)
    body = []
    for index, point in enumerate(points):
        if point.value is None:
            continue
        height = plot_height * min(point.value / top, 1)
        x = MARGIN_LEFT + slot * index + (slot - bar_width) / 2
        y = MARGIN_TOP + plot_height - height
        body.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_width:.1f}" height="{height:.1f}" '
                    f'fill="{BAR_COLOUR}"><title>{escape(point.label)}: {escape(fmt(point.value))}</title></rect>')
    total = sum(values)
    summary = f"{len(points)} bars; highest {fmt(max(values, default=0))}; total {fmt(total)}."
    return _frame(title=title, summary=summary, body=body, top=top, fmt=fmt, labels=[p.label for p in points])


def line_chart_svg(*, title: str, series: Sequence[Series], fmt: Callable[[float], str] = percent_format,
                   maximum: float | None = None) -> SafeString:
    values = [point.value for line in series for point in line.points if point.value is not None]
    top = _nice_maximum(maximum if maximum is not None else max(values, default=0))
    plot_height = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
    length = max((len(line.points) for line in series), default=0)
    slot = (WIDTH - MARGIN_LEFT - MARGIN_RIGHT) / max(length, 1)
    body = []
    for colour, line in zip(LINE_COLOURS * 3, series, strict=False):
        segments: list[list[str]] = [[]]
        for index, point in enumerate(line.points):
            if point.value is None:
                segments.append([])
                continue
            x = MARGIN_LEFT + slot * (index + 0.5)
            y = MARGIN_TOP + plot_height * (1 - min(point.value / top, 1))
            segments[-1].append(f"{x:.1f},{y:.1f}")
            body.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{colour}"><title>{escape(line.name)}, '
                        f'{escape(point.label)}: {escape(fmt(point.value))}</title></circle>')
        for segment in segments:
            if len(segment) > 1:
                body.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{" ".join(segment)}"/>')
    labels = [point.label for point in series[0].points] if series else []
    summary = "; ".join(f"{line.name}: {len([p for p in line.points if p.value is not None])} points" for line in series)
    return _frame(title=title, summary=summary, body=body, top=top, fmt=fmt, labels=labels)
