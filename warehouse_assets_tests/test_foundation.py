"""The foundation: the project loads in Dagster, the schema applies idempotently, PostgreSQL is
embedded by default, and Dagster's own runs and event logs are stored in PostgreSQL."""

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import psycopg
import pytest
import yaml

from warehouse_assets import settings
from warehouse_assets.resources import postgres
from warehouse_assets.resources.warehouse import apply_schema

PROJECT = settings.PROJECT_DIR


def test_dagster_definitions_validate(warehouse_url):
    env = {
        **os.environ,
        "WAREHOUSE_DATABASE_URL": warehouse_url,
        "DAGSTER_PG_URL": postgres.dagster_storage_url(warehouse_url),
    }
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "dagster"), "definitions", "validate", "-m", "warehouse_assets.definitions"],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "all code locations passed validation" in (proc.stdout + proc.stderr).lower()


def _schema_shape(conn) -> list[tuple]:
    return conn.execute(
        """
        SELECT 'column', table_schema || '.' || table_name || '.' || column_name, data_type
        FROM information_schema.columns WHERE table_schema IN ('warehouse', 'analytics')
        UNION ALL
        SELECT 'index', schemaname || '.' || indexname, indexdef FROM pg_indexes
        WHERE schemaname IN ('warehouse', 'analytics')
        UNION ALL
        SELECT 'function', p.proname, pg_get_functiondef(p.oid) FROM pg_proc p
        JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'warehouse'
        ORDER BY 1, 2
        """
    ).fetchall()


def test_schema_applies_idempotently(empty_database_url):
    applied = apply_schema(empty_database_url)
    assert applied[0] == "000_schemas.sql" and len(applied) == len(list((settings.SQL_DIR / "schema").glob("*.sql")))
    with psycopg.connect(empty_database_url) as conn:
        shape = _schema_shape(conn)
        for table in ("dim_product", "dim_customer", "dim_date", "fact_sales", "rejected_sales", "rejected_products"):
            assert any(
                name == f"warehouse.{table}.{'date_key' if table == 'dim_date' else name.split('.')[2]}"
                for _, name, _ in shape
                if name.startswith(f"warehouse.{table}.")
            )
        # Re-running the files themselves (not only the bookkeeping) changes nothing either.
        conn.execute("DELETE FROM warehouse.schema_history")
        conn.commit()
    assert apply_schema(empty_database_url) == [p.name for p in sorted((settings.SQL_DIR / "schema").glob("*.sql"))]
    assert apply_schema(empty_database_url) == []
    with psycopg.connect(empty_database_url) as conn:
        assert _schema_shape(conn) == shape
        indexes = {name for kind, name, _ in shape if kind == "index"}
        for needed in (
            "fact_sales_date_key_idx",
            "fact_sales_customer_id_idx",
            "fact_sales_product_id_idx",
            "fact_sales_source_file_idx",
            "fact_sales_pkey",
            "dim_customer_pkey",
        ):
            assert f"warehouse.{needed}" in indexes


def test_embedded_server_by_default_and_none_when_a_url_is_set(tmp_path, monkeypatch, capsys):
    from warehouse_assets import cli

    monkeypatch.setenv("WAREHOUSE_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("WAREHOUSE_DATABASE_URL", raising=False)
    try:
        assert cli.main(["db-url"]) == 0
        url = capsys.readouterr().out.strip()
        assert (tmp_path / "state" / "pgdata" / "PG_VERSION").read_text().strip() == "18"
        with psycopg.connect(url) as conn:
            assert conn.execute(
                "SELECT current_database(), current_setting('server_version_num')::int / 10000"
            ).fetchone() == ("warehouse", 18)
        # A second command reuses the same running server.
        pid = (tmp_path / "state" / "pgdata" / "postmaster.pid").read_text().split()[0]
        assert postgres.embedded_server_url() == url
        assert (tmp_path / "state" / "pgdata" / "postmaster.pid").read_text().split()[0] == pid
    finally:
        assert postgres.stop_embedded_server()
    assert not postgres.embedded_server_running()

    other = tmp_path / "other-state"
    monkeypatch.setenv("WAREHOUSE_STATE_DIR", str(other))
    monkeypatch.setenv("WAREHOUSE_DATABASE_URL", "postgresql://someone:s3cret@db.example:5432/shop")
    assert cli.main(["db-url"]) == 0
    assert capsys.readouterr().out.strip() == "postgresql://someone:***@db.example:5432/shop"
    assert not other.exists()  # no server was started


def test_dagster_storage_url_names_psycopg2():
    assert postgres.dagster_storage_url("postgresql://u:p@h:5432/d") == "postgresql+psycopg2://u:p@h:5432/d"
    assert postgres.dagster_storage_url("postgres://u@/d?host=/s") == "postgresql+psycopg2://u@/d?host=/s"


def test_runs_and_event_logs_land_in_postgres(tmp_path, warehouse_url, products_snapshot, landing, monkeypatch):
    """The repo's dagster.yaml, with DAGSTER_PG_URL, stores runs in PostgreSQL, not SQLite."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text((PROJECT / "dagster.yaml").read_text())
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("DAGSTER_PG_URL", postgres.dagster_storage_url(warehouse_url))
    config = yaml.safe_load((PROJECT / "dagster.yaml").read_text())
    assert config["storage"]["postgres"]["postgres_url"] == {"env": "DAGSTER_PG_URL"}

    from warehouse_assets_tests.helpers import definitions, refresh_products

    with dg.DagsterInstance.get() as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        result = refresh_products(definitions(warehouse_url), instance)
        assert result.success
        run_id = result.run_id
    assert not list(home.rglob("*.db")), "nothing may be stored in SQLite"
    with psycopg.connect(warehouse_url) as conn:
        assert conn.execute("SELECT status FROM runs WHERE run_id = %s", (run_id,)).fetchone() == ("SUCCESS",)
        events = conn.execute("SELECT count(*) FROM event_logs WHERE run_id = %s", (run_id,)).fetchone()[0]
        assert events > 10
        materialized = conn.execute(
            "SELECT count(*) FROM event_logs WHERE run_id = %s AND dagster_event_type = 'ASSET_MATERIALIZATION'",
            (run_id,),
        ).fetchone()[0]
        assert materialized >= 2  # raw_products and dim_product at least


@pytest.mark.parametrize(
    "path", ["workspace.yaml", "dagster.yaml", "pyproject.toml", "docker-compose.yml", "README.md", ".ci/run"]
)
def test_fixed_top_level_files_exist(path):
    assert (PROJECT / path).is_file()
