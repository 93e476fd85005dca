"""The shape of a staged sales row, read from its one declaration in `sql/load/staged_sales.sql`.

The reader builds Arrow tables with exactly these columns, in this order, each of the Arrow type
whose binary form is that of the column's PostgreSQL type, and the loader copies them into the
temporary table that file creates in PostgreSQL's binary COPY format: amounts travel as
decimals of the column's precision and scale (and again as whole cents, bigint), reason codes as
a list, JSON as its text.
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
    "text[]": pa.list_(pa.string()),
    "jsonb": pa.string(),
    "boolean": pa.bool_(),
    "date": pa.date32(),
}
_COLUMN = re.compile(r"^\s+([a-z_][a-z0-9_]*)\s+([a-z]+(?:\[\])?)(?:\s*\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\))?", re.M)


def staged_columns(sql_text: str) -> list[tuple[str, str, tuple[int, ...]]]:
    """(name, PostgreSQL type without modifiers, its modifiers) of each column of the CREATE TABLE
    in `sql_text`, e.g. ('total_amount', 'numeric', (14, 2))."""
    body = sql_text[sql_text.index("(") + 1 : sql_text.rindex(")")]
    return [
        (m.group(1), m.group(2), tuple(int(g) for g in m.group(3, 4) if g is not None))
        for m in _COLUMN.finditer(re.sub(r"--[^\n]*", "", body))
    ]


def arrow_type(kind: str, modifiers: tuple[int, ...]) -> pa.DataType:
    if kind == "numeric":
        precision, scale = modifiers
        return pa.decimal128(precision, scale)
    return _ARROW_TYPES[kind]


_DECLARED = staged_columns((SQL_DIR / STAGED_SQL).read_text(encoding="utf-8"))
STAGED_SCHEMA: pa.Schema = pa.schema([(name, arrow_type(kind, modifiers)) for name, kind, modifiers in _DECLARED])
STAGED_COLUMNS: tuple[str, ...] = tuple(STAGED_SCHEMA.names)
# Text columns whose PostgreSQL type is jsonb: their binary form is the JSON text behind a version.
STAGED_JSONB: frozenset[str] = frozenset(name for name, kind, _ in _DECLARED if kind == "jsonb")
