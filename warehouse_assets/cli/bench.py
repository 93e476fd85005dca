"""`warehouse bench`: how fast the warehouse loads, measured against PostgreSQL's own limit.

One run, one server, databases of its own (created and dropped here, never the user's):

1. data: a sales file from the sample generator (rows, customers, products, share of bad rows);
2. the limit: the same file with SQL only, in a fresh database: COPY into an unindexed staging
   table, one INSERT ... SELECT into a fact table with the primary key and indexes on date_key,
   customer_id and product_id, one customer upsert (`sql/bench/`);
3. the warehouse: `warehouse load` as a whole process (products refresh from a snapshot, the
   file, checks, views, analytics), in a fresh database, with its peak resident memory;
4. incremental: with those rows loaded, one new file of 1,000 rows, `warehouse load` again: the
   sales run's time (views refreshed) and the whole process;
5. dashboards: each view and the executive summary, every row, at that size (best of three):
   delivered to the client as COPY text, and made into Python rows;
6. with `--files N`: the same rows cut into N files, loaded by one `warehouse load` in a fresh
   database, against the single file; with `--repeat K`, K pairs of loads, alternating, and the
   median of their ratios (on a shared machine one pair can be off by a third either way).

Each measurement starts after a CHECKPOINT (when the user may run one), so that none pays for
writing out what the one before it wrote. It prints one table and writes the results as JSON, so
they can be compared between commits.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psutil
import psycopg
from psycopg import sql

from warehouse_assets.cli.output import say
from warehouse_assets.cli.sample_data import SalesSpec, generate_sales, write_products
from warehouse_assets.core.settings import Settings
from warehouse_assets.core.urls import dagster_storage_url, libpq_url, mask_url, replace_database
from warehouse_assets.db import embedded, sqlfiles
from warehouse_assets.db.connection import connect

DASHBOARDS = (
    "analytics.vw_product_sales_summary",
    "analytics.vw_daily_sales_summary",
    "analytics.vw_customer_lifetime_value",
    "analytics.executive_summary",
)
TARGET_RATIO = 1.3


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--customers", type=int, default=100_000)
    p.add_argument("--products", type=int, default=20)
    p.add_argument("--bad-share", type=float, default=0.02)
    p.add_argument("--incremental-rows", type=int, default=1_000)
    p.add_argument("--files", type=int, default=0, help="also load the same rows as this many files")
    p.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="with --files: load the one file and the many files this many times each, alternately, "
        "and report the median ratio",
    )
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--json", default="bench-results.json", help="where to write the results")
    p.add_argument("--keep", action="store_true", help="keep the benchmark databases afterwards")


class Server:
    """The server the benchmark runs on, and the databases it creates there."""

    def __init__(self, settings: Settings):
        self.url = (
            libpq_url(settings.database_url)
            if settings.database_url
            else embedded.server_url(settings.pgdata, "postgres")
        )
        self.created: list[str] = []
        self.checkpoints: bool | None = None  # whether CHECKPOINT is allowed, once known
        with psycopg.connect(replace_database(self.url, "postgres"), autocommit=True) as conn:
            self.version = conn.execute(sqlfiles.statement("queries/server_version.sql")).fetchone()[0]

    def new_database(self, purpose: str) -> str:
        name = f"warehouse_bench_{purpose}_{uuid.uuid4().hex[:6]}"
        with psycopg.connect(replace_database(self.url, "postgres"), autocommit=True) as conn:
            conn.execute(sqlfiles.composed("queries/create_database.sql", name=sql.Identifier(name)))
        self.created.append(name)
        return replace_database(self.url, name)

    def checkpoint(self) -> None:
        """Start the next measurement on a server that is not still writing out the last one's
        work; skipped (once said) where the benchmark's user may not (CHECKPOINT needs a superuser
        or pg_checkpoint)."""
        if self.checkpoints is False:
            return
        try:
            with psycopg.connect(replace_database(self.url, "postgres"), autocommit=True) as conn:
                conn.execute(sqlfiles.statement("queries/checkpoint.sql"))
            self.checkpoints = True
        except psycopg.errors.InsufficientPrivilege:
            self.checkpoints = False
            say("(no CHECKPOINT between measurements: the user may not; each may pay for the last one's writes)")

    def drop_all(self) -> None:
        with psycopg.connect(replace_database(self.url, "postgres"), autocommit=True) as conn:
            for name in self.created:
                conn.execute(sqlfiles.composed("queries/drop_database.sql", name=sql.Identifier(name)))


def measure_limit(url: str, csv_path: Path) -> dict:
    timings = {}
    with connect(url, autocommit=True) as conn:
        conn.execute(sqlfiles.read("bench/limit_tables.sql"))
        started = time.perf_counter()
        with conn.cursor().copy(sqlfiles.statement("bench/limit_copy.sql")) as copy, open(csv_path, "rb") as fh:
            while block := fh.read(1 << 20):
                copy.write(block)
        timings["copy"] = time.perf_counter() - started
        t = time.perf_counter()
        conn.execute(sqlfiles.statement("bench/limit_insert.sql"))
        timings["insert"] = time.perf_counter() - t
        t = time.perf_counter()
        conn.execute(sqlfiles.statement("bench/limit_customers.sql"))
        timings["customers"] = time.perf_counter() - t
        timings["total"] = time.perf_counter() - started
    return timings


def _peak_rss(proc: subprocess.Popen) -> int:
    """Highest resident set size of the process (and its children) until it exits, sampled.

    Not getrusage's ru_maxrss: that also counts the moment between fork and exec, when the
    child is still a copy of this (large) process. For the same reason a child still running the
    parent's command line is not counted (one sample of a 100-file load caught Dagster's log
    mirror between fork and exec and read 512 MB for a 276 MB process with 25 MB of children).
    """
    peak = 0
    watched = psutil.Process(proc.pid)
    while proc.poll() is None:
        try:
            command = watched.cmdline()
            rss = watched.memory_info().rss
            for child in watched.children(recursive=True):
                try:
                    if child.cmdline() != command:
                        rss += child.memory_info().rss
                except psutil.Error:  # exited meanwhile
                    pass
            peak = max(peak, rss)
        except psutil.Error:
            pass
        time.sleep(0.02)
    return peak


def run_load(url: str, landing: Path, home: Path, products: Path, *, skip_products: bool = False) -> dict:
    """`warehouse load` in a fresh Python process: wall time, peak RSS, and its runs' times."""
    env = {
        **os.environ,
        "WAREHOUSE_DATABASE_URL": url,
        "DAGSTER_PG_URL": dagster_storage_url(url),
        "DAGSTER_HOME": str(home),
        "WAREHOUSE_LANDING_DIR": str(landing),
        "WAREHOUSE_LAYOUTS_DIR": str(landing / "_no_layouts"),
        "FAKESTORE_BASE_URL": str(products),
    }
    argv = [sys.executable, "-m", "warehouse_assets.cli.main", "load", *(["--skip-products"] if skip_products else [])]
    started, wall_started = time.perf_counter(), time.time()
    with tempfile.TemporaryFile("w+") as out_file:
        proc = subprocess.Popen(argv, env=env, stdout=out_file, stderr=subprocess.STDOUT, text=True)
        peak = _peak_rss(proc)
        wall = time.perf_counter() - started
        out_file.seek(0)
        output = out_file.read()
    if proc.returncode != 0:
        raise RuntimeError(f"warehouse load failed (exit {proc.returncode}):\n{output[-4000:]}")
    return {"process_seconds": wall, "peak_rss_mb": peak / 2**20, "runs": _run_times(env, since=wall_started)}


def _run_times(env: dict, since: float) -> dict[str, float]:
    """The time each job's runs took (summed), for the runs started after `since` (epoch seconds),
    read from the Dagster instance the load used."""
    code = (
        "import json, sys, dagster as dg\n"
        "inst = dg.DagsterInstance.get()\n"
        "out = {}\n"
        "for r in inst.get_run_records():\n"
        "    if r.start_time and r.end_time and r.start_time >= float(sys.argv[1]):\n"
        "        out[r.dagster_run.job_name] = out.get(r.dagster_run.job_name, 0) + r.end_time - r.start_time\n"
        "print(json.dumps(out))\n"
    )
    done = subprocess.run([sys.executable, "-c", code, str(since)], env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure_dashboards(url: str) -> dict:
    """Each dashboard's every row, best of three: delivered to the client (COPY text, what the
    database and the wire cost) and made into Python rows (what a Python client adds on top)."""

    def best_of_three(measure) -> float:
        best = float("inf")
        for _ in range(3):
            t = time.perf_counter()
            measure()
            best = min(best, time.perf_counter() - t)
        return best

    def delivered(conn: psycopg.Connection, relation: sql.Identifier) -> None:
        with conn.cursor().copy(sqlfiles.composed("queries/copy_all_out.sql", relation=relation)) as copy:
            for _ in copy:
                pass

    def fetched(conn: psycopg.Connection, relation: sql.Identifier) -> None:
        conn.execute(sqlfiles.composed("queries/select_all.sql", relation=relation)).fetchall()

    out = {}
    with connect(url, autocommit=True) as conn:
        for name in DASHBOARDS:
            relation = sql.Identifier(*name.split("."))
            out[name] = {
                "rows": conn.execute(sqlfiles.composed("queries/row_count.sql", relation=relation)).fetchone()[0],
                "delivered": best_of_three(lambda: delivered(conn, relation)),  # noqa: B023 (called at once)
                "python_rows": best_of_three(lambda: fetched(conn, relation)),  # noqa: B023
            }
    return out


def _spec(args: argparse.Namespace, rows: int, **kw) -> SalesSpec:
    return SalesSpec(
        rows=rows, customers=args.customers, products=args.products, bad_share=args.bad_share, seed=args.seed, **kw
    )


def write_daily_parts(args: argparse.Namespace, folder: Path) -> list[Path]:
    """`args.rows` rows as `args.files` daily exports: file i holds the sales of day i."""
    per_file = -(-args.rows // args.files)
    parts = []
    for i in range(args.files):
        rows = min(per_file, args.rows - i * per_file)
        if rows <= 0:
            break
        day = dt.date(2024, 1, 1) + dt.timedelta(days=i)
        spec = _spec(args, rows, id_prefix=f"F{i:04d}", start=day, end=day)
        spec.seed = args.seed + 100 + i
        parts.append(folder / f"sales_{day.isoformat()}.csv")
        generate_sales(parts[-1], spec, track_planted=False)
    return parts


def concatenate(parts: list[Path], target: Path) -> None:
    """The parts as one file: the first one's header, then every part's rows."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "wb") as out:
        for i, part in enumerate(parts):
            with open(part, "rb") as fh:
                header = fh.readline()
                if i == 0:
                    out.write(header)
                shutil.copyfileobj(fh, out)


def main(args: argparse.Namespace, settings: Settings) -> int:
    server = Server(settings)
    say(f"benchmark on {mask_url(server.url)} (PostgreSQL {server.version})")
    results: dict = {
        "when": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.node()} {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "postgres": server.version,
        "rows": args.rows,
        "bad_share": args.bad_share,
    }
    try:
        with tempfile.TemporaryDirectory(prefix="warehouse-bench-") as tmp:
            root = Path(tmp)
            products = write_products(root / "products.json", args.products)
            landing = root / "landing"
            t = time.perf_counter()
            generate_sales(landing / "bench.csv", _spec(args, args.rows, id_prefix="BENCH"), track_planted=False)
            say(f"generated {args.rows:,} rows in {time.perf_counter() - t:.1f}s")

            say("measuring the limit (COPY + INSERT ... SELECT + customer upsert) ...")
            server.checkpoint()
            results["limit"] = measure_limit(server.new_database("limit"), landing / "bench.csv")

            say("loading the same file with `warehouse load` ...")
            server.checkpoint()
            url = server.new_database("load")
            results["warehouse"] = run_load(url, landing, root / "home", products)

            say(f"incremental: one new file of {args.incremental_rows:,} rows ...")
            incremental = _spec(
                args, args.incremental_rows, id_prefix="INCR", start=dt.date(2025, 1, 1), end=dt.date(2025, 1, 1)
            )
            incremental.seed = args.seed + 1
            generate_sales(landing / "incremental.csv", incremental, track_planted=False)
            server.checkpoint()
            results["incremental"] = run_load(url, landing, root / "home", products, skip_products=True)

            say("querying the dashboards ...")
            results["dashboards"] = measure_dashboards(url)

            if args.files:
                say(f"the same {args.rows:,} rows as {args.files} daily files and as one file ...")
                many, one = root / "many", root / "one"
                parts = write_daily_parts(args, many)
                concatenate(parts, one / "all_days.csv")
                pairs = []
                for _ in range(max(1, args.repeat)):
                    server.checkpoint()
                    single = run_load(server.new_database("one"), one, root / "home_one", products)
                    server.checkpoint()
                    batch = {
                        "files": len(parts),
                        **run_load(server.new_database("many"), many, root / "home_many", products),
                    }
                    pairs.append((batch["process_seconds"] / single["process_seconds"], single, batch))
                # The pair whose ratio is the median stands for all (its two loads ran side by side).
                pairs.sort(key=lambda pair: pair[0])
                _, results["one_file"], results["many_files"] = pairs[(len(pairs) - 1) // 2]
                results["file_ratios"] = [ratio for ratio, _, _ in pairs]
    finally:
        if args.keep:
            results["kept_databases"] = list(server.created)
        else:
            server.drop_all()
    print_table(results)
    Path(args.json).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    say(f"\nresults written to {args.json}")
    return 0


def print_table(r: dict) -> None:
    rows = r["rows"]
    limit = r["limit"]["total"]
    w, inc = r["warehouse"], r["incremental"]

    def line(
        what: str, seconds: float | None, n: int | None = None, rss: float | None = None, ratio: bool = True
    ) -> str:
        if seconds is None:
            return f"| {what} | n/a | | | |"
        rate = f"{n / seconds:,.0f}" if n else ""
        rel = f"{seconds / limit:.2f}x" if ratio else ""
        mem = f"{rss:,.0f} MB" if rss else ""
        return f"| {what} | {seconds:.2f} s | {rate} | {rel} | {mem} |"

    say(f"\n{rows:,} rows, {r['bad_share']:.0%} bad; {r['machine']}; PostgreSQL {r['postgres']}\n")
    say("| measurement | time | rows/s | vs limit | peak RSS |")
    say("|---|---|---|---|---|")
    say(line("limit: COPY into staging", r["limit"]["copy"], rows, ratio=False))
    say(line("limit: INSERT ... SELECT into the fact table", r["limit"]["insert"], rows, ratio=False))
    say(line("limit: customer upsert", r["limit"]["customers"], ratio=False))
    say(line("**limit: total**", limit, rows))
    say(line("warehouse: sales run", w["runs"].get("sales_files_job"), rows))
    say(line("**warehouse: whole `warehouse load` process**", w["process_seconds"], rows, w["peak_rss_mb"]))
    say(
        line(
            f"a new {r.get('incremental_rows', 1000):,}-row file: sales run (views refreshed)",
            inc["runs"].get("sales_files_job"),
            ratio=False,
        )
    )
    say(line("a new file: whole process", inc["process_seconds"], None, inc["peak_rss_mb"], ratio=False))
    for relation, d in r["dashboards"].items():
        say(
            f"| dashboard {relation} ({d['rows']:,} row{'' if d['rows'] == 1 else 's'}): to the client; as Python rows"
            f" | {d['delivered'] * 1000:.0f} ms; {d['python_rows'] * 1000:.0f} ms | | | |"
        )
    if "many_files" in r:
        m, o = r["many_files"], r["one_file"]
        say(line(f"{m['files']} daily files as one file: whole process", o["process_seconds"], rows, o["peak_rss_mb"]))
        say(line(f"the same {m['files']} daily files: whole process", m["process_seconds"], rows, m["peak_rss_mb"]))
        ratios = r["file_ratios"]
        spread = f" (median of {len(ratios)}: {', '.join(f'{x:.2f}' for x in ratios)})" if len(ratios) > 1 else ""
        say(f"\n{m['files']} files / 1 file = {m['process_seconds'] / o['process_seconds']:.2f}{spread}")
    verdict = "meets" if w["process_seconds"] <= TARGET_RATIO * limit else "misses"
    say(f"\nwhole load / limit = {w['process_seconds'] / limit:.2f} ({verdict} the {TARGET_RATIO:.1f}x target)")
