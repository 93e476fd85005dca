"""What a sales load tells whoever watches it (the CLI's progress bar, or nobody)."""

from __future__ import annotations

from typing import Any


class LoadObserver:
    """Receives the progress of a run's sales files; every method does nothing by default."""

    def files_planned(self, files: list[tuple[str, int]]) -> None:
        """The run's files with their sizes in bytes, before the first one starts."""

    def file_started(self, key: str, size_bytes: int) -> None: ...

    def file_progress(self, key: str, bytes_read: int, rows: int) -> None: ...

    def load_step(self, key: str, step: str) -> None:
        """Called before each named step of a file's load transaction (see db.sales_load)."""

    def file_finished(self, key: str, result: Any | None, error: str | None) -> None:
        """`result` is the file's `FileLoad` when it loaded, `error` the message when it failed."""
