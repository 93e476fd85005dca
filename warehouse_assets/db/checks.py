"""The data-quality checks' queries (`sql/checks/`): each returns the counts a check judges."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

import psycopg

from warehouse_assets.db.connection import Database, fetch_dicts

# Checks whose question over a run's files is asked through other tables than over the whole
# warehouse, so that its cost follows the files (see each file's header).
OF_FILES = {"dim_customer_matches_facts": "dim_customer_matches_facts_of_files"}


def _relative(name: str, source_files: Sequence[str] | None) -> str:
    return f"checks/{OF_FILES.get(name, name) if source_files is not None else name}.sql"


def _params(source_files: Sequence[str] | None) -> dict[str, Any]:
    return {"source_files": list(source_files) if source_files is not None else None}


def _query(name: str, source_files: Sequence[str] | None, conn: psycopg.Connection) -> list[dict[str, Any]]:
    return fetch_dicts(conn, _relative(name, source_files), _params(source_files))


def check_rows(db: Database, name: str, source_files: Sequence[str] | None) -> list[dict[str, Any]]:
    """The rows of check `name` over the given files' facts, or the whole warehouse (None)."""
    with db.connection() as conn:
        return _query(name, source_files, conn)


def checks_rows(
    db: Database, names: Sequence[str], source_files: Sequence[str] | None
) -> dict[str, list[dict[str, Any]]]:
    """The rows of each named check, queried a few at a time (`Database.read_concurrently`)."""
    return db.read_concurrently({name: partial(_query, name, source_files) for name in names}, thread_name="check")
