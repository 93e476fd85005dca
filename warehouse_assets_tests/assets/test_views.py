"""The views and the analytics layer end to end through the real jobs, against an independent model.

A generated data set (a products snapshot and three sales files spanning 21 months, with bad rows,
unknown products, hand-written edge cases and cross-file duplicate transaction ids) is loaded with
`products_job` and `sales_file_job`. The test then recomputes every view and analytics output
with pandas, `Decimal` and integer cents directly from the input files, applying the written rules
(the contract in the brief and the header comment of each SQL file) itself, and compares all
columns of all rows with what PostgreSQL returns. Nothing expected comes from the code under test.

Also covered: the asset graph (each view asset depends on exactly the relations PostgreSQL says
its view reads), the asset descriptions and materialization metadata (row count, preview, chart),
the HTML report (library and `warehouse report` CLI), and the incremental path: replacing a file
with changed content leaves the views equal to the model of the new set of files.

The loaded warehouse is shared by the read-only tests of this module (one load, one database);
the incremental test loads a database of its own.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, localcontext
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import psycopg
import pytest

from warehouse_assets.definitions import build_definitions
from warehouse_assets.resources.postgres import replace_database
from warehouse_assets.sample_data import SalesSpec, generate_sales, write_products
from warehouse_assets_tests.conftest import create_database, drop_database
from warehouse_assets_tests.helpers import load_sales_file, refresh_products, step_failures

PROJECT_DIR = Path(__file__).resolve().parents[2]
SQL_DIR = PROJECT_DIR / "sql"
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


# ====================================================================== the independent model

CENT = Decimal("0.01")
EARLIEST = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
PAYMENT_METHODS = {"credit_card", "debit_card", "paypal", "bank_transfer", "cash"}
REQUIRED = (
    "transaction_id",
    "transaction_date",
    "customer_id",
    "product_id",
    "quantity",
    "unit_price",
    "total_amount",
    "payment_method",
)
INTEGER = re.compile(r"^[+-]?\d+$")
DECIMAL = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)$")
DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def cents(text: str) -> int:
    """An amount rounded to the cent, half away from zero, in whole cents."""
    return int(Decimal(text).quantize(CENT, rounding=ROUND_HALF_UP) * 100)


def money(value_cents: int) -> Decimal:
    return Decimal(value_cents).scaleb(-2)


def ratio(numerator, denominator, places: int) -> Decimal | None:
    """round(numerator / denominator, places) as PostgreSQL rounds numeric; None for / 0."""
    if denominator == 0:
        return None
    with localcontext() as ctx:
        ctx.prec = 50
        return (Decimal(numerator) / Decimal(denominator)).quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP)


def growth(current, previous, places: int = 4) -> Decimal | None:
    if previous is None or previous == 0:
        return None
    with localcontext() as ctx:
        ctx.prec = 50
        return (Decimal(current) / Decimal(previous) - 1).quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP)


def parse_row(raw: dict[str, str], now: dt.datetime) -> dict | None:
    """The row's typed values if it passes every field rule (duplicates aside), else None."""
    row = {k: (v or "").strip() for k, v in raw.items()}
    if any(row[c] == "" for c in REQUIRED):
        return None
    try:
        ts = dt.datetime.fromisoformat(row["transaction_date"])
    except ValueError:
        return None
    ts = ts.replace(tzinfo=dt.UTC) if ts.tzinfo is None else ts.astimezone(dt.UTC)
    if ts > now or ts < EARLIEST:
        return None
    if not (
        INTEGER.match(row["product_id"])
        and INTEGER.match(row["quantity"])
        and DECIMAL.match(row["unit_price"])
        and DECIMAL.match(row["total_amount"])
    ):
        return None
    quantity, unit, total = (
        int(row["quantity"]),
        cents(row["unit_price"]),
        cents(row["total_amount"]),
    )
    if quantity <= 0 or unit < 0 or total < 0 or abs(total - quantity * unit) > 1:
        return None
    payment = re.sub(r"[\s\-]+", "_", row["payment_method"].lower())
    if payment not in PAYMENT_METHODS:
        return None
    return {
        "transaction_id": row["transaction_id"],
        "ts": ts,
        "date": ts.date(),
        "customer_id": row["customer_id"],
        "customer_name": row["customer_name"] or None,
        "city": row["city"] or None,
        "country": row["country"] or None,
        "product_id": int(row["product_id"]),
        "quantity": quantity,
        "unit_cents": unit,
        "total_cents": total,
        "payment_method": payment,
    }


def valid_rows(path: Path, key: str, now: dt.datetime) -> pd.DataFrame:
    """The rows of a file that pass every rule within the file (repeated ids included)."""
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    rows, seen = [], set()
    for line, record in enumerate(raw.to_dict("records"), start=2):
        tid = record["transaction_id"].strip()
        repeated = tid != "" and tid in seen
        seen.add(tid)
        parsed = parse_row(record, now)
        if parsed is not None and not repeated:
            rows.append({**parsed, "source_file": key, "line": line})
    return pd.DataFrame(rows)


@dataclass
class Model:
    """The warehouse as the rules describe it, fed the same loads in the same order."""

    products: pd.DataFrame  # product_id, product_name, category
    now: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    facts_by_file: dict[str, pd.DataFrame] = field(default_factory=dict)
    inferred: set[int] = field(default_factory=set)

    @classmethod
    def from_snapshot(cls, snapshot: Path) -> Model:
        items = json.loads(snapshot.read_text(encoding="utf-8"))
        products = pd.DataFrame(
            [
                {
                    "product_id": p["id"],
                    "product_name": p["title"].strip(),
                    "category": p["category"].strip(),
                }
                for p in items
            ]
        )
        return cls(products=products)

    def load(self, key: str, path: Path) -> None:
        """A (re)load of a file: its previous rows are forgotten, and a valid row whose id is
        already loaded from another file is a duplicate (first loaded wins)."""
        self.facts_by_file.pop(key, None)
        rows = valid_rows(path, key, self.now)
        taken = set().union(*(set(f["transaction_id"]) for f in self.facts_by_file.values()))
        rows = rows[~rows["transaction_id"].isin(taken)].reset_index(drop=True)
        self.facts_by_file[key] = rows
        known = set(self.products["product_id"])
        self.inferred |= set(rows["product_id"]) - known

    @property
    def facts(self) -> pd.DataFrame:
        return pd.concat(self.facts_by_file.values(), ignore_index=True)

    def dim_product(self) -> pd.DataFrame:
        inferred = pd.DataFrame(
            [
                {"product_id": int(i), "product_name": f"Unknown product {i}", "category": None}
                for i in sorted(self.inferred)
            ],
            columns=["product_id", "product_name", "category"],
        )
        return pd.concat([self.products, inferred], ignore_index=True)

    # ------------------------------------------------------------------ the views

    def vw_product_sales_summary(self) -> list[dict]:
        sales = self.facts.groupby("product_id").agg(
            n=("transaction_id", "size"),
            qty=("quantity", "sum"),
            revenue=("total_cents", "sum"),
            unit=("unit_cents", "sum"),
            first=("date", "min"),
            last=("date", "max"),
        )
        out = []
        for p in self.dim_product().itertuples():
            s = sales.loc[p.product_id] if p.product_id in sales.index else None
            out.append(
                {
                    "product_id": int(p.product_id),
                    "product_name": p.product_name,
                    "category": p.category,
                    "transaction_count": 0 if s is None else int(s.n),
                    "total_quantity": 0 if s is None else int(s.qty),
                    "total_revenue": money(0 if s is None else int(s.revenue)),
                    "avg_unit_price": None if s is None else ratio(int(s.unit), int(s.n) * 100, 2),
                    "first_sale_date": None if s is None else s["first"],
                    "last_sale_date": None if s is None else s["last"],
                }
            )
        return out

    def vw_daily_sales_summary(self) -> list[dict]:
        days = self.facts.groupby("date").agg(
            n=("transaction_id", "size"),
            qty=("quantity", "sum"),
            revenue=("total_cents", "sum"),
            customers=("customer_id", "nunique"),
        )
        return [
            {
                "full_date": day,
                "date_key": day.year * 10000 + day.month * 100 + day.day,
                "year": day.year,
                "month": day.month,
                "day_name": DAY_NAMES[day.weekday()],
                "transaction_count": int(d.n),
                "total_quantity": int(d.qty),
                "total_revenue": money(int(d.revenue)),
                "unique_customers": int(d.customers),
                "avg_order_value": ratio(int(d.revenue), int(d.n) * 100, 2),
            }
            for day, d in days.iterrows()
        ]

    def vw_customer_lifetime_value(self) -> list[dict]:
        facts = self.facts
        latest = (
            facts.sort_values(["ts", "source_file", "line"]).groupby("customer_id").tail(1).set_index("customer_id")
        )
        totals = facts.groupby("customer_id").agg(
            n=("transaction_id", "size"),
            qty=("quantity", "sum"),
            revenue=("total_cents", "sum"),
            first=("date", "min"),
            last=("date", "max"),
        )
        return [
            {
                "customer_id": cid,
                "customer_name": latest.at[cid, "customer_name"],
                "city": latest.at[cid, "city"],
                "country": latest.at[cid, "country"],
                "total_orders": int(t.n),
                "total_quantity": int(t.qty),
                "lifetime_value": money(int(t.revenue)),
                "avg_order_value": ratio(int(t.revenue), int(t.n) * 100, 2),
                "first_purchase_date": t["first"],
                "last_purchase_date": t["last"],
                "customer_tenure_days": (t["last"] - t["first"]).days,
            }
            for cid, t in totals.iterrows()
        ]

    # ------------------------------------------------------------------ the analytics

    def product_performance(self) -> list[dict]:
        rows = self.vw_product_sales_summary()
        by_revenue = sorted(rows, key=lambda r: (-r["total_revenue"], r["product_id"]))
        overall = {r["product_id"]: i for i, r in enumerate(by_revenue, start=1)}
        in_category, category_total = {}, {}
        for r in by_revenue:
            cat = r["category"]
            in_category[r["product_id"]] = sum(
                1 for x in by_revenue[: overall[r["product_id"]]] if x["category"] == cat
            )
            category_total[cat] = category_total.get(cat, Decimal(0)) + r["total_revenue"]
        return [
            {
                "product_id": r["product_id"],
                "product_name": r["product_name"],
                "category": r["category"],
                "transaction_count": r["transaction_count"],
                "total_quantity": r["total_quantity"],
                "total_revenue": r["total_revenue"],
                "avg_unit_price": r["avg_unit_price"],
                "rank_in_category": in_category[r["product_id"]],
                "overall_rank": overall[r["product_id"]],
                "share_of_category_revenue": ratio(r["total_revenue"], category_total[r["category"]], 4),
            }
            for r in rows
        ]

    def customer_rfm_segments(self) -> list[dict]:
        customers = self.vw_customer_lifetime_value()
        last_day = max(c["last_purchase_date"] for c in customers)
        base = [
            {
                "customer_id": c["customer_id"],
                "customer_name": c["customer_name"],
                "city": c["city"],
                "country": c["country"],
                "recency_days": (last_day - c["last_purchase_date"]).days,
                "frequency": c["total_orders"],
                "monetary": c["lifetime_value"],
            }
            for c in customers
        ]
        # Quintiles, 1 = lowest: the least recent (most days), the fewest orders, the least money.
        r = ntile5(base, lambda b: (-b["recency_days"], b["customer_id"]))
        f = ntile5(base, lambda b: (b["frequency"], b["customer_id"]))
        m = ntile5(base, lambda b: (b["monetary"], b["customer_id"]))
        out = []
        for b in base:
            cid = b["customer_id"]
            out.append(
                {
                    **b,
                    "r_score": r[cid],
                    "f_score": f[cid],
                    "m_score": m[cid],
                    "segment": segment(r[cid], f[cid], m[cid]),
                }
            )
        return out

    def sales_trends_monthly(self) -> list[dict]:
        facts = self.facts.assign(month=lambda f: [dt.date(d.year, d.month, 1) for d in f["date"]])
        months = facts.groupby("month").agg(
            n=("transaction_id", "size"), qty=("quantity", "sum"), revenue=("total_cents", "sum")
        )
        revenue = {m: int(v) for m, v in months["revenue"].items()}
        out = []
        for month, row in months.iterrows():
            prev = dt.date(month.year - (month.month == 1), 12 if month.month == 1 else month.month - 1, 1)
            last_year = dt.date(month.year - 1, month.month, 1)
            out.append(
                {
                    "month_start": month,
                    "year": month.year,
                    "month": month.month,
                    "transaction_count": int(row.n),
                    "total_quantity": int(row.qty),
                    "total_revenue": money(int(row.revenue)),
                    "previous_month_revenue": money(revenue[prev]) if prev in revenue else None,
                    "mom_growth": growth(int(row.revenue), revenue.get(prev)),
                    "same_month_last_year_revenue": money(revenue[last_year]) if last_year in revenue else None,
                    "yoy_growth": growth(int(row.revenue), revenue.get(last_year)),
                }
            )
        return out

    def revenue_by_location(self) -> list[dict]:
        customers = pd.DataFrame(self.vw_customer_lifetime_value())
        customers["country"] = customers["country"].fillna("Unknown")
        customers["city"] = customers["city"].fillna("Unknown")
        customers["cents"] = [int(v * 100) for v in customers["lifetime_value"]]
        total = int(customers["cents"].sum())
        groups = customers.groupby(["country", "city"]).agg(
            customers=("customer_id", "size"),
            orders=("total_orders", "sum"),
            revenue=("cents", "sum"),
        )
        return [
            {
                "country": country,
                "city": city,
                "customers": int(g.customers),
                "total_orders": int(g.orders),
                "total_revenue": money(int(g.revenue)),
                "share_of_revenue": ratio(int(g.revenue), total, 4),
            }
            for (country, city), g in groups.iterrows()
        ]

    def payment_method_mix(self) -> list[dict]:
        facts = self.facts
        groups = facts.groupby("payment_method").agg(n=("transaction_id", "size"), revenue=("total_cents", "sum"))
        n_all, revenue_all = len(facts), int(facts["total_cents"].sum())
        return [
            {
                "payment_method": method,
                "transaction_count": int(g.n),
                "total_revenue": money(int(g.revenue)),
                "share_of_transactions": ratio(int(g.n), n_all, 4),
                "share_of_revenue": ratio(int(g.revenue), revenue_all, 4),
                "avg_order_value": ratio(int(g.revenue), int(g.n) * 100, 2),
            }
            for method, g in groups.iterrows()
        ]

    def executive_summary(self) -> list[dict]:
        facts = self.facts
        period_end = max(facts["date"])
        days_back = [(period_end - d).days for d in facts["date"]]
        current = int(facts["total_cents"][[0 <= b < 30 for b in days_back]].sum())
        previous = int(facts["total_cents"][[30 <= b < 60 for b in days_back]].sum())
        products = [p for p in self.vw_product_sales_summary() if p["transaction_count"] > 0]
        best_product = min(products, key=lambda p: (-p["total_revenue"], p["product_id"]))
        best_city = min(self.revenue_by_location(), key=lambda c: (-c["total_revenue"], c["country"], c["city"]))
        revenue, orders = int(facts["total_cents"].sum()), len(facts)
        return [
            {
                "total_revenue": money(revenue),
                "total_orders": orders,
                "total_customers": int(facts["customer_id"].nunique()),
                "avg_order_value": ratio(revenue, orders * 100, 2),
                "best_product": best_product["product_name"],
                "best_product_revenue": best_product["total_revenue"],
                "best_city": best_city["city"],
                "best_city_country": best_city["country"],
                "best_city_revenue": best_city["total_revenue"],
                "period_end": period_end,
                "last_30_days_revenue": money(current),
                "previous_30_days_revenue": money(previous),
                "growth_vs_previous_period": growth(current, previous),
            }
        ]

    def expected(self, view: str) -> list[dict]:
        return getattr(self, view)()


def ntile5(rows: list[dict], order) -> dict[str, int]:
    """NTILE(5) over rows ordered by `order`: the first n % 5 buckets hold one row more."""
    ordered = sorted(rows, key=order)
    size, extra = divmod(len(ordered), 5)
    tiles, i = {}, 0
    for bucket in range(1, 6):
        for _ in range(size + (1 if bucket <= extra else 0)):
            tiles[ordered[i]["customer_id"]] = bucket
            i += 1
    return tiles


def segment(r: int, f: int, m: int) -> str:
    if r >= 4 and f >= 4 and m >= 4:
        return "Champions"
    if r >= 3 and f >= 4:
        return "Loyal"
    if r >= 4 and f <= 2:
        return "New"
    if r <= 2 and f >= 3:
        return "At risk"
    if r <= 2 and f <= 2:
        return "Hibernating"
    return "Needs attention"


# Each output and the columns that identify its rows.
OUTPUT_KEYS = {
    "vw_product_sales_summary": ("product_id",),
    "vw_daily_sales_summary": ("full_date",),
    "vw_customer_lifetime_value": ("customer_id",),
    "product_performance": ("product_id",),
    "customer_rfm_segments": ("customer_id",),
    "sales_trends_monthly": ("month_start",),
    "revenue_by_location": ("country", "city"),
    "payment_method_mix": ("payment_method",),
    "executive_summary": (),
}


def assert_view_matches(conn, view: str, expected: list[dict]) -> None:
    """Every row and every column of analytics.<view> equals the model; money is Decimal."""
    cur = conn.execute(f"SELECT * FROM analytics.{view}")
    columns = [d.name for d in cur.description]
    actual_rows = [dict(zip(columns, row)) for row in cur.fetchall()]
    assert expected, f"{view}: the model has no rows; the data set is not doing its job"
    assert set(columns) == set(expected[0]), f"{view}: columns {columns} vs model {sorted(expected[0])}"
    key_columns = OUTPUT_KEYS[view]

    def keyed(rows):
        out = {tuple(r[c] for c in key_columns): r for r in rows}
        assert len(out) == len(rows), f"{view}: key {key_columns} is not unique"
        return out

    actual, wanted = keyed(actual_rows), keyed(expected)
    assert set(actual) == set(wanted), (
        f"{view}: rows only in PostgreSQL {sorted(set(actual) - set(wanted), key=repr)[:5]}, "
        f"only in the model {sorted(set(wanted) - set(actual), key=repr)[:5]}"
    )
    mismatches = []
    for k, want in wanted.items():
        got = actual[k]
        for column, value in want.items():
            same = got[column] == value
            if isinstance(value, Decimal):
                same = same and isinstance(got[column], Decimal)
            if isinstance(value, int) and not isinstance(value, bool):
                same = same and isinstance(got[column], int)
            if value is None:
                same = got[column] is None
            if not same:
                mismatches.append(f"{k} {column}: PostgreSQL {got[column]!r}, model {value!r}")
    assert not mismatches, f"{view}: {len(mismatches)} differences, e.g.\n" + "\n".join(mismatches[:15])


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
    for key in SPECS:
        result = load_sales_file(defs, instance, key)
        assert result.success, step_failures(result)
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
    with pytest.MonkeyPatch.context() as mp, dg.instance_for_test() as instance:
        mp.setenv("WAREHOUSE_DATABASE_URL", url)
        mp.setenv("WAREHOUSE_LANDING_DIR", str(landing))
        mp.setenv("WAREHOUSE_LAYOUTS_DIR", str(root / "layouts"))
        mp.setenv("FAKESTORE_BASE_URL", str(snapshot))
        defs = build_definitions(url)
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
    graph = build_definitions(loaded.url).resolve_asset_graph()
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
        lines.append(line[3:] if line.startswith("-- ") else line[2:])
    return "\n".join(lines).strip()


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_from_data_uri(text: str) -> bytes:
    found = re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)", text)
    assert len(found) == 1, "expected exactly one embedded PNG"
    return base64.b64decode(found[0], validate=True)


def assert_reasonable_png(png: bytes) -> None:
    assert png[:8] == PNG_SIGNATURE and png[12:16] == b"IHDR" and png[-8:-4] == b"IEND"
    width, height = struct.unpack(">II", png[16:24])
    assert 400 <= width <= 4000 and 300 <= height <= 4000, (width, height)
    assert 10_000 < len(png) < 2_000_000, len(png)


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
        preview = metadata["preview"]
        assert isinstance(preview, dg.MarkdownMetadataValue), name
        lines = preview.md_str.splitlines()
        columns = [d.name for d in conn.execute(f"SELECT * FROM analytics.{name} LIMIT 0").description]
        assert [c.strip() for c in lines[0].strip("|").split("|")] == columns, name
        assert len(lines) == 2 + min(count, 10), name

    chart = loaded.instance.get_latest_materialization_event(dg.AssetKey("executive_summary"))
    chart = chart.asset_materialization.metadata["chart"]
    assert isinstance(chart, dg.MarkdownMetadataValue)
    assert_reasonable_png(png_from_data_uri(chart.md_str))


# ====================================================================== 4. the report


def expected_figures(model: Model) -> dict[str, str]:
    """The report's figures as a reader sees them, from the model."""
    s = model.executive_summary()[0]
    return {
        "Revenue": f"{s['total_revenue']:,.2f}",
        "Orders": f"{s['total_orders']:,}",
        "Customers": f"{s['total_customers']:,}",
        "Average order value": f"{s['avg_order_value']:,.2f}",
        "Best product": s["best_product"],
        "Best city": f"{s['best_city']}, {s['best_city_country']}",
        "Revenue, last 30 days": f"{s['last_30_days_revenue']:,.2f}",
        "Revenue, previous 30 days": f"{s['previous_30_days_revenue']:,.2f}",
        "Growth vs previous 30 days": f"{float(s['growth_vs_previous_period']) * 100:+.1f} %",
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
    assert_reasonable_png(png_from_data_uri(page))


def test_reporting_writes_html_with_the_figures_and_an_embedded_chart(loaded: Loaded, conn, tmp_path) -> None:
    from warehouse_assets import reporting

    summary = reporting.load_summary(conn)
    daily = {d["full_date"]: d["total_revenue"] for d in loaded.model.vw_daily_sales_summary()}
    assert summary.daily == sorted(daily.items())
    sold = [p for p in loaded.model.vw_product_sales_summary() if p["transaction_count"] > 0]
    top = sorted(sold, key=lambda p: (-p["total_revenue"], p["product_id"]))[:10]
    assert summary.top_products == [(p["product_name"], p["total_revenue"]) for p in top]

    out = tmp_path / "report.html"
    png = reporting.render_chart(summary)
    out.write_text(reporting.html_report(summary, png, dt.datetime.now(dt.UTC)), encoding="utf-8")
    assert_report(out, loaded.model)


def test_report_command_writes_the_page_and_prints_the_figures(loaded: Loaded, tmp_path, monkeypatch, capsys) -> None:
    cli = pytest.importorskip("warehouse_assets.cli")
    from warehouse_assets.resources.postgres import dagster_storage_url

    # The command exports these for Dagster; monkeypatch puts them back afterwards.
    monkeypatch.setenv("WAREHOUSE_DATABASE_URL", loaded.url)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    monkeypatch.setenv("DAGSTER_PG_URL", dagster_storage_url(loaded.url))
    out = tmp_path / "r.html"
    assert cli.main(["report", "--out", str(out)]) == 0
    assert_report(out, loaded.model)
    printed = capsys.readouterr().out
    for label, text in expected_figures(loaded.model).items():
        assert re.search(rf"^\s*{re.escape(label)}\s+{re.escape(text)}\s*$", printed, re.MULTILINE), (label, printed)


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
    warehouse_url: str, instance, landing: Path, tmp_path: Path, monkeypatch
) -> None:
    snapshot = tmp_path / "products.json"
    write_inputs(landing, snapshot)
    monkeypatch.setenv("FAKESTORE_BASE_URL", str(snapshot))
    defs = build_definitions(warehouse_url)
    model = Model.from_snapshot(snapshot)
    load_all(defs, instance, landing, model)
    before = {view: model.expected(view) for view in OUTPUT_KEYS}

    rewrite_with_changes(landing / "a_2023.csv")
    # First loaded wins across a reload too: an id that c_2024.csv loaded (the old a_2023.csv row
    # was invalid) and whose new a_2023.csv row is valid stays c_2024.csv's.
    held_by_c = set(model.facts_by_file["c_2024.csv"]["transaction_id"])
    new_valid = set(valid_rows(landing / "a_2023.csv", "a_2023.csv", model.now)["transaction_id"])
    assert held_by_c & new_valid
    result = load_sales_file(defs, instance, "a_2023.csv")
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
