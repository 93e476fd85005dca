"""Every setting the warehouse reads from the environment, with its default, in one place.

The README's configuration table is written from this module; `warehouse config` prints it.
Paths that are relative are taken from the project folder, not from the current directory, so
the webserver, the daemon and the CLI agree on them whichever folder they were started from.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
SQL_DIR = PROJECT_DIR / "sql"


@dataclass(frozen=True)
class Setting:
    name: str
    default: str | None
    help: str
    secret: bool = False

    def get(self) -> str | None:
        value = os.environ.get(self.name)
        return value if value not in (None, "") else self.default


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "WAREHOUSE_DATABASE_URL",
        None,
        "PostgreSQL URL of the warehouse. Unset: an embedded PostgreSQL is started in the state "
        "folder and reused by every command.",
        secret=True,
    ),
    Setting(
        "DAGSTER_PG_URL",
        None,
        "PostgreSQL URL for Dagster's runs, event logs and schedules. Unset: the warehouse "
        "database (with the psycopg2 driver).",
        secret=True,
    ),
    Setting(
        "WAREHOUSE_STATE_DIR",
        ".warehouse",
        "Git-ignored folder for the embedded server's data and DAGSTER_HOME.",
    ),
    Setting("DAGSTER_HOME", None, "Dagster's home. Unset: <state dir>/dagster_home."),
    Setting("WAREHOUSE_LANDING_DIR", "data/landing", "Folder watched for sales CSV files."),
    Setting(
        "WAREHOUSE_LAYOUTS_DIR",
        "data/layouts",
        "Folder of source-layout YAML files for sales exports that do not follow the contract.",
    ),
    Setting(
        "WAREHOUSE_EARLIEST_DATE",
        "2000-01-01",
        "Transactions dated before this day are quarantined as too_old.",
    ),
    Setting(
        "FAKESTORE_BASE_URL",
        "https://fakestoreapi.com",
        "Products source: the API's base URL, or a local JSON snapshot (path or file:// URL).",
    ),
    Setting("FAKESTORE_CONNECT_TIMEOUT", "5", "Seconds to wait for a connection to the API."),
    Setting("FAKESTORE_READ_TIMEOUT", "20", "Seconds to wait for the API to send data."),
    Setting("FAKESTORE_MAX_ATTEMPTS", "5", "Attempts per request before giving up."),
    Setting(
        "FAKESTORE_BACKOFF_SECONDS",
        "0.5",
        "Retry backoff factor: waits of 0, 2x, 4x, 8x this (plus jitter, at most 30 s).",
    ),
    Setting("WAREHOUSE_PRODUCTS_CRON", "0 6 * * *", "When the products refresh runs."),
    Setting("WAREHOUSE_SCHEDULE_TIMEZONE", "UTC", "Time zone of the products refresh schedule."),
    Setting(
        "WAREHOUSE_PRODUCTS_MAX_AGE_HOURS",
        "36",
        "dim_product older than this shows a WARN freshness check.",
    ),
    Setting(
        "WAREHOUSE_SALES_MAX_SILENCE_DAYS",
        "2",
        "No new sales file for this many days shows a WARN freshness check.",
    ),
    Setting(
        "WAREHOUSE_CSV_CHUNK_ROWS",
        "25000",
        "Rows per chunk when a sales file is streamed; bounds the loader's memory.",
    ),
    Setting(
        "WAREHOUSE_SENSOR_SETTLE_SECONDS",
        "10",
        "A landing file modified more recently than this is taken as still being written.",
    ),
    Setting("WAREHOUSE_WEBSERVER_HOST", "127.0.0.1", "Address `warehouse dev` binds the UI to."),
    Setting("WAREHOUSE_WEBSERVER_PORT", "3000", "Port of the UI started by `warehouse dev`."),
    Setting(
        "WAREHOUSE_TEST_DATABASE_URL",
        None,
        "Tests only: a PostgreSQL server to test against instead of the embedded one.",
        secret=True,
    ),
)

_BY_NAME = {s.name: s for s in SETTINGS}


def get(name: str) -> str | None:
    return _BY_NAME[name].get()


def project_path(value: str) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else PROJECT_DIR / path


def state_dir() -> Path:
    return project_path(get("WAREHOUSE_STATE_DIR") or ".warehouse")


def dagster_home() -> Path:
    return project_path(get("DAGSTER_HOME") or str(state_dir() / "dagster_home"))


def landing_dir() -> Path:
    return project_path(get("WAREHOUSE_LANDING_DIR") or "data/landing")


def layouts_dir() -> Path:
    return project_path(get("WAREHOUSE_LAYOUTS_DIR") or "data/layouts")


def earliest_date() -> dt.date:
    raw = get("WAREHOUSE_EARLIEST_DATE") or "2000-01-01"
    try:
        return dt.date.fromisoformat(raw)
    except ValueError as exc:
        raise ValueError(f"WAREHOUSE_EARLIEST_DATE={raw!r} is not an ISO date (YYYY-MM-DD)") from exc


def get_int(name: str) -> int:
    raw = get(name)
    try:
        return int(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name}={raw!r} is not a whole number") from exc


def get_float(name: str) -> float:
    raw = get(name)
    try:
        return float(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name}={raw!r} is not a number") from exc
