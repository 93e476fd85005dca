"""The landing folder: which sales files are there, ready, new, changed, gone or refused.

A file is a partition whose key is its path relative to the landing folder (so a sub-folder can
carry a source layout). Files still being written are left alone: names ending in .part, .tmp,
.partial, .crdownload, .download or .swp, dot-files and dot-folders, and files modified within
the last few seconds. A file counts as changed when its content hash changes; size and
modification time only decide whether the hash needs computing again. A symbolic link whose
target lies outside the landing folder is refused and never read.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

IN_PROGRESS_SUFFIXES = (".part", ".tmp", ".partial", ".crdownload", ".download", ".swp")


@dataclass(frozen=True)
class FileState:
    size: int
    mtime_ns: int
    sha256: str = ""

    def as_json(self) -> dict:
        return {"size": self.size, "mtime_ns": self.mtime_ns, "sha256": self.sha256}

    @classmethod
    def from_json(cls, data: Mapping) -> FileState:
        return cls(int(data["size"]), int(data["mtime_ns"]), str(data.get("sha256", "")))


@dataclass
class LandingChanges:
    new: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    settling: list[str] = field(default_factory=list)  # modified too recently to be trusted
    refused: dict[str, str] = field(default_factory=dict)  # key -> why it is not read
    states: dict[str, FileState] = field(default_factory=dict)  # every ready file, hashed

    @property
    def to_load(self) -> list[str]:
        return sorted(self.new + self.changed)


def file_sha256(path: Path) -> tuple[int, str]:
    """(size in bytes, sha256 of the content), as the loader fingerprints what it reads."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
            size += len(block)
    return size, digest.hexdigest()


def outside_link(folder: Path, path: Path) -> str | None:
    """Why `path` must not be read: it is, or lies under, a link that leaves `folder`; else None."""
    try:
        real = path.resolve(strict=True)
        root = folder.resolve(strict=True)
    except (OSError, RuntimeError) as exc:
        return f"cannot be resolved ({exc})"
    if real != root and root not in real.parents:
        return f"is a link to {real}, outside the landing folder {root}; links leaving it are not read"
    return None


def _candidates(folder: Path) -> tuple[list[Path], dict[str, str]]:
    """CSV files under `folder`, without following links to folders; links to files are checked."""
    if not folder.is_dir():
        return [], {}
    found: list[Path] = []
    refused: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        base = Path(dirpath)
        kept = []
        for d in dirnames:
            if d.startswith("."):
                continue
            if (base / d).is_symlink():
                reason = outside_link(folder, base / d)
                if reason:
                    refused[(base / d).relative_to(folder).as_posix() + "/"] = reason
                    continue
            kept.append(d)
        dirnames[:] = sorted(kept)
        for name in sorted(filenames):
            path = base / name
            if name.startswith(".") or name.lower().endswith(IN_PROGRESS_SUFFIXES) or path.suffix.lower() != ".csv":
                continue
            if path.is_symlink():
                reason = outside_link(folder, path)
                if reason:
                    refused[path.relative_to(folder).as_posix()] = reason
                    continue
            if path.is_file():
                found.append(path)
    return sorted(found), refused


def scan_landing(
    folder: Path,
    known: Mapping[str, FileState],
    *,
    settle_seconds: float = 0.0,
    now: float | None = None,
    hashed: Callable[[list[str]], Mapping[str, FileState]] | None = None,
) -> LandingChanges:
    """Compare the landing folder with the files known from the last scan (`known`: what is new,
    changed or gone is relative to them). `hashed`, given the keys of the folder's files, returns
    other states whose hash is known (the ledger's loaded files): a file that still has their size
    and modification time is not hashed again."""
    now = time.time() if now is None else now
    changes = LandingChanges()
    paths, changes.refused = _candidates(folder)
    keyed = {path.relative_to(folder).as_posix(): path for path in paths}
    hashed = hashed(list(keyed)) if hashed else {}
    for key, path in keyed.items():
        try:
            stat = path.stat()
        except OSError:
            continue  # removed between listing and stat: the next scan sees it gone
        if now - stat.st_mtime < settle_seconds:
            changes.settling.append(key)
            continue
        before = known.get(key)
        reference = before if before and before.sha256 else hashed.get(key)
        if reference and reference.sha256 and (reference.size, reference.mtime_ns) == (stat.st_size, stat.st_mtime_ns):
            state = reference
        else:
            try:
                size, digest = file_sha256(path)
            except OSError:
                continue
            state = FileState(size=size, mtime_ns=stat.st_mtime_ns, sha256=digest)
        digest = state.sha256
        changes.states[key] = state
        if before is None or not before.sha256:
            changes.new.append(key)
        elif before.sha256 != digest:
            changes.changed.append(key)
        else:
            changes.unchanged.append(key)
    changes.deleted = sorted(k for k in known if k not in keyed)
    return changes
