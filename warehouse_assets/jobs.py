"""Jobs: what a sales file, a products refresh and a full check run each materialize.

Runs execute in one process (in_process_executor): the steps are database work that mostly
waits on PostgreSQL, and a process per step would cost a second or more each, which would
dominate the load of a small file.
"""

import dagster as dg

from warehouse_assets.assets.products import raw_products
from warehouse_assets.assets.sales import raw_sales
from warehouse_assets.checks import freshness_checks, integrity_checks

# A new or changed file: its partition of raw_sales and fact_sales, then everything downstream
# (dimensions, aggregates, views, analytics), each recomputing only what the file touched.
sales_job = dg.define_asset_job(
    "sales_file_job",
    selection=dg.AssetSelection.assets(raw_sales).downstream(),
    executor_def=dg.in_process_executor,
    description="Load one sales file (partition) and refresh what depends on it.",
)

products_job = dg.define_asset_job(
    "products_job",
    selection=dg.AssetSelection.assets(raw_products).downstream(),
    executor_def=dg.in_process_executor,
    description="Refresh products from the FakeStore API and the views that read them.",
)

checks_job = dg.define_asset_job(
    "warehouse_checks_job",
    selection=dg.AssetSelection.checks(*integrity_checks, *freshness_checks),
    executor_def=dg.in_process_executor,
    description="Run every integrity and freshness check over the whole warehouse.",
)
