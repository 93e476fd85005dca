"""The schema: `sql/schema/*.sql` applies idempotently, has the indexes the load and the pages
rely on, refuses a database from the earlier release, and the staged row declared once in
`sql/load/staged_sales.sql` is the shape the reader builds."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import psycopg
import psycopg.sql
import pyarrow as pa
import pytest
from psycopg.rows import dict_row

from warehouse_assets.core.sales_reader import SalesFileReader
from warehouse_assets.core.staged import STAGED_JSONB, STAGED_SCHEMA
from warehouse_assets.db import sqlfiles
from warehouse_assets.db.copy import copy_binary
from warehouse_assets.db.migrations import apply_schema
from warehouse_assets.db.views import ensure_views, view_files
from warehouse_assets_tests.support.databases import connect
from warehouse_assets_tests.support.paths import HEADER, SQL_DIR

NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.timezone.utc)
SCHEMA_FILES = sorted(p.name for p in (SQL_DIR / "schema").glob("*.sql"))


def schema_shape(conn) -> list[tuple]:
    return conn.execute(
        """
        SELECT 'column', table_schema || '.' || table_name || '.' || column_name, data_type
        FROM information_schema.columns WHERE table_schema IN ('warehouse', 'analytics')
        UNION ALL
        SELECT 'index', schemaname || '.' || indexname, indexdef FROM pg_indexes
        WHERE schemaname IN ('warehouse', 'analytics')
        ORDER BY 1, 2
        """
    ).fetchall()


def test_schema_applies_idempotently(empty_database_url):
    assert apply_schema(empty_database_url) == SCHEMA_FILES
    with connect(empty_database_url) as conn:
        shape = schema_shape(conn)
        tables = {name.split(".")[1] for kind, name, _ in shape if kind == "column" and name.startswith("warehouse.")}
        assert {
            "dim_product",
            "dim_customer",
            "dim_date",
            "fact_sales",
            "rejected_sales",
            "rejected_products",
            "sales_files",
        } <= tables
        # Running the files themselves again (not only the bookkeeping) changes nothing either.
        conn.execute("DELETE FROM warehouse.schema_history")
    assert apply_schema(empty_database_url) == SCHEMA_FILES
    assert apply_schema(empty_database_url) == []
    with connect(empty_database_url) as conn:
        assert schema_shape(conn) == shape


def test_the_indexes_the_load_and_the_pages_use_exist(warehouse_url):
    with connect(warehouse_url) as conn:
        indexes = {name for kind, name, _ in schema_shape(conn) if kind == "index"}
    for needed in (
        "fact_sales_pkey",
        "fact_sales_source_file_idx",  # replacing a file finds its facts
        "fact_sales_customer_day_idx",  # distinct-customer counts of the days a load touches
        "dim_customer_pkey",
        "customer_file_stats_source_file_idx",  # a replaced file's contribution to customers
    ):
        assert f"warehouse.{needed}" in indexes, sorted(indexes)
    # Every other index on the facts costs each load and serves no statement (issue: load speed).
    fact_indexes = {i for i in indexes if i.startswith("warehouse.fact_sales_")}
    assert fact_indexes == {
        "warehouse.fact_sales_pkey",
        "warehouse.fact_sales_source_file_idx",
        "warehouse.fact_sales_customer_day_idx",
    }


def test_a_database_of_the_earlier_release_is_refused_with_what_to_do(empty_database_url):
    with connect(empty_database_url) as conn:
        conn.execute("CREATE SCHEMA warehouse; CREATE TABLE warehouse.raw_sales (id int)")
    with pytest.raises(psycopg.errors.RaiseException) as info:
        apply_schema(empty_database_url)
    assert "earlier release" in str(info.value)
    assert "warehouse load --all" in (info.value.diag.message_hint or "")
    with connect(empty_database_url) as conn:  # nothing of the new schema was left behind
        assert conn.execute("SELECT to_regclass('warehouse.fact_sales')").fetchone() == (None,)


def test_the_staged_row_is_the_shape_the_reader_builds(warehouse_url):
    with psycopg.connect(warehouse_url) as conn:
        conn.execute(sqlfiles.read("load/staged_sales.sql"))
        columns = conn.execute(
            """
            SELECT a.attname, format_type(a.atttypid, a.atttypmod)
            FROM pg_attribute a WHERE a.attrelid = 'pg_temp.staged_sales'::regclass AND a.attnum > 0 AND NOT a.attisdropped
            ORDER BY a.attnum
            """
        ).fetchall()
        conn.rollback()
    # The reader types each column as the binary form of its declared PostgreSQL type, never by
    # guessing from data.
    arrow_for = {
        "integer": pa.int32(),
        "bigint": pa.int64(),
        "text": pa.string(),
        "numeric(12,2)": pa.decimal128(12, 2),
        "numeric(14,2)": pa.decimal128(14, 2),
        "timestamp with time zone": pa.timestamp("us", tz="UTC"),
        "text[]": pa.list_(pa.string()),
        "jsonb": pa.string(),
        "boolean": pa.bool_(),
    }
    assert [name for name, _ in columns] == STAGED_SCHEMA.names
    assert [arrow_for[kind] for _, kind in columns] == STAGED_SCHEMA.types
    assert STAGED_JSONB == {name for name, kind in columns if kind == "jsonb"}


def test_the_readers_rows_arrive_in_the_staged_table_as_they_are(warehouse_url, tmp_path):
    """Binary COPY: every value of every kind of row (valid, rejected, malformed) reads back
    equal, amounts to the cent, times to the microsecond, reasons in order, JSON as JSON."""
    path = tmp_path / "f.csv"
    path.write_text(
        HEADER
        + "\nT1,2024-03-05T10:11:12.345678Z,C1,Ana,Lisboa,PT,3,2,4.485,8.97,cash"
        + "\nT2,2024-13-40,C2,,,,1,0,-1,2,barter"
        + "\nT3,2024-03-06,C3,Bo,Oslo,NO,4,1,2.5\n"
        + "T4,2024-03-07,C4,Cy,,,5,3,0.1,0.3,paypal\n",
        encoding="utf-8",
    )
    reader = SalesFileReader(path, source_file="f.csv", load_time=NOW, earliest=dt.date(2000, 1, 1))
    tables = list(reader.tables())
    expected = pa.concat_tables(tables).to_pylist()
    with psycopg.connect(warehouse_url) as conn:
        conn.execute(sqlfiles.read("load/staged_sales.sql"))
        assert copy_binary(conn, psycopg.sql.Identifier("staged_sales"), STAGED_SCHEMA, tables, jsonb=STAGED_JSONB) == 4
        with conn.cursor(row_factory=dict_row) as cur:
            rows = cur.execute("SELECT * FROM staged_sales ORDER BY line_number").fetchall()
        conn.rollback()
    for row in expected:
        if row["raw_record"] is not None:
            row["raw_record"] = json.loads(row["raw_record"])
    assert rows == sorted(expected, key=lambda r: r["line_number"])
    assert rows[0]["unit_price"] == Decimal("4.49") and rows[0]["total_amount"] == Decimal("8.97")
    assert rows[0]["transaction_ts"] == dt.datetime(2024, 3, 5, 10, 11, 12, 345678, tzinfo=dt.timezone.utc)
    assert rows[1]["reasons"] == [
        "bad_date",
        "non_positive_quantity",
        "negative_amount",
        "amount_mismatch",
        "bad_payment_method",
    ]
    assert rows[2]["reasons"] == ["malformed_row"]


# The shape of a warehouse from before orders, returns and discounts, as far as they changed it.
BEFORE_ORDERS = """
ALTER TABLE warehouse.fact_sales DROP COLUMN order_id, DROP COLUMN transaction_type,
    DROP COLUMN original_transaction_id, DROP COLUMN opens_order, DROP COLUMN discount_amount;
ALTER TABLE warehouse.dim_customer DROP COLUMN gross_sales, DROP COLUMN returns_amount, DROP COLUMN return_count;
ALTER TABLE warehouse.customer_file_stats DROP COLUMN first_sale_ts, DROP COLUMN last_sale_ts,
    DROP COLUMN order_count, DROP COLUMN return_count, DROP COLUMN return_amount;
ALTER TABLE warehouse.agg_sales_daily DROP COLUMN order_count, DROP COLUMN return_count,
    DROP COLUMN return_quantity, DROP COLUMN return_amount, DROP COLUMN discount_amount;
DROP TABLE warehouse.agg_customers_monthly, warehouse.agg_cohorts_monthly;
INSERT INTO warehouse.fact_sales (transaction_id, date_key, customer_id, product_id, transaction_ts, quantity,
    unit_price, total_amount, payment_method, source_file, source_line)
VALUES ('T1', 20240105, 'C1', 1, '2024-01-05 10:00+00', 2, 5.00, 10.00, 'cash', 'a.csv', 2),
       ('T2', 20240210, 'C1', 1, '2024-02-10 10:00+00', 1, 7.50, 7.50, 'cash', 'a.csv', 3);
INSERT INTO warehouse.customer_file_stats (customer_id, source_file, first_ts, last_ts, transaction_count,
    total_quantity, total_amount)
VALUES ('C1', 'a.csv', '2024-01-05 10:00+00', '2024-02-10 10:00+00', 2, 3, 17.50);
INSERT INTO warehouse.dim_customer (customer_id, first_purchase_date, last_purchase_date, total_orders,
    total_quantity, lifetime_value, attributes_ts, attributes_file)
VALUES ('C1', '2024-01-05', '2024-02-10', 2, 3, 17.50, '2024-02-10 10:00+00', 'a.csv');
INSERT INTO warehouse.agg_sales_daily (date_key, product_id, payment_method, transaction_count, total_quantity,
    total_revenue, sum_unit_price)
VALUES (20240105, 1, 'cash', 1, 2, 10.00, 5.00), (20240210, 1, 'cash', 1, 1, 7.50, 7.50);
DELETE FROM warehouse.schema_history;
"""


def test_a_warehouse_from_before_orders_and_returns_is_upgraded_in_place(empty_database_url):
    """Every fact was a sale and an order of its own: the new columns say so, and the monthly
    customer summary is filled from the facts once."""
    apply_schema(empty_database_url)
    with connect(empty_database_url) as conn:
        conn.execute(BEFORE_ORDERS)
    apply_schema(empty_database_url)
    with connect(empty_database_url) as conn:
        assert conn.execute(
            "SELECT transaction_id, order_id, transaction_type, opens_order, discount_amount "
            "FROM warehouse.fact_sales ORDER BY 1"
        ).fetchall() == [("T1", "T1", "sale", True, 0), ("T2", "T2", "sale", True, 0)]
        assert conn.execute(
            "SELECT total_orders, lifetime_value, gross_sales, returns_amount, return_count FROM warehouse.dim_customer"
        ).fetchone() == (2, 17.50, 17.50, 0, 0)
        assert conn.execute(
            "SELECT first_sale_ts = first_ts AND last_sale_ts = last_ts, order_count, return_count "
            "FROM warehouse.customer_file_stats"
        ).fetchone() == (True, 2, 0)
        assert conn.execute("SELECT sum(order_count), sum(return_count) FROM warehouse.agg_sales_daily").fetchone() == (
            2,
            0,
        )
        assert conn.execute(
            "SELECT month, sale_count, return_count, net_amount FROM warehouse.agg_customers_monthly ORDER BY 1"
        ).fetchall() == [
            (dt.date(2024, 1, 1), 1, 0, Decimal("10.00")),
            (dt.date(2024, 2, 1), 1, 0, Decimal("7.50")),
        ]
        assert conn.execute(
            "SELECT cohort_month, month, members, customers, net_amount FROM warehouse.agg_cohorts_monthly ORDER BY 2"
        ).fetchall() == [
            (dt.date(2024, 1, 1), dt.date(2024, 1, 1), 1, 1, Decimal("10.00")),
            (dt.date(2024, 1, 1), dt.date(2024, 2, 1), 1, 1, Decimal("7.50")),
        ]
    # Applying again changes nothing.
    assert apply_schema(empty_database_url) == []


def identifier_collations(conn) -> dict[str, str | None]:
    return dict(
        conn.execute(
            "SELECT table_name || '.' || column_name, collation_name FROM information_schema.columns"
            " WHERE table_schema = 'warehouse' AND data_type = 'text' AND collation_name IS NOT NULL"
        ).fetchall()
    )


def test_a_warehouse_whose_identifiers_use_the_database_collation_is_made_bytewise(empty_database_url):
    """Identifiers compare byte by byte (COLLATE "C"); a warehouse created before they did gets
    the same columns, its analytics views are dropped for the change and created again by the
    next views step."""
    apply_schema(empty_database_url)
    with connect(empty_database_url) as conn:
        bytewise = identifier_collations(conn)
        assert set(bytewise.values()) == {"C"}
        assert {"fact_sales.transaction_id", "fact_sales.customer_id", "dim_customer.customer_id"} <= set(bytewise)
        # As an earlier release left it: the database's collation, views reading the columns.
        for column in bytewise:
            table, name = column.split(".")
            conn.execute(f'ALTER TABLE warehouse.{table} ALTER COLUMN {name} TYPE text COLLATE "default"')
        ensure_views(conn)
        assert identifier_collations(conn) == {}
        conn.execute("DELETE FROM warehouse.schema_history WHERE file = '140_identifier_collation.sql'")
    assert apply_schema(empty_database_url) == ["140_identifier_collation.sql"]
    with connect(empty_database_url) as conn:
        assert identifier_collations(conn) == bytewise
        assert conn.execute("SELECT count(*) FROM pg_views WHERE schemaname = 'analytics'").fetchone() == (0,)
        assert sorted(ensure_views(conn)) == sorted(v.name for v in view_files())
        assert conn.execute("SELECT count(*) FROM analytics.vw_customer_lifetime_value").fetchone() == (0,)
