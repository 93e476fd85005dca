"""Moving tables in and out of PostgreSQL: COPY from Arrow tables or pandas DataFrames, and
typed DataFrames back from query results.

Rows travel as CSV written by Arrow's CSV writer: it quotes every string and leaves nulls
unquoted and empty, which is exactly PostgreSQL's CSV convention for "" (empty text) versus
NULL, so text round-trips exactly.
"""

from __future__ import annotations

import ctypes
import datetime as dt
import decimal
import gc
import io
import json
import queue
import threading
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd
import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv
from psycopg import sql
from psycopg.postgres import types as pg_types

from warehouse_assets.db import sqlfiles


def release_memory() -> None:
    """Hand memory freed by a long streamed write back to the operating system.

    Arrow's pool and glibc's malloc keep freed pages for reuse; after streaming a large file the
    run goes on (SQL, views, a chart) with the high-water mark of the stream still resident.
    """
    gc.collect()
    pa.default_memory_pool().release_unused()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except OSError:  # not glibc (macOS, musl): nothing to trim
        pass


def prefetched(items: Iterator, depth: int = 1) -> Iterator:
    """Produce the next items in a background thread while the caller works on the current one.

    Arrow's parsing and compute kernels, and the socket writes of COPY, release the GIL, so on two
    cores reading and loading overlap. At most `depth` items wait, which bounds memory. An
    exception in the producer is raised in the consumer, at the position it happened.
    """
    done = object()
    box: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        box.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            box.put(done)
        except BaseException as exc:  # handed to the consumer, which raises it
            box.put(exc)

    worker = threading.Thread(target=produce, name="prefetch", daemon=True)
    worker.start()
    try:
        while True:
            item = box.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        worker.join(timeout=5)


def arrow_to_csv(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pacsv.write_csv(table, sink, write_options=pacsv.WriteOptions(include_header=False))
    return sink.getvalue()


def _json_text(value: Any) -> Any:
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return None
    return json.dumps(value)


def frame_to_arrow(frame: pd.DataFrame, json_columns: Sequence[str] = ()) -> pa.Table:
    """A DataFrame as an Arrow table COPY can read; JSON columns become their text."""
    if json_columns:
        frame = frame.copy(deep=False)
        for name in json_columns:
            frame[name] = frame[name].map(_json_text).astype(object)
    return pa.Table.from_pandas(frame, preserve_index=False)


def copy_tables(
    conn: psycopg.Connection, table: sql.Composable, columns: Sequence[str], tables: Iterable[pa.Table]
) -> int:
    """COPY Arrow tables (all with `columns`, in that order) into `table`; returns the row count."""
    statement = sqlfiles.composed(
        "queries/copy_csv_into.sql", table=table, columns=sql.SQL(", ").join(sql.Identifier(c) for c in columns)
    )
    rows = 0
    with conn.cursor().copy(statement) as copy:
        for chunk in tables:
            if chunk.column_names != list(columns):
                raise ValueError(f"rows to copy have columns {chunk.column_names}, expected {list(columns)}")
            if chunk.num_rows:
                copy.write(arrow_to_csv(chunk))
                rows += chunk.num_rows
    return rows


def frame_from_rows(rows: list[tuple], description: Sequence[Any]) -> pd.DataFrame:
    """Query results as a DataFrame whose dtypes round-trip: Int64/boolean where there are nulls,
    Decimal for numeric, tz-aware datetimes for timestamptz, `datetime.date` for date."""
    names = [d.name for d in description]
    columns: dict[str, pd.Series] = {}
    for i, d in enumerate(description):
        values = [row[i] for row in rows]
        type_info = pg_types.get(d.type_code)
        kind = type_info.name if type_info else "text"
        has_null = any(v is None for v in values)
        if kind in ("int2", "int4", "int8"):
            series = pd.Series(values, dtype="Int64" if has_null else "int64")
        elif kind == "bool":
            series = pd.Series(values, dtype="boolean" if has_null else "bool")
        elif kind in ("float4", "float8"):
            series = pd.Series([np.nan if v is None else v for v in values], dtype="float64")
        elif kind == "timestamptz":
            series = pd.Series(pd.to_datetime(values, utc=True))
        elif kind == "timestamp":
            series = pd.Series(pd.to_datetime(values))
        else:
            series = pd.Series(values, dtype=object)
        columns[names[i]] = series
    return pd.DataFrame(columns, columns=names)


def is_decimal_column(series: pd.Series) -> bool:
    sample = series.dropna()
    return not sample.empty and isinstance(sample.iloc[0], decimal.Decimal)


def is_date_column(series: pd.Series) -> bool:
    sample = series.dropna()
    return not sample.empty and isinstance(sample.iloc[0], dt.date) and not isinstance(sample.iloc[0], dt.datetime)
