"""The pages a new user opens after `warehouse load`, in headless Chromium against the production
topology (support.topology): what is visible, not what the API returns.

Two sales files are loaded by `warehouse load` (a subprocess, with the deployment's DAGSTER_HOME
and database, from a folder the sensor does not watch, so every run is the command's). Then:

* executive_summary shows its chart as an image that loaded, without a click, and the figures
  (orders and revenue computed from the files by the oracle, not by the warehouse);
* fact_sales shows the table's total rows, its quarantine by reason and a preview table;
* the lineage opens as the two groups, and the analytics group's graph names every view in full;
* Runs shows the command's runs with their tag and under *Launched by*;
* the report `warehouse report` writes fits a phone's width and prints on two A4 pages.

Screenshots of each step are in test-artifacts/ui-pages/ and test-artifacts/report/.
"""

from __future__ import annotations

import datetime as dt
import re
import subprocess

import pandas as pd
import pytest

from warehouse_assets.cli.sample_data import SalesSpec, generate_sales
from warehouse_assets_tests.support.browser import Screens, needs_chromium
from warehouse_assets_tests.support.oracle import valid_rows
from warehouse_assets_tests.support.topology import BIN, LOCATION, ROOT, Topology, start_topology

pytestmark = [pytest.mark.slow, needs_chromium]

CHART_ALT = "Revenue per day, and its trend (dashed)"
BROKEN_FRESHNESS = "was  ago"  # a duration missing from a freshness message


@pytest.fixture(scope="module")
def loaded(pg_server_url: str, template_database: str, tmp_path_factory) -> tuple[Topology, dict]:
    base = tmp_path_factory.mktemp("ui_pages")
    with start_topology(pg_server_url, template_database, base) as topology:
        incoming = base / "incoming"
        specs = {
            "jan.csv": SalesSpec(rows=900, customers=120, bad_share=0.03, seed=41, id_prefix="UJ"),
            "feb.csv": SalesSpec(rows=700, customers=120, bad_share=0.03, seed=42, id_prefix="UF"),
        }
        planted = {name: generate_sales(incoming / name, spec).planted for name, spec in specs.items()}
        now = dt.datetime.now(dt.timezone.utc)
        rows = [r for name in specs for r in valid_rows(incoming / name, name, now).to_dict("records")]
        env = {**topology.env, "WAREHOUSE_LANDING_DIR": str(incoming)}
        done = subprocess.run(
            [str(BIN / "warehouse"), "load"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, done.stdout + done.stderr
        expected = {
            "orders": len(rows),
            "revenue": sum(r["total_cents"] for r in rows),
            "quarantined": sum(len(pd.read_csv(incoming / n, dtype=str)) for n in specs) - len(rows),
            "bad_dates": sum(1 for n in specs for r in planted[n].values() if "bad_date" in r),
        }
        yield topology, expected


def dollars(cents: int) -> str:
    return f"${cents // 100:,}.{cents % 100:02d}"


def test_the_pages_show_what_the_readme_says(loaded, browser):
    from playwright.sync_api import expect

    topology, expected = loaded
    context = browser.new_context(viewport={"width": 1500, "height": 2400}, base_url=topology.webserver_url)
    context.set_default_timeout(30_000)
    page = context.new_page()
    shots = Screens(page, "ui-pages")
    try:
        with shots.step("executive-summary"):
            page.goto("/assets/executive_summary", wait_until="networkidle")
            chart = page.get_by_role("img", name=CHART_ALT)
            expect(chart).to_be_visible()
            expect(page.get_by_text("[Show Markdown]")).to_have_count(0)
            loaded_size = chart.evaluate("img => img.complete ? [img.naturalWidth, img.naturalHeight] : null")
            assert loaded_size and loaded_size[0] > 200 and loaded_size[1] > 100, loaded_size
            figures = page.get_by_role("row").filter(has_text="figure").first
            expect(figures).to_contain_text(dollars(expected["revenue"]))
            expect(figures).to_contain_text(f"{expected['orders']:,}")
            expect(page.get_by_role("row").filter(has_text="top_products").first).to_contain_text("Sample ")

        with shots.step("fact-sales"):
            page.goto("/assets/fact_sales", wait_until="networkidle")
            for label, value in (
                ("table_rows", expected["orders"]),
                ("table_rows_quarantined", expected["quarantined"]),
                ("files_in_run", 2),
            ):
                row = page.get_by_role("row").filter(has=page.get_by_text(label, exact=True)).first
                expect(row).to_contain_text(str(value))
            quarantine = page.get_by_role("row").filter(has=page.get_by_text("table_quarantined_by_reason", exact=True))
            expect(quarantine.first).to_contain_text(f'"bad_date": {expected["bad_dates"]}')
            preview = page.get_by_role("row").filter(has=page.get_by_text("preview", exact=True)).first
            expect(preview.get_by_role("columnheader", name="transaction_id")).to_be_visible()
            assert BROKEN_FRESHNESS not in page.inner_text("body")

        with shots.step("lineage"):
            page.goto("/asset-groups", wait_until="networkidle")
            graph = page.locator("svg").filter(has_text="warehouse").first
            for group in ("warehouse", "analytics"):
                expect(graph.get_by_text(group, exact=True).first).to_be_visible()

        with shots.step("lineage-analytics"):
            page.goto(f"/locations/{LOCATION}/asset-groups/analytics/lineage", wait_until="networkidle")
            for name in ("vw_daily_sales_summary", "vw_product_sales_summary", "vw_customer_lifetime_value"):
                expect(page.get_by_text(name, exact=True).first).to_be_visible()
            assert not re.search(r"vw_…", page.inner_text("body")), "a view's name is shortened"

        with shots.step("runs"):
            page.goto("/runs", wait_until="networkidle")
            # Products, then both files in one run; each tagged, and the command under Launched by.
            expect(page.get_by_text("launched_by: warehouse load")).to_have_count(2)
            expect(page.get_by_text("user: warehouse load")).to_have_count(2)
            # The column shows the user tag; without it each run would read "Manually launched".
            expect(page.get_by_text("Launched by", exact=True)).to_be_visible()
            expect(page.get_by_text("Manually launched")).to_have_count(0)
    finally:
        context.close()


def test_the_report_reads_on_a_phone_and_prints_on_two_a4_pages(loaded, browser, tmp_path):
    topology, expected = loaded
    out = tmp_path / "report.html"
    done = subprocess.run(
        [str(BIN / "warehouse"), "report", "--out", str(out)],
        cwd=ROOT,
        env=topology.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert dollars(expected["revenue"]) in done.stdout
    phone = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2)
    try:
        page = phone.new_page()
        shots = Screens(page, "report")
        with shots.step("phone"):
            page.goto(out.as_uri())
            assert page.evaluate("document.documentElement.scrollWidth") <= 390, "the page scrolls sideways"
            assert page.get_by_text(dollars(expected["revenue"])).first.is_visible()
        with shots.step("print"):
            page.emulate_media(media="print")
            pdf = page.pdf(format="A4", print_background=True)
            pages = len(re.findall(rb"/Type\s*/Page[^s]", pdf))
            assert 1 <= pages <= 2, f"{pages} A4 pages"
    finally:
        phone.close()
