"""The sales_files_sensor: new or changed CSV files of the landing folder become partitions, and
runs that load them in batches.

The cursor remembers each file's size, modification time and content hash, so a tick hashes only
files that look different. A tick requests one run per batch (a contiguous range of partitions,
bounded in files and bytes) for every file whose content or layout differs from what the ledger
records as loaded; files that arrive while a run is going are picked up by the next tick. A file
whose same content already failed is not retried until it changes (`warehouse load` retries it).
"""

import hashlib
import json

import dagster as dg

from warehouse_assets.core.landing import FileState
from warehouse_assets.core.settings import Settings
from warehouse_assets.defs.jobs import SALES_JOB, console_log_config
from warehouse_assets.defs.planning import plan_sales_runs, run_tags
from warehouse_assets.defs.resources import WarehouseResource
from warehouse_assets.defs.sales import SALES_FILES


def _decode(cursor: str | None) -> tuple[dict[str, FileState], dict[str, str | None]]:
    """The file states and layout versions the last tick saw."""
    if not cursor:
        return {}, {}
    data = json.loads(cursor)
    return {k: FileState.from_json(v) for k, v in data.items()}, {k: v.get("layout") for k, v in data.items()}


def build_sensors(settings: Settings) -> list[dg.SensorDefinition]:
    @dg.sensor(
        name="sales_files_sensor",
        job_name=SALES_JOB,
        minimum_interval_seconds=settings.sensor_interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"Watches {settings.landing_dir} (WAREHOUSE_LANDING_DIR) for new or changed sales CSV files "
        "and loads them in batches of partitions of raw_sales and fact_sales.",
    )
    def sales_files_sensor(context: dg.SensorEvaluationContext, warehouse: WarehouseResource):
        known, known_layouts = _decode(context.cursor)
        partitions = list(context.instance.get_dynamic_partitions(SALES_FILES.name))
        plan = plan_sales_runs(
            settings,
            warehouse.database(),
            partitions,
            known,
            settle_seconds=settings.sensor_settle_seconds,
            retry_failed=False,
            known_layouts=known_layouts,
        )
        changes = plan.changes
        for key in changes.deleted:
            context.log.warning(f"{key} was removed from {settings.landing_dir}; the rows loaded from it are kept")
        for key, reason in changes.refused.items():
            context.log.warning(f"{key} {reason}")
        cursor = {k: {**v.as_json(), "layout": plan.layout_versions.get(k)} for k, v in changes.states.items()}
        # Files still settling keep their old state, so they are looked at again next tick.
        cursor |= {k: {**known[k].as_json(), "layout": known_layouts.get(k)} for k in changes.settling if k in known}
        partition_requests = [SALES_FILES.build_add_request(plan.new_partitions)] if plan.new_partitions else []
        if plan.layout_error:
            return dg.SensorResult(skip_reason=dg.SkipReason(f"the source layouts cannot be used: {plan.layout_error}"))
        if not plan.batches:
            notes = [f"no new or changed files in {settings.landing_dir}"]
            if changes.settling:
                notes.append(f"waiting for {len(changes.settling)} file(s) still being written")
            if plan.known_failures:
                notes.append(f"{len(plan.known_failures)} file(s) failed before with this content")
            if changes.deleted:
                notes.append(f"removed: {', '.join(changes.deleted)}")
            return dg.SensorResult(
                skip_reason=dg.SkipReason("; ".join(notes)),
                dynamic_partitions_requests=partition_requests,
                cursor=json.dumps(cursor),
            )
        requests = []
        for batch in plan.batches:
            identity = hashlib.sha256(
                "\n".join(f"{k}@{changes.states[k].sha256}" for k in batch.files).encode()
            ).hexdigest()[:16]
            requests.append(
                dg.RunRequest(
                    run_key=f"{batch.first}..{batch.last}@{identity}",
                    tags=run_tags(batch, "sales_files_sensor"),
                    run_config=console_log_config(settings.run_log_level),
                )
            )
        return dg.SensorResult(
            run_requests=requests, dynamic_partitions_requests=partition_requests, cursor=json.dumps(cursor)
        )

    return [sales_files_sensor]
