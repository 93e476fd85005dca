"""`warehouse load` and alerts: without a daemon the command posts its runs' alerts itself, once;
beside a running daemon it leaves them to the daemon's sensors; a webhook that is down changes
neither the load nor its exit code."""

from __future__ import annotations

import subprocess
import sys
import time

import dagster as dg
import pytest
import requests
from dagster._daemon.types import DaemonHeartbeat

from warehouse_assets.cli.environment import prepare
from warehouse_assets.cli.main import main
from warehouse_assets.core.urls import dagster_storage_url
from warehouse_assets.defs.alerts import ALERT_SENT, ALERT_TAG
from warehouse_assets.defs.build import build_definitions
from warehouse_assets_tests.support.alerts import AlertSensors
from warehouse_assets_tests.support.data import line, write_sales
from warehouse_assets_tests.support.http_server import Reply
from warehouse_assets_tests.support.processes import wait_for
from warehouse_assets_tests.support.services import free_port, stop_services, warehouse_dev

pytestmark = pytest.mark.slow

SECRET_PATH = "/webhookb2/abc/IncomingWebhook/s3cr3t"


@pytest.fixture
def alerting_env(cli_env, monkeypatch, no_proxies):
    def configure(url: str):
        monkeypatch.setenv("WAREHOUSE_ALERT_WEBHOOK_URL", url)
        monkeypatch.setenv("WAREHOUSE_UI_URL", "http://ui.example")
        monkeypatch.setenv("WAREHOUSE_ALERT_TIMEOUT_SECONDS", "0.5")
        return cli_env.replace(alert_webhook_url=url, ui_url="http://ui.example", alert_timeout_seconds=0.5)

    return configure


@pytest.fixture
def persistent(cli_env):
    """The Dagster instance `warehouse load` uses (DAGSTER_HOME, stored in PostgreSQL)."""
    prepare(cli_env)
    instance = dg.DagsterInstance.get()
    yield instance
    instance.dispose()


def broken_and_good(landing):
    (landing / "broken.csv").write_text("id,when\n1,today\n")
    write_sales(landing / "good.csv", *(line(f"G{i}", "2024-02-01") for i in range(5)))


def test_without_a_daemon_the_command_posts_once_and_the_sensors_do_not_post_again(
    alerting_env, persistent, landing, serve, capfd
):
    webhook = serve(Reply(status=200, body=b"1", content_type="text/plain"))
    settings = alerting_env(webhook.base_url + SECRET_PATH)
    instance = persistent
    sensors = AlertSensors(build_definitions(settings), instance)
    broken_and_good(landing)

    assert main(["load", "--skip-products"]) == 1
    out = capfd.readouterr().out
    (seen,) = webhook.seen
    text = seen.json()["text"]
    assert "broken.csv" in text and "(launched by warehouse load) failed" in text
    (run,) = instance.get_runs(limit=1)
    assert f"http://ui.example/runs/{run.run_id}" in text
    assert run.tags[ALERT_TAG] == ALERT_SENT
    assert "note         alert posted: Warehouse: run" in out and "s3cr3t" not in out

    # A daemon started later catches up on the runs it missed: this one is not told twice.
    sensors.tick()
    assert len(webhook.seen) == 1


def test_beside_a_running_daemon_the_sensors_post_and_the_command_does_not(
    alerting_env, persistent, landing, serve, capfd
):
    webhook = serve(Reply(status=200, body=b"1", content_type="text/plain"))
    settings = alerting_env(webhook.base_url + SECRET_PATH)
    instance = persistent
    sensors = AlertSensors(build_definitions(settings), instance)
    instance.add_daemon_heartbeat(DaemonHeartbeat(time.time(), "SENSOR", "test-daemon"))
    broken_and_good(landing)

    assert main(["load", "--skip-products"]) == 1
    assert webhook.seen == [] and "alert" not in capfd.readouterr().out
    sensors.tick()
    (seen,) = webhook.seen
    assert "broken.csv" in seen.json()["text"]


@pytest.mark.parametrize(
    "reply", [Reply(status=500, body=b"no", content_type="text/plain"), Reply(delay=30)], ids=["500", "silent"]
)
def test_a_webhook_that_is_down_does_not_change_the_load(alerting_env, landing, serve, capfd, reply):
    webhook = serve(reply)
    alerting_env(webhook.base_url + SECRET_PATH)
    bad = "B9,not-a-date,C1,Ann,Paris,France,1,1,1.00,1.00,cash"
    write_sales(landing / "heavy.csv", *(line(f"H{i}", "2024-02-01") for i in range(4)), bad)

    started = time.monotonic()
    assert main(["load", "--skip-products"]) == 0
    assert time.monotonic() - started < 60
    out = capfd.readouterr().out
    assert len(webhook.seen) == 3
    assert "note         the alert about run" in out and "was not delivered" in out
    assert "http://127.0.0.1" in out and "s3cr3t" not in out
    assert "files        1 loaded" in out


def test_warehouse_dev_alerts_the_sensors_runs_and_a_load_run_beside_it(
    settings_variables, warehouse_url, landing, tmp_path, serve, no_proxies
):
    """The daemon for real: its alert sensors see the runs the files sensor launched and the run
    `warehouse load` executed in its own process (which has no code location), once each."""
    webhook = serve(Reply(status=200, body=b"1", content_type="text/plain"))
    port = free_port()
    dev, env = warehouse_dev(
        {**settings_variables, "WAREHOUSE_ALERT_WEBHOOK_URL": webhook.base_url + SECRET_PATH},
        dagster_storage_url(warehouse_url),
        tmp_path / "home",
        tmp_path / "dev.log",
        port,
    )
    dev.start(env)

    def posted(count: int):
        def check() -> bool:
            assert dev.running, dev.tail()
            return len(webhook.seen) >= count

        return check

    try:
        wait_for(lambda: ui_answers(port), "the UI to answer", timeout=180)
        # Once the UI answers, the daemon has started its sensors (their first tick only sets the cursor).
        (landing / "broken.csv").write_text("id,when\n1,today\n")
        wait_for(posted(1), "the alert about the sensor's run", timeout=180)
        load = subprocess.run(
            [sys.executable, "-m", "warehouse_assets.cli.main", "load", "--skip-products"],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert load.returncode == 1, load.stdout + load.stderr
        assert "alert" not in load.stdout  # left to the daemon
        wait_for(posted(2), "the alert about the load's run", timeout=180)
    finally:
        forced, remaining = stop_services([dev])
    assert remaining == [], remaining
    first, second = (seen.json()["text"] for seen in webhook.seen)
    assert "(launched by sales_files_sensor) failed" in first and "broken.csv" in first
    assert "(launched by warehouse load) failed" in second and "broken.csv" in second
    assert len(webhook.seen) == 2
    assert "s3cr3t" not in dev.tail(10_000)


def ui_answers(port: int) -> bool:
    try:
        return requests.get(f"http://127.0.0.1:{port}/server_info", timeout=5).ok
    except requests.RequestException:
        return False
