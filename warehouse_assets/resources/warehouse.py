"""The warehouse resource: connections to the warehouse database for assets that run SQL.

Every connection is psycopg 3 (for COPY), opened with the session time zone set to UTC so that
naive timestamps mean UTC everywhere. The star schema in `sql/schema/` is applied the first time a
process connects, under an advisory lock so that concurrent runs do not race on DDL.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
import psycopg
from pydantic import Field

from warehouse_assets import sqlfiles
from warehouse_assets.resources.postgres import libpq_url, mask_url, warehouse_database_url

# Any constant works; it only has to be the same in every process applying the schema.
_SCHEMA_LOCK_KEY = 727_274_001

_schema_ready: set[str] = set()
_schema_lock = threading.Lock()


def connect(url: str, *, autocommit: bool = False) -> psycopg.Connection:
    conn = psycopg.connect(libpq_url(url), autocommit=autocommit, options="-c TimeZone=UTC")
    return conn


def apply_schema(url: str) -> list[str]:
    """Apply `sql/schema/*.sql` in name order; returns the files that were (re)applied.

    Each file is idempotent DDL. A file is skipped when its checksum matches the one recorded
    at its last application, so re-running changes nothing and costs one query.
    """
    applied: list[str] = []
    with connect(url) as conn:
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK_KEY,))
        conn.execute(sqlfiles.read("schema/000_schemas.sql"))
        done = dict(conn.execute("SELECT file, checksum FROM warehouse.schema_history").fetchall())
        for path in sqlfiles.files("schema"):
            text = path.read_text(encoding="utf-8")
            checksum = hashlib.sha256(text.encode()).hexdigest()
            if done.get(path.name) == checksum:
                continue
            conn.execute(text)
            conn.execute(
                """INSERT INTO warehouse.schema_history (file, checksum) VALUES (%s, %s)
                   ON CONFLICT (file) DO UPDATE SET checksum = EXCLUDED.checksum,
                                                     applied_at = now()""",
                (path.name, checksum),
            )
            applied.append(path.name)
    return applied


def ensure_schema(url: str) -> None:
    with _schema_lock:
        if url in _schema_ready:
            return
        apply_schema(url)
        _schema_ready.add(url)


class WarehouseResource(dg.ConfigurableResource):
    """Connections to the warehouse database.

    `database_url` is normally `dg.EnvVar("WAREHOUSE_DATABASE_URL")`, so the URL (and its
    password) never appears in run config or the UI; left empty, the embedded server is used.
    """

    database_url: str | None = Field(
        default=None,
        description="PostgreSQL URL of the warehouse; empty means the embedded server.",
    )

    def url(self) -> str:
        return self.database_url or warehouse_database_url()

    def display_url(self) -> str:
        return mask_url(self.url())

    @contextmanager
    def connection(self, *, autocommit: bool = False) -> Iterator[psycopg.Connection]:
        """A connection whose transaction commits when the block ends and rolls back on error."""
        url = self.url()
        ensure_schema(url)
        with connect(url, autocommit=autocommit) as conn:
            yield conn

    def execute_file(self, relative: str, params: dict | None = None) -> None:
        with self.connection() as conn:
            conn.execute(sqlfiles.read(relative), params)

    def query(self, statement: str, params: dict | tuple | None = None) -> list[tuple]:
        with self.connection() as conn:
            return conn.execute(statement, params).fetchall()
