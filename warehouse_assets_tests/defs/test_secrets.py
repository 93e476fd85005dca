"""No password in anything Dagster or the CLI records or prints.

A loader login with a distinctive random password is put into WAREHOUSE_DATABASE_URL, the Dagster
instance is built from the repository's dagster.yaml with its storage in PostgreSQL
(DAGSTER_PG_URL, with the same password), and the definitions are built the way the code location
builds them (from the environment, so the URL is a dg.EnvVar). After a products refresh, a sales
file load and the checks job, the password is in none of: the events of the runs, their run
config and tags, their job and execution plan snapshots, the materialization and check metadata,
any row of any table of Dagster's storage, the captured output and log records. `warehouse
db-url` and `warehouse config` mask it; `--show-password` prints it. mask_url masks every form of
password libpq accepts.
"""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

import dagster as dg
import psycopg
import pytest
from dagster._serdes import serialize_value
from psycopg import sql

from warehouse_assets.cli.environment import instance_config
from warehouse_assets.cli.main import main
from warehouse_assets.core.urls import mask_url, replace_database, with_driver
from warehouse_assets.db.migrations import apply_schema
from warehouse_assets.db.roles import LOADER_ROLE, apply_roles
from warehouse_assets.definitions import defs as code_location_defs
from warehouse_assets_tests.support.data import small_sales_file
from warehouse_assets_tests.support.databases import create_database, drop_database
from warehouse_assets_tests.support.jobs import load_file, refresh_products, run_checks
from warehouse_assets_tests.support.paths import PROJECT_DIR, SQL_DIR
from warehouse_assets_tests.support.roles import url_as

ANALYTICS_OBJECTS = frozenset(p.stem for folder in ("views", "analytics") for p in (SQL_DIR / folder).glob("*.sql"))
LOAD_ASSETS = frozenset(
    {"raw_sales", "fact_sales", "dim_customer", "dim_date", "agg_sales_daily", "agg_customers_daily"}
)


@pytest.mark.parametrize(
    "template",
    [
        "postgresql://someone:{s}@db.example:5432/warehouse",
        "postgresql+psycopg2://someone:{s}@db.example/warehouse",
        "postgresql://someone:{s}@/warehouse?host=/run/postgresql&port=5433",
        "postgresql://someone@db.example/warehouse?password={s}&sslmode=require",
        "postgresql://someone@db.example/warehouse?sslmode=require&sslpassword={s}",
        "postgresql://someone:{s}@h1:5432,h2:5432/warehouse",
        "host=db.example user=someone password={s} dbname=warehouse",
        "host=db.example password = '{s}' sslpassword={s}",
    ],
)
def test_mask_url_masks_every_password_form(template):
    secret = "pw" + secrets.token_hex(12)
    url = template.format(s=secret)
    masked = mask_url(url)
    assert secret not in masked and "***" in masked.replace("%2A", "*")
    if url.startswith("postgresql"):
        assert masked.split("://", 1)[0] == url.split("://", 1)[0]
        assert urlsplit(masked).hostname == urlsplit(url).hostname


def test_a_url_that_is_not_one_is_refused_without_its_password():
    secret = "pw" + secrets.token_hex(12)
    with pytest.raises(ValueError) as caught:
        with_driver(f"host=db.example user=someone password={secret}", "psycopg2")
    assert secret not in str(caught.value) and "password=***" in str(caught.value)


def _secret_free(secret: str, what: str, value) -> None:
    text = value if isinstance(value, str) else serialize_value(value)
    assert secret not in text, f"the password appears in {what}"


def test_no_password_in_runs_events_metadata_storage_or_cli_output(
    empty_database_url,
    pg_server_url,
    login_roles,
    landing,
    products_snapshot,
    tmp_path,
    monkeypatch,
    capfd,
    caplog,
):
    secret = "Sekr1t-" + secrets.token_hex(16)
    apply_roles(empty_database_url)
    loader = login_roles(empty_database_url, LOADER_ROLE, password=secret, run_as_group=True)
    assert f":{secret}@" in loader.url
    assert mask_url(loader.url).startswith(f"{urlsplit(loader.url).scheme}://{loader.name}:***@")
    assert secret not in mask_url(loader.url)
    apply_schema(loader.url)

    # Dagster's storage: the repository's dagster.yaml, in a database of its own, reached with a
    # URL carrying the same password (the superuser's; trust authentication ignores it).
    storage_db = create_database(pg_server_url)
    admin_user = urlsplit(pg_server_url).username or "postgres"
    storage_url = with_driver(url_as(replace_database(pg_server_url, storage_db), admin_user, secret), "psycopg2")
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(instance_config(PROJECT_DIR))
    monkeypatch.setenv("WAREHOUSE_DATABASE_URL", loader.url)
    monkeypatch.setenv("DAGSTER_PG_URL", storage_url)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("WAREHOUSE_LANDING_DIR", str(landing))
    monkeypatch.setenv("FAKESTORE_BASE_URL", str(products_snapshot))
    monkeypatch.setenv("WAREHOUSE_LAYOUTS_DIR", str(tmp_path / "layouts"))
    instance = None
    try:
        defs = code_location_defs()  # as the code location builds it, from the environment
        assert isinstance(defs.resources["warehouse"].database_url, dg.EnvVar)
        instance = dg.DagsterInstance.from_config(str(home))
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"

        refresh_products(defs, instance, raise_on_error=True)
        load_file(defs, instance, small_sales_file(landing, "sales_a.csv", seed=7, prefix="A"), raise_on_error=True)
        assert run_checks(defs, instance)

        runs = instance.get_runs()
        assert len(runs) == 3
        materializations = 0
        for run in runs:
            _secret_free(secret, f"run {run.job_name}", run)
            _secret_free(secret, f"run config of {run.job_name}", run.run_config)
            _secret_free(secret, f"tags of {run.job_name}", run.tags)
            _secret_free(
                secret,
                f"job snapshot of {run.job_name}",
                instance.get_job_snapshot(run.job_snapshot_id),
            )
            _secret_free(
                secret,
                f"execution plan of {run.job_name}",
                instance.get_execution_plan_snapshot(run.execution_plan_snapshot_id),
            )
            records = instance.get_records_for_run(run.run_id, limit=100_000).records
            entries = instance.all_logs(run.run_id)
            assert len(records) == len(entries) > 10
            for entry in entries:
                _secret_free(secret, f"an event of {run.job_name}", entry)
                _secret_free(secret, f"a message of {run.job_name}", entry.user_message)
                event = entry.dagster_event
                if event is not None and event.is_step_materialization:
                    materializations += 1
                    metadata = event.step_materialization_data.materialization.metadata
                    _secret_free(secret, f"metadata of {event.asset_key}", metadata)
                    _secret_free(
                        secret,
                        f"metadata of {event.asset_key}",
                        str({k: v.value for k, v in metadata.items()}),
                    )
        assert materializations >= len(ANALYTICS_OBJECTS) + len(LOAD_ASSETS)

        # Everything Dagster stored, read back raw from its tables.
        with psycopg.connect(replace_database(pg_server_url, storage_db), autocommit=True) as conn:
            tables = [
                r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
            ]
            assert {"runs", "event_logs", "snapshots"} <= set(tables)
            stored_rows = 0
            for table in tables:
                rows = conn.execute(sql.SQL("SELECT t::text FROM {} t").format(sql.Identifier(table))).fetchall()
                stored_rows += len(rows)
                for (row,) in rows:
                    assert secret not in row, f"the password is stored in Dagster's table {table}"
            assert stored_rows > 100

        out, err = capfd.readouterr()
        _secret_free(secret, "the output of the runs", out + err)
        _secret_free(secret, "the log records of the runs", caplog.text)

        # The CLI: masked unless asked.
        assert main(["db-url"]) == 0
        out = capfd.readouterr().out
        assert secret not in out and f"{loader.name}:***@" in out
        assert main(["db-url", "--dagster"]) == 0
        out = capfd.readouterr().out
        assert secret not in out and f"{admin_user}:***@" in out
        assert main(["config"]) == 0
        out = capfd.readouterr().out
        assert secret not in out
        lines = {line.split()[0]: line for line in out.splitlines() if line.strip()}
        assert "***" in lines["WAREHOUSE_DATABASE_URL"] and "***" in lines["DAGSTER_PG_URL"]
        assert main(["db-url", "--show-password"]) == 0
        assert secret in capfd.readouterr().out, "the test sees the password when it is asked for"
    finally:
        if instance is not None:
            instance.dispose()
        drop_database(pg_server_url, storage_db)
