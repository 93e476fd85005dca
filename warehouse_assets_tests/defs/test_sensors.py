"""The sales_files_sensor with a real Dagster instance: new and changed files only, once, in batches."""

import json
import os
import time

import dagster as dg

from warehouse_assets.defs.build import build_definitions
from warehouse_assets.defs.planning import RANGE_END_TAG, RANGE_START_TAG
from warehouse_assets.defs.resources import WarehouseResource
from warehouse_assets_tests.support.data import write_sales
from warehouse_assets_tests.support.jobs import load_file, step_failures
from warehouse_assets_tests.support.paths import HEADER


def tick(defs: dg.Definitions, instance, settings, cursor=None) -> dg.SensorResult:
    """One evaluation of the sensor; it reads the ledger in the test's own database."""
    sensor = defs.resolve_sensor_def("sales_files_sensor")
    warehouse = WarehouseResource(database_url=settings.database_url, pgdata=str(settings.pgdata))
    context = dg.build_sensor_context(instance=instance, cursor=cursor, resources={"warehouse": warehouse})
    result = sensor(context)
    assert isinstance(result, dg.SensorResult)
    return result


def ranges(result: dg.SensorResult) -> list[tuple[str, str]]:
    return [(r.tags[RANGE_START_TAG], r.tags[RANGE_END_TAG]) for r in result.run_requests or []]


def added(result: dg.SensorResult) -> list[str]:
    return [k for req in result.dynamic_partitions_requests or [] for k in req.partition_keys]


def apply(instance, result: dg.SensorResult) -> str:
    """What the daemon does with a result: add the partitions, keep the cursor."""
    for req in result.dynamic_partitions_requests or []:
        instance.add_dynamic_partitions(req.partitions_def_name, list(req.partition_keys))
    return result.cursor


def test_new_and_changed_files_only_and_nothing_on_the_next_tick(instance, landing, settings, defs):
    (landing / "a.csv").write_text(HEADER + "\nA1,2024-01-01,C1,A,B,C,1,1,1.00,1.00,cash\n")
    (landing / "b.CSV").write_text(HEADER + "\n")
    (landing / "sub").mkdir()
    (landing / "sub" / "c.csv").write_text(HEADER + "\n")
    # Files that are not ready, or not sales files at all.
    (landing / "d.csv.part").write_text(HEADER)
    (landing / "e.tmp").write_text(HEADER)
    (landing / ".hidden.csv").write_text(HEADER)
    (landing / ".staging").mkdir()
    (landing / ".staging" / "f.csv").write_text(HEADER)
    (landing / "notes.txt").write_text("not a csv")

    first = tick(defs, instance, settings)
    # One run for all three: they are contiguous new partitions.
    assert ranges(first) == [("a.csv", "sub/c.csv")]
    assert added(first) == ["a.csv", "b.CSV", "sub/c.csv"]
    assert all(r.job_name in (None, "sales_files_job") for r in first.run_requests)
    assert first.run_requests[0].tags["launched_by"] == "sales_files_sensor"
    cursor = apply(instance, first)
    assert list(instance.get_dynamic_partitions("sales_files")) == ["a.csv", "b.CSV", "sub/c.csv"]

    second = tick(defs, instance, settings, cursor)
    assert ranges(second) == [] and second.skip_reason is not None
    cursor = second.cursor

    # A changed file (new content) and a new one; a touched-but-identical file is not changed.
    (landing / "a.csv").write_text(HEADER + "\nA1,2024-01-01,C1,A,B,C,1,2,1.00,2.00,cash\n")
    (landing / "g.csv").write_text(HEADER + "\n")
    stat = (landing / "b.CSV").stat()
    os.utime(landing / "b.CSV", ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    third = tick(defs, instance, settings, cursor)
    # a.csv is partition 0 and g.csv partition 3: two ranges, b.CSV and sub/c.csv left alone.
    assert ranges(third) == [("a.csv", "a.csv"), ("g.csv", "g.csv")]
    assert added(third) == ["g.csv"]
    assert third.run_requests[0].run_key != first.run_requests[0].run_key
    cursor = apply(instance, third)
    assert ranges(tick(defs, instance, settings, cursor)) == []


def test_thirty_new_files_are_one_run_and_the_bound_cuts_it(instance, landing, settings, defs):
    for i in range(30):
        write_sales(landing / f"day_{i:02d}.csv", f"T{i},2024-01-01,C1,A,B,C,1,1,1.00,1.00,cash")
    assert ranges(tick(defs, instance, settings)) == [("day_00.csv", "day_29.csv")]
    bounded = build_definitions(settings.replace(max_files_per_run=12))
    assert ranges(tick(bounded, instance, settings)) == [
        ("day_00.csv", "day_11.csv"),
        ("day_12.csv", "day_23.csv"),
        ("day_24.csv", "day_29.csv"),
    ]


def test_files_still_being_written_wait_for_the_next_tick(instance, landing, settings):
    defs = build_definitions(settings.replace(sensor_settle_seconds=60))
    (landing / "fresh.csv").write_text(HEADER + "\n")
    result = tick(defs, instance, settings)
    assert ranges(result) == []
    assert "still being written" in result.skip_reason.skip_message
    assert "fresh.csv" not in json.loads(result.cursor)
    old = time.time() - 120
    os.utime(landing / "fresh.csv", (old, old))
    assert ranges(tick(defs, instance, settings, result.cursor)) == [("fresh.csv", "fresh.csv")]


def test_a_deleted_file_is_reported_and_its_rows_are_kept(instance, landing, settings, defs):
    (landing / "gone.csv").write_text(HEADER + "\n")
    cursor = apply(instance, tick(defs, instance, settings))
    (landing / "gone.csv").unlink()
    result = tick(defs, instance, settings, cursor)
    assert ranges(result) == []
    assert "removed: gone.csv" in result.skip_reason.skip_message
    assert "gone.csv" in instance.get_dynamic_partitions("sales_files")  # the partition stays
    assert "gone.csv" not in json.loads(result.cursor)  # reported once


def test_the_sensor_is_running_by_default_ticks_often_and_targets_the_sales_job(settings, defs):
    sensor = defs.resolve_sensor_def("sales_files_sensor")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    assert sensor.job_name == "sales_files_job"
    assert sensor.minimum_interval_seconds == settings.sensor_interval_seconds == 5


def test_a_file_already_loaded_with_this_content_is_not_loaded_again(instance, landing, settings, defs):
    """`warehouse load` loaded it, then the UI's sensor starts with an empty cursor."""
    write_sales(landing / "done.csv", "D1,2024-01-01,C1,A,B,C,1,1,1.00,1.00,cash")
    assert load_file(defs, instance, "done.csv").success
    result = tick(defs, instance, settings)
    assert ranges(result) == [] and "no new or changed files" in result.skip_reason.skip_message
    # Its content changes: now it is loaded again.
    write_sales(landing / "done.csv", "D1,2024-01-01,C1,A,B,C,1,2,1.00,2.00,cash")
    assert ranges(tick(defs, instance, settings, result.cursor)) == [("done.csv", "done.csv")]


def test_a_loaded_file_with_the_size_and_time_the_ledger_recorded_is_not_read_again(instance, landing, settings, defs):
    """What `warehouse load` and a sensor starting afresh do: the ledger's hashes spare reading the
    files left in the landing folder, so their cost does not grow with them."""
    path = landing / "done.csv"
    write_sales(path, "D1,2024-01-01,C1,A,B,C,1,1,1.00,1.00,cash")
    # Written a minute ago: a file modified just before its load opened it keeps no time (below).
    os.utime(path, (time.time() - 60, time.time() - 60))
    loaded_at = path.stat()
    assert load_file(defs, instance, "done.csv").success
    # Other bytes of the same size, with the time put back: a scan that read the file would load it.
    write_sales(path, "D1,2024-01-01,C1,A,B,C,1,1,1.00,1.00,card")
    assert path.stat().st_size == loaded_at.st_size
    os.utime(path, ns=(loaded_at.st_atime_ns, loaded_at.st_mtime_ns))
    assert ranges(tick(defs, instance, settings)) == []
    # Once its time moves, it is read, and the new content is loaded.
    os.utime(path, ns=(loaded_at.st_atime_ns, loaded_at.st_mtime_ns + 1_000_000_000))
    assert ranges(tick(defs, instance, settings)) == [("done.csv", "done.csv")]


def test_a_file_modified_just_before_its_load_is_hashed_again_by_every_scan(instance, landing, settings, defs):
    """Its time may not tell a second write within the same tick of the file system's clock."""
    path = landing / "fresh.csv"
    write_sales(path, "D1,2024-01-01,C1,A,B,C,1,1,1.00,1.00,cash")
    loaded_at = path.stat()
    assert load_file(defs, instance, "fresh.csv").success
    write_sales(path, "D1,2024-01-01,C1,A,B,C,1,1,1.00,1.00,card")
    os.utime(path, ns=(loaded_at.st_atime_ns, loaded_at.st_mtime_ns))
    assert ranges(tick(defs, instance, settings)) == [("fresh.csv", "fresh.csv")]


def test_a_file_that_failed_with_this_content_is_not_retried_until_it_changes(instance, landing, settings, defs):
    (landing / "broken.csv").write_text("id,when\n1,today\n")
    result = load_file(defs, instance, "broken.csv")
    assert not result.success, step_failures(result)
    skipped = tick(defs, instance, settings)
    assert ranges(skipped) == [] and "failed before with this content" in skipped.skip_reason.skip_message
    write_sales(landing / "broken.csv", "B1,2024-01-01,C1,A,B,C,1,1,1.00,1.00,cash")
    assert ranges(tick(defs, instance, settings, skipped.cursor)) == [("broken.csv", "broken.csv")]


def test_a_layout_that_changes_reloads_the_files_it_reads(instance, landing, settings, defs, tmp_path):
    import yaml

    from warehouse_assets_tests.support.layouts import minimal_layout

    layouts = settings.layouts_dir
    layouts.mkdir()
    (layouts / "tiny.yaml").write_text(yaml.safe_dump(minimal_layout()))
    (landing / "tiny").mkdir()
    (landing / "tiny" / "x.csv").write_text("Order,Code,Qty,Price\n1,a,2,1.50\n")
    assert load_file(defs, instance, "tiny/x.csv").success
    assert ranges(tick(defs, instance, settings)) == []
    (layouts / "tiny.yaml").write_text(yaml.safe_dump(minimal_layout(description="the same source, read anew")))
    assert ranges(tick(defs, instance, settings)) == [("tiny/x.csv", "tiny/x.csv")]
