"""The data-quality checks' queries (`sql/checks/`): each returns the counts a check judges."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from warehouse_assets.db.connection import Database


def check_rows(db: Database, name: str, source_files: Sequence[str] | None) -> list[dict[str, Any]]:
    """The rows of check `name` over the given files' facts, or the whole warehouse (None)."""
    return db.rows(f"checks/{name}.sql", {"source_files": list(source_files) if source_files is not None else None})
