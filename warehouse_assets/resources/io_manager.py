"""A Postgres IO manager for pandas DataFrames: COPY in, typed frames out, partitions replaced atomically.

Built the way dagster-duckdb is, on Dagster's `DbIOManager` (a `DbClient` for the database and a
`DbTypeHandler` for pandas). `DbIOManager` is not public API, which is why Dagster is pinned to
one release in pyproject.toml and why the tests exercise every path through it.

- Table: `<schema>.<table>`, the table being the asset key's last part and the schema the
  `schema` metadata, else the key prefix, else `warehouse`. Identifiers are always quoted;
  partition keys are always bound parameters.
- Writes: one transaction per output. The old slice (the partition's rows, or the whole table
  for an unpartitioned asset) is removed and the new rows are streamed with `COPY ... (FORMAT
  csv)`, serialised by Arrow. A failure anywhere rolls back, leaving the previous rows.
- A missing table is created from the frame's dtypes (`column_types` metadata overrides the
  guess for a column); new columns in a later frame are added; nothing is ever dropped.
- An asset may return `DataFrameChunks` (an iterable of DataFrames) instead of one frame: the
  chunks are copied one after the other in the same transaction, so a file larger than memory
  streams through with one chunk in memory at a time.
- Inputs load as DataFrames with dtypes that round-trip (Int64/boolean where there are nulls,
  Decimal for numeric, tz-aware datetimes for timestamptz, `datetime.date` for date), for all
  partitions or the ones asked for, and only the `columns` named in the input's metadata.
"""

from __future__ import annotations

import datetime as dt
import decimal
import io
import json
import re
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import dagster as dg
import numpy as np
import pandas as pd
import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv
from dagster._core.definitions.partitions.utils import TimeWindow
from dagster._core.storage.db_io_manager import (
    DbClient,
    DbIOManager,
    DbTypeHandler,
    TablePartitionDimension,
    TableSlice,
)
from psycopg import sql
from pydantic import Field

from warehouse_assets.resources.warehouse import WarehouseResource

DEFAULT_SCHEMA = "warehouse"
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class DataFrameChunks:
    """An asset output made of DataFrames (or Arrow tables) produced one at a time, all with the
    same columns. Arrow tables skip the conversion to pandas: a loader that already holds its data
    in Arrow hands it straight to COPY.

    `finalize`, if given, is called with the IO manager's connection after the last chunk, inside
    the same transaction, so that bookkeeping about the data (a ledger row, a quarantine) commits
    or rolls back together with it; the mapping it returns is added to the output's metadata.
    """

    def __init__(
        self,
        chunks: Iterable[pd.DataFrame | pa.Table],
        finalize: Callable[[psycopg.Connection], Mapping[str, Any]] | None = None,
        prefetch: int = 0,
    ):
        self._chunks = chunks
        self.finalize = finalize
        self.prefetch = prefetch

    def __iter__(self) -> Iterator[pd.DataFrame | pa.Table]:
        return _prefetched(iter(self._chunks), self.prefetch) if self.prefetch else iter(self._chunks)


def _release_memory() -> None:
    """Hand memory freed by a long streamed write back to the operating system.

    Arrow's pool and glibc's malloc keep freed pages for reuse; after streaming a large file the
    run goes on (SQL, views, a chart) with the high-water mark of the stream still resident.
    """
    import ctypes
    import gc

    gc.collect()
    pa.default_memory_pool().release_unused()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except OSError:  # not glibc (macOS, musl): nothing to trim
        pass


def _prefetched(chunks: Iterator, depth: int) -> Iterator:
    """Produce the next chunks in a background thread while the caller COPYs the current one.

    Arrow's parsing and compute kernels, and the socket writes of COPY, release the GIL, so on two
    cores reading and loading overlap. At most `depth` chunks wait, which bounds memory. An
    exception in the producer is raised in the consumer, at the position it happened.
    """
    import queue
    import threading

    done = object()
    box: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for chunk in chunks:
                while not stop.is_set():
                    try:
                        box.put(chunk, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            box.put(done)
        except BaseException as exc:  # handed to the consumer, which raises it
            box.put(exc)

    worker = threading.Thread(target=produce, name="chunk-prefetch", daemon=True)
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


# ---------------------------------------------------------------- pandas -> PostgreSQL types


def _object_column_type(series: pd.Series) -> str:
    sample = series.dropna()
    if sample.empty:
        return "text"
    first = sample.iloc[0]
    if isinstance(first, bool):
        return "boolean"
    if isinstance(first, decimal.Decimal):
        return "numeric"
    if isinstance(first, dt.datetime):
        return "timestamptz" if first.tzinfo is not None else "timestamp"
    if isinstance(first, dt.date):
        return "date"
    if isinstance(first, (dict, list)):
        return "jsonb"
    if isinstance(first, bytes):
        return "bytea"
    if isinstance(first, (int, np.integer)):
        return "bigint"
    if isinstance(first, (float, np.floating)):
        return "double precision"
    return "text"


def postgres_type(series: pd.Series) -> str:
    """The PostgreSQL column type for a pandas column."""
    dtype = series.dtype
    if isinstance(dtype, pd.DatetimeTZDtype):
        return "timestamptz"
    if pd.api.types.is_datetime64_dtype(dtype):
        return "timestamp"
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_integer_dtype(dtype):
        return "integer" if dtype.itemsize <= 4 else "bigint"
    if pd.api.types.is_float_dtype(dtype):
        return "double precision"
    if pd.api.types.is_timedelta64_dtype(dtype):
        return "interval"
    if isinstance(dtype, (pd.CategoricalDtype, pd.StringDtype)):
        return "text"
    return _object_column_type(series)


def arrow_postgres_type(arrow_type: pa.DataType) -> str:
    """The PostgreSQL column type for an Arrow column."""
    if pa.types.is_timestamp(arrow_type):
        return "timestamptz" if arrow_type.tz else "timestamp"
    if pa.types.is_boolean(arrow_type):
        return "boolean"
    if pa.types.is_integer(arrow_type):
        return "integer" if arrow_type.bit_width <= 32 else "bigint"
    if pa.types.is_floating(arrow_type):
        return "double precision"
    if pa.types.is_decimal(arrow_type):
        return "numeric"
    if pa.types.is_date(arrow_type):
        return "date"
    return "text"


# ---------------------------------------------------------------- frame -> COPY payload


def _arrow_safe(frame: pd.DataFrame, column_types: Mapping[str, str]) -> pd.DataFrame:
    """Columns Arrow's CSV writer cannot write (JSON, intervals) become text first."""
    out = frame
    for name in frame.columns:
        kind = column_types.get(name)
        series = frame[name]
        if kind in ("jsonb", "json"):
            converted = series.map(lambda v: None if v is None or v is pd.NA else json.dumps(v))
        elif kind == "interval":
            converted = series.map(lambda v: None if pd.isna(v) else f"{v.total_seconds()} seconds")
        elif kind == "bytea":
            converted = series.map(lambda v: None if v is None else "\\x" + bytes(v).hex())
        else:
            continue
        if out is frame:
            out = frame.copy(deep=False)
        out[name] = converted.astype(object)
    return out


def frame_to_csv_bytes(frame: pd.DataFrame, column_types: Mapping[str, str]) -> bytes:
    """Serialise a frame as CSV that `COPY ... (FORMAT csv)` reads back exactly.

    Arrow quotes every string and leaves nulls unquoted and empty, which is precisely
    PostgreSQL's CSV convention for "" (empty text) versus NULL.
    """
    return arrow_to_csv_bytes(pa.Table.from_pandas(_arrow_safe(frame, column_types), preserve_index=False))


def arrow_to_csv_bytes(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pacsv.write_csv(table, sink, write_options=pacsv.WriteOptions(include_header=False))
    return sink.getvalue()


# ---------------------------------------------------------------- PostgreSQL -> pandas


def _frame_from_rows(rows: list[tuple], description: Sequence[Any]) -> pd.DataFrame:
    from psycopg.postgres import types as pg_types

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


# ---------------------------------------------------------------- the DbClient


def _table_ident(table_slice: TableSlice) -> sql.Composed:
    return sql.SQL("{}.{}").format(sql.Identifier(table_slice.schema), sql.Identifier(table_slice.table))


def _partition_expr(expr: str) -> sql.Composable:
    # A bare column name is quoted; anything else is a SQL expression written by the asset's
    # author in code (e.g. "date(transaction_ts)"), never text from data or users.
    return sql.Identifier(expr) if _IDENTIFIER.match(expr) else sql.SQL(expr)


def where_clause(dimensions: Sequence[TablePartitionDimension] | None) -> tuple[sql.Composable, list]:
    if not dimensions:
        return sql.SQL(""), []
    parts: list[sql.Composable] = []
    params: list[Any] = []
    for dim in dimensions:
        expr = _partition_expr(dim.partition_expr)
        if isinstance(dim.partitions, TimeWindow):
            parts.append(sql.SQL("{} >= %s AND {} < %s").format(expr, expr))
            params += [dim.partitions.start, dim.partitions.end]
        else:
            parts.append(sql.SQL("{} = ANY(%s)").format(expr))
            params.append(list(dim.partitions))
    return sql.SQL(" WHERE ") + sql.SQL(" AND ").join(parts), params


def table_exists(conn: psycopg.Connection, schema: str, table: str) -> bool:
    row = conn.execute(
        "SELECT 1 FROM information_schema.tables WHERE table_schema = %s AND table_name = %s",
        (schema, table),
    ).fetchone()
    return row is not None


class PostgresDbClient(DbClient):
    def __init__(self, warehouse: WarehouseResource):
        self.warehouse = warehouse

    @contextmanager
    def connect(self, context, table_slice: TableSlice) -> Iterator[psycopg.Connection]:
        # One transaction for the whole output: delete of the old slice and COPY of the new
        # rows commit together or not at all. The warehouse's connection applies the schema
        # first, so tables declared in sql/schema are never created from a frame's dtypes.
        with self.warehouse.connection() as conn:
            yield conn

    def ensure_schema_exists(self, context, table_slice: TableSlice, connection) -> None:
        connection.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(table_slice.schema)))

    def delete_table_slice(self, context, table_slice: TableSlice, connection) -> None:
        # Serialise writers of the same table so that creating it, and replacing a slice, never
        # race with another run writing the same table.
        lock_key = zlib.crc32(f"{table_slice.schema}.{table_slice.table}".encode())
        connection.execute("SELECT pg_advisory_xact_lock(%s)", (lock_key,))
        if not table_exists(connection, table_slice.schema, table_slice.table):
            return
        if table_slice.partition_dimensions:
            where, params = where_clause(table_slice.partition_dimensions)
            connection.execute(sql.SQL("DELETE FROM {}").format(_table_ident(table_slice)) + where, params)
        else:
            connection.execute(sql.SQL("TRUNCATE {}").format(_table_ident(table_slice)))

    def get_select_statement(self, table_slice: TableSlice) -> str:
        cols = ", ".join(f'"{c}"' for c in table_slice.columns) if table_slice.columns else "*"
        text = f'SELECT {cols} FROM "{table_slice.schema}"."{table_slice.table}"'
        for dim in table_slice.partition_dimensions or []:
            if isinstance(dim.partitions, TimeWindow):
                text += f" WHERE {dim.partition_expr} in [{dim.partitions.start}, {dim.partitions.end})"
            else:
                text += f" WHERE {dim.partition_expr} IN ({', '.join(repr(p) for p in dim.partitions)})"
        return text

    def select(self, table_slice: TableSlice) -> tuple[sql.Composable, list]:
        cols = (
            sql.SQL(", ").join(sql.Identifier(c) for c in table_slice.columns) if table_slice.columns else sql.SQL("*")
        )
        where, params = where_clause(table_slice.partition_dimensions)
        return sql.SQL("SELECT {} FROM {}").format(cols, _table_ident(table_slice)) + where, params


# ---------------------------------------------------------------- the pandas type handler


class PandasPostgresTypeHandler(DbTypeHandler):
    """Stores DataFrames (or DataFrameChunks) with COPY; loads typed DataFrames."""

    def __init__(self, client: PostgresDbClient):
        self.client = client

    @property
    def supported_types(self):
        return [pd.DataFrame, DataFrameChunks]

    def handle_output(self, context, table_slice: TableSlice, obj, connection):
        chunks: Iterable[pd.DataFrame] = [obj] if isinstance(obj, pd.DataFrame) else obj
        finalize = getattr(obj, "finalize", None)
        metadata = context.definition_metadata or {}
        overrides: Mapping[str, str] = metadata.get("column_types") or {}
        ident = _table_ident(table_slice)
        rows = 0
        columns: list[str] | None = None
        types: dict[str, str] = {}
        for chunk in chunks:
            arrow = isinstance(chunk, pa.Table)
            if not arrow and not isinstance(chunk, pd.DataFrame):
                raise TypeError(f"{context.asset_key.to_user_string()}: expected DataFrame chunks, got {type(chunk)}")
            names = chunk.column_names if arrow else [str(c) for c in chunk.columns]
            if columns is None:
                columns = names
                types = {
                    c: overrides.get(c)
                    or (arrow_postgres_type(chunk.schema.field(c).type) if arrow else postgres_type(chunk[c]))
                    for c in columns
                }
                self._ensure_table(connection, table_slice, types)
            elif names != columns:
                raise ValueError(
                    f"{context.asset_key.to_user_string()}: chunk columns {list(chunk.columns)} "
                    f"differ from the first chunk's {columns}"
                )
            if not len(chunk):
                continue
            copy_stmt = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv)").format(
                ident, sql.SQL(", ").join(sql.Identifier(c) for c in columns)
            )
            payload = arrow_to_csv_bytes(chunk) if arrow else frame_to_csv_bytes(chunk, types)
            with connection.cursor().copy(copy_stmt) as copy:
                copy.write(payload)
            rows += len(chunk)
        extra = finalize(connection) if finalize else {}
        if not isinstance(obj, pd.DataFrame):
            _release_memory()
        return {
            **extra,
            "dagster/row_count": dg.MetadataValue.int(rows),
            "dagster/column_schema": dg.TableSchema(columns=[dg.TableColumn(name=c, type=t) for c, t in types.items()]),
            "table": dg.MetadataValue.text(f"{table_slice.schema}.{table_slice.table}"),
            "partitions replaced": dg.MetadataValue.text(
                ", ".join(
                    str(d.partitions) if isinstance(d.partitions, TimeWindow) else ", ".join(d.partitions)
                    for d in table_slice.partition_dimensions or []
                )
                or "whole table"
            ),
        }

    def _ensure_table(self, conn, table_slice: TableSlice, types: Mapping[str, str]) -> None:
        ident = _table_ident(table_slice)
        if not table_exists(conn, table_slice.schema, table_slice.table):
            cols = sql.SQL(", ").join(
                sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(_checked_type(t))) for c, t in types.items()
            )
            conn.execute(sql.SQL("CREATE TABLE {} ({})").format(ident, cols))
            return
        existing = {
            r[0]
            for r in conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s",
                (table_slice.schema, table_slice.table),
            ).fetchall()
        }
        for c, t in types.items():
            if c not in existing:
                conn.execute(
                    sql.SQL("ALTER TABLE {} ADD COLUMN {} {}").format(
                        ident, sql.Identifier(c), sql.SQL(_checked_type(t))
                    )
                )

    def load_input(self, context, table_slice: TableSlice, connection) -> pd.DataFrame:
        if not table_exists(connection, table_slice.schema, table_slice.table):
            raise dg.DagsterInvariantViolationError(
                f"table {table_slice.schema}.{table_slice.table} does not exist: materialize "
                f"{context.asset_key.to_user_string()} first"
            )
        statement, params = self.client.select(table_slice)
        with connection.cursor() as cur:
            cur.execute(statement, params)
            rows = cur.fetchall()
            return _frame_from_rows(rows, cur.description)


_TYPE_NAME = re.compile(r"^[a-z][a-z0-9 _]*(\(\d+(, *\d+)?\))?(\[\])?$")


def _checked_type(type_name: str) -> str:
    # column_types metadata is written in code, but it is still formatted into DDL, so accept
    # only things shaped like type names.
    if not _TYPE_NAME.match(type_name):
        raise ValueError(f"not a PostgreSQL type name: {type_name!r}")
    return type_name


# ---------------------------------------------------------------- the resource


class PostgresPandasIOManager(dg.ConfigurableIOManagerFactory):
    """Stores pandas DataFrames in PostgreSQL tables; see the module docstring for the contract."""

    warehouse: WarehouseResource
    schema_: str | None = Field(
        default=None,
        alias="schema",
        description=f"Schema for assets without a key prefix or `schema` metadata (default {DEFAULT_SCHEMA!r}).",
    )

    def create_io_manager(self, context) -> DbIOManager:
        client = PostgresDbClient(self.warehouse)
        return _DefaultSchemaDbIOManager(
            type_handlers=[PandasPostgresTypeHandler(client)],
            db_client=client,
            database="warehouse",
            schema=self.schema_,
            io_manager_name="PostgresPandasIOManager",
            default_load_type=pd.DataFrame,
        )


class _DefaultSchemaDbIOManager(DbIOManager):
    """DbIOManager falls back to `public`; ours falls back to `warehouse`, and drops the
    database part from the table name shown in the UI (it is the connection's database)."""

    def _get_table_slice(self, context, output_context):
        table_slice = super()._get_table_slice(context, output_context)
        metadata = output_context.definition_metadata or {}
        has_prefix = context.has_asset_key and len(context.asset_key.path) > 1
        if table_slice.schema == "public" and not metadata.get("schema") and not self._schema and not has_prefix:
            table_slice = table_slice._replace(schema=DEFAULT_SCHEMA)
        return table_slice._replace(database=None)
