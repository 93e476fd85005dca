"""Running jobs for the CLI, quietly, and reading what they did.

Runs go through Dagster with the persistent instance (DAGSTER_HOME, stored in PostgreSQL), so what
a command does shows up in the UI like any other run, tagged with the command that launched it.
Dagster's event log reaches the terminal only with --verbose; otherwise a failed step is told as
its root cause in one line, and a failed sales file as its own error.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg
import psutil
from dagster._core.instance.ref import InstanceRef

from warehouse_assets.cli.compute_logs import step_logs_override
from warehouse_assets.cli.output import say
from warehouse_assets.defs.alerts import BLOCKED_BY_CHECK, root_cause
from warehouse_assets.defs.jobs import console_log_config

# The CLI tells what happened itself; Dagster's console lines only with --verbose.
LOGGERS_QUIET = console_log_config("CRITICAL")
LOGGERS_VERBOSE = console_log_config("DEBUG")


@dataclass(frozen=True)
class CheckOutcome:
    asset: str
    name: str
    passed: bool
    severity: str
    detail: str  # the failing counts, e.g. "non_positive_price=1"
    scope: str


@dataclass
class RunOutcome:
    label: str
    run_id: str
    success: bool
    seconds: float
    failures: list[str] = field(default_factory=list)  # root cause of each failed step
    failed_files: dict[str, str] = field(default_factory=dict)
    checks: list[CheckOutcome] = field(default_factory=list)
    materializations: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # asset -> metadata


def read_outcome(label: str, result: dg.ExecuteInProcessResult, seconds: float) -> RunOutcome:
    outcome = RunOutcome(label=label, run_id=result.run_id, success=result.success, seconds=seconds)
    for event in result.all_events:
        if event.event_type_value == "STEP_FAILURE":
            data = event.event_specific_data
            failure = getattr(data, "user_failure_data", None)
            files = (
                failure.metadata.get("failed_files").value if failure and "failed_files" in failure.metadata else None
            ) or {}
            if files:
                outcome.failed_files.update(files)
            elif data.error is not None and data.error.cls_name != BLOCKED_BY_CHECK:
                outcome.failures.append(f"{event.step_key}: {root_cause(data.error)}")
        elif event.event_type_value == "ASSET_MATERIALIZATION":
            m = event.event_specific_data.materialization
            outcome.materializations.setdefault(m.asset_key.to_user_string(), []).append(
                {"partition": m.partition, **{k: v.value for k, v in m.metadata.items()}}
            )
    for evaluation in result.get_asset_check_evaluations():
        failing = evaluation.metadata.get("failing")
        detail = str(failing.value) if failing and not evaluation.passed else ""
        scope = evaluation.metadata.get("scope")
        outcome.checks.append(
            CheckOutcome(
                asset=evaluation.asset_key.to_user_string(),
                name=evaluation.check_name,
                passed=evaluation.passed,
                severity=evaluation.severity.value,
                detail=detail,
                scope=str(scope.value) if scope else "",
            )
        )
    return outcome


# Which process on which machine executes a run the CLI started, so a later command can tell a
# run whose process died (killed, out of memory, machine restarted) from one still going.
PID_TAG, HOST_TAG = "warehouse/pid", "warehouse/host"
UNFINISHED = [dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED]


def process_tags() -> dict[str, str]:
    return {PID_TAG: str(os.getpid()), HOST_TAG: socket.gethostname()}


def _alive(pid: int, run_created: float) -> bool:
    """Whether the process that started the run still runs: a process with the same pid that was
    created after the run is another one (pids are reused)."""
    try:
        process = psutil.Process(pid)
        return process.status() != psutil.STATUS_ZOMBIE and process.create_time() <= run_created + 1
    except psutil.Error:
        return False


def fail_abandoned_runs(instance: dg.DagsterInstance) -> list[str]:
    """Mark failed the runs a CLI command of this machine started and whose process is gone.

    Dagster's run monitoring does this for runs its daemon launched; runs executed in a CLI
    process have no run worker to watch, so the next command does it. Returns their run ids.
    """
    host = socket.gethostname()
    records = instance.get_run_records(filters=dg.RunsFilter(statuses=UNFINISHED, tags={HOST_TAG: host}))
    failed = []
    for record in records:
        run = record.dagster_run
        pid = int(run.tags.get(PID_TAG, "0"))
        if pid == os.getpid() or (pid and _alive(pid, record.create_timestamp.timestamp())):
            continue
        instance.report_run_failed(
            run, message=f"The process that ran this run (pid {pid}) ended before the run finished."
        )
        failed.append(run.run_id)
    return failed


def persistent_instance(dagster_home: Path, *, verbose: bool) -> dg.DagsterInstance:
    """The Dagster instance of `dagster_home` (prepared by cli.environment), holding its storage
    connections open for the command, its steps' output kept in files and shown on the terminal
    only when `verbose` (cli.compute_logs).

    Dagster's PostgreSQL storage opens a new connection for every event it stores unless told to
    pool them (as the webserver does): a run of a hundred files stores about six hundred events,
    and connecting for each cost more than loading the files.
    """
    instance = dg.DagsterInstance.from_ref(
        InstanceRef.from_dir(str(dagster_home), overrides=step_logs_override(dagster_home, mirror=verbose))
    )
    # statement_timeout 0: no limit, a long run's bookkeeping must not be cut off.
    instance.optimize_for_webserver(statement_timeout=0, pool_recycle=3600, max_overflow=4)
    abandoned = fail_abandoned_runs(instance)
    if abandoned:
        say(f"marked {len(abandoned)} run(s) failed whose process had died: {', '.join(r[:8] for r in abandoned)}")
    return instance


def execute(
    defs: dg.Definitions,
    job_name: str,
    instance: dg.DagsterInstance,
    *,
    label: str,
    tags: dict[str, str],
    verbose: bool,
    asset_selection: Sequence[dg.AssetKey] | None = None,
) -> RunOutcome:
    started = time.perf_counter()
    result = defs.resolve_job_def(job_name).execute_in_process(
        instance=instance,
        raise_on_error=False,
        tags={**tags, **process_tags()},
        run_config=LOGGERS_VERBOSE if verbose else LOGGERS_QUIET,
        asset_selection=list(asset_selection) if asset_selection else None,
    )
    return read_outcome(label, result, time.perf_counter() - started)
