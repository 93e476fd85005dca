"""What a command needs before it touches Dagster: the database in use, Dagster's home and the
variables the Dagster processes it starts will read.

`prepare` resolves the warehouse database (starting the embedded one when no URL is set), gives
Dagster a persistent home with the project's dagster.yaml and its storage, and exports WAREHOUSE_DATABASE_URL,
DAGSTER_PG_URL (always with the psycopg2 driver), DAGSTER_HOME and DAGSTER_EVENT_BATCH_SIZE for
child processes (the UI, the code server, the daemon), so they all use the same database and
storage.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from warehouse_assets.core.settings import Settings
from warehouse_assets.core.urls import dagster_storage_url
from warehouse_assets.db import embedded

DAGSTER_EVENT_BATCH_SIZE = "200"
# Appended to the project's dagster.yaml in DAGSTER_HOME (see dagster.yaml for why it is apart).
INSTANCE_STORAGE = Path(__file__).with_name("instance_storage.yaml")


@dataclass(frozen=True)
class Environment:
    settings: Settings  # as configured, plus the database resolved at run time
    database_url: str
    dagster_storage_url: str


def resolve_database_url(settings: Settings) -> str:
    return settings.database_url or embedded.server_url(settings.pgdata)


def instance_config(project_dir: Path) -> str:
    """The text of DAGSTER_HOME/dagster.yaml: the project's dagster.yaml and its storage."""
    return (project_dir / "dagster.yaml").read_text() + INSTANCE_STORAGE.read_text()


def prepare(settings: Settings) -> Environment:
    url = resolve_database_url(settings)
    storage = dagster_storage_url(settings.dagster_pg_url or url)
    home = settings.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    instance = instance_config(settings.project_dir)
    target = home / "dagster.yaml"
    if not target.exists() or target.read_text() != instance:
        target.write_text(instance)
    os.environ["WAREHOUSE_DATABASE_URL"] = url
    os.environ["DAGSTER_PG_URL"] = storage
    os.environ["DAGSTER_HOME"] = str(home)
    # Dagster writes the materializations of a step in batches of this many (one INSERT each)
    # instead of one by one: a run of a hundred files records two hundred partitions, and written
    # one at a time they cost more than loading the files. Dagster reads it from the environment.
    os.environ.setdefault("DAGSTER_EVENT_BATCH_SIZE", DAGSTER_EVENT_BATCH_SIZE)
    # The definitions this process builds read the URL through EnvVar, as the UI's do.
    resolved = settings.replace(
        database_url=url,
        dagster_pg_url=storage,
        secrets_in_process_environment=settings.secrets_in_process_environment
        | {"WAREHOUSE_DATABASE_URL", "DAGSTER_PG_URL"},
    )
    return Environment(settings=resolved, database_url=url, dagster_storage_url=storage)
