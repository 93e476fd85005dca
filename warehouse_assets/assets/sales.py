"""Sales assets: each CSV file in the landing folder is a partition of raw_sales and fact_sales;
dim_customer, dim_date and the daily aggregates follow incrementally.

raw_sales streams the file through the contract and into `warehouse.raw_sales` with the Postgres
IO manager (one transaction per file, with the file's ledger row). fact_sales replaces the file's
facts and quarantine rows in one SQL transaction. The unpartitioned assets downstream recompute
only what the loads queued (customers, days), so their cost follows the new rows.
"""

import datetime as dt
from pathlib import Path

import dagster as dg
from pydantic import Field

from warehouse_assets import settings, sqlfiles
from warehouse_assets.ingest.sales_csv import SalesFileReader, SalesFileSummary
from warehouse_assets.resources.io_manager import DataFrameChunks
from warehouse_assets.resources.warehouse import WarehouseResource

sales_files = dg.DynamicPartitionsDefinition(name="sales_files")

_LEDGER_UPSERT = """
INSERT INTO warehouse.sales_files AS s (
    source_file, fingerprint, layout, size_bytes, rows_read, rows_valid, rows_rejected,
    rows_skipped, skipped_detail, extra_columns, staged_at, rows_loaded, rows_duplicate, loaded_at,
    unit_price_derived
) VALUES (
    %(source_file)s, %(fingerprint)s, %(layout)s, %(size_bytes)s, %(rows_read)s, %(rows_valid)s,
    %(rows_rejected)s, %(rows_skipped)s, %(skipped_detail)s, %(extra_columns)s, %(staged_at)s,
    NULL, NULL, NULL, %(unit_price_derived)s
)
ON CONFLICT (source_file) DO UPDATE SET
    fingerprint = EXCLUDED.fingerprint, layout = EXCLUDED.layout, size_bytes = EXCLUDED.size_bytes,
    rows_read = EXCLUDED.rows_read, rows_valid = EXCLUDED.rows_valid,
    rows_rejected = EXCLUDED.rows_rejected, rows_skipped = EXCLUDED.rows_skipped,
    skipped_detail = EXCLUDED.skipped_detail, extra_columns = EXCLUDED.extra_columns,
    staged_at = EXCLUDED.staged_at, rows_loaded = NULL, rows_duplicate = NULL, loaded_at = NULL,
    unit_price_derived = EXCLUDED.unit_price_derived
"""


def landing_path(partition_key: str) -> Path:
    """The file behind a partition: its key is the path relative to the landing folder."""
    return settings.landing_dir() / partition_key


def layout_for(partition_key: str):
    """The source layout that applies to a file, or None for the standard contract."""
    folder = settings.layouts_dir()
    if not folder.is_dir():
        return None
    from warehouse_assets.ingest.layouts import find_layout, load_layouts

    return find_layout(partition_key, load_layouts(folder))


def _ledger_metadata(summary: SalesFileSummary) -> dict:
    return {
        "source_file": dg.MetadataValue.text(summary.source_file),
        "layout": dg.MetadataValue.text(summary.layout),
        "rows_read": dg.MetadataValue.int(summary.rows_read),
        "rows_valid": dg.MetadataValue.int(summary.rows_valid),
        "rows_rejected": dg.MetadataValue.int(summary.rows_rejected),
        "rows_skipped": dg.MetadataValue.int(summary.rows_skipped),
        "rejected_by_reason": dg.MetadataValue.json(dict(summary.reasons)),
        "skipped_by_kind": dg.MetadataValue.json({k: v for k, v in summary.skipped.items() if v}),
        "extra_columns": dg.MetadataValue.json(summary.extra_columns),
        "size_bytes": dg.MetadataValue.int(summary.size_bytes),
        "sha256": dg.MetadataValue.text(summary.fingerprint),
    }


@dg.asset(
    partitions_def=sales_files,
    group_name="sales",
    kinds={"csv", "postgres"},
    metadata={"partition_expr": "source_file", "schema": "warehouse"},
    description="Every data line of a sales file, parsed and checked against the contract: valid "
    "rows with typed values, rejected rows with all their reason codes and the raw record. One "
    "partition per file in the landing folder.",
)
def raw_sales(context: dg.AssetExecutionContext) -> DataFrameChunks:
    key = context.partition_key
    path = landing_path(key)
    if not path.is_file():
        raise dg.Failure(
            f"{key}: the file is no longer in {settings.landing_dir()}; rows loaded from it earlier are kept"
        )
    staged_at = dt.datetime.now(dt.timezone.utc)
    reader = SalesFileReader(
        path,
        source_file=key,
        load_time=staged_at,
        earliest=settings.earliest_date(),
        chunk_rows=settings.get_int("WAREHOUSE_CSV_CHUNK_ROWS"),
        layout=layout_for(key),
    )

    def record_in_ledger(conn) -> dict:
        s = reader.summary
        from psycopg.types.json import Jsonb

        conn.execute(
            _LEDGER_UPSERT,
            {
                "source_file": key,
                "fingerprint": s.fingerprint,
                "layout": s.layout,
                "size_bytes": s.size_bytes,
                "rows_read": s.rows_read,
                "rows_valid": s.rows_valid,
                "rows_rejected": s.rows_rejected,
                "rows_skipped": s.rows_skipped,
                "skipped_detail": Jsonb({k: v for k, v in s.skipped.items() if v}),
                "extra_columns": s.extra_columns,
                "staged_at": staged_at,
                "unit_price_derived": bool(reader.layout and reader.layout.unit_price_derived),
            },
        )
        if s.rows_rejected:
            context.log.warning(f"{key}: {s.rows_rejected} of {s.rows_read} rows rejected: {dict(s.reasons)}")
        return _ledger_metadata(s)

    return DataFrameChunks(reader.chunks(), finalize=record_in_ledger, prefetch=1)


@dg.asset(
    partitions_def=sales_files,
    deps=[raw_sales],
    group_name="sales",
    kinds={"postgres"},
    description="Sales transactions, one row per transaction, replaced per file in one "
    "transaction with the file's quarantine rows (rejected_sales). Unknown products become "
    "inferred members of dim_product; a transaction id already loaded from another file is "
    "quarantined as duplicate_transaction (first loaded wins).",
)
def fact_sales(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    key = context.partition_key
    loaded_at = dt.datetime.now(dt.timezone.utc)
    script = "load/fact_sales_replace.sql"
    with warehouse.connection() as conn:
        ledger = conn.execute(
            "SELECT rows_read, rows_valid, rows_rejected, rows_skipped FROM warehouse.sales_files WHERE source_file = %s",
            (key,),
        ).fetchone()
        if ledger is None:
            raise dg.Failure(f"{key}: raw_sales has not been materialized for this file")
        rows_read, rows_valid, rows_rejected, rows_skipped = ledger
        params = {"source_file": key, "loaded_at": loaded_at, "has_duplicates": False}
        timings: dict[str, float] = {}
        counts = sqlfiles.run_steps(conn, script, params, stop="insert_facts", timings=timings)
        duplicates = rows_valid - counts["insert_facts"]
        params["has_duplicates"] = duplicates > 0
        counts |= sqlfiles.run_steps(
            conn,
            script,
            params,
            start="quarantine_rejected",
            skip=frozenset() if duplicates else frozenset({"quarantine_duplicates"}),
            timings=timings,
        )
    if duplicates:
        context.log.warning(f"{key}: {duplicates} transaction ids were already loaded from other files")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": dg.MetadataValue.int(counts["insert_facts"]),
            "rows_read": dg.MetadataValue.int(rows_read),
            "rows_loaded": dg.MetadataValue.int(counts["insert_facts"]),
            "rows_quarantined": dg.MetadataValue.int(rows_rejected + duplicates),
            "duplicates_of_other_files": dg.MetadataValue.int(duplicates),
            "rows_skipped": dg.MetadataValue.int(rows_skipped),
            "rows_replaced": dg.MetadataValue.int(counts["delete_previous_facts"]),
            "inferred_products_added": dg.MetadataValue.int(counts["inferred_products"]),
            "new_customers": dg.MetadataValue.int(counts["new_customers"]),
            "days_added_to_dim_date": dg.MetadataValue.int(counts["add_days"]),
            "step_seconds": dg.MetadataValue.json(timings),
        }
    )


class IncrementalRefreshConfig(dg.Config):
    full_refresh: bool = Field(
        default=False,
        description="Recompute every row instead of only those queued by the sales loads.",
    )


def _refresh(warehouse: WarehouseResource, script: str, config: IncrementalRefreshConfig) -> dict:
    with warehouse.connection() as conn:
        return sqlfiles.run_steps(conn, script, {"full": config.full_refresh})


@dg.asset(
    deps=[fact_sales],
    group_name="sales",
    kinds={"postgres"},
    description=sqlfiles.header("schema/020_dim_customer.sql"),
)
def dim_customer(warehouse: WarehouseResource, config: IncrementalRefreshConfig) -> dg.MaterializeResult:
    counts = _refresh(warehouse, "load/dim_customer_refresh.sql", config)
    total = warehouse.query("SELECT count(*) FROM warehouse.dim_customer")[0][0]
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": dg.MetadataValue.int(total),
            "customers_recomputed": dg.MetadataValue.int(counts["pending"]),
            "customers_changed": dg.MetadataValue.int(counts["upsert"]),
            "customers_removed": dg.MetadataValue.int(counts["remove_without_sales"]),
        }
    )


@dg.asset(
    deps=[fact_sales],
    group_name="sales",
    kinds={"postgres"},
    description=sqlfiles.header("schema/030_dim_date.sql"),
)
def dim_date(warehouse: WarehouseResource) -> dg.MaterializeResult:
    with warehouse.connection() as conn:
        counts = sqlfiles.run_steps(conn, "load/dim_date_fill.sql", {})
        first, last = conn.execute("SELECT min(full_date), max(full_date) FROM warehouse.dim_date").fetchone()
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": dg.MetadataValue.int(counts["days"]),
            "days_added": dg.MetadataValue.int(counts["fill"]),
            "first_day": dg.MetadataValue.text(str(first)),
            "last_day": dg.MetadataValue.text(str(last)),
        }
    )


def daily_aggregate(name: str, ddl: str) -> dg.AssetsDefinition:
    """A summary table kept current by recomputing the days the sales loads queued for it."""

    @dg.asset(
        name=name,
        deps=[fact_sales],
        group_name="aggregates",
        kinds={"postgres"},
        description=sqlfiles.header(ddl),
    )
    def _aggregate(warehouse: WarehouseResource, config: IncrementalRefreshConfig) -> dg.MaterializeResult:
        counts = _refresh(warehouse, f"load/{name}_refresh.sql", config)
        return dg.MaterializeResult(
            metadata={
                "days_recomputed": dg.MetadataValue.int(counts["take_queue"]),
                "rows_written": dg.MetadataValue.int(counts["recompute"]),
            }
        )

    return _aggregate


agg_sales_daily = daily_aggregate("agg_sales_daily", "schema/110_agg_sales_daily.sql")
agg_customers_daily = daily_aggregate("agg_customers_daily", "schema/120_agg_customers_daily.sql")
