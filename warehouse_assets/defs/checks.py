"""Asset checks: orphans, amounts, date consistency, reconciliation, the dimensions and summaries.

All but one have ERROR severity and are blocking; returns_match_sales only warns. In a run that loads sales files they look at those
files' rows only, so checking costs what loading costs; run on their own (`warehouse check`, the
nightly schedule, the checks job in the UI) they look at the whole warehouse. A failing check
fails its run; the checks on the tables the views read (dim_customer, dim_date, dim_product,
agg_sales_daily) also keep the views from being refreshed in that run. Each check's SQL is in
`sql/checks/`, and its header comment is the check's description.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import dagster as dg

from warehouse_assets.db import sqlfiles
from warehouse_assets.db.checks import check_rows, checks_rows
from warehouse_assets.defs.resources import WarehouseResource


@dataclass(frozen=True)
class CountingCheck:
    """A check whose SQL returns one row: how many things it looked at (`checked`), a count per
    way of failing (`failures`) and up to 20 `examples`. It passes when every count is zero."""

    name: str
    asset: str
    failures: tuple[str, ...]
    checked: str
    severity: dg.AssetCheckSeverity = dg.AssetCheckSeverity.ERROR

    def spec(self) -> dg.AssetCheckSpec:
        return dg.AssetCheckSpec(
            self.name,
            asset=self.asset,
            blocking=self.severity == dg.AssetCheckSeverity.ERROR,
            description=sqlfiles.header(f"checks/{self.name}.sql"),
        )

    def evaluate(self, rows: list[dict[str, Any]], scope: Sequence[str] | None) -> dg.AssetCheckResult:
        (row,) = rows
        failures = {k: int(row[k]) for k in self.failures}
        return dg.AssetCheckResult(
            asset_key=self.asset,
            check_name=self.name,
            passed=not any(failures.values()),
            severity=self.severity,
            metadata={
                "scope": dg.MetadataValue.text(_scope_text(scope)),
                self.checked: dg.MetadataValue.int(int(row[self.checked])),
                **{k: dg.MetadataValue.int(v) for k, v in failures.items()},
                "examples": dg.MetadataValue.json([str(e) for e in (row.get("examples") or [])]),
                "failing": dg.MetadataValue.text(_failing(failures)),
            },
        )


def _failing(counts: dict[str, int]) -> str:
    """The non-zero failure counts in one line, e.g. "non_positive_price=1" (empty when passing)."""
    return ", ".join(f"{k}={v}" for k, v in counts.items() if v)


SALES_COUNTING = (
    CountingCheck(
        "fact_sales_no_orphans", "fact_sales", ("orphan_product", "orphan_customer", "orphan_date"), "facts_checked"
    ),
    CountingCheck(
        "fact_sales_amounts_valid",
        "fact_sales",
        ("negative_amount", "non_positive_quantity", "total_mismatch"),
        "facts_checked",
    ),
    CountingCheck("fact_sales_dates_consistent", "fact_sales", ("date_key_mismatch", "in_future"), "facts_checked"),
    CountingCheck(
        "returns_match_sales",
        "fact_sales",
        ("original_unknown", "more_than_sold"),
        "returns_checked",
        severity=dg.AssetCheckSeverity.WARN,
    ),
    CountingCheck(
        "dim_customer_matches_facts",
        "dim_customer",
        (
            "lifetime_value_mismatch",
            "total_orders_mismatch",
            "purchase_dates_mismatch",
            "first_after_last",
            "customers_without_facts",
            "customers_missing_in_dim",
        ),
        "customers_checked",
    ),
    CountingCheck("dim_date_covers_facts", "dim_date", ("gaps", "fact_days_missing", "key_mismatch"), "days"),
    CountingCheck(
        "daily_summaries_reconcile",
        "agg_sales_daily",
        ("transactions_mismatch", "revenue_mismatch", "files_not_matching_ledger"),
        "files_checked",
    ),
)
PRODUCT_COUNTING = (
    CountingCheck("dim_product_prices_positive", "dim_product", ("non_positive_price",), "products_checked"),
)
RECONCILES = "sales_file_reconciles"
# The order a run's checks are started in, two at a time: the costliest first (as measured over a
# file of a million rows), so that the two connections finish close together instead of one
# starting the longest check last.
RUN_ORDER = (
    "dim_customer_matches_facts",
    "fact_sales_no_orphans",
    "fact_sales_amounts_valid",
    "daily_summaries_reconcile",
    "fact_sales_dates_consistent",
    RECONCILES,
    "dim_date_covers_facts",
    "returns_match_sales",
)


def _scope_text(scope: Sequence[str] | None) -> str:
    if scope is None:
        return "whole warehouse"
    return f"{len(scope)} file(s) of this run: " + ", ".join(scope[:10]) + (" ..." if len(scope) > 10 else "")


def run_scope(context: dg.AssetCheckExecutionContext) -> list[str] | None:
    """The sales files a run is about, or None for a run over the whole warehouse."""
    if context.has_partition_key or context.has_partition_key_range:
        return list(context.partition_keys)
    return None


def reconciliation_result(rows: list[dict[str, Any]], scope: Sequence[str] | None) -> dg.AssetCheckResult:
    def unaccounted(r: dict[str, Any]) -> int:
        return int(r["lines_read"]) - int(r["lines_loaded"]) - int(r["lines_quarantined"]) - int(r["lines_skipped"])

    off = [r for r in rows if unaccounted(r) or r["stale_facts"] or r["dangling_duplicates"]]
    totals = {
        k: sum(int(r[k]) for r in rows)
        for k in ("lines_read", "lines_loaded", "lines_quarantined", "lines_skipped", "rows_loaded", "rows_quarantined")
    }
    return dg.AssetCheckResult(
        asset_key="fact_sales",
        check_name=RECONCILES,
        # A run's files must all be in the ledger: a file the run loaded but the ledger lacks is lost.
        passed=not off and (scope is None or len(rows) >= len(scope)),
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "scope": dg.MetadataValue.text(_scope_text(scope) if scope is not None else "every loaded file"),
            "files_checked": dg.MetadataValue.int(len(rows)),
            "files_not_reconciling": dg.MetadataValue.int(len(off)),
            **{k: dg.MetadataValue.int(v) for k, v in totals.items()},
            # Per file and absolute: a file missing lines and another with lines too many must not
            # cancel out in a net total.
            "unaccounted_lines": dg.MetadataValue.int(sum(abs(unaccounted(r)) for r in off)),
            "stale_facts": dg.MetadataValue.int(sum(int(r["stale_facts"]) for r in rows)),
            "dangling_duplicates": dg.MetadataValue.int(sum(int(r["dangling_duplicates"]) for r in rows)),
            "failing": dg.MetadataValue.text(
                _failing(
                    {
                        "files_not_reconciling": len(off),
                        "unaccounted_lines": sum(abs(unaccounted(r)) for r in off),
                        "stale_facts": sum(int(r["stale_facts"]) for r in rows),
                        "dangling_duplicates": sum(int(r["dangling_duplicates"]) for r in rows),
                        "files_missing_from_ledger": max(0, len(scope) - len(rows)) if scope is not None else 0,
                    }
                )
            ),
            "examples": dg.MetadataValue.json(
                [
                    {
                        "source_file": r["source_file"],
                        "lines_read": int(r["lines_read"]),
                        "lines_loaded": int(r["lines_loaded"]),
                        "lines_quarantined": int(r["lines_quarantined"]),
                        "lines_skipped": int(r["lines_skipped"]),
                        "stale_facts": int(r["stale_facts"]),
                        "dangling_duplicates": int(r["dangling_duplicates"]),
                    }
                    for r in off[:20]
                ]
            ),
        },
    )


def build_checks() -> list[dg.AssetChecksDefinition]:
    reconcile_spec = dg.AssetCheckSpec(
        RECONCILES, asset="fact_sales", blocking=True, description=sqlfiles.header(f"checks/{RECONCILES}.sql")
    )
    by_key = {dg.AssetCheckKey(dg.AssetKey(c.asset), c.name): c for c in SALES_COUNTING}

    @dg.multi_asset_check(
        name="sales_checks",
        specs=[reconcile_spec, *(c.spec() for c in SALES_COUNTING)],
        can_subset=True,
        description="The integrity checks of the sales tables, for the run's files or the whole warehouse.",
    )
    def sales_checks(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource):
        scope = run_scope(context)
        keys = sorted(context.selected_asset_check_keys, key=lambda k: RUN_ORDER.index(k.name))
        rows = checks_rows(warehouse.database(), [k.name for k in keys], scope)
        for key in keys:
            if key.name == RECONCILES:
                yield reconciliation_result(rows[RECONCILES], scope)
            else:
                yield by_key[key].evaluate(rows[key.name], scope)

    @dg.multi_asset_check(
        name="product_checks",
        specs=[c.spec() for c in PRODUCT_COUNTING],
        description="The integrity checks of dim_product (always over every product).",
    )
    def product_checks(warehouse: WarehouseResource):
        for check in PRODUCT_COUNTING:
            yield check.evaluate(check_rows(warehouse.database(), check.name, None), None)

    return [sales_checks, product_checks]
