"""Test fixtures: a real PostgreSQL for every test, each test in a database of its own.

The server is the one named by WAREHOUSE_TEST_DATABASE_URL (CI points it at the machine's
PostgreSQL 15) or else an embedded PostgreSQL 18 kept in `.warehouse/test`, apart from the
developer's own warehouse. A template database with the schema applied is built once per schema
version, so a fresh database per test costs one `CREATE DATABASE ... TEMPLATE`.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from warehouse_assets import settings
from warehouse_assets.resources.postgres import libpq_url, replace_database
from warehouse_assets_tests.http_server import no_proxies, serve  # noqa: F401  (fixtures)

REALDATA = settings.PROJECT_DIR.parent / "shared" / "realdata"


def _server_url() -> str:
    explicit = os.environ.get("WAREHOUSE_TEST_DATABASE_URL")
    if explicit:
        return libpq_url(explicit)
    os.environ["WAREHOUSE_STATE_DIR"] = str(settings.PROJECT_DIR / ".warehouse" / "test")
    from warehouse_assets.resources.postgres import embedded_server_url

    return embedded_server_url("postgres")


def _schema_version() -> str:
    digest = hashlib.sha256()
    for path in sorted((settings.SQL_DIR / "schema").glob("*.sql")):
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:12]


@pytest.fixture(scope="session")
def pg_server_url() -> str:
    return _server_url()


@pytest.fixture(scope="session")
def template_database(pg_server_url: str) -> str:
    from warehouse_assets.resources.warehouse import apply_schema

    name = f"warehouse_tmpl_{_schema_version()}"
    with psycopg.connect(pg_server_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            building = name + "_building"
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(building)))
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(building)))
            apply_schema(replace_database(pg_server_url, building))
            conn.execute(
                sql.SQL("ALTER DATABASE {} RENAME TO {}").format(sql.Identifier(building), sql.Identifier(name))
            )
    return name


def create_database(server_url: str, template: str | None = None) -> str:
    name = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        stmt = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template:
            stmt += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
        conn.execute(stmt)
    return name


def drop_database(server_url: str, name: str) -> None:
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def empty_database_url(pg_server_url: str):
    """A new, empty database (no schema applied)."""
    name = create_database(pg_server_url)
    yield replace_database(pg_server_url, name)
    drop_database(pg_server_url, name)


@pytest.fixture
def warehouse_url(pg_server_url: str, template_database: str, monkeypatch):
    """A new database with the warehouse schema, also exported as WAREHOUSE_DATABASE_URL."""
    name = create_database(pg_server_url, template_database)
    url = replace_database(pg_server_url, name)
    monkeypatch.setenv("WAREHOUSE_DATABASE_URL", url)
    yield url
    drop_database(pg_server_url, name)


@pytest.fixture
def warehouse(warehouse_url: str):
    from warehouse_assets.resources.warehouse import WarehouseResource

    return WarehouseResource(database_url=warehouse_url)


@pytest.fixture
def db(warehouse_url: str):
    """An autocommit connection to the test's warehouse database, for arranging and asserting."""
    with psycopg.connect(warehouse_url, autocommit=True, options="-c TimeZone=UTC") as conn:
        yield conn


@pytest.fixture
def realdata() -> Path:
    if not REALDATA.is_dir():
        pytest.skip(f"real data folder {REALDATA} is absent (it sits beside the checkout in ../shared)")
    return REALDATA


@pytest.fixture
def landing(tmp_path, monkeypatch) -> Path:
    """An empty landing folder (and no source layouts unless a test adds some)."""
    folder = tmp_path / "landing"
    folder.mkdir()
    monkeypatch.setenv("WAREHOUSE_LANDING_DIR", str(folder))
    monkeypatch.setenv("WAREHOUSE_LAYOUTS_DIR", str(tmp_path / "layouts"))
    monkeypatch.setenv("WAREHOUSE_SENSOR_SETTLE_SECONDS", "0")
    return folder


@pytest.fixture
def instance():
    """A real (ephemeral, in-memory) Dagster instance."""
    import dagster as dg

    with dg.instance_for_test() as inst:
        yield inst


@pytest.fixture
def products_snapshot(tmp_path, monkeypatch) -> Path:
    """A products JSON snapshot from the sample generator, used as FAKESTORE_BASE_URL."""
    from warehouse_assets.sample_data import write_products

    path = write_products(tmp_path / "products.json")
    monkeypatch.setenv("FAKESTORE_BASE_URL", str(path))
    return path


@pytest.fixture
def defs(warehouse_url, landing):
    from warehouse_assets_tests.helpers import definitions

    return definitions(warehouse_url)
