"""The executive summary as people like to see it: key figures, a chart, a self-contained page.

Pure presentation of data already read (`db.summary.load_summary` reads it from the analytics
views): used by the `executive_summary` asset (a compact chart and the figures go into its
metadata, so the UI shows them on the asset page) and by `warehouse report` (a self-contained HTML
page that reads well on a phone and prints on A4, and the figures printed in the terminal).
"""

from __future__ import annotations

import datetime as dt
import html
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from warehouse_assets.core.charts import PALETTE, compact_revenue_markdown, money, revenue_svg, top_products_svg

_MONEY = {"total_revenue", "avg_order_value", "last_30_days_revenue", "previous_30_days_revenue"}
_FIGURES = (
    ("total_revenue", "Net revenue"),
    ("total_orders", "Orders"),
    ("total_customers", "Customers"),
    ("avg_order_value", "Average order value"),
    ("best_product", "Best product"),
    ("best_city", "Best city"),
    ("last_30_days_revenue", "Revenue, last 30 days"),
    ("previous_30_days_revenue", "Revenue, previous 30 days"),
    ("growth_vs_previous_period", "Growth vs previous 30 days"),
    ("return_rate", "Return rate"),
    ("repeat_customer_share", "Repeat customers"),
)
_SHARES = frozenset({"return_rate", "repeat_customer_share"})


@dataclass
class Summary:
    figures: dict[str, Any]
    daily: list[tuple[dt.date, Decimal]]
    top_products: list[tuple[str, Decimal]]

    def formatted(self) -> list[tuple[str, str]]:
        out = []
        for key, label in _FIGURES:
            value = self.figures.get(key)
            if value is None:
                text = "n/a"
            elif key == "growth_vs_previous_period":
                text = f"{float(value) * 100:+.1f} %"
            elif key in _SHARES:
                text = f"{float(value) * 100:.1f} %"
            elif key == "best_city":
                text = f"{value}, {self.figures.get('best_city_country') or ''}".rstrip(", ")
            elif key in _MONEY:
                text = money(value)
            elif isinstance(value, Decimal):
                text = f"{value:,.2f}"
            elif isinstance(value, int):
                text = f"{value:,}"
            else:
                text = str(value)
            # Names come from the data (a product title, a city) and may hold line breaks; a
            # figure is one line of the terminal's list.
            out.append((label, " ".join(text.split())))
        return out

    def chart_markdown(self) -> str:
        """The daily revenue as markdown short enough for the UI to show it inline."""
        return compact_revenue_markdown(self.daily)

    def top_products_rows(self) -> list[tuple[int, str, str, str]]:
        """(rank, product, revenue, share of all revenue) of the best-selling products."""
        total = self.figures.get("total_revenue") or 0
        return [
            (rank, name, money(value), f"{float(value) / float(total) * 100:.1f}\u00a0%" if total else "n/a")
            for rank, (name, value) in enumerate(self.top_products, start=1)
        ]


_ROOT = ":root { " + " ".join(f"--{name}: {colour};" for name, colour in PALETTE.items()) + " }"
_CSS = """
* { box-sizing: border-box; }
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--ink); margin: 0;
       background: #f8fafc; line-height: 1.45; }
main { max-width: 960px; margin: 0 auto; padding: 1.5rem 1rem 3rem; }
header { border-bottom: 3px solid var(--primary); margin-bottom: 1.25rem; padding-bottom: .5rem; }
h1 { margin: 0; font-size: 1.6rem; color: var(--primary); }
h2 { font-size: 1.1rem; margin: 1.75rem 0 .5rem; }
.period { color: var(--muted); margin: .25rem 0 0; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(200px, 1fr)); gap: .75rem; }
.card { background: #fff; border: 1px solid var(--grid); border-radius: 8px; padding: .75rem 1rem; }
.card .label { color: var(--muted); font-size: .85rem; }
.card .value { font-size: 1.45rem; font-weight: 650; font-variant-numeric: tabular-nums; }
.up { color: #15803d; } .down { color: var(--accent); }
figure { margin: 0; background: #fff; border: 1px solid var(--grid); border-radius: 8px; padding: .75rem; }
figure svg { display: block; width: 100%; height: auto; }
table { border-collapse: collapse; width: 100%; background: #fff; }
th, td { text-align: left; padding: .4rem .6rem; border-bottom: 1px solid var(--grid); }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.figures th { font-weight: 600; width: 55%; }
.figures td { text-align: right; font-variant-numeric: tabular-nums; }
footer { color: var(--muted); font-size: .8rem; margin-top: 2rem; }
@media (max-width: 600px) {
  main { padding: 1rem .6rem 2rem; }
  h1 { font-size: 1.3rem; }
  .card .value { font-size: 1.2rem; }
  .cards { grid-template-columns: repeat(2, 1fr); }
  figure.bars { display: none; }  /* the table below says the same, readably */
  th, td { padding: .35rem .3rem; font-size: .9rem; }
}
@page { size: A4; margin: 14mm; }
@media print {
  html { font-size: 9pt; }  /* every size above is in rem: the whole page scales to A4 */
  body { background: #fff; }
  main { max-width: none; padding: 0; }
  .cards { grid-template-columns: repeat(5, 1fr); gap: 2mm; }
  figure svg { max-height: 75mm; }
  .card, figure { break-inside: avoid; border-color: #cbd5e1; }
  section { break-inside: avoid; }
}
"""

_CARDS = ("Net revenue", "Orders", "Customers", "Average order value")


def html_report(summary: Summary, generated_at: dt.datetime) -> str:
    """The monthly report as one HTML page: key figures, the revenue chart, the best products,
    the figures in full; its charts are inline SVG, so it needs nothing but the file."""
    figures = summary.formatted()
    by_label = dict(figures)
    growth = summary.figures.get("growth_vs_previous_period")
    trend = "" if growth is None else ("up" if growth >= 0 else "down")
    cards = "\n".join(
        f'<div class="card"><div class="label">{html.escape(label)}</div>'
        f'<div class="value">{html.escape(by_label[label])}</div></div>'
        for label in _CARDS
    )
    cards += (
        f'\n<div class="card"><div class="label">Growth, last 30 days</div>'
        f'<div class="value {trend}">{html.escape(by_label["Growth vs previous 30 days"])}</div></div>'
    )
    rows = "\n".join(f"<tr><th>{html.escape(label)}</th><td>{html.escape(text)}</td></tr>" for label, text in figures)
    products = "\n".join(
        f'<tr><td class="num">{rank}</td><td>{html.escape(name)}</td><td class="num">{revenue}</td>'
        f'<td class="num">{share}</td></tr>'
        for rank, name, revenue, share in summary.top_products_rows()
    )
    period_end = html.escape(str(summary.figures.get("period_end") or "n/a"))
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Executive summary</title>
<style>{_ROOT}{_CSS}</style></head>
<body><main>
<header><h1>Executive summary</h1>
<p class="period">Period ending {period_end}; generated {html.escape(generated_at.strftime("%Y-%m-%d %H:%M UTC"))}.</p>
</header>
<div class="cards">
{cards}
</div>
<section><h2>Revenue per day</h2>
<figure>{revenue_svg(summary.daily)}</figure></section>
<section><h2>Best-selling products</h2>
<figure class="bars">{top_products_svg(summary.top_products)}</figure>
<table class="products"><thead><tr><th class="num">#</th><th>Product</th><th class="num">Revenue</th>
<th class="num">Share</th></tr></thead>
<tbody>
{products}
</tbody></table></section>
<section><h2>Figures</h2>
<table class="figures">
{rows}
</table></section>
<footer>Amounts in US dollars, from the warehouse's analytics views.</footer>
</main></body></html>
"""
