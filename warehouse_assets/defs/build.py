"""`build_definitions(settings)`: the one `Definitions` of the warehouse, built from a settings
object. Every asset, check, job, sensor, schedule and resource takes its configuration from that
object, so two settings give two independent sets of definitions in one process."""

from __future__ import annotations

import dagster as dg

from warehouse_assets.core.progress import LoadObserver
from warehouse_assets.core.settings import Settings
from warehouse_assets.defs.alerts import build_alert_sensors
from warehouse_assets.defs.checks import build_checks
from warehouse_assets.defs.io_manager import PostgresIOManager
from warehouse_assets.defs.jobs import build_jobs
from warehouse_assets.defs.products import build_product_assets
from warehouse_assets.defs.resources import FakeStoreResource, WarehouseResource
from warehouse_assets.defs.sales import build_sales_assets
from warehouse_assets.defs.schedules import build_schedules
from warehouse_assets.defs.sensors import build_sensors
from warehouse_assets.defs.views import build_view_assets


def _secret(settings: Settings, name: str, value: str | None) -> str | dg.EnvVar | None:
    """A secret from the process environment is read through EnvVar: Dagster then shows and
    stores the variable's name, never its value."""
    return dg.EnvVar(name) if name in settings.secrets_in_process_environment else value


def build_resources(settings: Settings) -> dict[str, object]:
    database_url = _secret(settings, "WAREHOUSE_DATABASE_URL", settings.database_url)
    return {
        "warehouse": WarehouseResource(database_url=database_url, pgdata=str(settings.pgdata)),
        "io_manager": PostgresIOManager(database_url=database_url, pgdata=str(settings.pgdata)),
        "fakestore": FakeStoreResource(
            base_url=settings.fakestore_base_url,
            project_dir=str(settings.project_dir),
            connect_timeout=settings.fakestore_connect_timeout,
            read_timeout=settings.fakestore_read_timeout,
            max_attempts=settings.fakestore_max_attempts,
            backoff_seconds=settings.fakestore_backoff_seconds,
            deadline_seconds=settings.fakestore_deadline_seconds,
        ),
    }


def build_definitions(settings: Settings, *, observer: LoadObserver | None = None) -> dg.Definitions:
    """The project's Definitions for `settings`; `observer` receives the sales loads' progress
    (the CLI's progress bar), when the runs execute in this process."""
    return dg.Definitions(
        assets=[*build_product_assets(settings), build_sales_assets(settings, observer), build_view_assets()],
        asset_checks=build_checks(),
        jobs=build_jobs(settings),
        sensors=[*build_sensors(settings), *build_alert_sensors(settings)],
        schedules=build_schedules(settings),
        resources=build_resources(settings),
        # Runs of assets picked in the UI (the implicit asset job) run in one process too.
        executor=dg.in_process_executor,
    )
