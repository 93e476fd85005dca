"""Services as supervised processes: each in a session of its own, stopped as `docker stop`
would stop it (SIGTERM, SIGKILL after a grace period), with whatever it left behind ended too,
and sent SIGTERM should the test process die without tearing down (PR_SET_PDEATHSIG)."""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from warehouse_assets_tests.support.paths import PROJECT_DIR

STOP_GRACE_SECONDS = 20
LOG_TAIL_LINES = 40
_ANSI = re.compile(r"\x1b\[[0-9;]*m")  # Dagster colours its log lines even into a file


# --- Processes -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _prctl():
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None  # not Linux: the fixture's teardown remains


# Looked up here, in the test process: the child only calls it (no loading, no locks).
_PRCTL = _prctl() if sys.platform.startswith("linux") else None
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when the test process dies, whatever the cause (a
    killed or timed-out pytest runs no teardown)."""
    _PRCTL(_PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class Service:
    name: str
    argv: list[str]
    log: Path
    proc: subprocess.Popen | None = None

    def start(self, env: dict[str, str]) -> None:
        with open(self.log, "wb") as out:
            # A session of its own, whose id is the service's pid: whatever the service spawns
            # (the code server's child server and run workers, ...) stays in it and is found
            # by that id at shutdown.
            self.proc = subprocess.Popen(
                self.argv,
                cwd=PROJECT_DIR,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                # Started before any browser or other thread exists.
                preexec_fn=_die_with_parent if _PRCTL else None,  # noqa: PLW1509
            )

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def tail(self, lines: int = LOG_TAIL_LINES) -> str:
        try:
            text = self.log.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(_ANSI.sub("", text).splitlines()[-lines:])

    def processes(self) -> dict[int, psutil.Process]:
        """The live processes of this service: the members of its session (no other process can
        join it, and its id is not reused while a member lives) and its descendants."""
        if self.proc is None:
            return {}
        found: dict[int, psutil.Process] = {}
        for proc in psutil.process_iter():
            try:
                if os.getsid(proc.pid) == self.proc.pid:
                    found[proc.pid] = proc
            except (ProcessLookupError, PermissionError):
                pass
        if self.running:
            try:
                found |= {p.pid: p for p in psutil.Process(self.proc.pid).children(recursive=True)}
            except psutil.NoSuchProcess:
                pass
        return {pid: p for pid, p in found.items() if _alive(p)}


def _alive(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def stop_services(services: list[Service]) -> tuple[list[str], list[str]]:
    """SIGTERM each service (its main process, as `docker stop` does), wait, SIGKILL it if it
    does not exit; then SIGTERM and SIGKILL whatever it left behind. Returns what needed force,
    and what is still alive after all that (nothing, unless a process cannot be killed)."""
    started = [s for s in services if s.proc is not None]
    tracked = {s.name: s.processes() for s in started}
    for service in started:
        if service.running:
            service.proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    forced = []
    for service in started:
        try:
            service.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            forced.append(f"{service.name} ignored SIGTERM for {STOP_GRACE_SECONDS}s")
            service.proc.kill()
            service.proc.wait(timeout=10)
    for service in started:
        rest = [p for p in (tracked[service.name] | service.processes()).values() if _alive(p)]
        if not rest:
            continue
        forced.append(f"{service.name} left {', '.join(f'{p.pid} {_cmdline(p)}' for p in rest)}")
        for proc in rest:
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.terminate()
        _, alive = psutil.wait_procs(rest, timeout=5)
        for proc in alive:
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.kill()
        psutil.wait_procs(alive, timeout=5)
    remaining = [
        f"{s.name}: {p.pid} {_cmdline(p)}"
        for s in started
        for p in (tracked[s.name] | s.processes()).values()
        if _alive(p)
    ]
    return forced, remaining


def _cmdline(proc: psutil.Process) -> str:
    try:
        return " ".join(proc.cmdline())[:120]
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return "?"


def warehouse_dev(variables: dict[str, str], dagster_pg_url: str, home: Path, log: Path, port: int):
    """`warehouse dev` as a user starts it, with only the warehouse's `variables` (none of this
    test process's own WAREHOUSE_, DAGSTER_ or FAKESTORE_ settings): (its service, unstarted, and
    the environment to start it and other `warehouse` commands of the same machine with)."""
    env = {
        **{
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("WAREHOUSE_", "DAGSTER_", "FAKESTORE_", "VIRTUAL_ENV"))
        },
        **variables,
        "DAGSTER_HOME": str(home),
        "DAGSTER_PG_URL": dagster_pg_url,
        "PYTHONUNBUFFERED": "1",
    }
    argv = [sys.executable, "-m", "warehouse_assets.cli.main", "dev", "--port", str(port)]
    return Service("dev", argv, log), env
