"""Which sales files to load, in which runs: one answer for the sensor and for `warehouse load`.

The landing folder is compared with the ledger (content and layout version), new files become
partitions, and the files to load are cut into batches, each a contiguous range of partitions
(see `core.batches`), which a run loads in one go.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from warehouse_assets.core.batches import FileBatch, plan_batches
from warehouse_assets.core.landing import FileState, LandingChanges, scan_landing
from warehouse_assets.core.layouts.discovery import find_layout, load_layouts
from warehouse_assets.core.layouts.layout import LayoutError
from warehouse_assets.core.settings import Settings
from warehouse_assets.db import ledger
from warehouse_assets.db.connection import Database

# Dagster runs a range of partitions when its run carries these two tags.
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


@dataclass
class SalesPlan:
    changes: LandingChanges
    to_load: list[str] = field(default_factory=list)
    new_partitions: list[str] = field(default_factory=list)
    batches: list[FileBatch] = field(default_factory=list)
    known_failures: list[str] = field(default_factory=list)  # same content failed before: not retried
    layout_versions: dict[str, str | None] = field(default_factory=dict)  # per ready file
    layout_error: str | None = None


def plan_sales_runs(
    settings: Settings,
    db: Database,
    partitions: list[str],
    known: Mapping[str, FileState],
    *,
    settle_seconds: float = 0.0,
    reload_all: bool = False,
    retry_failed: bool = True,
    known_layouts: Mapping[str, str | None] | None = None,
) -> SalesPlan:
    """The runs that bring the warehouse up to date with the landing folder.

    `partitions` are the sales_files partitions in their order; `known` the file states already
    hashed (the sensor's cursor), so only files that look different are hashed again. With
    `known_layouts` (the sensor's cursor too), only files whose content or layout version changed
    since then are considered: the sensor has already requested the others.
    """
    # The ledger's rows of the landing's files, read once: a file the ledger read with its current
    # size and modification time is not hashed again, so a scan's cost does not grow with the files
    # left in the folder.
    loaded: dict[str, ledger.LoadedFile] = {}

    def hashed(keys: list[str]) -> dict[str, FileState]:
        loaded.update(ledger.loaded_files(db, keys=keys))
        return ledger.hashed_states(loaded)

    changes = scan_landing(settings.landing_dir, known, settle_seconds=settle_seconds, hashed=hashed)
    plan = SalesPlan(changes=changes)
    try:
        layouts = load_layouts(settings.layouts_dir)
    except LayoutError as exc:
        plan.layout_error = str(exc)
        return plan
    versions = {}
    for key in changes.states:
        try:
            layout = find_layout(key, layouts)
        except LayoutError as exc:
            plan.layout_error = str(exc)
            return plan
        versions[key] = layout.version if layout else None
    plan.layout_versions = versions
    contents = {key: state.sha256 for key, state in changes.states.items()}
    if known_layouts is not None:
        fresh = set(changes.to_load) | {k for k in contents if k in known_layouts and known_layouts[k] != versions[k]}
        contents = {k: v for k, v in contents.items() if k in fresh}
    if reload_all:
        candidates = sorted(contents)
    else:
        candidates = ledger.needs_loading(contents, versions, loaded)
    if not retry_failed and candidates:
        failed = ledger.failed_fingerprints(db, candidates)
        plan.known_failures = [k for k in candidates if failed.get(k) == contents[k]]
        candidates = [k for k in candidates if k not in plan.known_failures]
    plan.to_load = candidates
    existing = set(partitions)
    plan.new_partitions = sorted(k for k in candidates if k not in existing)
    order = [*partitions, *plan.new_partitions]
    plan.batches = plan_batches(
        order,
        {k: changes.states[k].size for k in candidates},
        max_files=settings.max_files_per_run,
        max_bytes=settings.max_mb_per_run * 1024 * 1024,
    )
    return plan


def run_tags(batch: FileBatch, launched_by: str) -> dict[str, str]:
    return {
        RANGE_START_TAG: batch.first,
        RANGE_END_TAG: batch.last,
        "launched_by": launched_by,
        "sales_files": str(len(batch.files)),
    }
