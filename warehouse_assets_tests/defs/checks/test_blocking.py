"""What the checks do to a run: they look at the run's files only, and a failing check fails the
run; the checks on the tables the views read keep the views from being refreshed over bad data."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import dagster as dg
import pytest

from warehouse_assets_tests.support.databases import corrupt_on_write
from warehouse_assets_tests.support.jobs import check_results, load_file, refresh_products, run_checks, step_failures
from warehouse_assets_tests.support.warehouses import (
    FILE_A,
    FILE_B,
    Loaded,
    LoadedTemplate,
    build_loaded_template,
    copy_loaded,
)

PRODUCT_VIEWS = {"vw_product_sales_summary", "product_performance", "executive_summary"}


@pytest.fixture(scope="module")
def loaded_template(pg_server_url: str, template_database: str, tmp_path_factory) -> Iterator[LoadedTemplate]:
    yield from build_loaded_template(pg_server_url, template_database, tmp_path_factory.mktemp("blocking"))


@pytest.fixture
def loaded(pg_server_url: str, loaded_template: LoadedTemplate, tmp_path, instance) -> Iterator[Loaded]:
    yield from copy_loaded(pg_server_url, loaded_template, tmp_path, instance)


def materialized(result: dg.ExecuteInProcessResult) -> set[str]:
    return {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}


def meta(evaluation: dg.AssetCheckEvaluation) -> dict:
    return {k: v.value for k, v in evaluation.metadata.items()}


def test_a_files_run_checks_its_files_only(loaded: Loaded):
    db = loaded.db
    broken = db.execute(
        "SELECT transaction_id FROM warehouse.fact_sales WHERE source_file = %s ORDER BY 1 OFFSET 3 LIMIT 1", (FILE_B,)
    ).fetchone()[0]
    # The unit price only: the customer's totals (shared with file A's customers) stay right.
    db.execute("UPDATE warehouse.fact_sales SET unit_price = unit_price + 1 WHERE transaction_id = %s", (broken,))
    facts_a = db.execute("SELECT count(*) FROM warehouse.fact_sales WHERE source_file = %s", (FILE_A,)).fetchone()[0]

    # File A's run (a reload) does not look at file B's rows: its checks pass, scoped to A.
    run_a = load_file(loaded.defs, loaded.instance, FILE_A)
    assert run_a.success, step_failures(run_a)
    in_run = check_results(run_a)
    for evaluation in in_run.values():
        assert evaluation.passed, meta(evaluation)
        assert meta(evaluation)["scope"] == "1 file(s) of this run: a.csv"
    for name in ("fact_sales_no_orphans", "fact_sales_amounts_valid", "fact_sales_dates_consistent"):
        assert meta(in_run[name])["facts_checked"] == facts_a
    assert meta(in_run["sales_file_reconciles"])["files_checked"] == 1
    assert "vw_product_sales_summary" in materialized(run_a)

    # The whole-warehouse run does.
    evaluation = run_checks(loaded.defs, loaded.instance)["fact_sales_amounts_valid"]
    assert not evaluation.passed and meta(evaluation)["scope"] == "whole warehouse"
    assert meta(evaluation)["examples"] == [broken]


def test_a_failing_product_check_blocks_the_product_views(loaded: Loaded):
    clean_run = refresh_products(loaded.defs, loaded.instance)
    assert clean_run.success
    assert materialized(clean_run) == {"raw_products", "dim_product", *PRODUCT_VIEWS}

    # A product (not inferred, not in the API's list, so the refresh leaves it alone) priced 0.
    loaded.db.execute(
        "INSERT INTO warehouse.dim_product (product_id, product_name, category, unit_price, is_inferred)"
        " VALUES (999, 'Free lunch', 'electronics', 0, false)"
    )
    blocked = refresh_products(loaded.defs, loaded.instance)
    evaluation = check_results(blocked)["dim_product_prices_positive"]
    assert not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR
    assert meta(evaluation)["examples"] == ["999"]
    assert not blocked.success
    assert set(step_failures(blocked)) == {"product_checks"}
    assert materialized(blocked) == {"raw_products", "dim_product"}


def test_a_failing_dimension_check_fails_the_run_and_keeps_the_views_from_refreshing(loaded: Loaded):
    db = loaded.db
    assert materialized(loaded.runs["sales"]) >= {"dim_customer", "agg_sales_daily", "vw_customer_lifetime_value"}
    # A trigger corrupts one customer as the reload of file B writes it: the load cannot repair
    # it, and the run's own checks must catch it.
    victim = db.execute(
        "SELECT customer_id FROM warehouse.customer_file_stats WHERE source_file = %s ORDER BY 1 LIMIT 1", (FILE_B,)
    ).fetchone()[0]
    corrupt_on_write(
        db,
        "corrupt_ltv",
        "warehouse.dim_customer",
        "lifetime_value := NEW.lifetime_value + 1",
        f"NEW.customer_id = '{victim}'",
        events="INSERT OR UPDATE",
    )
    blocked = load_file(loaded.defs, loaded.instance, FILE_B)
    evaluation = check_results(blocked)["dim_customer_matches_facts"]
    assert not evaluation.passed and meta(evaluation)["examples"] == [victim]
    assert meta(evaluation)["scope"] == "1 file(s) of this run: b.csv"
    assert not blocked.success
    assert set(step_failures(blocked)) == {"sales_checks"}
    # The file itself loaded (its transaction committed); the views were not refreshed over it.
    assert materialized(blocked) == {
        "raw_sales",
        "fact_sales",
        "dim_customer",
        "dim_date",
        "agg_sales_daily",
        "agg_customers_daily",
        "agg_customers_monthly",
        "agg_cohorts_monthly",
    }

    # Without the trigger, the reload repairs the customer and the run goes through.
    db.execute("DROP TRIGGER corrupt_ltv ON warehouse.dim_customer")
    repaired = load_file(loaded.defs, loaded.instance, FILE_B)
    assert repaired.success, step_failures(repaired)
    assert all(e.passed for e in check_results(repaired).values())
    assert "vw_customer_lifetime_value" in materialized(repaired)


def test_a_files_customer_sums_that_disagree_with_its_facts_fail_the_runs_customer_check(loaded: Loaded):
    db = loaded.db
    # Over a run's files the customer check reads the files' per-customer sums, not every fact of
    # their customers: a sum written wrong must fail it even where dim_customer agrees with it.
    victim = db.execute(
        "SELECT customer_id FROM warehouse.customer_file_stats WHERE source_file = %s ORDER BY 1 OFFSET 2 LIMIT 1",
        (FILE_B,),
    ).fetchone()[0]
    corrupt_on_write(
        db,
        "corrupt_file_sum",
        "warehouse.customer_file_stats",
        "total_amount := NEW.total_amount + 0.01",
        f"NEW.customer_id = '{victim}' AND NEW.source_file = '{FILE_B}'",
    )
    blocked = load_file(loaded.defs, loaded.instance, FILE_B)  # a reload: its customers are folded again
    evaluation = check_results(blocked)["dim_customer_matches_facts"]
    assert not evaluation.passed and meta(evaluation)["examples"] == [victim]
    assert meta(evaluation)["lifetime_value_mismatch"] == 1
    assert meta(evaluation)["total_orders_mismatch"] == meta(evaluation)["purchase_dates_mismatch"] == 0
    assert not blocked.success
    # dim_customer was folded from the wrong sum: re-derived from every fact, it is off by a cent.
    (ltv_off,) = db.execute(
        "SELECT d.lifetime_value - (SELECT sum(CASE WHEN f.transaction_type = 'return' THEN -f.total_amount"
        " ELSE f.total_amount END) FROM warehouse.fact_sales f WHERE f.customer_id = d.customer_id)"
        " FROM warehouse.dim_customer d WHERE d.customer_id = %s",
        (victim,),
    ).fetchone()
    assert ltv_off == Decimal("0.01")
    whole = run_checks(loaded.defs, loaded.instance)["dim_customer_matches_facts"]
    assert not whole.passed and meta(whole)["examples"] == [victim]


def test_a_failing_fact_check_fails_the_run(loaded: Loaded):
    db = loaded.db
    victim = db.execute(
        "SELECT transaction_id FROM warehouse.fact_sales WHERE source_file = %s ORDER BY 1 OFFSET 5 LIMIT 1", (FILE_B,)
    ).fetchone()[0]
    corrupt_on_write(db, "corrupt_total", "warehouse.fact_sales", "quantity := 0", f"NEW.transaction_id = '{victim}'")
    failed = load_file(loaded.defs, loaded.instance, FILE_B)
    evaluation = check_results(failed)["fact_sales_amounts_valid"]
    assert not evaluation.passed and meta(evaluation)["examples"] == [victim]
    assert not failed.success and "sales_checks" in step_failures(failed)


def test_the_nightly_schedule_checks_the_whole_warehouse_and_catches_changes_made_outside(loaded: Loaded):
    import datetime as dt

    from warehouse_assets.defs.build import build_definitions

    defs = build_definitions(loaded.settings.replace(checks_cron="15 2 * * *"))
    schedule = defs.resolve_schedule_def("warehouse_checks_schedule")
    assert (schedule.job_name, schedule.cron_schedule) == ("warehouse_checks_job", "15 2 * * *")
    context = dg.build_schedule_context(
        instance=loaded.instance, scheduled_execution_time=dt.datetime(2025, 3, 3, 2, 15, tzinfo=dt.UTC)
    )
    (request,) = schedule.evaluate_tick(context).run_requests
    assert request.tags["dagster/schedule_name"] == "warehouse_checks_schedule"

    # Someone edits a fact of the first file by hand, long after it was loaded.
    loaded.db.execute(
        "UPDATE warehouse.fact_sales SET total_amount = total_amount + 1 "
        "WHERE transaction_id = (SELECT min(transaction_id) FROM warehouse.fact_sales WHERE source_file = %s)",
        (FILE_A,),
    )
    result = defs.resolve_job_def(schedule.job_name).execute_in_process(
        instance=loaded.instance, tags=request.tags, raise_on_error=False
    )
    evaluations = check_results(result)
    assert not result.success
    assert evaluations["fact_sales_amounts_valid"].passed is False
    assert meta(evaluations["fact_sales_amounts_valid"])["scope"] == "whole warehouse"
    assert evaluations["dim_product_prices_positive"].passed is True
