"""The executive summary as people like to see it: key figures, a chart, a self-contained page.

Pure presentation of data already read (`db.summary.load_summary` reads it from the analytics
views): used by the `executive_summary` asset (the chart goes into its metadata, so the UI shows
it on the asset page) and by `warehouse report` (an HTML file with the chart embedded, and the
figures printed in the terminal).
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np

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
            elif isinstance(value, Decimal):
                text = f"{value:,.2f}"
            elif isinstance(value, int):
                text = f"{value:,}"
            else:
                text = str(value)
            out.append((label, text))
        return out


def render_chart(summary: Summary) -> bytes:
    """PNG: daily revenue with its 7-day mean and a linear trend, and the top products."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(10, 8), gridspec_kw={"height_ratios": [3, 2]})
    if summary.daily:
        days = np.array([d for d, _ in summary.daily], dtype="datetime64[D]")
        revenue = np.array([float(v) for _, v in summary.daily])
        ax1.plot(days, revenue, color="#9bb7d4", linewidth=0.8, label="daily revenue")
        if revenue.size >= 7:
            mean7 = np.convolve(revenue, np.ones(7) / 7, mode="valid")
            ax1.plot(days[6:], mean7, color="#1f4e79", linewidth=1.6, label="7-day mean")
        if revenue.size >= 2:
            x = (days - days[0]).astype(float)
            slope, intercept = np.polyfit(x, revenue, 1)
            ax1.plot(days, slope * x + intercept, color="#c0392b", linestyle="--", label="trend")
        ax1.legend(loc="upper left")
    ax1.set_title("Daily revenue")
    ax1.grid(alpha=0.3)
    if summary.top_products:
        names = [n if len(n) <= 40 else n[:37] + "..." for n, _ in summary.top_products][::-1]
        values = [float(v) for _, v in summary.top_products][::-1]
        ax2.barh(names, values, color="#1f4e79")
    ax2.set_title("Top products by revenue")
    ax2.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    return buf.getvalue()


def png_markdown(png: bytes, alt: str = "chart") -> str:
    return f"![{alt}](data:image/png;base64,{base64.b64encode(png).decode()})"


def html_report(summary: Summary, png: bytes, generated_at: dt.datetime) -> str:
    rows = "\n".join(
        f"<tr><th>{html.escape(label)}</th><td>{html.escape(text)}</td></tr>" for label, text in summary.formatted()
    )
    image = base64.b64encode(png).decode()
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Executive summary</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 960px; color: #222; }}
table {{ border-collapse: collapse; margin-bottom: 1.5rem; }}
th {{ text-align: left; padding: .3rem 1.5rem .3rem 0; font-weight: 600; }}
td {{ padding: .3rem 0; font-variant-numeric: tabular-nums; }}
img {{ max-width: 100%; }}
</style></head>
<body>
<h1>Executive summary</h1>
<p>Period ending {html.escape(str(summary.figures.get("period_end") or "n/a"))}; generated {html.escape(generated_at.strftime("%Y-%m-%d %H:%M UTC"))}.</p>
<table>
{rows}
</table>
<img alt="Daily revenue with trend, and top products" src="data:image/png;base64,{image}">
</body></html>
"""
