"""The executive summary's data, read from the analytics views (for the asset and the report)."""

from __future__ import annotations

import psycopg

from warehouse_assets.core.reporting import Summary
from warehouse_assets.db import sqlfiles
from warehouse_assets.db.connection import fetch_dicts


def load_summary(conn: psycopg.Connection, top: int = 10) -> Summary:
    figures = fetch_dicts(conn, "queries/summary_figures.sql")
    daily = conn.execute(sqlfiles.statement("queries/summary_daily_revenue.sql")).fetchall()
    products = conn.execute(sqlfiles.statement("queries/summary_top_products.sql"), {"top": top}).fetchall()
    return Summary(figures=figures[0] if figures else {}, daily=daily, top_products=products)
