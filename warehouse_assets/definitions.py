"""The one Definitions object: every asset, check, job, sensor, schedule and resource."""

import dagster as dg

from warehouse_assets import settings
from warehouse_assets.assets.products import dim_product, raw_products
from warehouse_assets.assets.sales import (
    agg_customers_daily,
    agg_sales_daily,
    dim_customer,
    dim_date,
    fact_sales,
    raw_sales,
)
from warehouse_assets.assets.views import analytics_assets, view_assets
from warehouse_assets.checks import freshness_checks, freshness_sensor, integrity_checks
from warehouse_assets.jobs import checks_job, products_job, sales_job
from warehouse_assets.resources.fakestore import FakeStoreClient
from warehouse_assets.resources.io_manager import PostgresPandasIOManager
from warehouse_assets.resources.warehouse import WarehouseResource
from warehouse_assets.schedules import products_schedule
from warehouse_assets.sensors import sales_files_sensor


def build_definitions(
    database_url: str | dg.EnvVar | None = None, fakestore: FakeStoreClient | None = None
) -> dg.Definitions:
    """The project's Definitions with a given warehouse URL (tests point it at their database)."""
    warehouse = WarehouseResource(database_url=database_url)
    return dg.Definitions(
        assets=[
            raw_products,
            dim_product,
            raw_sales,
            fact_sales,
            dim_customer,
            dim_date,
            agg_sales_daily,
            agg_customers_daily,
            *view_assets,
            *analytics_assets,
        ],
        asset_checks=[*integrity_checks, *freshness_checks],
        jobs=[sales_job, products_job, checks_job],
        sensors=[sales_files_sensor, freshness_sensor],
        schedules=[products_schedule],
        resources={
            "warehouse": warehouse,
            "io_manager": PostgresPandasIOManager(warehouse=warehouse),
            "fakestore": fakestore or FakeStoreClient(),
        },
    )


def definitions_from_environment() -> dg.Definitions:
    """Definitions configured from the environment as it is now (the CLI builds them per command).

    The URL (with any password) is read through EnvVar, so Dagster never shows or stores its
    value; without it the embedded server is used.
    """
    return build_definitions(dg.EnvVar("WAREHOUSE_DATABASE_URL") if settings.get("WAREHOUSE_DATABASE_URL") else None)


defs = definitions_from_environment()
