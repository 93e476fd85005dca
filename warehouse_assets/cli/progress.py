"""Progress of `warehouse load` on the terminal: a rich progress bar (files, rows, MB, rate, time
left) on a terminal, one plain line per file otherwise (a log file, CI)."""

from __future__ import annotations

import os
import sys
from typing import Any, TextIO

from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

from warehouse_assets.core.progress import LoadObserver


def _terminal_stream() -> TextIO | None:
    """A stream on a duplicate of stdout's descriptor (None when stdout has none)."""
    try:
        descriptor = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        return None
    copy = os.dup(descriptor)
    try:
        return os.fdopen(copy, "w", buffering=1, encoding=sys.stdout.encoding or "utf-8", errors="replace")
    except Exception:
        os.close(copy)
        raise


class TerminalProgress(LoadObserver):
    """Shows the progress of every file of a load; `start` is called once with all the files."""

    def __init__(self, console: Console | None = None) -> None:
        # Written to a copy of the terminal's descriptor: while a step runs, Dagster points the
        # process's own stdout at the step's log file (cli/compute_logs.py), and the progress is
        # for the person at the terminal, not for the run's log.
        self._own_stream = None if console is not None else _terminal_stream()
        self.console = console or Console(file=self._own_stream or sys.stdout)
        self.interactive = self.console.is_terminal
        self._progress: Progress | None = None
        self._task: Any = None
        self._done_bytes = 0
        self._current: tuple[str, int] | None = None
        self._files_done = 0
        self._files_total = 0
        self._rows = 0
        self._file_rows = 0
        self.results: dict[str, Any] = {}  # file -> FileLoad
        self.errors: dict[str, str] = {}  # file -> message

    def start(self, files: int, total_bytes: int) -> None:
        self._files_total = files
        if not self.interactive:
            self.console.print(f"loading {files} file(s), {total_bytes / 2**20:,.1f} MB", highlight=False)
            return
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TextColumn("{task.fields[rows]} rows"),
            TimeRemainingColumn(),
            console=self.console,
            transient=True,
            # What the steps print stays theirs: in the run's log files, not on the terminal.
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self._progress.start()
        self._task = self._progress.add_task(self._describe(), total=max(total_bytes, 1), rows="0")

    def stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def close(self) -> None:
        self.stop()
        if self._own_stream is not None:
            self._own_stream.close()
            self._own_stream = None

    def _describe(self) -> str:
        return f"files {self._files_done}/{self._files_total}"

    def file_started(self, key: str, size_bytes: int) -> None:
        self._current = (key, size_bytes)
        self._file_rows = 0

    def file_progress(self, key: str, bytes_read: int, rows: int) -> None:
        self._file_rows = rows
        if self._progress is not None:
            self._progress.update(
                self._task,
                completed=self._done_bytes + bytes_read,
                rows=f"{self._rows + rows:,}",
                description=self._describe(),
            )

    def file_finished(self, key: str, result: Any | None, error: str | None) -> None:
        if result is not None:
            self.results[key] = result
        if error:
            self.errors[key] = error
        size = self._current[1] if self._current else 0
        self._done_bytes += size
        self._files_done += 1
        self._rows += result.summary.records_read if result is not None else self._file_rows
        if self._progress is not None:
            self._progress.update(
                self._task, completed=self._done_bytes, rows=f"{self._rows:,}", description=self._describe()
            )
            if error:
                self._progress.console.print(f"[red]failed[/red] {error}", highlight=False, markup=True)
            return
        if error:
            self.console.print(
                f"[{self._files_done}/{self._files_total}] FAILED {error}", highlight=False, markup=False
            )
        else:
            self.console.print(
                f"[{self._files_done}/{self._files_total}] {key}: {result.rows_loaded:,} rows loaded, "
                f"{result.rows_quarantined:,} quarantined ({result.seconds:.1f} s)",
                highlight=False,
                markup=False,
            )
