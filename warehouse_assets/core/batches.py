"""Grouping sales files into runs: contiguous ranges of partitions, bounded in files and bytes.

Dagster runs a range of partitions (in the order the partitions were added) in one run. The
files to load are cut into ranges that contain nothing else (a gap of files that need no
loading starts a new range), and a range is cut when it would exceed the number of files or of
bytes a run may take, which keeps a run's duration and the event log in proportion. The sensor,
`warehouse load` and the UI's backfills all batch with the same bounds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class FileBatch:
    files: tuple[str, ...]  # partition keys, in partition order, all to be loaded
    size_bytes: int

    @property
    def first(self) -> str:
        return self.files[0]

    @property
    def last(self) -> str:
        return self.files[-1]


def plan_batches(
    partition_order: Sequence[str], sizes: Mapping[str, int], *, max_files: int, max_bytes: int
) -> list[FileBatch]:
    """Batches of the files in `sizes` (key -> bytes), each a contiguous range of
    `partition_order`. A file larger than `max_bytes` runs alone."""
    position = {key: i for i, key in enumerate(partition_order)}
    missing = [k for k in sizes if k not in position]
    if missing:
        raise ValueError(f"files not among the partitions: {', '.join(sorted(missing))}")
    batches: list[FileBatch] = []
    current: list[str] = []
    current_bytes = 0
    previous = None
    for key in sorted(sizes, key=position.__getitem__):
        size = sizes[key]
        contiguous = previous is not None and position[key] == position[previous] + 1
        fits = len(current) < max_files and current_bytes + size <= max_bytes
        if current and not (contiguous and fits):
            batches.append(FileBatch(tuple(current), current_bytes))
            current, current_bytes = [], 0
        current.append(key)
        current_bytes += size
        previous = key
    if current:
        batches.append(FileBatch(tuple(current), current_bytes))
    return batches
