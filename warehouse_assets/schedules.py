"""The products refresh schedule: daily by default, cron and time zone from the environment."""

import dagster as dg

from warehouse_assets import settings
from warehouse_assets.jobs import products_job

products_schedule = dg.ScheduleDefinition(
    name="products_refresh_schedule",
    job=products_job,
    cron_schedule=settings.get("WAREHOUSE_PRODUCTS_CRON"),
    execution_timezone=settings.get("WAREHOUSE_SCHEDULE_TIMEZONE"),
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Refresh dim_product from the FakeStore API (WAREHOUSE_PRODUCTS_CRON, WAREHOUSE_SCHEDULE_TIMEZONE).",
)
