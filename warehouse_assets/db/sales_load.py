"""Loading one sales file: stage its rows and merge them, in one transaction the load owns.

    lock the file -> create staged_sales -> COPY every row -> merge (sql/load/sales_file_merge.sql)
    -> ledger row -> commit

The per-file lock is held from the first staged row to the commit, and the fingerprint recorded
is that of the bytes the reader parsed, so the facts are exactly the version the ledger names.
A failure anywhere rolls the whole file back: the warehouse is as it was before, and the
failure is recorded beside the file's last good load.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field

import pyarrow as pa
from psycopg import sql
from psycopg.types.json import Jsonb

from warehouse_assets.core.sales_reader import SalesFileReader, SalesFileSummary
from warehouse_assets.core.staged import STAGED_JSONB, STAGED_SCHEMA, STAGED_SQL
from warehouse_assets.db import sqlfiles
from warehouse_assets.db.connection import Database, Session
from warehouse_assets.db.copy import copy_binary, release_memory

MERGE_SCRIPT = "load/sales_file_merge.sql"
WORK_TABLES_SCRIPT = "load/sales_file_work_tables.sql"

# Called after each staged block with the reader's summary so far and the bytes read.
Progress = Callable[[SalesFileSummary, int], None]
# Called with the name of each step of a load before it runs: "staged" once every row is in the
# temporary table, then each step of the merge script, then "ledger" and "commit".
StepHook = Callable[[str], None]


@dataclass
class FileLoad:
    """What loading one file did."""

    source_file: str
    summary: SalesFileSummary
    rows_loaded: int
    rows_duplicate: int
    rows_replaced: int
    rows_promoted: int
    inferred_products: int
    seconds: float
    step_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def rows_quarantined(self) -> int:
        return self.summary.rows_rejected + self.rows_duplicate


def _reported(
    reader: SalesFileReader, tables: Sequence[pa.Table] | None, progress: Progress | None
) -> Iterator[pa.Table]:
    for table in reader.tables() if tables is None else tables:
        yield table
        if progress is not None:
            progress(reader.summary, reader.records.size_bytes)


# The temporary tables of a file's load are analyzed only for a file with some rows. Without
# statistics the planner still knows their size (from their pages) but not their values: it takes
# the file's facts (staged rows without reasons) for half a percent of them, and joined a
# 2,000-row file's facts with themselves by nested loops (200 ms; analyzing costs 9 ms). The
# work tables that only a file's previous version fills are analyzed for a large file only.
ANALYZE_STAGED_FROM_ROWS = 200
ANALYZE_FROM_ROWS = 20_000
# fact_sales is analyzed in the load of a file whose lines number at least this share of the
# table's estimated rows (what autovacuum would wait for, but the run's checks come right after
# the file). Lines read, not facts added: a replaced file changes as many rows as it brings.
ANALYZE_FACTS_SHARE = 0.1
# A file with at least as many lines as fact_sales has rows (and ANALYZE_FROM_ROWS at least) is a
# bulk load: the merge drops the key and indexes of fact_sales and the monthly summary's key
# before inserting and builds them again after (sorting the table once costs less than entering
# as many rows one by one). The cost still follows the file: the table it sorts is at most twice
# the file.
BULK_SHARE = 1.0
BULK_STEPS = frozenset(
    {
        "index_memory",
        "drop_fact_key",
        "drop_fact_indexes",
        "create_fact_key",
        "create_fact_indexes_source_file",
        "create_fact_indexes_customer_day",
        "drop_monthly_key",
        "add_monthly_key",
    }
)

# The connections that load files keep up to this much of their temporary tables (a file's staged
# rows, the merge's work tables) in the server process's own buffers. With PostgreSQL's default of
# 8 MB, each of the merge's dozen reads of a million staged rows (about 200 MB) went through the
# operating system's cache page by page: the file's transaction took 16.4-16.7 s, 15.3-16.0 s with
# this (256 MB and 1 GB measured the same; a larger file's rows are read through it in part). The
# server takes the memory as pages are used, so a small file costs what it holds. A session setting
# that only counts before its first temporary table: hence given when connecting (load_session),
# not in the merge script.
LOAD_OPTIONS = "-c temp_buffers=256MB"


def load_session(db: Database) -> AbstractContextManager[Session]:
    """A connection for loading a series of files (a run's), one transaction each."""
    return db.session(options=LOAD_OPTIONS)


# Below this size a file's stream leaves little to hand back, and a collection of the whole
# process's heap (Dagster's included) would cost more than the file's load.
RELEASE_AFTER_BYTES = 32 * 2**20


def load_sales_file(
    db: Database,
    reader: SalesFileReader,
    *,
    loaded_at: dt.datetime,
    run_id: str | None,
    layout_version: str | None,
    progress: Progress | None = None,
    step_hook: StepHook | None = None,
    session: Session | None = None,
    tables: Sequence[pa.Table] | None = None,
) -> FileLoad:
    """Load one file in one transaction: on `session`'s connection when given (the files of a
    run share one), else on a connection of its own. `tables`: the reader's tables, when they
    were read ahead (else the file is read while it is staged)."""
    key = reader.source_file
    started = time.perf_counter()
    timings: dict[str, float] = {}
    with session.transaction() if session is not None else db.connection(options=LOAD_OPTIONS) as conn:
        conn.execute(sqlfiles.statement("load/sales_file_lock.sql"), {"source_file": key})
        conn.execute(sqlfiles.statement(STAGED_SQL))
        t = time.perf_counter()
        # The reader parses and judges its blocks in threads of its own; the encoded rows are
        # written from this one, as each block is ready (the server decodes them meanwhile).
        copy_binary(
            conn, sql.Identifier("staged_sales"), STAGED_SCHEMA, _reported(reader, tables, progress), jsonb=STAGED_JSONB
        )
        timings["read_and_stage"] = round(time.perf_counter() - t, 3)
        hook = step_hook or (lambda name: None)
        hook("staged")
        records = reader.summary.records_read
        skip: set[str] = set() if reader.summary.orders_named else {"order_openers"}
        bulk = False
        if records < ANALYZE_STAGED_FROM_ROWS:
            skip.add("analyze_staged")
        if records < ANALYZE_FROM_ROWS:
            skip |= {"analyze_changes", "analyze_cohort_inputs", "analyze_facts"}
        else:
            facts = _estimated_facts(conn)
            if facts >= 0 and records < ANALYZE_FACTS_SHARE * facts:
                skip.add("analyze_facts")
            # A table of unknown size (pages, never analyzed) is not rebuilt on a guess.
            bulk = facts >= 0 and records >= BULK_SHARE * facts
        if not bulk:
            skip |= BULK_STEPS
        _ensure_work_tables(conn)
        counts = sqlfiles.run_steps(
            conn,
            MERGE_SCRIPT,
            {"source_file": key, "loaded_at": loaded_at, "bulk": bulk},
            skip=frozenset(skip),
            timings=timings,
            before_step=hook,
        )
        reader.summary.add_repeats(*counts["mark_duplicates"])
        hook("ledger")
        s = reader.summary
        rows_loaded, rows_duplicate = conn.execute(
            sqlfiles.statement("load/sales_file_ledger.sql"),
            {
                "source_file": key,
                "fingerprint": s.fingerprint,
                "layout": s.layout,
                "layout_version": layout_version,
                "unit_price_derived": s.unit_price_derived,
                "size_bytes": s.size_bytes,
                "mtime_ns": s.mtime_ns,
                "lines_read": s.lines_read,
                "records_read": s.records_read,
                "rows_rejected": s.rows_rejected,
                "noise_lines": s.noise_lines,
                "noise_detail": Jsonb({k: v for k, v in s.noise.items() if v}),
                "rejected_detail": Jsonb(dict(s.reasons)),
                "extra_columns": s.extra_columns,
                "loaded_at": loaded_at,
                "run_id": run_id,
            },
        ).fetchone()
        hook("commit")
    hook("committed")
    if reader.summary.size_bytes >= RELEASE_AFTER_BYTES:
        release_memory()
    return FileLoad(
        source_file=key,
        summary=reader.summary,
        rows_loaded=rows_loaded,
        rows_duplicate=rows_duplicate,
        rows_replaced=counts["delete_previous_facts"],
        rows_promoted=counts["insert_promoted"],
        inferred_products=counts["inferred_products"],
        seconds=time.perf_counter() - started,
        step_seconds=timings,
    )


def _estimated_facts(conn) -> int:
    """The rows of fact_sales as the planner would estimate them, or -1 when unknown."""
    (rows,) = conn.execute(
        sqlfiles.statement("queries/table_rows_estimate.sql"), {"relation": "warehouse.fact_sales"}
    ).fetchone()
    return rows


def _ensure_work_tables(conn) -> None:
    """The merge's temporary tables, on a connection that does not have them yet (they outlive
    each transaction, empty, unless the transaction that created them rolled back)."""
    exists = conn.execute(sqlfiles.statement("queries/relation_exists.sql"), {"relation": "pg_temp.old_facts"})
    if not exists.fetchone()[0]:
        sqlfiles.run_steps(conn, WORK_TABLES_SCRIPT, {})


def rebuild_derived(db: Database) -> dict[str, int]:
    """Recompute every table derived from the facts from fact_sales (the repair path)."""
    with db.connection() as conn:
        return sqlfiles.run_steps(conn, "load/rebuild_derived.sql", {})
