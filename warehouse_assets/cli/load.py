"""`warehouse load` and `warehouse check`: the runs, the progress, one summary, the exit code.

warehouse load   refresh products, then load every new or changed sales file in as few
                 runs as the bounds allow (see core.batches); exit 1 when a run, a file or an
                 ERROR check failed
warehouse check  every integrity check over the whole warehouse, and the freshness of
                 products and sales; exit 1 when an ERROR check failed
"""

from __future__ import annotations

import argparse
import datetime as dt
from collections import Counter

import dagster as dg

from warehouse_assets.cli.environment import Environment, prepare
from warehouse_assets.cli.output import say
from warehouse_assets.cli.progress import TerminalProgress
from warehouse_assets.cli.runs import RunOutcome, execute, persistent_instance
from warehouse_assets.core.settings import Settings
from warehouse_assets.core.urls import mask_url
from warehouse_assets.db.connection import Database
from warehouse_assets.defs.alerts import alert_runs
from warehouse_assets.defs.build import build_definitions
from warehouse_assets.defs.jobs import CHECKS_JOB, PRODUCTS_JOB, SALES_JOB
from warehouse_assets.defs.planning import plan_sales_runs, run_tags
from warehouse_assets.defs.sales import SALES_FILES

LAUNCHED_BY = "warehouse load"


def _tags(command: str) -> dict[str, str]:
    # `user` is the tag the UI's "Launched by" column shows (without it: "Manually launched").
    return {"launched_by": command, "user": command}


def print_summary(outcomes: list[RunOutcome], progress: TerminalProgress | None, notes: list[str]) -> bool:
    """Print what the runs did; returns whether anything failed."""
    failed_files: dict[str, str] = {}
    for o in outcomes:
        failed_files.update(o.failed_files)
    if progress is not None:
        failed_files.update(progress.errors)
    checks = [c for o in outcomes for c in o.checks]
    failed_checks = [c for c in checks if not c.passed and c.severity == "ERROR"]
    warned = [c for c in checks if not c.passed and c.severity != "ERROR"]
    step_failures = [f for o in outcomes for f in o.failures]
    say("")
    say("Summary")
    if progress is not None and (progress.results or failed_files):
        results = progress.results.values()
        reasons: Counter = Counter()
        for r in results:
            reasons.update(r.summary.reasons)
            if r.rows_duplicate:
                reasons["duplicate_transaction"] += r.rows_duplicate
        loaded = sum(r.rows_loaded for r in results)
        quarantined = sum(r.rows_quarantined for r in results)
        say(
            f"  files        {len(progress.results):,} loaded"
            + (f", {len(failed_files):,} failed" if failed_files else "")
        )
        by_reason = ", ".join(f"{k} {v:,}" for k, v in reasons.most_common())
        say(f"  rows         {loaded:,} loaded, {quarantined:,} quarantined" + (f" ({by_reason})" if by_reason else ""))
    if checks:
        say(
            f"  checks       {len(checks) - len(failed_checks) - len(warned)} passed"
            + (f", {len(failed_checks)} failed" if failed_checks else "")
            + (f", {len(warned)} warned" if warned else "")
        )
    for note in notes:
        say(f"  note         {note}")
    if failed_files:
        say("")
        say("Failed files")
        for message in failed_files.values():
            say(f"  {message}")
    if failed_checks or warned:
        say("")
        say("Failed checks")
        for c in failed_checks + warned:
            status = "FAIL" if c.severity == "ERROR" else "warn"
            say(f"  {status}  {c.asset}:{c.name} ({c.scope}): {c.detail}")
    if step_failures:
        say("")
        say("Failed steps")
        for failure in dict.fromkeys(step_failures):
            say(f"  {failure}")
    say("")
    say("Runs (see them in the UI under Runs)")
    for o in outcomes:
        say(f"  {'ok' if o.success else 'FAILED':6} {o.label:32} {o.seconds:6.1f} s  {o.run_id[:8]}")
    return bool(failed_files or failed_checks or step_failures or any(not o.success for o in outcomes))


def cmd_load(args: argparse.Namespace, settings: Settings) -> int:
    env = prepare(settings)
    say(f"warehouse database: {mask_url(env.database_url)}")
    progress = TerminalProgress()
    try:
        return _load(args, env, progress)
    finally:
        progress.close()


def _load(args: argparse.Namespace, env: Environment, progress: TerminalProgress) -> int:
    defs = build_definitions(env.settings, observer=progress)
    instance = persistent_instance(env.settings.dagster_home, verbose=args.verbose)
    db = Database(env.database_url)
    plan = plan_sales_runs(
        env.settings, db, list(instance.get_dynamic_partitions(SALES_FILES.name)), {}, reload_all=args.all
    )
    outcomes: list[RunOutcome] = []
    notes: list[str] = []
    if not args.skip_products:
        say(f"refreshing products from {env.settings.fakestore_base_url} ...")
        # With sales to load, the views are refreshed once, by the sales run.
        selection = [dg.AssetKey("raw_products"), dg.AssetKey("dim_product")] if plan.batches else None
        outcome = execute(
            defs,
            PRODUCTS_JOB,
            instance,
            label="products",
            tags=_tags(LAUNCHED_BY),
            verbose=args.verbose,
            asset_selection=selection,
        )
        outcomes.append(outcome)
        if outcome.success:
            say(f"  products refreshed in {outcome.seconds:.1f} s")
        else:
            say(f"  products not refreshed: {outcome.failures[0] if outcome.failures else 'see the run in the UI'}")
            say("  (the sales files are loaded anyway; their unknown products become inferred members)")
    for key in plan.changes.deleted:
        notes.append(f"{key} is no longer in the landing folder; the rows loaded from it are kept")
    for key, reason in plan.changes.refused.items():
        notes.append(f"{key} {reason}")
    if plan.layout_error:
        say(f"the source layouts cannot be used: {plan.layout_error}")
        return 1
    if not plan.batches:
        say(f"no new or changed sales files in {env.settings.landing_dir}")
    else:
        if plan.new_partitions:
            instance.add_dynamic_partitions(SALES_FILES.name, plan.new_partitions)
        total = sum(b.size_bytes for b in plan.batches)
        progress.start(len(plan.to_load), total)
        try:
            for batch in plan.batches:
                label = f"sales files ({len(batch.files)})" if len(batch.files) > 1 else f"sales file {batch.first}"
                outcomes.append(
                    execute(
                        defs,
                        SALES_JOB,
                        instance,
                        label=label,
                        tags={**run_tags(batch, LAUNCHED_BY), **_tags(LAUNCHED_BY)},
                        verbose=args.verbose,
                    )
                )
        finally:
            progress.stop()
    notes += alert_runs(instance, env.settings, [o.run_id for o in outcomes])
    failed = print_summary(outcomes, progress, notes)
    return 1 if failed else 0


def _freshness_lines(instance: dg.DagsterInstance, settings: Settings) -> list[str]:
    """How long ago products and sales were last loaded, against their freshness windows."""
    now = dt.datetime.now(dt.timezone.utc).timestamp()
    out = []
    for key, window, what in (
        ("dim_product", settings.products_max_age_hours * 3600, "products refreshed"),
        ("fact_sales", settings.sales_max_silence_days * 86400, "a sales file loaded"),
    ):
        event = instance.get_latest_materialization_event(dg.AssetKey(key))
        if event is None:
            out.append(f"  unknown  {key}: never materialized")
            continue
        age = now - event.timestamp
        state = "fresh" if age <= window / 2 else ("warn" if age <= window else "STALE")
        out.append(f"  {state:7}  {key}: {what} {_ago(age)} ago (allowed {_ago(window)})")
    return out


def _ago(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def cmd_check(args: argparse.Namespace, settings: Settings) -> int:
    env = prepare(settings)
    say(f"checking {mask_url(env.database_url)} ...")
    defs = build_definitions(env.settings)
    instance = persistent_instance(env.settings.dagster_home, verbose=args.verbose)
    outcome = execute(defs, CHECKS_JOB, instance, label="checks", tags=_tags("warehouse check"), verbose=args.verbose)
    say("")
    say("Checks")
    for c in outcome.checks:
        status = "pass" if c.passed else ("FAIL" if c.severity == "ERROR" else "warn")
        say(f"  {status:5} {c.asset}:{c.name}" + (f": {c.detail}" if c.detail else ""))
    say("")
    say("Freshness")
    for line in _freshness_lines(instance, env.settings):
        say(line)
    failed = print_summary([outcome], None, alert_runs(instance, env.settings, [outcome.run_id]))
    return 1 if failed else 0
