"""Running the project's real jobs in tests, and reading their results."""

from __future__ import annotations

from collections.abc import Sequence

import dagster as dg

from warehouse_assets.core.batches import plan_batches
from warehouse_assets.defs.jobs import CHECKS_JOB, PRODUCTS_JOB, SALES_JOB
from warehouse_assets.defs.planning import RANGE_END_TAG, RANGE_START_TAG
from warehouse_assets.defs.sales import SALES_FILES


def register(instance: dg.DagsterInstance, keys: Sequence[str]) -> list[str]:
    """Add the files that are not partitions yet; returns the partitions in order."""
    existing = list(instance.get_dynamic_partitions(SALES_FILES.name))
    new = [k for k in keys if k not in existing]
    if new:
        instance.add_dynamic_partitions(SALES_FILES.name, new)
    return [*existing, *new]


def load_files(
    defs: dg.Definitions, instance: dg.DagsterInstance, keys: Sequence[str], *, raise_on_error: bool = False
) -> list[dg.ExecuteInProcessResult]:
    """Load sales files through sales_files_job as the sensor would: one run per contiguous range."""
    order = register(instance, keys)
    results = []
    for batch in plan_batches(order, dict.fromkeys(keys, 1), max_files=10_000, max_bytes=10**12):
        results.append(
            defs.resolve_job_def(SALES_JOB).execute_in_process(
                instance=instance,
                raise_on_error=raise_on_error,
                tags={RANGE_START_TAG: batch.first, RANGE_END_TAG: batch.last},
            )
        )
    return results


def load_file(defs: dg.Definitions, instance: dg.DagsterInstance, key: str, **kw) -> dg.ExecuteInProcessResult:
    (result,) = load_files(defs, instance, [key], **kw)
    return result


def refresh_products(defs: dg.Definitions, instance: dg.DagsterInstance, **kw) -> dg.ExecuteInProcessResult:
    return defs.resolve_job_def(PRODUCTS_JOB).execute_in_process(
        instance=instance, raise_on_error=kw.get("raise_on_error", False)
    )


def run_checks(defs: dg.Definitions, instance: dg.DagsterInstance) -> dict[str, dg.AssetCheckEvaluation]:
    """Every check over the whole warehouse; results by check name."""
    result = defs.resolve_job_def(CHECKS_JOB).execute_in_process(instance=instance, raise_on_error=False)
    return check_results(result)


def check_results(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def step_failures(result: dg.ExecuteInProcessResult) -> dict[str, str]:
    out = {}
    for event in result.all_events:
        if event.event_type_value == "STEP_FAILURE":
            error = event.event_specific_data.error
            out[event.step_key] = error.to_string() if error else ""
    return out


def failed_files(result: dg.ExecuteInProcessResult) -> dict[str, str]:
    """The files a sales run reports as failed, with their errors."""
    for event in result.all_events:
        if event.event_type_value == "STEP_FAILURE":
            failure = event.event_specific_data.user_failure_data
            if failure is not None and "failed_files" in failure.metadata:
                return dict(failure.metadata["failed_files"].value)
    return {}


def metadata(instance: dg.DagsterInstance, asset: str, partition: str | None = None) -> dict:
    """The latest materialization's metadata of an asset (or of one partition), as plain values."""
    key = dg.AssetKey(asset)
    if partition is None:
        event = instance.get_latest_materialization_event(key)
    else:
        records = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=key, asset_partitions=[partition]), limit=1
        ).records
        event = records[0].event_log_entry if records else None
    assert event is not None, f"{asset} {partition or ''} was never materialized"
    return {k: v.value for k, v in event.asset_materialization.metadata.items()}
