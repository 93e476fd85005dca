"""The data-quality checks' queries (`sql/checks/`): each returns the counts a check judges."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from warehouse_assets.db.connection import Database

# Each check is one scan-and-aggregate query that keeps one server process busy; two at a time use
# both cores of a small server, more would only queue behind each other and hold more memory.
CONCURRENT_CHECKS = 2


def check_rows(db: Database, name: str, source_files: Sequence[str] | None) -> list[dict[str, Any]]:
    """The rows of check `name` over the given files' facts, or the whole warehouse (None)."""
    return db.rows(f"checks/{name}.sql", {"source_files": list(source_files) if source_files is not None else None})


def checks_rows(
    db: Database, names: Sequence[str], source_files: Sequence[str] | None
) -> dict[str, list[dict[str, Any]]]:
    """The rows of each named check, `CONCURRENT_CHECKS` of them at a time, each on its own
    connection (they only read, and each sees the warehouse as committed when it starts)."""
    with ThreadPoolExecutor(max_workers=CONCURRENT_CHECKS, thread_name_prefix="check") as pool:
        futures = {name: pool.submit(check_rows, db, name, source_files) for name in names}
        return {name: future.result() for name, future in futures.items()}
