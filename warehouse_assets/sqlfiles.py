"""SQL lives in files under `sql/`, one object per file; this module finds and reads them.

A file starts with a header comment (lines beginning with `--`) that says what the object is
and why it is built the way it is; that text becomes the asset's description in the UI.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

from warehouse_assets.settings import SQL_DIR


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
