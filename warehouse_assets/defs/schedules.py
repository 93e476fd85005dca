"""Schedules: the products refresh and the whole-warehouse check (both daily by default)."""

import dagster as dg

from warehouse_assets.core.settings import Settings
from warehouse_assets.defs.jobs import CHECKS_JOB, PRODUCTS_JOB


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
        ),
        dg.ScheduleDefinition(
            name="warehouse_checks_schedule",
            job_name=CHECKS_JOB,
            cron_schedule=settings.checks_cron,
            execution_timezone=settings.schedule_timezone,
            default_status=dg.DefaultScheduleStatus.RUNNING,
            tags={"launched_by": "warehouse_checks_schedule"},
            description=f"Run every check over the whole warehouse ({settings.checks_cron}, {settings.schedule_timezone}; "
            "WAREHOUSE_CHECKS_CRON), so that data changed outside the pipeline is caught.",
        ),
    ]
