"""The three real sales exports, each through its source layout and the real sales_file_job into
PostgreSQL: every line accounted for, and what loaded equals pandas on the raw file."""

import shutil
from decimal import Decimal

import pytest

from warehouse_assets import settings
from warehouse_assets_tests.helpers import load_sales_file, step_failures
from warehouse_assets_tests.ingest.test_layouts import (
    expected_online_retail,
    expected_sales_january,
    expected_superstore,
    raw_frame,
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


@pytest.fixture
def layouts(monkeypatch):
    monkeypatch.setenv("WAREHOUSE_LAYOUTS_DIR", str(settings.PROJECT_DIR / "data" / "layouts"))


@pytest.mark.parametrize("layout", sorted(CASES))
def test_real_export_loads_through_its_layout(layout, realdata, landing, layouts, defs, instance, db):
    name, key, encoding, expected_of = CASES[layout]
    target = landing / key
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(realdata / name, target)  # into the test's temporary landing folder only
    expected = expected_of(raw_frame(realdata / name, encoding=encoding))

    result = load_sales_file(defs, instance, key)
    assert result.success, step_failures(result)

    read, skipped, used_layout = db.execute(
        "SELECT rows_read, rows_skipped, layout FROM warehouse.sales_files WHERE source_file = %s", (key,)
    ).fetchone()
    loaded = db.execute("SELECT count(*) FROM warehouse.fact_sales WHERE source_file = %s", (key,)).fetchone()[0]
    quarantined = db.execute("SELECT count(*) FROM warehouse.rejected_sales WHERE source_file = %s", (key,)).fetchone()[
        0
    ]
    assert used_layout == layout
    assert read == loaded + quarantined + skipped
    assert read == len(raw_frame(realdata / name, encoding=encoding))

    # What loaded, against pandas on the raw file with the layout's documented rules.
    lines = {r[0] for r in db.execute("SELECT source_line FROM warehouse.fact_sales WHERE source_file = %s", (key,))}
    assert lines == {int(n) for n in expected.valid[expected.valid].index}
    orders, customers, revenue = db.execute(
        "SELECT count(DISTINCT split_part(transaction_id, ':', 2)), count(DISTINCT customer_id), sum(total_amount) "
        "FROM warehouse.fact_sales WHERE source_file = %s",
        (key,),
    ).fetchone()
    assert (orders, customers) == (expected.orders, expected.customers)
    assert revenue == expected.revenue and isinstance(revenue, Decimal)
    # The checks of the run passed: nothing lost, no orphan, amounts and dates consistent.
    assert all(e.passed for e in result.get_asset_check_evaluations())
