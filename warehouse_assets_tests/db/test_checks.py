"""The sales checks of a run are queried two at a time, each on its own connection."""

from __future__ import annotations

import threading

import psycopg

from warehouse_assets.db import sqlfiles
from warehouse_assets.db.checks import check_rows, checks_rows
from warehouse_assets.db.connection import Database
from warehouse_assets.defs.checks import RECONCILES, RUN_ORDER, SALES_COUNTING
from warehouse_assets_tests.support.processes import wait_for

SALES_CHECKS = sorted([RECONCILES, *(c.name for c in SALES_COUNTING)])


def _waiting_checks(db: psycopg.Connection) -> list[str]:
    """The checks whose query is waiting on a lock right now, by their statement's text."""
    beginnings = {sqlfiles.statement(f"checks/{name}.sql")[:160]: name for name in SALES_CHECKS}
    queries = db.execute(
        "SELECT query FROM pg_stat_activity"
        " WHERE datname = current_database() AND application_name = 'warehouse' AND wait_event_type = 'Lock'"
    ).fetchall()
    return sorted(beginnings[q[:160]] for (q,) in queries if q[:160] in beginnings)


def test_two_checks_run_at_once_on_their_own_connections_and_no_more(warehouse_url, db):
    warehouse = Database(warehouse_url)
    one_at_a_time = {name: check_rows(warehouse, name, None) for name in SALES_CHECKS}
    blocker = psycopg.connect(warehouse_url)
    # Every sales check reads fact_sales: each one started waits on this lock until it is released.
    blocker.execute("LOCK TABLE warehouse.fact_sales IN ACCESS EXCLUSIVE MODE")
    outcome: dict[str, object] = {}

    def run_checks() -> None:
        try:
            outcome["rows"] = checks_rows(warehouse, SALES_CHECKS, None)
        except Exception as exc:  # reported by the assertion below
            outcome["error"] = exc

    thread = threading.Thread(target=run_checks)
    thread.start()
    try:
        # The first two checks wait on the lock at once: one at a time would leave the second
        # unstarted behind the first.
        wait_for(
            lambda: _waiting_checks(db) == SALES_CHECKS[:2],
            "the first two checks to wait for fact_sales's lock at the same time",
        )
        # The pool started exactly its workers when the checks were submitted, and both are busy:
        # no third check can start until one of the two finishes.
        workers = [t for t in threading.enumerate() if t.name.startswith("check")]
        assert len(workers) == 2
        assert _waiting_checks(db) == SALES_CHECKS[:2]
    finally:
        blocker.rollback()
        blocker.close()
        thread.join(timeout=60)
    assert outcome == {"rows": one_at_a_time}


def test_every_sales_check_has_a_place_in_the_run_order():
    assert sorted(RUN_ORDER) == SALES_CHECKS
