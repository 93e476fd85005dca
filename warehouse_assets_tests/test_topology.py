"""The production process topology, for real: code server, webserver and daemon as separate processes.

What docker-compose.yml runs in containers is started here as plain processes on 127.0.0.1 and
free ports, from the project folder and with the repository's own workspace.yaml and dagster.yaml
(copied into a temporary DAGSTER_HOME), so a code location that does not load in a process of its
own, a variable the processes do not agree on, or a sensor that never fires breaks a test here:

* the user-code gRPC server (`dagster code-server start -m warehouse_assets.definitions`), found by
  the webserver and the daemon through DAGSTER_GRPC_HOST / DAGSTER_GRPC_PORT (workspace.yaml);
* `dagster-webserver -w workspace.yaml` and `dagster-daemon run -w workspace.yaml`, with runs,
  event logs and sensor state in PostgreSQL through DAGSTER_PG_URL (dagster.yaml).

Dagster's storage shares the test's warehouse database, as in docker-compose.yml (one database,
DAGSTER_PG_URL and WAREHOUSE_DATABASE_URL differing only in the driver) and in `warehouse dev`
(DAGSTER_PG_URL defaults to the warehouse database): the test thereby also shows that Dagster's
tables (schema public) and the warehouse's (schemas warehouse, analytics) live side by side.

`test_sensor_loads_a_dropped_file` waits for the sensor's first (empty) tick, drops a generated
CSV into the landing folder and waits until the daemon's sensor has launched the run, the run has
succeeded in Dagster's run storage and warehouse.fact_sales holds the file's rows.
`test_ui_in_a_browser` drives headless Chromium (Debian's /usr/bin/chromium, skipped when absent)
against the same webserver: the asset catalog lists every asset, the Automation page shows the
sensor and the schedule, and the checks tab of fact_sales shows its checks passed after that run.
Screenshots go to test-artifacts/topology/ (git-ignored).

Both tests share one topology (module-scoped fixture), started once. Each service runs in a
session of its own; the fixture's teardown stops it as `docker stop` would (SIGTERM, SIGKILL after
a grace period), then ends anything of its session still alive, and fails if any process is left.
Each service also receives SIGTERM should the test process die without tearing down
(PR_SET_PDEATHSIG), e.g. when a CI job is cancelled.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import psutil
import psycopg
import pytest
import requests

from warehouse_assets import settings
from warehouse_assets.resources.postgres import libpq_url, replace_database, with_driver
from warehouse_assets.sample_data import SalesSpec, generate_sales, write_products
from warehouse_assets_tests.conftest import create_database, drop_database

pytestmark = pytest.mark.slow

ROOT = settings.PROJECT_DIR
BIN = Path(sys.executable).parent
ARTIFACTS = ROOT / "test-artifacts" / "topology"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

LOCATION = "warehouse"  # workspace.yaml's location_name
REPOSITORY = "__repository__"  # the repository a Definitions object becomes
SENSOR = "sales_files_sensor"
SCHEDULE = "products_refresh_schedule"
SALES_JOB = "sales_file_job"
SALES_FILE = "topology_sales.csv"
SALES_ROWS = 300

STARTUP_TIMEOUT = 120  # code server loaded, webserver serving, daemon heartbeating
FIRST_TICK_TIMEOUT = 60  # the sensor's first tick after the daemon started
LOAD_TIMEOUT = 180  # file dropped -> run launched, succeeded, rows in fact_sales
STOP_GRACE_SECONDS = 20
LOG_TAIL_LINES = 40

T = TypeVar("T")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")  # Dagster colours its log lines even into a file


# --- Processes -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _prctl():
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None  # not Linux: the fixture's teardown remains


# Looked up here, in the test process: the child only calls it (no loading, no locks).
_PRCTL = _prctl() if sys.platform.startswith("linux") else None
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when the test process dies, whatever the cause (a
    killed or timed-out pytest runs no teardown)."""
    _PRCTL(_PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class Service:
    name: str
    argv: list[str]
    log: Path
    proc: subprocess.Popen | None = None

    def start(self, env: dict[str, str]) -> None:
        with open(self.log, "wb") as out:
            # A session of its own, whose id is the service's pid: whatever the service spawns
            # (the code server's child server and run workers, ...) stays in it and is found
            # by that id at shutdown.
            self.proc = subprocess.Popen(
                self.argv,
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                # Started before any browser or other thread exists.
                preexec_fn=_die_with_parent if _PRCTL else None,  # noqa: PLW1509
            )

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def tail(self, lines: int = LOG_TAIL_LINES) -> str:
        try:
            text = self.log.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(_ANSI.sub("", text).splitlines()[-lines:])

    def processes(self) -> dict[int, psutil.Process]:
        """The live processes of this service: the members of its session (no other process can
        join it, and its id is not reused while a member lives) and its descendants."""
        if self.proc is None:
            return {}
        found: dict[int, psutil.Process] = {}
        for proc in psutil.process_iter():
            try:
                if os.getsid(proc.pid) == self.proc.pid:
                    found[proc.pid] = proc
            except (ProcessLookupError, PermissionError):
                pass
        if self.running:
            try:
                found |= {p.pid: p for p in psutil.Process(self.proc.pid).children(recursive=True)}
            except psutil.NoSuchProcess:
                pass
        return {pid: p for pid, p in found.items() if _alive(p)}


def _alive(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def stop_services(services: list[Service]) -> tuple[list[str], list[str]]:
    """SIGTERM each service (its main process, as `docker stop` does), wait, SIGKILL it if it
    does not exit; then SIGTERM and SIGKILL whatever it left behind. Returns what needed force,
    and what is still alive after all that (nothing, unless a process cannot be killed)."""
    started = [s for s in services if s.proc is not None]
    tracked = {s.name: s.processes() for s in started}
    for service in started:
        if service.running:
            service.proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    forced = []
    for service in started:
        try:
            service.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            forced.append(f"{service.name} ignored SIGTERM for {STOP_GRACE_SECONDS}s")
            service.proc.kill()
            service.proc.wait(timeout=10)
    for service in started:
        rest = [p for p in (tracked[service.name] | service.processes()).values() if _alive(p)]
        if not rest:
            continue
        forced.append(f"{service.name} left {', '.join(f'{p.pid} {_cmdline(p)}' for p in rest)}")
        for proc in rest:
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.terminate()
        _, alive = psutil.wait_procs(rest, timeout=5)
        for proc in alive:
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.kill()
        psutil.wait_procs(alive, timeout=5)
    remaining = [
        f"{s.name}: {p.pid} {_cmdline(p)}"
        for s in started
        for p in (tracked[s.name] | s.processes()).values()
        if _alive(p)
    ]
    return forced, remaining


def _cmdline(proc: psutil.Process) -> str:
    try:
        return " ".join(proc.cmdline())[:120]
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return "?"


# --- The topology ----------------------------------------------------------------------------


class Failed(AssertionError):
    pass


@dataclass
class SalesLoad:
    run_id: str
    seconds: float  # from the drop to the run's success
    run_seconds: float  # the run itself, from its start to its end
    rows_expected: int
    rows_loaded: int


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
    _load: SalesLoad | BaseException | None = None

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

    def sales_runs(self) -> list[tuple[str, str, str | None]]:
        return self.dagster_query(
            "SELECT run_id, status, partition FROM runs WHERE pipeline_name = %s ORDER BY create_timestamp",
            SALES_JOB,
        )

    # -- the one load both tests rely on

    def sales_load(self) -> SalesLoad:
        """Drop the sales file and wait for the sensor's run (once; later calls get the result)."""
        if self._load is None:
            try:
                self._load = self._drop_and_wait()
            except BaseException as exc:
                self._load = exc
                raise
        if isinstance(self._load, BaseException):
            pytest.fail(f"the sensor's load failed earlier in this module: {self._load}".splitlines()[0])
        return self._load

    def _drop_and_wait(self) -> SalesLoad:
        # The sensor has ticked at least once with an empty landing folder, so the file arrives
        # in a running deployment, as in production, and the cursor of an earlier tick is used.
        started = time.monotonic()
        ticks = self.wait_for(f"the first tick of {SENSOR}", self.sensor_ticks, FIRST_TICK_TIMEOUT)
        assert all(not t["runIds"] for t in ticks), f"the sensor launched runs before any file arrived: {ticks}"
        self.timings["first sensor tick"] = time.monotonic() - started

        generated = generate_sales(
            self.staging / SALES_FILE,
            SalesSpec(rows=SALES_ROWS, customers=60, bad_share=0.0, seed=20240),
        )
        # Independently of the loader: no planted bad rows, so every data line is a valid row.
        assert generated.planted == {}
        with open(generated.path, encoding="utf-8") as fh:
            expected = sum(1 for _ in fh) - 1
        assert expected == SALES_ROWS
        # Written elsewhere and renamed in, so no tick can see half a file (settle time is 0).
        dropped = time.monotonic()
        os.replace(generated.path, self.landing / SALES_FILE)

        def finished_run():
            runs = self.sales_runs()
            for run_id, status, _partition in runs:
                if status in ("FAILURE", "CANCELED"):
                    raise self.fail(f"run {run_id} of {SALES_JOB} ended {status}:\n{self.run_errors(run_id)}")
            done = [r for r in runs if r[1] == "SUCCESS"]
            return done[0] if done else None

        run_id, _status, _partition = self.wait_for(
            f"the sensor's run of {SALES_JOB} for {SALES_FILE} to succeed",
            finished_run,
            LOAD_TIMEOUT,
            interval=2,
        )
        self.timings["file dropped -> run succeeded"] = time.monotonic() - dropped
        seconds = time.monotonic() - dropped
        ((run_seconds,),) = self.dagster_query("SELECT end_time - start_time FROM runs WHERE run_id = %s", run_id)
        self.timings["the run itself"] = run_seconds
        loaded = self.warehouse_query("SELECT count(*) FROM warehouse.fact_sales WHERE source_file = %s", SALES_FILE)[
            0
        ][0]
        return SalesLoad(run_id, seconds, run_seconds, rows_expected=expected, rows_loaded=loaded)

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
    ... on Sensor { sensorState { status ticks(limit: 20) { status skipReason runIds error { message } } } }
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
    needed = {"SENSOR", "SCHEDULER", "QUEUED_RUN_COORDINATOR"}
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


@pytest.fixture(scope="module")
def topology(pg_server_url: str, template_database: str, tmp_path_factory) -> Iterator[Topology]:
    base = tmp_path_factory.mktemp("topology")
    home, landing, layouts, staging, logs = (
        base / n for n in ("dagster_home", "landing", "layouts", "staging", "logs")
    )
    for folder in (home, landing, layouts, staging, logs):
        folder.mkdir()
    shutil.copyfile(ROOT / "dagster.yaml", home / "dagster.yaml")
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
        DAGSTER_PG_URL=with_driver(warehouse_url, "psycopg2"),
        WAREHOUSE_DATABASE_URL=warehouse_url,
        DAGSTER_GRPC_HOST="127.0.0.1",
        DAGSTER_GRPC_PORT=str(grpc_port),
        WAREHOUSE_LANDING_DIR=str(landing),
        WAREHOUSE_LAYOUTS_DIR=str(layouts),
        WAREHOUSE_SENSOR_SETTLE_SECONDS="0",
        FAKESTORE_BASE_URL=str(products),
        PYTHONUNBUFFERED="1",
    )
    services = [
        Service(
            "code-server",
            [
                str(BIN / "dagster"),
                "code-server",
                "start",
                "-h",
                "127.0.0.1",
                "-p",
                str(grpc_port),
                "-m",
                "warehouse_assets.definitions",
            ],
            logs / "code_server.log",
        ),
        Service(
            "webserver",
            [
                str(BIN / "dagster-webserver"),
                "-h",
                "127.0.0.1",
                "-p",
                str(web_port),
                "-w",
                "workspace.yaml",
            ],
            logs / "webserver.log",
        ),
        Service(
            "daemon",
            [str(BIN / "dagster-daemon"), "run", "-w", "workspace.yaml"],
            logs / "daemon.log",
        ),
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
            f"the webserver to load code location {LOCATION!r}",
            lambda: _location_loaded(topology),
            STARTUP_TIMEOUT,
        )
        topology.timings["webserver loaded the location"] = time.monotonic() - started
        topology.wait_for(
            "the daemon's sensor, scheduler and run queue heartbeats",
            lambda: _daemons_healthy(topology),
            STARTUP_TIMEOUT,
        )
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


# --- Tests -----------------------------------------------------------------------------------


def test_sensor_loads_a_dropped_file(topology: Topology):
    load = topology.sales_load()

    assert load.rows_loaded == load.rows_expected == SALES_ROWS
    total = topology.warehouse_query("SELECT count(*) FROM warehouse.fact_sales")[0][0]
    assert total == SALES_ROWS
    ledger = topology.warehouse_query(
        "SELECT rows_read, rows_valid, rows_rejected FROM warehouse.sales_files WHERE source_file = %s",
        SALES_FILE,
    )
    assert ledger == [(SALES_ROWS, SALES_ROWS, 0)]

    # The run is in Dagster's PostgreSQL run storage, succeeded, for the file's partition,
    # launched by the sensor (its tick names the run) and not by anything else.
    assert topology.dagster_query("SELECT count(*) FROM runs WHERE pipeline_name = %s", SALES_JOB) == [(1,)]
    assert topology.sales_runs() == [(load.run_id, "SUCCESS", SALES_FILE)]
    tags = dict(topology.dagster_query("SELECT key, value FROM run_tags WHERE run_id = %s", load.run_id))
    assert tags.get("dagster/sensor_name") == SENSOR
    assert tags.get("dagster/partition") == SALES_FILE
    state = topology.sensor_state()
    assert state["status"] == "RUNNING"  # default_status, with no one switching it on
    ticks = state["ticks"]
    assert [t["runIds"] for t in ticks if t["runIds"]] == [[load.run_id]]
    assert not [t for t in ticks if t["status"] == "FAILURE"], ticks
    schedule = topology.schedule()
    assert (schedule["cronSchedule"], schedule["scheduleState"]["status"]) == (
        "0 6 * * *",
        "RUNNING",
    )

    # The checks of that run passed and were recorded in the instance.
    checks = dict(
        topology.dagster_query(
            "SELECT check_name, execution_status FROM asset_check_executions WHERE run_id = %s",
            load.run_id,
        )
    )
    assert {
        "fact_sales_no_orphans",
        "fact_sales_amounts_valid",
        "fact_sales_dates_consistent",
        "sales_file_reconciles",
    } <= set(checks), checks
    assert set(checks.values()) == {"SUCCEEDED"}, checks

    topology.ensure_running()
    print(
        f"\nsensor run {load.run_id}: {load.rows_loaded} rows, succeeded {load.seconds:.1f}s after the drop "
        f"(the run itself {load.run_seconds:.1f}s)"
    )


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


class Screens:
    """Numbered screenshots of each step in test-artifacts/topology/, marked when the step failed."""

    def __init__(self, page) -> None:
        self.page = page
        self.count = 0
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        for old in ARTIFACTS.glob("*.png"):
            old.unlink()

    @contextlib.contextmanager
    def step(self, name: str):
        self.count += 1
        stem = f"{self.count:02d}-{name}"
        try:
            yield
        except BaseException:
            self.page.screenshot(path=ARTIFACTS / f"{stem}-FAILED.png", full_page=True)
            raise
        self.page.screenshot(path=ARTIFACTS / f"{stem}.png", full_page=True)


# Checked before any fixture, so without a browser no topology is started for this test.
@pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason=f"{CHROMIUM} is absent: install Debian's chromium (apt-get install -y chromium) to run the UI test",
)
def test_ui_in_a_browser(topology: Topology, browser):
    from playwright.sync_api import expect

    from warehouse_assets.definitions import build_definitions

    load = topology.sales_load()  # the checks below are those of the sensor's run
    graph = build_definitions(topology.warehouse_url).get_repository_def().asset_graph
    assets = sorted(key.to_user_string() for key in graph.get_all_asset_keys())
    groups = sorted({graph.get(key).group_name for key in graph.get_all_asset_keys()})
    fact_checks = sorted(k.name for k in graph.asset_check_keys if k.asset_key.to_user_string() == "fact_sales")
    assert len(assets) >= 17 and len(fact_checks) >= 4, (assets, fact_checks)

    # Tall enough that the catalog's virtualised table renders every row without scrolling.
    context = browser.new_context(viewport={"width": 1600, "height": 2400}, base_url=topology.webserver_url)
    context.set_default_timeout(30_000)
    page = context.new_page()
    # The fixture marks the instance's "join the community" dialog as seen; should it show
    # anyway it would cover the page, so it is dismissed whenever it appears.
    page.add_locator_handler(
        page.get_by_text("Join the Dagster community"),
        lambda _: page.get_by_role("button", name="Skip").click(),
    )
    shots = Screens(page)
    try:
        with shots.step("asset-catalog"):
            page.goto("/assets", wait_until="networkidle")
            expect(page.get_by_role("link", name="Catalog")).to_be_visible()
            for name in assets:
                link = page.locator(f'a[href="/assets/{name}"]')
                expect(link, f"asset {name} is not in the catalog").to_contain_text(name)
            for group in groups:
                group_links = page.get_by_role("link").filter(has_text=re.compile(rf"^{group}$"))
                expect(group_links.first, f"no asset of group {group} in the catalog").to_be_visible()

        with shots.step("asset-lineage"):
            page.goto("/asset-groups", wait_until="networkidle")
            expect(page.get_by_text("Global asset lineage")).to_be_visible()
            for group in groups:
                expect(page.get_by_text(group, exact=True).first, f"group {group} not in the lineage").to_be_visible()

        with shots.step("automation"):
            page.goto("/automation", wait_until="networkidle")
            for name in (SENSOR, SCHEDULE, "freshness_checks_sensor"):
                expect(page.get_by_role("link", name=re.compile(rf"\b{name}\b"))).to_be_visible()

        with shots.step("sensor"):
            page.get_by_role("link", name=re.compile(rf"\b{SENSOR}\b")).click()
            expect(page).to_have_url(re.compile(rf"/sensors/{SENSOR}$"))
            expect(page.get_by_text("Watches WAREHOUSE_LANDING_DIR")).to_be_visible()
            expect(page.get_by_role("link", name=SALES_JOB)).to_be_visible()
            # The tick that launched the run, with the run's short id, in the tick history.
            expect(page.get_by_text("1 run requested").first).to_be_visible()
            expect(page.get_by_role("link", name=load.run_id[:8])).to_be_visible()

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
                # In the list every check of fact_sales, each with its last status ...
                for other in fact_checks:
                    expect(page.get_by_title(other, exact=True).first.locator("xpath=..")).to_contain_text("Succeeded")
                # ... and the selected one's latest evaluation: passed, over the sensor's file.
                expect(page.get_by_text("Evaluation result", exact=True).locator("xpath=..")).to_contain_text("Passed")
                expect(page.get_by_text(f"file {SALES_FILE}", exact=True)).to_be_visible()
    finally:
        context.close()
