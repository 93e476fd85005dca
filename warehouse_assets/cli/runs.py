"""Running jobs for the CLI, quietly, and reading what they did.

Runs go through Dagster with the persistent instance (DAGSTER_HOME, stored in PostgreSQL), so what
a command does shows up in the UI like any other run, tagged with the command that launched it.
Dagster's event log reaches the terminal only with --verbose; otherwise a failed step is told as
its root cause in one line, and a failed sales file as its own error.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import dagster as dg

from warehouse_assets.defs.alerts import BLOCKED_BY_CHECK, root_cause

LOGGERS_QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
LOGGERS_VERBOSE = {"loggers": {"console": {"config": {"log_level": "DEBUG"}}}}


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


def persistent_instance() -> dg.DagsterInstance:
    """The Dagster instance of DAGSTER_HOME, holding its storage connections open for the command.

    Dagster's PostgreSQL storage opens a new connection for every event it stores unless told to
    pool them (as the webserver does): a run of a hundred files stores about six hundred events,
    and connecting for each cost more than loading the files.
    """
    instance = dg.DagsterInstance.get()
    # statement_timeout 0: no limit, a long run's bookkeeping must not be cut off.
    instance.optimize_for_webserver(statement_timeout=0, pool_recycle=3600, max_overflow=4)
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
        tags=tags,
        run_config=LOGGERS_VERBOSE if verbose else LOGGERS_QUIET,
        asset_selection=list(asset_selection) if asset_selection else None,
    )
    return read_outcome(label, result, time.perf_counter() - started)
