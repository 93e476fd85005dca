"""`warehouse bench`: how fast the warehouse loads, measured against PostgreSQL's own limit.

One run, one server, a database of its own (created and dropped here, never the user's):

1. data: a sales file from the sample generator (rows, customers, products, share of bad rows);
2. the limit: the same file with SQL only: COPY into an unindexed staging table, one set-based
   INSERT ... SELECT into a table shaped like fact_sales (same primary key and indexes), and a
   customer upsert;
3. the warehouse: the same file through the real sales_file_job in a separate process (the code
   `warehouse load` and the sensor run), timed inside the run (run start to the last load asset:
   raw_sales, fact_sales, dim_customer, dim_date; and to the end of the run with checks, views and
   analytics) and as a whole process, with the process's peak resident memory;
4. incremental: with those rows loaded, one new file of 1,000 rows, end to end, views included;
5. dashboards: each view and the executive summary queried at that size (best of three).

It prints one table and writes it as JSON, so results can be compared between commits.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
from psycopg import sql

LOAD_ASSETS = ("raw_sales", "fact_sales", "dim_customer", "dim_date")
DASHBOARDS = (
    "analytics.vw_product_sales_summary",
    "analytics.vw_daily_sales_summary",
    "analytics.vw_customer_lifetime_value",
    "analytics.executive_summary",
)
TARGET_RATIO = 2.0


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--customers", type=int, default=100_000)
    p.add_argument("--products", type=int, default=20)
    p.add_argument("--bad-share", type=float, default=0.02)
    p.add_argument("--incremental-rows", type=int, default=1_000)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--json", default="bench-results.json", help="where to write the results")
    p.add_argument("--keep", action="store_true", help="keep the benchmark database afterwards")


# ------------------------------------------------------------------------------------ the limit

_LIMIT_DDL = """
CREATE TABLE limit_staging (
    transaction_id text, transaction_date text, customer_id text, customer_name text, city text,
    country text, product_id text, quantity text, unit_price text, total_amount text,
    payment_method text
);
CREATE TABLE limit_fact (
    transaction_id text PRIMARY KEY, date_key integer NOT NULL, customer_id text NOT NULL,
    product_id integer NOT NULL, transaction_ts timestamptz NOT NULL, quantity integer NOT NULL,
    unit_price numeric(12, 2) NOT NULL, total_amount numeric(14, 2) NOT NULL,
    payment_method text NOT NULL, source_file text NOT NULL, source_line bigint NOT NULL,
    loaded_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ON limit_fact (date_key);
CREATE INDEX ON limit_fact (customer_id);
CREATE INDEX ON limit_fact (product_id);
CREATE INDEX ON limit_fact (source_file);
CREATE TABLE limit_customer (
    customer_id text PRIMARY KEY, customer_name text, city text, country text,
    total_orders integer, lifetime_value numeric(16, 2)
);
"""

# The cheapest guard that lets the casts succeed on a file with bad rows: shape checks only.
_LIMIT_INSERT = r"""
INSERT INTO limit_fact (transaction_id, date_key, customer_id, product_id, transaction_ts, quantity,
                        unit_price, total_amount, payment_method, source_file, source_line)
SELECT transaction_id, to_char(transaction_date::timestamptz, 'YYYYMMDD')::integer, customer_id,
       product_id::integer, transaction_date::timestamptz, quantity::integer, unit_price::numeric,
       total_amount::numeric, payment_method, 'bench.csv', 0
FROM limit_staging
WHERE transaction_date ~ '^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])'
  AND quantity ~ '^\d+$' AND product_id ~ '^\d+$'
  AND unit_price ~ '^-?\d+(\.\d+)?$' AND total_amount ~ '^-?\d+(\.\d+)?$'
  AND customer_id <> ''
ON CONFLICT (transaction_id) DO NOTHING
"""

_LIMIT_CUSTOMERS = """
INSERT INTO limit_customer (customer_id, customer_name, city, country, total_orders, lifetime_value)
SELECT f.customer_id, max(s.customer_name), max(s.city), max(s.country), count(*), sum(f.total_amount)
FROM limit_fact f JOIN limit_staging s USING (transaction_id)
GROUP BY f.customer_id
ON CONFLICT (customer_id) DO UPDATE SET total_orders = EXCLUDED.total_orders,
                                        lifetime_value = EXCLUDED.lifetime_value
"""


def measure_limit(url: str, csv_path: Path) -> dict:
    from warehouse_assets.resources.warehouse import connect

    timings = {}
    with connect(url, autocommit=True) as conn:
        conn.execute(_LIMIT_DDL)
        started = time.perf_counter()
        with (
            conn.cursor().copy("COPY limit_staging FROM STDIN (FORMAT csv, HEADER true)") as copy,
            open(csv_path, "rb") as fh,
        ):
            while block := fh.read(1 << 20):
                copy.write(block)
        timings["copy"] = time.perf_counter() - started
        t = time.perf_counter()
        conn.execute(_LIMIT_INSERT)
        timings["insert"] = time.perf_counter() - t
        t = time.perf_counter()
        conn.execute(_LIMIT_CUSTOMERS)
        timings["customers"] = time.perf_counter() - t
        timings["total"] = time.perf_counter() - started
        conn.execute("DROP TABLE limit_staging, limit_fact, limit_customer")
    return timings


# ------------------------------------------------------------------------------------ warehouse


def _run_file_in_child(url: str, landing: Path, key: str) -> dict:
    """Load one file through sales_file_job in a fresh Python process; its own timings come back
    as JSON, the whole-process time and peak RSS are measured from outside."""
    env = {
        **os.environ,
        "WAREHOUSE_DATABASE_URL": url,
        "WAREHOUSE_LANDING_DIR": str(landing),
        "WAREHOUSE_LAYOUTS_DIR": str(landing / "_no_layouts"),
    }
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out_file, tempfile.TemporaryFile("w+") as err_file:
        proc = subprocess.Popen(
            [sys.executable, "-m", "warehouse_assets.bench", "--load-one", key],
            env=env,
            stdout=out_file,
            stderr=err_file,
            text=True,
        )
        peak = _peak_rss(proc)
        wall = time.perf_counter() - started
        out_file.seek(0)
        err_file.seek(0)
        out, err = out_file.read(), err_file.read()
    lines = [line for line in out.splitlines() if line.startswith("{")]
    if not lines:
        raise RuntimeError(f"loading {key} failed:\n{err[-4000:]}")
    result = json.loads(lines[-1])
    if not result["success"]:
        raise RuntimeError(f"loading {key} failed: " + "; ".join(result["failures"])[:4000])
    result["process_seconds"] = wall
    result["peak_rss_mb"] = peak / 2**20
    return result


def _peak_rss(proc: subprocess.Popen) -> int:
    """Highest resident set size of the process (and any children) until it exits, sampled.

    Not getrusage's ru_maxrss: that also counts the moment between fork and exec, when the
    child is still a copy of this (large) process.
    """
    import psutil

    peak = 0
    watched = psutil.Process(proc.pid)
    while proc.poll() is None:
        try:
            rss = watched.memory_info().rss + sum(c.memory_info().rss for c in watched.children(recursive=True))
            peak = max(peak, rss)
        except psutil.Error:
            pass
        time.sleep(0.02)
    return peak


def _load_one(key: str) -> None:
    """Child side of `_run_file_in_child`: run the job, report timings from its event log."""
    import dagster as dg

    from warehouse_assets.definitions import definitions_from_environment

    defs = definitions_from_environment()

    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("sales_files", [key])
        result = defs.resolve_job_def("sales_file_job").execute_in_process(
            instance=instance, partition_key=key, raise_on_error=False
        )
        stamps: dict[dg.DagsterEventType, float] = {}
        end_load = None
        for record in instance.get_records_for_run(result.run_id, limit=100_000).records:
            event = record.event_log_entry.dagster_event
            if event is None:
                continue
            stamps.setdefault(event.event_type, record.event_log_entry.timestamp)
            if (
                event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION
                and event.asset_key.to_user_string() in LOAD_ASSETS
            ):
                end_load = record.event_log_entry.timestamp
        start = stamps.get(dg.DagsterEventType.RUN_START)
        end_run = stamps.get(dg.DagsterEventType.RUN_SUCCESS, stamps.get(dg.DagsterEventType.RUN_FAILURE))
        from warehouse_assets.cli import failure_messages

        failures = [f"{step}: {message}" for step, message in failure_messages(result).items()]
        print(
            json.dumps(
                {
                    "success": result.success,
                    "failures": failures,
                    "load_seconds": (end_load - start) if start and end_load else None,
                    "run_seconds": (end_run - start) if start and end_run else None,
                }
            ),
            flush=True,
        )


def measure_dashboards(url: str) -> dict:
    from warehouse_assets.resources.warehouse import connect

    out = {}
    with connect(url, autocommit=True) as conn:
        for relation in DASHBOARDS:
            best = float("inf")
            for _ in range(3):
                t = time.perf_counter()
                conn.execute(sql.SQL("SELECT * FROM {}").format(sql.Identifier(*relation.split(".")))).fetchall()
                best = min(best, time.perf_counter() - t)
            out[relation] = best
    return out


# ------------------------------------------------------------------------------------ main


def _server_url() -> str:
    from warehouse_assets import settings
    from warehouse_assets.resources.postgres import embedded_server_url, libpq_url

    url = settings.get("WAREHOUSE_DATABASE_URL")
    return libpq_url(url) if url else embedded_server_url("postgres")


def main(args: argparse.Namespace) -> int:
    from warehouse_assets.resources.postgres import mask_url, replace_database
    from warehouse_assets.sample_data import SalesSpec, generate_sales, write_products

    server = _server_url()
    name = f"warehouse_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        version = conn.execute("SHOW server_version").fetchone()[0]
    url = replace_database(server, name)
    print(f"benchmark database {name} on {mask_url(server)} (PostgreSQL {version})", flush=True)
    results: dict = {
        "when": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.node()} {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "postgres": version,
        "rows": args.rows,
        "bad_share": args.bad_share,
    }
    try:
        with tempfile.TemporaryDirectory(prefix="warehouse-bench-") as tmp:
            landing = Path(tmp) / "landing"
            landing.mkdir()
            os.environ["FAKESTORE_BASE_URL"] = str(write_products(Path(tmp) / "products.json", args.products))
            t = time.perf_counter()
            spec = SalesSpec(
                rows=args.rows,
                customers=args.customers,
                products=args.products,
                bad_share=args.bad_share,
                seed=args.seed,
                id_prefix="BENCH",
            )
            generate_sales(landing / "bench.csv", spec, track_planted=False)
            print(f"generated {args.rows:,} rows in {time.perf_counter() - t:.1f}s", flush=True)

            print("measuring the limit (COPY + INSERT ... SELECT + customer upsert) ...", flush=True)
            # The limit runs in the same fresh database before the warehouse's own tables fill.
            from warehouse_assets.resources.warehouse import apply_schema

            apply_schema(url)
            results["limit"] = measure_limit(url, landing / "bench.csv")

            print("loading the same file through sales_file_job ...", flush=True)
            results["warehouse"] = _run_file_in_child(url, landing, "bench.csv")

            print(f"incremental: one new file of {args.incremental_rows:,} rows ...", flush=True)
            inc = SalesSpec(
                rows=args.incremental_rows,
                customers=args.customers,
                products=args.products,
                bad_share=args.bad_share,
                seed=args.seed + 1,
                id_prefix="INCR",
                start=dt.date(2025, 1, 1),
                end=dt.date(2025, 1, 1),
            )
            generate_sales(landing / "incremental.csv", inc, track_planted=False)
            results["incremental"] = _run_file_in_child(url, landing, "incremental.csv")

            print("querying the dashboards ...", flush=True)
            results["dashboards"] = measure_dashboards(url)
    finally:
        if not args.keep:
            with psycopg.connect(server, autocommit=True) as conn:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    print_table(results)
    Path(args.json).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"\nresults written to {args.json}")
    return 0 if results["warehouse"]["success"] and results["incremental"]["success"] else 1


def print_table(r: dict) -> None:
    rows = r["rows"]
    limit = r["limit"]["total"]
    w, inc = r["warehouse"], r["incremental"]

    def line(
        what: str,
        seconds: float | None,
        n: int | None = None,
        rss: float | None = None,
        ratio: bool = True,
    ) -> str:
        if seconds is None:
            return f"| {what} | n/a | | | |"
        rate = f"{n / seconds:,.0f}" if n else ""
        rel = f"{seconds / limit:.2f}x" if ratio else ""
        mem = f"{rss:,.0f} MB" if rss else ""
        return f"| {what} | {seconds:.2f} s | {rate} | {rel} | {mem} |"

    print(f"\n{rows:,} rows, {r['bad_share']:.0%} bad; {r['machine']}; PostgreSQL {r['postgres']}\n")
    print("| measurement | time | rows/s | vs limit | peak RSS |")
    print("|---|---|---|---|---|")
    print(line("limit: COPY into staging", r["limit"]["copy"], rows, ratio=False))
    print(line("limit: INSERT ... SELECT into fact", r["limit"]["insert"], rows, ratio=False))
    print(line("limit: customer upsert", r["limit"]["customers"], ratio=False))
    print(line("limit: total", limit, rows))
    print(line("warehouse: run start to last load asset", w["load_seconds"], rows))
    print(line("warehouse: whole run (checks, views, analytics)", w["run_seconds"], rows))
    print(line("warehouse: whole process", w["process_seconds"], rows, w["peak_rss_mb"]))
    print(
        line(
            f"incremental file, run ({r['rows']:,} rows loaded)",
            inc["run_seconds"],
            None,
            ratio=False,
        )
    )
    print(
        line(
            "incremental file, whole process",
            inc["process_seconds"],
            None,
            inc["peak_rss_mb"],
            ratio=False,
        )
    )
    for relation, seconds in r["dashboards"].items():
        print(f"| query {relation} | {seconds * 1000:.0f} ms | | | |")
    if w["load_seconds"]:
        verdict = "meets" if w["load_seconds"] <= TARGET_RATIO * limit else "misses"
        print(f"\nload / limit = {w['load_seconds'] / limit:.2f} ({verdict} the {TARGET_RATIO:.1f}x target)")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--load-one":
        _load_one(sys.argv[2])
    else:
        parser = argparse.ArgumentParser(prog="python -m warehouse_assets.bench")
        add_arguments(parser)
        sys.exit(main(parser.parse_args()))
