"""Jobs: what a batch of sales files, a products refresh and a whole-warehouse check each run.

Runs execute in one process (in_process_executor): the steps are database work that mostly
waits on PostgreSQL, and a process per step would cost a second or more each, which would
dominate the load of a small file.

Each job's default run config names the console logger, at the settings' threshold: a run whose
config names no logger gets Dagster's system logger at DEBUG instead, and a run the daemon
launches prints on the terminal of `warehouse dev`.
"""

import dagster as dg

from warehouse_assets.core.settings import Settings

SALES_JOB = "sales_files_job"
PRODUCTS_JOB = "products_job"
CHECKS_JOB = "warehouse_checks_job"


def console_log_config(log_level: str) -> dict:
    return {"loggers": {"console": {"config": {"log_level": log_level}}}}


def build_jobs(settings: Settings) -> list:
    config = console_log_config(settings.run_log_level)
    return [
        dg.define_asset_job(
            SALES_JOB,
            selection=dg.AssetSelection.assets("raw_sales").downstream(),
            executor_def=dg.in_process_executor,
            config=config,
            description="Load a batch of sales files (a range of partitions) and refresh what depends on them.",
        ),
        dg.define_asset_job(
            PRODUCTS_JOB,
            selection=dg.AssetSelection.assets("raw_products").downstream(),
            executor_def=dg.in_process_executor,
            config=config,
            description="Refresh products from the FakeStore API and the views that read them.",
        ),
        dg.define_asset_job(
            CHECKS_JOB,
            selection=dg.AssetSelection.all_asset_checks(),
            executor_def=dg.in_process_executor,
            config=config,
            description="Run every integrity check over the whole warehouse.",
        ),
    ]
