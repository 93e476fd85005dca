"""A customer's cohort moves when an earlier sale arrives in a later file, or when their first sale
is withdrawn: agg_cohorts_monthly moves every month of that customer, not only the months the
file touched, and customer_cohorts_monthly stays what pandas computes from the files."""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal

import pandas as pd

from warehouse_assets.core.progress import LoadObserver
from warehouse_assets.db.connection import Database
from warehouse_assets.db.sales_load import rebuild_derived
from warehouse_assets.db.views import ensure_views
from warehouse_assets.defs import sales
from warehouse_assets_tests.support.data import line, write_sales


def expected_cohorts(landing) -> list[tuple]:
    """(cohort_month, months_since_first, customers, net_revenue) from the files, sales only."""
    frames = [pd.read_csv(p, dtype={"total_amount": str}) for p in sorted(landing.glob("*.csv"))]
    facts = pd.concat(frames)
    facts["month"] = [dt.date(int(d[:4]), int(d[5:7]), 1) for d in facts["transaction_date"]]
    facts["cents"] = [round(Decimal(a) * 100) for a in facts["total_amount"]]
    cohort = facts.groupby("customer_id")["month"].min().rename("cohort")
    months = facts.groupby(["customer_id", "month"])["cents"].sum().reset_index().join(cohort, on="customer_id")
    rows = []
    for (c, m), g in months.groupby(["cohort", "month"]):
        since = (m.year - c.year) * 12 + m.month - c.month
        rows.append((c, since, len(g), Decimal(int(g["cents"].sum())) / 100))
    return sorted(rows)


def cohorts(db) -> list[tuple]:
    return db.execute(
        "SELECT cohort_month, months_since_first, customers, net_revenue "
        "FROM analytics.customer_cohorts_monthly ORDER BY 1, 2"
    ).fetchall()


def load(warehouse_url, settings, landing, keys) -> None:
    loaded, failures = sales.load_files(
        Database(warehouse_url), settings, keys, "run", LoadObserver(), logging.getLogger("test_cohorts")
    )
    assert not failures and set(loaded) == set(keys)


def test_a_cohort_moves_with_the_customers_first_sale_both_ways(warehouse_url, settings, db, landing):
    with Database(warehouse_url).connection() as conn:
        ensure_views(conn)
    write_sales(
        landing / "a.csv",
        line("A1", "2024-03-10", "C1", "10.00"),
        line("A2", "2024-05-02", "C1", "20.00"),
        line("A3", "2024-03-15", "C2", "5.00"),
        line("A4", "2024-06-01", "C2", "4.00"),
    )
    write_sales(landing / "b.csv", line("B1", "2024-01-20", "C1", "7.00"), line("B2", "2024-05-05", "C3", "3.00"))
    load(warehouse_url, settings, landing, ["a.csv", "b.csv"])
    assert cohorts(db) == expected_cohorts(landing)
    assert (dt.date(2024, 1, 1), 4, 1, Decimal("20.00")) in cohorts(db)  # C1's May, now in January's cohort

    # b withdraws C1's January sale: C1 is back in March's cohort, May included.
    write_sales(landing / "b.csv", line("B2", "2024-05-05", "C3", "3.00"))
    load(warehouse_url, settings, landing, ["b.csv"])
    assert cohorts(db) == expected_cohorts(landing)

    # a withdraws C1's March sale: C1's first sale is May's now.
    write_sales(
        landing / "a.csv",
        line("A2", "2024-05-02", "C1", "20.00"),
        line("A3", "2024-03-15", "C2", "5.00"),
        line("A4", "2024-06-01", "C2", "4.00"),
    )
    load(warehouse_url, settings, landing, ["a.csv"])
    assert cohorts(db) == expected_cohorts(landing)
    assert (dt.date(2024, 5, 1), 0, 2, Decimal("23.00")) in cohorts(db)

    # What the loads maintained is what a rebuild from the facts computes.
    maintained = db.execute("SELECT * FROM warehouse.agg_cohorts_monthly ORDER BY 1, 2").fetchall()
    rebuild_derived(Database(warehouse_url))
    assert db.execute("SELECT * FROM warehouse.agg_cohorts_monthly ORDER BY 1, 2").fetchall() == maintained
