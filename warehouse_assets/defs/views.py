"""The views and the analytics layer as assets, one step for all of them.

Each asset is a SQL file of `sql/views/` or `sql/analytics/`; it depends on exactly the relations
its SQL reads (parsed from its FROM and JOIN clauses), takes its description from the file's
header comment, and reports its row count and a preview of its top rows (a table, which the UI
shows on the asset page). The executive summary also attaches its figures, its best products and
a compact chart of the daily revenue. One step creates what changed (`db.views.ensure_views`) and
reports on every selected view, instead of a step per view; the reports' queries run a few at a
time, since one over every customer (the RFM segments' quintiles) takes as long as all the rest.
"""

import datetime as dt
from functools import partial

import dagster as dg

from warehouse_assets.db import sqlfiles
from warehouse_assets.db.summary import load_summary
from warehouse_assets.db.views import ViewFile, ensure_views, view_files, view_state
from warehouse_assets.defs import groups
from warehouse_assets.defs.metadata import table, transposed
from warehouse_assets.defs.resources import WarehouseResource

SUMMARY = "executive_summary"
FIGURES = "executive_summary's figures"  # its report's second part, a piece of work of its own


def _spec(view: ViewFile) -> dg.AssetSpec:
    return dg.AssetSpec(
        view.name,
        deps=view.reads,
        group_name=groups.ANALYTICS,
        kinds={"postgres", "view"},
        description=sqlfiles.header(view.relative),
        metadata={"dagster/table_name": view.relation, "sql_file": f"sql/{view.relative}"},
    )


def build_view_assets() -> dg.AssetsDefinition:
    views = view_files()

    @dg.multi_asset(
        name="analytics_views",
        specs=[_spec(v) for v in views],
        can_subset=True,
        description="Create the views whose SQL changed and report on each: rows, a preview, the chart.",
    )
    def analytics_views(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
        wanted = [v for v in views if dg.AssetKey(v.name) in context.selected_asset_keys]
        database = warehouse.database()
        # Committed before the reports, which read the views on connections of their own.
        with database.connection() as conn:
            created = ensure_views(conn, wanted)
        if created:
            context.log.info(f"created or replaced: {', '.join(created)}")
        reports = database.read_concurrently(
            {
                **{view.name: partial(view_state, view=view) for view in wanted},
                **({FIGURES: load_summary} if any(v.name == SUMMARY for v in wanted) else {}),
            },
            thread_name="view-report",
        )
        for view in wanted:
            state = reports[view.name]
            preview = table(state["columns"], state["preview"])
            extra: dict[str, dg.MetadataValue] = {}
            if view.name == SUMMARY:
                summary = reports[FIGURES]
                # Figures and chart first: the UI lists metadata in the order given.
                extra["revenue_per_day"] = dg.MetadataValue.md(summary.chart_markdown())
                extra["figures"] = table(("figure", "value"), summary.formatted())
                extra["top_products"] = table(("rank", "product", "revenue", "share"), summary.top_products_rows())
                preview = transposed(state["columns"], state["preview"][0] if state["preview"] else [])
            yield dg.MaterializeResult(
                asset_key=view.name,
                metadata={
                    **extra,
                    "dagster/row_count": dg.MetadataValue.int(state["rows"]),
                    "preview": preview,
                    "refreshed_at": dg.MetadataValue.timestamp(dt.datetime.now(dt.timezone.utc)),
                    "created_now": dg.MetadataValue.bool(view.name in created),
                },
            )

    return analytics_views
