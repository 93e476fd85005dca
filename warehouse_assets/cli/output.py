"""Printing for the CLI: plain lines on standard output, flushed, so progress shows in pipes."""

from __future__ import annotations


def say(message: str) -> None:
    print(message, flush=True)
