"""The views and the analytics layer: the SQL files in `sql/views/` and `sql/analytics/`.

Each file is one `CREATE OR REPLACE VIEW` in schema `analytics`. A view is created only when its
file changed since it was last created (or the view is missing), in dependency order, under an
advisory lock, so that two first loads at once never both create it. Previews and row counts are
what the asset pages show.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from warehouse_assets.db import sqlfiles
from warehouse_assets.db.connection import fetch_dicts

VIEW_FOLDERS = ("views", "analytics")
VIEWS_LOCK = "warehouse.views"


@dataclass(frozen=True)
class ViewFile:
    name: str
    relative: str  # e.g. views/vw_daily_sales_summary.sql

    @property
    def relation(self) -> str:
        return f"analytics.{self.name}"

    @property
    def reads(self) -> list[str]:
        return sorted(sqlfiles.relations_read(self.relative) - {self.name})

    @property
    def checksum(self) -> str:
        return hashlib.sha256(sqlfiles.read(self.relative).encode()).hexdigest()


def view_files() -> list[ViewFile]:
    """Every view file, in an order where each comes after the views it reads."""
    found = {
        path.stem: ViewFile(path.stem, f"{folder}/{path.name}")
        for folder in VIEW_FOLDERS
        for path in sqlfiles.files(folder)
    }
    ordered: list[ViewFile] = []
    seen: set[str] = set()

    def visit(name: str, trail: tuple[str, ...]) -> None:
        if name in seen or name not in found:
            return
        if name in trail:
            raise ValueError(f"views read each other in a cycle: {' -> '.join((*trail, name))}")
        for dep in found[name].reads:
            visit(dep, (*trail, name))
        seen.add(name)
        ordered.append(found[name])

    for name in sorted(found):
        visit(name, ())
    return ordered


def ensure_views(conn: psycopg.Connection, wanted: list[ViewFile] | None = None) -> list[str]:
    """Create the views whose files changed (and the views they read); returns those created."""
    everything = view_files()
    by_name = {v.name: v for v in everything}
    needed: set[str] = set()

    def need(name: str) -> None:
        if name in by_name and name not in needed:
            needed.add(name)
            for dep in by_name[name].reads:
                need(dep)

    for view in wanted or everything:
        need(view.name)
    conn.execute(sqlfiles.statement("queries/advisory_lock.sql"), {"name": VIEWS_LOCK})
    history = {r["view_name"]: r for r in fetch_dicts(conn, "queries/view_history_list.sql")}
    created = []
    for view in everything:
        if view.name not in needed:
            continue
        known = history.get(view.name)
        if known and known["present"] and known["checksum"] == view.checksum:
            continue
        conn.execute(sqlfiles.read(view.relative))
        conn.execute(
            sqlfiles.statement("queries/view_history_record.sql"), {"view_name": view.name, "checksum": view.checksum}
        )
        created.append(view.name)
    return created


def _relation(name: str) -> sql.Identifier:
    schema, table = name.split(".")
    return sql.Identifier(schema, table)


def row_count(conn: psycopg.Connection, relation: str) -> int:
    return conn.execute(sqlfiles.composed("queries/row_count.sql", relation=_relation(relation))).fetchone()[0]


def preview(
    conn: psycopg.Connection, relation: str, order: str | None, limit: int = 10
) -> tuple[list[str], list[tuple]]:
    """(column names, first rows) of a relation, ordered by `order` (a SQL file's annotation)."""
    statement = sqlfiles.composed(
        "queries/preview.sql",
        relation=_relation(relation),
        order=sql.SQL("ORDER BY " + order) if order else sql.SQL(""),
        limit=sql.Literal(limit),
    )
    cur = conn.execute(statement)
    return [d.name for d in cur.description], cur.fetchall()


def view_state(conn: psycopg.Connection, view: ViewFile) -> dict[str, Any]:
    count = row_count(conn, view.relation)
    columns, rows = preview(conn, view.relation, sqlfiles.annotation(view.relative, "preview order"))
    return {"rows": count, "columns": columns, "preview": rows}


def sql_path(view: ViewFile) -> Path:
    return sqlfiles.SQL_DIR / view.relative
