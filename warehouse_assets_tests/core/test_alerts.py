"""The alert's text for each case, built from findings alone (no Dagster, no network)."""

from __future__ import annotations

import json

from warehouse_assets.core.alerts import (
    MAX_LISTED,
    FailedCheck,
    FileQuarantine,
    RunFindings,
    alert_text,
    run_link,
    webhook_payload,
)

RUN = "0123456789abcdef-run"
UI = "http://ui.example:3000"


def text(findings: RunFindings, share: float = 0.05) -> str | None:
    return alert_text(findings, ui_url=UI, quarantine_share=share)


def test_a_clean_run_is_not_told():
    clean = RunFindings(RUN, "sales_files_job", failed=False, files=(FileQuarantine("a.csv", 99, 1),))
    assert text(clean) is None


def test_a_failed_file_is_named_with_its_error_the_counts_and_the_link():
    findings = RunFindings(
        RUN,
        "sales_files_job",
        failed=True,
        launched_by="sales_files_sensor",
        failed_files={"b.csv": "b.csv: line 1: header lacks required column(s) quantity"},
        files=(FileQuarantine("a.csv", 1200, 30, {"bad_date": 30}),),
    )
    lines = text(findings).splitlines()
    assert lines[0] == "Warehouse: run 01234567 of sales_files_job (launched by sales_files_sensor) failed"
    assert "Files: 1 loaded, 1 failed; rows: 1,200 loaded, 30 quarantined" in lines
    assert "- b.csv: line 1: header lacks required column(s) quantity" in lines
    assert lines[-1] == f"Run: {UI}/runs/{RUN}"
    # 30 of 1,230 is 2.4 %: below the threshold, not listed.
    assert not any("more than" in line for line in lines)


def test_a_failed_check_is_named_with_its_scope_and_counts():
    findings = RunFindings(
        RUN,
        "warehouse_checks_job",
        failed=True,
        failed_checks=(FailedCheck("fact_sales", "fact_sales_amounts_valid", "whole warehouse", "total_mismatch=2"),),
    )
    body = text(findings)
    assert "Failed checks (1):\n- fact_sales:fact_sales_amounts_valid (whole warehouse): total_mismatch=2" in body
    assert "Files:" not in body  # a checks run loads no file


def test_a_successful_run_with_a_failed_error_check_is_told():
    findings = RunFindings(RUN, "sales_files_job", failed=False, failed_checks=(FailedCheck("a", "c", "s", "x=1"),))
    assert text(findings).splitlines()[0].endswith("finished with 1 failed ERROR check(s)")


def test_a_file_above_the_share_is_told_with_its_reasons_and_one_at_the_share_is_not():
    findings = RunFindings(
        RUN,
        "sales_files_job",
        failed=False,
        files=(
            FileQuarantine("heavy.csv", 900, 100, {"bad_date": 60, "negative_amount": 40}),
            FileQuarantine("edge.csv", 95, 5),  # exactly 5 %
            FileQuarantine("empty.csv", 0, 0),
        ),
    )
    body = text(findings)
    assert body.splitlines()[0].endswith("loaded 1 file(s) with too many rows quarantined")
    assert "- heavy.csv: 100 of 1,000 rows quarantined (10 %) - bad_date 60, negative_amount 40" in body
    assert "edge.csv" not in body and "empty.csv" not in body
    assert text(findings, share=0.2) is None


def test_long_lists_are_cut_and_say_how_many_more():
    failed = {f"f{i:03}.csv": f"f{i:03}.csv: broken" for i in range(MAX_LISTED + 5)}
    body = text(RunFindings(RUN, "sales_files_job", failed=True, failed_files=failed))
    assert f"- f{MAX_LISTED - 1:03}.csv: broken" in body and f"f{MAX_LISTED:03}.csv" not in body
    assert "- and 5 more (see the run)" in body


def test_other_failed_steps_are_listed():
    findings = RunFindings(RUN, "products_job", failed=True, step_errors=("raw_products: could not reach the API",))
    assert "Failed steps:\n- raw_products: could not reach the API" in text(findings)


def test_the_payload_is_a_top_level_text_and_the_link_ignores_a_trailing_slash():
    assert json.loads(json.dumps(webhook_payload("hello"))) == {"text": "hello"}
    assert run_link(UI + "/", "r1") == run_link(UI, "r1") == f"{UI}/runs/r1"
