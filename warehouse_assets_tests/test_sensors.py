"""The sales_files_sensor with a real Dagster instance: new and changed files only, once."""

import json
import os
import time

import dagster as dg

from warehouse_assets.sensors import sales_files_sensor
from warehouse_assets_tests.helpers import definitions, load_sales_file

HEADER = "transaction_id,transaction_date,customer_id,customer_name,city,country,product_id,quantity,unit_price,total_amount,payment_method\n"


def tick(instance, warehouse, cursor=None) -> dg.SensorResult:
    """One evaluation of the sensor; it reads the ledger in the test's own database."""
    context = dg.build_sensor_context(instance=instance, cursor=cursor, resources={"warehouse": warehouse})
    result = sales_files_sensor(context)
    assert isinstance(result, dg.SensorResult)
    return result


def requested(result: dg.SensorResult) -> list[str]:
    return sorted(r.partition_key for r in result.run_requests or [])


def added(result: dg.SensorResult) -> list[str]:
    return sorted(k for req in result.dynamic_partitions_requests or [] for k in req.partition_keys)


def apply(instance, result: dg.SensorResult) -> str:
    """What the daemon does with a result: add the partitions, keep the cursor."""
    for req in result.dynamic_partitions_requests or []:
        instance.add_dynamic_partitions(req.partitions_def_name, list(req.partition_keys))
    return result.cursor


def test_new_and_changed_files_only_and_nothing_on_the_next_tick(instance, landing, warehouse):
    (landing / "a.csv").write_text(HEADER + "A1,2024-01-01,C1,A,B,C,1,1,1.00,1.00,cash\n")
    (landing / "b.CSV").write_text(HEADER)
    (landing / "sub").mkdir()
    (landing / "sub" / "c.csv").write_text(HEADER)
    # Files that are not ready, or not sales files at all.
    (landing / "d.csv.part").write_text(HEADER)
    (landing / "e.tmp").write_text(HEADER)
    (landing / ".hidden.csv").write_text(HEADER)
    (landing / ".staging").mkdir()
    (landing / ".staging" / "f.csv").write_text(HEADER)
    (landing / "notes.txt").write_text("not a csv")

    first = tick(instance, warehouse)
    assert requested(first) == ["a.csv", "b.CSV", "sub/c.csv"]
    assert added(first) == ["a.csv", "b.CSV", "sub/c.csv"]
    assert all(r.job_name in (None, "sales_file_job") for r in first.run_requests)
    cursor = apply(instance, first)
    assert set(instance.get_dynamic_partitions("sales_files")) == {"a.csv", "b.CSV", "sub/c.csv"}

    second = tick(instance, warehouse, cursor)
    assert requested(second) == [] and second.skip_reason is not None
    cursor = second.cursor

    # A changed file (new content) and a new one; a touched-but-identical file is not changed.
    (landing / "a.csv").write_text(HEADER + "A1,2024-01-01,C1,A,B,C,1,2,1.00,2.00,cash\n")
    (landing / "g.csv").write_text(HEADER)
    stat = (landing / "b.CSV").stat()
    os.utime(landing / "b.CSV", ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    third = tick(instance, warehouse, cursor)
    assert requested(third) == ["a.csv", "g.csv"]
    assert added(third) == ["g.csv"]  # a.csv is already a partition
    run_keys = {r.partition_key: r.run_key for r in third.run_requests}
    assert run_keys["a.csv"] != next(r.run_key for r in first.run_requests if r.partition_key == "a.csv")
    cursor = apply(instance, third)
    assert requested(tick(instance, warehouse, cursor)) == []


def test_files_still_being_written_wait_for_the_next_tick(instance, landing, monkeypatch, warehouse):
    monkeypatch.setenv("WAREHOUSE_SENSOR_SETTLE_SECONDS", "60")
    (landing / "fresh.csv").write_text(HEADER)
    result = tick(instance, warehouse)
    assert requested(result) == []
    assert "still being written" in result.skip_reason.skip_message
    assert "fresh.csv" not in json.loads(result.cursor)

    old = time.time() - 120
    os.utime(landing / "fresh.csv", (old, old))
    assert requested(tick(instance, warehouse, result.cursor)) == ["fresh.csv"]


def test_a_deleted_file_is_reported_and_its_rows_are_kept(instance, landing, warehouse):
    (landing / "gone.csv").write_text(HEADER)
    cursor = apply(instance, tick(instance, warehouse))
    (landing / "gone.csv").unlink()
    result = tick(instance, warehouse, cursor)
    assert requested(result) == []
    assert "removed: gone.csv" in result.skip_reason.skip_message
    assert "gone.csv" in instance.get_dynamic_partitions("sales_files")  # the partition stays
    assert "gone.csv" not in json.loads(result.cursor)  # reported once


def test_the_sensor_is_running_by_default_and_targets_the_sales_job():
    from warehouse_assets.definitions import defs

    sensor = defs.resolve_sensor_def("sales_files_sensor")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    assert sensor.job_name == "sales_file_job"


def test_a_file_already_loaded_with_this_content_is_not_loaded_again(instance, landing, warehouse_url, warehouse):
    """`warehouse load` loaded it, then the UI's sensor starts with an empty cursor."""
    (landing / "done.csv").write_text(HEADER + "D1,2024-01-01,C1,A,B,C,1,1,1.00,1.00,cash\n")
    assert load_sales_file(definitions(warehouse_url), instance, "done.csv").success
    result = tick(instance, warehouse)
    assert requested(result) == [] and "already loaded" in result.skip_reason.skip_message
    # Its content changes: now it is loaded again.
    (landing / "done.csv").write_text(HEADER + "D1,2024-01-01,C1,A,B,C,1,2,1.00,2.00,cash\n")
    assert requested(tick(instance, warehouse, result.cursor)) == ["done.csv"]
