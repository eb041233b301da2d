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

# The chart has no viewBox: it is as wide as its card and HEIGHT pixels tall, so its labels are drawn at
# LABEL_SIZE CSS pixels whatever the card's width (a 640-unit viewBox shrunk into a half-width card drew
# them about 6 px tall). Across, positions are percentages of the width; down, pixels.
HEIGHT = 200
MARGIN_BOTTOM = 28
MARGIN_TOP = 22
LABEL_SIZE = 12
BAR_COLOUR = "#1f6feb"
LINE_COLOURS = ("#1f6feb", "#d1242f", "#1a7f37")
AXIS_COLOUR = "#57606a"
# With many days, only every n-th label fits under the axis (a phone's card is about 300 px wide).
MAX_X_LABELS = 6
# The share of the width at each side where an axis label is aligned to the edge.
EDGE = 0.08


def _across(fraction: float) -> str:
    return f"{fraction * 100:.2f}%"


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
    text = f'font-size="{LABEL_SIZE}" fill="{AXIS_COLOUR}"'
    parts = [
        f'<svg class="chart" width="100%" height="{HEIGHT}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title><desc>{escape(summary)}</desc>",
    ]
    for fraction in (0, 0.5, 1):
        y = MARGIN_TOP + plot_height * (1 - fraction)
        parts.append(f'<line x1="0" x2="100%" y1="{y:.1f}" y2="{y:.1f}" stroke="#d0d7de" stroke-width="1"/>')
    parts.extend(body)
    # The scale's figures sit just above their lines at the left, over the bars (a white outline keeps
    # them readable there); the baseline needs none.
    for fraction in (0.5, 1):
        y = MARGIN_TOP + plot_height * (1 - fraction)
        parts.append(f'<text x="2" y="{y - 4:.1f}" {text} stroke="#fff" stroke-width="3" paint-order="stroke">'
                     f"{escape(fmt(top * fraction))}</text>")
    count = len(labels)
    if count:
        every = max(1, -(-count // MAX_X_LABELS))
        for index in range(0, count, every):
            middle = (index + 0.5) / count
            # Near an edge a label is anchored to it instead of centred on its bar, so it is never cut off.
            anchor, x = ("start", "0") if middle < EDGE else ("end", "100%") if middle > 1 - EDGE else \
                ("middle", _across(middle))
            parts.append(f'<text x="{x}" y="{HEIGHT - 8}" text-anchor="{anchor}" {text}>'
                         f"{escape(labels[index])}</text>")
    parts.append("</svg>")
    return mark_safe("".join(parts))  # every piece of text above went through escape()


def bar_chart_svg(*, title: str, points: Sequence[ChartPoint], fmt: Callable[[float], str] = count_format,
                  maximum: float | None = None) -> SafeString:
    values = [point.value for point in points if point.value is not None]
    top = _nice_maximum(maximum if maximum is not None else max(values, default=0))
    plot_height = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
    slot = 1 / max(len(points), 1)
    bar_width = slot * 0.7
    body = []
    for index, point in enumerate(points):
        if point.value is None:
            continue
        height = plot_height * min(point.value / top, 1)
        y = MARGIN_TOP + plot_height - height
        body.append(f'<rect x="{_across(slot * index + (slot - bar_width) / 2)}" y="{y:.1f}" '
                    f'width="{_across(bar_width)}" height="{height:.1f}" fill="{BAR_COLOUR}">'
                    f"<title>{escape(point.label)}: {escape(fmt(point.value))}</title></rect>")
    total = sum(values)
    summary = f"{len(points)} bars; highest {fmt(max(values, default=0))}; total {fmt(total)}."
    return _frame(title=title, summary=summary, body=body, top=top, fmt=fmt, labels=[p.label for p in points])


def line_chart_svg(*, title: str, series: Sequence[Series], fmt: Callable[[float], str] = percent_format,
                   maximum: float | None = None) -> SafeString:
    values = [point.value for line in series for point in line.points if point.value is not None]
    top = _nice_maximum(maximum if maximum is not None else max(values, default=0))
    plot_height = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
    length = max((len(line.points) for line in series), default=0)
    slot = 1 / max(length, 1)
    body = []
    for colour, line in zip(LINE_COLOURS * 3, series, strict=False):
        previous: tuple[str, float] | None = None
        dots = []
        for index, point in enumerate(line.points):
            if point.value is None:
                previous = None  # a gap in the line
                continue
            x = _across(slot * (index + 0.5))
            y = MARGIN_TOP + plot_height * (1 - min(point.value / top, 1))
            if previous is not None:
                body.append(f'<line x1="{previous[0]}" y1="{previous[1]:.1f}" x2="{x}" y2="{y:.1f}" '
                            f'stroke="{colour}" stroke-width="2" stroke-linecap="round"/>')
            previous = (x, y)
            dots.append(f'<circle cx="{x}" cy="{y:.1f}" r="2.5" fill="{colour}"><title>{escape(line.name)}, '
                        f'{escape(point.label)}: {escape(fmt(point.value))}</title></circle>')
        body.extend(dots)
    labels = [point.label for point in series[0].points] if series else []
    summary = "; ".join(f"{line.name}: {len([p for p in line.points if p.value is not None])} points" for line in series)
    return _frame(title=title, summary=summary, body=body, top=top, fmt=fmt, labels=labels)
