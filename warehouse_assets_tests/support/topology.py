"""The production process topology as plain processes: the user-code gRPC server, the webserver
and the daemon, each in a session of its own, with the repository's workspace.yaml and
dagster.yaml (copied into a temporary DAGSTER_HOME), on 127.0.0.1 and free ports.

`start_topology` starts them and waits until the code server answers its health check, the
webserver has loaded the code location and the daemon's sensor, scheduler, run queue and backfill
heartbeats are healthy. Teardown stops each service as `docker stop` would (SIGTERM, SIGKILL after
a grace period), ends anything of its session still alive, and fails if any process is left. Each
service also receives SIGTERM should the test process die without tearing down
(PR_SET_PDEATHSIG), e.g. when a CI job is cancelled.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import psycopg
import requests

from warehouse_assets.cli.environment import instance_config
from warehouse_assets.cli.sample_data import write_products
from warehouse_assets.core.urls import dagster_storage_url, libpq_url, replace_database
from warehouse_assets_tests.support.databases import create_database, drop_database
from warehouse_assets_tests.support.paths import PROJECT_DIR
from warehouse_assets_tests.support.services import LOG_TAIL_LINES, Service, free_port, stop_services

ROOT = PROJECT_DIR
BIN = Path(sys.executable).parent
LOCATION = "warehouse"  # workspace.yaml's location_name
REPOSITORY = "__repository__"  # the repository a Definitions object becomes
SENSOR = "sales_files_sensor"
SCHEDULE = "products_refresh_schedule"
SALES_JOB = "sales_files_job"

STARTUP_TIMEOUT = 120  # code server loaded, webserver serving, daemon heartbeating

T = TypeVar("T")


# --- The topology ----------------------------------------------------------------------------


class Failed(AssertionError):
    pass


@dataclass
class Topology:
    webserver_url: str
    grpc_port: int
    services: list[Service]
    env: dict[str, str]
    landing: Path
    staging: Path
    warehouse_url: str  # libpq form, for psycopg
    dagster_storage_url: str  # libpq form of DAGSTER_PG_URL, for psycopg
    timings: dict[str, float] = field(default_factory=dict)

    # -- diagnostics

    def logs(self) -> str:
        parts = []
        for service in self.services:
            state = "running" if service.running else f"exited with {service.proc.returncode if service.proc else '?'}"
            parts.append(
                f"----- {service.name} ({state}), last {LOG_TAIL_LINES} lines of {service.log} -----\n{service.tail()}"
            )
        return "\n".join(parts)

    def fail(self, message: str) -> Failed:
        return Failed(f"{message}\n{self.logs()}")

    def ensure_running(self) -> None:
        dead = [s.name for s in self.services if not s.running]
        if dead:
            raise self.fail(f"process(es) exited: {', '.join(dead)}")

    def wait_for(self, description: str, probe: Callable[[], T | None], timeout: float, interval: float = 1.0) -> T:
        """Poll `probe` until it returns something truthy; fail with every log's tail on timeout
        or as soon as a process has died."""
        deadline = time.monotonic() + timeout
        last_error: BaseException | None = None
        while True:
            self.ensure_running()
            try:
                value = probe()
                if value:
                    return value
            except Failed:
                raise
            except Exception as exc:  # noqa: BLE001 - not up yet: connection refused, no table yet ...
                last_error = exc
            if time.monotonic() > deadline:
                detail = f"\nlast error: {type(last_error).__name__}: {last_error}" if last_error else ""
                raise self.fail(f"timed out after {timeout:.0f}s waiting for {description}{detail}")
            time.sleep(interval)

    # -- talking to it

    def graphql(self, query: str, variables: dict | None = None) -> dict[str, Any]:
        response = requests.post(
            f"{self.webserver_url}/graphql",
            json={"query": query, "variables": variables or {}},
            timeout=30,
        )
        response.raise_for_status()
        body = response.json()
        if body.get("errors"):
            raise RuntimeError(f"GraphQL errors: {body['errors']}")
        return body["data"]

    def dagster_query(self, query: str, *params) -> list[tuple]:
        with psycopg.connect(self.dagster_storage_url, autocommit=True) as conn:
            return conn.execute(query, params).fetchall()

    def warehouse_query(self, query: str, *params) -> list[tuple]:
        with psycopg.connect(self.warehouse_url, autocommit=True) as conn:
            return conn.execute(query, params).fetchall()

    def sensor_state(self) -> dict:
        data = self.graphql(SENSOR_TICKS_QUERY, {"selector": sensor_selector(SENSOR)})
        sensor = data["sensorOrError"]
        if sensor["__typename"] != "Sensor":
            raise self.fail(f"sensor {SENSOR} not found: {sensor}")
        return sensor["sensorState"]

    def sensor_ticks(self) -> list[dict]:
        return self.sensor_state()["ticks"]

    def schedule(self) -> dict:
        selector = {
            "repositoryLocationName": LOCATION,
            "repositoryName": REPOSITORY,
            "scheduleName": SCHEDULE,
        }
        schedule = self.graphql(SCHEDULE_QUERY, {"selector": selector})["scheduleOrError"]
        if schedule["__typename"] != "Schedule":
            raise self.fail(f"schedule {SCHEDULE} not found: {schedule}")
        return schedule

    def sales_runs(self) -> list[tuple[str, str]]:
        """(run id, status) of every run of the sales job, oldest first."""
        return self.dagster_query(
            "SELECT run_id, status FROM runs WHERE pipeline_name = %s ORDER BY create_timestamp", SALES_JOB
        )

    def run_tags(self, run_id: str) -> dict[str, str]:
        return dict(self.dagster_query("SELECT key, value FROM run_tags WHERE run_id = %s", run_id))

    def run_errors(self, run_id: str) -> str:
        rows = self.dagster_query(
            "SELECT dagster_event_type, event FROM event_logs WHERE run_id = %s "
            "AND dagster_event_type IN ('STEP_FAILURE', 'RUN_FAILURE', 'ENGINE_EVENT') ORDER BY id",
            run_id,
        )
        out = []
        for event_type, body in rows:
            try:
                record = json.loads(body)
                message = record.get("user_message") or ""
                error = (record.get("dagster_event") or {}).get("event_specific_data") or {}
                if isinstance(error, dict) and isinstance(error.get("error"), dict):
                    message += "\n" + (error["error"].get("message") or "")
            except (TypeError, ValueError):
                message = str(body)[:500]
            out.append(f"{event_type}: {message.strip()}")
        return "\n".join(out[-10:]) or "(no failure events)"


def sensor_selector(name: str) -> dict[str, str]:
    return {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY, "sensorName": name}


WORKSPACE_QUERY = """
query {
  workspaceOrError {
    __typename
    ... on Workspace {
      locationEntries {
        name
        loadStatus
        locationOrLoadError { __typename ... on PythonError { message stack } }
      }
    }
    ... on PythonError { message }
  }
}
"""

DAEMONS_QUERY = """
query {
  instance { daemonHealth { allDaemonStatuses { daemonType required healthy } } }
}
"""

SENSOR_TICKS_QUERY = """
query ($selector: SensorSelector!) {
  sensorOrError(sensorSelector: $selector) {
    __typename
    ... on Sensor { sensorState { status ticks(limit: 20) { status timestamp skipReason runIds error { message } } } }
    ... on PythonError { message }
  }
}
"""

SCHEDULE_QUERY = """
query ($selector: ScheduleSelector!) {
  scheduleOrError(scheduleSelector: $selector) {
    __typename
    ... on Schedule { name cronSchedule scheduleState { status } }
    ... on PythonError { message }
  }
}
"""


def _location_loaded(topology: Topology) -> bool:
    data = topology.graphql(WORKSPACE_QUERY)["workspaceOrError"]
    if data["__typename"] != "Workspace":
        raise topology.fail(f"the webserver could not read workspace.yaml: {data}")
    entries = {e["name"]: e for e in data["locationEntries"]}
    entry = entries.get(LOCATION)
    if entry is None:
        raise topology.fail(f"workspace.yaml's location {LOCATION!r} is not in the workspace: {list(entries)}")
    if entry["loadStatus"] != "LOADED":
        return False
    loaded = entry["locationOrLoadError"] or {}
    if loaded.get("__typename") == "PythonError":
        message = f"code location {LOCATION!r} failed to load:\n{loaded['message']}\n{''.join(loaded['stack'])}"
        if "DagsterUserCodeUnreachableError" in loaded["message"]:
            # The webserver looked before the code server was up; it reloads the location when
            # the server answers, so this is retried (and shown if it lasts until the timeout).
            raise RuntimeError(message)
        raise topology.fail(message)
    return loaded.get("__typename") == "RepositoryLocation"


def _daemons_healthy(topology: Topology) -> bool:
    statuses = topology.graphql(DAEMONS_QUERY)["instance"]["daemonHealth"]["allDaemonStatuses"]
    needed = {"SENSOR", "SCHEDULER", "QUEUED_RUN_COORDINATOR", "BACKFILL"}
    healthy = {s["daemonType"] for s in statuses if s["healthy"]}
    return needed <= healthy


def _grpc_healthy(topology: Topology) -> bool:
    result = subprocess.run(
        [
            str(BIN / "dagster"),
            "api",
            "grpc-health-check",
            "-p",
            str(topology.grpc_port),
            "-h",
            "127.0.0.1",
        ],
        cwd=ROOT,
        env=topology.env,
        capture_output=True,
        timeout=60,
        check=False,
    )
    return result.returncode == 0


@contextlib.contextmanager
def start_topology(pg_server_url: str, template_database: str, base: Path, **settings: str) -> Iterator[Topology]:
    """The three services on a warehouse database of their own (created from the template, and
    shared with Dagster's storage, as in docker-compose.yml); `settings` are extra variables."""
    home, landing, layouts, staging, logs = (
        base / n for n in ("dagster_home", "landing", "layouts", "staging", "logs")
    )
    for folder in (home, landing, layouts, staging, logs):
        folder.mkdir()
    (home / "dagster.yaml").write_text(instance_config(ROOT))
    # The UI's "join the Dagster community" dialog, shown once per instance, marked as seen
    # (what its Skip button records), so it covers no screenshot.
    (home / ".nux").mkdir()
    (home / ".nux" / "nux.yaml").write_text("seen: 1\n")
    products = write_products(base / "products.json")

    database = create_database(pg_server_url, template_database)
    warehouse_url = replace_database(pg_server_url, database)
    grpc_port, web_port = free_port(), free_port()
    while web_port == grpc_port:
        web_port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WAREHOUSE_", "DAGSTER_", "FAKESTORE_"))}
    env.update(
        DAGSTER_HOME=str(home),
        DAGSTER_PG_URL=dagster_storage_url(warehouse_url),
        WAREHOUSE_DATABASE_URL=warehouse_url,
        DAGSTER_GRPC_HOST="127.0.0.1",
        DAGSTER_GRPC_PORT=str(grpc_port),
        WAREHOUSE_LANDING_DIR=str(landing),
        WAREHOUSE_LAYOUTS_DIR=str(layouts),
        FAKESTORE_BASE_URL=str(products),
        PYTHONUNBUFFERED="1",
        **settings,
    )
    grpc = ["-h", "127.0.0.1", "-p", str(grpc_port), "-m", "warehouse_assets.definitions"]
    services = [
        Service("code-server", [str(BIN / "dagster"), "code-server", "start", *grpc], logs / "code_server.log"),
        Service(
            "webserver",
            [str(BIN / "dagster-webserver"), "-h", "127.0.0.1", "-p", str(web_port), "-w", "workspace.yaml"],
            logs / "webserver.log",
        ),
        Service("daemon", [str(BIN / "dagster-daemon"), "run", "-w", "workspace.yaml"], logs / "daemon.log"),
    ]
    topology = Topology(
        webserver_url=f"http://127.0.0.1:{web_port}",
        grpc_port=grpc_port,
        services=services,
        env=env,
        landing=landing,
        staging=staging,
        warehouse_url=libpq_url(warehouse_url),
        dagster_storage_url=libpq_url(env["DAGSTER_PG_URL"]),
    )
    torn_down_normally = False
    try:
        started = time.monotonic()
        for service in services:
            service.start(env)
        topology.wait_for("the code server's gRPC health check", lambda: _grpc_healthy(topology), STARTUP_TIMEOUT)
        topology.timings["code server healthy"] = time.monotonic() - started
        topology.wait_for(
            "the webserver's /server_info",
            lambda: requests.get(f"{topology.webserver_url}/server_info", timeout=5).ok,
            STARTUP_TIMEOUT,
        )
        topology.wait_for(
            f"the webserver to load code location {LOCATION!r}", lambda: _location_loaded(topology), STARTUP_TIMEOUT
        )
        topology.timings["webserver loaded the location"] = time.monotonic() - started
        topology.wait_for("the daemon's heartbeats", lambda: _daemons_healthy(topology), STARTUP_TIMEOUT)
        topology.timings["daemon healthy"] = time.monotonic() - started
        yield topology
        torn_down_normally = True
    finally:
        stopping = time.monotonic()
        forced, remaining = stop_services(services)
        topology.timings["shutdown"] = time.monotonic() - stopping
        print(f"\ntopology timings (s): {', '.join(f'{k} {v:.1f}' for k, v in topology.timings.items())}")
        if forced:
            print("stopping needed force: " + "; ".join(forced))
        drop_database(pg_server_url, database)
        if remaining:
            message = f"processes left behind even after SIGKILL: {remaining}"
            if torn_down_normally:
                raise AssertionError(message)
            print(message)  # a failed start-up keeps its own error
