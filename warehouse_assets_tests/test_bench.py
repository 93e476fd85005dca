"""`warehouse bench` runs end to end on a small file. It proves the command works; it asserts no
time (timings are for the benchmark's table, not for tests)."""

import json

import psycopg

from warehouse_assets import cli

MEASUREMENTS = ("limit", "warehouse", "incremental", "dashboards")


def test_bench_measures_everything_in_a_database_of_its_own(warehouse_url, pg_server_url, tmp_path, capsys):
    with psycopg.connect(pg_server_url) as conn:
        before = {r[0] for r in conn.execute("SELECT datname FROM pg_database")}
    out = tmp_path / "bench.json"
    assert (
        cli.main(["bench", "--rows", "20000", "--customers", "2000", "--incremental-rows", "500", "--json", str(out)])
        == 0
    )

    results = json.loads(out.read_text())
    assert set(MEASUREMENTS) <= set(results) and results["rows"] == 20_000
    assert results["warehouse"]["success"] and results["incremental"]["success"]
    for key in ("copy", "insert", "customers", "total"):
        assert results["limit"][key] > 0
    for key in ("load_seconds", "run_seconds", "process_seconds", "peak_rss_mb"):
        assert results["warehouse"][key] > 0
    assert set(results["dashboards"]) == {
        "analytics.vw_product_sales_summary",
        "analytics.vw_daily_sales_summary",
        "analytics.vw_customer_lifetime_value",
        "analytics.executive_summary",
    }
    printed = capsys.readouterr().out
    assert "| limit: total |" in printed and "load / limit =" in printed

    # Its own database, created and dropped: the user's warehouse is untouched.
    with psycopg.connect(pg_server_url) as conn:
        after = {r[0] for r in conn.execute("SELECT datname FROM pg_database")}
    assert after == before
    with psycopg.connect(warehouse_url) as conn:
        assert conn.execute("SELECT count(*) FROM warehouse.fact_sales").fetchone() == (0,)
