"""Child processes for the crash and race tests, and waiting for what they do.

Waiting is for a condition the test can observe (a marker file written at a named step, a lock
wait visible in pg_stat_activity, an exit code), never a sleep that hopes.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from warehouse_assets_tests.support.paths import PROJECT_DIR


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.02)


@dataclass
class Child:
    process: subprocess.Popen
    marker: Path | None = None
    go: Path | None = None

    def wait_paused(self) -> None:
        assert self.marker is not None
        wait_for(lambda: self.marker.exists() or self.process.poll() is not None, "the load to reach its pause")
        assert self.process.poll() is None, self.output()

    def release(self) -> None:
        assert self.go is not None
        self.go.write_text("go")

    def finish(self, timeout: float = 120) -> int:
        return self.process.wait(timeout=timeout)

    def output(self) -> str:
        out, _ = self.process.communicate(timeout=5) if self.process.poll() is not None else ("", "")
        return out or ""


def load_in_child(
    url: str, path: Path, key: str, tmp: Path, *, pause_at: str | None = None, kill_at: str | None = None
) -> Child:
    """Start a process that loads `path` as file `key`, pausing or killing itself at a step."""
    argv = [sys.executable, "-m", "warehouse_assets_tests.support.load_child", url, str(path), key]
    marker = go = None
    if pause_at:
        tag = f"{key.replace('/', '_')}_{os.urandom(4).hex()}"
        marker, go = tmp / f"{tag}.paused", tmp / f"{tag}.go"
        argv += ["--pause-at", pause_at, str(marker), str(go)]
    if kill_at:
        argv += ["--kill-at", kill_at]
    env = {**os.environ, "PYTHONPATH": str(PROJECT_DIR)}
    process = subprocess.Popen(
        argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=PROJECT_DIR
    )
    return Child(process, marker, go)


def run_in_child(
    variables: dict[str, str], keys: list[str], *, kill_at: tuple[str, str], as_cli: bool = False
) -> subprocess.Popen:
    """Start a process that runs sales_files_job over `keys` (with the settings `variables`) and
    kills itself at step `kill_at[1]` of file `kill_at[0]` (see support.run_child); `as_cli`: as
    `warehouse load` runs it, in the instance of DAGSTER_HOME."""
    import json

    argv = [
        sys.executable,
        "-m",
        "warehouse_assets_tests.support.run_child",
        json.dumps(variables),
        *keys,
        "--kill-at",
        *kill_at,
        *(["--as-cli"] if as_cli else []),
    ]
    env = {**os.environ, "PYTHONPATH": str(PROJECT_DIR)}
    return subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=PROJECT_DIR)
