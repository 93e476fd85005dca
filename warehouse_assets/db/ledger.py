"""The ledger of sales files (`warehouse.sales_files`): what is loaded, and what failed.

"Is this file already loaded?" is answered here, once, for the sensor and for `warehouse load`:
a file needs loading when its content (sha256) or the version of the layout it is read with
differs from what the ledger records as loaded.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from warehouse_assets.core.landing import FileState
from warehouse_assets.db import sqlfiles
from warehouse_assets.db.connection import Database


@dataclass(frozen=True)
class LoadedFile:
    source_file: str
    fingerprint: str
    layout_version: str | None
    size_bytes: int
    mtime_ns: int | None
    loaded_at: dt.datetime


def loaded_files(db: Database, keys: list[str] | None = None) -> dict[str, LoadedFile]:
    """The files the ledger records as loaded (all, or those among `keys`)."""
    rows = db.rows("queries/ledger_loaded_files.sql", {"keys": keys})
    return {r["source_file"]: LoadedFile(**r) for r in rows}


def hashed_states(loaded: Mapping[str, LoadedFile]) -> dict[str, FileState]:
    """The loaded files as a landing scan's known hashes: size, modification time and content hash
    as the load read them (files loaded before the time was recorded have none)."""
    return {
        key: FileState(size=f.size_bytes, mtime_ns=f.mtime_ns, sha256=f.fingerprint)
        for key, f in loaded.items()
        if f.mtime_ns is not None and f.fingerprint
    }


def needs_loading(
    candidates: Mapping[str, str], layout_versions: Mapping[str, str | None], loaded: Mapping[str, LoadedFile]
) -> list[str]:
    """The keys among `candidates` (key -> sha256 of its content) whose content, or the version
    of the layout that reads them, differs from what is loaded."""
    out = []
    for key, sha in candidates.items():
        before = loaded.get(key)
        if before is None or before.fingerprint != sha or before.layout_version != layout_versions.get(key):
            out.append(key)
    return sorted(out)


def record_failure(
    db: Database, source_file: str, fingerprint: str | None, failure: str, failed_at: dt.datetime
) -> None:
    with db.connection() as conn:
        conn.execute(
            sqlfiles.statement("load/sales_file_failure.sql"),
            {"source_file": source_file, "fingerprint": fingerprint, "failure": failure[:4000], "failed_at": failed_at},
        )


def failed_fingerprints(db: Database, keys: list[str]) -> dict[str, str]:
    """For files whose last attempt failed: the fingerprint of the content that failed."""
    rows = db.rows("queries/ledger_failed_files.sql", {"keys": keys})
    return {r["source_file"]: r["failed_fingerprint"] for r in rows}
