"""SQL lives in files under `sql/`, one object per file; this module finds and reads them.

A file starts with a header comment (lines beginning with `--`) that says what the object is
and why it is built the way it is; that text becomes the asset's description in the UI.
"""

from __future__ import annotations

import functools
import re
import time
from pathlib import Path
from typing import Any

from warehouse_assets.settings import SQL_DIR

__all__ = ["SQL_DIR", "read", "files", "header", "body", "relations_read", "steps", "run_steps"]


@functools.cache
def read(relative: str) -> str:
    path = SQL_DIR / relative
    if not path.exists():
        raise FileNotFoundError(f"SQL file {path} is missing")
    return path.read_text(encoding="utf-8")


def files(folder: str) -> list[Path]:
    return sorted((SQL_DIR / folder).glob("*.sql"))


def header(relative: str) -> str:
    """The leading `--` comment block of a SQL file, as plain text."""
    lines = []
    for line in read(relative).splitlines():
        if line.startswith("--"):
            lines.append(line[2:].removeprefix(" "))
        elif line.strip() == "" and not lines:
            continue
        else:
            break
    return "\n".join(lines).strip()


_COMMENT = re.compile(r"--[^\n]*")


def body(relative: str) -> str:
    """The SQL without comments, for parsing which relations it reads."""
    return _COMMENT.sub("", read(relative))


_RELATION = re.compile(r"\b(?:from|join)\s+(?:(warehouse|analytics)\.)([a-z_][a-z0-9_]*)", re.I)


def relations_read(relative: str) -> set[str]:
    """Names of warehouse/analytics relations a query reads (FROM or JOIN, schema-qualified)."""
    return {m.group(2) for m in _RELATION.finditer(body(relative))}


_STEP = re.compile(r"^-- step: ([a-z_]+)\s*$", re.M)


@functools.cache
def steps(relative: str) -> tuple[tuple[str, str], ...]:
    """A script's statements, each introduced by a `-- step: <name>` line, in order."""
    text = read(relative)
    marks = list(_STEP.finditer(text))
    if not marks:
        raise ValueError(f"{relative} has no '-- step: <name>' markers")
    out = []
    for i, mark in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(text)
        out.append((mark.group(1), text[mark.end() : end].strip().rstrip(";")))
    return tuple(out)


def run_steps(
    conn,
    relative: str,
    params: dict,
    *,
    start: str | None = None,
    stop: str | None = None,
    skip: frozenset[str] = frozenset(),
    timings: dict[str, float] | None = None,
) -> dict[str, Any]:
    """Run a script's steps in order on `conn` (inside the caller's transaction), from `start`
    to `stop` inclusive when given.

    Returns each step's row count; a step whose statement returns rows (SELECT or RETURNING)
    reports its first row instead (the value itself when the row has one column). `timings`, if
    given, receives each step's duration in seconds.
    """
    counts: dict[str, Any] = {}
    names = [name for name, _ in steps(relative)]
    for bound in (start, stop):
        if bound is not None and bound not in names:
            raise ValueError(f"{relative} has no step {bound!r}")
    running = start is None
    for name, statement in steps(relative):
        running = running or name == start
        if not running:
            continue
        if name in skip:
            if name == stop:
                break
            continue
        started = time.perf_counter()
        cur = conn.execute(statement, params)
        if cur.description is not None:
            row = cur.fetchone()
            counts[name] = (row[0] if len(row) == 1 else tuple(row)) if row else None
        else:
            counts[name] = cur.rowcount
        if timings is not None:
            timings[name] = round(time.perf_counter() - started, 3)
        if name == stop:
            break
    return counts
