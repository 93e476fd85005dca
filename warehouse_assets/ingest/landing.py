"""The landing folder: which sales files are there, ready, new, changed or gone.

A file is a partition whose key is its path relative to the landing folder (so a sub-folder can
carry a source layout). Files still being written are left alone: names ending in .part, .tmp,
.partial or .crdownload, dot-files and dot-folders, and files modified within the last few
seconds. A file counts as changed when its content hash changes; size and modification time
only decide whether the hash needs computing again.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from warehouse_assets.ingest.sales_csv import file_fingerprint

IN_PROGRESS_SUFFIXES = (".part", ".tmp", ".partial", ".crdownload", ".download", ".swp")


@dataclass(frozen=True)
class FileState:
    size: int
    mtime_ns: int
    sha256: str = ""

    def as_json(self) -> dict:
        return {"size": self.size, "mtime_ns": self.mtime_ns, "sha256": self.sha256}


@dataclass
class LandingChanges:
    new: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    settling: list[str] = field(default_factory=list)  # modified too recently to be trusted
    states: dict[str, FileState] = field(default_factory=dict)  # every ready file, hashed

    @property
    def to_load(self) -> list[str]:
        return sorted(self.new + self.changed)


def _ready_candidates(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    out = []
    for path in folder.rglob("*"):
        rel = path.relative_to(folder)
        if any(part.startswith(".") for part in rel.parts):
            continue
        if not path.is_file() or path.name.lower().endswith(IN_PROGRESS_SUFFIXES):
            continue
        if path.suffix.lower() != ".csv":
            continue
        out.append(path)
    return sorted(out)


def scan_landing(
    folder: Path,
    known: dict[str, FileState],
    *,
    settle_seconds: float = 0.0,
    now: float | None = None,
) -> LandingChanges:
    """Compare the landing folder with the files known from the last scan (or the ledger)."""
    now = time.time() if now is None else now
    changes = LandingChanges()
    seen: set[str] = set()
    for path in _ready_candidates(folder):
        key = path.relative_to(folder).as_posix()
        seen.add(key)
        stat = path.stat()
        if now - stat.st_mtime < settle_seconds:
            changes.settling.append(key)
            continue
        before = known.get(key)
        if before and before.sha256 and before.size == stat.st_size and before.mtime_ns == stat.st_mtime_ns:
            changes.unchanged.append(key)
            changes.states[key] = before
            continue
        size, digest = file_fingerprint(path)
        state = FileState(size=size, mtime_ns=stat.st_mtime_ns, sha256=digest)
        changes.states[key] = state
        if before is None:
            changes.new.append(key)
        elif before.sha256 != digest:
            changes.changed.append(key)
        else:
            changes.unchanged.append(key)
    changes.deleted = sorted(k for k in known if k not in seen)
    return changes
