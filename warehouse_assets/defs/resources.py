"""Dagster resources: the warehouse database and the FakeStore API.

Both are configured from the settings when the definitions are built. The database URL, which
may carry a password, is handed over as `dg.EnvVar` when it came from the environment, so the UI
and the run storage show the variable's name, never its value.
"""

from pathlib import Path

import dagster as dg
from pydantic import Field

from warehouse_assets.core.fakestore import FakeStoreClient
from warehouse_assets.db import embedded
from warehouse_assets.db.connection import Database

_databases: dict[tuple[str | None, str], Database] = {}


def database_for(database_url: str | None, pgdata: str) -> Database:
    """The process's Database for a URL, or for the embedded server in `pgdata` (started on
    first use, and left running for the next process)."""
    key = (database_url, pgdata)
    if key not in _databases:
        folder = Path(pgdata)
        _databases[key] = (
            Database(database_url) if database_url else Database(resolve=lambda: embedded.server_url(folder))
        )
    return _databases[key]


class WarehouseResource(dg.ConfigurableResource):
    """The warehouse database. Without a URL, the embedded PostgreSQL in the state folder is used."""

    database_url: str | None = Field(
        default=None, description="PostgreSQL URL of the warehouse; empty: the embedded server."
    )
    pgdata: str = Field(description="Data folder of the embedded server, used when there is no URL.")

    def database(self) -> Database:
        return database_for(self.database_url, self.pgdata)


class FakeStoreResource(dg.ConfigurableResource):
    """Where products come from: the FakeStore API, or a JSON snapshot for offline loads."""

    base_url: str = Field(
        description="The API's base URL, or a JSON snapshot (file, folder holding products.json, file:// URL)."
    )
    project_dir: str = Field(description="Folder that relative snapshot paths are taken from.")
    connect_timeout: float = Field(description="Seconds to wait for a connection, per attempt.")
    read_timeout: float = Field(description="Seconds to wait for each read from the socket, per attempt.")
    max_attempts: int = Field(description="Attempts per request, the first one included.")
    backoff_seconds: float = Field(
        description="urllib3 backoff factor: retries wait 0, 2x, 4x, 8x... this, plus jitter."
    )
    deadline_seconds: float = Field(description="Overall time limit of the request, retries and body included.")

    def client(self) -> FakeStoreClient:
        return FakeStoreClient(
            base_url=self.base_url,
            project_dir=Path(self.project_dir),
            connect_timeout=self.connect_timeout,
            read_timeout=self.read_timeout,
            max_attempts=self.max_attempts,
            backoff_seconds=self.backoff_seconds,
            deadline_seconds=self.deadline_seconds,
        )
