"""Small commands: `db-url`, `roles`, `stop`, `config`."""

from __future__ import annotations

import argparse

from warehouse_assets.cli.environment import resolve_database_url
from warehouse_assets.cli.output import say
from warehouse_assets.core.settings import Settings
from warehouse_assets.core.urls import dagster_storage_url, mask_url
from warehouse_assets.db import embedded
from warehouse_assets.db.roles import apply_roles


def cmd_db_url(args: argparse.Namespace, settings: Settings) -> int:
    url = resolve_database_url(settings)
    if args.dagster:
        url = dagster_storage_url(settings.dagster_pg_url or url)
    print(url if args.show_password else mask_url(url))
    return 0


def cmd_stop(args: argparse.Namespace, settings: Settings) -> int:
    if settings.database_url:
        say("WAREHOUSE_DATABASE_URL is set: no embedded server is in use")
        return 0
    say("embedded PostgreSQL stopped" if embedded.stop(settings.pgdata) else "embedded PostgreSQL was not running")
    return 0


def cmd_roles(args: argparse.Namespace, settings: Settings) -> int:
    # No schema is applied first: on a fresh database the schema should be created by the
    # loader role, not by the administrator running this.
    url = resolve_database_url(settings)
    apply_roles(url)
    say(f"roles warehouse_reader and warehouse_loader are set up in {mask_url(url)}")
    return 0


def cmd_config(args: argparse.Namespace, settings: Settings) -> int:
    """Every setting with the value in effect: the database actually used (the embedded server's
    URL when it runs) and the DAGSTER_HOME actually used, secrets masked."""
    in_effect: dict[str, str | None] = {"DAGSTER_HOME": str(settings.dagster_home)}
    if not settings.database_url:
        running = embedded.running_url(settings.pgdata)
        in_effect["WAREHOUSE_DATABASE_URL"] = running or f"(embedded PostgreSQL in {settings.pgdata}, not running)"
    url = settings.database_url or in_effect.get("WAREHOUSE_DATABASE_URL")
    if not settings.dagster_pg_url and url and url.startswith("postgres"):
        in_effect["DAGSTER_PG_URL"] = dagster_storage_url(url)
    for name, shown, source in settings.describe(in_effect):
        say(f"{name:36} {shown}  [{source}]")
    return 0
