"""The sales_files_sensor: new or changed CSV files in the landing folder become partitions and runs.

The cursor remembers each file's size, modification time and content hash, so a tick hashes only
files that look different, requests runs for new or changed files only, and reports files that
disappeared (their loaded rows are kept). A file whose content the warehouse already loaded (by
`warehouse load`, or before the cursor was reset) is not loaded again.
"""

import json

import dagster as dg

from warehouse_assets import settings
from warehouse_assets.assets.sales import sales_files
from warehouse_assets.ingest.landing import FileState, scan_landing
from warehouse_assets.jobs import sales_job
from warehouse_assets.resources.warehouse import WarehouseResource


def _decode(cursor: str | None) -> dict[str, FileState]:
    if not cursor:
        return {}
    return {k: FileState(**v) for k, v in json.loads(cursor).items()}


@dg.sensor(
    job=sales_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Watches WAREHOUSE_LANDING_DIR for new or changed sales CSV files and loads each "
    "as a partition of raw_sales and fact_sales.",
)
def sales_files_sensor(context: dg.SensorEvaluationContext, warehouse: WarehouseResource):
    folder = settings.landing_dir()
    known = _decode(context.cursor)
    changes = scan_landing(folder, known, settle_seconds=settings.get_float("WAREHOUSE_SENSOR_SETTLE_SECONDS"))
    for key in changes.deleted:
        context.log.warning(f"{key} was removed from {folder}; the rows loaded from it are kept")
    cursor = {k: v.as_json() for k, v in changes.states.items()}
    # Files still settling keep their old state, so they are looked at again next tick.
    cursor |= {k: known[k].as_json() for k in changes.settling if k in known}
    if not changes.to_load:
        notes = [f"no new or changed files in {folder}"]
        if changes.settling:
            notes.append(f"waiting for {len(changes.settling)} file(s) still being written")
        if changes.deleted:
            notes.append(f"removed: {', '.join(changes.deleted)}")
        return dg.SensorResult(skip_reason=dg.SkipReason("; ".join(notes)), cursor=json.dumps(cursor))
    loaded = dict(
        warehouse.query(
            "SELECT source_file, fingerprint FROM warehouse.sales_files "
            "WHERE loaded_at IS NOT NULL AND source_file = ANY(%s)",
            (changes.to_load,),
        )
    )
    to_run = [k for k in changes.to_load if loaded.get(k) != changes.states[k].sha256]
    existing = set(context.instance.get_dynamic_partitions(sales_files.name))
    to_add = [k for k in changes.to_load if k not in existing]
    if not to_run:
        return dg.SensorResult(
            skip_reason=dg.SkipReason(f"{len(changes.to_load)} file(s) already loaded with this content"),
            dynamic_partitions_requests=[sales_files.build_add_request(to_add)] if to_add else [],
            cursor=json.dumps(cursor),
        )
    return dg.SensorResult(
        run_requests=[dg.RunRequest(partition_key=k, run_key=f"{k}@{changes.states[k].sha256[:16]}") for k in to_run],
        dynamic_partitions_requests=[sales_files.build_add_request(to_add)] if to_add else [],
        cursor=json.dumps(cursor),
    )
