"""Sales files through the real sales_files_job into a real PostgreSQL: nothing lost, exactly once."""

import datetime as dt
import shutil

import pandas as pd
import pytest

from warehouse_assets.cli.sample_data import SalesSpec, generate_sales
from warehouse_assets_tests.support.data import snapshot, write_sales
from warehouse_assets_tests.support.jobs import failed_files, load_file, metadata, step_failures


def count(db, query: str, *params) -> int:
    return db.execute(query, params).fetchone()[0]


def test_every_row_is_loaded_or_quarantined_with_its_reasons(db, defs, instance, landing):
    generated = generate_sales(
        landing / "mixed.csv",
        SalesSpec(rows=20_000, customers=800, bad_share=0.04, unknown_product_share=0.01, seed=11),
    )
    result = load_file(defs, instance, "mixed.csv")
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

    # dim_customer: totals from the facts.
    cents = good["total_amount"].str.replace(".", "", regex=False).astype(int)
    expected_customers = {cid: (len(rows), int(cents[rows.index].sum())) for cid, rows in good.groupby("customer_id")}
    dim = {
        cid: (orders, int(ltv * 100))
        for cid, orders, ltv in db.execute(
            "SELECT customer_id, total_orders, lifetime_value FROM warehouse.dim_customer"
        )
    }
    assert dim == expected_customers
    # The ledger reconciles, line by line.
    assert db.execute(
        "SELECT lines_read, records_read, rows_loaded, rows_rejected, rows_duplicate, noise_lines, amount_loaded * 100 "
        "FROM warehouse.sales_files"
    ).fetchone() == (len(source), len(source), len(good), len(bad_lines), 0, 0, int(cents.sum()))
    # The asset pages: the file's numbers on its partition, the table's beside the run's.
    fact_page = metadata(instance, "fact_sales", "mixed.csv")
    assert fact_page["rows_loaded"] == len(good) and fact_page["table_rows"] == len(good)
    planted_bad_dates = sum(1 for r in generated.planted.values() if "bad_date" in r)
    assert fact_page["quarantined_by_reason"]["bad_date"] == planted_bad_dates
    assert fact_page["table_quarantined_by_reason"]["bad_date"] == planted_bad_dates
    assert metadata(instance, "raw_sales", "mixed.csv")["lines_read"] == len(source)


def test_rematerializing_a_partition_changes_nothing(db, defs, instance, landing):
    generate_sales(landing / "a.csv", SalesSpec(rows=3_000, customers=200, bad_share=0.05, seed=1, id_prefix="A"))
    generate_sales(landing / "b.csv", SalesSpec(rows=2_000, customers=200, bad_share=0.05, seed=2, id_prefix="B"))
    assert load_file(defs, instance, "a.csv").success
    assert load_file(defs, instance, "b.csv").success
    before = snapshot(db)
    assert load_file(defs, instance, "a.csv").success
    assert load_file(defs, instance, "a.csv").success
    after = snapshot(db)
    for name, rows in before.items():
        assert after[name] == rows, name


def test_a_changed_file_replaces_its_rows(db, defs, instance, landing):
    path = write_sales(
        landing / "day.csv",
        "T1,2024-05-01 10:00:00,C1,Ann,Paris,France,1,1,10.00,10.00,cash",
        "T2,2024-05-02 10:00:00,C2,Bob,Rome,Italy,2,2,5.00,10.00,paypal",
        "T3,2024-05-03 10:00:00,C2,Bob,Rome,Italy,2,1,5.00,5.00,paypal",
    )
    assert load_file(defs, instance, "day.csv").success
    write_sales(
        path,
        "T1,2024-05-01 10:00:00,C1,Ann,Lyon,France,1,3,10.00,30.00,cash",
        "T4,2024-05-09 10:00:00,C3,Cy,Oslo,Norway,3,1,7.50,7.50,cash",
    )
    assert load_file(defs, instance, "day.csv").success
    assert db.execute("SELECT transaction_id, total_amount::text FROM warehouse.fact_sales ORDER BY 1").fetchall() == [
        ("T1", "30.00"),
        ("T4", "7.50"),
    ]
    # C2 has no sales any more; C1 moved to Lyon; the daily summaries forgot 2 and 3 May.
    assert db.execute(
        "SELECT customer_id, city, total_orders, lifetime_value::text FROM warehouse.dim_customer ORDER BY 1"
    ).fetchall() == [("C1", "Lyon", 1, "30.00"), ("C3", "Oslo", 1, "7.50")]
    assert db.execute(
        "SELECT date_key, sum(total_revenue)::text FROM warehouse.agg_sales_daily GROUP BY 1 ORDER BY 1"
    ).fetchall() == [(20240501, "30.00"), (20240509, "7.50")]
    assert db.execute("SELECT date_key, unique_customers FROM warehouse.agg_customers_daily ORDER BY 1").fetchall() == [
        (20240501, 1),
        (20240509, 1),
    ]


def test_cross_file_duplicate_is_quarantined_and_first_load_wins(db, defs, instance, landing):
    write_sales(landing / "first.csv", "T1,2024-05-01,C1,Ann,Paris,France,1,1,10.00,10.00,cash")
    write_sales(
        landing / "second.csv",
        "T1,2024-05-02,C9,Zed,Rome,Italy,2,1,99.00,99.00,cash",
        "T2,2024-05-02,C9,Zed,Rome,Italy,2,1,1.00,1.00,cash",
    )
    assert load_file(defs, instance, "first.csv").success
    assert load_file(defs, instance, "second.csv").success
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
    # C9's totals come only from its loaded fact, not from the quarantined duplicate.
    assert db.execute(
        "SELECT total_orders, lifetime_value::text FROM warehouse.dim_customer WHERE customer_id = 'C9'"
    ).fetchone() == (
        1,
        "1.00",
    )
    # Reloading the first file keeps it the winner; the second file's duplicate stays quarantined.
    assert load_file(defs, instance, "first.csv").success
    assert (
        count(db, "SELECT count(*) FROM warehouse.rejected_sales WHERE reasons = ARRAY['duplicate_transaction']") == 1
    )


def test_a_withdrawn_transaction_is_promoted_from_its_quarantined_copy(db, defs, instance, landing):
    """a.csv has X-1, X-2; b.csv has X-2, X-3 (X-2 quarantined there as a duplicate); a.csv is
    rewritten without X-2: b's copy of X-2 becomes the fact, in the same transaction."""
    a = write_sales(
        landing / "a.csv",
        "X-1,2024-05-01 10:00:00,C1,Ann,Paris,France,1,1,10.00,10.00,cash",
        "X-2,2024-05-02 10:00:00,C1,Ann,Paris,France,2,1,20.00,20.00,cash",
    )
    write_sales(
        landing / "b.csv",
        "X-2,2024-05-03 11:00:00,C2,Bob,Rome,Italy,2,1,22.00,22.00,paypal",
        "X-3,2024-05-03 12:00:00,C2,Bob,Rome,Italy,3,1,30.00,30.00,paypal",
    )
    assert load_file(defs, instance, "a.csv").success
    assert load_file(defs, instance, "b.csv").success
    write_sales(a, "X-1,2024-05-01 10:00:00,C1,Ann,Paris,France,1,1,10.00,10.00,cash")
    assert load_file(defs, instance, "a.csv").success

    assert db.execute(
        "SELECT transaction_id, source_file, source_line, total_amount::text FROM warehouse.fact_sales ORDER BY 1"
    ).fetchall() == [
        ("X-1", "a.csv", 2, "10.00"),
        ("X-2", "b.csv", 2, "22.00"),
        ("X-3", "b.csv", 3, "30.00"),
    ]
    assert count(db, "SELECT count(*) FROM warehouse.rejected_sales") == 0
    # Everything derived follows the promoted fact: its customer, its day, the ledger of b.csv.
    assert db.execute(
        "SELECT customer_id, total_orders, lifetime_value::text FROM warehouse.dim_customer ORDER BY 1"
    ).fetchall() == [
        ("C1", 1, "10.00"),
        ("C2", 2, "52.00"),
    ]
    assert db.execute(
        "SELECT date_key, sum(total_revenue)::text FROM warehouse.agg_sales_daily GROUP BY 1 ORDER BY 1"
    ).fetchall() == [
        (20240501, "10.00"),
        (20240503, "52.00"),
    ]
    assert db.execute(
        "SELECT source_file, rows_loaded, rows_duplicate, amount_loaded::text FROM warehouse.sales_files ORDER BY 1"
    ).fetchall() == [
        ("a.csv", 1, 0, "10.00"),
        ("b.csv", 2, 0, "52.00"),
    ]


def test_later_dates_extend_dim_date_and_2027_is_in_the_future(db, defs, instance, landing):
    write_sales(landing / "old.csv", "T1,2023-12-30,C1,Ann,Paris,France,1,1,10.00,10.00,cash")
    assert load_file(defs, instance, "old.csv").success
    assert db.execute("SELECT min(full_date), max(full_date), count(*) FROM warehouse.dim_date").fetchone() == (
        dt.date(2023, 12, 30),
        dt.date(2023, 12, 30),
        1,
    )
    # dim_date is not a fixed calendar: a later sale extends it, gap-free. (A 2027 transaction is
    # later than today, so the contract quarantines it as future_date.)
    write_sales(
        landing / "new.csv",
        "T2,2026-01-02 08:00:00,C1,Ann,Paris,France,1,1,10.00,10.00,cash",
        "T3,2027-03-01 08:00:00,C1,Ann,Paris,France,1,1,10.00,10.00,cash",
    )
    assert load_file(defs, instance, "new.csv").success
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
    write_sales(landing / "good.csv", "T1,2024-05-01,C1,Ann,Paris,France,1,1,10.00,10.00,cash")
    assert load_file(defs, instance, "good.csv").success
    before = snapshot(db)
    (landing / "bad.csv").write_text("id,date,amount\n1,2024-05-01,10\n")
    result = load_file(defs, instance, "bad.csv")
    assert not result.success
    failure = failed_files(result)["bad.csv"]
    assert failure.startswith("bad.csv: line 1: header lacks required column(s)")
    assert "transaction_id" in failure and "unit_price" in failure
    after = snapshot(db)
    # Only the failure is recorded, beside the file (which was never loaded).
    assert {k: v for k, v in after.items() if k != "sales_files"} == {
        k: v for k, v in before.items() if k != "sales_files"
    }
    assert db.execute(
        "SELECT loaded_at, failure IS NOT NULL FROM warehouse.sales_files WHERE source_file = 'bad.csv'"
    ).fetchone() == (
        None,
        True,
    )


def test_header_only_file_succeeds_with_zero_rows(db, defs, instance, landing):
    write_sales(landing / "empty.csv")
    result = load_file(defs, instance, "empty.csv")
    assert result.success, step_failures(result)
    assert db.execute("SELECT lines_read, rows_loaded FROM warehouse.sales_files").fetchone() == (0, 0)


def test_a_customer_takes_attributes_from_the_latest_transaction_across_files(db, defs, instance, landing):
    write_sales(landing / "jan.csv", "T1,2024-01-10,C1,Ann Old,Paris,France,1,1,10.00,10.00,cash")
    write_sales(landing / "dec.csv", "T2,2024-12-10,C1,Ann New,Berlin,Germany,1,2,10.00,20.00,cash")
    write_sales(landing / "jun.csv", "T3,2024-06-10,C1,Ann Mid,Rome,Italy,1,1,10.00,10.00,cash")
    for key in ("jan.csv", "dec.csv", "jun.csv"):
        assert load_file(defs, instance, key).success
    assert db.execute(
        "SELECT customer_name, city, country, first_purchase_date, last_purchase_date, total_orders, "
        "total_quantity, lifetime_value::text FROM warehouse.dim_customer"
    ).fetchone() == ("Ann New", "Berlin", "Germany", dt.date(2024, 1, 10), dt.date(2024, 12, 10), 3, 4, "40.00")
    # Replacing the file the latest attributes came from takes them back.
    write_sales(landing / "dec.csv")
    assert load_file(defs, instance, "dec.csv").success
    assert db.execute(
        "SELECT customer_name, city, last_purchase_date, total_orders FROM warehouse.dim_customer"
    ).fetchone() == (
        "Ann Mid",
        "Rome",
        dt.date(2024, 6, 10),
        2,
    )


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig"])
def test_text_survives_exactly(db, defs, instance, landing, encoding):
    name = 'Zoë "Z" O\'Brien, Jr.'
    quoted = name.replace(chr(34), chr(34) * 2)
    (landing / "text.csv").write_bytes(
        (
            "transaction_id,transaction_date,customer_id,customer_name,city,country,product_id,quantity,unit_price,total_amount,payment_method"
            f'\nT1,2024-01-10,C1,"{quoted}",Kraków,Polska,1,1,10.00,10.00,cash\n'
        ).encode(encoding)
    )
    assert load_file(defs, instance, "text.csv").success
    assert db.execute("SELECT customer_name, city FROM warehouse.dim_customer").fetchone() == (name, "Kraków")


def test_sales_for_files_in_subfolders_use_the_relative_path_as_key(db, defs, instance, landing):
    (landing / "shop_b").mkdir()
    shutil.copy(__file__, landing / "shop_b" / "not_data.txt")
    write_sales(landing / "shop_b" / "x.csv", "T1,2024-01-10,C1,Ann,Paris,France,1,1,10.00,10.00,cash")
    assert load_file(defs, instance, "shop_b/x.csv").success
    assert db.execute("SELECT source_file FROM warehouse.fact_sales").fetchone() == ("shop_b/x.csv",)
