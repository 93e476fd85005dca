"""A Postgres IO manager: DataFrames and Arrow tables stored with COPY, DataFrames loaded back.

Built on Dagster's public `ConfigurableIOManager`. It holds no asset logic: it stores what an
asset returns and loads what an asset asks for, nothing else.

- Table: `dagster/table_name` metadata (`schema.table`), else `<schema>.<last key part>`, the schema
  being the `schema` metadata, else the key prefix, else `warehouse`. The table must exist (its DDL
  lives in `sql/schema/`). Identifiers are always quoted; partition keys are bound parameters.
- Writes: one transaction per output. The old slice (the run's partitions, by the column named in
  `partition_expr` metadata, or every row of an unpartitioned asset) is deleted and the new rows
  are copied in; a failure anywhere rolls back and leaves the previous rows.
- Reads: the upstream table (or the partitions asked for), only the `columns` given in the input's
  metadata when there are any, as a DataFrame whose dtypes round-trip (see `db.copy`).
"""

from collections.abc import Mapping, Sequence
from typing import Any

import dagster as dg
import pandas as pd
import pyarrow as pa
from psycopg import sql

from warehouse_assets.db import sqlfiles
from warehouse_assets.db.copy import copy_tables, frame_from_rows, frame_to_arrow
from warehouse_assets.defs.resources import database_for

DEFAULT_SCHEMA = "warehouse"


def _require_table(conn, schema: str, name: str, what_to_do: str) -> None:
    exists = conn.execute(sqlfiles.statement("queries/table_exists.sql"), {"schema": schema, "name": name}).fetchone()[
        0
    ]
    if not exists:
        raise dg.Failure(f"table {schema}.{name} does not exist: {what_to_do}")


def _table_of(key: dg.AssetKey, metadata: Mapping[str, Any]) -> tuple[str, str]:
    named = metadata.get("dagster/table_name")
    if named:
        text = named.value if isinstance(named, dg.MetadataValue) else named
        schema, _, table = str(text).rpartition(".")
        return schema or DEFAULT_SCHEMA, table
    schema = metadata.get("schema")
    if schema:
        return str(schema), key.path[-1]
    return (key.path[-2] if len(key.path) > 1 else DEFAULT_SCHEMA), key.path[-1]


def _ident(schema: str, table: str) -> sql.Identifier:
    return sql.Identifier(schema, table)


class PostgresIOManager(dg.ConfigurableIOManager):
    """Stores DataFrames and Arrow tables in PostgreSQL tables with COPY; loads DataFrames."""

    # The database's own fields rather than a nested resource: Dagster 1.13's nested-resource
    # initialisation calls a deprecated context property.
    database_url: str | None = None
    pgdata: str

    def _db(self):
        return database_for(self.database_url, self.pgdata)

    def handle_output(self, context: dg.OutputContext, obj: pd.DataFrame | pa.Table | None) -> None:
        if obj is None:
            return
        if isinstance(obj, pd.DataFrame):
            table = frame_to_arrow(obj)
        elif isinstance(obj, pa.Table):
            table = obj
        else:
            raise TypeError(
                f"{context.asset_key.to_user_string()}: the Postgres IO manager stores DataFrames and Arrow tables, got {type(obj).__name__}"
            )
        metadata = context.definition_metadata or {}
        schema, name = _table_of(context.asset_key, metadata)
        ident = _ident(schema, name)
        db = self._db()
        with db.connection() as conn:
            _require_table(conn, schema, name, "its DDL belongs in sql/schema/")
            # Writers of one table take turns, so a partition replace never interleaves with another.
            conn.execute(sqlfiles.statement("queries/advisory_lock.sql"), {"name": f"{schema}.{name}"})
            if context.has_asset_partitions:
                column = metadata.get("partition_expr")
                if not column:
                    raise dg.Failure(
                        f"{context.asset_key.to_user_string()} is partitioned: give partition_expr metadata (the column that holds the partition key)"
                    )
                conn.execute(
                    sqlfiles.composed(
                        "queries/io_delete_partitions.sql", table=ident, column=sql.Identifier(str(column))
                    ),
                    {"keys": list(context.asset_partition_keys)},
                )
                replaced = ", ".join(context.asset_partition_keys)
            else:
                conn.execute(sqlfiles.composed("queries/io_delete_all.sql", table=ident))
                replaced = "whole table"
            rows = copy_tables(conn, ident, table.column_names, [table])
        context.add_output_metadata(
            {
                "dagster/row_count": dg.MetadataValue.int(rows),
                "dagster/table_name": dg.MetadataValue.text(f"{schema}.{name}"),
                "replaced": dg.MetadataValue.text(replaced),
            }
        )

    def load_input(self, context: dg.InputContext) -> pd.DataFrame:
        upstream = context.upstream_output
        metadata = (upstream.definition_metadata if upstream else None) or {}
        schema, name = _table_of(context.asset_key, metadata)
        columns: Sequence[str] | None = (context.definition_metadata or {}).get("columns")
        selected = sql.SQL(", ").join(sql.Identifier(c) for c in columns) if columns else sql.SQL("*")
        table = _ident(schema, name)
        if context.has_asset_partitions:
            column = sql.Identifier(str(metadata.get("partition_expr")))
            statement = sqlfiles.composed(
                "queries/io_select_partitions.sql", columns=selected, table=table, column=column
            )
            params = {"keys": list(context.asset_partition_keys)}
        else:
            statement, params = sqlfiles.composed("queries/io_select.sql", columns=selected, table=table), {}
        db = self._db()
        with db.connection() as conn:
            _require_table(conn, schema, name, f"materialize {context.asset_key.to_user_string()} first")
            cur = conn.execute(statement, params)
            return frame_from_rows(cur.fetchall(), cur.description)
