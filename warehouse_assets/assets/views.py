"""The views and the analytics layer, as assets built from the SQL files in `sql/views/` and
`sql/analytics/`.

Each asset runs its file's `CREATE OR REPLACE VIEW`, depends on exactly the relations the SQL
reads (parsed from its FROM and JOIN clauses), takes its description from the file's header
comment, and reports its row count and a preview of the top rows. The executive summary also
attaches its chart, which the UI shows on the asset page.
"""

import datetime as dt
from pathlib import Path

import dagster as dg

from warehouse_assets import reporting, sqlfiles
from warehouse_assets.assets.common import preview
from warehouse_assets.resources.warehouse import WarehouseResource

# How each preview is ordered: the rows a person would look at first.
PREVIEW_ORDER = {
    "vw_product_sales_summary": "total_revenue DESC, product_id",
    "vw_daily_sales_summary": "full_date DESC",
    "vw_customer_lifetime_value": "lifetime_value DESC, customer_id",
    "product_performance": "overall_rank",
    "customer_rfm_segments": "monetary DESC, customer_id",
    "sales_trends_monthly": "month_start DESC",
    "revenue_by_location": "total_revenue DESC, country, city",
    "payment_method_mix": "total_revenue DESC",
}


def view_dependencies(relative: str) -> list[str]:
    return sorted(sqlfiles.relations_read(relative) - {Path(relative).stem})


def _sql_file_of_view(name: str) -> str | None:
    for folder in ("views", "analytics"):
        if (sqlfiles.SQL_DIR / folder / f"{name}.sql").exists():
            return f"{folder}/{name}.sql"
    return None


def ensure_upstream_views(conn, relative: str) -> None:
    """Create any upstream view that does not exist yet (a fresh warehouse refreshing products
    before its first sales file), so a run never fails on a view it did not select."""
    for dep in view_dependencies(relative):
        dep_file = _sql_file_of_view(dep)
        if dep_file is None:
            continue
        if conn.execute("SELECT to_regclass(%s)", (f"analytics.{dep}",)).fetchone()[0] is None:
            ensure_upstream_views(conn, dep_file)
            conn.execute(sqlfiles.read(dep_file))


def build_view_asset(relative: str, group: str) -> dg.AssetsDefinition:
    name = Path(relative).stem
    relation = f"analytics.{name}"

    @dg.asset(
        name=name,
        deps=view_dependencies(relative),
        group_name=group,
        kinds={"postgres", "view"},
        description=sqlfiles.header(relative),
        metadata={"dagster/table_name": relation, "sql_file": f"sql/{relative}"},
    )
    def _view(warehouse: WarehouseResource) -> dg.MaterializeResult:
        with warehouse.connection() as conn:
            ensure_upstream_views(conn, relative)
            conn.execute(sqlfiles.read(relative))
            count, table = preview(conn, relation, PREVIEW_ORDER.get(name))
            extra = {}
            if name == "executive_summary":
                summary = reporting.load_summary(conn)
                extra["chart"] = dg.MetadataValue.md(
                    reporting.png_markdown(reporting.render_chart(summary), "Daily revenue and top products")
                )
                extra["figures"] = dg.MetadataValue.md(
                    "\n".join(f"- **{label}**: {text}" for label, text in summary.formatted())
                )
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": dg.MetadataValue.int(count),
                "preview": dg.MetadataValue.md(table),
                "refreshed_at": dg.MetadataValue.timestamp(dt.datetime.now(dt.timezone.utc)),
                **extra,
            }
        )

    return _view


view_assets = [build_view_asset(f"views/{p.name}", "views") for p in sqlfiles.files("views")]
analytics_assets = [build_view_asset(f"analytics/{p.name}", "analytics") for p in sqlfiles.files("analytics")]
