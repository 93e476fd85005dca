"""Sales files through the real sales_file_job into a real PostgreSQL: nothing lost, exactly once."""

import datetime as dt
import shutil

import pandas as pd
import pytest

from warehouse_assets.ingest import sales_csv
from warehouse_assets.sample_data import SalesSpec, generate_sales
from warehouse_assets_tests.helpers import load_sales_file, step_failures

HEADER = "transaction_id,transaction_date,customer_id,customer_name,city,country,product_id,quantity,unit_price,total_amount,payment_method"
TABLES = {
    "fact_sales": "SELECT transaction_id, date_key, customer_id, product_id, transaction_ts, quantity, unit_price, "
    "total_amount, payment_method, source_file, source_line FROM warehouse.fact_sales ORDER BY transaction_id",
    "rejected_sales": "SELECT source_file, line_number, transaction_id, reasons, raw_record FROM warehouse.rejected_sales "
    "ORDER BY source_file, line_number",
    "dim_customer": "SELECT customer_id, customer_name, city, country, first_purchase_date, last_purchase_date, "
    "total_orders, total_quantity, lifetime_value FROM warehouse.dim_customer ORDER BY customer_id",
    "dim_date": "SELECT * FROM warehouse.dim_date ORDER BY date_key",
    "dim_product": "SELECT product_id, product_name, is_inferred FROM warehouse.dim_product ORDER BY product_id",
    "raw_sales": "SELECT * FROM warehouse.raw_sales ORDER BY source_file, line_number",
    "sales_files": "SELECT source_file, fingerprint, rows_read, rows_valid, rows_rejected, rows_skipped, rows_loaded "
    "FROM warehouse.sales_files ORDER BY source_file",
    "agg_sales_daily": "SELECT * FROM warehouse.agg_sales_daily ORDER BY 1, 2, 3",
    "agg_customers_daily": "SELECT * FROM warehouse.agg_customers_daily ORDER BY 1",
}


def snapshot(db) -> dict[str, list[tuple]]:
    return {name: db.execute(query).fetchall() for name, query in TABLES.items()}


def count(db, query: str, *params) -> int:
    return db.execute(query, params).fetchone()[0]


def test_every_row_is_loaded_or_quarantined_with_its_reasons(db, defs, instance, landing):
    generated = generate_sales(
        landing / "mixed.csv",
        SalesSpec(rows=20_000, customers=800, bad_share=0.04, unknown_product_share=0.01, seed=11),
    )
    result = load_sales_file(defs, instance, "mixed.csv")
    assert result.success, step_failures(result)

    source = pd.read_csv(generated.path, dtype=str, keep_default_na=False)
    loaded = count(db, "SELECT count(*) FROM warehouse.fact_sales WHERE source_file = 'mixed.csv'")
    rejected = dict(
        db.execute(
            "SELECT line_number, reasons FROM warehouse.rejected_sales WHERE source_file = 'mixed.csv'"
        ).fetchall()
    )
    assert len(source) == loaded + len(rejected)
    assert {line: tuple(reasons) for line, reasons in rejected.items()} == generated.planted

    # The valid rows, computed from the file independently, are exactly the facts.
    bad_lines = set(generated.planted)
    source["line"] = range(2, len(source) + 2)
    good = source[~source["line"].isin(bad_lines)]
    rows = db.execute(
        "SELECT transaction_id, customer_id, product_id, quantity, unit_price::text, total_amount::text, "
        "to_char(transaction_ts AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'), source_line FROM warehouse.fact_sales"
    ).fetchall()
    facts = pd.DataFrame(
        rows,
        columns=[
            "transaction_id",
            "customer_id",
            "product_id",
            "quantity",
            "unit_price",
            "total_amount",
            "transaction_date",
            "line",
        ],
    ).sort_values("transaction_id")
    expected = good.sort_values("transaction_id")
    assert facts["transaction_id"].tolist() == expected["transaction_id"].tolist()
    assert facts["total_amount"].tolist() == expected["total_amount"].tolist()
    assert facts["transaction_date"].tolist() == expected["transaction_date"].tolist()
    assert facts["line"].tolist() == expected["line"].tolist()
    assert facts["product_id"].astype(str).tolist() == expected["product_id"].tolist()

    # Unknown products became inferred members, so no fact is an orphan.
    unknown = sorted({int(p) for p in good["product_id"]} - set(range(1, 21)))
    assert unknown, "the generator was asked for unknown products"
    inferred = db.execute(
        "SELECT product_id, product_name FROM warehouse.dim_product WHERE is_inferred ORDER BY product_id"
    ).fetchall()
    assert [p for p, _ in inferred] == sorted({int(p) for p in good["product_id"]})  # no API load yet
    assert f"Unknown product {unknown[0]}" in [name for _, name in inferred]

    # dim_customer: totals from the facts, attributes from the latest transaction.
    cents = good["total_amount"].str.replace(".", "", regex=False).astype(int)
    expected_customers = {cid: (len(rows), int(cents[rows.index].sum())) for cid, rows in good.groupby("customer_id")}
    dim = {
        cid: (orders, int(ltv * 100))
        for cid, orders, ltv in db.execute(
            "SELECT customer_id, total_orders, lifetime_value FROM warehouse.dim_customer"
        )
    }
    assert dim == expected_customers
    # The ledger reconciles.
    assert db.execute(
        "SELECT rows_read, rows_valid, rows_rejected, rows_loaded, rows_skipped FROM warehouse.sales_files"
    ).fetchone() == (len(source), len(good), len(bad_lines), len(good), 0)


def test_rematerializing_a_partition_changes_nothing(db, defs, instance, landing):
    generate_sales(landing / "a.csv", SalesSpec(rows=3_000, customers=200, bad_share=0.05, seed=1, id_prefix="A"))
    generate_sales(landing / "b.csv", SalesSpec(rows=2_000, customers=200, bad_share=0.05, seed=2, id_prefix="B"))
    assert load_sales_file(defs, instance, "a.csv").success
    assert load_sales_file(defs, instance, "b.csv").success
    before = snapshot(db)
    assert load_sales_file(defs, instance, "a.csv").success
    assert load_sales_file(defs, instance, "a.csv").success
    after = snapshot(db)
    for name in TABLES:
        if name == "raw_sales":
            continue
        assert after[name] == before[name], name
    assert len(after["raw_sales"]) == len(before["raw_sales"]) == 5_000


def test_a_changed_file_replaces_its_rows(db, defs, instance, landing):
    path = landing / "day.csv"
    path.write_text(
        HEADER + "\n"
        "T1,2024-05-01 10:00:00,C1,Ann,Paris,France,1,1,10.00,10.00,cash\n"
        "T2,2024-05-02 10:00:00,C2,Bob,Rome,Italy,2,2,5.00,10.00,paypal\n"
        "T3,2024-05-03 10:00:00,C2,Bob,Rome,Italy,2,1,5.00,5.00,paypal\n"
    )
    assert load_sales_file(defs, instance, "day.csv").success
    path.write_text(
        HEADER + "\n"
        "T1,2024-05-01 10:00:00,C1,Ann,Lyon,France,1,3,10.00,30.00,cash\n"
        "T4,2024-05-09 10:00:00,C3,Cy,Oslo,Norway,3,1,7.50,7.50,cash\n"
    )
    assert load_sales_file(defs, instance, "day.csv").success
    assert db.execute("SELECT transaction_id, total_amount::text FROM warehouse.fact_sales ORDER BY 1").fetchall() == [
        ("T1", "30.00"),
        ("T4", "7.50"),
    ]
    # C2 has no sales any more; C1 moved to Lyon; the daily aggregates forgot 2 and 3 May.
    assert db.execute(
        "SELECT customer_id, city, total_orders, lifetime_value::text FROM warehouse.dim_customer ORDER BY 1"
    ).fetchall() == [("C1", "Lyon", 1, "30.00"), ("C3", "Oslo", 1, "7.50")]
    assert db.execute(
        "SELECT date_key, sum(total_revenue)::text FROM warehouse.agg_sales_daily GROUP BY 1 ORDER BY 1"
    ).fetchall() == [
        (20240501, "30.00"),
        (20240509, "7.50"),
    ]
    assert db.execute("SELECT date_key, unique_customers FROM warehouse.agg_customers_daily ORDER BY 1").fetchall() == [
        (20240501, 1),
        (20240509, 1),
    ]


def test_cross_file_duplicate_is_quarantined_and_first_load_wins(db, defs, instance, landing):
    (landing / "first.csv").write_text(HEADER + "\nT1,2024-05-01,C1,Ann,Paris,France,1,1,10.00,10.00,cash\n")
    (landing / "second.csv").write_text(
        HEADER
        + "\nT1,2024-05-02,C9,Zed,Rome,Italy,2,1,99.00,99.00,cash\nT2,2024-05-02,C9,Zed,Rome,Italy,2,1,1.00,1.00,cash\n"
    )
    assert load_sales_file(defs, instance, "first.csv").success
    result = load_sales_file(defs, instance, "second.csv")
    assert result.success
    assert db.execute(
        "SELECT transaction_id, source_file, total_amount::text FROM warehouse.fact_sales ORDER BY 1"
    ).fetchall() == [
        ("T1", "first.csv", "10.00"),
        ("T2", "second.csv", "1.00"),
    ]
    line, reasons, raw = db.execute(
        "SELECT line_number, reasons, raw_record FROM warehouse.rejected_sales WHERE source_file = 'second.csv'"
    ).fetchone()
    assert (line, reasons) == (2, ["duplicate_transaction"])
    assert raw["first_loaded_from"] == "first.csv" and raw["customer_id"] == "C9"
    # C9's attributes come only from its loaded fact, not from the quarantined duplicate.
    assert db.execute(
        "SELECT total_orders, lifetime_value::text FROM warehouse.dim_customer WHERE customer_id = 'C9'"
    ).fetchone() == (1, "1.00")
    # Reloading the first file keeps it the winner; the second file's duplicate stays quarantined.
    assert load_sales_file(defs, instance, "first.csv").success
    assert (
        count(db, "SELECT count(*) FROM warehouse.rejected_sales WHERE reasons = ARRAY['duplicate_transaction']") == 1
    )


def test_later_dates_extend_dim_date_and_2027_is_in_the_future(db, defs, instance, landing):
    (landing / "old.csv").write_text(HEADER + "\nT1,2023-12-30,C1,Ann,Paris,France,1,1,10.00,10.00,cash\n")
    assert load_sales_file(defs, instance, "old.csv").success
    assert db.execute("SELECT min(full_date), max(full_date), count(*) FROM warehouse.dim_date").fetchone() == (
        dt.date(2023, 12, 30),
        dt.date(2023, 12, 30),
        1,
    )
    # dim_date is not a fixed 2023-2025 calendar: a later sale extends it, gap-free. (A 2027
    # transaction is later than today, so the contract quarantines it as future_date.)
    (landing / "new.csv").write_text(
        HEADER + "\nT2,2026-01-02 08:00:00,C1,Ann,Paris,France,1,1,10.00,10.00,cash\n"
        "T3,2027-03-01 08:00:00,C1,Ann,Paris,France,1,1,10.00,10.00,cash\n"
    )
    assert load_sales_file(defs, instance, "new.csv").success
    first, last, days = db.execute("SELECT min(full_date), max(full_date), count(*) FROM warehouse.dim_date").fetchone()
    assert (first, last) == (dt.date(2023, 12, 30), dt.date(2026, 1, 2))
    assert days == (last - first).days + 1
    row = db.execute(
        "SELECT year, quarter, month, month_name, day_of_week, day_name, week_of_year, is_weekend "
        "FROM warehouse.dim_date WHERE date_key = 20260102"
    ).fetchone()
    assert row == (2026, 1, 1, "January", 5, "Friday", 1, False)
    assert db.execute("SELECT reasons FROM warehouse.rejected_sales WHERE transaction_id = 'T3'").fetchone() == (
        ["future_date"],
    )


def test_bad_header_fails_naming_the_columns_and_loads_nothing(db, defs, instance, landing):
    (landing / "good.csv").write_text(HEADER + "\nT1,2024-05-01,C1,Ann,Paris,France,1,1,10.00,10.00,cash\n")
    assert load_sales_file(defs, instance, "good.csv").success
    before = snapshot(db)
    (landing / "bad.csv").write_text("id,date,amount\n1,2024-05-01,10\n")
    result = load_sales_file(defs, instance, "bad.csv")
    assert not result.success
    failure = step_failures(result)["raw_sales"]
    assert "bad.csv" in failure and "transaction_id" in failure and "unit_price" in failure
    assert snapshot(db) == before


def test_header_only_file_succeeds_with_zero_rows(db, defs, instance, landing):
    (landing / "empty.csv").write_text(HEADER + "\n")
    result = load_sales_file(defs, instance, "empty.csv")
    assert result.success, step_failures(result)
    assert db.execute("SELECT rows_read, rows_loaded FROM warehouse.sales_files").fetchone() == (0, 0)


def test_crash_part_way_leaves_the_partition_as_it_was(db, defs, instance, landing, monkeypatch):
    generate_sales(landing / "big.csv", SalesSpec(rows=5_000, customers=300, seed=5, id_prefix="OLD"))
    assert load_sales_file(defs, instance, "big.csv").success
    before = snapshot(db)

    # The file changes, and the load dies after two chunks have been copied.
    generate_sales(landing / "big.csv", SalesSpec(rows=5_000, customers=300, seed=6, id_prefix="NEW"))
    monkeypatch.setenv("WAREHOUSE_CSV_CHUNK_ROWS", "1000")
    original = sales_csv.SalesFileReader._process
    calls = {"n": 0}

    def dying(self, table, bad_lines):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("the machine lost power")
        yield from original(self, table, bad_lines)

    monkeypatch.setattr(sales_csv.SalesFileReader, "_process", dying)
    result = load_sales_file(defs, instance, "big.csv")
    assert not result.success and calls["n"] == 3
    assert "the machine lost power" in step_failures(result)["raw_sales"]
    assert snapshot(db) == before


def test_a_customer_takes_attributes_from_the_latest_transaction_across_files(db, defs, instance, landing):
    (landing / "jan.csv").write_text(HEADER + "\nT1,2024-01-10,C1,Ann Old,Paris,France,1,1,10.00,10.00,cash\n")
    (landing / "dec.csv").write_text(HEADER + "\nT2,2024-12-10,C1,Ann New,Berlin,Germany,1,2,10.00,20.00,cash\n")
    (landing / "jun.csv").write_text(HEADER + "\nT3,2024-06-10,C1,Ann Mid,Rome,Italy,1,1,10.00,10.00,cash\n")
    for key in ("jan.csv", "dec.csv", "jun.csv"):
        assert load_sales_file(defs, instance, key).success
    assert db.execute(
        "SELECT customer_name, city, country, first_purchase_date, last_purchase_date, total_orders, "
        "total_quantity, lifetime_value::text FROM warehouse.dim_customer"
    ).fetchone() == ("Ann New", "Berlin", "Germany", dt.date(2024, 1, 10), dt.date(2024, 12, 10), 3, 4, "40.00")


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig"])
def test_text_survives_exactly(db, defs, instance, landing, encoding):
    name = 'Zoë "Z" O\'Brien, Jr.'
    (landing / "text.csv").write_bytes(
        (
            HEADER + f'\nT1,2024-01-10,C1,"{name.replace(chr(34), chr(34) * 2)}",Kraków,Polska,1,1,10.00,10.00,cash\n'
        ).encode(encoding)
    )
    assert load_sales_file(defs, instance, "text.csv").success
    assert db.execute("SELECT customer_name, city FROM warehouse.dim_customer").fetchone() == (name, "Kraków")


def test_sales_for_files_in_subfolders_use_the_relative_path_as_key(db, defs, instance, landing):
    (landing / "shop_b").mkdir()
    shutil.copy(__file__, landing / "shop_b" / "not_data.txt")
    (landing / "shop_b" / "x.csv").write_text(HEADER + "\nT1,2024-01-10,C1,Ann,Paris,France,1,1,10.00,10.00,cash\n")
    assert load_sales_file(defs, instance, "shop_b/x.csv").success
    assert db.execute("SELECT source_file FROM warehouse.fact_sales").fetchone() == ("shop_b/x.csv",)
