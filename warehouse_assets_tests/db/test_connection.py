"""Read-only work run a few pieces at a time, each thread on a connection of its own."""

from __future__ import annotations

import psycopg
import pytest

from warehouse_assets.db.connection import Database


def test_pieces_share_their_threads_connections_which_close_at_the_end(warehouse_url):
    def backend(conn: psycopg.Connection) -> tuple[int, psycopg.Connection]:
        return conn.execute("SELECT pg_backend_pid()").fetchone()[0], conn

    work = {f"piece {i}": backend for i in range(6)}
    results = Database(warehouse_url).read_concurrently(work, workers=2)
    assert list(results) == list(work)
    # At most two threads, each reusing its one connection (the checks' test shows both at work).
    assert len({pid for pid, _ in results.values()}) <= 2
    assert all(conn.closed for _, conn in results.values())


def test_a_failed_piece_is_raised_and_every_connection_is_closed(warehouse_url):
    used: list[psycopg.Connection] = []

    def works(conn: psycopg.Connection) -> None:
        used.append(conn)
        conn.execute("SELECT 1")

    def fails(conn: psycopg.Connection) -> None:
        used.append(conn)
        conn.execute("SELECT 1 / 0")

    with pytest.raises(psycopg.errors.DivisionByZero):
        Database(warehouse_url).read_concurrently({"first": works, "fails": fails, "last": works})
    assert used and all(conn.closed for conn in used)
