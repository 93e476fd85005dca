"""A run of sales_files_job over a range of files in a process of its own, killed (SIGKILL) at a
named step of one file's load transaction: what a crash in the middle of a batch leaves.

    python -m warehouse_assets_tests.support.run_child SETTINGS_JSON KEY... --kill-at KEY STEP [--as-cli]

With --as-cli the run goes through the CLI's own runner into the persistent instance of
DAGSTER_HOME, as `warehouse load` runs it; otherwise into an ephemeral instance.
"""

from __future__ import annotations

import argparse
import json
import os
import signal

import dagster as dg

from warehouse_assets.core.progress import LoadObserver
from warehouse_assets.core.settings import Settings
from warehouse_assets.defs.build import build_definitions
from warehouse_assets.defs.jobs import SALES_JOB
from warehouse_assets.defs.planning import RANGE_END_TAG, RANGE_START_TAG
from warehouse_assets.defs.sales import SALES_FILES


class KillAt(LoadObserver):
    def __init__(self, key: str, step: str) -> None:
        self.key, self.step = key, step

    def load_step(self, key: str, step: str) -> None:
        if (key, step) == (self.key, self.step):
            os.kill(os.getpid(), signal.SIGKILL)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("settings", help="the variables of the settings, as JSON")
    parser.add_argument("keys", nargs="+")
    parser.add_argument("--kill-at", nargs=2, metavar=("KEY", "STEP"), required=True)
    parser.add_argument("--as-cli", action="store_true")
    args = parser.parse_args()
    settings = Settings.from_environment(json.loads(args.settings))
    tags = {RANGE_START_TAG: args.keys[0], RANGE_END_TAG: args.keys[-1]}
    if args.as_cli:
        from warehouse_assets.cli.environment import prepare
        from warehouse_assets.cli.runs import execute, persistent_instance

        prepared = prepare(settings).settings
        defs = build_definitions(prepared, observer=KillAt(*args.kill_at))
        instance = persistent_instance(prepared.dagster_home, verbose=False)
        instance.add_dynamic_partitions(SALES_FILES.name, args.keys)
        execute(defs, SALES_JOB, instance, label="sales files", tags=tags, verbose=False)
        return
    defs = build_definitions(settings, observer=KillAt(*args.kill_at))
    with dg.DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions(SALES_FILES.name, args.keys)
        defs.resolve_job_def(SALES_JOB).execute_in_process(instance=instance, tags=tags, raise_on_error=False)


if __name__ == "__main__":
    main()
