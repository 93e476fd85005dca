"""A real PostgreSQL for the tests, a database of its own per test.

The server is the one named by WAREHOUSE_TEST_DATABASE_URL (CI points it at the machine's
PostgreSQL 15) or else an embedded PostgreSQL 18 kept in `.warehouse/test`, apart from the
developer's own warehouse, and stopped when the test session ends. A template database with the
schema applied is built once per schema version, so a fresh database per test costs one
`CREATE DATABASE ... TEMPLATE`.
"""

from __future__ import annotations

import hashlib
import os
import uuid

import psycopg
from psycopg import sql

from warehouse_assets.core.urls import libpq_url, replace_database
from warehouse_assets_tests.support.paths import PROJECT_DIR, SQL_DIR

TEST_PGDATA = PROJECT_DIR / ".warehouse" / "test" / "pgdata"


def server_url() -> tuple[str, bool]:
    """(admin URL of the test server, whether it is the embedded one started for the tests)."""
    explicit = os.environ.get("WAREHOUSE_TEST_DATABASE_URL")
    if explicit:
        return libpq_url(explicit), False
    from warehouse_assets.db import embedded

    return embedded.server_url(TEST_PGDATA, "postgres"), True


def stop_embedded() -> None:
    from warehouse_assets.db import embedded

    embedded.stop(TEST_PGDATA)


def schema_version() -> str:
    digest = hashlib.sha256()
    for path in sorted((SQL_DIR / "schema").glob("*.sql")):
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:12]


def template_database(admin_url: str) -> str:
    from warehouse_assets.db.migrations import apply_schema

    name = f"warehouse_tmpl_{schema_version()}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            return name
        building = f"{name}_{uuid.uuid4().hex[:6]}"
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(building)))
        apply_schema(replace_database(admin_url, building))
        try:
            conn.execute(
                sql.SQL("ALTER DATABASE {} RENAME TO {}").format(sql.Identifier(building), sql.Identifier(name))
            )
        except psycopg.errors.DuplicateDatabase:  # another test process built it first
            conn.execute(sql.SQL("DROP DATABASE {}").format(sql.Identifier(building)))
    return name


def create_database(admin_url: str, template: str | None = None) -> str:
    name = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template:
            statement += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
        conn.execute(statement)
    return name


def drop_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def connect(url: str) -> psycopg.Connection:
    """An autocommit connection for arranging and asserting."""
    return psycopg.connect(url, autocommit=True, options="-c TimeZone=UTC")


def corrupt_on_write(
    db: psycopg.Connection, name: str, table: str, assignment: str, when: str, events: str = "INSERT"
) -> None:
    """A trigger `name` that sets `assignment` (e.g. "quantity := 0") on each row of `table`
    matching `when` as it is written: damage the load cannot repair, for the checks to catch."""
    db.execute(
        f"CREATE FUNCTION public.{name}() RETURNS trigger LANGUAGE plpgsql AS $$"
        f" BEGIN NEW.{assignment}; RETURN NEW; END $$"
    )
    db.execute(
        f"CREATE TRIGGER {name} BEFORE {events} ON {table} FOR EACH ROW WHEN ({when}) EXECUTE FUNCTION public.{name}()"
    )
