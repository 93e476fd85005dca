"""A file's load is one transaction: a crash at any step leaves the warehouse as it was, a crash
after the commit leaves it complete, and two loads of the same file at once cannot mix versions.

Each load runs in a process of its own (support.load_child), killed with SIGKILL or held at a
named step of its transaction; the test waits for what it can observe (a marker written at the
step, a lock wait in pg_stat_activity, an exit code), never for time to pass. A failure that is
not a crash (an error raised at a named step) is injected in this process, through the load's
step hook.
"""

from __future__ import annotations

import datetime as dt
import signal
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from warehouse_assets.cli.sample_data import SalesSpec, generate_sales
from warehouse_assets.core.landing import file_sha256
from warehouse_assets.core.sales_reader import SalesFileReader
from warehouse_assets.db.connection import Database
from warehouse_assets.db.sales_load import load_sales_file
from warehouse_assets_tests.support.data import snapshot
from warehouse_assets_tests.support.invariants import assert_consistent
from warehouse_assets_tests.support.oracle import valid_rows
from warehouse_assets_tests.support.processes import load_in_child, wait_for

SPEC = SalesSpec(rows=6_000, customers=400, bad_share=0.03, seed=21, id_prefix="K")


def load_here(url: str, path: Path, key: str) -> None:
    now = dt.datetime.now(dt.timezone.utc)
    reader = SalesFileReader(path, source_file=key, load_time=now, earliest=dt.date(2000, 1, 1))
    load_sales_file(Database(url), reader, loaded_at=now, run_id="test", layout_version=None)


def correction(path: Path) -> Path:
    """Rewrite a generated file with the same rows and ids, every valid amount changed."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    ok = frame["unit_price"].str.fullmatch(r"\d+\.\d\d") & frame["quantity"].str.fullmatch(r"\d+")
    ok &= frame["total_amount"].str.fullmatch(r"\d+\.\d\d")
    unit = frame.loc[ok, "unit_price"].map(Decimal) + Decimal("1.00")
    frame.loc[ok, "unit_price"] = unit.map(str)
    frame.loc[ok, "total_amount"] = [str(u * int(q)) for u, q in zip(unit, frame.loc[ok, "quantity"])]
    frame.to_csv(path, index=False, lineterminator="\n")
    return path


def expected_revenue(path: Path) -> Decimal:
    """The file's revenue by the rules, computed independently (support.oracle)."""
    rows = valid_rows(path, path.name, dt.datetime.now(dt.timezone.utc))
    return Decimal(int(rows["total_cents"].sum())).scaleb(-2)


def revenue_of(db, key: str) -> Decimal:
    return db.execute(
        "SELECT coalesce(sum(total_amount), 0) FROM warehouse.fact_sales WHERE source_file = %s", (key,)
    ).fetchone()[0]


@pytest.mark.parametrize(
    "step", ["staged", "delete_previous_facts", "insert_facts", "sales_daily", "customers_added", "ledger", "commit"]
)
def test_a_kill_at_any_step_leaves_the_previous_version_and_the_next_load_completes(warehouse_url, db, tmp_path, step):
    path = generate_sales(tmp_path / "f.csv", SPEC).path
    load_here(warehouse_url, path, "f.csv")
    before = snapshot(db)
    correction(path)

    child = load_in_child(warehouse_url, path, "f.csv", tmp_path, kill_at=step)
    assert child.finish() == -signal.SIGKILL
    assert snapshot(db) == before

    load_here(warehouse_url, path, "f.csv")
    assert db.execute("SELECT fingerprint FROM warehouse.sales_files").fetchone()[0] == file_sha256(path)[1]
    assert revenue_of(db, "f.csv") == expected_revenue(path)
    assert_consistent(warehouse_url)


def test_a_kill_just_after_the_commit_leaves_everything_loaded_and_consistent(warehouse_url, db, tmp_path):
    path = generate_sales(tmp_path / "f.csv", SPEC).path
    child = load_in_child(warehouse_url, path, "f.csv", tmp_path, kill_at="committed")
    assert child.finish() == -signal.SIGKILL
    # Nothing is left owing: the summaries and dimensions committed with the facts.
    assert (
        db.execute("SELECT fingerprint, rows_loaded FROM warehouse.sales_files").fetchone()[0] == file_sha256(path)[1]
    )
    assert (
        db.execute("SELECT sum(transaction_count) FROM warehouse.agg_sales_daily").fetchone()[0]
        == db.execute("SELECT count(*) FROM warehouse.fact_sales").fetchone()[0]
    )
    assert_consistent(warehouse_url)


def test_two_loads_of_a_corrected_file_at_once_cannot_leave_old_facts_under_a_new_fingerprint(
    warehouse_url, db, tmp_path
):
    """The first load of the correction stages it and is held before merging; a second load of
    the same file waits for it; the first is killed: the second loads the correction whole, and
    the facts are exactly the version the ledger names."""
    path = generate_sales(tmp_path / "f.csv", SPEC).path
    load_here(warehouse_url, path, "f.csv")
    old_revenue = revenue_of(db, "f.csv")
    correction(path)

    first = load_in_child(warehouse_url, path, "f.csv", tmp_path, pause_at="lock")
    first.wait_paused()
    second = load_in_child(warehouse_url, path, "f.csv", tmp_path)

    def second_waits_for_the_file() -> bool:
        return bool(
            db.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'warehouse'"
                " AND wait_event_type = 'Lock' AND wait_event = 'advisory'"
            ).fetchone()[0]
        )

    wait_for(second_waits_for_the_file, "the second load to wait for the file's lock")
    first.process.kill()
    assert first.finish() == -signal.SIGKILL
    assert second.finish() == 0, second.output()

    assert db.execute("SELECT fingerprint FROM warehouse.sales_files").fetchone()[0] == file_sha256(path)[1]
    new_revenue = revenue_of(db, "f.csv")
    assert new_revenue != old_revenue and new_revenue == expected_revenue(path)
    facts = dict(db.execute("SELECT transaction_id, (total_amount * 100)::bigint FROM warehouse.fact_sales").fetchall())
    rows = valid_rows(path, "f.csv", dt.datetime.now(dt.timezone.utc))
    assert facts == dict(zip(rows["transaction_id"], rows["total_cents"].astype(int)))
    assert_consistent(warehouse_url)


def test_two_loads_of_the_same_file_take_turns_and_neither_fails(warehouse_url, db, tmp_path):
    path = generate_sales(tmp_path / "f.csv", SPEC).path
    first = load_in_child(warehouse_url, path, "f.csv", tmp_path, pause_at="staged")
    first.wait_paused()
    second = load_in_child(warehouse_url, path, "f.csv", tmp_path)
    wait_for(
        lambda: (
            db.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'warehouse' AND wait_event = 'advisory'"
            ).fetchone()[0]
            > 0
        ),
        "the second load to wait",
    )
    first.release()
    assert first.finish() == 0, first.output()
    assert second.finish() == 0, second.output()
    assert db.execute("SELECT count(*) FROM warehouse.sales_files").fetchone()[0] == 1
    assert_consistent(warehouse_url)


class FailAt(Exception):
    pass


def test_a_failure_in_the_first_merge_of_a_connection_leaves_it_loading_the_next_files(warehouse_url, db, tmp_path):
    """The merge's work tables are created inside the first file's transaction; when that file
    fails, they go with its rollback, and the next file on the same connection creates them again."""
    first = generate_sales(tmp_path / "a.csv", SPEC).path
    second = generate_sales(tmp_path / "b.csv", SalesSpec(rows=3_000, customers=400, seed=22, id_prefix="L")).path
    before = snapshot(db)
    database = Database(warehouse_url)

    def fail_at_touched_customers(step: str) -> None:
        if step == "touched_customers":
            raise FailAt(step)

    now = dt.datetime.now(dt.timezone.utc)

    def reader(path: Path) -> SalesFileReader:
        return SalesFileReader(path, source_file=path.name, load_time=now, earliest=dt.date(2000, 1, 1))

    with database.session() as session:
        with pytest.raises(FailAt):
            load_sales_file(
                database,
                reader(first),
                loaded_at=now,
                run_id="t",
                layout_version=None,
                session=session,
                step_hook=fail_at_touched_customers,
            )
        assert snapshot(db) == before
        for path in (second, first):
            load_sales_file(database, reader(path), loaded_at=now, run_id="t", layout_version=None, session=session)

    assert revenue_of(db, "a.csv") == expected_revenue(first)
    assert revenue_of(db, "b.csv") == expected_revenue(second)
    assert_consistent(warehouse_url)


def test_a_new_file_skips_the_steps_that_undo_a_previous_version_and_a_correction_runs_them(
    warehouse_url, db, tmp_path
):
    path = generate_sales(tmp_path / "f.csv", SPEC).path
    database = Database(warehouse_url)
    first_rows = len(valid_rows(path, "f.csv", dt.datetime.now(dt.timezone.utc)))

    def load() -> object:
        now = dt.datetime.now(dt.timezone.utc)
        reader = SalesFileReader(path, source_file="f.csv", load_time=now, earliest=dt.date(2000, 1, 1))
        return load_sales_file(database, reader, loaded_at=now, run_id="t", layout_version=None)

    new = load()
    assert "delete_previous_facts" not in new.step_seconds and new.rows_replaced == 0
    correction(path)
    corrected = load()
    assert "delete_previous_facts" in corrected.step_seconds and corrected.rows_replaced == first_rows
    assert revenue_of(db, "f.csv") == expected_revenue(path)
    assert_consistent(warehouse_url)
