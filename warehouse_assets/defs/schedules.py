"""Schedules: the products refresh and the whole-warehouse check (both daily by default)."""

import dagster as dg

from warehouse_assets.core.settings import Settings
from warehouse_assets.defs.jobs import CHECKS_JOB, PRODUCTS_JOB, console_log_config


def _daily(
    name: str, job: str, cron: str, timezone: str, what: str, variable: str, log_level: str
) -> dg.ScheduleDefinition:
    return dg.ScheduleDefinition(
        name=name,
        job_name=job,
        cron_schedule=cron,
        execution_timezone=timezone,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        tags={"launched_by": name},
        run_config=console_log_config(log_level),
        description=f"{what} ({cron}, {timezone}; {variable}, WAREHOUSE_SCHEDULE_TIMEZONE).",
    )


def build_schedules(settings: Settings) -> list[dg.ScheduleDefinition]:
    tz = settings.schedule_timezone
    return [
        _daily(
            "products_refresh_schedule",
            PRODUCTS_JOB,
            settings.products_cron,
            tz,
            "Refresh dim_product from the FakeStore API",
            "WAREHOUSE_PRODUCTS_CRON",
            settings.run_log_level,
        ),
        _daily(
            "warehouse_checks_schedule",
            CHECKS_JOB,
            settings.checks_cron,
            tz,
            "Run every check over the whole warehouse, so that data changed outside the pipeline is caught",
            "WAREHOUSE_CHECKS_CRON",
            settings.run_log_level,
        ),
    ]
