"""Sales assets: every CSV file of the landing folder is a partition of raw_sales and fact_sales,
and one run loads any number of them.

One step (`load_sales_files`) materializes both partitioned assets and the tables derived from
the facts (dim_customer, dim_date, agg_sales_daily, agg_customers_daily, agg_customers_monthly, agg_cohorts_monthly): each file is staged and
merged in a transaction of its own (`db.sales_load`), which also keeps the derived tables current,
so a run of a hundred files costs the steps of one run plus the work of each file. A file that
fails (a bad header, a layout error, anything) fails alone: the others commit, the run reports
every failed file with its error, and fails.

raw_sales is what each file's lines became: its ledger row (`warehouse.sales_files`: lines read,
rows loaded, quarantined, noise, fingerprint) and its quarantined rows with their reasons
(`warehouse.rejected_sales`). The staged rows themselves live only in a temporary table during
the file's transaction.
"""

import datetime as dt
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from warehouse_assets.core.landing import file_sha256, outside_link
from warehouse_assets.core.layouts.discovery import find_layout, load_layouts
from warehouse_assets.core.layouts.layout import Layout, LayoutError
from warehouse_assets.core.progress import LoadObserver
from warehouse_assets.core.sales_reader import SalesFileReader, SalesFileSummary
from warehouse_assets.core.settings import Settings
from warehouse_assets.db import ledger, sqlfiles
from warehouse_assets.db.connection import Database, Session, is_transient
from warehouse_assets.db.sales_load import FileLoad, load_sales_file, load_session, rebuild_derived
from warehouse_assets.db.sales_state import derived_state, fact_sales_state
from warehouse_assets.defs import groups
from warehouse_assets.defs.metadata import table as table_value
from warehouse_assets.defs.resources import WarehouseResource

SALES_FILES = dg.DynamicPartitionsDefinition(name="sales_files")
RAW_SALES, FACT_SALES = dg.AssetKey("raw_sales"), dg.AssetKey("fact_sales")
DERIVED = tuple(
    dg.AssetKey(k)
    for k in (
        "dim_customer",
        "dim_date",
        "agg_sales_daily",
        "agg_customers_daily",
        "agg_customers_monthly",
        "agg_cohorts_monthly",
    )
)
DERIVED_TABLES = {
    "dim_customer": "schema/020_dim_customer.sql",
    "dim_date": "schema/030_dim_date.sql",
    "agg_sales_daily": "schema/110_agg_sales_daily.sql",
    "agg_customers_daily": "schema/120_agg_customers_daily.sql",
    "agg_customers_monthly": "schema/125_agg_customers_monthly.sql",
    "agg_cohorts_monthly": "schema/126_agg_cohorts_monthly.sql",
}


def sales_freshness(max_silence_days: float) -> dg.FreshnessPolicy | None:
    """Stale when no sales file loaded for `max_silence_days`; warn at half of it."""
    if max_silence_days * 86400 < 120:
        return None
    return dg.FreshnessPolicy.time_window(
        fail_window=dt.timedelta(days=max_silence_days), warn_window=dt.timedelta(days=max_silence_days / 2)
    )


def layout_for(key: str, layouts: list[Layout]) -> Layout | None:
    return find_layout(key, layouts)


def _raw_metadata(s: SalesFileSummary) -> dict[str, dg.MetadataValue]:
    return {
        "layout": dg.MetadataValue.text(s.layout),
        "lines_read": dg.MetadataValue.int(s.lines_read),
        "rows_valid": dg.MetadataValue.int(s.rows_valid),
        "rows_rejected": dg.MetadataValue.int(s.rows_rejected),
        "noise_lines": dg.MetadataValue.int(s.noise_lines),
        "rejected_by_reason": dg.MetadataValue.json(dict(s.reasons.most_common())),
        "extra_columns": dg.MetadataValue.json(s.extra_columns),
        "size_bytes": dg.MetadataValue.int(s.size_bytes),
        "sha256": dg.MetadataValue.text(s.fingerprint),
    }


def _fact_metadata(result: FileLoad) -> dict[str, dg.MetadataValue]:
    s = result.summary
    reasons = Counter(s.reasons)
    if result.rows_duplicate:
        reasons["duplicate_transaction"] += result.rows_duplicate
    slowest = sorted(result.step_seconds.items(), key=lambda kv: -kv[1])[:3]
    return {
        "rows_loaded": dg.MetadataValue.int(result.rows_loaded),
        "rows_quarantined": dg.MetadataValue.int(result.rows_quarantined),
        "quarantined_by_reason": dg.MetadataValue.json(dict(reasons.most_common())),
        "duplicates_of_other_files": dg.MetadataValue.int(result.rows_duplicate),
        "rows_replaced": dg.MetadataValue.int(result.rows_replaced),
        "rows_promoted_in_other_files": dg.MetadataValue.int(result.rows_promoted),
        "inferred_products_added": dg.MetadataValue.int(result.inferred_products),
        "load_seconds": dg.MetadataValue.float(round(result.seconds, 2)),
        "slowest_steps": dg.MetadataValue.text(", ".join(f"{k} {v:.2f} s" for k, v in slowest)),
    }


class FileFailure(Exception):
    """A file that could not be loaded; the message says which and why, in one line."""


@dataclass
class OpenedFile:
    """A landing file ready to load: its reader, and its rows when they were read ahead."""

    reader: SalesFileReader
    layout: Layout | None
    loaded_at: dt.datetime
    tables: list | None = None


# A file up to this size is read (parsed and validated) in the background while the file
# before it merges, so a run of many small files keeps both cores busy; a larger one is
# streamed while it is staged, which bounds memory.
READ_AHEAD_BYTES = 16 * 2**20


def open_file(settings: Settings, key: str, layouts: list[Layout], *, read_ahead: bool = False) -> OpenedFile:
    path = settings.landing_dir / key
    refused = outside_link(settings.landing_dir, path) if path.exists() or path.is_symlink() else None
    if refused:
        raise FileFailure(f"{key} {refused}")
    if not path.is_file():
        raise FileFailure(
            f"{key}: the file is no longer in {settings.landing_dir}; rows loaded from it earlier are kept"
        )
    layout = layout_for(key, layouts)
    loaded_at = dt.datetime.now(dt.timezone.utc)
    reader = SalesFileReader(path, source_file=key, load_time=loaded_at, earliest=settings.earliest_date, layout=layout)
    opened = OpenedFile(reader, layout, loaded_at)
    if read_ahead and _size(path) <= READ_AHEAD_BYTES:
        opened.tables = list(reader.tables())
    return opened


def _load_one(
    db: Database, key: str, opened: OpenedFile, run_id: str, observer: LoadObserver, session: Session
) -> FileLoad:
    return load_sales_file(
        db,
        opened.reader,
        loaded_at=opened.loaded_at,
        run_id=run_id,
        layout_version=opened.layout.version if opened.layout else None,
        progress=lambda summary, read: observer.file_progress(key, read, summary.records_read),
        step_hook=lambda step: observer.load_step(key, step),
        session=session,
        tables=opened.tables,
    )


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _fingerprint(path: Path) -> str | None:
    """The content's sha256, so a failed file is retried only once it changes."""
    try:
        return file_sha256(path)[1]
    except OSError:
        return None


def load_files(
    db: Database, settings: Settings, keys: list[str], run_id: str, observer: LoadObserver, log
) -> tuple[dict[str, FileLoad], dict[str, str]]:
    """Load each file in its own transaction; (results by file, error message by failed file)."""
    results: dict[str, FileLoad] = {}
    failures: dict[str, str] = {}
    try:
        layouts = load_layouts(settings.layouts_dir)
    except LayoutError as exc:
        message = f"the layouts in {settings.layouts_dir} cannot be used: {exc}"
        return {}, {key: message for key in keys}
    observer.files_planned([(k, _size(settings.landing_dir / k)) for k in keys])
    with load_session(db) as session, ThreadPoolExecutor(1, thread_name_prefix="read-ahead") as reading:

        def read(i: int) -> Future | None:
            return reading.submit(open_file, settings, keys[i], layouts, read_ahead=True) if i < len(keys) else None

        upcoming = read(0)
        for i, key in enumerate(keys):
            opening, upcoming = upcoming, read(i + 1)
            observer.file_started(key, _size(settings.landing_dir / key))
            try:
                results[key] = _load_one(db, key, opening.result(), run_id, observer, session)
            except Exception as exc:  # one file's failure, whatever it is, must not stop the others
                message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                if not message.startswith(key):
                    message = f"{key}: {message}"
                failures[key] = message
                log.error(message)
                # A failure that says nothing about the content is recorded without its
                # fingerprint, so the sensor tries the file again instead of waiting for it to change.
                failed_content = None if is_transient(exc) else _fingerprint(settings.landing_dir / key)
                try:
                    ledger.record_failure(db, key, failed_content, message, dt.datetime.now(dt.timezone.utc))
                except Exception as ledger_error:  # the failure is reported by the run either way
                    log.warning(f"{key}: the failure could not be recorded in the ledger: {ledger_error}")
                observer.file_finished(key, None, message)
                continue
            observer.file_finished(key, results[key], None)
    # One line for the run, not one per file: each event costs a write to Dagster's storage, and
    # every file's quarantine is in its fact_sales materialization.
    quarantining = {k: r for k, r in results.items() if r.rows_quarantined}
    if quarantining:
        listed = ", ".join(f"{k} {r.rows_quarantined}" for k, r in list(quarantining.items())[:20])
        more = f" and {len(quarantining) - 20} more" if len(quarantining) > 20 else ""
        log.warning(
            f"{len(quarantining)} of {len(keys)} files had rows quarantined "
            f"({sum(r.rows_quarantined for r in quarantining.values())} rows): {listed}{more}"
        )
    return results, failures


def build_sales_assets(settings: Settings, observer: LoadObserver | None = None) -> dg.AssetsDefinition:
    observer = observer or LoadObserver()
    specs = [
        dg.AssetSpec(
            RAW_SALES,
            partitions_def=SALES_FILES,
            group_name=groups.WAREHOUSE,
            kinds={"csv", "postgres"},
            description="What each line of a sales file became: the file's ledger row (lines read, rows "
            "loaded and quarantined, noise, fingerprint) and its quarantined rows with every reason and "
            "their line numbers. One partition per file in the landing folder.",
            metadata={"dagster/table_name": "warehouse.rejected_sales"},
        ),
        dg.AssetSpec(
            FACT_SALES,
            partitions_def=SALES_FILES,
            deps=[RAW_SALES],
            group_name=groups.WAREHOUSE,
            kinds={"postgres"},
            freshness_policy=sales_freshness(settings.sales_max_silence_days),
            description="Sales transactions, one row per transaction, replaced per file in one transaction "
            "with the file's quarantine and every table derived from the facts. Unknown products become "
            "inferred members of dim_product; a transaction id already loaded from another file is "
            "quarantined as duplicate_transaction (first loaded wins), and promoted when that file "
            "withdraws it.",
            metadata={"dagster/table_name": "warehouse.fact_sales"},
        ),
        *(
            dg.AssetSpec(
                key,
                deps=[FACT_SALES],
                group_name=groups.WAREHOUSE,
                kinds={"postgres"},
                description=sqlfiles.header(DERIVED_TABLES[key.path[-1]]),
                metadata={"dagster/table_name": f"warehouse.{key.path[-1]}"},
            )
            for key in DERIVED
        ),
    ]

    @dg.multi_asset(
        name="load_sales_files",
        specs=specs,
        can_subset=True,
        backfill_policy=dg.BackfillPolicy.multi_run(settings.max_files_per_run),
        description="Load the run's sales files, each in its own transaction, and keep the tables "
        "derived from the facts current. Selected without files, the derived tables are rebuilt from "
        "fact_sales (the repair for data changed outside the pipeline).",
    )
    def load_sales_files(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
        db = warehouse.database()
        selected = context.selected_asset_keys
        partitioned = bool({RAW_SALES, FACT_SALES} & selected) and (
            context.has_partition_key or context.has_partition_key_range
        )
        keys = list(context.partition_keys) if partitioned else []
        results: dict[str, FileLoad] = {}
        failures: dict[str, str] = {}
        if keys:
            results, failures = load_files(db, settings, keys, context.run.run_id, observer, context.log)
        elif set(DERIVED) & selected:
            counts = rebuild_derived(db)
            context.log.info(f"rebuilt the tables derived from fact_sales: {counts}")

        derived = [k for k in DERIVED if k in selected] if (results or not keys) else []
        state = derived_state(db) if derived else {}
        if failures:
            for key, result in results.items():
                if RAW_SALES in selected:
                    yield dg.AssetMaterialization(RAW_SALES, partition=key, metadata=_raw_metadata(result.summary))
                if FACT_SALES in selected:
                    yield dg.AssetMaterialization(FACT_SALES, partition=key, metadata=_fact_metadata(result))
            for key in derived:
                yield dg.AssetMaterialization(key, metadata=state[key.path[-1]])
            listed = "\n".join(f"- {message}" for message in failures.values())
            raise dg.Failure(
                description=f"{len(failures)} of {len(keys)} sales files failed (the others were loaded):\n{listed}",
                metadata={
                    "failed_files": dg.MetadataValue.json(failures),
                    "files_loaded": dg.MetadataValue.int(len(results)),
                },
            )
        for key, result in results.items():
            context.add_asset_metadata(_raw_metadata(result.summary), asset_key=RAW_SALES, partition_key=key)
            context.add_asset_metadata(_fact_metadata(result), asset_key=FACT_SALES, partition_key=key)
        if RAW_SALES in selected:
            yield dg.MaterializeResult(asset_key=RAW_SALES, metadata={"files_in_run": dg.MetadataValue.int(len(keys))})
        if FACT_SALES in selected:
            table = fact_sales_state(db) if keys else {}
            yield dg.MaterializeResult(
                asset_key=FACT_SALES,
                metadata={
                    **{
                        "table_rows": dg.MetadataValue.int(table.get("rows", 0)),
                        "table_rows_quarantined": dg.MetadataValue.int(table.get("quarantined", 0)),
                        "run_rows_loaded": dg.MetadataValue.int(sum(r.rows_loaded for r in results.values())),
                        "run_rows_quarantined": dg.MetadataValue.int(sum(r.rows_quarantined for r in results.values())),
                        "files_in_run": dg.MetadataValue.int(len(keys)),
                    },
                    **(
                        {
                            # Not "quarantined_by_reason": each file's own, merged into the
                            # same materialization of its partition, would hide this one.
                            "table_quarantined_by_reason": dg.MetadataValue.json(table["by_reason"]),
                            "preview": table_value(table["columns"], table["preview"]),
                        }
                        if table
                        else {}
                    ),
                },
            )
        for key in derived:
            yield dg.MaterializeResult(asset_key=key, metadata=state[key.path[-1]])

    return load_sales_files
