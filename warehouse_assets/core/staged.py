"""The shape of a staged sales row, read from its one declaration in `sql/load/staged_sales.sql`.

The reader builds Arrow tables with exactly these columns, in this order, and the loader copies
them into the temporary table that file creates. Numeric columns travel as their decimal text,
so PostgreSQL parses and rounds them exactly; arrays and JSON travel as their text forms.
"""

from __future__ import annotations

import re

import pyarrow as pa

from warehouse_assets.core.settings import SQL_DIR

STAGED_SQL = "load/staged_sales.sql"

_ARROW_TYPES: dict[str, pa.DataType] = {
    "bigint": pa.int64(),
    "integer": pa.int32(),
    "smallint": pa.int16(),
    "text": pa.string(),
    "timestamptz": pa.timestamp("us", tz="UTC"),
    "numeric": pa.string(),
    "text[]": pa.string(),
    "jsonb": pa.string(),
    "boolean": pa.bool_(),
    "date": pa.date32(),
}
_COLUMN = re.compile(r"^\s+([a-z_][a-z0-9_]*)\s+([a-z]+(?:\[\])?)(?:\s*\(\s*\d+\s*(?:,\s*\d+\s*)?\))?", re.M)


def staged_columns(sql_text: str) -> list[tuple[str, str]]:
    """(name, PostgreSQL type without modifiers) of each column of the CREATE TABLE in `sql_text`."""
    body = sql_text[sql_text.index("(") + 1 : sql_text.rindex(")")]
    return [(m.group(1), m.group(2)) for m in _COLUMN.finditer(re.sub(r"--[^\n]*", "", body))]


def _schema() -> pa.Schema:
    columns = staged_columns((SQL_DIR / STAGED_SQL).read_text(encoding="utf-8"))
    return pa.schema([(name, _ARROW_TYPES[kind]) for name, kind in columns])


STAGED_SCHEMA: pa.Schema = _schema()
STAGED_COLUMNS: tuple[str, ...] = tuple(STAGED_SCHEMA.names)
