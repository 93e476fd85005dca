"""`warehouse dev` for real: the UI comes up, the sensor ticks and loads a dropped file, and the
terminal shows no Dagster event line and no line per sensor tick; Ctrl-C (SIGINT) or SIGTERM
stops every process it started."""

from __future__ import annotations

import re

import pytest
import requests

from warehouse_assets.cli.sample_data import SalesSpec, generate_sales
from warehouse_assets.core.urls import dagster_storage_url
from warehouse_assets_tests.support.databases import connect
from warehouse_assets_tests.support.processes import wait_for
from warehouse_assets_tests.support.services import free_port, stop_services, warehouse_dev

pytestmark = pytest.mark.slow

TICKS = """
query { sensorOrError(sensorSelector: {repositoryLocationName: "warehouse", repositoryName: "__repository__",
                                       sensorName: "sales_files_sensor"}) {
  __typename ... on Sensor { sensorState { ticks(limit: 10) { status runIds } } } } }
"""
UNFINISHED_RUNS = """
query { runsOrError(filter: {statuses: [QUEUED, NOT_STARTED, STARTING, STARTED]}) {
  __typename ... on Runs { results { runId } } } }
"""


def test_dev_is_quiet_and_loads_a_dropped_file(settings_variables, warehouse_url, landing, tmp_path):
    port = free_port()
    dev, env = warehouse_dev(
        settings_variables, dagster_storage_url(warehouse_url), tmp_path / "home", tmp_path / "dev.log", port
    )
    dev.start(env)
    base = f"http://127.0.0.1:{port}"
    try:

        def ticks() -> list[dict]:
            body = requests.post(f"{base}/graphql", json={"query": TICKS}, timeout=10).json()
            sensor = body["data"]["sensorOrError"]
            return sensor["sensorState"]["ticks"] if sensor["__typename"] == "Sensor" else []

        def answering(probe):
            def check() -> bool:
                assert dev.running, dev.tail()
                try:
                    return bool(probe())
                except (requests.RequestException, KeyError, TypeError):
                    return False

            return check

        wait_for(answering(lambda: len(ticks()) >= 2), "the UI to answer and the sensor to tick twice", timeout=180)
        generate_sales(
            landing / "dropped.csv", SalesSpec(rows=200, customers=20, seed=3, id_prefix="DV", bad_share=0.0)
        )

        def loaded() -> bool:
            with connect(warehouse_url) as conn:
                return conn.execute("SELECT count(*) FROM warehouse.fact_sales").fetchone()[0] == 200

        wait_for(answering(loaded), "the dropped file's rows", timeout=180)
        wait_for(answering(lambda: len(ticks()) >= 4), "two more ticks after the load", timeout=120)

        def runs_finished() -> bool:
            body = requests.post(f"{base}/graphql", json={"query": UNFINISHED_RUNS}, timeout=10).json()
            return body["data"]["runsOrError"]["results"] == []

        # Stopped only once the run is over: an interrupted run rightly reports its interruption.
        wait_for(answering(runs_finished), "the run to finish", timeout=180)
        # What the terminal showed while the warehouse ran. Dagster's processes may report the
        # interrupt itself as they shut down; that is theirs, and asserted on no further.
        log = dev.tail(10_000)
    finally:
        forced, remaining = stop_services([dev])
    assert remaining == [], remaining
    assert "Dagster UI: http://127.0.0.1:" in log
    assert not re.search(r"DEBUG|STEP_START|RUN_START|sensor_daemon|Checking for new runs for sensor", log), log[-3000:]
    assert "Traceback" not in log, log[-3000:]
