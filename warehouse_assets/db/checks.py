"""The data-quality checks' queries (`sql/checks/`): each returns the counts a check judges."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from warehouse_assets.db.connection import Database

# Each check is one scan-and-aggregate query that keeps one server process busy. Two at a time
# overlap one check's reads with another's aggregation even on a two-core server (the smallest we
# support); more would queue behind each other on such a server and hold more memory meanwhile.
CONCURRENT_CHECKS = 2


def check_rows(db: Database, name: str, source_files: Sequence[str] | None) -> list[dict[str, Any]]:
    """The rows of check `name` over the given files' facts, or the whole warehouse (None)."""
    return db.rows(f"checks/{name}.sql", {"source_files": list(source_files) if source_files is not None else None})


def checks_rows(
    db: Database, names: Sequence[str], source_files: Sequence[str] | None
) -> dict[str, list[dict[str, Any]]]:
    """The rows of each named check, `CONCURRENT_CHECKS` of them at a time, each on its own
    connection (they only read, and each sees the warehouse as committed when it starts)."""
    pool = ThreadPoolExecutor(max_workers=CONCURRENT_CHECKS, thread_name_prefix="check")
    try:
        futures = {name: pool.submit(check_rows, db, name, source_files) for name in names}
        return {name: future.result() for name, future in futures.items()}
    finally:
        # A failed query fails the run's checks; the queued ones would only delay that report.
        pool.shutdown(wait=True, cancel_futures=True)
