"""The `warehouse` command: a thin layer over Dagster for people, scripts and cron.

    warehouse dev          start the embedded PostgreSQL if needed, then the Dagster UI
    warehouse load         refresh products, load new or changed sales files, report checks
    warehouse check        run every integrity check over the whole warehouse
    warehouse report       write the executive summary as an HTML page, print its figures
    warehouse bench        measure the load against PostgreSQL's own limit
    warehouse sample-data  write realistic sales CSV files (and a products snapshot)
    warehouse db-url       print the URL of the database in use (password masked)
    warehouse roles        create or refresh the warehouse_reader and warehouse_loader roles
    warehouse stop         stop the embedded PostgreSQL
    warehouse config       print every setting, the value in effect and where it comes from

The settings are read from the environment here, once per command, and passed down.
"""

from __future__ import annotations

import argparse
import gc
import sys
import traceback
from typing import NoReturn

from warehouse_assets.core.settings import Settings, SettingsError


def _dev(args, settings):
    from warehouse_assets.cli.dev import cmd_dev

    return cmd_dev(args, settings)


def _load(args, settings):
    from warehouse_assets.cli.load import cmd_load

    return cmd_load(args, settings)


def _check(args, settings):
    from warehouse_assets.cli.load import cmd_check

    return cmd_check(args, settings)


def _report(args, settings):
    from warehouse_assets.cli.report import cmd_report

    return cmd_report(args, settings)


def _bench(args, settings):
    from warehouse_assets.cli import bench

    return bench.main(args, settings)


def _sample_data(args, settings):
    from warehouse_assets.cli.sample_data import cmd_sample_data

    return cmd_sample_data(args, settings)


def _admin(name):
    def run(args, settings):
        from warehouse_assets.cli import admin

        return getattr(admin, name)(args, settings)

    return run


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="warehouse", description=__doc__.split("\n\n")[0])
    parser.add_argument("--verbose", "-v", action="store_true", help="show Dagster's event log and stack traces")
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name: str, func, help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help)
        p.add_argument(
            "--verbose",
            "-v",
            action="store_true",
            default=argparse.SUPPRESS,
            help="show Dagster's event log and stack traces",
        )
        p.set_defaults(func=func)
        return p

    p = command("dev", _dev, "start the Dagster UI on this project (embedded PostgreSQL if needed)")
    p.add_argument("--host", help="address to bind the UI to (default WAREHOUSE_WEBSERVER_HOST)")
    p.add_argument("--port", type=int, help="port of the UI (default WAREHOUSE_WEBSERVER_PORT)")

    p = command("load", _load, "refresh products and load new or changed sales files through Dagster")
    p.add_argument("--skip-products", action="store_true", help="do not refresh products first")
    p.add_argument("--all", action="store_true", help="reload every landing file, changed or not")

    command("check", _check, "run every check over the whole warehouse")

    p = command("report", _report, "write the executive summary as HTML and print its figures")
    p.add_argument("--out", help="HTML file to write (default reports/executive_summary.html)")

    p = command("sample-data", _sample_data, "write a realistic sales CSV (and a products snapshot)")
    from warehouse_assets.cli.sample_data import add_arguments as sample_arguments

    sample_arguments(p)

    p = command("db-url", _admin("cmd_db_url"), "print the URL of the warehouse database")
    p.add_argument("--show-password", action="store_true")
    p.add_argument("--dagster", action="store_true", help="the URL Dagster's storage uses")

    command(
        "roles",
        _admin("cmd_roles"),
        "create or refresh the warehouse_reader and warehouse_loader roles (run as a superuser)",
    )
    command("stop", _admin("cmd_stop"), "stop the embedded PostgreSQL")
    command("config", _admin("cmd_config"), "print every setting and the value in effect")

    p = command("bench", _bench, "benchmark the load against PostgreSQL's own limit")
    from warehouse_assets.cli.bench import add_arguments as bench_arguments

    bench_arguments(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_environment()
        return args.func(args, settings)
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # one clear line for people; the trace with --verbose
        if args.verbose:
            traceback.print_exc()
        else:
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            print(f"error: {message} (run with --verbose for details)", file=sys.stderr)
        return 1


def run() -> NoReturn:
    """The `warehouse` command as a process of its own (the console script, `python -m`)."""
    code = main()
    # The command is done and the process ends here. Python's shutdown collects garbage again
    # and again while it tears the modules down, each time walking every object Dagster and the
    # libraries made (about 260,000 after a load: 0.9 s at its end, measured). Frozen, they are
    # left to the operating system with the rest of the process's memory; what refers to nothing
    # is still freed, and the exit handlers still run.
    gc.freeze()
    sys.exit(code)


if __name__ == "__main__":
    run()
