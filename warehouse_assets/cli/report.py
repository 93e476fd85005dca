"""`warehouse report`: the executive summary as a self-contained HTML page, and its figures."""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

from warehouse_assets.cli.environment import prepare
from warehouse_assets.cli.output import say
from warehouse_assets.core import reporting
from warehouse_assets.core.settings import Settings
from warehouse_assets.db import sqlfiles
from warehouse_assets.db.connection import Database
from warehouse_assets.db.summary import load_summary


def cmd_report(args: argparse.Namespace, settings: Settings) -> int:
    env = prepare(settings)
    db = Database(env.database_url)
    with db.connection() as conn:
        exists = conn.execute(
            sqlfiles.statement("queries/relation_exists.sql"), {"relation": "analytics.executive_summary"}
        )
        if not exists.fetchone()[0]:
            say("the analytics views do not exist yet: run `warehouse load` first")
            return 1
        summary = load_summary(conn)
    out = (
        Path(args.out).expanduser().resolve()
        if args.out
        else settings.project_dir / "reports" / "executive_summary.html"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(reporting.html_report(summary, dt.datetime.now(dt.timezone.utc)), encoding="utf-8")
    width = max(len(label) for label, _ in summary.formatted())
    for label, text in summary.formatted():
        say(f"  {label:<{width}}  {text}")
    say(f"report written to {out}")
    return 0
