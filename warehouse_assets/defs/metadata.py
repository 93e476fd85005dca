"""Query results as table metadata: the UI shows a table value on the asset page whatever its
size (a markdown value longer than 1,000 characters hides behind "[Show Markdown]")."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import dagster as dg


def _cell(value: Any) -> str | int | float | bool:
    if value is None:
        return ""
    if isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Decimal):
        return f"{value:,.2f}" if value.as_tuple().exponent < 0 else f"{value:,}"
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ", timespec="seconds")
    return str(value)


def table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> dg.TableMetadataValue:
    return dg.MetadataValue.table(
        records=[dg.TableRecord({c: _cell(v) for c, v in zip(columns, row)}) for row in rows],
        schema=dg.TableSchema(columns=[dg.TableColumn(c, "string") for c in columns]),
    )


def transposed(columns: Sequence[str], row: Sequence[Any]) -> dg.TableMetadataValue:
    """One row as a table of (column, value): a wide single row would be cut off at the right."""
    return table(("column", "value"), list(zip(columns, row)))
