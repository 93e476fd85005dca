"""Charts as SVG text, written by hand: crisp at any size, printable, and small.

Two sizes of the same picture. `compact_revenue_markdown` is the daily revenue for the Dagster
UI: the UI renders a markdown metadata value on the asset page only when it is shorter than
1,000 characters (longer ones hide behind "[Show Markdown]"), so the chart is a data-URI SVG
whose resolution is lowered until it fits. `revenue_svg` and `top_products_svg` are the report's
charts, with axes in money and thousands separators.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Sequence
from decimal import Decimal
from urllib.parse import quote

CURRENCY_SYMBOL = "$"  # FakeStore's prices are US dollars, and the sales files use them
UI_MARKDOWN_LIMIT = 1000  # the UI shows shorter markdown values inline
_URL_SAFE = ",/:=-.'$"  # left as they are in the data URI: markdown and browsers accept them

PALETTE = {
    "ink": "#1f2937",
    "muted": "#6b7280",
    "grid": "#e5e7eb",
    "primary": "#1f4e79",
    "light": "#a9c4e0",
    "accent": "#c2410c",
}

SVG_NS = "http://www.w3.org/2000/svg"

Daily = Sequence[tuple[dt.date, Decimal | float]]


def money(value: Decimal | float | int | None, *, cents: bool = True) -> str:
    if value is None:
        return "n/a"
    sign = "-" if value < 0 else ""
    return f"{sign}{CURRENCY_SYMBOL}{abs(value):,.{2 if cents else 0}f}"


def _buckets(values: list[float], count: int) -> list[float]:
    """`values` averaged into `count` consecutive buckets of (nearly) equal length."""
    count = max(1, min(count, len(values)))
    out = []
    for i in range(count):
        chunk = values[i * len(values) // count : (i + 1) * len(values) // count]
        out.append(sum(chunk) / len(chunk))
    return out


def _trend(values: list[float]) -> tuple[float, float]:
    """Least-squares line through (index, value): (value at the first index, at the last)."""
    n = len(values)
    if n < 2:
        return (values[0], values[0]) if values else (0.0, 0.0)
    mean_x, mean_y = (n - 1) / 2, sum(values) / n
    slope = sum((i - mean_x) * (v - mean_y) for i, v in enumerate(values)) / sum((i - mean_x) ** 2 for i in range(n))
    return mean_y - slope * mean_x, mean_y + slope * mean_x


def _compact_svg(daily: Daily, points: int) -> str:
    values = [float(v) for _, v in daily]
    means = _buckets(values, points)
    top, bottom = 22, 112  # the line between y=top and y=bottom
    peak = max(max(means), 1e-9)
    step = 440 // max(len(means) - 1, 1)
    width = step * max(len(means) - 1, 1)

    def y(v: float) -> int:
        return round(bottom - (bottom - top) * max(v, 0) / peak)

    ys = [y(v) for v in means]
    area = f"M0,{bottom}V{ys[0]}" + "".join(f"l{step},{b - a}" for a, b in zip(ys, ys[1:])) + f"V{bottom}Z"
    right = step * (len(means) - 1)
    first, last = _trend(values)
    end = f"{daily[-1][0]:%d %b %Y}"
    return (
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='130' font-family='sans-serif'"
        f" font-size='12' fill='{PALETTE['muted']}'>"
        f"<path d='{area}' fill='{PALETTE['light']}' stroke='{PALETTE['primary']}' stroke-width='1.5'/>"
        f"<path d='M0,{y(first)}L{right},{y(last)}' stroke='{PALETTE['accent']}' stroke-dasharray='6,4'/>"
        f"<text y='12'>up to {money(peak, cents=False)} a day</text>"
        f"<text y='127'>{daily[0][0]:%d %b %Y}</text>"
        f"<text x='{right}' y='127' text-anchor='end'>{end}</text></svg>"
    )


def compact_revenue_markdown(daily: Daily, limit: int = UI_MARKDOWN_LIMIT) -> str:
    """Markdown of an image: the daily revenue (averaged over as few days as the limit allows)
    and its linear trend, shorter than `limit` characters."""
    alt = "Revenue per day, and its trend (dashed)"
    if not daily:
        return "No sales yet."
    points = min(len(daily), 111)
    while True:
        svg = _compact_svg(daily, points)
        markdown = f"![{alt}](data:image/svg+xml,{quote(svg, safe=_URL_SAFE)})"
        if len(markdown) < limit or points <= 2:
            return markdown
        points = max(2, int(points * 0.85))


# --- The report's charts ----------------------------------------------------------------------


def _nice_step(peak: float, ticks: int = 5) -> float:
    raw = max(peak, 1e-9) / ticks
    magnitude = 10 ** len(str(int(raw))) / 10 if raw >= 1 else 1
    for factor in (1, 2, 2.5, 5, 10):
        if factor * magnitude >= raw:
            return factor * magnitude
    return 10 * magnitude


def _mean7(values: list[float]) -> list[float | None]:
    return [None if i < 6 else sum(values[i - 6 : i + 1]) / 7 for i in range(len(values))]


def revenue_svg(daily: Daily) -> str:
    """Daily revenue, its 7-day mean and its linear trend, with money on the y axis and the
    months on the x axis; scales to the width of its container."""
    width, height = 900, 340
    left, right, top, bottom = 78, 16, 36, 300
    if not daily:
        return f"<svg viewBox='0 0 {width} 60' role='img'><text x='0' y='30'>No sales yet.</text></svg>"
    values = [float(v) for _, v in daily]
    step = _nice_step(max(values))
    ceiling = step * (int(max(values) / step) + 1)
    first_day = daily[0][0]
    span = max((daily[-1][0] - first_day).days, 1)

    def x(day: dt.date) -> float:
        return left + (width - left - right) * (day - first_day).days / span

    def y(v: float) -> float:
        return bottom - (bottom - top) * v / ceiling

    parts = [
        f"<svg xmlns='{SVG_NS}' viewBox='0 0 {width} {height}' role='img' aria-label='Revenue per day' "
        f"font-family='system-ui, sans-serif' font-size='13' fill='{PALETTE['muted']}'>"
    ]
    tick = 0.0
    while tick <= ceiling + 1e-9:
        parts.append(
            f"<line x1='{left}' x2='{width - right}' y1='{y(tick):.1f}' y2='{y(tick):.1f}' stroke='{PALETTE['grid']}'/>"
            f"<text x='{left - 8}' y='{y(tick) + 4:.1f}' text-anchor='end'>{money(tick, cents=False)}</text>"
        )
        tick += step
    months = []
    month = dt.date(first_day.year, first_day.month, 1)
    while month <= daily[-1][0]:
        if month >= first_day:
            months.append(month)
        month = dt.date(month.year + month.month // 12, month.month % 12 + 1, 1)
    every = -(-len(months) // 7)  # at most seven labels, so they stay apart on a phone
    for i, month in enumerate(months):
        parts.append(
            f"<line x1='{x(month):.1f}' x2='{x(month):.1f}' y1='{top}' y2='{bottom}' stroke='{PALETTE['grid']}'/>"
        )
        if i % every == 0:
            parts.append(f"<text x='{x(month):.1f}' y='{bottom + 20}' text-anchor='middle'>{month:%b %Y}</text>")

    def path(points: list[tuple[dt.date, float]]) -> str:
        return "M" + "L".join(f"{x(d):.1f},{y(v):.1f}" for d, v in points)

    days = [d for d, _ in daily]
    parts.append(
        f"<path d='{path(list(zip(days, values)))}' fill='none' stroke='{PALETTE['light']}' stroke-width='1.2'/>"
    )
    mean = [(d, m) for d, m in zip(days, _mean7(values)) if m is not None]
    if mean:
        parts.append(f"<path d='{path(mean)}' fill='none' stroke='{PALETTE['primary']}' stroke-width='2.4'/>")
    if len(values) >= 2:
        start, end = _trend([float(v) for v in values])
        # The trend is fitted per day with sales; drawn between the first and the last of them.
        parts.append(
            f"<path d='{path([(days[0], start), (days[-1], end)])}' stroke='{PALETTE['accent']}' "
            "stroke-width='2' stroke-dasharray='7,5'/>"
        )
    legend = (("daily revenue", PALETTE["light"], ""), ("7-day mean", PALETTE["primary"], ""))
    legend += (("trend", PALETTE["accent"], " stroke-dasharray='7,5'"),)
    for i, (label, colour, dash) in enumerate(legend):
        lx = left + i * 150
        parts.append(
            f"<line x1='{lx}' x2='{lx + 24}' y1='16' y2='16' stroke='{colour}' stroke-width='3'{dash}/>"
            f"<text x='{lx + 30}' y='20' fill='{PALETTE['ink']}'>{label}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def top_products_svg(top: Sequence[tuple[str, Decimal | float]]) -> str:
    """Horizontal bars of the best-selling products, each labelled with its revenue."""
    width, row, label_width = 900, 30, 330
    if not top:
        return f"<svg viewBox='0 0 {width} 60' role='img'><text x='0' y='30'>No sales yet.</text></svg>"
    height = row * len(top) + 8
    peak = max(float(v) for _, v in top) or 1.0
    bar_space = width - label_width - 110
    parts = [
        f"<svg xmlns='{SVG_NS}' viewBox='0 0 {width} {height}' role='img' aria-label='Top products by revenue' "
        f"font-family='system-ui, sans-serif' font-size='13' fill='{PALETTE['ink']}'>"
    ]
    for i, (name, value) in enumerate(top):
        y = i * row + 4
        shown = name if len(name) <= 44 else name[:43] + "…"
        bar = bar_space * float(value) / peak
        parts.append(
            f"<text x='{label_width - 10}' y='{y + 17}' text-anchor='end'>{html.escape(shown)}</text>"
            f"<rect x='{label_width}' y='{y + 3}' width='{bar:.1f}' height='{row - 10}' rx='3' fill='{PALETTE['primary']}'/>"
            f"<text x='{label_width + bar + 8:.1f}' y='{y + 17}' fill='{PALETTE['muted']}'>{money(value, cents=False)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)
