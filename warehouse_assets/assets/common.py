"""Small helpers the asset modules share: markdown previews of query results for the UI."""

from collections.abc import Sequence
from typing import Any


def markdown_table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A markdown table, as Dagster's UI renders it in materialization metadata."""

    def cell(v: Any) -> str:
        return ("" if v is None else str(v)).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def preview(conn, relation: str, order_by: str | None = None, limit: int = 10) -> tuple[int, str]:
    """(row count, markdown of the first rows) of a schema-qualified relation named in code."""
    from psycopg import sql

    schema, name = relation.split(".")
    ident = sql.Identifier(schema, name)
    count = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(ident)).fetchone()[0]
    query = sql.SQL("SELECT * FROM {}").format(ident)
    if order_by:
        query += sql.SQL(" ORDER BY ") + sql.SQL(order_by)
    cur = conn.execute(query + sql.SQL(" LIMIT {}").format(sql.Literal(limit)))
    columns = [d.name for d in cur.description]
    return count, markdown_table(columns, cur.fetchall())
