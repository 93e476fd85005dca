"""Runs the CLI executes in its own process: one whose process was killed does not stay
"started" for ever; the next command marks it failed and loads what it left."""

from __future__ import annotations

import os
import signal

import dagster as dg
import pytest

from warehouse_assets.cli.main import main
from warehouse_assets.cli.sample_data import SalesSpec, generate_sales
from warehouse_assets.defs.jobs import SALES_JOB
from warehouse_assets_tests.support.processes import run_in_child

pytestmark = pytest.mark.slow


def sales_runs(instance: dg.DagsterInstance) -> dict[str, dg.DagsterRunStatus]:
    return {
        r.dagster_run.run_id: r.dagster_run.status for r in instance.get_run_records(dg.RunsFilter(job_name=SALES_JOB))
    }


def test_a_run_whose_process_was_killed_is_marked_failed_by_the_next_command(
    cli_env, settings_variables, landing, db, capfd
):
    keys = []
    for i in range(3):
        generate_sales(landing / f"k_{i}.csv", SalesSpec(rows=40, customers=9, seed=20 + i, id_prefix=f"K{i}"))
        keys.append(f"k_{i}.csv")
    # The child is a `warehouse` command of the same machine: same variables, same Dagster home.
    variables = {**settings_variables, "DAGSTER_HOME": os.environ["DAGSTER_HOME"]}
    child = run_in_child(variables, keys, kill_at=(keys[1], "insert_facts"), as_cli=True)
    assert child.wait(timeout=300) == -signal.SIGKILL, child.stdout.read()
    instance = dg.DagsterInstance.get()
    (killed,) = [run_id for run_id, status in sales_runs(instance).items() if status == dg.DagsterRunStatus.STARTED]
    capfd.readouterr()

    assert main(["load", "--skip-products"]) == 0
    out = capfd.readouterr().out
    assert f"marked 1 run(s) failed whose process had died: {killed[:8]}" in out, out
    assert sales_runs(instance)[killed] == dg.DagsterRunStatus.FAILURE
    assert {r[0] for r in db.execute("SELECT DISTINCT source_file FROM warehouse.fact_sales")} == set(keys)
    # A second command finds nothing left to mark.
    assert main(["load", "--skip-products"]) == 0
    assert "marked" not in capfd.readouterr().out
