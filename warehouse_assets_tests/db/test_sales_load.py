"""A file's load keeps fact_sales' statistics fit for the statements that follow it (a file that
adds a large share of the table analyzes it in its own transaction, a small file does not), and a
file at least as large as the table is loaded in bulk: the indexes it drops are built again as
the schema declares them, every derived table is what a rebuild from the facts gives, and a
failure before they are built leaves the warehouse and its indexes as they were."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from warehouse_assets.cli.sample_data import SalesSpec, generate_sales
from warehouse_assets.core.sales_reader import SalesFileReader
from warehouse_assets.db import sales_load
from warehouse_assets.db.connection import Database
from warehouse_assets.db.sales_load import ANALYZE_FROM_ROWS, BULK_STEPS, FileLoad, load_sales_file, rebuild_derived
from warehouse_assets_tests.support.data import line, snapshot, write_sales
from warehouse_assets_tests.support.invariants import assert_consistent


def _load(url: str, path: Path, step_hook=None) -> FileLoad:
    now = dt.datetime.now(dt.timezone.utc)
    reader = SalesFileReader(path, source_file=path.name, load_time=now, earliest=dt.date(2000, 1, 1))
    return load_sales_file(
        Database(url), reader, loaded_at=now, run_id="test", layout_version=None, step_hook=step_hook
    )


def _estimated_facts(db) -> int:
    return db.execute("SELECT reltuples FROM pg_class WHERE oid = 'warehouse.fact_sales'::regclass").fetchone()[0]


def test_a_large_file_analyzes_fact_sales_and_a_small_one_does_not(warehouse_url, db, tmp_path):
    large = generate_sales(
        tmp_path / "large.csv",
        SalesSpec(rows=ANALYZE_FROM_ROWS + 2_000, customers=500, bad_share=0, seed=5, id_prefix="L"),
    )
    small = generate_sales(
        tmp_path / "small.csv", SalesSpec(rows=300, customers=500, bad_share=0, seed=6, id_prefix="S")
    )
    assert _estimated_facts(db) < 0  # never analyzed

    first = _load(warehouse_url, large.path)
    assert "analyze_facts" in first.step_seconds
    assert _estimated_facts(db) == first.rows_loaded == ANALYZE_FROM_ROWS + 2_000

    second = _load(warehouse_url, small.path)
    assert second.rows_loaded == 300
    assert "analyze_facts" not in second.step_seconds
    # Its staged rows are analyzed all the same: the merge joins them with themselves.
    assert "analyze_staged" in second.step_seconds
    assert _estimated_facts(db) == first.rows_loaded


def test_a_file_a_tenth_the_size_of_fact_sales_analyzes_it_and_a_smaller_one_does_not(
    warehouse_url, db, tmp_path, monkeypatch
):
    # Small files stand in for large ones: the share is what this test is about.
    monkeypatch.setattr(sales_load, "ANALYZE_FROM_ROWS", 100)

    def sales(name: str, rows: int, seed: int) -> Path:
        spec = SalesSpec(rows=rows, customers=200, bad_share=0, seed=seed, id_prefix=name.upper())
        return generate_sales(tmp_path / f"{name}.csv", spec).path

    first = _load(warehouse_url, sales("a", 2_000, 7))
    assert "analyze_facts" in first.step_seconds
    assert _estimated_facts(db) == 2_000

    below = _load(warehouse_url, sales("b", 199, 8))  # 199 < 0.1 x 2,000
    assert "analyze_facts" not in below.step_seconds
    assert _estimated_facts(db) == 2_000

    above = _load(warehouse_url, sales("c", 250, 9))  # 250 >= 0.1 x 2,000 (the estimate, not 2,199)
    assert "analyze_facts" in above.step_seconds
    assert _estimated_facts(db) == 2_000 + 199 + 250


def _indexes(db) -> list[tuple]:
    """The indexes and constraints of the tables a bulk load rebuilds them on."""
    return db.execute(
        "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'warehouse'"
        " AND tablename IN ('fact_sales', 'agg_customers_monthly')"
        " UNION ALL SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
        " WHERE conrelid IN ('warehouse.fact_sales'::regclass, 'warehouse.agg_customers_monthly'::regclass)"
        " ORDER BY 1, 2"
    ).fetchall()


def _sales(tmp_path: Path, name: str, rows: int, seed: int) -> Path:
    """A generated file with an order column (three lines to an order) and some returns, so that
    every measure the derived tables keep moves, order openers included."""
    spec = SalesSpec(rows=rows, customers=300, bad_share=0.02, seed=seed, id_prefix=name.upper())
    path = generate_sales(tmp_path / f"{name}.csv", spec).path
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame["order_id"] = [f"{name.upper()}-O{i // 3}" for i in range(len(frame))]
    frame["transaction_type"] = ["return" if i % 17 == 5 else "sale" for i in range(len(frame))]
    frame.to_csv(path, index=False)
    return path


def test_a_file_as_large_as_fact_sales_is_loaded_in_bulk_with_the_same_result(warehouse_url, db, tmp_path, monkeypatch):
    monkeypatch.setattr(sales_load, "ANALYZE_FROM_ROWS", 100)  # small files stand in for large ones
    declared = _indexes(db)

    first = _load(warehouse_url, _sales(tmp_path, "a", 2_000, 31))  # into an empty warehouse
    assert BULK_STEPS <= set(first.step_seconds)
    assert _indexes(db) == declared
    second = _load(warehouse_url, _sales(tmp_path, "b", 1_500, 32))  # smaller than the table
    assert not BULK_STEPS & set(second.step_seconds)
    # Larger than the table again, over customers and months the warehouse knows.
    third = _load(warehouse_url, _sales(tmp_path, "c", 4_000, 33))
    assert BULK_STEPS <= set(third.step_seconds)
    assert _indexes(db) == declared

    assert_consistent(warehouse_url)
    loaded = snapshot(db)
    rebuild_derived(Database(warehouse_url))
    assert snapshot(db) == loaded


class StopBeforeIndexes(Exception):
    pass


def test_a_bulk_load_that_fails_before_its_indexes_are_built_leaves_them_and_the_warehouse(
    warehouse_url, db, tmp_path, monkeypatch
):
    monkeypatch.setattr(sales_load, "ANALYZE_FROM_ROWS", 100)
    _load(warehouse_url, _sales(tmp_path, "a", 600, 41))
    declared, before = _indexes(db), snapshot(db)

    def fail_between_drop_and_build(step: str) -> None:
        if step == "create_fact_key":
            raise StopBeforeIndexes(step)

    with pytest.raises(StopBeforeIndexes):
        _load(warehouse_url, _sales(tmp_path, "b", 1_200, 42), step_hook=fail_between_drop_and_build)
    assert _indexes(db) == declared
    assert snapshot(db) == before


def test_a_row_repeating_an_earlier_valid_rows_id_is_its_duplicate(warehouse_url, db, tmp_path):
    """The load judges repeated ids over the whole file: a repeat of a valid row is quarantined
    (beside whatever else it breaks), a repeat of a broken row is not a duplicate of it."""
    path = write_sales(
        tmp_path / "f.csv",
        line("T1", "2024-03-05", "C1", "10.00"),  # 2
        line("T1", "2024-03-06", "C2", "20.00"),  # 3 repeats line 2
        line("T2", "2024-13-45", "C3", "5.00"),  # 4 bad_date
        line("T2", "2024-03-07", "C3", "5.00"),  # 5 the first T2 that loads
        line("T1", "2024-03-08", "C4", "7.00", payment="barter"),  # 6 bad_payment_method, and repeats line 2
        line("T3", "2024-03-09", "C5", "3.00"),  # 7
        line("T3", "2024-03-09", "C5", "3.00"),  # 8 repeats line 7
    )
    result = _load(warehouse_url, path)
    assert db.execute("SELECT transaction_id, source_line FROM warehouse.fact_sales ORDER BY 1").fetchall() == [
        ("T1", 2),
        ("T2", 5),
        ("T3", 7),
    ]
    quarantine = {
        line: (reasons, raw)
        for line, reasons, raw in db.execute("SELECT line_number, reasons, raw_record FROM warehouse.rejected_sales")
    }
    assert {line: reasons for line, (reasons, _) in quarantine.items()} == {
        3: ["duplicate_transaction"],
        4: ["bad_date"],
        6: ["bad_payment_method", "duplicate_transaction"],
        8: ["duplicate_transaction"],
    }
    repeat = quarantine[3][1]
    assert (repeat["duplicate_of_line"], repeat["customer_id"], repeat["total_amount"]) == (2, "C2", 20.00)
    assert "first_loaded_from" not in repeat  # never promoted: the row it repeats is in the same file
    assert quarantine[6][1]["payment_method"] == "barter"  # a broken row keeps its text
    s = result.summary
    assert (s.rows_valid, s.rows_rejected, s.reasons["duplicate_transaction"]) == (3, 4, 3)
    assert result.rows_duplicate == 0 and result.rows_quarantined == 4
    ledger = db.execute(
        "SELECT rows_loaded, rows_rejected, rows_duplicate, rejected_detail FROM warehouse.sales_files"
    ).fetchone()
    assert ledger == (3, 4, 0, {"bad_date": 1, "bad_payment_method": 1, "duplicate_transaction": 3})
    assert db.execute("SELECT customer_id FROM warehouse.dim_customer ORDER BY 1").fetchall() == [
        ("C1",),
        ("C3",),
        ("C5",),
    ]
    assert_consistent(warehouse_url)


def test_a_generated_files_quarantine_is_what_was_planted_across_read_blocks(warehouse_url, db, tmp_path):
    generated = generate_sales(tmp_path / "gen.csv", SalesSpec(rows=30_000, customers=500, bad_share=0.05, seed=3))
    assert ("duplicate_transaction",) in set(generated.planted.values())
    now = dt.datetime.now(dt.timezone.utc)
    # Small blocks: a repeat is found whichever block its first row was read in.
    reader = SalesFileReader(
        generated.path, source_file="gen.csv", load_time=now, earliest=dt.date(2000, 1, 1), read_bytes=64 << 10
    )
    result = load_sales_file(Database(warehouse_url), reader, loaded_at=now, run_id="test", layout_version=None)
    quarantined = dict(db.execute("SELECT line_number, reasons FROM warehouse.rejected_sales").fetchall())
    assert {line: tuple(reasons) for line, reasons in quarantined.items()} == generated.planted
    assert result.rows_loaded == generated.rows - len(generated.planted)
    assert_consistent(warehouse_url)
