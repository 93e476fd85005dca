"""The views are created from their files only when a file changed, and two loads that both find
them missing take turns: the second waits for the first and creates nothing."""

from __future__ import annotations

import threading

import psycopg

from warehouse_assets.db.views import ensure_views, view_files
from warehouse_assets_tests.support.processes import wait_for

EVERY_VIEW = sorted(v.name for v in view_files())


def _waiting_on_a_lock(db, pid: int) -> bool:
    row = db.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone()
    return row is not None and row[0] == "Lock"


def test_views_are_created_once_and_again_only_when_their_file_changes(warehouse_url, db):
    with psycopg.connect(warehouse_url) as conn:
        assert sorted(ensure_views(conn)) == EVERY_VIEW
    with psycopg.connect(warehouse_url) as conn:
        assert ensure_views(conn) == []
    db.execute("DROP VIEW analytics.executive_summary")
    db.execute("UPDATE warehouse.view_history SET checksum = 'changed' WHERE view_name = 'vw_daily_sales_summary'")
    with psycopg.connect(warehouse_url) as conn:
        assert sorted(ensure_views(conn)) == ["executive_summary", "vw_daily_sales_summary"]


def test_two_first_loads_at_once_take_turns_and_the_second_creates_nothing(warehouse_url, db):
    first = psycopg.connect(warehouse_url)
    created_first = ensure_views(first)  # holds the lock until it commits
    assert sorted(created_first) == EVERY_VIEW
    second = psycopg.connect(warehouse_url)
    outcome: dict[str, object] = {}

    def run_second() -> None:
        try:
            outcome["created"] = ensure_views(second)
            second.commit()
        except Exception as exc:  # reported by the assertion below
            outcome["error"] = exc

    thread = threading.Thread(target=run_second)
    thread.start()
    wait_for(lambda: _waiting_on_a_lock(db, second.info.backend_pid), "the second load to wait for the first")
    first.commit()
    thread.join(timeout=60)
    first.close()
    second.close()
    assert outcome == {"created": []}
    assert db.execute("SELECT count(*) FROM warehouse.view_history").fetchone() == (len(EVERY_VIEW),)
