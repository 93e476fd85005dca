"""Every setting of the warehouse: its environment variable, its default, and the typed object.

`Settings.from_environment()` is called at the edges only (a CLI command, the code location's
`@dg.definitions` function, a test fixture) and the object is passed down from there; no module
reads the environment when it is imported. Each default is written once, in `VARIABLES`; the
README's configuration table and `warehouse config` are generated from the same list.

Relative paths are taken from the project folder, not from the current directory, so the
webserver, the daemon and the CLI agree on them whichever folder they were started from.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from warehouse_assets.core.urls import mask_url

PROJECT_DIR = Path(__file__).resolve().parents[2]
SQL_DIR = PROJECT_DIR / "sql"


class SettingsError(ValueError):
    """A variable whose value cannot be used; the message names the variable and the value."""


def _whole(name: str, text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise SettingsError(f"{name}={text!r} is not a whole number") from None


def _positive_whole(name: str, text: str) -> int:
    value = _whole(name, text)
    if value < 1:
        raise SettingsError(f"{name}={text!r} must be at least 1")
    return value


def _number(name: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise SettingsError(f"{name}={text!r} is not a number") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise SettingsError(f"{name}={text!r} is not a finite number")
    return value


def _non_negative(name: str, text: str) -> float:
    value = _number(name, text)
    if value < 0:
        raise SettingsError(f"{name}={text!r} must not be negative")
    return value


def _share(name: str, text: str) -> float:
    value = _number(name, text)
    if not 0 <= value <= 1:
        raise SettingsError(f"{name}={text!r} must be a share between 0 and 1 (0.05 = 5 %)")
    return value


def _iso_date(name: str, text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise SettingsError(f"{name}={text!r} is not an ISO date (YYYY-MM-DD)") from None


def _time_zone(name: str, text: str) -> str:
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingsError(f"{name}={text!r} is not an IANA time zone (e.g. Europe/Paris)") from None
    return text


def _cron(name: str, text: str) -> str:
    parts = text.split()
    if len(parts) != 5:
        raise SettingsError(f"{name}={text!r} is not a cron expression of five fields (minute hour day month weekday)")
    return text


def _text(name: str, text: str) -> str:
    return text


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _log_level(name: str, text: str) -> str:
    if text.upper() not in LOG_LEVELS:
        raise SettingsError(f"{name}={text!r} is not a log level ({', '.join(LOG_LEVELS)})")
    return text.upper()


@dataclass(frozen=True)
class Variable:
    """One environment variable: its default (None: unset means something documented), its help."""

    name: str
    attribute: str
    default: str | None
    help: str
    parse: Callable[[str, str], Any] = _text
    secret: bool = False
    path: bool = False


VARIABLES: tuple[Variable, ...] = (
    Variable(
        "WAREHOUSE_DATABASE_URL",
        "database_url",
        None,
        "PostgreSQL URL of the warehouse. Unset: an embedded PostgreSQL is started in the state folder and "
        "reused by every command.",
        secret=True,
    ),
    Variable(
        "DAGSTER_PG_URL",
        "dagster_pg_url",
        None,
        "PostgreSQL URL for Dagster's runs, event logs and schedules. Unset: the warehouse database (with the "
        "psycopg2 driver).",
        secret=True,
    ),
    Variable(
        "WAREHOUSE_STATE_DIR",
        "state_dir",
        ".warehouse",
        "Git-ignored folder for the embedded server's data and DAGSTER_HOME.",
        path=True,
    ),
    Variable("DAGSTER_HOME", "dagster_home", None, "Dagster's home. Unset: <state dir>/dagster_home.", path=True),
    Variable("WAREHOUSE_LANDING_DIR", "landing_dir", "data/landing", "Folder watched for sales CSV files.", path=True),
    Variable(
        "WAREHOUSE_LAYOUTS_DIR",
        "layouts_dir",
        "data/layouts",
        "Folder of source-layout YAML files for sales exports that do not follow the contract.",
        path=True,
    ),
    Variable(
        "WAREHOUSE_EARLIEST_DATE",
        "earliest_date",
        "2000-01-01",
        "Transactions dated before this day are quarantined as too_old.",
        _iso_date,
    ),
    Variable(
        "FAKESTORE_BASE_URL",
        "fakestore_base_url",
        "https://fakestoreapi.com",
        "Products source: the API's base URL, or a local JSON snapshot (path or file:// URL).",
    ),
    Variable(
        "FAKESTORE_CONNECT_TIMEOUT",
        "fakestore_connect_timeout",
        "5",
        "Seconds to wait for a connection to the API, per attempt.",
        _non_negative,
    ),
    Variable(
        "FAKESTORE_READ_TIMEOUT",
        "fakestore_read_timeout",
        "20",
        "Seconds to wait for the API to send data, per read.",
        _non_negative,
    ),
    Variable(
        "FAKESTORE_MAX_ATTEMPTS",
        "fakestore_max_attempts",
        "5",
        "Attempts per request before giving up.",
        _positive_whole,
    ),
    Variable(
        "FAKESTORE_BACKOFF_SECONDS",
        "fakestore_backoff_seconds",
        "0.5",
        "Retry backoff factor: waits of 0, 2x, 4x, 8x this (plus jitter, at most 30 s).",
        _non_negative,
    ),
    Variable(
        "FAKESTORE_DEADLINE_SECONDS",
        "fakestore_deadline_seconds",
        "120",
        "Overall time limit of a products refresh request, retries and the body included.",
        _non_negative,
    ),
    Variable(
        "WAREHOUSE_PRODUCTS_CRON",
        "products_cron",
        "0 6 * * *",
        "When the products refresh runs.",
        _cron,
    ),
    Variable(
        "WAREHOUSE_CHECKS_CRON",
        "checks_cron",
        "0 3 * * *",
        "When every check runs over the whole warehouse (catches data changed outside the pipeline).",
        _cron,
    ),
    Variable(
        "WAREHOUSE_SCHEDULE_TIMEZONE",
        "schedule_timezone",
        "UTC",
        "Time zone of the schedules.",
        _time_zone,
    ),
    Variable(
        "WAREHOUSE_PRODUCTS_MAX_AGE_HOURS",
        "products_max_age_hours",
        "36",
        "dim_product older than this is stale (freshness policy: warn at half of it).",
        _non_negative,
    ),
    Variable(
        "WAREHOUSE_SALES_MAX_SILENCE_DAYS",
        "sales_max_silence_days",
        "2",
        "No sales file loaded for this many days makes fact_sales stale (freshness policy).",
        _non_negative,
    ),
    Variable(
        "WAREHOUSE_CSV_CHUNK_ROWS",
        "csv_chunk_rows",
        "25000",
        "Rows per chunk when a sales file is streamed; bounds the loader's memory.",
        _positive_whole,
    ),
    Variable(
        "WAREHOUSE_SENSOR_SETTLE_SECONDS",
        "sensor_settle_seconds",
        "3",
        "A landing file modified more recently than this is taken as still being written.",
        _non_negative,
    ),
    Variable(
        "WAREHOUSE_SENSOR_INTERVAL_SECONDS",
        "sensor_interval_seconds",
        "5",
        "How often the sales files sensor looks at the landing folder.",
        _positive_whole,
    ),
    Variable(
        "WAREHOUSE_MAX_FILES_PER_RUN",
        "max_files_per_run",
        "200",
        "At most this many sales files in one run (the sensor, UI backfills and `warehouse load`).",
        _positive_whole,
    ),
    Variable(
        "WAREHOUSE_MAX_MB_PER_RUN",
        "max_mb_per_run",
        "2048",
        "At most this many megabytes of sales files in one run (a larger single file still runs alone).",
        _positive_whole,
    ),
    Variable(
        "WAREHOUSE_WEBSERVER_HOST",
        "webserver_host",
        "127.0.0.1",
        "Address `warehouse dev` binds the UI to.",
    ),
    Variable(
        "WAREHOUSE_WEBSERVER_PORT",
        "webserver_port",
        "3000",
        "Port of the UI started by `warehouse dev`.",
        _positive_whole,
    ),
    Variable(
        "WAREHOUSE_RUN_LOG_LEVEL",
        "run_log_level",
        "WARNING",
        "Lowest level of the Dagster event lines a run prints on its terminal (`warehouse dev --verbose` "
        "uses DEBUG). The UI's event log keeps every event whatever this says.",
        _log_level,
    ),
    Variable(
        "WAREHOUSE_ALERT_WEBHOOK_URL",
        "alert_webhook_url",
        None,
        "Slack or Microsoft Teams incoming webhook that failed runs, failed ERROR checks and heavily "
        "quarantined files are posted to. Unset: no alerts.",
        secret=True,
    ),
    Variable(
        "WAREHOUSE_UI_URL",
        "ui_url",
        "http://localhost:3000",
        "Address of the Dagster UI as the people reading alerts reach it; alerts link to <this>/runs/<run id>.",
    ),
    Variable(
        "WAREHOUSE_ALERT_QUARANTINE_SHARE",
        "alert_quarantine_share",
        "0.05",
        "A loaded file with more than this share of its rows quarantined is alerted (0.05 = 5 %).",
        _share,
    ),
    Variable(
        "WAREHOUSE_ALERT_TIMEOUT_SECONDS",
        "alert_timeout_seconds",
        "5",
        "Seconds an alert waits for the webhook to connect and to answer, per attempt (3 attempts).",
        _non_negative,
    ),
    Variable(
        "WAREHOUSE_TEST_DATABASE_URL",
        "test_database_url",
        None,
        "Tests only: a PostgreSQL server to test against instead of the embedded one.",
        secret=True,
    ),
)

_BY_NAME = {v.name: v for v in VARIABLES}


@dataclass(frozen=True)
class Settings:
    """The warehouse's configuration, typed. Build it with `from_environment`; change a copy with
    `replace(settings, landing_dir=...)` (dataclasses.replace)."""

    project_dir: Path
    database_url: str | None
    dagster_pg_url: str | None
    state_dir: Path
    dagster_home: Path
    landing_dir: Path
    layouts_dir: Path
    earliest_date: dt.date
    fakestore_base_url: str
    fakestore_connect_timeout: float
    fakestore_read_timeout: float
    fakestore_max_attempts: int
    fakestore_backoff_seconds: float
    fakestore_deadline_seconds: float
    products_cron: str
    checks_cron: str
    schedule_timezone: str
    products_max_age_hours: float
    sales_max_silence_days: float
    csv_chunk_rows: int
    sensor_settle_seconds: float
    sensor_interval_seconds: int
    max_files_per_run: int
    max_mb_per_run: int
    webserver_host: str
    webserver_port: int
    run_log_level: str
    alert_webhook_url: str | None
    ui_url: str
    alert_quarantine_share: float
    alert_timeout_seconds: float
    test_database_url: str | None
    # Variable name -> "environment" or "default": where each value came from.
    sources: Mapping[str, str] = field(default_factory=dict, compare=False)
    # Names of secret variables whose value came from this process's environment: definitions read
    # those through dg.EnvVar, so Dagster shows the variable's name, never its value.
    secrets_in_process_environment: frozenset[str] = field(default_factory=frozenset, compare=False)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None, *, project_dir: Path = PROJECT_DIR) -> Settings:
        """The settings given by `environ` (the process environment when None); empty means unset."""
        process = environ is None
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        sources: dict[str, str] = {}
        for variable in VARIABLES:
            raw = env.get(variable.name)
            given = raw not in (None, "")
            sources[variable.name] = "environment" if given else "default"
            text = raw if given else variable.default
            if text is None:
                values[variable.attribute] = None
                continue
            if variable.path:
                path = Path(text).expanduser()
                values[variable.attribute] = path if path.is_absolute() else project_dir / path
            else:
                values[variable.attribute] = variable.parse(variable.name, text.strip())
        if values["dagster_home"] is None:
            values["dagster_home"] = values["state_dir"] / "dagster_home"
        secrets = frozenset(v.name for v in VARIABLES if v.secret and process and sources[v.name] == "environment")
        return cls(project_dir=project_dir, **values, sources=sources, secrets_in_process_environment=secrets)

    def replace(self, **changes: Any) -> Settings:
        return replace(self, **changes)

    @property
    def sql_dir(self) -> Path:
        return self.project_dir / "sql"

    @property
    def pgdata(self) -> Path:
        """Where the embedded PostgreSQL keeps its data."""
        return self.state_dir / "pgdata"

    def describe(self, in_effect: Mapping[str, str | None] | None = None) -> list[tuple[str, str, str]]:
        """(variable, value as shown, where it came from) for every variable, secrets masked.

        `in_effect` gives values resolved at run time (the embedded server's URL, say), which are
        shown instead of the configured value and marked as such.
        """
        in_effect = in_effect or {}
        rows = []
        names = {f.name for f in fields(self)}
        for variable in VARIABLES:
            source = self.sources.get(variable.name, "default")
            value = getattr(self, variable.attribute) if variable.attribute in names else None
            if variable.name in in_effect and in_effect[variable.name] is not None:
                value = in_effect[variable.name]
                if source == "default":
                    source = "in effect"
            if value is None:
                shown = "(unset)"
            elif variable.secret:
                shown = mask_url(str(value))
            else:
                shown = str(value)
            rows.append((variable.name, shown, source))
        return rows


def variable(name: str) -> Variable:
    return _BY_NAME[name]
