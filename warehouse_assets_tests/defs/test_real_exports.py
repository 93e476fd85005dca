"""The three real sales exports, each through its source layout and the real sales_files_job into
PostgreSQL: every line accounted for, and what loaded equals pandas on the raw file (the rules
computed independently in support.realdata_oracle). Skipped when ../shared/realdata is absent."""

from __future__ import annotations

import shutil
from decimal import Decimal

import pytest

from warehouse_assets_tests.support.jobs import load_file, step_failures
from warehouse_assets_tests.support.paths import PROJECT_DIR
from warehouse_assets_tests.support.realdata_oracle import (
    csv_records,
    expected_online_retail,
    expected_sales_january,
    expected_superstore,
    physical_lines,
    raw_frame,
    real_file,
)

CASES = {
    # file, where it is dropped in the landing folder, encoding, the pandas rules
    "online_retail": (
        "online_retail_sample.csv",
        "online_retail/online_retail_sample.csv",
        "utf-8",
        expected_online_retail,
    ),
    "superstore": ("superstore_sample.csv", "superstore/superstore_sample.csv", "utf-8-sig", expected_superstore),
    "sales_january_2019": ("Sales_January_2019.csv", "Sales_January_2019.csv", "utf-8", expected_sales_january),
}


@pytest.mark.parametrize("layout", sorted(CASES))
def test_real_export_loads_through_its_layout(layout, realdata, landing, settings, instance, db):
    from warehouse_assets.defs.build import build_definitions

    defs = build_definitions(settings.replace(layouts_dir=PROJECT_DIR / "data" / "layouts"))
    name, key, encoding, expected_of = CASES[layout]
    source = real_file(realdata, name)
    target = landing / key
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)  # into the test's temporary landing folder only
    expected = expected_of(raw_frame(source, encoding=encoding))

    result = load_file(defs, instance, key)
    assert result.success, step_failures(result)

    used_layout, lines_read, records_read, noise = db.execute(
        "SELECT layout, lines_read, records_read, noise_lines FROM warehouse.sales_files WHERE source_file = %s", (key,)
    ).fetchone()
    fact_lines, loaded = db.execute(
        "SELECT coalesce(sum(source_line_count), 0), count(*) FROM warehouse.fact_sales WHERE source_file = %s", (key,)
    ).fetchone()
    rejected_lines = db.execute(
        "SELECT coalesce(sum(line_count), 0) FROM warehouse.rejected_sales WHERE source_file = %s", (key,)
    ).fetchone()[0]
    assert used_layout == layout
    assert lines_read == physical_lines(source) == csv_records(source, encoding)  # every line after the header
    assert records_read + noise == lines_read  # a row, or noise (blank lines, repeated headers)
    assert lines_read == fact_lines + rejected_lines + noise

    # What loaded, against pandas on the raw file with the layout's documented rules.
    lines = {r[0] for r in db.execute("SELECT source_line FROM warehouse.fact_sales WHERE source_file = %s", (key,))}
    assert lines == {int(n) for n in expected.valid[expected.valid].index}
    orders, customers, revenue, returns = db.execute(
        "SELECT count(DISTINCT (order_id, customer_id)) FILTER (WHERE transaction_type = 'sale'), "
        "count(DISTINCT customer_id), "
        "sum(CASE WHEN transaction_type = 'return' THEN -total_amount ELSE total_amount END), "
        "count(*) FILTER (WHERE transaction_type = 'return') FROM warehouse.fact_sales WHERE source_file = %s",
        (key,),
    ).fetchone()
    assert (orders, customers, returns) == (expected.orders, expected.customers, int(expected.is_return.sum()))
    assert revenue == expected.revenue and isinstance(revenue, Decimal)
    # The same figures in the analytics: net revenue, orders, customers with an order.
    net, total_orders = db.execute("SELECT total_revenue, total_orders FROM analytics.executive_summary").fetchone()
    assert (net, total_orders) == (expected.revenue, expected.orders)
    if "discount" in expected.flags:  # gross, discount and net of a source that states discounts
        discounts = db.execute("SELECT discounts_amount FROM analytics.executive_summary").fetchone()[0]
        assert discounts == sum(expected.flags["discount"][expected.valid], Decimal(0))
    # The checks of the run passed: nothing lost, no orphan, amounts and dates consistent.
    assert all(e.passed for e in result.get_asset_check_evaluations())
