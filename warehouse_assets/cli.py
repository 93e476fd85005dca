"""The `warehouse` command: a thin layer over Dagster for people, scripts and cron.

    warehouse dev          start the embedded PostgreSQL if needed, then the Dagster UI
    warehouse load         refresh products, load new or changed sales files, report checks
    warehouse check        run every integrity and freshness check over the whole warehouse
    warehouse report       write the executive summary as an HTML page, print its figures
    warehouse bench        measure the load against PostgreSQL's own limit
    warehouse sample-data  write realistic sales CSV files (and a products snapshot)
    warehouse db-url       print the URL of the database in use (password masked)
    warehouse roles        create or refresh the warehouse_reader and warehouse_loader roles
    warehouse stop         stop the embedded PostgreSQL
    warehouse config       print every setting and where its value comes from

Runs go through Dagster with the persistent instance (DAGSTER_HOME, stored in PostgreSQL), so
what `warehouse load` does shows up in the UI like any other run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import sys
import time
from pathlib import Path

from warehouse_assets import settings
from warehouse_assets.resources.postgres import (
    dagster_storage_url,
    mask_url,
    stop_embedded_server,
    warehouse_database_url,
)


def prepare_environment() -> str:
    """Resolve the database (starting the embedded one if needed), export the variables Dagster
    and the code location read, and give Dagster a persistent home. Returns the warehouse URL."""
    url = warehouse_database_url()
    os.environ["WAREHOUSE_DATABASE_URL"] = url
    os.environ.setdefault("DAGSTER_PG_URL", dagster_storage_url(url))
    home = settings.dagster_home()
    home.mkdir(parents=True, exist_ok=True)
    source = settings.PROJECT_DIR / "dagster.yaml"
    target = home / "dagster.yaml"
    if not target.exists() or target.read_bytes() != source.read_bytes():
        shutil.copyfile(source, target)
    os.environ["DAGSTER_HOME"] = str(home)
    return url


def _say(message: str) -> None:
    print(message, flush=True)


# ------------------------------------------------------------------------------------ dev


def cmd_dev(args: argparse.Namespace) -> int:
    url = prepare_environment()
    _say(f"warehouse database: {mask_url(url)}")
    _say(f"Dagster UI: http://{args.host}:{args.port}  (DAGSTER_HOME={os.environ['DAGSTER_HOME']})")
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        _say("warning: the UI has no login; anyone who can reach this address can run jobs")
    dagster = shutil.which("dagster") or str(Path(sys.executable).parent / "dagster")
    argv = [
        dagster,
        "dev",
        "-m",
        "warehouse_assets.definitions",
        "-h",
        args.host,
        "-p",
        str(args.port),
    ]
    os.execv(dagster, argv)
    return 0  # not reached


# ------------------------------------------------------------------------------------ load


class RunReport:
    """Collects what the runs of one command did, for the summary and the exit code."""

    def __init__(self) -> None:
        self.runs: list[tuple[str, str, bool, float, str]] = []
        self.checks: list[tuple[str, str, bool, str, str]] = []

    def add(self, label: str, partition: str, result, seconds: float) -> None:
        failures = [f"{step}: {message}" for step, message in failure_messages(result).items()]
        self.runs.append((label, partition, result.success, seconds, "; ".join(failures)))
        for evaluation in result.get_asset_check_evaluations():
            severity = evaluation.severity.value
            detail = ""
            if not evaluation.passed:
                detail = ", ".join(
                    f"{k}={v.value}"
                    for k, v in evaluation.metadata.items()
                    if isinstance(v.value, int) and v.value and not k.endswith("checked")
                )
            name = f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}"
            self.checks.append((name, partition, evaluation.passed, severity, detail))

    @property
    def failed(self) -> bool:
        return any(not ok for _, _, ok, _, _ in self.runs) or any(
            not passed and severity == "ERROR" for _, _, passed, severity, _ in self.checks
        )

    def print(self) -> None:
        _say("\nRuns")
        for label, partition, ok, seconds, failures in self.runs:
            status = "ok" if ok else "FAILED"
            _say(f"  {status:6} {label:16} {partition or '-':40} {seconds:7.1f}s  {failures}")
        if self.checks:
            _say("\nChecks")
            for name, partition, passed, severity, detail in self.checks:
                status = "pass" if passed else ("FAIL" if severity == "ERROR" else "warn")
                _say(f"  {status:5} {name:44} {partition or 'whole warehouse':32} {detail}")


def failure_messages(result) -> dict[str, str]:
    """Each failed step's root cause, in one line (Dagster wraps it in an execution error)."""
    out = {}
    for event in result.all_events:
        if event.event_type_value != "STEP_FAILURE" or not event.event_specific_data.error:
            continue
        error = event.event_specific_data.error
        while error.cause is not None:
            error = error.cause
        out[event.step_key] = error.message.strip().splitlines()[0] if error.message.strip() else error.cls_name
    return out


def files_to_load(url: str, reload_all: bool) -> tuple[list[str], list[str]]:
    """Landing files whose content differs from what the ledger says was loaded (or all)."""
    from warehouse_assets.ingest.landing import FileState, scan_landing
    from warehouse_assets.resources.warehouse import connect, ensure_schema

    ensure_schema(url)
    known: dict[str, FileState] = {}
    if not reload_all:
        with connect(url) as conn:
            for key, size, digest in conn.execute(
                "SELECT source_file, size_bytes, fingerprint FROM warehouse.sales_files WHERE loaded_at IS NOT NULL"
            ):
                known[key] = FileState(size=size, mtime_ns=-1, sha256=digest)
    changes = scan_landing(settings.landing_dir(), known)
    return changes.to_load, changes.deleted


def dagster_session():
    """(warehouse URL, Definitions, the persistent instance) for a command that runs jobs."""
    url = prepare_environment()
    import dagster as dg

    from warehouse_assets.definitions import definitions_from_environment

    return url, definitions_from_environment(), dg.DagsterInstance.get()


def cmd_load(args: argparse.Namespace) -> int:
    url, defs, instance = dagster_session()
    _say(f"warehouse database: {mask_url(url)}")
    report = RunReport()
    if not args.skip_products:
        _say(f"refreshing products from {settings.get('FAKESTORE_BASE_URL')} ...")
        started = time.perf_counter()
        result = defs.resolve_job_def("products_job").execute_in_process(instance=instance, raise_on_error=False)
        report.add("products", "", result, time.perf_counter() - started)
        _say(f"  {'done' if result.success else 'FAILED'} in {time.perf_counter() - started:.1f}s")
    keys, deleted = files_to_load(url, args.all)
    for key in deleted:
        _say(f"note: {key} is no longer in the landing folder; the rows loaded from it are kept")
    if not keys:
        _say(f"no new or changed sales files in {settings.landing_dir()}")
    existing = set(instance.get_dynamic_partitions("sales_files"))
    new = [k for k in keys if k not in existing]
    if new:
        instance.add_dynamic_partitions("sales_files", new)
    job = defs.resolve_job_def("sales_file_job")
    for i, key in enumerate(keys, 1):
        _say(f"[{i}/{len(keys)}] loading {key} ...")
        started = time.perf_counter()
        result = job.execute_in_process(instance=instance, partition_key=key, raise_on_error=False)
        seconds = time.perf_counter() - started
        report.add("sales file", key, result, seconds)
        loaded = _materialization_value(result, "fact_sales", "rows_loaded")
        quarantined = _materialization_value(result, "fact_sales", "rows_quarantined")
        status = "done" if result.success else "FAILED"
        _say(
            f"  {status} in {seconds:.1f}s: {loaded if loaded is not None else '?'} rows loaded, "
            f"{quarantined if quarantined is not None else '?'} quarantined"
        )
    report.print()
    return 1 if report.failed else 0


def _materialization_value(result, asset: str, key: str):
    for materialization in result.asset_materializations_for_node(asset):
        if key in materialization.metadata:
            return materialization.metadata[key].value
    return None


def cmd_check(args: argparse.Namespace) -> int:
    url, defs, instance = dagster_session()
    _say(f"checking {mask_url(url)} ...")
    report = RunReport()
    started = time.perf_counter()
    result = defs.resolve_job_def("warehouse_checks_job").execute_in_process(instance=instance, raise_on_error=False)
    report.add("checks", "", result, time.perf_counter() - started)
    report.print()
    return 1 if report.failed else 0


# ------------------------------------------------------------------------------------ report


def cmd_report(args: argparse.Namespace) -> int:
    url = prepare_environment()
    from warehouse_assets import reporting
    from warehouse_assets.resources.warehouse import connect, ensure_schema

    ensure_schema(url)
    with connect(url) as conn:
        if conn.execute("SELECT to_regclass('analytics.executive_summary')").fetchone()[0] is None:
            _say("the analytics views do not exist yet: run `warehouse load` first")
            return 1
        summary = reporting.load_summary(conn)
    png = reporting.render_chart(summary)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(reporting.html_report(summary, png, dt.datetime.now(dt.timezone.utc)), encoding="utf-8")
    width = max(len(label) for label, _ in summary.formatted())
    for label, text in summary.formatted():
        _say(f"  {label:<{width}}  {text}")
    _say(f"report written to {out}")
    return 0


# ------------------------------------------------------------------------------------ other


def cmd_sample_data(args: argparse.Namespace) -> int:
    from warehouse_assets.sample_data import SalesSpec, generate_sales, write_products

    spec = SalesSpec(
        rows=args.rows,
        customers=args.customers,
        products=args.products,
        start=dt.date.fromisoformat(args.start),
        end=dt.date.fromisoformat(args.end),
        bad_share=args.bad_share,
        unknown_product_share=args.unknown_product_share,
        seed=args.seed,
        id_prefix=args.id_prefix,
    )
    out = Path(args.out) if args.out else settings.landing_dir() / f"sales_{args.seed}.csv"
    started = time.perf_counter()
    generated = generate_sales(out, spec, track_planted=False)
    _say(f"wrote {generated.rows:,} rows to {out} in {time.perf_counter() - started:.1f}s")
    if args.products_json:
        _say(f"wrote products snapshot to {write_products(Path(args.products_json), args.products)}")
    return 0


def cmd_db_url(args: argparse.Namespace) -> int:
    url = warehouse_database_url()
    if args.dagster:
        url = dagster_storage_url(url)
    print(url if args.show_password else mask_url(url))
    return 0


def cmd_stop(args: argparse.Namespace) -> int:
    if settings.get("WAREHOUSE_DATABASE_URL"):
        _say("WAREHOUSE_DATABASE_URL is set: no embedded server is in use")
        return 0
    _say("embedded PostgreSQL stopped" if stop_embedded_server() else "embedded PostgreSQL was not running")
    return 0


def cmd_roles(args: argparse.Namespace) -> int:
    from warehouse_assets.roles import apply_roles

    # Not prepare_environment/ensure_schema: on a fresh database the schema should be created by
    # the loader role, not by the administrator running this.
    url = warehouse_database_url()
    apply_roles(url)
    _say(f"roles warehouse_reader and warehouse_loader are set up in {mask_url(url)}")
    return 0


def cmd_config(args: argparse.Namespace) -> int:
    for setting in settings.SETTINGS:
        raw = os.environ.get(setting.name)
        value = setting.get()
        shown = mask_url(value) if (setting.secret and value) else value
        source = "environment" if raw else "default"
        _say(f"{setting.name:34} {shown if shown is not None else '(unset)'}  [{source}]")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from warehouse_assets import bench

    return bench.main(args)


# ------------------------------------------------------------------------------------ parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="warehouse", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("dev", help="start the Dagster UI on this project (embedded PostgreSQL if needed)")
    p.add_argument("--host", default=settings.get("WAREHOUSE_WEBSERVER_HOST"))
    p.add_argument("--port", type=int, default=int(settings.get("WAREHOUSE_WEBSERVER_PORT") or 3000))
    p.set_defaults(func=cmd_dev)

    p = sub.add_parser("load", help="refresh products and load new or changed sales files through Dagster")
    p.add_argument("--skip-products", action="store_true", help="do not refresh products first")
    p.add_argument("--all", action="store_true", help="reload every landing file, changed or not")
    p.set_defaults(func=cmd_load)

    p = sub.add_parser("check", help="run every check over the whole warehouse")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("report", help="write the executive summary as HTML and print its figures")
    p.add_argument("--out", default=str(settings.PROJECT_DIR / "reports" / "executive_summary.html"))
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("sample-data", help="write a realistic sales CSV (and a products snapshot)")
    p.add_argument("--rows", type=int, default=10_000)
    p.add_argument("--customers", type=int, default=500)
    p.add_argument("--products", type=int, default=20)
    p.add_argument("--start", default="2024-01-01")
    p.add_argument("--end", default="2024-12-31")
    p.add_argument("--bad-share", type=float, default=0.02, help="share of rows broken on purpose")
    p.add_argument("--unknown-product-share", type=float, default=0.0)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--id-prefix", default="TXN")
    p.add_argument("--out", help="CSV path (default: <landing dir>/sales_<seed>.csv)")
    p.add_argument("--products-json", help="also write a FakeStore-shaped products snapshot here")
    p.set_defaults(func=cmd_sample_data)

    p = sub.add_parser("db-url", help="print the URL of the warehouse database")
    p.add_argument("--show-password", action="store_true")
    p.add_argument("--dagster", action="store_true", help="the URL Dagster's storage uses")
    p.set_defaults(func=cmd_db_url)

    p = sub.add_parser(
        "roles",
        help="create or refresh the warehouse_reader and warehouse_loader roles (run as a superuser)",
    )
    p.set_defaults(func=cmd_roles)

    p = sub.add_parser("stop", help="stop the embedded PostgreSQL")
    p.set_defaults(func=cmd_stop)

    p = sub.add_parser("config", help="print every setting")
    p.set_defaults(func=cmd_config)

    p = sub.add_parser("bench", help="benchmark the load against PostgreSQL's own limit")
    from warehouse_assets.bench import add_arguments

    add_arguments(p)
    p.set_defaults(func=cmd_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
