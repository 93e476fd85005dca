"""`build_definitions(settings)`: Dagster loads the project, two settings objects give two
independent sets of definitions, nothing reads the environment at import time, and Dagster's
own runs and event logs are stored in PostgreSQL."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
import yaml

from warehouse_assets.cli.environment import instance_config
from warehouse_assets.core.urls import dagster_storage_url
from warehouse_assets.defs.build import build_definitions
from warehouse_assets_tests.support.databases import connect
from warehouse_assets_tests.support.jobs import refresh_products, step_failures
from warehouse_assets_tests.support.paths import HEADER, PROJECT_DIR

BIN = Path(sys.executable).parent


def run_tool(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(argv, cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_dagster_and_dg_load_the_project_without_a_warning(warehouse_url, tmp_path):
    (tmp_path / "dagster.yaml").write_text(instance_config(PROJECT_DIR))
    env = {
        **os.environ,
        "WAREHOUSE_DATABASE_URL": warehouse_url,
        "DAGSTER_PG_URL": dagster_storage_url(warehouse_url),
        "DAGSTER_HOME": str(tmp_path),
        "VIRTUAL_ENV": sys.prefix,
    }
    validate = run_tool([str(BIN / "dagster"), "definitions", "validate", "-m", "warehouse_assets.definitions"], env)
    assert validate.returncode == 0, validate.stdout + validate.stderr
    assert "all code locations passed validation" in (validate.stdout + validate.stderr).lower()
    check = run_tool([str(BIN / "dg"), "check", "defs", "--use-active-venv"], env)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "warning" not in (check.stdout + check.stderr).lower(), check.stdout + check.stderr


@pytest.mark.slow
def test_dagster_and_dg_validate_a_bare_checkout_without_any_setting():
    # No DAGSTER_HOME and no database: Dagster's tools read the repository's dagster.yaml from the
    # working directory and run on a temporary instance.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DAGSTER_", "WAREHOUSE_", "FAKESTORE_"))}
    env["VIRTUAL_ENV"] = sys.prefix
    validate = run_tool([str(BIN / "dagster"), "definitions", "validate", "-m", "warehouse_assets.definitions"], env)
    assert validate.returncode == 0, validate.stdout + validate.stderr
    check = run_tool([str(BIN / "dg"), "check", "defs", "--use-active-venv"], env)
    assert check.returncode == 0, check.stdout + check.stderr


def test_two_settings_objects_give_two_independent_definitions(settings, tmp_path, instance):
    other_landing = tmp_path / "other-landing"
    other_landing.mkdir()
    (other_landing / "only-here.csv").write_text(HEADER + "\n")
    first = build_definitions(
        settings.replace(products_cron="0 6 * * *", products_max_age_hours=24.0, sales_max_silence_days=3.0)
    )
    second = build_definitions(
        settings.replace(
            landing_dir=other_landing,
            products_cron="*/30 * * * *",
            schedule_timezone="Europe/Berlin",
            products_max_age_hours=2.0,
            sales_max_silence_days=1.0,
        )
    )
    schedules = [d.resolve_schedule_def("products_refresh_schedule") for d in (first, second)]
    assert [(s.cron_schedule, s.execution_timezone) for s in schedules] == [
        ("0 6 * * *", "UTC"),
        ("*/30 * * * *", "Europe/Berlin"),
    ]

    def fail_window(defs: dg.Definitions, asset: str) -> dt.timedelta:
        spec = next(s for s in defs.resolve_all_asset_specs() if s.key == dg.AssetKey(asset))
        return spec.freshness_policy.fail_window.to_timedelta()

    assert [fail_window(d, "dim_product") for d in (first, second)] == [dt.timedelta(hours=24), dt.timedelta(hours=2)]
    assert [fail_window(d, "fact_sales") for d in (first, second)] == [dt.timedelta(days=3), dt.timedelta(days=1)]

    from warehouse_assets_tests.defs.test_sensors import added, tick

    assert added(tick(first, instance, settings)) == []  # the test's own landing folder is empty
    assert added(tick(second, instance, settings)) == ["only-here.csv"]


def test_nothing_reads_the_environment_when_the_module_is_imported(tmp_path):
    """A bad value fails when Dagster builds the definitions, naming the variable, not on import."""
    env = {**os.environ, "WAREHOUSE_MAX_FILES_PER_RUN": "many", "DAGSTER_HOME": str(tmp_path)}
    script = (
        "import warehouse_assets.definitions as m\n"
        "from warehouse_assets.core.settings import SettingsError\n"
        "print('imported')\n"
        "try:\n    m.defs()\nexcept SettingsError as e:\n    print('refused:', e)\n"
    )
    proc = run_tool([sys.executable, "-c", script], env)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "imported"
    assert lines[1].startswith("refused:") and "WAREHOUSE_MAX_FILES_PER_RUN" in lines[1] and "many" in lines[1]


def test_runs_and_event_logs_land_in_postgres(tmp_path, warehouse_url, defs, monkeypatch):
    """The repository's dagster.yaml, with DAGSTER_PG_URL, stores runs in PostgreSQL, not SQLite."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(instance_config(PROJECT_DIR))
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("DAGSTER_PG_URL", dagster_storage_url(warehouse_url))
    config = yaml.safe_load(instance_config(PROJECT_DIR))
    assert config["storage"]["postgres"]["postgres_url"] == {"env": "DAGSTER_PG_URL"}
    with dg.DagsterInstance.get() as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        result = refresh_products(defs, instance)
        assert result.success, step_failures(result)
        run_id = result.run_id
    assert not list(home.rglob("*.db")), "nothing may be stored in SQLite"
    with connect(warehouse_url) as conn:
        assert conn.execute("SELECT status FROM runs WHERE run_id = %s", (run_id,)).fetchone() == ("SUCCESS",)
        materialized = conn.execute(
            "SELECT count(*) FROM event_logs WHERE run_id = %s AND dagster_event_type = 'ASSET_MATERIALIZATION'",
            (run_id,),
        ).fetchone()[0]
        assert materialized >= 2  # raw_products and dim_product at least
