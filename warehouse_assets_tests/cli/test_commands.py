"""The small commands: report, sample-data, config."""

from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal
from importlib.metadata import entry_points

import pandas as pd

from warehouse_assets.cli.main import main
from warehouse_assets.cli.sample_data import SalesSpec, generate_sales


def test_report_writes_html_and_prints_the_figures(cli_env, landing, tmp_path, capsys):
    generate_sales(landing / "a.csv", SalesSpec(rows=1_000, customers=80, seed=5, bad_share=0.0))
    assert main(["report", "--out", str(tmp_path / "early.html")]) == 1
    assert "run `warehouse load` first" in capsys.readouterr().out
    assert main(["load"]) == 0
    capsys.readouterr()
    out_file = tmp_path / "summary.html"
    assert main(["report", "--out", str(out_file)]) == 0
    printed = capsys.readouterr().out
    source = pd.read_csv(landing / "a.csv", dtype=str)
    revenue = sum(Decimal(v) for v in source["total_amount"])
    assert f"{revenue:,.2f}" in printed
    assert f"{source['customer_id'].nunique():,}" in printed
    html = out_file.read_text()
    assert f"${revenue:,.2f}" in html
    assert html.count("<svg ") == 2 and "<img" not in html  # the charts travel inside the page


def test_sample_data_writes_the_rows_asked_for_relative_to_where_it_runs(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["sample-data", "--rows", "1234", "--out", "s.csv", "--products-json", "p.json"]) == 0
    assert len(pd.read_csv(tmp_path / "s.csv")) == 1234
    assert (tmp_path / "p.json").exists()
    assert main(["sample-data", "--rows", "500", "--seed", "7", "--out", "t.csv"]) == 0
    first = set(pd.read_csv(tmp_path / "s.csv", dtype=str)["transaction_id"])
    second = set(pd.read_csv(tmp_path / "t.csv", dtype=str)["transaction_id"])
    assert not first & second, "files with different seeds must not share transaction ids"


def test_config_shows_every_variable_its_source_and_masks_secrets(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("WAREHOUSE_DATABASE_URL", "postgresql://loader:hunter2-xyz@db:5432/shop")
    monkeypatch.setenv("WAREHOUSE_MAX_FILES_PER_RUN", "50")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("DAGSTER_PG_URL", raising=False)
    assert main(["config"]) == 0
    out = capsys.readouterr().out
    assert "hunter2-xyz" not in out
    lines = {line.split()[0]: line for line in out.splitlines() if line.strip()}
    assert lines["WAREHOUSE_DATABASE_URL"].split()[1:] == ["postgresql://loader:***@db:5432/shop", "[environment]"]
    assert lines["WAREHOUSE_MAX_FILES_PER_RUN"].split()[1:] == ["50", "[environment]"]
    assert lines["WAREHOUSE_MAX_MB_PER_RUN"].split()[1:] == ["2048", "[default]"]
    # The storage URL Dagster will use, derived from the database URL, with the psycopg2 driver.
    assert lines["DAGSTER_PG_URL"].split()[1] == "postgresql+psycopg2://loader:***@db:5432/shop"
    from warehouse_assets.core.settings import VARIABLES

    assert set(lines) == {v.name for v in VARIABLES}


def test_a_bad_setting_is_one_line_naming_the_variable(monkeypatch, capsys):
    monkeypatch.setenv("WAREHOUSE_SENSOR_INTERVAL_SECONDS", "soon")
    assert main(["config"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "WAREHOUSE_SENSOR_INTERVAL_SECONDS" in err and "soon" in err


def test_the_command_process_freezes_its_objects_before_python_shuts_down(tmp_path):
    """`warehouse` (the console script and `python -m`) hands its objects to the operating
    system at exit instead of Python's shutdown collections; the command's output and exit code
    are its own, and exit handlers still run."""
    (script,) = [e for e in entry_points(group="console_scripts") if e.name == "warehouse"]
    assert script.value == "warehouse_assets.cli.main:run"
    probe = (
        "import atexit, gc, sys\n"
        "atexit.register(lambda: print('frozen objects', gc.get_freeze_count()))\n"
        "sys.argv = ['warehouse', 'config']\n"
        "from warehouse_assets.cli.main import run\n"
        "run()\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "WAREHOUSE_DATABASE_URL" in done.stdout
    assert int(done.stdout.rsplit("frozen objects", 1)[1]) > 10_000
    # A command that fails keeps its exit code.
    env = {**os.environ, "WAREHOUSE_SENSOR_INTERVAL_SECONDS": "soon"}
    failed = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert failed.returncode == 2, failed.stderr
    assert "WAREHOUSE_SENSOR_INTERVAL_SECONDS" in failed.stderr
    assert int(failed.stdout.rsplit("frozen objects", 1)[1]) > 10_000
