"""The alert sensors against real runs in a real instance, posting to a webhook on 127.0.0.1:
one message per run that needs one, none for a clean load, and a webhook that is down costs a
bounded wait and a log line, never a load."""

from __future__ import annotations

import datetime as dt
import time

import dagster as dg
import pytest

from warehouse_assets.defs.alerts import ALERT_SENT, ALERT_TAG, FAILURE_SENSOR, SUCCESS_SENSOR
from warehouse_assets.defs.build import build_definitions
from warehouse_assets_tests.support.alerts import AlertSensors
from warehouse_assets_tests.support.data import line, write_sales
from warehouse_assets_tests.support.databases import corrupt_on_write
from warehouse_assets_tests.support.http_server import Reply
from warehouse_assets_tests.support.jobs import failed_files, load_file, load_files, run_checks, step_failures

UI = "http://warehouse.example:3000"
SECRET_PATH = "/services/T000/B000/s3cr3t"
OK = Reply(status=200, body=b"ok", content_type="text/plain")


@pytest.fixture
def webhook(serve, no_proxies):
    return serve(OK)


@pytest.fixture
def alerting(settings, webhook):
    return settings.replace(
        alert_webhook_url=webhook.base_url + SECRET_PATH, ui_url=UI + "/", alert_timeout_seconds=0.5
    )


@pytest.fixture
def alert_defs(alerting) -> dg.Definitions:
    return build_definitions(alerting)


def texts(server) -> list[str]:
    return [seen.json()["text"] for seen in server.seen]


def good_lines(prefix: str, n: int) -> list[str]:
    return [line(f"{prefix}{i}", f"2024-01-{1 + i % 28:02d}", customer=f"C{i % 5}") for i in range(n)]


def test_a_failed_file_is_one_alert_naming_it_with_the_counts_and_a_link(instance, landing, alert_defs, webhook):
    sensors = AlertSensors(alert_defs, instance)
    write_sales(landing / "good.csv", *good_lines("G", 12))
    (landing / "broken.csv").write_text("id,when\n1,today\n")
    (result,) = load_files(alert_defs, instance, ["good.csv", "broken.csv"])
    assert not result.success and list(failed_files(result)) == ["broken.csv"]

    sensors.tick()
    (text,) = texts(webhook)
    assert webhook.seen[0].path == SECRET_PATH
    assert text.startswith(f"Warehouse: run {result.run_id[:8]} of sales_files_job")
    assert "failed" in text.splitlines()[0]
    assert "Files: 1 loaded, 1 failed; rows: 12 loaded, 0 quarantined" in text
    assert f"- {failed_files(result)['broken.csv']}" in text
    assert f"Run: {UI}/runs/{result.run_id}" in text
    assert "Failed checks" not in text and "more than" not in text
    assert instance.get_run_by_id(result.run_id).tags[ALERT_TAG] == ALERT_SENT

    sensors.tick()
    assert len(webhook.seen) == 1


def test_a_run_blocked_by_a_failed_check_is_one_alert_naming_the_check(instance, landing, alert_defs, webhook, db):
    sensors = AlertSensors(alert_defs, instance)
    corrupt_on_write(db, "zero_quantity", "warehouse.fact_sales", "quantity := 0", "NEW.transaction_id = 'K3'")
    write_sales(landing / "k.csv", *good_lines("K", 8))
    result = load_file(alert_defs, instance, "k.csv")
    assert not result.success and "sales_checks" in step_failures(result)

    sensors.tick()
    (text,) = texts(webhook)
    assert "- fact_sales:fact_sales_amounts_valid (1 file(s) of this run: k.csv): " in text
    assert "non_positive_quantity=1" in text
    # The step the check blocked is not told again as a failure of its own.
    assert "Failed steps" not in text and "Failed files" not in text


def test_a_clean_load_sends_nothing(instance, landing, alert_defs, webhook):
    sensors = AlertSensors(alert_defs, instance)
    write_sales(landing / "clean.csv", *good_lines("C", 20))
    assert load_file(alert_defs, instance, "clean.csv").success
    results = sensors.tick()
    assert webhook.seen == []
    assert ALERT_TAG not in instance.get_runs(limit=1)[0].tags
    assert all(not r.run_requests for r in results.values())


def test_a_file_quarantined_above_the_share_is_one_alert(instance, landing, alert_defs, webhook):
    sensors = AlertSensors(alert_defs, instance)
    bad = "Q9,not-a-date,C1,Ann,Paris,France,1,1,1.00,1.00,cash"
    # 2 of 20 rows (10 %) above the 5 % default; 1 of 40 (2.5 %) below it.
    write_sales(landing / "heavy.csv", *good_lines("H", 18), bad.replace("Q9", "H98"), bad.replace("Q9", "H99"))
    write_sales(landing / "light.csv", *good_lines("L", 39), bad.replace("Q9", "L99"))
    (result,) = load_files(alert_defs, instance, ["heavy.csv", "light.csv"])
    assert result.success, step_failures(result)

    sensors.tick()
    (text,) = texts(webhook)
    assert "loaded 1 file(s) with too many rows quarantined" in text.splitlines()[0]
    assert "Files: 2 loaded, 0 failed; rows: 57 loaded, 3 quarantined" in text
    assert "Files with more than 5 % of their rows quarantined (1):" in text
    assert "- heavy.csv: 2 of 20 rows quarantined (10 %)" in text
    assert "light.csv:" not in text
    assert f"{UI}/runs/{result.run_id}" in text


def test_the_threshold_is_a_setting(instance, landing, alerting, webhook):
    defs = build_definitions(alerting.replace(alert_quarantine_share=0.2))
    sensors = AlertSensors(defs, instance)
    write_sales(landing / "heavy.csv", *good_lines("H", 9), "H9,not-a-date,C1,Ann,Paris,France,1,1,1.00,1.00,cash")
    assert load_file(defs, instance, "heavy.csv").success
    sensors.tick()
    assert webhook.seen == []


def test_the_nightly_check_alerts_a_change_made_outside_the_pipeline(instance, landing, alert_defs, webhook, db):
    write_sales(landing / "n.csv", *good_lines("N", 10))
    assert load_file(alert_defs, instance, "n.csv").success
    sensors = AlertSensors(alert_defs, instance)
    db.execute("UPDATE warehouse.fact_sales SET total_amount = total_amount + 1 WHERE transaction_id = 'N4'")
    schedule = alert_defs.resolve_schedule_def("warehouse_checks_schedule")
    context = dg.build_schedule_context(
        instance=instance, scheduled_execution_time=dt.datetime(2025, 3, 3, 3, 0, tzinfo=dt.UTC)
    )
    (request,) = schedule.evaluate_tick(context).run_requests
    result = alert_defs.resolve_job_def(schedule.job_name).execute_in_process(
        instance=instance, tags=request.tags, raise_on_error=False
    )
    assert not result.success

    sensors.tick()
    (text,) = texts(webhook)
    assert text.startswith(f"Warehouse: run {result.run_id[:8]} of warehouse_checks_job")
    assert "(launched by warehouse_checks_schedule) failed" in text.splitlines()[0]
    assert "- fact_sales:fact_sales_amounts_valid (whole warehouse): total_mismatch=1" in text


@pytest.mark.parametrize(
    "reply", [Reply(status=500, body=b"down", content_type="text/plain"), Reply(delay=30)], ids=["500", "silent"]
)
def test_a_webhook_that_is_down_costs_a_bounded_wait_and_a_log_line(
    instance, landing, alerting, serve, reply, caplog, capfd
):
    down = serve(reply)
    defs = build_definitions(alerting.replace(alert_webhook_url=down.base_url + SECRET_PATH))
    sensors = AlertSensors(defs, instance)
    (landing / "broken.csv").write_text("id,when\n1,today\n")
    result = load_file(defs, instance, "broken.csv")
    assert not result.success

    started = time.monotonic()
    results = sensors.tick()
    elapsed = time.monotonic() - started
    # Three attempts of at most 0.5 s each, plus urllib3's backoff between them.
    assert len(down.seen) == 3 and elapsed < 8, elapsed
    skip = results[FAILURE_SENSOR].skip_message
    expected = "kept answering with an error status" if reply.status == 500 else "did not answer within 0.5 s"
    assert "was not delivered" in skip and expected in skip, skip
    assert "s3cr3t" not in skip
    # The tick's log (stderr of the daemon, the tick's page in the UI) says so, without the secret.
    logged = capfd.readouterr().err
    assert f"WARNING - {skip}" in logged
    assert "s3cr3t" not in logged and not any("s3cr3t" in r.getMessage() for r in caplog.records)
    assert ALERT_TAG not in instance.get_run_by_id(result.run_id).tags

    # The next load goes on as if nothing happened.
    write_sales(landing / "next.csv", *good_lines("X", 5))
    assert load_file(defs, instance, "next.csv").success


def test_without_a_webhook_the_sensors_are_stopped_and_post_nothing(instance, landing, settings, alerting, webhook):
    quiet = build_definitions(settings)
    loud = build_definitions(alerting)
    for name in (FAILURE_SENSOR, SUCCESS_SENSOR):
        assert quiet.resolve_sensor_def(name).default_status == dg.DefaultSensorStatus.STOPPED
        assert loud.resolve_sensor_def(name).default_status == dg.DefaultSensorStatus.RUNNING
        assert "s3cr3t" not in (loud.resolve_sensor_def(name).description or "")
    # Started by hand all the same, they look at the failed run and post nothing.
    sensors = AlertSensors(quiet, instance)
    (landing / "broken.csv").write_text("id,when\n1,today\n")
    run = load_file(quiet, instance, "broken.csv")
    assert not run.success
    assert all(r.skip_message is None or "not delivered" not in r.skip_message for r in sensors.tick().values())
    assert webhook.seen == [] and ALERT_TAG not in instance.get_run_by_id(run.run_id).tags


def test_whole_warehouse_checks_that_pass_send_nothing(instance, landing, alert_defs, webhook):
    write_sales(landing / "p.csv", *good_lines("P", 6))
    assert load_file(alert_defs, instance, "p.csv").success
    sensors = AlertSensors(alert_defs, instance)
    assert all(e.passed for e in run_checks(alert_defs, instance).values())
    sensors.tick()
    assert webhook.seen == []


def test_a_file_materialized_from_the_ui_is_alerted_too(instance, landing, alert_defs, webhook):
    """The UI's Materialize button and backfills launch Dagster's implicit asset job, not ours."""
    sensors = AlertSensors(alert_defs, instance)
    (landing / "broken.csv").write_text("id,when\n1,today\n")
    instance.add_dynamic_partitions("sales_files", ["broken.csv"])
    job = alert_defs.resolve_implicit_global_asset_job_def()
    result = job.execute_in_process(
        instance=instance,
        partition_key="broken.csv",
        asset_selection=[dg.AssetKey("raw_sales"), dg.AssetKey("fact_sales")],
        raise_on_error=False,
    )
    assert not result.success and list(failed_files(result)) == ["broken.csv"]
    sensors.tick()
    (text,) = texts(webhook)
    assert text.startswith(f"Warehouse: run {result.run_id[:8]} of asset materialization failed")
    assert "- broken.csv: line 1: header lacks required column(s)" in text
