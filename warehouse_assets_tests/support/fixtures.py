"""The fixtures every test module may ask for (registered as a pytest plugin in conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import psycopg
import pytest

from warehouse_assets.core.settings import Settings
from warehouse_assets.core.urls import replace_database
from warehouse_assets_tests.support import databases
from warehouse_assets_tests.support.http_server import no_proxies, serve  # noqa: F401  (fixtures)
from warehouse_assets_tests.support.paths import REALDATA


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    url, embedded = databases.server_url()
    yield url
    if embedded:
        databases.stop_embedded()


@pytest.fixture(scope="session")
def template_database(pg_server_url: str) -> str:
    return databases.template_database(pg_server_url)


@pytest.fixture
def empty_database_url(pg_server_url: str) -> Iterator[str]:
    """A new, empty database (no schema applied)."""
    name = databases.create_database(pg_server_url)
    yield replace_database(pg_server_url, name)
    databases.drop_database(pg_server_url, name)


@pytest.fixture
def warehouse_url(pg_server_url: str, template_database: str) -> Iterator[str]:
    """A new database with the warehouse schema."""
    name = databases.create_database(pg_server_url, template_database)
    yield replace_database(pg_server_url, name)
    databases.drop_database(pg_server_url, name)


@pytest.fixture
def db(warehouse_url: str) -> Iterator[psycopg.Connection]:
    """An autocommit connection to the test's warehouse database, for arranging and asserting."""
    with databases.connect(warehouse_url) as conn:
        yield conn


@pytest.fixture
def realdata() -> Path:
    """The folder of real captures beside the checkout (absent on most clones): each test asks
    for its file with `realdata_oracle.real_file`, which skips naming that file."""
    return REALDATA


@pytest.fixture
def landing(tmp_path: Path) -> Path:
    """An empty landing folder."""
    folder = tmp_path / "landing"
    folder.mkdir()
    return folder


@pytest.fixture
def products_snapshot(tmp_path: Path) -> Path:
    """A products JSON snapshot from the sample generator (the products source of `settings`)."""
    from warehouse_assets.cli.sample_data import write_products

    return write_products(tmp_path / "products.json")


@pytest.fixture
def settings_variables(warehouse_url: str, landing: Path, products_snapshot: Path, tmp_path: Path) -> dict[str, str]:
    """The variables of a warehouse in the test's database, landing folder and products
    snapshot, with no source layouts and no settle time."""
    return {
        "WAREHOUSE_DATABASE_URL": warehouse_url,
        "WAREHOUSE_LANDING_DIR": str(landing),
        "WAREHOUSE_LAYOUTS_DIR": str(tmp_path / "layouts"),
        "WAREHOUSE_STATE_DIR": str(tmp_path / "state"),
        "FAKESTORE_BASE_URL": str(products_snapshot),
        "WAREHOUSE_SENSOR_SETTLE_SECONDS": "0",
    }


@pytest.fixture
def settings(settings_variables: dict[str, str]) -> Settings:
    """The settings of `settings_variables`; tests change a copy with `settings.replace(...)`."""
    return Settings.from_environment(settings_variables)


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    """A real (ephemeral) Dagster instance."""
    with dg.instance_for_test() as inst:
        yield inst


@pytest.fixture
def defs(settings: Settings) -> dg.Definitions:
    from warehouse_assets.defs.build import build_definitions

    return build_definitions(settings)


@pytest.fixture
def cli_env(
    settings: Settings, settings_variables: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    """What `warehouse` sees on a configured machine: the test's settings as environment
    variables and a Dagster home of its own. Every variable the command itself exports is set
    here first, so the test's environment is restored afterwards."""
    from warehouse_assets.cli.environment import DAGSTER_EVENT_BATCH_SIZE
    from warehouse_assets.core.urls import dagster_storage_url

    for name, value in {
        **settings_variables,
        "DAGSTER_HOME": str(tmp_path / "dagster_home"),
        "DAGSTER_PG_URL": dagster_storage_url(settings.database_url),
        "DAGSTER_EVENT_BATCH_SIZE": DAGSTER_EVENT_BATCH_SIZE,
    }.items():
        monkeypatch.setenv(name, value)
    return settings
