"""The production process topology, for real: code server, webserver and daemon as separate
processes (support.topology), with the default sensor settings.

* Twenty files arrive at once (a folder renamed into the landing folder, so no tick can see part
  of it): the daemon's sensor requests one run for all of them, every file's rows land, and the
  checks of that run pass. The time from the drop to the facts is printed, not asserted.
* A backfill of those twenty partitions launched as the UI launches it (GraphQL
  launchPartitionBackfill) runs as one run.
* Headless Chromium against the same webserver: the asset catalog lists every asset, the
  Automation page shows the sensor and the schedule, and the checks of fact_sales passed.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass

import pytest

from warehouse_assets.cli.sample_data import SalesSpec, generate_sales
from warehouse_assets.defs.planning import RANGE_END_TAG, RANGE_START_TAG
from warehouse_assets_tests.support.browser import Screens, needs_chromium
from warehouse_assets_tests.support.topology import SALES_JOB, SCHEDULE, SENSOR, Topology, start_topology

pytestmark = pytest.mark.slow

FILES = 20
ROWS_PER_FILE = 60
FIRST_TICK_TIMEOUT = 60
LOAD_TIMEOUT = 180


@pytest.fixture(scope="module")
def topology(pg_server_url: str, template_database: str, tmp_path_factory) -> Topology:
    with start_topology(pg_server_url, template_database, tmp_path_factory.mktemp("topology")) as running:
        yield running


@dataclass(frozen=True)
class Drop:
    keys: list[str]
    run_id: str
    seconds_to_facts: float


@pytest.fixture(scope="module")
def dropped(topology: Topology) -> Drop:
    """Twenty files dropped at once into a running deployment, loaded by the sensor's run."""
    ticks = topology.wait_for(f"the first tick of {SENSOR}", topology.sensor_ticks, FIRST_TICK_TIMEOUT)
    assert all(not t["runIds"] for t in ticks), f"the sensor launched runs before any file arrived: {ticks}"
    folder = topology.staging / "day"
    for i in range(FILES):
        spec = SalesSpec(rows=ROWS_PER_FILE, customers=40, bad_share=0.0, seed=500 + i, id_prefix=f"D{i:02d}")
        generate_sales(folder / f"part_{i:02d}.csv", spec, track_planted=False)
    keys = sorted(f"day/{p.name}" for p in folder.iterdir())
    dropped_at = time.monotonic()
    os.replace(folder, topology.landing / "day")

    def all_facts_in() -> bool:
        for run_id, status in topology.sales_runs():
            if status in ("FAILURE", "CANCELED"):
                raise topology.fail(f"run {run_id} of {SALES_JOB} ended {status}:\n{topology.run_errors(run_id)}")
        (count,) = topology.warehouse_query("SELECT count(*) FROM warehouse.fact_sales")[0]
        return count == FILES * ROWS_PER_FILE

    topology.wait_for("every dropped file's rows in fact_sales", all_facts_in, LOAD_TIMEOUT, interval=0.2)
    seconds = time.monotonic() - dropped_at
    topology.wait_for(
        "the sensor's run to succeed", lambda: [r for r in topology.sales_runs() if r[1] == "SUCCESS"], LOAD_TIMEOUT
    )
    runs = topology.sales_runs()
    assert len(runs) == 1, f"one run for files that arrived together, got {runs}"
    # Where the time went, on the wall clock of this machine (all processes share it).
    ((created, started, ended),) = topology.dagster_query(
        "SELECT extract(epoch FROM create_timestamp AT TIME ZONE 'UTC'), start_time, end_time FROM runs WHERE run_id = %s",
        runs[0][0],
    )
    (tick,) = [t["timestamp"] for t in topology.sensor_ticks() if t["runIds"]]
    at = time.time() - (time.monotonic() - dropped_at)
    print(
        f"\n{FILES} files dropped at once: every row in fact_sales {seconds:.1f} s later, one run "
        f"(tick +{tick - at:.1f} s, run created +{float(created) - at:.1f} s, started +{started - at:.1f} s, "
        f"ended +{ended - at:.1f} s)"
    )
    return Drop(keys=keys, run_id=runs[0][0], seconds_to_facts=seconds)


def test_files_dropped_at_once_are_loaded_by_one_sensor_run(topology: Topology, dropped: Drop):
    ledger = topology.warehouse_query(
        "SELECT source_file, records_read, rows_loaded, rows_rejected, run_id FROM warehouse.sales_files ORDER BY 1"
    )
    assert ledger == [(key, ROWS_PER_FILE, ROWS_PER_FILE, 0, dropped.run_id) for key in dropped.keys]
    tags = topology.run_tags(dropped.run_id)
    assert tags.get("dagster/sensor_name") == SENSOR
    assert (tags[RANGE_START_TAG], tags[RANGE_END_TAG]) == (dropped.keys[0], dropped.keys[-1])
    state = topology.sensor_state()
    assert state["status"] == "RUNNING"  # default_status, with no one switching it on
    assert [t["runIds"] for t in state["ticks"] if t["runIds"]] == [[dropped.run_id]]
    assert not [t for t in state["ticks"] if t["status"] == "FAILURE"], state["ticks"]
    schedule = topology.schedule()
    assert (schedule["cronSchedule"], schedule["scheduleState"]["status"]) == ("0 6 * * *", "RUNNING")
    # The run's checks passed and were recorded in the instance.
    checks = dict(
        topology.dagster_query(
            "SELECT check_name, execution_status FROM asset_check_executions WHERE run_id = %s", dropped.run_id
        )
    )
    assert {
        "fact_sales_no_orphans",
        "fact_sales_amounts_valid",
        "fact_sales_dates_consistent",
        "sales_file_reconciles",
    } <= set(checks)
    assert set(checks.values()) == {"SUCCEEDED"}, checks
    # Events grow with the steps of one run and a few per file, not with every step per file.
    (events,) = topology.dagster_query("SELECT count(*) FROM event_logs WHERE run_id = %s", dropped.run_id)[0]
    assert events < 120 + 6 * FILES, events
    topology.ensure_running()


LAUNCH_BACKFILL = """
mutation ($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on Error { message }
  }
}
"""
BACKFILL_STATUS = """
query ($id: String!) { partitionBackfillOrError(backfillId: $id) { __typename ... on PartitionBackfill { status } } }
"""


def test_a_ui_backfill_of_twenty_partitions_is_one_run(topology: Topology, dropped: Drop):
    params = {"assetSelection": [{"path": ["raw_sales"]}, {"path": ["fact_sales"]}], "partitionNames": dropped.keys}
    launched = topology.graphql(LAUNCH_BACKFILL, {"params": params})["launchPartitionBackfill"]
    assert launched["__typename"] == "LaunchBackfillSuccess", launched
    backfill = launched["backfillId"]

    def finished() -> str | None:
        status = topology.graphql(BACKFILL_STATUS, {"id": backfill})["partitionBackfillOrError"]["status"]
        return (
            status if status in ("COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED") else None
        )

    assert topology.wait_for(f"backfill {backfill} to complete", finished, LOAD_TIMEOUT) in (
        "COMPLETED",
        "COMPLETED_SUCCESS",
    )
    runs = topology.dagster_query(
        "SELECT r.run_id, r.status FROM runs r JOIN run_tags t ON t.run_id = r.run_id "
        "WHERE t.key = 'dagster/backfill' AND t.value = %s",
        backfill,
    )
    assert len(runs) == 1 and runs[0][1] == "SUCCESS", runs
    (run_id,) = {r for (r,) in topology.warehouse_query("SELECT DISTINCT run_id FROM warehouse.sales_files")}
    assert run_id == runs[0][0]
    assert topology.warehouse_query("SELECT count(*) FROM warehouse.fact_sales") == [(FILES * ROWS_PER_FILE,)]


@needs_chromium
def test_ui_in_a_browser(topology: Topology, dropped: Drop, browser):
    from playwright.sync_api import expect

    from warehouse_assets.core.settings import Settings
    from warehouse_assets.defs.build import build_definitions

    graph = build_definitions(Settings.from_environment(topology.env)).resolve_asset_graph()
    keys = list(graph.get_all_asset_keys())
    assets = sorted(key.to_user_string() for key in keys)
    groups = sorted({graph.get(key).group_name for key in keys})
    fact_checks = sorted(k.name for k in graph.asset_check_keys if k.asset_key.to_user_string() == "fact_sales")
    assert len(assets) >= 17 and len(fact_checks) >= 4, (assets, fact_checks)

    # Tall enough that the catalog's virtualised table renders every row without scrolling.
    context = browser.new_context(viewport={"width": 1600, "height": 2400}, base_url=topology.webserver_url)
    context.set_default_timeout(30_000)
    page = context.new_page()
    page.add_locator_handler(
        page.get_by_text("Join the Dagster community"), lambda _: page.get_by_role("button", name="Skip").click()
    )
    shots = Screens(page, "topology")
    try:
        with shots.step("asset-catalog"):
            page.goto("/assets", wait_until="networkidle")
            for name in assets:
                expect(
                    page.locator(f'a[href="/assets/{name}"]'), f"asset {name} is not in the catalog"
                ).to_contain_text(name)
            for group in groups:
                links = page.get_by_role("link").filter(has_text=re.compile(rf"^{group}$"))
                expect(links.first, f"no asset of group {group} in the catalog").to_be_visible()

        with shots.step("automation"):
            page.goto("/automation", wait_until="networkidle")
            for name in (SENSOR, SCHEDULE):
                expect(page.get_by_role("link", name=re.compile(rf"\b{name}\b"))).to_be_visible()

        with shots.step("sensor"):
            page.get_by_role("link", name=re.compile(rf"\b{SENSOR}\b")).click()
            expect(page).to_have_url(re.compile(rf"/sensors/{SENSOR}$"))
            expect(page.get_by_text("WAREHOUSE_LANDING_DIR").first).to_be_visible()
            expect(page.get_by_text("1 run requested").first).to_be_visible()
            expect(page.get_by_role("link", name=dropped.run_id[:8])).to_be_visible()

        with shots.step("schedule"):
            page.goto("/automation", wait_until="networkidle")
            page.get_by_role("link", name=re.compile(rf"\b{SCHEDULE}\b")).click()
            expect(page).to_have_url(re.compile(rf"/schedules/{SCHEDULE}$"))
            expect(page.get_by_text("(0 6 * * *)")).to_be_visible()
            expect(page.get_by_role("link", name="products_job")).to_be_visible()

        for name in fact_checks:
            with shots.step(f"check-{name}"):
                page.goto(f"/assets/fact_sales?view=checks&checkDetail={name}", wait_until="networkidle")
                expect(page.get_by_text(f"Checks ({len(fact_checks)})")).to_be_visible()
                for other in fact_checks:
                    expect(page.get_by_title(other, exact=True).first.locator("xpath=..")).to_contain_text("Succeeded")
                expect(page.get_by_text("Evaluation result", exact=True).locator("xpath=..")).to_contain_text("Passed")
                expect(page.get_by_text(re.compile(rf"{FILES} file\(s\) of this run")).first).to_be_visible()
    finally:
        context.close()
