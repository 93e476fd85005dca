"""Many files, one run: a batch gives exactly what loading its files one by one gives, a file
that fails fails alone, and a run killed in the middle leaves whole files only."""

from __future__ import annotations

import logging
import signal

import dagster as dg
import pytest
from psycopg import sql

from warehouse_assets.cli.sample_data import SalesSpec, generate_sales
from warehouse_assets.core.progress import LoadObserver
from warehouse_assets.core.urls import replace_database
from warehouse_assets.db.connection import Database
from warehouse_assets.defs import sales
from warehouse_assets.defs.build import build_definitions
from warehouse_assets_tests.support import databases
from warehouse_assets_tests.support.data import snapshot
from warehouse_assets_tests.support.invariants import assert_consistent
from warehouse_assets_tests.support.jobs import failed_files, load_file, load_files, step_failures
from warehouse_assets_tests.support.processes import run_in_child


def generate_files(landing, count: int, rows: int = 80) -> list[str]:
    """`count` files with bad rows; every fifth shares its ids with the one before it, so that
    which file loaded first decides where a transaction lives."""
    keys = []
    for i in range(count):
        prefix = f"P{i - 1 if i % 5 == 4 else i:02d}"
        spec = SalesSpec(
            rows=rows, customers=50, bad_share=0.05, unknown_product_share=0.02, seed=100 + i, id_prefix=prefix
        )
        generate_sales(landing / f"f_{i:02d}.csv", spec, track_planted=False)
        keys.append(f"f_{i:02d}.csv")
    return keys


def run_log() -> logging.Logger:
    return logging.getLogger("test_batches")


def analytics(db) -> dict[str, list]:
    names = [
        r[0] for r in db.execute("SELECT table_name FROM information_schema.views WHERE table_schema = 'analytics'")
    ]
    return {
        n: sorted(map(repr, db.execute(sql.SQL("SELECT * FROM {}").format(sql.Identifier("analytics", n)))))
        for n in names
    }


def events(instance: dg.DagsterInstance, run_id: str) -> int:
    return len(instance.all_logs(run_id))


@pytest.fixture
def second_database(pg_server_url, template_database):
    name = databases.create_database(pg_server_url, template_database)
    yield replace_database(pg_server_url, name)
    databases.drop_database(pg_server_url, name)


@pytest.mark.slow
def test_fifty_files_in_one_run_equal_loading_them_one_by_one(settings, db, defs, instance, landing, second_database):
    keys = generate_files(landing, 50)
    (batch,) = load_files(defs, instance, keys)
    assert batch.success, step_failures(batch)

    # The same files in five one-file runs, then each of the others in a transaction of its own
    # exactly as a one-file run loads it (a run per file would cost minutes).
    one_by_one = settings.replace(database_url=second_database)
    singles = [load_file(build_definitions(one_by_one), instance, key) for key in keys[:5]]
    assert all(r.success for r in singles), [step_failures(r) for r in singles if not r.success]
    for key in keys[5:]:
        loaded, failures = sales.load_files(
            Database(second_database), one_by_one, [key], "one-by-one", LoadObserver(), run_log()
        )
        assert key in loaded and not failures

    with databases.connect(second_database) as other:
        assert snapshot(db) == snapshot(other)
        assert analytics(db) == analytics(other)
    duplicates = db.execute(
        "SELECT count(*) FROM warehouse.rejected_sales WHERE 'duplicate_transaction' = ANY(reasons)"
    )
    assert duplicates.fetchone()[0] > 100  # the comparison covers first-loaded-wins
    # The event log grows with the steps of one run and a few events per file.
    per_file = (events(instance, batch.run_id) - events(instance, singles[0].run_id)) / (len(keys) - 1)
    assert per_file <= 6, per_file


def test_a_bad_header_among_ten_fails_alone_and_the_other_nine_load(warehouse_url, db, defs, instance, landing):
    keys = generate_files(landing, 10, rows=40)
    (landing / keys[3]).write_text("order,when,amount\n1,2024-01-01,3.00\n")
    (result,) = load_files(defs, instance, keys)
    assert not result.success
    failed = failed_files(result)
    assert list(failed) == [keys[3]]
    assert keys[3] in failed[keys[3]] and "transaction_id" in failed[keys[3]]
    loaded = {r[0] for r in db.execute("SELECT DISTINCT source_file FROM warehouse.fact_sales")}
    assert loaded == set(keys) - {keys[3]}
    ledger = dict(db.execute("SELECT source_file, failure IS NOT NULL FROM warehouse.sales_files").fetchall())
    assert ledger == {k: k == keys[3] for k in keys}
    assert_consistent(warehouse_url)


def test_a_run_killed_in_the_middle_leaves_whole_files_and_the_next_load_completes(
    settings_variables, settings, warehouse_url, db, defs, instance, landing, second_database
):
    keys = generate_files(landing, 10, rows=60)
    child = run_in_child(settings_variables, keys, kill_at=(keys[5], "insert_facts"))
    assert child.wait(timeout=300) == -signal.SIGKILL, child.stdout.read()

    # The five files before the kill are loaded whole; the sixth and the rest not at all.
    assert {r[0] for r in db.execute("SELECT source_file FROM warehouse.sales_files")} == set(keys[:5])
    assert {r[0] for r in db.execute("SELECT DISTINCT source_file FROM warehouse.fact_sales")} == set(keys[:5])
    assert_consistent(warehouse_url)

    (result,) = load_files(defs, instance, keys)
    assert result.success, step_failures(result)
    reference = build_definitions(settings.replace(database_url=second_database))
    (clean,) = load_files(reference, instance, keys)
    assert clean.success, step_failures(clean)
    with databases.connect(second_database) as other:
        assert snapshot(db) == snapshot(other)


class TerminateBackendAt(LoadObserver):
    """Ends the load's server connection (as a restarted server would) just before `step` of
    the file `key`."""

    def __init__(self, url: str, key: str, step: str):
        self.url, self.key, self.step = url, key, step

    def load_step(self, key: str, step: str) -> None:
        if (key, step) == (self.key, self.step):
            with databases.connect(self.url) as admin:
                admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND application_name = 'warehouse' AND pid <> pg_backend_pid()"
                )


def test_a_lost_connection_fails_its_file_and_the_next_files_load_on_a_new_one(warehouse_url, settings, db, landing):
    keys = generate_files(landing, 4, rows=30)
    observer = TerminateBackendAt(warehouse_url, keys[1], "insert_facts")
    loaded, failures = sales.load_files(Database(warehouse_url), settings, keys, "run", observer, run_log())
    assert list(failures) == [keys[1]] and set(loaded) == {keys[0], keys[2], keys[3]}
    assert {r[0] for r in db.execute("SELECT DISTINCT source_file FROM warehouse.fact_sales")} == set(loaded)
    assert_consistent(warehouse_url)
    # The failure is the connection's, not the content's: recorded without the content's
    # fingerprint, so the sensor does not wait for the file to change before trying it again.
    failure = db.execute(
        "SELECT failed_fingerprint, failure FROM warehouse.sales_files WHERE source_file = %s", (keys[1],)
    ).fetchone()
    assert failure[0] is None and failure[1].startswith(keys[1])
