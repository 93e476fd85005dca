"""The views and the analytics layer end to end through the real jobs, against an independent model.

A generated data set (a products snapshot and three sales files spanning 21 months, with bad rows,
unknown products, hand-written edge cases and cross-file duplicate transaction ids) is loaded with
`products_job` and one run of `sales_files_job`. The test then recomputes every view and analytics
output with the model in support.oracle, directly from the input files, and compares all columns
of all rows with what PostgreSQL returns. Nothing expected comes from the code under test.

Also covered: the asset graph (each view asset depends on exactly the relations PostgreSQL says
its view reads), the asset descriptions and materialization metadata (row count, preview, chart, figures),
the HTML report, and the incremental path: replacing a file with changed content leaves the views
equal to the model of the new set of files.

The loaded warehouse is shared by the read-only tests of this module (one load, one database);
the incremental test loads a database of its own.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

import dagster as dg
import numpy as np
import pandas as pd
import psycopg
import pytest

from warehouse_assets.cli.sample_data import SalesSpec, generate_sales, write_products
from warehouse_assets.core.settings import Settings
from warehouse_assets.core.urls import replace_database
from warehouse_assets.defs.build import build_definitions
from warehouse_assets_tests.support.databases import create_database, drop_database
from warehouse_assets_tests.support.jobs import load_file, load_files, refresh_products, step_failures
from warehouse_assets_tests.support.oracle import OUTPUT_KEYS, Model, assert_view_matches, cents, valid_rows
from warehouse_assets_tests.support.paths import SQL_DIR

VIEW_FILES = {p.stem: p for folder in ("views", "analytics") for p in sorted((SQL_DIR / folder).glob("*.sql"))}

# ====================================================================== the input data set

KNOWN_PRODUCTS = 30  # the snapshot: products 1..30 ...
UNKNOWN_IN_SALES = range(21, 26)  # ... minus 21..25, which the sales name: inferred members
SPECS = {
    # file (partition key) -> generator spec; EDGE_LINES below are appended to each file
    "a_2023.csv": SalesSpec(
        rows=3000,
        customers=300,
        products=20,
        start=dt.date(2023, 1, 1),
        end=dt.date(2024, 3, 31),
        bad_share=0.03,
        unknown_product_share=0.02,
        seed=11,
        id_prefix="A",
    ),
    "b_2024.csv": SalesSpec(
        rows=3000,
        customers=300,
        products=20,
        start=dt.date(2023, 10, 1),
        end=dt.date(2024, 9, 30),
        bad_share=0.03,
        unknown_product_share=0.02,
        seed=22,
        id_prefix="B",
    ),
    # The same id prefix as a_2023.csv: its ids A-000000000..A-000000399 were (mostly) loaded
    # from a_2023.csv first, so those rows are cross-file duplicates (first loaded wins); where
    # a_2023.csv's row was invalid, this file's row is the first load of the id.
    "c_2024.csv": SalesSpec(
        rows=400,
        customers=300,
        products=20,
        start=dt.date(2024, 1, 1),
        end=dt.date(2024, 6, 30),
        bad_share=0.03,
        unknown_product_share=0.02,
        seed=33,
        id_prefix="A",
    ),
}
EDGE_LINES = {
    "a_2023.csv": [
        # An offset timestamp: 2024-03-01 02:30 UTC, so a March (and leap-year) sale, not February.
        "A-EDGE-1,2024-02-29T23:30:00-03:00,C000001,Ana Smith,Paris,France,3,1,15.00,15.00, Bank-Transfer ",
        # A date without a time: midnight UTC.
        "A-EDGE-2,2023-07-04,C000002,Ben García,Lyon,France,4,2,7.50,15.00,CASH",
        # Half a cent rounds away from zero: unit 10.01, total 20.01 is within a cent of 20.02.
        "A-EDGE-3,2023-08-15 12:00:00,C000003,Chloé Müller,Berlin,Germany,5,2,10.005,20.01,paypal",
        # Two cents off: amount_mismatch.
        "A-EDGE-4,2023-08-15 12:00:00,C000003,Chloé Müller,Berlin,Germany,5,2,10.00,20.02,paypal",
        # A customer only in this file, and one without a city or country.
        "A-EDGE-5,2023-05-05 05:05:05,CX-ONLY-A,Only In A,Tokyo,Japan,6,3,2.00,6.00,debit card",
        "A-EDGE-6,2023-05-06 05:05:05,CX-ONLY-A,Only In A,Tokyo,Japan,7,1,99.99,99.99,credit_card",
        "A-EDGE-7,2023-11-11 11:11:11,CX-NOWHERE,Nobody,,,8,1,42.00,42.00,cash",
        # Earlier than 2000-01-01 UTC once the offset is applied.
        "A-EDGE-8,2000-01-01T00:30:00+01:00,C000004,Dmitri Rossi,Madrid,Spain,9,1,1.00,1.00,cash",
    ],
    "b_2024.csv": [
        # A copy of a_2023.csv's id A-000000010 with other values: a_2023.csv loaded it first.
        "A-000000010,2024-09-01 10:00:00,C000010,Someone Else,Lagos,Nigeria,1,5,999.00,4995.00,cash",
        # A repeat of this file's own edge id: an id seen earlier in the same file.
        "B-EDGE-1,2024-09-29 22:00:00,C000005,Emeka Okafor,Sydney,Australia,2,1,3.00,3.00,PayPal",
        "B-EDGE-1,2024-09-29 22:00:00,C000005,Emeka Okafor,Sydney,Australia,2,1,3.00,3.00,PayPal",
        # Unknown product 25 and the last day of the data set.
        "B-EDGE-2,2024-09-30 23:59:59,C000006,Fatima Khan,Lagos,Nigeria,25,4,19.99,79.96,credit-card",
    ],
    "c_2024.csv": [
        # UTC written as Z, with fractional seconds: still 2024-06-15.
        "C-EDGE-1,2024-06-15T23:59:59.750Z,C000008,Hiro Novak,Kraków,Poland,11,2,5.25,10.50,Debit Card",
        # The customer's latest transaction names no city or country: they become unknown.
        "C-EDGE-2,2024-09-30 23:59:00,C000009,Ingrid Silva,,,12,1,8.00,8.00,paypal",
    ],
}


def write_inputs(landing: Path, snapshot: Path) -> None:
    """The products snapshot and the three sales files of the data set."""
    write_products(snapshot, products=KNOWN_PRODUCTS)
    products = [p for p in json.loads(snapshot.read_text(encoding="utf-8")) if p["id"] not in UNKNOWN_IN_SALES]
    snapshot.write_text(json.dumps(products, ensure_ascii=False), encoding="utf-8")
    for key, spec in SPECS.items():
        path = landing / key
        generate_sales(path, spec, track_planted=False)
        with open(path, "a", encoding="utf-8", newline="") as fh:
            fh.writelines(line + "\n" for line in EDGE_LINES[key])


# ====================================================================== loading through the jobs


@dataclass
class Loaded:
    url: str
    defs: dg.Definitions
    instance: dg.DagsterInstance
    landing: Path
    model: Model


def load_all(defs: dg.Definitions, instance: dg.DagsterInstance, landing: Path, model: Model) -> None:
    result = refresh_products(defs, instance)
    assert result.success, step_failures(result)
    # The three files in one run: each is its own transaction, in partition order.
    (result,) = load_files(defs, instance, list(SPECS))
    assert result.success, step_failures(result)
    for key in SPECS:
        model.load(key, landing / key)


@pytest.fixture(scope="module")
def loaded(pg_server_url: str, template_database: str, tmp_path_factory) -> Iterator[Loaded]:
    """One warehouse database loaded with the data set, shared by the read-only tests."""
    root = tmp_path_factory.mktemp("views")
    landing = root / "landing"
    landing.mkdir()
    snapshot = root / "products.json"
    write_inputs(landing, snapshot)
    name = create_database(pg_server_url, template_database)
    url = replace_database(pg_server_url, name)
    settings = Settings.from_environment(
        {
            "WAREHOUSE_DATABASE_URL": url,
            "WAREHOUSE_LANDING_DIR": str(landing),
            "WAREHOUSE_LAYOUTS_DIR": str(root / "layouts"),
            "FAKESTORE_BASE_URL": str(snapshot),
        }
    )
    with dg.instance_for_test() as instance:
        defs = build_definitions(settings)
        model = Model.from_snapshot(snapshot)
        load_all(defs, instance, landing, model)
        yield Loaded(url=url, defs=defs, instance=instance, landing=landing, model=model)
    drop_database(pg_server_url, name)


@pytest.fixture
def conn(loaded: Loaded) -> Iterator[psycopg.Connection]:
    with psycopg.connect(loaded.url, autocommit=True, options="-c TimeZone=UTC") as c:
        yield c


# ====================================================================== 1. every output, row by row


def test_data_set_exercises_the_rules(loaded: Loaded, conn) -> None:
    """The data set has what the comparisons need: bad rows, cross-file duplicates, inferred
    products, a product never sold, a customer without a location, more than a year of months."""
    model = loaded.model
    facts = model.facts
    assert len(facts) > 5000 and facts["customer_id"].nunique() > 300
    assert (max(facts["date"]) - min(facts["date"])).days > 600
    rejected = conn.execute("SELECT count(*) FROM warehouse.rejected_sales").fetchone()[0]
    duplicates = conn.execute(
        "SELECT count(*) FROM warehouse.rejected_sales WHERE raw_record ? 'first_loaded_from'"
    ).fetchone()[0]
    assert rejected > 150 and duplicates > 300
    # Ids of a_2023.csv loaded from c_2024.csv because a_2023.csv's own row was invalid.
    c_ids = set(model.facts_by_file["c_2024.csv"]["transaction_id"])
    assert any(i.startswith("A-") for i in c_ids)
    assert model.inferred == set(UNKNOWN_IN_SALES)
    sold = set(facts["product_id"])
    assert set(model.products["product_id"]) - sold, "no product is left unsold"
    customers = {c["customer_id"]: c for c in model.vw_customer_lifetime_value()}
    assert customers["C000009"]["city"] is None  # its latest transaction has no city
    # The facts themselves: the same transactions, from the same files, on the same UTC days.
    loaded_facts = conn.execute("SELECT transaction_id, source_file, date_key FROM warehouse.fact_sales").fetchall()
    assert sorted(loaded_facts) == sorted(
        (r.transaction_id, r.source_file, r.date.year * 10000 + r.date.month * 100 + r.date.day)
        for r in facts.itertuples()
    )
    by_id = facts.set_index("transaction_id")
    assert by_id.at["A-EDGE-1", "date"] == dt.date(2024, 3, 1)  # offset applied, then UTC date
    assert by_id.at["A-EDGE-3", "unit_cents"] == 1001
    assert not {"A-EDGE-4", "A-EDGE-8"} & set(by_id.index)
    assert by_id.at["A-000000010", "source_file"] == "a_2023.csv"
    assert by_id.at["B-EDGE-1", "source_file"] == "b_2024.csv"


@pytest.mark.parametrize("view", list(OUTPUT_KEYS))
def test_output_equals_independent_computation(loaded: Loaded, conn, view: str) -> None:
    assert_view_matches(conn, view, loaded.model.expected(view))


# ====================================================================== 2. the asset graph

RELATIONS_READ = """
SELECT DISTINCT v.relname AS view, rn.nspname AS schema, r.relname AS relation
FROM pg_class v
JOIN pg_namespace vn ON vn.oid = v.relnamespace
JOIN pg_rewrite rw ON rw.ev_class = v.oid
JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = rw.oid
                AND d.refclassid = 'pg_class'::regclass
JOIN pg_class r ON r.oid = d.refobjid
JOIN pg_namespace rn ON rn.oid = r.relnamespace
WHERE vn.nspname = 'analytics' AND v.relkind = 'v' AND r.oid <> v.oid
"""


def test_view_assets_depend_on_exactly_the_relations_postgres_says_they_read(loaded: Loaded, conn) -> None:
    reads: dict[str, set[tuple[str, str]]] = {}
    for view, schema, relation in conn.execute(RELATIONS_READ).fetchall():
        reads.setdefault(view, set()).add((schema, relation))
    graph = loaded.defs.resolve_asset_graph()
    assert set(VIEW_FILES) <= set(reads), f"views missing in PostgreSQL: {set(VIEW_FILES) - set(reads)}"
    for name in VIEW_FILES:
        schemas = {schema for schema, _ in reads[name]}
        assert schemas <= {"warehouse", "analytics"}, f"{name} reads outside the warehouse: {schemas}"
        # An asset key is the relation's bare name, so no name may exist in both schemas.
        bare = {relation for _, relation in reads[name]}
        assert len(bare) == len(reads[name]), f"{name}: a relation name in two schemas {reads[name]}"
        expected = {dg.AssetKey(relation) for relation in bare}
        node = graph.get(dg.AssetKey(name))
        assert set(node.parent_keys) == expected, (
            f"{name}: asset deps {sorted(k.to_user_string() for k in node.parent_keys)}, "
            f"PostgreSQL says it reads {sorted(bare)}"
        )
        assert all(graph.has(k) for k in expected), f"{name}: an upstream relation is not an asset"


# ====================================================================== 3. descriptions and metadata


def sql_header(path: Path) -> str:
    """The leading `--` comment block of a SQL file, without the `-- ` markers."""
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("--"):
            break
        if line.startswith("-- preview order:"):  # a setting for the preview, not description
            continue
        lines.append(line[3:] if line.startswith("-- ") else line[2:])
    return "\n".join(lines).strip()


def svg_from_markdown(markdown: str) -> ET.Element:
    """The SVG of a markdown image with a data URI, parsed (a broken SVG fails here)."""
    found = re.fullmatch(r"!\[[^\]]+\]\(data:image/svg\+xml,([^\s()]+)\)", markdown)
    assert found, markdown[:200]
    return ET.fromstring(unquote(found.group(1)))


def table_rows(value: dg.MetadataValue) -> list[dict]:
    assert isinstance(value, dg.TableMetadataValue), type(value)
    return [r.data for r in value.records]


def test_view_assets_describe_themselves_and_report_counts_and_previews(loaded: Loaded, conn) -> None:
    graph = loaded.defs.resolve_asset_graph()
    for name, path in VIEW_FILES.items():
        key = dg.AssetKey(name)
        assert graph.get(key).description == sql_header(path), name
        event = loaded.instance.get_latest_materialization_event(key)
        assert event is not None, f"{name} was never materialized"
        metadata = event.asset_materialization.metadata
        count = conn.execute(f"SELECT count(*) FROM analytics.{name}").fetchone()[0]
        assert count > 0 and metadata["dagster/row_count"] == dg.MetadataValue.int(count), name
        columns = [d.name for d in conn.execute(f"SELECT * FROM analytics.{name} LIMIT 0").description]
        preview = table_rows(metadata["preview"])
        if name == "executive_summary":  # one wide row, shown as one row per column
            assert [r["column"] for r in preview] == columns
        else:
            assert [c.name for c in metadata["preview"].schema.columns] == columns, name
            assert all(set(r) == set(columns) for r in preview) and len(preview) == min(count, 10), name


def test_executive_summary_page_shows_a_chart_the_figures_and_the_best_products(loaded: Loaded) -> None:
    event = loaded.instance.get_latest_materialization_event(dg.AssetKey("executive_summary"))
    metadata = event.asset_materialization.metadata
    chart = metadata["revenue_per_day"]
    assert isinstance(chart, dg.MarkdownMetadataValue)
    # The UI renders a markdown value on the asset page only below 1,000 characters.
    assert len(chart.md_str) < 1000, len(chart.md_str)
    svg = svg_from_markdown(chart.md_str)
    days = sorted(d["full_date"] for d in loaded.model.vw_daily_sales_summary())
    texts = [t.text for t in svg.iter("{http://www.w3.org/2000/svg}text")]
    assert f"{days[0]:%d %b %Y}" in texts and f"{days[-1]:%d %b %Y}" in texts, texts
    area = svg.find("{http://www.w3.org/2000/svg}path").get("d")
    assert area.count("l") >= 40, area  # enough points to show the shape of 21 months
    assert {r["figure"]: r["value"] for r in table_rows(metadata["figures"])} == expected_figures(loaded.model)
    sold = [p for p in loaded.model.vw_product_sales_summary() if p["transaction_count"] > 0]
    top = sorted(sold, key=lambda p: (-p["total_revenue"], p["product_id"]))[:10]
    shown = table_rows(metadata["top_products"])
    assert [(r["product"], r["revenue"]) for r in shown] == [
        (p["product_name"], f"${p['total_revenue']:,.2f}") for p in top
    ]


# ====================================================================== 4. the report


def expected_figures(model: Model) -> dict[str, str]:
    """The report's figures as a reader sees them, from the model."""
    s = model.executive_summary()[0]
    return {
        "Net revenue": f"${s['total_revenue']:,.2f}",
        "Orders": f"{s['total_orders']:,}",
        "Customers": f"{s['total_customers']:,}",
        "Average order value": f"${s['avg_order_value']:,.2f}",
        "Best product": s["best_product"],
        "Best city": f"{s['best_city']}, {s['best_city_country']}",
        "Revenue, last 30 days": f"${s['last_30_days_revenue']:,.2f}",
        "Revenue, previous 30 days": f"${s['previous_30_days_revenue']:,.2f}",
        "Growth vs previous 30 days": f"{float(s['growth_vs_previous_period']) * 100:+.1f} %",
        "Return rate": f"{float(s['return_rate']) * 100:.1f} %",
        "Repeat customers": f"{float(s['repeat_customer_share']) * 100:.1f} %",
    }


def assert_report(path: Path, model: Model) -> None:
    import html

    page = path.read_text(encoding="utf-8")
    cells = {
        html.unescape(th): html.unescape(td) for th, td in re.findall(r"<tr><th>(.*?)</th><td>(.*?)</td></tr>", page)
    }
    assert cells == expected_figures(model)
    period_end = model.executive_summary()[0]["period_end"]
    assert f"Period ending {period_end.isoformat()}" in page
    charts = [ET.fromstring(svg) for svg in re.findall(r"<svg .*?</svg>", page, flags=re.S)]
    assert [c.get("aria-label") for c in charts] == ["Revenue per day", "Top products by revenue"]
    assert "@media print" in page and "@page { size: A4" in page and 'name="viewport"' in page


def test_reporting_writes_html_with_the_figures_and_its_charts(loaded: Loaded, conn, tmp_path) -> None:
    from warehouse_assets.core import reporting
    from warehouse_assets.db.summary import load_summary

    summary = load_summary(conn)
    daily = {d["full_date"]: d["total_revenue"] for d in loaded.model.vw_daily_sales_summary()}
    assert summary.daily == sorted(daily.items())
    sold = [p for p in loaded.model.vw_product_sales_summary() if p["transaction_count"] > 0]
    top = sorted(sold, key=lambda p: (-p["total_revenue"], p["product_id"]))[:10]
    assert summary.top_products == [(p["product_name"], p["total_revenue"]) for p in top]

    out = tmp_path / "report.html"
    out.write_text(reporting.html_report(summary, dt.datetime.now(dt.UTC)), encoding="utf-8")
    assert_report(out, loaded.model)


# ====================================================================== 5. replacing a file


def rewrite_with_changes(path: Path) -> None:
    """New content for a loaded file: other amounts, dates and customers, a moved city, rows
    dropped (a customer of its own vanishes), and invalid payment methods fixed."""
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    line = np.arange(len(df))
    money_ok = df["unit_price"].str.fullmatch(r"\d+\.\d\d") & df["quantity"].str.fullmatch(r"\d+")
    bump = money_ok & (line % 7 == 0)
    quantity = df.loc[bump, "quantity"].astype(int) + 1
    unit = df.loc[bump, "unit_price"].map(cents)
    df.loc[bump, "quantity"] = quantity.astype(str)
    df.loc[bump, "total_amount"] = [f"{c // 100}.{c % 100:02d}" for c in quantity * unit]

    for i in np.flatnonzero(line % 11 == 3):
        try:
            ts = dt.datetime.fromisoformat(df.at[i, "transaction_date"])
        except ValueError:
            continue
        if ts.tzinfo is None and ts.year > 2000:
            df.at[i, "transaction_date"] = (ts - dt.timedelta(days=75)).isoformat(sep=" ")

    move = line % 13 == 5
    df.loc[move, "customer_id"] = [f"CN{i % 40:04d}" for i in line[move]]
    df.loc[move, "customer_name"] = [f"New Customer {i % 40}" for i in line[move]]
    df.loc[move, "city"], df.loc[move, "country"] = "Lisbon", "Portugal"
    relocated = df["customer_id"].isin([f"C{i:06d}" for i in range(1, 31)])
    df.loc[relocated, "city"], df.loc[relocated, "country"] = "Reykjavík", "Iceland"

    df.loc[df["payment_method"] == "bitcoin", "payment_method"] = "cash"
    df = df[(df["customer_id"] != "CX-ONLY-A") & ~((line >= 2500) & (line < 2800))]
    df.to_csv(path, index=False, lineterminator="\n")


def test_replacing_a_file_leaves_the_views_equal_to_the_new_set_of_files(
    settings: Settings, instance, landing: Path, tmp_path: Path
) -> None:
    snapshot = tmp_path / "products.json"
    write_inputs(landing, snapshot)
    warehouse_url = settings.database_url
    defs = build_definitions(settings.replace(fakestore_base_url=str(snapshot)))
    model = Model.from_snapshot(snapshot)
    load_all(defs, instance, landing, model)
    before = {view: model.expected(view) for view in OUTPUT_KEYS}

    rewrite_with_changes(landing / "a_2023.csv")
    # First loaded wins across a reload too: an id that c_2024.csv loaded (the old a_2023.csv row
    # was invalid) and whose new a_2023.csv row is valid stays c_2024.csv's.
    held_by_c = set(model.facts_by_file["c_2024.csv"]["transaction_id"])
    new_valid = set(valid_rows(landing / "a_2023.csv", "a_2023.csv", model.now)["transaction_id"])
    assert held_by_c & new_valid
    result = load_file(defs, instance, "a_2023.csv")
    assert result.success, step_failures(result)
    model.load("a_2023.csv", landing / "a_2023.csv")

    changed = [view for view in OUTPUT_KEYS if model.expected(view) != before[view]]
    assert changed == list(OUTPUT_KEYS), (
        f"the new content changes every output; unchanged: {set(OUTPUT_KEYS) - set(changed)}"
    )
    customers = {c["customer_id"]: c for c in model.vw_customer_lifetime_value()}
    assert "CX-ONLY-A" not in customers and "CN0001" in customers
    with psycopg.connect(warehouse_url, autocommit=True, options="-c TimeZone=UTC") as conn:
        for view in OUTPUT_KEYS:
            assert_view_matches(conn, view, model.expected(view))
