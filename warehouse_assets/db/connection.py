"""Connections to the warehouse database.

Every connection is psycopg 3 (for COPY), opened with the session time zone set to UTC so that
naive timestamps mean UTC everywhere, and without JIT compilation. The star schema in
`sql/schema/` is applied the first time a process connects to a database (see `migrations`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, TypeVar

import psycopg
from psycopg.rows import dict_row

from warehouse_assets.core.urls import libpq_url, mask_url
from warehouse_assets.db import sqlfiles

_schema_ready: set[str] = set()
_schema_lock = threading.Lock()

T = TypeVar("T")

# The read-only queries that follow a load (the checks, the views' previews) each keep one server
# process busy. Two at a time overlap one query's reads with another's sorting and aggregation
# even on a two-core server (the smallest we support); more would queue behind each other on such
# a server and hold more memory meanwhile.
CONCURRENT_READS = 2
# ... and each sorts or hashes a run's facts: with this much memory, those of a million-row file
# in memory rather than in runs on disk (the customer check took 3.2 s with the server's default
# of 4 MB, 2.0 s with this). Without parallel workers: the queries running side by side already
# keep the cores busy, and each one's own workers only competed with the other (a million-row
# run's checks took 3.0-3.1 s with them, 2.7-2.8 s without).
READ_OPTIONS = "-c work_mem=128MB -c max_parallel_workers_per_gather=0"


# Without JIT: the warehouse's statements read a file's rows or a run's customers through keys,
# and when statistics are stale (a table just loaded, not yet analyzed) the planner's inflated
# estimates ask for JIT compilation, which then costs up to a second for a query that runs in
# tens of milliseconds.
CONNECTION_OPTIONS = "-c TimeZone=UTC -c jit=off"


def connect(url: str, *, autocommit: bool = False, options: str = "") -> psycopg.Connection:
    return psycopg.connect(
        libpq_url(url),
        autocommit=autocommit,
        options=f"{CONNECTION_OPTIONS} {options}".strip(),
        application_name="warehouse",
    )


def is_transient(error: BaseException) -> bool:
    """Whether a database error says nothing about the data: a lost connection, a server
    shutting down, a deadlock or serialization failure. The same load may well succeed again."""
    return isinstance(error, psycopg.OperationalError)


class Database:
    """The warehouse database: its URL (or how to get one, for the embedded server, which is
    started only when a connection is first needed) and connections to it."""

    def __init__(self, url: str | None = None, *, resolve: Callable[[], str] | None = None, migrate: bool = True):
        if url is None and resolve is None:
            raise ValueError("a Database needs a URL or a way to resolve one")
        self._url = url
        self._resolve = resolve
        self._migrate = migrate

    @property
    def url(self) -> str:
        if self._url is None:
            assert self._resolve is not None
            self._url = self._resolve()
        return self._url

    @property
    def display_url(self) -> str:
        return mask_url(self.url)

    def _ensure_schema(self) -> None:
        if not self._migrate:
            return
        from warehouse_assets.db.migrations import apply_schema

        with _schema_lock:
            if self.url in _schema_ready:
                return
            apply_schema(self.url)
            _schema_ready.add(self.url)

    @contextmanager
    def connection(self, *, autocommit: bool = False, options: str = "") -> Iterator[psycopg.Connection]:
        """A connection whose transaction commits when the block ends and rolls back on error."""
        self._ensure_schema()
        with connect(self.url, autocommit=autocommit, options=options) as conn:
            yield conn

    @contextmanager
    def session(self, *, options: str = "") -> Iterator[Session]:
        """One connection for a series of transactions (the files of a run), closed at the end."""
        self._ensure_schema()
        session = Session(self.url, options=options)
        try:
            yield session
        finally:
            session.close()

    def rows(self, relative: str, params: dict | None = None) -> list[dict[str, Any]]:
        """The rows of the statement in `sql/<relative>`, as dicts."""
        with self.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            cur.execute(sqlfiles.statement(relative), params or {})
            return cur.fetchall()

    def read_concurrently(
        self,
        work: Mapping[str, Callable[[psycopg.Connection], T]],
        *,
        workers: int = CONCURRENT_READS,
        thread_name: str = "reader",
    ) -> dict[str, T]:
        """Each piece of read-only work, `workers` at a time in the order given, on its thread's
        own connection (autocommit: each statement sees the warehouse as committed when it
        starts); the results by name. A failure cancels the pieces not started and is raised."""
        self._ensure_schema()
        local = threading.local()
        opened: list[psycopg.Connection] = []

        def run(piece: Callable[[psycopg.Connection], T]) -> T:
            conn = getattr(local, "conn", None)
            if conn is None:
                conn = local.conn = connect(self.url, autocommit=True, options=READ_OPTIONS)
                opened.append(conn)
            return piece(conn)

        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=thread_name)
        try:
            futures = {name: pool.submit(run, piece) for name, piece in work.items()}
            return {name: future.result() for name, future in futures.items()}
        finally:
            # After a failure the queued pieces would only delay its report.
            pool.shutdown(wait=True, cancel_futures=True)
            for conn in opened:
                conn.close()

    def scalar(self, relative: str, params: dict | None = None) -> Any:
        with self.connection() as conn:
            row = conn.execute(sqlfiles.statement(relative), params or {}).fetchone()
            return row[0] if row else None


def fetch_dicts(conn: psycopg.Connection, relative: str, params: dict | None = None) -> list[dict[str, Any]]:
    """The rows of the statement in `sql/<relative>`, as dicts, on an open connection."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(sqlfiles.statement(relative), params or {})
        return cur.fetchall()


class Session:
    """A connection kept open across transactions, so that a run's hundredth file does not pay
    for a new server process and its cold catalog caches, as the first one did. A connection
    that broke (the server restarted, say) is replaced by a new one for the next transaction.
    """

    def __init__(self, url: str, *, options: str = ""):
        self._url = url
        self._options = options
        self._conn: psycopg.Connection | None = None

    @contextmanager
    def transaction(self) -> Iterator[psycopg.Connection]:
        """A transaction that commits when the block ends and rolls back on error."""
        if self._conn is None or self._conn.closed or self._conn.broken:
            self.close()
            self._conn = connect(self._url, autocommit=True, options=self._options)
        with self._conn.transaction():
            yield self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
