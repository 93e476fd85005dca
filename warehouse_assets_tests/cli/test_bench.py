"""`warehouse bench` end to end on small files. It proves the command measures what it says, in
databases of its own; it asserts no time (timings are for the benchmark's table, not for tests)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

import psycopg
from psycopg import sql

from warehouse_assets.cli import bench
from warehouse_assets.cli.main import main
from warehouse_assets.core.urls import replace_database

DASHBOARDS = {
    "analytics.vw_product_sales_summary",
    "analytics.vw_daily_sales_summary",
    "analytics.vw_customer_lifetime_value",
    "analytics.executive_summary",
}


def databases(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        return {r[0] for r in conn.execute("SELECT datname FROM pg_database")}


def test_bench_measures_every_step_in_databases_of_its_own(warehouse_url, pg_server_url, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("WAREHOUSE_DATABASE_URL", pg_server_url)
    before = databases(pg_server_url)
    out = tmp_path / "bench.json"
    argv = [
        "bench",
        "--rows",
        "20000",
        "--customers",
        "2000",
        "--incremental-rows",
        "500",
        "--files",
        "3",
        "--repeat",
        "2",
        "--keep",
    ]
    assert main([*argv, "--json", str(out)]) == 0
    results = json.loads(out.read_text())
    # The bench's own databases (another process may be creating databases on the same server).
    created = set(results["kept_databases"])
    try:
        assert created <= databases(pg_server_url) - before
        assert results["rows"] == 20_000
        assert all(results["limit"][k] > 0 for k in ("copy", "insert", "customers", "total"))
        for run in (results["warehouse"], results["incremental"], results["many_files"], results["one_file"]):
            assert run["process_seconds"] > 0 and run["peak_rss_mb"] > 0 and run["runs"]["sales_files_job"] > 0
        assert set(results["dashboards"]) == DASHBOARDS
        assert all(d["delivered"] > 0 and d["python_rows"] > 0 for d in results["dashboards"].values())
        assert results["dashboards"]["analytics.executive_summary"]["rows"] == 1  # one row by design
        printed = capsys.readouterr().out
        assert "**limit: total**" in printed and "whole load / limit =" in printed and "3 files / 1 file =" in printed

        # Two pairs of batch loads, and the reported pair is the one whose ratio is the median
        # (the lower of two).
        ratios = results["file_ratios"]
        assert len(ratios) == 2
        reported = results["many_files"]["process_seconds"] / results["one_file"]["process_seconds"]
        assert reported == min(ratios)
        assert "(median of 2: " in printed

        # What each measured load left behind: the whole file, the new one, and the three parts,
        # twice each.
        loaded: dict[str, list] = {}
        for name in created:
            with psycopg.connect(replace_database(pg_server_url, name)) as conn:
                if conn.execute("SELECT to_regclass('warehouse.sales_files')").fetchone()[0]:
                    loaded.setdefault(name.split("_")[2], []).append(
                        conn.execute(
                            "SELECT count(*), sum(records_read) FROM warehouse.sales_files "
                            "WHERE fingerprint IS NOT NULL"
                        ).fetchone()
                    )
        assert loaded == {"load": [(2, 20_500)], "many": [(3, 20_000)] * 2, "one": [(1, 20_000)] * 2}
        # The three parts are daily files, and the one file is exactly their rows.
        facts = {}
        for name in created:
            purpose = name.split("_")[2]
            if purpose not in ("many", "one"):
                continue
            with psycopg.connect(replace_database(pg_server_url, name)) as conn:
                facts.setdefault(purpose, []).append(
                    conn.execute(
                        "SELECT transaction_id, date_key, total_amount FROM warehouse.fact_sales ORDER BY 1"
                    ).fetchall()
                )
                if purpose == "many":
                    days = conn.execute(
                        "SELECT count(DISTINCT date_key) FROM warehouse.fact_sales GROUP BY source_file"
                    ).fetchall()
                    assert days == [(1,), (1,), (1,)]
        assert facts["many"][0] == facts["one"][0] == facts["many"][1] == facts["one"][1]
        assert len(facts["one"][0]) > 19_000
    finally:
        with psycopg.connect(pg_server_url, autocommit=True) as conn:
            for name in created:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    # The user's warehouse is untouched.
    with psycopg.connect(warehouse_url) as conn:
        assert conn.execute("SELECT count(*) FROM warehouse.fact_sales").fetchone() == (0,)


def test_peak_memory_counts_child_programs_but_not_a_fork_before_exec(monkeypatch):
    """A child forked from the measured process and not yet another program shares the parent's
    pages: counting its resident size would count the parent twice."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "warehouse_assets_tests.support.forking_child", "200", "50"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    samples = threading.Semaphore(0)

    class Clock:  # the sampler's clock, counting its samples
        def sleep(self, seconds: float) -> None:
            samples.release()
            time.sleep(seconds)

    monkeypatch.setattr(bench, "time", Clock())
    peak: list[int] = []
    sampler = threading.Thread(target=lambda: peak.append(bench._peak_rss(proc)))
    sampler.start()
    own, program = (int(v) for v in proc.stdout.readline().split())
    while samples.acquire(blocking=False):  # the samples taken before both children were there
        pass
    samples.acquire()  # one more, begun after: it saw both children
    samples.acquire()
    proc.stdin.write("\n")
    proc.stdin.flush()
    sampler.join()
    assert proc.wait() == 0
    assert own > 200 * 2**20 and program > 50 * 2**20
    # The other program counted, the copy of the parent not (it would add 200 MB more).
    assert own + program <= peak[0] < own + program + 50 * 2**20
