"""Schedules: the products refresh (daily by default)."""

import dagster as dg

from warehouse_assets.core.settings import Settings
from warehouse_assets.defs.jobs import PRODUCTS_JOB


def build_schedules(settings: Settings) -> list[dg.ScheduleDefinition]:
    return [
        dg.ScheduleDefinition(
            name="products_refresh_schedule",
            job_name=PRODUCTS_JOB,
            cron_schedule=settings.products_cron,
            execution_timezone=settings.schedule_timezone,
            default_status=dg.DefaultScheduleStatus.RUNNING,
            tags={"launched_by": "products_refresh_schedule"},
            description=f"Refresh dim_product from the FakeStore API ({settings.products_cron}, {settings.schedule_timezone}; "
            "WAREHOUSE_PRODUCTS_CRON, WAREHOUSE_SCHEDULE_TIMEZONE).",
        )
    ]
