"""A sales file load in a process of its own, stopped or paused at a named step of its
transaction: the crash and race tests kill it or hold it there (see support.processes).

    python -m warehouse_assets_tests.support.load_child URL PATH KEY [--pause-at STEP MARKER GO]
                                                                  [--kill-at STEP]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import signal
import time
from pathlib import Path

from warehouse_assets.core.sales_reader import SalesFileReader
from warehouse_assets.db.connection import Database
from warehouse_assets.db.sales_load import load_sales_file


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("path")
    parser.add_argument("key")
    parser.add_argument("--pause-at", nargs=3, metavar=("STEP", "MARKER", "GO"))
    parser.add_argument("--kill-at")
    args = parser.parse_args()

    def hook(step: str) -> None:
        if args.pause_at and step == args.pause_at[0]:
            Path(args.pause_at[1]).write_text(str(os.getpid()))
            while not Path(args.pause_at[2]).exists():  # the test releases it by creating GO
                time.sleep(0.01)
        if step == args.kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    now = dt.datetime.now(dt.timezone.utc)
    reader = SalesFileReader(Path(args.path), source_file=args.key, load_time=now, earliest=dt.date(2000, 1, 1))
    load_sales_file(Database(args.url), reader, loaded_at=now, run_id="child", layout_version=None, step_hook=hook)


if __name__ == "__main__":
    main()
