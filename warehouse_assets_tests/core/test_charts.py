"""The hand-written SVG charts: the compact one fits the UI's inline limit whatever the number of
days, every chart is well-formed SVG, and the trend is the least-squares line."""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET
from decimal import Decimal
from urllib.parse import unquote

import numpy as np
import pytest

from warehouse_assets.core import charts

SVG = "{http://www.w3.org/2000/svg}"


def days(n: int, seed: int = 3) -> list[tuple[dt.date, Decimal]]:
    rng = np.random.default_rng(seed)
    start = dt.date(2024, 1, 1)
    return [(start + dt.timedelta(i), Decimal(f"{v:.2f}")) for i, v in enumerate(rng.uniform(10, 99_999, n))]


@pytest.mark.parametrize("n", [1, 2, 7, 90, 365, 3650])
def test_the_compact_chart_stays_below_the_inline_limit(n):
    markdown = charts.compact_revenue_markdown(days(n))
    assert len(markdown) < charts.UI_MARKDOWN_LIMIT, len(markdown)
    found = re.fullmatch(r"!\[[^\]]+\]\(data:image/svg\+xml,([^\s()]+)\)", markdown)
    assert found, markdown
    svg = ET.fromstring(unquote(found.group(1)))
    labels = [t.text for t in svg.iter(f"{SVG}text")]
    assert f"{days(n)[0][0]:%d %b %Y}" in labels and f"{days(n)[-1][0]:%d %b %Y}" in labels


def test_no_sales_is_said_in_words():
    assert charts.compact_revenue_markdown([]) == "No sales yet."


def test_the_trend_is_the_least_squares_line():
    values = [float(v) for _, v in days(200)]
    slope, intercept = np.polyfit(np.arange(200), values, 1)
    first, last = charts._trend(values)
    assert first == pytest.approx(intercept) and last == pytest.approx(intercept + 199 * slope)


def test_money_has_the_currency_and_thousands_separators():
    assert charts.money(Decimal("1234567.891")) == "$1,234,567.89"
    assert charts.money(-5) == "-$5.00"
    assert charts.money(98765.4, cents=False) == "$98,765"


def test_the_report_charts_are_svg_with_money_on_the_axis():
    revenue = ET.fromstring(charts.revenue_svg(days(120)))
    labels = [t.text for t in revenue.iter(f"{SVG}text")]
    assert "$0" in labels and any(re.fullmatch(r"\$\d{1,3}(,\d{3})+", t or "") for t in labels), labels
    assert "Jan 2024" in labels and "Apr 2024" in labels
    top = ET.fromstring(charts.top_products_svg([("A & B <ring>", Decimal("1500.5")), ("Tee", Decimal(20))]))
    assert [t.text for t in top.iter(f"{SVG}text")] == ["A & B <ring>", "$1,500", "Tee", "$20"]
    assert len(list(top.iter(f"{SVG}rect"))) == 2
