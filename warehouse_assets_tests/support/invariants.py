"""What must hold of any warehouse, whatever was loaded and however a load ended."""

from __future__ import annotations

from warehouse_assets.db.checks import check_rows
from warehouse_assets.db.connection import Database


def assert_consistent(url: str) -> None:
    """Every check that needs only the database passes over the whole warehouse."""
    db = Database(url)
    rows = check_rows(db, "sales_file_reconciles", None)
    assert rows and all(
        r["lines_read"] == r["lines_loaded"] + r["lines_quarantined"] + r["lines_skipped"]
        and not r["stale_facts"]
        and not r["dangling_duplicates"]
        for r in rows
    ), rows
    (customers,) = check_rows(db, "dim_customer_matches_facts", None)
    assert not any(
        customers[k] for k in ("lifetime_value_mismatch", "total_orders_mismatch", "purchase_dates_mismatch")
    ), customers
    (summaries,) = check_rows(db, "daily_summaries_reconcile", None)
    assert not any(summaries[k] for k in ("transactions_mismatch", "revenue_mismatch", "files_not_matching_ledger")), (
        summaries
    )
