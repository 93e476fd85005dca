"""`warehouse load` and `warehouse check` against a real database and a PostgreSQL-backed Dagster
instance: progress, one summary, exit codes, and quiet unless asked."""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path

import pandas as pd
import pytest

from warehouse_assets.cli.main import main
from warehouse_assets.cli.sample_data import SalesSpec, generate_sales
from warehouse_assets_tests.support.databases import connect
from warehouse_assets_tests.support.oracle import valid_rows

DAGSTER_LOG_LINE = re.compile(r"- dagster - (DEBUG|INFO|WARNING)|STEP_START|RUN_START|PIPELINE_START")


def per_file_lines(out: str) -> dict[str, tuple[int, int]]:
    found = re.findall(r"^\[\d+/\d+\] (\S+): ([\d,]+) rows loaded, ([\d,]+) quarantined", out, re.M)
    return {key: (int(a.replace(",", "")), int(b.replace(",", ""))) for key, a, b in found}


def test_load_loads_new_files_in_one_run_reports_each_and_is_quiet(cli_env, landing, capfd):
    generate_sales(landing / "jan.csv", SalesSpec(rows=2_000, customers=100, bad_share=0.03, seed=1, id_prefix="J"))
    generate_sales(landing / "feb.csv", SalesSpec(rows=1_500, customers=100, bad_share=0.03, seed=2, id_prefix="F"))
    now = dt.datetime.now(dt.timezone.utc)
    expected = {}
    for key in ("feb.csv", "jan.csv"):
        records = len(pd.read_csv(landing / key, dtype=str, keep_default_na=False))
        loaded = len(valid_rows(landing / key, key, now))
        expected[key] = (loaded, records - loaded)

    assert main(["load"]) == 0
    out, err = capfd.readouterr()
    assert per_file_lines(out) == expected
    total_loaded = sum(v[0] for v in expected.values())
    assert f"rows         {total_loaded:,} loaded" in out
    assert "files        2 loaded" in out
    assert "FAIL" not in out and re.search(r"checks\s+\d+ passed", out)
    assert not DAGSTER_LOG_LINE.search(out + err), (out + err)[-3000:]
    assert err == ""
    # The progress is for the terminal: the runs' step logs (their stdout in the UI) hold none of it.
    step_logs = list(Path(os.environ["DAGSTER_HOME"], "storage").glob("*/compute_logs/*.out"))
    assert len(step_logs) == 2 and not any("rows loaded" in log.read_text() for log in step_logs)

    with connect(cli_env.database_url) as conn:
        assert dict(conn.execute("SELECT source_file, rows_loaded FROM warehouse.sales_files").fetchall()) == {
            k: v[0] for k, v in expected.items()
        }
        # Products, then both files in one run, recorded in Dagster's storage in the same database.
        assert conn.execute("SELECT count(*) FROM runs WHERE status = 'SUCCESS'").fetchone() == (2,)
        # Each run says what launched it, in the tag the UI's "Launched by" column shows.
        tags = conn.execute(
            "SELECT r.pipeline_name, t.key, t.value FROM runs r JOIN run_tags t ON t.run_id = r.run_id "
            "WHERE t.key IN ('launched_by', 'user') ORDER BY 1, 2"
        ).fetchall()
        assert tags == [
            (job, key, "warehouse load")
            for job in ("products_job", "sales_files_job")
            for key in ("launched_by", "user")
        ]

    assert main(["load", "--skip-products"]) == 0
    assert "no new or changed sales files" in capfd.readouterr().out
    generate_sales(landing / "feb.csv", SalesSpec(rows=1_000, customers=100, bad_share=0.0, seed=3, id_prefix="F2"))
    assert main(["load", "--skip-products"]) == 0
    out = capfd.readouterr().out
    assert list(per_file_lines(out)) == ["feb.csv"]
    with connect(cli_env.database_url) as conn:
        assert conn.execute("SELECT count(*) FROM warehouse.fact_sales WHERE source_file = 'feb.csv'").fetchone() == (
            1_000,
        )


def test_verbose_shows_dagsters_event_log(cli_env, landing, capfd):
    generate_sales(landing / "a.csv", SalesSpec(rows=100, customers=10, seed=4, id_prefix="A"))
    assert main(["load", "--verbose", "--skip-products"]) == 0
    out, err = capfd.readouterr()
    assert DAGSTER_LOG_LINE.search(out + err)


def test_load_exits_non_zero_when_an_error_check_fails(cli_env, landing, capfd):
    generate_sales(landing / "a.csv", SalesSpec(rows=500, customers=50, seed=4, id_prefix="A"))
    assert main(["load"]) == 0
    capfd.readouterr()
    with connect(cli_env.database_url) as conn:
        # A product the API no longer lists (so the refresh does not repair it) with price 0.
        conn.execute(
            "INSERT INTO warehouse.dim_product (product_id, product_name, unit_price, is_inferred) VALUES (999, 'Gone', 0, false)"
        )
    assert main(["load"]) == 1
    out = capfd.readouterr().out
    assert re.search(r"FAIL\s+dim_product:dim_product_prices_positive .*non_positive_price=1", out), out
    assert main(["check"]) == 1
    out = capfd.readouterr().out
    assert re.search(r"FAIL\s+dim_product:dim_product_prices_positive", out)
    assert re.search(r"fresh\s+dim_product: products refreshed \d+ s ago", out), out
    assert " ago" in out and "  ago" not in out  # every freshness line says how long ago


def test_a_file_that_cannot_be_read_is_named_with_its_missing_columns_and_the_others_load(cli_env, landing, capfd):
    (landing / "broken.csv").write_text("id,when\n1,today\n")
    generate_sales(landing / "good.csv", SalesSpec(rows=300, customers=20, seed=6, id_prefix="G", bad_share=0.0))
    assert main(["load", "--skip-products"]) == 1
    out = capfd.readouterr().out
    failed = out.split("Failed files", 1)[1]
    assert "broken.csv" in failed and "transaction_id" in failed
    assert per_file_lines(out) == {"good.csv": (300, 0)}
    with connect(cli_env.database_url) as conn:
        assert conn.execute("SELECT count(*) FROM warehouse.fact_sales").fetchone() == (300,)


@pytest.mark.usefixtures("no_proxies")
def test_unreachable_products_api_is_one_clear_line_and_the_sales_still_load(cli_env, landing, capfd, monkeypatch):
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("FAKESTORE_BASE_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("FAKESTORE_MAX_ATTEMPTS", "2")
    monkeypatch.setenv("FAKESTORE_BACKOFF_SECONDS", "0")
    generate_sales(landing / "a.csv", SalesSpec(rows=200, customers=20, seed=8, id_prefix="A", bad_share=0.0))
    assert main(["load"]) == 1
    out, err = capfd.readouterr()
    (line,) = [ln for ln in out.splitlines() if "products not refreshed" in ln]
    assert f"could not reach http://127.0.0.1:{port}/products after 2 attempts" in line
    assert "FAKESTORE_BASE_URL=data/sample/products.json" in line
    assert "Traceback" not in out + err
    assert per_file_lines(out) == {"a.csv": (200, 0)}
