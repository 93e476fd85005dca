"""`warehouse dev`: the embedded PostgreSQL if needed, then the Dagster UI and daemon (`dg dev`).

Quiet by default: Dagster's services and the runs the daemon launches log warnings and errors
only (no line per sensor tick, no line per run event); --verbose shows their info logs and every
run event.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

from warehouse_assets.cli.environment import prepare
from warehouse_assets.cli.output import say
from warehouse_assets.core.settings import Settings
from warehouse_assets.core.urls import mask_url


def dg_command(settings: Settings, host: str, port: int, verbose: bool) -> list[str]:
    dg = shutil.which("dg") or str(Path(sys.executable).parent / "dg")
    level = "info" if verbose else "warning"
    return [
        dg,
        "dev",
        "--use-active-venv",
        "-h",
        host,
        "-p",
        str(port),
        "--log-level",
        level,
        "--code-server-log-level",
        level,
    ]


def cmd_dev(args: argparse.Namespace, settings: Settings) -> int:
    env = prepare(settings)
    host = args.host or settings.webserver_host
    port = args.port or settings.webserver_port
    say(f"warehouse database: {mask_url(env.database_url)}")
    say(f"Dagster UI: http://{host}:{port}  (DAGSTER_HOME={os.environ['DAGSTER_HOME']}; Ctrl-C stops it)")
    if host not in ("127.0.0.1", "localhost", "::1"):
        say("warning: the UI has no login; anyone who can reach this address can run jobs")
    argv = dg_command(settings, host, port, args.verbose)
    # dg runs the project in the environment this command runs in, activated or not.
    os.environ["VIRTUAL_ENV"] = sys.prefix
    if args.verbose:
        os.environ["WAREHOUSE_RUN_LOG_LEVEL"] = "DEBUG"
    os.chdir(settings.project_dir)
    os.execv(argv[0], argv)
    return 0  # not reached
