"""SQL lives in files under `sql/`, one object or one statement per file; this module reads them.

A file starts with a header comment (lines beginning with `--`) that says what the object is and
why it is built the way it is; for views and tables that text becomes the asset's description in
the UI. A script of several statements marks each with a `-- step: <name>` line; `run_steps`
runs them in order, inside the caller's transaction.
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from psycopg import sql

from warehouse_assets.core.settings import SQL_DIR


@functools.cache
def read(relative: str) -> str:
    path = SQL_DIR / relative
    if not path.exists():
        raise FileNotFoundError(f"SQL file {path} is missing")
    return path.read_text(encoding="utf-8")


def statement(relative: str) -> str:
    """The file's statement without its trailing semicolon (for psycopg's parameter binding)."""
    return read(relative).strip().rstrip(";")


def composed(relative: str, **identifiers: sql.Composable) -> sql.Composed:
    """A statement whose `{name}` placeholders are filled with quoted identifiers or literals."""
    return sql.SQL(statement(relative)).format(**identifiers)


def files(folder: str) -> list[Path]:
    return sorted((SQL_DIR / folder).glob("*.sql"))


# Header lines of this form are settings for the code that reads the file, not description.
_ANNOTATION = re.compile(r"^-- (preview order): (.+)$")


def annotation(relative: str, key: str) -> str | None:
    """The value of a `-- <key>: <value>` line of the file's header (e.g. 'preview order')."""
    for line in read(relative).splitlines():
        match = _ANNOTATION.match(line)
        if match and match.group(1) == key:
            return match.group(2).strip()
    return None


def header(relative: str) -> str:
    """The leading `--` comment block of a SQL file, as plain text (annotations left out)."""
    lines = []
    for line in read(relative).splitlines():
        if _ANNOTATION.match(line):
            continue
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


# `-- step: <name>`, or `-- step: <name> when <earlier step> has rows`: a step that has nothing to
# do when that earlier step touched no row, and is then skipped (its count is 0).
_STEP = re.compile(r"^-- step: ([a-z_]+)(?: when ([a-z_]+) has rows)?\s*$", re.M)


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


@functools.cache
def step_conditions(relative: str) -> dict[str, str]:
    """The steps of a script that run only when an earlier step touched rows: step -> that step."""
    names = [name for name, _ in steps(relative)]
    conditions = {m.group(1): m.group(2) for m in _STEP.finditer(read(relative)) if m.group(2)}
    for step, needed in conditions.items():
        if needed not in names[: names.index(step)]:
            raise ValueError(f"{relative}: step {step} depends on {needed}, which is not an earlier step")
    return conditions


def run_steps(
    conn,
    relative: str,
    params: dict,
    *,
    skip: frozenset[str] = frozenset(),
    timings: dict[str, float] | None = None,
    before_step: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run a script's steps in order on `conn` (inside the caller's transaction).

    Returns each step's row count (0 for a step skipped by its `when ... has rows`); a step whose statement returns rows (SELECT or RETURNING)
    reports its first row instead (the value itself when the row has one column). `timings`, if
    given, receives each step's duration in seconds; `before_step`, if given, is called with each
    step's name before it runs (tests pause or stop a load at a named step with it).
    """
    script = steps(relative)
    unknown = skip - {name for name, _ in script}
    if unknown:
        raise ValueError(f"{relative} has no step {', '.join(sorted(unknown))}")
    conditions = step_conditions(relative)
    counts: dict[str, Any] = {}
    for name, text in script:
        if name in skip:
            continue
        if name in conditions and not counts.get(conditions[name]):
            counts[name] = 0
            continue
        if before_step is not None:
            before_step(name)
        started = time.perf_counter()
        # Planned each time, never prepared: a script's tables hold different rows each time it
        # runs (one file's, then the next one's), and a plan cached for one file is a bad plan
        # for another (a generic plan for the customer-day lookup cost six times the custom one).
        cur = conn.execute(text, params, prepare=False)
        if cur.description is not None:
            row = cur.fetchone()
            counts[name] = (row[0] if len(row) == 1 else tuple(row)) if row else None
        else:
            counts[name] = cur.rowcount
        if timings is not None:
            timings[name] = round(time.perf_counter() - started, 3)
    return counts
