"""Asset checks: orphans, amounts, date consistency, reconciliation and freshness.

Integrity checks have ERROR severity and are blocking: when one fails, the assets downstream of
the checked asset do not run in that run, so the views and analytics are never refreshed over
bad data. Freshness checks are WARN: they inform and block nothing.

In a run for one sales file (a partitioned run) the fact checks look at that file's rows, so a
check costs what the load costs; run on their own (`warehouse check`, or from the UI without a
partition) they look at the whole warehouse. Each check's SQL is in `sql/checks/`.
"""

import datetime as dt
import warnings

import dagster as dg

from warehouse_assets import settings, sqlfiles
from warehouse_assets.assets.products import dim_product
from warehouse_assets.assets.sales import dim_customer, dim_date, fact_sales, raw_sales
from warehouse_assets.resources.warehouse import WarehouseResource


def run_scope(context: dg.AssetCheckExecutionContext) -> str | None:
    """The sales file a run is about, or None for a run over the whole warehouse."""
    return context.run.tags.get("dagster/partition")


def query_check(warehouse: WarehouseResource, name: str, scope: str | None) -> list[dict]:
    with warehouse.connection() as conn:
        cur = conn.execute(sqlfiles.read(f"checks/{name}.sql"), {"source_file": scope})
        columns = [d.name for d in cur.description]
        return [dict(zip(columns, row)) for row in cur.fetchall()]


def _result(
    scope: str | None, counts: dict[str, int], examples: list | None, checked: str, n: int
) -> dg.AssetCheckResult:
    failures = {k: int(v) for k, v in counts.items()}
    return dg.AssetCheckResult(
        passed=not any(failures.values()),
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "scope": dg.MetadataValue.text(f"file {scope}" if scope else "whole warehouse"),
            checked: dg.MetadataValue.int(int(n)),
            **{k: dg.MetadataValue.int(v) for k, v in failures.items()},
            "examples": dg.MetadataValue.json([str(e) for e in (examples or [])]),
        },
    )


def _check_spec(asset, name: str):
    return dg.asset_check(asset=asset, name=name, blocking=True, description=sqlfiles.header(f"checks/{name}.sql"))


def counting_check(asset, name: str, failures: tuple[str, ...], checked: str, *, scoped: bool = True):
    """A check whose SQL returns one row: how many rows it looked at (`checked`), one count per
    way of failing (`failures`) and up to 20 `examples`. It passes when every count is zero."""

    @_check_spec(asset, name)
    def _check(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource) -> dg.AssetCheckResult:
        scope = run_scope(context) if scoped else None
        (row,) = query_check(warehouse, name, scope)
        return _result(scope, {k: row[k] for k in failures}, row["examples"], checked, row[checked])

    return _check


fact_sales_no_orphans = counting_check(
    fact_sales, "fact_sales_no_orphans", ("orphan_product", "orphan_customer", "orphan_date"), "facts_checked"
)
fact_sales_amounts_valid = counting_check(
    fact_sales,
    "fact_sales_amounts_valid",
    ("negative_amount", "non_positive_quantity", "total_mismatch"),
    "facts_checked",
)
fact_sales_dates_consistent = counting_check(
    fact_sales, "fact_sales_dates_consistent", ("date_key_mismatch", "in_future"), "facts_checked"
)
dim_customer_matches_facts = counting_check(
    dim_customer,
    "dim_customer_matches_facts",
    (
        "lifetime_value_mismatch",
        "total_orders_mismatch",
        "purchase_dates_mismatch",
        "first_after_last",
        "customers_without_facts",
        "customers_missing_in_dim",
    ),
    "customers_checked",
)
dim_date_covers_facts = counting_check(
    dim_date, "dim_date_covers_facts", ("gaps", "fact_days_missing", "key_mismatch"), "days"
)
dim_product_prices_positive = counting_check(
    dim_product, "dim_product_prices_positive", ("non_positive_price",), "products_checked", scoped=False
)


@_check_spec(fact_sales, "sales_file_reconciles")
def sales_file_reconciles(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource):
    scope = run_scope(context)
    rows = query_check(warehouse, "sales_file_reconciles", scope)
    off = [r for r in rows if r["rows_read"] != r["rows_loaded"] + r["rows_quarantined"] + r["rows_skipped"]]
    totals = {k: sum(int(r[k]) for r in rows) for k in ("rows_read", "rows_loaded", "rows_quarantined", "rows_skipped")}
    return dg.AssetCheckResult(
        passed=not off and (scope is None or bool(rows)),
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "scope": dg.MetadataValue.text(f"file {scope}" if scope else "every loaded file"),
            "files_checked": dg.MetadataValue.int(len(rows)),
            "files_not_reconciling": dg.MetadataValue.int(len(off)),
            **{k: dg.MetadataValue.int(v) for k, v in totals.items()},
            # Per file and absolute: a file missing rows and another with rows too many must not
            # cancel out in a net total.
            "unaccounted_rows": dg.MetadataValue.int(
                sum(
                    abs(
                        int(r["rows_read"])
                        - int(r["rows_loaded"])
                        - int(r["rows_quarantined"])
                        - int(r["rows_skipped"])
                    )
                    for r in off
                )
            ),
            "examples": dg.MetadataValue.json(
                [
                    {
                        "source_file": r["source_file"],
                        "read": int(r["rows_read"]),
                        "loaded": int(r["rows_loaded"]),
                        "quarantined": int(r["rows_quarantined"]),
                        "skipped": int(r["rows_skipped"]),
                    }
                    for r in off[:20]
                ]
            ),
        },
    )


integrity_checks = [
    fact_sales_no_orphans,
    fact_sales_amounts_valid,
    fact_sales_dates_consistent,
    sales_file_reconciles,
    dim_customer_matches_facts,
    dim_date_covers_facts,
    dim_product_prices_positive,
]

# Freshness, with Dagster's own last-update checks (WARN): products refreshed within the
# configured age, and some sales file loaded within the configured number of days. Dagster 1.13
# also offers FreshnessPolicy, evaluated by its daemon into a freshness state; these checks are
# used instead because they are asset checks like the others: they appear on the same check
# dashboards, carry WARN severity, and run in `warehouse load` and `warehouse check`.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", dg.SupersessionWarning)
    freshness_checks = [
        *dg.build_last_update_freshness_checks(
            assets=[dim_product],
            lower_bound_delta=dt.timedelta(hours=settings.get_float("WAREHOUSE_PRODUCTS_MAX_AGE_HOURS")),
            severity=dg.AssetCheckSeverity.WARN,
        ),
        *dg.build_last_update_freshness_checks(
            assets=[raw_sales],
            lower_bound_delta=dt.timedelta(days=settings.get_float("WAREHOUSE_SALES_MAX_SILENCE_DAYS")),
            severity=dg.AssetCheckSeverity.WARN,
        ),
    ]
    freshness_sensor = dg.build_sensor_for_freshness_checks(
        freshness_checks=freshness_checks,
        name="freshness_checks_sensor",
        minimum_interval_seconds=600,
        default_status=dg.DefaultSensorStatus.RUNNING,
    )
