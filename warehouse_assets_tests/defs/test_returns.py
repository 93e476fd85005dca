"""Orders over several lines, returns and customers over many months, end to end through the jobs.

Generated files in the standard header plus the optional order_id, transaction_type,
original_transaction_id and discount_amount columns: orders of one to four lines, returns of part of an order (in the
same file or a later one, some larger than the sale, some naming a sale nobody loaded), customers
buying again months later, and the return rows that are really bad. Every output is recomputed
by the oracle with pandas from the files and compared with PostgreSQL to the cent; replacing a
file with its returns withdrawn changes every output accordingly.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg

from warehouse_assets.core.settings import Settings
from warehouse_assets.db.connection import Database
from warehouse_assets.db.sales_load import rebuild_derived
from warehouse_assets.defs.build import build_definitions
from warehouse_assets_tests.support.jobs import load_file, load_files, refresh_products, run_checks, step_failures
from warehouse_assets_tests.support.oracle import OUTPUT_KEYS, Model, assert_view_matches
from warehouse_assets_tests.support.paths import HEADER

COLUMNS = HEADER.split(",") + ["order_id", "transaction_type", "original_transaction_id", "discount_amount"]
FILES = ("orders_2023.csv", "orders_2024.csv")
PAYMENTS = ("cash", "paypal", "credit_card", "debit_card", "bank_transfer")


def money(c: int) -> str:
    return f"{c // 100}.{c % 100:02d}"


def generate(path: Path, seed: int, start: dt.date, months: int, prefix: str, earlier: pd.DataFrame | None) -> None:
    """Orders of 1-4 lines for 80 customers over `months` months; about one line in eight is
    returned later (in this file, or, for `earlier` lines, in this later file)."""
    rng = np.random.default_rng(seed)
    rows = []
    for o in range(600):
        customer = int(rng.integers(1, 81))
        day = start + dt.timedelta(days=int(rng.integers(0, months * 30)))
        ts = dt.datetime(day.year, day.month, day.day, int(rng.integers(0, 24)), int(rng.integers(0, 60)))
        payment = PAYMENTS[int(rng.integers(0, len(PAYMENTS)))]
        for n in range(int(rng.integers(1, 5))):
            quantity, unit = int(rng.integers(1, 6)), int(rng.integers(100, 9000))
            discount = int(rng.integers(1, 500)) if rng.random() < 0.25 else 0
            rows.append(
                {
                    "transaction_id": f"{prefix}-{o:04d}-{n}",
                    "transaction_date": ts.isoformat(sep=" "),
                    "customer_id": f"C{customer:03d}",
                    "customer_name": f"Customer {customer}",
                    "city": ("Paris", "Lyon", "Oslo", "Porto")[customer % 4],
                    "country": ("France", "France", "Norway", "Portugal")[customer % 4],
                    "product_id": str(int(rng.integers(1, 21))),
                    "quantity": str(quantity),
                    "unit_price": money(unit),
                    "total_amount": money(quantity * unit),
                    "payment_method": payment,
                    "order_id": f"{prefix}-ORDER-{o:04d}" if n or rng.random() < 0.8 else "",
                    "transaction_type": ("sale", "Sale", "")[n % 3],
                    "original_transaction_id": "",
                    "discount_amount": money(discount) if discount else "",
                }
            )
    sales = pd.DataFrame(rows)
    returned = sales.sample(frac=0.12, random_state=seed)
    if earlier is not None:
        returned = pd.concat([returned, earlier.sample(n=40, random_state=seed)])
    returns = []
    for i, r in enumerate(returned.itertuples()):
        back = max(1, int(r.quantity) - i % 2)  # part of the line, or all of it
        if i % 17 == 0:
            back = int(r.quantity) + 2  # more than was sold: still a return (flagged by nobody)
        unit = int(round(float(r.unit_price) * 100))
        ts = dt.datetime.fromisoformat(r.transaction_date) + dt.timedelta(days=3 + i % 40)
        returns.append(
            {
                **r._asdict(),
                "transaction_id": f"{prefix}-R{i:04d}",
                "transaction_date": ts.isoformat(sep=" "),
                "quantity": str(back),
                "total_amount": money(back * unit),
                "order_id": "",
                "transaction_type": "return" if i % 5 else " RETURN ",
                "original_transaction_id": r.transaction_id if i % 9 else f"{prefix}-NEVER-SOLD-{i}",
                "discount_amount": "",
            }
        )
    frame = pd.concat([sales, pd.DataFrame(returns).drop(columns="Index")], ignore_index=True)
    frame = frame[COLUMNS]
    bad = pd.DataFrame(
        [
            # A return of nothing, a type the contract does not know, a sale naming an original.
            {**frame.iloc[0].to_dict(), "transaction_id": f"{prefix}-BAD-1", "quantity": "0", "total_amount": "0.00"}
            | {"transaction_type": "return"},
            {**frame.iloc[1].to_dict(), "transaction_id": f"{prefix}-BAD-2", "transaction_type": "refund"},
            {**frame.iloc[2].to_dict(), "transaction_id": f"{prefix}-BAD-3", "original_transaction_id": "X-1"},
            {**frame.iloc[3].to_dict(), "transaction_id": f"{prefix}-BAD-4", "discount_amount": "-1.00"},
        ]
    )
    frame = pd.concat([frame, bad], ignore_index=True)
    frame.to_csv(path, index=False, lineterminator="\n")


def write_inputs(landing: Path) -> None:
    generate(landing / FILES[0], 1, dt.date(2023, 1, 1), 12, "A", None)
    earlier = pd.read_csv(landing / FILES[0], dtype=str, keep_default_na=False)
    earlier = earlier[earlier["transaction_type"].str.strip().str.lower().isin(["sale", ""])].head(1500)
    generate(landing / FILES[1], 2, dt.date(2023, 10, 1), 14, "B", earlier)


def load(defs, instance, landing: Path, model: Model, keys) -> None:
    (result,) = load_files(defs, instance, list(keys))
    assert result.success, step_failures(result)
    for key in keys:
        model.load(key, landing / key)


# What the rebuild recomputes from the facts (dim_customer's attributes and times of change aside).
DERIVED = {
    "dim_customer": "SELECT customer_id, first_purchase_date, last_purchase_date, total_orders, total_quantity, "
    "lifetime_value, gross_sales, returns_amount, return_count FROM warehouse.dim_customer ORDER BY 1",
    "customer_file_stats": "SELECT customer_id, source_file, first_ts, last_ts, transaction_count, total_quantity, "
    "total_amount, first_sale_ts, last_sale_ts, order_count, return_count, return_amount "
    "FROM warehouse.customer_file_stats ORDER BY 1, 2",
    "agg_sales_daily": "SELECT * FROM warehouse.agg_sales_daily ORDER BY 1, 2, 3",
    "agg_customers_daily": "SELECT * FROM warehouse.agg_customers_daily ORDER BY 1",
    "agg_customers_monthly": "SELECT * FROM warehouse.agg_customers_monthly ORDER BY 1, 2",
    "agg_cohorts_monthly": "SELECT * FROM warehouse.agg_cohorts_monthly ORDER BY 1, 2",
}


def derived(url: str) -> dict[str, list[tuple]]:
    with psycopg.connect(url, autocommit=True, options="-c TimeZone=UTC") as conn:
        return {name: conn.execute(query).fetchall() for name, query in DERIVED.items()}


def assert_all_outputs(url: str, model: Model) -> None:
    with psycopg.connect(url, autocommit=True, options="-c TimeZone=UTC") as conn:
        for view in OUTPUT_KEYS:
            assert_view_matches(conn, view, model.expected(view))


def test_orders_and_returns_match_pandas_and_replacing_a_file_takes_its_returns_out(
    settings: Settings, instance, landing: Path, products_snapshot: Path
) -> None:
    write_inputs(landing)
    defs = build_definitions(settings)
    assert refresh_products(defs, instance).success
    model = Model.from_snapshot(products_snapshot)
    load(defs, instance, landing, model, FILES)

    facts = model.facts
    returns = facts[~facts["is_sale"]]
    assert len(returns) > 150 and returns["source_file"].eq(FILES[1]).sum() > 40
    orders = facts[facts["is_sale"]].groupby(["source_file", "order_id"]).size()
    assert (orders > 1).sum() > 300, "orders over several lines"
    months = facts.assign(m=[(d.year, d.month) for d in facts["date"]]).groupby("customer_id")["m"].nunique()
    assert (months > 6).sum() > 40, "customers buying over many months"
    assert_all_outputs(settings.database_url, model)

    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        reasons = dict(
            conn.execute(
                "SELECT transaction_id, reasons FROM warehouse.rejected_sales WHERE transaction_id LIKE '%BAD%'"
            )
        )
        kinds = dict(conn.execute("SELECT transaction_type, count(*) FROM warehouse.fact_sales GROUP BY 1"))
    for prefix in ("A", "B"):
        assert reasons[f"{prefix}-BAD-1"] == ["non_positive_quantity"]
        assert reasons[f"{prefix}-BAD-2"] == ["bad_transaction_type"]
        assert reasons[f"{prefix}-BAD-3"] == ["original_on_sale"]
        assert reasons[f"{prefix}-BAD-4"] == ["negative_amount"]
    assert kinds == {"sale": int(facts["is_sale"].sum()), "return": len(returns)}
    checks = run_checks(defs, instance)
    warning = checks.pop("returns_match_sales")
    assert all(e.passed for e in checks.values()), {k: e.metadata for k, e in checks.items() if not e.passed}
    # Returns naming a sale nobody loaded, or more units than it had: loaded, and warned about.
    sold = facts[facts["is_sale"]].set_index("transaction_id")["quantity"]
    named = pd.read_csv(landing / FILES[0], dtype=str, keep_default_na=False)
    named = pd.concat([named, pd.read_csv(landing / FILES[1], dtype=str, keep_default_na=False)])
    named = named.set_index("transaction_id")["original_transaction_id"]
    originals = named.reindex(returns["transaction_id"])
    unknown = ~originals.isin(sold.index)
    larger = returns["quantity"].to_numpy() > sold.reindex(originals).fillna(float("inf")).to_numpy()
    assert not warning.passed and warning.severity.value == "WARN"
    assert (warning.metadata["original_unknown"].value, warning.metadata["more_than_sold"].value) == (
        int(unknown.sum()),
        int(larger.sum()),
    )
    assert unknown.sum() > 10 and larger.sum() > 5
    # The repair path recomputes from the facts exactly what the loads maintained file by file.
    maintained = derived(settings.database_url)
    rebuild_derived(Database(settings.database_url))
    assert derived(settings.database_url) == maintained

    # The later file again, without its returns: they leave every output.
    before = {view: model.expected(view) for view in OUTPUT_KEYS}
    frame = pd.read_csv(landing / FILES[1], dtype=str, keep_default_na=False)
    frame[frame["transaction_type"].str.strip().str.lower() != "return"].to_csv(
        landing / FILES[1], index=False, lineterminator="\n"
    )
    result = load_file(defs, instance, FILES[1])
    assert result.success, step_failures(result)
    model.load(FILES[1], landing / FILES[1])
    assert not (~model.facts["is_sale"] & model.facts["source_file"].eq(FILES[1])).any()
    unchanged = [view for view in OUTPUT_KEYS if model.expected(view) == before[view]]
    assert unchanged == [], f"withdrawing returns changes every output; unchanged: {unchanged}"
    assert_all_outputs(settings.database_url, model)
    checks = run_checks(defs, instance)
    # Every generated return names a sale: those left are the earlier file's.
    left = int((~model.facts["is_sale"]).sum())
    assert checks.pop("returns_match_sales").metadata["returns_checked"].value == left > 0
    assert all(e.passed for e in checks.values()), {k: e.metadata for k, e in checks.items() if not e.passed}
