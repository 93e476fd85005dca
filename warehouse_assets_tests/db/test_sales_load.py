"""A file's load keeps fact_sales' statistics fit for the statements that follow it: a file that
adds a large share of the table analyzes it in its own transaction, a small file does not."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from warehouse_assets.cli.sample_data import SalesSpec, generate_sales
from warehouse_assets.core.sales_reader import SalesFileReader
from warehouse_assets.db import sales_load
from warehouse_assets.db.connection import Database
from warehouse_assets.db.sales_load import ANALYZE_FROM_ROWS, FileLoad, load_sales_file


def _load(url: str, path: Path) -> FileLoad:
    now = dt.datetime.now(dt.timezone.utc)
    reader = SalesFileReader(path, source_file=path.name, load_time=now, earliest=dt.date(2000, 1, 1))
    return load_sales_file(Database(url), reader, loaded_at=now, run_id="test", layout_version=None)


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
