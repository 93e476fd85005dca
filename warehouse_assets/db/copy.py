"""Moving tables in and out of PostgreSQL: COPY from Arrow tables or pandas DataFrames, and
typed DataFrames back from query results.

Rows whose Arrow types are declared to match their columns' (the staged sales rows, see
core.staged) travel in PostgreSQL's binary COPY format, encoded by pgpq: nothing is written as
text here or parsed from text there. Rows of any other frame travel as CSV written by Arrow's
CSV writer: it quotes every string and leaves nulls unquoted and empty, which is exactly
PostgreSQL's CSV convention for "" (empty text) versus NULL, so text round-trips exactly.
"""

from __future__ import annotations

import ctypes
import datetime as dt
import decimal
import gc
import io
import json
from collections.abc import Collection, Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv
from pgpq import ArrowToPostgresBinaryEncoder
from pgpq.encoders import StringEncoderBuilder
from pgpq.schema import Jsonb
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


def copy_binary(
    conn: psycopg.Connection,
    table: sql.Composable,
    schema: pa.Schema,
    tables: Iterable[pa.Table],
    *,
    jsonb: Collection[str] = (),
) -> int:
    """COPY Arrow tables of `schema` into `table` in the binary format; returns the row count.

    Each Arrow type must be the binary form of its column's type (int32 for integer, decimal128
    of the column's precision and scale for numeric, timestamp for timestamptz, a list of strings
    for text[]); the string columns named in `jsonb` go to jsonb columns.
    """
    encoders = {
        field.name: (
            StringEncoderBuilder.new_with_output(field, Jsonb())
            if field.name in jsonb
            else ArrowToPostgresBinaryEncoder.infer_encoder(field)
        )
        for field in schema
    }
    encoder = ArrowToPostgresBinaryEncoder.new_with_encoders(schema, encoders)
    statement = sqlfiles.composed(
        "queries/copy_binary_into.sql",
        table=table,
        columns=sql.SQL(", ").join(sql.Identifier(name) for name in schema.names),
    )
    rows = 0
    with conn.cursor().copy(statement) as copy:
        copy.write(encoder.write_header())
        for chunk in tables:
            if chunk.schema != schema:
                raise ValueError(f"rows to copy have the schema {chunk.schema}, expected {schema}")
            for batch in chunk.to_batches():
                copy.write(encoder.write_batch(batch))
            rows += chunk.num_rows
        copy.write(encoder.finish())
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
