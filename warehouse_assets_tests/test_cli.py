"""The `warehouse` command against a real database and a persistent, PostgreSQL-backed instance."""

import pandas as pd
import psycopg
import pytest

from warehouse_assets import cli
from warehouse_assets.resources.postgres import dagster_storage_url
from warehouse_assets.sample_data import SalesSpec, generate_sales


@pytest.fixture
def cli_env(tmp_path, warehouse_url, landing, products_snapshot, monkeypatch):
    """What `warehouse` sees on a configured machine: a database URL, a home for Dagster."""
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    monkeypatch.setenv("DAGSTER_PG_URL", dagster_storage_url(warehouse_url))
    return warehouse_url


def test_load_registers_new_files_runs_them_and_reports(cli_env, landing, capsys):
    generate_sales(landing / "jan.csv", SalesSpec(rows=2_000, customers=100, bad_share=0.03, seed=1, id_prefix="J"))
    generate_sales(landing / "feb.csv", SalesSpec(rows=1_500, customers=100, bad_share=0.03, seed=2, id_prefix="F"))
    assert cli.main(["load"]) == 0
    out = capsys.readouterr().out
    assert "[1/2] loading feb.csv" in out and "[2/2] loading jan.csv" in out
    assert "fact_sales:sales_file_reconciles" in out and "FAIL" not in out

    with psycopg.connect(cli_env) as conn:
        # Both files, and the runs recorded in Dagster's storage in the same PostgreSQL.
        files = dict(conn.execute("SELECT source_file, rows_read FROM warehouse.sales_files").fetchall())
        assert files == {"jan.csv": 2_000, "feb.csv": 1_500}
        runs = conn.execute("SELECT count(*) FROM runs WHERE status = 'SUCCESS'").fetchone()[0]
        assert runs == 3  # products and two files

    # Nothing new: no sales runs; one file changes: only that one is loaded again.
    assert cli.main(["load", "--skip-products"]) == 0
    assert "no new or changed sales files" in capsys.readouterr().out
    generate_sales(landing / "feb.csv", SalesSpec(rows=1_000, customers=100, bad_share=0.0, seed=3, id_prefix="F2"))
    assert cli.main(["load", "--skip-products"]) == 0
    out = capsys.readouterr().out
    assert "[1/1] loading feb.csv" in out and "jan.csv" not in out.split("Runs")[0]
    with psycopg.connect(cli_env) as conn:
        assert conn.execute("SELECT count(*) FROM warehouse.fact_sales WHERE source_file = 'feb.csv'").fetchone() == (
            1_000,
        )


def test_load_exits_non_zero_when_an_error_check_fails(cli_env, landing, capsys):
    generate_sales(landing / "a.csv", SalesSpec(rows=500, customers=50, seed=4, id_prefix="A"))
    assert cli.main(["load"]) == 0
    capsys.readouterr()
    with psycopg.connect(cli_env) as conn:
        # A product the API no longer lists (so the refresh does not repair it) with price 0.
        conn.execute(
            "INSERT INTO warehouse.dim_product (product_id, product_name, unit_price, is_inferred) "
            "VALUES (999, 'Gone', 0, false)"
        )
    assert cli.main(["load"]) == 1
    out = capsys.readouterr().out
    assert "FAIL  dim_product:dim_product_prices_positive" in out
    assert "non_positive_price=1" in out
    assert cli.main(["check"]) == 1


def test_load_reports_a_file_that_cannot_be_read(cli_env, landing, capsys):
    (landing / "broken.csv").write_text("id,when\n1,today\n")
    assert cli.main(["load", "--skip-products"]) == 1
    out = capsys.readouterr().out
    assert "FAILED" in out and "broken.csv" in out and "transaction_id" in out


def test_report_writes_html_and_prints_figures(cli_env, landing, tmp_path, capsys):
    generate_sales(landing / "a.csv", SalesSpec(rows=1_000, customers=80, seed=5, bad_share=0.0))
    assert cli.main(["load"]) == 0
    capsys.readouterr()
    out_file = tmp_path / "summary.html"
    assert cli.main(["report", "--out", str(out_file)]) == 0
    printed = capsys.readouterr().out
    source = pd.read_csv(landing / "a.csv", dtype=str)
    revenue = sum(int(v.replace(".", "")) for v in source["total_amount"]) / 100
    assert f"{revenue:,.2f}" in printed
    html = out_file.read_text()
    assert "data:image/png;base64," in html and f"{revenue:,.2f}" in html


def test_sample_data_writes_the_asked_rows(tmp_path, capsys):
    out = tmp_path / "s.csv"
    assert (
        cli.main(["sample-data", "--rows", "1234", "--out", str(out), "--products-json", str(tmp_path / "p.json")]) == 0
    )
    assert len(pd.read_csv(out)) == 1234
    assert (tmp_path / "p.json").exists()


def test_config_masks_secrets(monkeypatch, capsys):
    monkeypatch.setenv("WAREHOUSE_DATABASE_URL", "postgresql://loader:hunter2-xyz@db:5432/shop")
    assert cli.main(["config"]) == 0
    out = capsys.readouterr().out
    assert "hunter2-xyz" not in out and "postgresql://loader:***@db:5432/shop" in out
