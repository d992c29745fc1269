"""Trend charts as inline SVG written here in Python: no JavaScript, no external resource, nothing the CSP
forbids (colours are SVG presentation attributes and CSS classes, never ``style=``), and they print.

A chart is a few polylines over days. The x axis is the calendar (a day without a snapshot is a gap in the
points, not a squeeze of the axis); the y axis starts at zero.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT = 480, 240
LEFT, RIGHT, TOP, BOTTOM = 52, 14, 14, 52
COLOURS = {
    "high": "#b42318",
    "medium": "#b54708",
    "low": "#475467",
    "total": "#1b2a41",
    "incidents": "#6941c6",
    "coverage": "#027a48",
}


@dataclass(frozen=True)
class Series:
    key: str  # a COLOURS key: also the CSS modifier
    label: str
    values: Sequence[float | None]


def _scale(value: float, fixed_top: float | None = None) -> tuple[float, float]:
    """The y axis's top and step: whole steps of 1, 2, 5 × 10^n, at most five of them, so that counts get
    whole-number ticks (0, 1, 2, 3 for a maximum of 3)."""
    if fixed_top is not None:
        return fixed_top, fixed_top / 4
    value = max(value, 1.0)
    exponent = 0
    while True:
        for base in (1, 2, 5):
            step = base * 10.0**exponent
            if math.ceil(value / step) <= 5:
                return math.ceil(value / step) * step, step
        exponent += 1


def _fmt(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def line_chart(
    title: str,
    dates: Sequence[dt.date],
    series: Sequence[Series],
    *,
    y_max: float | None = None,
    unit: str = "",
    empty_text: str = "",
) -> SafeString:
    """An accessible SVG line chart (role="img", a <title> and a <desc> listing the last values)."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    parts: list[str] = [
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="100%" role="img" aria-label="{escape(title)}" preserveAspectRatio="xMidYMid meet">',
        f"<title>{escape(title)}</title>",
    ]
    if not dates:
        parts.append(
            f'<text x="{WIDTH / 2:.0f}" y="{HEIGHT / 2:.0f}" text-anchor="middle" fill="#475467" '
            f'font-size="13" class="chart__empty">{escape(empty_text)}</text></svg>'
        )
        return mark_safe("".join(parts))  # noqa: S308 — every text above is escaped
    values = [v for s in series for v in s.values if v is not None]
    top, step = _scale(max(values, default=0), y_max)
    first, last = dates[0], dates[-1]
    span = max((last - first).days, 1)

    def x(day: dt.date) -> float:
        return LEFT + plot_w * ((day - first).days / span if len(dates) > 1 else 0.5)

    def y(value: float) -> float:
        return TOP + plot_h * (1 - min(value, top) / top)

    latest = ", ".join(
        f"{s.label}: {_fmt(s.values[-1])}{unit}" for s in series if s.values and s.values[-1] is not None
    )
    parts.append(f"<desc>{escape(f'{last.isoformat()} — {latest}')}</desc>")
    # grid and y labels
    for i in range(round(top / step) + 1):
        value = step * i
        gy = y(value)
        parts.append(
            f'<line class="chart__grid" x1="{LEFT}" y1="{gy:.1f}" x2="{WIDTH - RIGHT}" y2="{gy:.1f}" '
            f'stroke="#d0d5dd" stroke-width="1"/>'
            f'<text x="{LEFT - 6}" y="{gy + 4:.1f}" text-anchor="end" font-size="13" fill="#475467">'
            f"{escape(_fmt(value))}{escape(unit)}</text>"
        )
    # x labels: first, middle, last
    ticks = sorted({first, first + dt.timedelta(days=span // 2), last}) if len(dates) > 1 else [first]
    for day in ticks:
        # The first label starts at the axis and the last ends at it, so neither is cut at the edge.
        anchor = (
            "start"
            if day == first and len(ticks) > 1
            else "end"
            if day == last and len(ticks) > 1
            else "middle"
        )
        parts.append(
            f'<text x="{x(day):.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="{anchor}" font-size="13" '
            f'fill="#475467">{day.month}/{day.day}</text>'
        )
    parts.append(
        f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH - RIGHT}" y2="{TOP + plot_h}" '
        f'stroke="#667085" stroke-width="1"/>'
    )
    for s in series:
        colour = COLOURS.get(s.key, "#1b2a41")
        points = [(x(d), y(v)) for d, v in zip(dates, s.values, strict=False) if v is not None]
        if len(points) > 1:
            path = " ".join(f"{px:.1f},{py:.1f}" for px, py in points)
            parts.append(
                f'<polyline class="chart__line chart__line--{escape(s.key)}" points="{path}" fill="none" '
                f'stroke="{colour}" stroke-width="2" stroke-linejoin="round"/>'
            )
        for px, py in points[-1:] if len(points) > 1 else points:
            parts.append(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="3" fill="{colour}"/>')
    # legend
    lx = LEFT
    for s in series:
        colour = COLOURS.get(s.key, "#1b2a41")
        parts.append(
            f'<rect x="{lx}" y="{HEIGHT - 20}" width="11" height="11" fill="{colour}"/>'
            f'<text x="{lx + 15}" y="{HEIGHT - 10}" font-size="13" fill="#1d2939">{escape(s.label)}</text>'
        )
        lx += 14 + 14 * len(s.label) + 22
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 — every text above is escaped
