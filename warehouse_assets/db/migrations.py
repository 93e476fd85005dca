"""Applying the star schema: `sql/schema/*.sql` in name order, each file idempotent DDL.

A file is skipped when its checksum matches the one recorded at its last application, so running
again changes nothing and costs one query. The whole application holds an advisory lock, so
concurrent runs (two first loads at once) never race on DDL.
"""

from __future__ import annotations

import hashlib

from warehouse_assets.db import sqlfiles
from warehouse_assets.db.connection import connect

SCHEMA_LOCK = "warehouse.schema"


def apply_schema(url: str) -> list[str]:
    """Apply the schema files that changed; returns the names of those (re)applied."""
    applied: list[str] = []
    with connect(url) as conn:
        conn.execute(sqlfiles.statement("queries/advisory_lock.sql"), {"name": SCHEMA_LOCK})
        conn.execute(sqlfiles.read("schema/000_schemas.sql"))
        done = dict(conn.execute(sqlfiles.statement("queries/schema_history_list.sql")).fetchall())
        for path in sqlfiles.files("schema"):
            text = path.read_text(encoding="utf-8")
            checksum = hashlib.sha256(text.encode()).hexdigest()
            if done.get(path.name) == checksum:
                continue
            conn.execute(text)
            conn.execute(
                sqlfiles.statement("queries/schema_history_record.sql"), {"file": path.name, "checksum": checksum}
            )
            applied.append(path.name)
    return applied
