"""Sales files for tests: hand-written lines in the contract's header, and table snapshots."""

from __future__ import annotations

from pathlib import Path

import psycopg

from warehouse_assets_tests.support.paths import HEADER

# Every table a sales load writes, in a stable order, for before/after comparisons.
TABLES = {
    "fact_sales": "SELECT transaction_id, date_key, customer_id, product_id, transaction_ts, quantity, unit_price, "
    "total_amount, payment_method, order_id, transaction_type, original_transaction_id, opens_order, discount_amount, "
    "source_file, source_line, source_line_count FROM warehouse.fact_sales ORDER BY transaction_id",
    "rejected_sales": "SELECT source_file, line_number, line_count, transaction_id, reasons, raw_record "
    "FROM warehouse.rejected_sales ORDER BY source_file, line_number",
    "dim_customer": "SELECT customer_id, customer_name, city, country, first_purchase_date, last_purchase_date, "
    "total_orders, total_quantity, lifetime_value, gross_sales, returns_amount, return_count "
    "FROM warehouse.dim_customer ORDER BY customer_id",
    "customer_file_stats": "SELECT * FROM warehouse.customer_file_stats ORDER BY customer_id, source_file",
    "dim_date": "SELECT * FROM warehouse.dim_date ORDER BY date_key",
    "dim_product": "SELECT product_id, product_name, is_inferred FROM warehouse.dim_product ORDER BY product_id",
    "sales_files": "SELECT source_file, fingerprint, lines_read, records_read, rows_loaded, amount_loaded, rows_rejected, "
    "rows_duplicate, noise_lines FROM warehouse.sales_files ORDER BY source_file",
    "agg_sales_daily": "SELECT * FROM warehouse.agg_sales_daily ORDER BY 1, 2, 3",
    "agg_customers_daily": "SELECT * FROM warehouse.agg_customers_daily ORDER BY 1",
    "agg_customers_monthly": "SELECT * FROM warehouse.agg_customers_monthly ORDER BY 1, 2",
    "agg_cohorts_monthly": "SELECT * FROM warehouse.agg_cohorts_monthly ORDER BY 1, 2",
}


def snapshot(db: psycopg.Connection) -> dict[str, list[tuple]]:
    return {name: db.execute(query).fetchall() for name, query in TABLES.items()}


def write_sales(path: Path, *lines: str) -> Path:
    """A standard sales file with the given data lines."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEADER + "\n" + "".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def line(
    tid: str,
    day: str,
    customer: str = "C1",
    amount: str = "10.00",
    *,
    quantity: int = 1,
    product: int = 1,
    name: str = "Ann",
    city: str = "Paris",
    country: str = "France",
    payment: str = "cash",
) -> str:
    """One data line whose unit price is `amount` / `quantity` (so it passes the amount rule)."""
    cents = round(float(amount) * 100)
    unit = f"{cents // quantity // 100}.{cents // quantity % 100:02d}"
    total = f"{(cents // quantity) * quantity // 100}.{(cents // quantity) * quantity % 100:02d}"
    return f"{tid},{day},{customer},{name},{city},{country},{product},{quantity},{unit},{total},{payment}"


def small_sales_file(landing: Path, name: str, seed: int, prefix: str, rows: int = 400) -> str:
    """A generated sales file with 5% bad rows of every kind, ids starting with `prefix`."""
    from warehouse_assets.cli.sample_data import SalesSpec, generate_sales

    generate_sales(
        landing / name, SalesSpec(rows=rows, customers=60, products=20, bad_share=0.05, seed=seed, id_prefix=prefix)
    )
    return name
