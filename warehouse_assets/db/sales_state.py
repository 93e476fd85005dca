"""How the sales tables stand, for the asset pages: totals from the ledger, previews, row counts."""

from __future__ import annotations

from typing import Any

from warehouse_assets.db import sqlfiles
from warehouse_assets.db.connection import Database, fetch_dicts


def fact_sales_state(db: Database) -> dict[str, Any]:
    with db.connection() as conn:
        totals = fetch_dicts(conn, "queries/fact_sales_state.sql")[0]
        by_reason = {r["reason"]: int(r["rows"]) for r in fetch_dicts(conn, "queries/quarantine_by_reason.sql")}
        cur = conn.execute(sqlfiles.statement("queries/fact_sales_preview.sql"))
        columns, preview = [d.name for d in cur.description], cur.fetchall()
    return {
        "rows": int(totals["rows"]),
        "quarantined": int(totals["quarantined"]),
        "files": int(totals["files"]),
        "by_reason": by_reason,
        "columns": columns,
        "preview": preview,
    }


def derived_state(db: Database) -> dict[str, dict[str, Any]]:
    """Plain metadata per derived table (row counts; dim_date's first and last day)."""
    with db.connection() as conn:
        s = fetch_dicts(conn, "queries/derived_state.sql")[0]
    return {
        "dim_customer": {"dagster/row_count": int(s["dim_customer_rows"])},
        "dim_date": {
            "dagster/row_count": int(s["dim_date_rows"]),
            "first_day": str(s["first_day"]),
            "last_day": str(s["last_day"]),
        },
        "agg_sales_daily": {"dagster/row_count": int(s["agg_sales_daily_rows"])},
        "agg_customers_daily": {"dagster/row_count": int(s["agg_customers_daily_rows"])},
        "agg_customers_monthly": {"dagster/row_count": int(s["agg_customers_monthly_rows"])},
        "agg_cohorts_monthly": {"dagster/row_count": int(s["agg_cohorts_monthly_rows"])},
    }
