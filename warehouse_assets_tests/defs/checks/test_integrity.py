"""The integrity checks, each shown to pass on clean data and to fail on data broken on purpose.

A clean warehouse (support.warehouses: products, then two generated sales files with bad rows and
unknown products, loaded in one run) is copied for each test. Each test breaks the data with
direct SQL on its own copy and asserts that the check catches exactly what was broken: its
counters (the number of rows the test broke, never a number taken from the code under test), its
examples, passed=False and ERROR severity.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import dagster as dg
import psycopg
import pytest

from warehouse_assets.db.checks import check_rows
from warehouse_assets.db.connection import Database
from warehouse_assets_tests.support.jobs import run_checks
from warehouse_assets_tests.support.warehouses import (
    FILE_A,
    FILE_B,
    SPEC_A,
    SPEC_B,
    Loaded,
    LoadedTemplate,
    build_loaded_template,
    copy_loaded,
)

INTEGRITY_CHECKS = {
    "fact_sales_no_orphans",
    "fact_sales_amounts_valid",
    "fact_sales_dates_consistent",
    "sales_file_reconciles",
    "dim_customer_matches_facts",
    "dim_date_covers_facts",
    "daily_summaries_reconcile",
    "dim_product_prices_positive",
}
# The failure counters of each check (all zero on clean data).
COUNTERS = {
    "fact_sales_no_orphans": ("orphan_product", "orphan_customer", "orphan_date"),
    "fact_sales_amounts_valid": ("negative_amount", "non_positive_quantity", "total_mismatch"),
    "fact_sales_dates_consistent": ("date_key_mismatch", "in_future"),
    "sales_file_reconciles": ("files_not_reconciling", "unaccounted_lines", "stale_facts", "dangling_duplicates"),
    "dim_customer_matches_facts": (
        "lifetime_value_mismatch",
        "total_orders_mismatch",
        "purchase_dates_mismatch",
        "first_after_last",
        "customers_without_facts",
    ),
    "dim_date_covers_facts": ("gaps", "fact_days_missing", "key_mismatch"),
    "daily_summaries_reconcile": ("transactions_mismatch", "revenue_mismatch", "files_not_matching_ledger"),
    "dim_product_prices_positive": ("non_positive_price",),
}
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


@pytest.fixture(scope="module")
def loaded_template(pg_server_url: str, template_database: str, tmp_path_factory) -> Iterator[LoadedTemplate]:
    yield from build_loaded_template(pg_server_url, template_database, tmp_path_factory.mktemp("checks"))


@pytest.fixture
def loaded(pg_server_url: str, loaded_template: LoadedTemplate, tmp_path, instance) -> Iterator[Loaded]:
    yield from copy_loaded(pg_server_url, loaded_template, tmp_path, instance)


def checks(loaded: Loaded) -> dict[str, dg.AssetCheckEvaluation]:
    """The integrity checks over the whole warehouse (warehouse_checks_job), by name."""
    evaluations = run_checks(loaded.defs, loaded.instance)
    assert set(evaluations) >= INTEGRITY_CHECKS
    return {name: evaluations[name] for name in INTEGRITY_CHECKS}


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


def insert_fact(db: psycopg.Connection, transaction_id: str, **values) -> str:
    """Insert a fact directly, copied from the first fact of file A with `values` changed.

    Its source_file is 'manual.csv' (no ledger row) unless given, so that it does not disturb the
    reconciliation of the loaded files."""
    base = db.execute(
        f"SELECT {', '.join(FACT_COLUMNS)} FROM warehouse.fact_sales WHERE source_file = %s"
        " ORDER BY transaction_id LIMIT 1",
        (FILE_A,),
    ).fetchone()
    # A line naming no order is an order of its own: its order_id is its transaction id.
    own = {"transaction_id": transaction_id, "order_id": transaction_id, "source_file": "manual.csv"}
    row = dict(zip(FACT_COLUMNS, base)) | own | values
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


def test_clean_warehouse_passes_every_check(loaded: Loaded):
    db = loaded.db
    # The arrangement is what it claims: bad rows quarantined, unknown products inferred.
    for key, generated in loaded.files.items():
        assert generated.planted
        assert scalar(db, "SELECT count(*) FROM warehouse.rejected_sales WHERE source_file = %s", (key,)) > 0
    assert scalar(db, "SELECT count(*) FROM warehouse.dim_product WHERE is_inferred AND unit_price IS NULL") > 0
    facts = scalar(db, "SELECT count(*) FROM warehouse.fact_sales")

    evaluations = checks(loaded)
    for evaluation in evaluations.values():
        assert_passed(evaluation)
        assert evaluation.severity == dg.AssetCheckSeverity.ERROR
    assert meta(evaluations["fact_sales_no_orphans"])["scope"] == "whole warehouse"
    assert meta(evaluations["fact_sales_no_orphans"])["facts_checked"] == facts
    reconciles = meta(evaluations["sales_file_reconciles"])
    assert reconciles["scope"] == "every loaded file"
    assert reconciles["files_checked"] == 2
    assert reconciles["lines_read"] == SPEC_A.rows + SPEC_B.rows

    # Inside the run that loaded both files, over those files.
    in_run = {e.check_name: e for e in loaded.runs["sales"].get_asset_check_evaluations()}
    # Besides the integrity checks, the warning about returns (none here, so it passes).
    warning = in_run.pop("returns_match_sales")
    assert warning.passed and warning.severity == dg.AssetCheckSeverity.WARN
    assert set(in_run) == INTEGRITY_CHECKS - {"dim_product_prices_positive"}
    for evaluation in in_run.values():
        assert_passed(evaluation)
        assert meta(evaluation)["scope"] == "2 file(s) of this run: a.csv, b.csv"
    assert meta(in_run["fact_sales_amounts_valid"])["facts_checked"] == facts
    products = {e.check_name: e for e in loaded.runs["products"].get_asset_check_evaluations()}
    assert products["dim_product_prices_positive"].passed


def test_fact_sales_no_orphans(loaded: Loaded):
    db = loaded.db
    assert_passed(checks(loaded)["fact_sales_no_orphans"])
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
        evaluation = checks(loaded)[name]
        assert_failed(evaluation)
        assert counters(evaluation) == clean(name, **{counter: 1})
        assert meta(evaluation)["examples"] == [tid]
        db.execute("DELETE FROM warehouse.fact_sales WHERE transaction_id = %s", (tid,))

    assert_passed(checks(loaded)[name])


def test_fact_sales_amounts_valid(loaded: Loaded):
    db = loaded.db
    name = "fact_sales_amounts_valid"
    assert_passed(checks(loaded)[name])

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

    evaluation = checks(loaded)[name]
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
    evaluation = checks(loaded)[name]
    assert counters(evaluation) == clean(name, negative_amount=1, non_positive_quantity=1, total_mismatch=1 + 1 + 25)
    assert meta(evaluation)["examples"] == sorted([wrong_total, negative, zero_qty, one_cent, *many])[:20]


def test_fact_sales_dates_consistent(loaded: Loaded):
    db = loaded.db
    name = "fact_sales_dates_consistent"
    assert_passed(checks(loaded)[name])

    # date_key one day later than the (UTC) day of the transaction; the day exists in dim_date.
    (shifted,) = facts_of(db, FILE_A, 1, offset=100)
    db.execute(
        "UPDATE warehouse.fact_sales SET date_key = to_char((transaction_ts AT TIME ZONE 'UTC')::date + 1, 'YYYYMMDD')::int"
        " WHERE transaction_id = %s",
        (shifted,),
    )
    evaluation = checks(loaded)[name]
    assert_failed(evaluation)
    assert counters(evaluation) == clean(name, date_key_mismatch=1)
    assert meta(evaluation)["examples"] == [shifted]
    assert checks(loaded)["fact_sales_no_orphans"].passed  # the shifted day is in dim_date

    # A date_key with no day in dim_date is compared with the timestamp itself.
    db.execute("UPDATE warehouse.fact_sales SET date_key = 19990101 WHERE transaction_id = %s", (shifted,))
    evaluation = checks(loaded)[name]
    assert_failed(evaluation)
    assert counters(evaluation) == clean(name, date_key_mismatch=1)
    assert meta(evaluation)["examples"] == [shifted]

    db.execute(
        "UPDATE warehouse.fact_sales SET date_key = to_char((transaction_ts AT TIME ZONE 'UTC')::date, 'YYYYMMDD')::int"
        " WHERE transaction_id = %s",
        (shifted,),
    )
    assert_passed(checks(loaded)[name])

    # A day of dim_date whose date is not its key's says nothing about the facts of that key: they
    # are compared with their timestamps instead, and agree (the day fails dim_date's own check).
    day_key = scalar(db, "SELECT date_key FROM warehouse.fact_sales WHERE transaction_id = %s", (shifted,))
    db.execute("UPDATE warehouse.dim_date SET full_date = DATE '1990-01-01' WHERE date_key = %s", (day_key,))
    evaluations = checks(loaded)
    assert_passed(evaluations[name])
    assert counters(evaluations["dim_date_covers_facts"])["key_mismatch"] == 1
    db.execute(
        "UPDATE warehouse.dim_date SET full_date = to_date(date_key::text, 'YYYYMMDD') WHERE date_key = %s", (day_key,)
    )

    # A transaction two days in the future, with its date_key consistent.
    (future,) = facts_of(db, FILE_B, 1, offset=100)
    db.execute(
        "UPDATE warehouse.fact_sales SET transaction_ts = now() + interval '2 days',"
        " date_key = to_char((now() + interval '2 days') AT TIME ZONE 'UTC', 'YYYYMMDD')::int"
        " WHERE transaction_id = %s",
        (future,),
    )
    evaluation = checks(loaded)[name]
    assert_failed(evaluation)
    assert counters(evaluation) == clean(name, in_future=1)
    assert meta(evaluation)["examples"] == [future]


def test_dim_date_covers_facts(loaded: Loaded):
    db = loaded.db
    name = "dim_date_covers_facts"
    assert_passed(checks(loaded)[name])

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

    evaluations = checks(loaded)
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
    assert_passed(checks(loaded)[name])
    db.execute("UPDATE warehouse.dim_date SET date_key = 99999999 WHERE date_key = %s", (day_key,))
    evaluation = checks(loaded)[name]
    assert_failed(evaluation)
    assert counters(evaluation) == clean(name, key_mismatch=1, fact_days_missing=1)
    assert meta(evaluation)["examples"] == [str(day_key)]


def test_sales_file_reconciles(loaded: Loaded):
    db = loaded.db
    name = "sales_file_reconciles"
    assert_passed(checks(loaded)[name])

    def ledger(key: str) -> dict:
        return {
            "source_file": key,
            "lines_read": scalar(db, "SELECT lines_read FROM warehouse.sales_files WHERE source_file = %s", (key,)),
            "lines_loaded": scalar(db, "SELECT count(*) FROM warehouse.fact_sales WHERE source_file = %s", (key,)),
            "lines_quarantined": scalar(
                db, "SELECT count(*) FROM warehouse.rejected_sales WHERE source_file = %s", (key,)
            ),
            "lines_skipped": 0,
            "stale_facts": 0,
            "dangling_duplicates": 0,
        }

    # One fact of file A lost.
    clean_a, clean_b = ledger(FILE_A), ledger(FILE_B)
    assert (
        clean_a["lines_read"] == SPEC_A.rows and clean_a["lines_loaded"] + clean_a["lines_quarantined"] == SPEC_A.rows
    )
    (lost,) = facts_of(db, FILE_A, 1, offset=7)
    db.execute("DELETE FROM warehouse.fact_sales WHERE transaction_id = %s", (lost,))
    evaluation = checks(loaded)[name]
    assert_failed(evaluation)
    assert counters(evaluation) == clean(name, files_not_reconciling=1, unaccounted_lines=1)
    assert meta(evaluation)["examples"] == [clean_a | {"lines_loaded": clean_a["lines_loaded"] - 1}]

    # And the ledger of file B says 5 more lines were read than were handled.
    db.execute("UPDATE warehouse.sales_files SET lines_read = lines_read + 5 WHERE source_file = %s", (FILE_B,))
    evaluation = checks(loaded)[name]
    assert counters(evaluation) == clean(name, files_not_reconciling=2, unaccounted_lines=1 + 5)

    # Discrepancies in opposite directions do not cancel out: A lost a line, B has one fact too
    # many (inserted directly with source_file B). Two lines are unaccounted for, not zero.
    db.execute("UPDATE warehouse.sales_files SET lines_read = lines_read - 5 WHERE source_file = %s", (FILE_B,))
    insert_fact(db, "X-extra-in-b", source_file=FILE_B, source_line=999_999, loaded_at=dt.datetime.now(dt.UTC))
    evaluation = checks(loaded)[name]
    assert counters(evaluation) == clean(name, files_not_reconciling=2, unaccounted_lines=2)
    assert meta(evaluation)["examples"] == [
        clean_a | {"lines_loaded": clean_a["lines_loaded"] - 1},
        clean_b | {"lines_loaded": clean_b["lines_loaded"] + 1},
    ]


def test_facts_older_than_the_load_the_ledger_records_fail_reconciliation(loaded: Loaded):
    """The ledger says which version of a file is loaded: a fact from an earlier load of the same
    file (a correction that did not replace it) is stale, and the check says so."""
    db = loaded.db
    name = "sales_file_reconciles"
    (kept,) = facts_of(db, FILE_A, 1, offset=11)
    db.execute(
        "UPDATE warehouse.fact_sales SET loaded_at = loaded_at - interval '1 day' WHERE transaction_id = %s", (kept,)
    )
    evaluation = checks(loaded)[name]
    assert_failed(evaluation)
    assert counters(evaluation) == clean(name, files_not_reconciling=1, stale_facts=1)


def test_a_quarantined_duplicate_must_point_at_a_fact(loaded: Loaded):
    db = loaded.db
    name = "sales_file_reconciles"
    db.execute(
        "INSERT INTO warehouse.rejected_sales (source_file, line_number, transaction_id, reasons, raw_record)"
        " VALUES (%s, 999999, 'NO-SUCH-FACT', ARRAY['duplicate_transaction'], '{}')",
        (FILE_B,),
    )
    db.execute("UPDATE warehouse.sales_files SET lines_read = lines_read + 1 WHERE source_file = %s", (FILE_B,))
    evaluation = checks(loaded)[name]
    assert_failed(evaluation)
    assert counters(evaluation) == clean(name, files_not_reconciling=1, dangling_duplicates=1)


def test_daily_summaries_reconcile_with_the_ledger(loaded: Loaded):
    db = loaded.db
    name = "daily_summaries_reconcile"
    assert_passed(checks(loaded)[name])
    db.execute(
        "UPDATE warehouse.agg_sales_daily SET total_revenue = total_revenue + 0.01"
        " WHERE (date_key, product_id, payment_method) = (SELECT date_key, product_id, payment_method"
        " FROM warehouse.agg_sales_daily ORDER BY 1, 2, 3 LIMIT 1)"
    )
    evaluation = checks(loaded)[name]
    assert_failed(evaluation)
    assert counters(evaluation) == clean(name, revenue_mismatch=1)
    db.execute("UPDATE warehouse.sales_files SET rows_loaded = rows_loaded - 1 WHERE source_file = %s", (FILE_A,))
    evaluation = checks(loaded)[name]
    assert counters(evaluation) == clean(name, transactions_mismatch=1, revenue_mismatch=1, files_not_matching_ledger=1)
    assert meta(evaluation)["examples"] == [FILE_A]


def corrupt_customers(db: psycopg.Connection, ltv: str, dates: str, orders: str) -> None:
    """One customer's lifetime value off by a cent, one's first purchase after its last (so also
    no longer the first day of its facts), one's orders off by one."""
    db.execute(
        "UPDATE warehouse.dim_customer SET lifetime_value = lifetime_value + 0.01 WHERE customer_id = %s", (ltv,)
    )
    db.execute(
        "UPDATE warehouse.dim_customer SET first_purchase_date = last_purchase_date + 1 WHERE customer_id = %s",
        (dates,),
    )
    db.execute("UPDATE warehouse.dim_customer SET total_orders = total_orders + 1 WHERE customer_id = %s", (orders,))


def test_dim_customer_matches_facts(loaded: Loaded):
    db = loaded.db
    name = "dim_customer_matches_facts"
    assert_passed(checks(loaded)[name])

    ltv, dates, orders = (
        r[0]
        for r in db.execute("SELECT customer_id FROM warehouse.dim_customer ORDER BY customer_id LIMIT 3").fetchall()
    )
    corrupt_customers(db, ltv, dates, orders)
    evaluation = checks(loaded)[name]
    assert_failed(evaluation)
    assert counters(evaluation) == clean(
        name, lifetime_value_mismatch=1, purchase_dates_mismatch=1, first_after_last=1, total_orders_mismatch=1
    )
    assert meta(evaluation)["examples"] == sorted([ltv, dates, orders])

    # A customer with no facts at all: none of its totals or dates are those of its (no) facts.
    db.execute(
        "INSERT INTO warehouse.dim_customer (customer_id, customer_name, first_purchase_date, last_purchase_date,"
        " total_orders, total_quantity, lifetime_value, attributes_ts, attributes_file)"
        " VALUES ('C-GHOST', 'Ghost', '2024-03-01', '2024-03-01', 1, 1, 10, '2024-03-01', 'nowhere.csv')"
    )
    evaluation = checks(loaded)[name]
    assert counters(evaluation) == clean(
        name,
        lifetime_value_mismatch=2,
        purchase_dates_mismatch=2,
        first_after_last=1,
        total_orders_mismatch=2,
        customers_without_facts=1,
    )
    assert meta(evaluation)["examples"] == sorted([ltv, dates, orders, "C-GHOST"])


def test_dim_customer_matches_facts_over_a_runs_files(loaded: Loaded):
    """The run-scoped query (through the files' per-customer sums) counts what the whole one does."""
    db = loaded.db
    name = "dim_customer_matches_facts"

    def of_file_b() -> dict:
        (row,) = check_rows(Database(loaded.url), name, [FILE_B])
        return row

    customers_b = [
        r[0]
        for r in db.execute(
            "SELECT customer_id FROM warehouse.customer_file_stats WHERE source_file = %s ORDER BY 1", (FILE_B,)
        ).fetchall()
    ]
    assert {k: of_file_b()[k] for k in COUNTERS[name]} == clean(name)
    assert of_file_b()["customers_checked"] == len(customers_b)

    ltv, dates, orders, gone = customers_b[:4]
    corrupt_customers(db, ltv, dates, orders)
    db.execute("DELETE FROM warehouse.dim_customer WHERE customer_id = %s", (gone,))
    assert {k: of_file_b()[k] for k in COUNTERS[name]} == clean(
        name,
        lifetime_value_mismatch=2,
        purchase_dates_mismatch=2,
        first_after_last=1,
        total_orders_mismatch=2,
        customers_missing_in_dim=1,
    )
    assert of_file_b()["examples"] == sorted([ltv, dates, orders, gone])

    # A customer whose facts vanished, left with file B's row of sums alone: that row speaks of
    # facts the file lacks, and no other file's row says the customer has facts elsewhere.
    vanished = customers_b[4]
    db.execute("DELETE FROM warehouse.fact_sales WHERE customer_id = %s", (vanished,))
    db.execute(
        "DELETE FROM warehouse.customer_file_stats WHERE customer_id = %s AND source_file <> %s", (vanished, FILE_B)
    )
    after = of_file_b()
    assert after["customers_without_facts"] == 1 and vanished in after["examples"]
    assert after["lifetime_value_mismatch"] == 3


def test_dim_product_prices_positive(loaded: Loaded):
    db = loaded.db
    name = "dim_product_prices_positive"
    # Inferred members (unknown products seen in sales) have no price and are not failures.
    assert scalar(db, "SELECT count(*) FROM warehouse.dim_product WHERE is_inferred AND unit_price IS NULL") > 0
    assert_passed(checks(loaded)[name])

    db.execute("UPDATE warehouse.dim_product SET unit_price = 0 WHERE product_id = 3 AND NOT is_inferred")
    evaluation = checks(loaded)[name]
    assert_failed(evaluation)
    assert counters(evaluation) == clean(name, non_positive_price=1)
    assert meta(evaluation)["examples"] == ["3"]

    db.execute("UPDATE warehouse.dim_product SET unit_price = -4.50 WHERE product_id = 12 AND NOT is_inferred")
    evaluation = checks(loaded)[name]
    assert counters(evaluation) == clean(name, non_positive_price=2)
    assert meta(evaluation)["examples"] == ["3", "12"]
