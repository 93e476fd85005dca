"""The asset checks, each shown to pass on clean data and to fail on data broken on purpose.

A clean warehouse is arranged through the real jobs: the products snapshot (products_job), then
two generated sales files with bad rows (quarantined) and a few unknown products (inferred
members of dim_product), each loaded by sales_file_job. Every integrity check passes on it, over
the whole warehouse (warehouse_checks_job) and inside each file's run. It is arranged once per
module; each test gets its own database as a copy of it (CREATE DATABASE ... TEMPLATE), with a
Dagster instance of its own and the sales files in its own landing folder.

Then each test breaks the data with direct SQL on its own database, and asserts that the check
catches exactly what was broken: its counters (the number of rows the test broke, never a number
taken from the code under test), its examples, passed=False and ERROR severity. Beyond that:

* scope: inside a file's run a fact check looks at that file only, and says so in its metadata;
  a broken row in another file fails the whole-warehouse run but not that file's run;
* blocking: a failing integrity check stops the assets downstream of the checked asset in that
  run (the views are not refreshed over bad data), on dim_product (a product with price 0) and
  on fact_sales (a trigger that corrupts one fact as the load inserts it);
* freshness: the WARN last-update checks on dim_product and raw_sales pass right after a load
  and fail, with WARN (blocking nothing), when the last update is older than the configured age.
  An old update is reported as a materialization whose `dagster/last_updated_timestamp` is in
  the past (Dagster's own way to say when an asset was last updated). The age settings are read
  when the code location loads, so the test of WAREHOUSE_PRODUCTS_MAX_AGE_HOURS=1 runs in a
  subprocess.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import psycopg
import pytest

from warehouse_assets import settings
from warehouse_assets.checks import freshness_checks
from warehouse_assets.resources.postgres import replace_database
from warehouse_assets.sample_data import GeneratedSales, SalesSpec, generate_sales, write_products
from warehouse_assets_tests.conftest import create_database, drop_database
from warehouse_assets_tests.helpers import (
    definitions,
    load_sales_file,
    refresh_products,
    run_checks,
    step_failures,
)

INTEGRITY_CHECKS = {
    "fact_sales_no_orphans",
    "fact_sales_amounts_valid",
    "fact_sales_dates_consistent",
    "sales_file_reconciles",
    "dim_customer_matches_facts",
    "dim_date_covers_facts",
    "dim_product_prices_positive",
}
# The failure counters of each check (all zero on clean data).
COUNTERS = {
    "fact_sales_no_orphans": ("orphan_product", "orphan_customer", "orphan_date"),
    "fact_sales_amounts_valid": ("negative_amount", "non_positive_quantity", "total_mismatch"),
    "fact_sales_dates_consistent": ("date_key_mismatch", "in_future"),
    "sales_file_reconciles": ("files_not_reconciling", "unaccounted_rows"),
    "dim_customer_matches_facts": (
        "lifetime_value_mismatch",
        "total_orders_mismatch",
        "purchase_dates_mismatch",
        "first_after_last",
        "customers_without_facts",
    ),
    "dim_date_covers_facts": ("gaps", "fact_days_missing", "key_mismatch"),
    "dim_product_prices_positive": ("non_positive_price",),
}
# Checks that run in a sales file's run (dim_product is not downstream of a sales file).
FILE_RUN_CHECKS = INTEGRITY_CHECKS - {"dim_product_prices_positive"}

FILE_A, FILE_B = "a.csv", "b.csv"
SPEC_A = SalesSpec(rows=3000, customers=300, bad_share=0.03, unknown_product_share=0.01, seed=11, id_prefix="A")
SPEC_B = SalesSpec(
    rows=2000,
    customers=300,
    bad_share=0.03,
    unknown_product_share=0.01,
    seed=12,
    id_prefix="B",
    start=dt.date(2024, 6, 1),
    end=dt.date(2025, 3, 31),
)

FACT_COLUMNS = (
    "transaction_id",
    "date_key",
    "customer_id",
    "product_id",
    "transaction_ts",
    "quantity",
    "unit_price",
    "total_amount",
    "payment_method",
    "source_file",
    "source_line",
)


# --- Helpers ----------------------------------------------------------------------------------


def meta(evaluation: dg.AssetCheckEvaluation) -> dict:
    return {k: v.value for k, v in evaluation.metadata.items()}


def counters(evaluation: dg.AssetCheckEvaluation) -> dict[str, int]:
    values = meta(evaluation)
    return {k: values[k] for k in COUNTERS[evaluation.check_name]}


def clean(check_name: str, **nonzero: int) -> dict[str, int]:
    """The counters of a check: zero except those named."""
    return {k: nonzero.get(k, 0) for k in COUNTERS[check_name]}


def assert_failed(evaluation: dg.AssetCheckEvaluation) -> None:
    assert evaluation.passed is False
    assert evaluation.severity == dg.AssetCheckSeverity.ERROR


def assert_passed(evaluation: dg.AssetCheckEvaluation) -> None:
    assert evaluation.passed is True, meta(evaluation)
    assert counters(evaluation) == clean(evaluation.check_name), meta(evaluation)
    assert meta(evaluation)["examples"] == []


def integrity_results(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    return {e.check_name: e for e in result.get_asset_check_evaluations() if e.check_name in INTEGRITY_CHECKS}


def freshness_results(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    """The freshness evaluations of a run, by asset (both checks are named freshness_check)."""
    keys = {k for c in freshness_checks for k in c.check_keys}
    return {
        e.asset_key.to_user_string(): e
        for e in result.get_asset_check_evaluations()
        if dg.AssetCheckKey(e.asset_key, e.check_name) in keys
    }


def run_freshness_checks(defs: dg.Definitions, instance: dg.DagsterInstance) -> dict[str, dg.AssetCheckEvaluation]:
    """Run warehouse_checks_job (as `warehouse check` does) on clean data; its freshness
    evaluations, by asset. A stale asset only warns: the run still succeeds."""
    result = defs.resolve_job_def("warehouse_checks_job").execute_in_process(instance=instance, raise_on_error=False)
    assert result.success, step_failures(result)
    evaluations = freshness_results(result)
    assert set(evaluations) == {"dim_product", "raw_sales"}
    return evaluations


def materialized(result: dg.ExecuteInProcessResult) -> set[str]:
    return {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}


def report_update(instance: dg.DagsterInstance, asset: str, hours_ago: float, partition: str | None = None) -> None:
    """Record that `asset` was last updated `hours_ago` hours ago."""
    instance.report_runless_asset_event(
        dg.AssetMaterialization(
            asset_key=asset,
            partition=partition,
            metadata={"dagster/last_updated_timestamp": dg.MetadataValue.timestamp(time.time() - hours_ago * 3600)},
        )
    )


def insert_fact(db: psycopg.Connection, transaction_id: str, **values) -> str:
    """Insert a fact directly, copied from the first fact of file A with `values` changed.

    Its source_file is 'manual.csv' (no ledger row) unless given, so that it does not disturb the
    reconciliation of the loaded files."""
    base = db.execute(
        f"SELECT {', '.join(FACT_COLUMNS)} FROM warehouse.fact_sales WHERE source_file = %s"
        " ORDER BY transaction_id LIMIT 1",
        (FILE_A,),
    ).fetchone()
    row = dict(zip(FACT_COLUMNS, base)) | {"transaction_id": transaction_id, "source_file": "manual.csv"} | values
    db.execute(
        f"INSERT INTO warehouse.fact_sales ({', '.join(row)}) VALUES ({', '.join(['%s'] * len(row))})",
        tuple(row.values()),
    )
    return transaction_id


def facts_of(db: psycopg.Connection, source_file: str, n: int, offset: int = 0) -> list[str]:
    """n transaction ids of a file (deterministic)."""
    rows = db.execute(
        "SELECT transaction_id FROM warehouse.fact_sales WHERE source_file = %s ORDER BY transaction_id"
        " LIMIT %s OFFSET %s",
        (source_file, n, offset),
    ).fetchall()
    assert len(rows) == n
    return [r[0] for r in rows]


def scalar(db: psycopg.Connection, query: str, params=()):
    return db.execute(query, params).fetchone()[0]


# --- The clean warehouse ----------------------------------------------------------------------


@dataclass
class LoadedTemplate:
    database: str
    landing: Path
    files: dict[str, GeneratedSales]
    runs: dict[str, dg.ExecuteInProcessResult]  # the load run of each file, and "products"


@pytest.fixture(scope="module")
def loaded_template(pg_server_url: str, template_database: str, tmp_path_factory) -> LoadedTemplate:
    """The clean warehouse, arranged once for the module through the real jobs: products, then
    files A and B (bad rows and unknown products included). Tests get copies of it."""
    folder = tmp_path_factory.mktemp("loaded")
    landing = folder / "landing"
    landing.mkdir()
    name = create_database(pg_server_url, template_database)
    url = replace_database(pg_server_url, name)
    with pytest.MonkeyPatch.context() as env, dg.instance_for_test() as instance:
        env.setenv("WAREHOUSE_DATABASE_URL", url)
        env.setenv("WAREHOUSE_LANDING_DIR", str(landing))
        env.setenv("WAREHOUSE_LAYOUTS_DIR", str(folder / "layouts"))
        env.setenv("FAKESTORE_BASE_URL", str(write_products(folder / "products.json")))
        defs = definitions(url)
        runs = {"products": refresh_products(defs, instance, raise_on_error=True)}
        files = {FILE_A: generate_sales(landing / FILE_A, SPEC_A), FILE_B: generate_sales(landing / FILE_B, SPEC_B)}
        for key in files:
            runs[key] = load_sales_file(defs, instance, key, raise_on_error=True)
    yield LoadedTemplate(name, landing, files, runs)
    drop_database(pg_server_url, name)


@pytest.fixture
def warehouse_url(pg_server_url: str, loaded_template: LoadedTemplate, monkeypatch):
    """Here a test's own database is a copy of the loaded warehouse (not an empty schema)."""
    name = create_database(pg_server_url, loaded_template.database)
    url = replace_database(pg_server_url, name)
    monkeypatch.setenv("WAREHOUSE_DATABASE_URL", url)
    yield url
    drop_database(pg_server_url, name)


@dataclass
class Loaded:
    defs: dg.Definitions
    instance: dg.DagsterInstance
    db: psycopg.Connection
    landing: Path
    files: dict[str, GeneratedSales]
    runs: dict[str, dg.ExecuteInProcessResult]  # the arrangement's runs (another instance)

    def checks(self) -> dict[str, dg.AssetCheckEvaluation]:
        """The integrity checks over the whole warehouse (warehouse_checks_job), by name."""
        evaluations = run_checks(self.defs, self.instance)
        assert set(evaluations) >= INTEGRITY_CHECKS
        return {name: evaluations[name] for name in INTEGRITY_CHECKS}

    def load(self, key: str) -> dg.ExecuteInProcessResult:
        return load_sales_file(self.defs, self.instance, key)


@pytest.fixture
def loaded(loaded_template: LoadedTemplate, products_snapshot, defs, instance, landing, db) -> Loaded:
    """The test's copy of the clean warehouse, with the sales files in its landing folder."""
    for key in loaded_template.files:
        shutil.copy(loaded_template.landing / key, landing / key)
    return Loaded(defs, instance, db, landing, loaded_template.files, loaded_template.runs)


def test_clean_warehouse_passes_every_check(loaded: Loaded):
    db = loaded.db
    # The arrangement is what it claims: bad rows quarantined, unknown products inferred.
    for key, generated in loaded.files.items():
        assert generated.planted
        assert scalar(db, "SELECT count(*) FROM warehouse.rejected_sales WHERE source_file = %s", (key,)) > 0
    assert scalar(db, "SELECT count(*) FROM warehouse.dim_product WHERE is_inferred AND unit_price IS NULL") > 0
    facts = scalar(db, "SELECT count(*) FROM warehouse.fact_sales")
    facts_a = scalar(db, "SELECT count(*) FROM warehouse.fact_sales WHERE source_file = %s", (FILE_A,))

    # Over the whole warehouse.
    evaluations = loaded.checks()
    for evaluation in evaluations.values():
        assert_passed(evaluation)
        assert evaluation.severity == dg.AssetCheckSeverity.ERROR
    assert meta(evaluations["fact_sales_no_orphans"])["scope"] == "whole warehouse"
    assert meta(evaluations["fact_sales_no_orphans"])["facts_checked"] == facts
    reconciles = meta(evaluations["sales_file_reconciles"])
    assert reconciles["scope"] == "every loaded file"
    assert reconciles["files_checked"] == 2
    assert reconciles["rows_read"] == SPEC_A.rows + SPEC_B.rows

    # Inside each file's run, over that file.
    for key in loaded.files:
        in_run = integrity_results(loaded.runs[key])
        assert set(in_run) == FILE_RUN_CHECKS
        for evaluation in in_run.values():
            assert_passed(evaluation)
            assert meta(evaluation)["scope"] == f"file {key}"
    assert meta(integrity_results(loaded.runs[FILE_A])["fact_sales_amounts_valid"])["facts_checked"] == facts_a
    assert meta(integrity_results(loaded.runs[FILE_A])["sales_file_reconciles"])["rows_read"] == SPEC_A.rows
    assert integrity_results(loaded.runs["products"])["dim_product_prices_positive"].passed


# --- One test per integrity check -------------------------------------------------------------


def test_fact_sales_no_orphans(loaded: Loaded):
    db = loaded.db
    assert_passed(loaded.checks()["fact_sales_no_orphans"])
    name = "fact_sales_no_orphans"

    # Each dimension separately: one fact pointing at a member that does not exist.
    cases = {
        "orphan_customer": {"customer_id": "C-NOBODY"},
        "orphan_product": {"product_id": 99_999},
        # A day before the first day of dim_date (so no gap), with a consistent date_key.
        "orphan_date": {"transaction_ts": dt.datetime(2023, 6, 15, 12, tzinfo=dt.UTC), "date_key": 20230615},
    }
    for counter, values in cases.items():
        tid = insert_fact(db, f"X-{counter}", **values)
        evaluation = loaded.checks()[name]
        assert_failed(evaluation)
        assert counters(evaluation) == clean(name, **{counter: 1})
        assert meta(evaluation)["examples"] == [tid]
        db.execute("DELETE FROM warehouse.fact_sales WHERE transaction_id = %s", (tid,))

    assert_passed(loaded.checks()[name])


def test_fact_sales_amounts_valid(loaded: Loaded):
    db = loaded.db
    name = "fact_sales_amounts_valid"
    assert_passed(loaded.checks()[name])

    wrong_total, negative, zero_qty, one_cent = facts_of(db, FILE_A, 4)
    db.execute(
        "UPDATE warehouse.fact_sales SET total_amount = total_amount + 1.00 WHERE transaction_id = %s", (wrong_total,)
    )
    # Negative price, total still quantity * price: only negative_amount.
    db.execute(
        "UPDATE warehouse.fact_sales SET unit_price = -unit_price, total_amount = -total_amount WHERE transaction_id = %s",
        (negative,),
    )
    db.execute("UPDATE warehouse.fact_sales SET quantity = 0, total_amount = 0 WHERE transaction_id = %s", (zero_qty,))
    # One cent off is within the tolerance the contract allows (rounding).
    db.execute(
        "UPDATE warehouse.fact_sales SET total_amount = total_amount + 0.01 WHERE transaction_id = %s", (one_cent,)
    )

    evaluation = loaded.checks()[name]
    assert_failed(evaluation)
    assert counters(evaluation) == clean(name, negative_amount=1, non_positive_quantity=1, total_mismatch=1)
    assert meta(evaluation)["examples"] == sorted([wrong_total, negative, zero_qty])

    # Two cents off is a mismatch; and examples stop at 20 (the first by transaction id).
    db.execute(
        "UPDATE warehouse.fact_sales SET total_amount = total_amount + 0.01 WHERE transaction_id = %s", (one_cent,)
    )
    many = facts_of(db, FILE_B, 25)
    db.execute(
        "UPDATE warehouse.fact_sales SET total_amount = total_amount + 5 WHERE transaction_id = ANY(%s)", (many,)
    )
    evaluation = loaded.checks()[name]
    assert counters(evaluation) == clean(name, negative_amount=1, non_positive_quantity=1, total_mismatch=1 + 1 + 25)
    assert meta(evaluation)["examples"] == sorted([wrong_total, negative, zero_qty, one_cent, *many])[:20]


def test_fact_sales_dates_consistent(loaded: Loaded):
    db = loaded.db
    name = "fact_sales_dates_consistent"
    assert_passed(loaded.checks()[name])

    # date_key one day later than the (UTC) day of the transaction; the day exists in dim_date.
    (shifted,) = facts_of(db, FILE_A, 1, offset=100)
    db.execute(
        "UPDATE warehouse.fact_sales SET date_key = to_char((transaction_ts AT TIME ZONE 'UTC')::date + 1, 'YYYYMMDD')::int"
        " WHERE transaction_id = %s",
        (shifted,),
    )
    evaluation = loaded.checks()[name]
    assert_failed(evaluation)
    assert counters(evaluation) == clean(name, date_key_mismatch=1)
    assert meta(evaluation)["examples"] == [shifted]
    assert loaded.checks()["fact_sales_no_orphans"].passed  # the shifted day is in dim_date

    # A transaction two days in the future, with its date_key consistent.
    db.execute(
        "UPDATE warehouse.fact_sales SET date_key = to_char((transaction_ts AT TIME ZONE 'UTC')::date, 'YYYYMMDD')::int"
        " WHERE transaction_id = %s",
        (shifted,),
    )
    assert_passed(loaded.checks()[name])
    (future,) = facts_of(db, FILE_B, 1, offset=100)
    db.execute(
        "UPDATE warehouse.fact_sales SET transaction_ts = now() + interval '2 days',"
        " date_key = to_char((now() + interval '2 days') AT TIME ZONE 'UTC', 'YYYYMMDD')::int"
        " WHERE transaction_id = %s",
        (future,),
    )
    evaluation = loaded.checks()[name]
    assert_failed(evaluation)
    assert counters(evaluation) == clean(name, in_future=1)
    assert meta(evaluation)["examples"] == [future]


def test_dim_date_covers_facts(loaded: Loaded):
    db = loaded.db
    name = "dim_date_covers_facts"
    assert_passed(loaded.checks()[name])

    # A day in the middle of the calendar that has facts.
    day, day_key = dt.date(2024, 6, 15), 20240615
    facts_that_day = [
        r[0]
        for r in db.execute(
            "SELECT transaction_id FROM warehouse.fact_sales WHERE date_key = %s ORDER BY transaction_id", (day_key,)
        ).fetchall()
    ]
    assert facts_that_day
    assert scalar(db, "SELECT min(full_date) < %s AND max(full_date) > %s FROM warehouse.dim_date", (day, day))
    db.execute("DELETE FROM warehouse.dim_date WHERE date_key = %s", (day_key,))

    evaluations = loaded.checks()
    evaluation = evaluations[name]
    assert_failed(evaluation)
    assert counters(evaluation) == clean(name, gaps=1, fact_days_missing=1)
    assert meta(evaluation)["examples"] == [day.isoformat(), str(day_key)]
    orphans = evaluations["fact_sales_no_orphans"]
    assert_failed(orphans)
    assert counters(orphans) == clean("fact_sales_no_orphans", orphan_date=len(facts_that_day))
    assert meta(orphans)["examples"] == facts_that_day[:20]

    # Put the day back with a wrong date_key: no gap, but the key does not match the date and
    # the facts of that day still find no day.
    db.execute("INSERT INTO warehouse.dim_date SELECT (warehouse.dim_date_row(%s)).*", (day,))
    assert_passed(loaded.checks()[name])
    db.execute("UPDATE warehouse.dim_date SET date_key = 99999999 WHERE date_key = %s", (day_key,))
    evaluation = loaded.checks()[name]
    assert_failed(evaluation)
    assert counters(evaluation) == clean(name, key_mismatch=1, fact_days_missing=1)
    assert meta(evaluation)["examples"] == [str(day_key)]


def test_sales_file_reconciles(loaded: Loaded):
    db = loaded.db
    name = "sales_file_reconciles"
    assert_passed(loaded.checks()[name])

    def ledger(key: str) -> dict:
        return {
            "source_file": key,
            "read": scalar(db, "SELECT rows_read FROM warehouse.sales_files WHERE source_file = %s", (key,)),
            "loaded": scalar(db, "SELECT count(*) FROM warehouse.fact_sales WHERE source_file = %s", (key,)),
            "quarantined": scalar(db, "SELECT count(*) FROM warehouse.rejected_sales WHERE source_file = %s", (key,)),
            "skipped": 0,
        }

    # One fact of file A lost.
    clean_a, clean_b = ledger(FILE_A), ledger(FILE_B)
    assert clean_a["read"] == SPEC_A.rows and clean_a["loaded"] + clean_a["quarantined"] == SPEC_A.rows
    (lost,) = facts_of(db, FILE_A, 1, offset=7)
    db.execute("DELETE FROM warehouse.fact_sales WHERE transaction_id = %s", (lost,))
    evaluation = loaded.checks()[name]
    assert_failed(evaluation)
    assert counters(evaluation) == clean(name, files_not_reconciling=1, unaccounted_rows=1)
    assert meta(evaluation)["examples"] == [clean_a | {"loaded": clean_a["loaded"] - 1}]

    # And the ledger of file B says 5 more lines were read than were handled.
    db.execute("UPDATE warehouse.sales_files SET rows_read = rows_read + 5 WHERE source_file = %s", (FILE_B,))
    evaluation = loaded.checks()[name]
    assert_failed(evaluation)
    assert counters(evaluation) == clean(name, files_not_reconciling=2, unaccounted_rows=1 + 5)
    assert meta(evaluation)["examples"] == [
        clean_a | {"loaded": clean_a["loaded"] - 1},
        clean_b | {"read": clean_b["read"] + 5},
    ]

    # Discrepancies in opposite directions do not cancel out: A lost a row, B has one fact too
    # many (inserted directly with source_file B). Two rows are unaccounted for, not zero.
    db.execute("UPDATE warehouse.sales_files SET rows_read = rows_read - 5 WHERE source_file = %s", (FILE_B,))
    insert_fact(db, "X-extra-in-b", source_file=FILE_B, source_line=999_999)
    evaluation = loaded.checks()[name]
    assert_failed(evaluation)
    assert counters(evaluation) == clean(name, files_not_reconciling=2, unaccounted_rows=2)
    assert meta(evaluation)["examples"] == [
        clean_a | {"loaded": clean_a["loaded"] - 1},
        clean_b | {"loaded": clean_b["loaded"] + 1},
    ]


def test_dim_customer_matches_facts(loaded: Loaded):
    db = loaded.db
    name = "dim_customer_matches_facts"
    assert_passed(loaded.checks()[name])

    ltv, dates, orders = (
        r[0]
        for r in db.execute("SELECT customer_id FROM warehouse.dim_customer ORDER BY customer_id LIMIT 3").fetchall()
    )
    db.execute(
        "UPDATE warehouse.dim_customer SET lifetime_value = lifetime_value + 0.01 WHERE customer_id = %s", (ltv,)
    )
    # first purchase after the last one: also no longer the first day of the customer's facts.
    db.execute(
        "UPDATE warehouse.dim_customer SET first_purchase_date = last_purchase_date + 1 WHERE customer_id = %s",
        (dates,),
    )
    db.execute("UPDATE warehouse.dim_customer SET total_orders = total_orders + 1 WHERE customer_id = %s", (orders,))
    evaluation = loaded.checks()[name]
    assert_failed(evaluation)
    assert counters(evaluation) == clean(
        name, lifetime_value_mismatch=1, purchase_dates_mismatch=1, first_after_last=1, total_orders_mismatch=1
    )
    assert meta(evaluation)["examples"] == sorted([ltv, dates, orders])

    # A customer with no facts at all: none of its totals or dates are those of its (no) facts.
    db.execute(
        "INSERT INTO warehouse.dim_customer (customer_id, customer_name, first_purchase_date, last_purchase_date,"
        " total_orders, total_quantity, lifetime_value) VALUES ('C-GHOST', 'Ghost', '2024-03-01', '2024-03-01', 1, 1, 10)"
    )
    evaluation = loaded.checks()[name]
    assert counters(evaluation) == clean(
        name,
        lifetime_value_mismatch=2,
        purchase_dates_mismatch=2,
        first_after_last=1,
        total_orders_mismatch=2,
        customers_without_facts=1,
    )
    assert meta(evaluation)["examples"] == sorted([ltv, dates, orders, "C-GHOST"])


def test_dim_product_prices_positive(loaded: Loaded):
    db = loaded.db
    name = "dim_product_prices_positive"
    # Inferred members (unknown products seen in sales) have no price and are not failures.
    assert scalar(db, "SELECT count(*) FROM warehouse.dim_product WHERE is_inferred AND unit_price IS NULL") > 0
    assert_passed(loaded.checks()[name])

    db.execute("UPDATE warehouse.dim_product SET unit_price = 0 WHERE product_id = 3 AND NOT is_inferred")
    evaluation = loaded.checks()[name]
    assert_failed(evaluation)
    assert counters(evaluation) == clean(name, non_positive_price=1)
    assert meta(evaluation)["examples"] == ["3"]

    db.execute("UPDATE warehouse.dim_product SET unit_price = -4.50 WHERE product_id = 12 AND NOT is_inferred")
    evaluation = loaded.checks()[name]
    assert counters(evaluation) == clean(name, non_positive_price=2)
    assert meta(evaluation)["examples"] == ["3", "12"]


# --- Scope: a file's run checks that file -------------------------------------------------------


def test_file_run_checks_only_its_file(loaded: Loaded):
    db = loaded.db
    (broken_b,) = facts_of(db, FILE_B, 1, offset=3)
    db.execute("UPDATE warehouse.fact_sales SET total_amount = total_amount + 1 WHERE transaction_id = %s", (broken_b,))
    facts_a = scalar(db, "SELECT count(*) FROM warehouse.fact_sales WHERE source_file = %s", (FILE_A,))

    # File A's run (a reload) does not look at file B's rows: its checks pass, scoped to A.
    run_a = loaded.load(FILE_A)
    assert run_a.success, step_failures(run_a)
    in_run = integrity_results(run_a)
    assert set(in_run) == FILE_RUN_CHECKS
    for evaluation in in_run.values():
        assert_passed(evaluation)
        assert meta(evaluation)["scope"] == f"file {FILE_A}"
    for check_name in ("fact_sales_no_orphans", "fact_sales_amounts_valid", "fact_sales_dates_consistent"):
        assert meta(in_run[check_name])["facts_checked"] == facts_a
    assert meta(in_run["sales_file_reconciles"])["files_checked"] == 1
    assert meta(in_run["sales_file_reconciles"])["rows_read"] == SPEC_A.rows
    assert "vw_product_sales_summary" in materialized(run_a)

    # The whole-warehouse run does.
    evaluation = loaded.checks()["fact_sales_amounts_valid"]
    assert_failed(evaluation)
    assert meta(evaluation)["scope"] == "whole warehouse"
    assert counters(evaluation) == clean("fact_sales_amounts_valid", total_mismatch=1)
    assert meta(evaluation)["examples"] == [broken_b]


# --- Blocking: a failing check stops what is downstream in that run --------------------------------

PRODUCT_VIEWS = {"vw_product_sales_summary", "product_performance", "executive_summary"}


def test_failing_product_check_blocks_the_product_views(products_snapshot, defs, instance, landing, db):
    clean_run = refresh_products(defs, instance)
    assert clean_run.success
    assert integrity_results(clean_run)["dim_product_prices_positive"].passed
    assert materialized(clean_run) == {"raw_products", "dim_product", *PRODUCT_VIEWS}

    # A product (not inferred, not in the API's list, so the refresh leaves it alone) priced 0.
    db.execute(
        "INSERT INTO warehouse.dim_product (product_id, product_name, category, unit_price, is_inferred)"
        " VALUES (999, 'Free lunch', 'electronics', 0, false)"
    )
    blocked = refresh_products(defs, instance)
    evaluation = integrity_results(blocked)["dim_product_prices_positive"]
    assert_failed(evaluation)
    assert counters(evaluation) == clean("dim_product_prices_positive", non_positive_price=1)
    assert meta(evaluation)["examples"] == ["999"]
    assert not blocked.success
    assert set(step_failures(blocked)) == {"dim_product_dim_product_prices_positive"}
    assert materialized(blocked) == {"raw_products", "dim_product"}


def test_failing_fact_check_blocks_everything_downstream_of_fact_sales(loaded: Loaded):
    db = loaded.db
    assert materialized(loaded.runs[FILE_B]) >= {
        "dim_customer",
        "dim_date",
        "agg_sales_daily",
        "vw_product_sales_summary",
    }
    assert scalar(db, "SELECT count(*) FROM warehouse.refresh_queue") == 0
    all_assets = materialized(loaded.runs[FILE_B])

    # A trigger corrupts one of file B's facts as the reload inserts it: the load cannot repair
    # it, and the file's own run must catch it.
    (victim,) = facts_of(db, FILE_B, 1, offset=5)
    db.execute(
        """
        CREATE FUNCTION public.corrupt_total() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN NEW.total_amount := NEW.total_amount + 1; RETURN NEW; END $$;
        """
    )
    db.execute(
        "CREATE TRIGGER corrupt_total BEFORE INSERT ON warehouse.fact_sales FOR EACH ROW"
        f" WHEN (NEW.transaction_id = '{victim}') EXECUTE FUNCTION public.corrupt_total()"
    )
    blocked = loaded.load(FILE_B)
    evaluation = integrity_results(blocked)["fact_sales_amounts_valid"]
    assert_failed(evaluation)
    assert meta(evaluation)["scope"] == f"file {FILE_B}"
    assert counters(evaluation) == clean("fact_sales_amounts_valid", total_mismatch=1)
    assert meta(evaluation)["examples"] == [victim]
    assert not blocked.success
    assert set(step_failures(blocked)) == {"fact_sales_fact_sales_amounts_valid"}
    # Only the load itself happened: no dimension refresh, aggregate, view or analytics.
    assert materialized(blocked) == {"raw_sales", "fact_sales"}
    # What the load queued for the aggregates and dim_customer stays queued for the next run.
    assert scalar(db, "SELECT count(*) FROM warehouse.refresh_queue") > 0

    # Without the trigger, the reload repairs the fact and the run goes through.
    db.execute("DROP TRIGGER corrupt_total ON warehouse.fact_sales")
    repaired = loaded.load(FILE_B)
    assert repaired.success, step_failures(repaired)
    assert all(e.passed for e in integrity_results(repaired).values())
    assert materialized(repaired) == all_assets
    assert scalar(db, "SELECT count(*) FROM warehouse.refresh_queue") == 0


# --- Freshness (WARN) ---------------------------------------------------------------------------


def test_freshness_checks_warn_when_stale_and_pass_after_a_load(loaded: Loaded):
    defs, instance = loaded.defs, loaded.instance
    max_age_hours = settings.get_float("WAREHOUSE_PRODUCTS_MAX_AGE_HOURS")
    max_silence_hours = settings.get_float("WAREHOUSE_SALES_MAX_SILENCE_DAYS") * 24

    # Last updated just inside the allowed age: fresh.
    report_update(instance, "dim_product", hours_ago=max_age_hours - 1)
    report_update(instance, "raw_sales", hours_ago=max_silence_hours - 1, partition=FILE_A)
    evaluations = run_freshness_checks(defs, instance)
    for evaluation in evaluations.values():
        assert evaluation.passed is True
        assert evaluation.severity == dg.AssetCheckSeverity.WARN
    assert meta(evaluations["dim_product"])["dagster/freshness_params"]["lower_bound_delta_seconds"] == pytest.approx(
        max_age_hours * 3600
    )

    # Just outside: WARN, and nothing else (the checks run succeeded, see run_freshness_checks).
    report_update(instance, "dim_product", hours_ago=max_age_hours + 1)
    report_update(instance, "raw_sales", hours_ago=max_silence_hours + 1, partition=FILE_B)
    evaluations = run_freshness_checks(defs, instance)
    for evaluation in evaluations.values():
        assert evaluation.passed is False
        assert evaluation.severity == dg.AssetCheckSeverity.WARN

    # A products refresh and a sales load pass their freshness check in their own run, and the
    # stale WARN blocked nothing in them.
    products_run = refresh_products(defs, instance)
    assert products_run.success, step_failures(products_run)
    assert freshness_results(products_run)["dim_product"].passed is True
    assert materialized(products_run) >= PRODUCT_VIEWS
    sales_run = loaded.load(FILE_A)
    assert sales_run.success, step_failures(sales_run)
    assert freshness_results(sales_run)["raw_sales"].passed is True
    assert {k: e.passed for k, e in run_freshness_checks(defs, instance).items()} == {
        "dim_product": True,
        "raw_sales": True,
    }


_MAX_AGE_SCRIPT = """
import json, os, time
import dagster as dg
from warehouse_assets.checks import freshness_checks
from warehouse_assets.definitions import build_definitions

defs = build_definitions(os.environ["WAREHOUSE_DATABASE_URL"])
keys = {k for c in freshness_checks for k in c.check_keys if k.asset_key == dg.AssetKey("dim_product")}
job = defs.resolve_implicit_global_asset_job_def().get_subset(asset_selection=set(), asset_check_selection=keys)
out = {}
for minutes_ago in (30, 120):
    with dg.instance_for_test() as instance:
        instance.report_runless_asset_event(dg.AssetMaterialization(
            asset_key="dim_product",
            metadata={"dagster/last_updated_timestamp": dg.MetadataValue.timestamp(time.time() - minutes_ago * 60)},
        ))
        (e,) = job.execute_in_process(instance=instance, raise_on_error=False).get_asset_check_evaluations()
        out[minutes_ago] = {"passed": e.passed, "severity": e.severity.value}
print("RESULT " + json.dumps(out))
"""


def test_products_max_age_setting_drives_the_freshness_check(warehouse_url, tmp_path):
    """With WAREHOUSE_PRODUCTS_MAX_AGE_HOURS=1, products updated 2 hours ago are stale (WARN),
    30 minutes ago fresh. The setting is read when the code location loads: a new process."""
    env = os.environ | {
        "WAREHOUSE_DATABASE_URL": warehouse_url,
        "WAREHOUSE_PRODUCTS_MAX_AGE_HOURS": "1",
        "DAGSTER_HOME": str(tmp_path),
        "PYTHONPATH": str(settings.PROJECT_DIR),
    }
    proc = subprocess.run(
        [sys.executable, "-c", _MAX_AGE_SCRIPT],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=settings.PROJECT_DIR,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    (line,) = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    assert json.loads(line.removeprefix("RESULT ")) == {
        "30": {"passed": True, "severity": "WARN"},
        "120": {"passed": False, "severity": "WARN"},
    }
