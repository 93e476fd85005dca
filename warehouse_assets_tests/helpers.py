"""Helpers the tests share: running the project's real jobs against a test's own database."""

from __future__ import annotations

import dagster as dg

from warehouse_assets.definitions import build_definitions


def definitions(warehouse_url: str) -> dg.Definitions:
    """The project's Definitions, wired to the test's database (FakeStore from the environment)."""
    return build_definitions(warehouse_url)


def load_sales_file(
    defs: dg.Definitions, instance: dg.DagsterInstance, key: str, *, raise_on_error: bool = False
) -> dg.ExecuteInProcessResult:
    """Materialize one landing file through sales_file_job, as the sensor's run would."""
    if key not in instance.get_dynamic_partitions("sales_files"):
        instance.add_dynamic_partitions("sales_files", [key])
    return defs.resolve_job_def("sales_file_job").execute_in_process(
        instance=instance, partition_key=key, raise_on_error=raise_on_error
    )


def refresh_products(
    defs: dg.Definitions, instance: dg.DagsterInstance, *, raise_on_error: bool = False
) -> dg.ExecuteInProcessResult:
    return defs.resolve_job_def("products_job").execute_in_process(instance=instance, raise_on_error=raise_on_error)


def run_checks(defs: dg.Definitions, instance: dg.DagsterInstance) -> dict[str, dg.AssetCheckEvaluation]:
    """Run every check over the whole warehouse; results by check name (see check_results)."""
    result = defs.resolve_job_def("warehouse_checks_job").execute_in_process(instance=instance, raise_on_error=False)
    return check_results(result)


def check_results(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    """Evaluations by check name; a name that several assets share (Dagster's freshness checks
    are all called freshness_check) is keyed 'asset:check' instead."""
    evaluations = result.get_asset_check_evaluations()
    names = [e.check_name for e in evaluations]
    return {
        (e.check_name if names.count(e.check_name) == 1 else f"{e.asset_key.to_user_string()}:{e.check_name}"): e
        for e in evaluations
    }


def step_failures(result: dg.ExecuteInProcessResult) -> dict[str, str]:
    out = {}
    for event in result.all_events:
        if event.event_type_value == "STEP_FAILURE":
            error = event.event_specific_data.error
            out[event.step_key] = error.to_string() if error else ""
    return out
