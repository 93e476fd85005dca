"""The warehouse as its rules describe it, computed independently with pandas, Decimal and integer
cents from the input files: the oracle the view and analytics tests compare PostgreSQL with.

The model applies the written rules (the contract in the README and the header comment of each
SQL file) itself; nothing in it comes from the code under test.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import pandas as pd

from warehouse_assets_tests.support import cohort_oracle
from warehouse_assets_tests.support.oracle_rows import DAY_NAMES, cents, growth, money, ratio, valid_rows

__all__ = ["OUTPUT_KEYS", "Model", "assert_view_matches", "cents", "valid_rows"]


@dataclass
class Model:
    """The warehouse as the rules describe it, fed the same loads in the same order."""

    products: pd.DataFrame  # product_id, product_name, category
    now: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    facts_by_file: dict[str, pd.DataFrame] = field(default_factory=dict)
    # Valid rows quarantined as duplicates of another file's fact, per file, and the order in
    # which files were last loaded: the earliest copy is promoted when the fact is withdrawn.
    duplicates_by_file: dict[str, pd.DataFrame] = field(default_factory=dict)
    load_order: list[str] = field(default_factory=list)
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
        """A (re)load of a file: its previous rows are forgotten, a valid row whose id another
        file holds is a duplicate (first loaded wins), and an id the file held and holds no more
        goes to the earliest quarantined copy of it in another file (promoted)."""
        old = self.facts_by_file.pop(key, pd.DataFrame(columns=["transaction_id"]))
        self.duplicates_by_file.pop(key, None)
        rows = valid_rows(path, key, self.now)
        taken = set().union(*(set(f["transaction_id"]) for f in self.facts_by_file.values()))
        duplicate = rows["transaction_id"].isin(taken) if len(rows) else pd.Series([], dtype=bool)
        self.facts_by_file[key] = rows[~duplicate].reset_index(drop=True)
        self.duplicates_by_file[key] = rows[duplicate].reset_index(drop=True)
        withdrawn = set(old["transaction_id"]) - set(rows["transaction_id"])
        order = [k for k in self.load_order if k != key]
        for tid in sorted(withdrawn):
            for other in order:
                copies = self.duplicates_by_file.get(other)
                if copies is None or not (copies["transaction_id"] == tid).any():
                    continue
                pick = copies[copies["transaction_id"] == tid].sort_values("line").head(1)
                self.facts_by_file[other] = pd.concat([self.facts_by_file[other], pick], ignore_index=True)
                self.duplicates_by_file[other] = copies.drop(pick.index).reset_index(drop=True)
                break
        self.load_order = [*order, key]
        known = set(self.products["product_id"])
        self.inferred |= set(self.facts_by_file[key]["product_id"]) - known

    @property
    def facts(self) -> pd.DataFrame:
        """Every fact, sales and returns, with `opens_order`: the first sale line (by line) of
        each order (order_id and customer) of each file, the line an order counts on."""
        facts = pd.concat(self.facts_by_file.values(), ignore_index=True)
        first = facts[facts["is_sale"]].sort_values("line").drop_duplicates(["source_file", "customer_id", "order_id"])
        return facts.assign(opens_order=facts.index.isin(first.index))

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

    @staticmethod
    def measures(facts: pd.DataFrame, by) -> pd.DataFrame:
        """Per group: sales lines, quantity sold, unit prices of sales, gross, returns, net, orders."""
        sale = facts["is_sale"]
        frame = facts.assign(
            sale_n=sale.astype(int),
            sale_qty=facts["quantity"].where(sale, 0),
            sale_unit=facts["unit_cents"].where(sale, 0),
            gross=facts["total_cents"].where(sale, 0),
            ret_n=(~sale).astype(int),
            ret_qty=facts["quantity"].where(~sale, 0),
            returned=facts["total_cents"].where(~sale, 0),
            orders=facts["opens_order"].astype(int),
            sale_date=facts["date"].where(sale, None),
            discount=facts["discount_cents"].where(sale, 0),
        )
        return frame.groupby(by).agg(
            n=("sale_n", "sum"),
            qty=("sale_qty", "sum"),
            unit=("sale_unit", "sum"),
            gross=("gross", "sum"),
            returns=("ret_n", "sum"),
            returned_qty=("ret_qty", "sum"),
            returned=("returned", "sum"),
            net=("net_cents", "sum"),
            orders=("orders", "sum"),
            first=("sale_date", lambda d: min(d.dropna(), default=None)),
            last=("sale_date", lambda d: max(d.dropna(), default=None)),
            customers=("customer_id", "nunique"),
            discounts=("discount", "sum"),
        )

    def vw_product_sales_summary(self) -> list[dict]:
        sales = self.measures(self.facts, "product_id")
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
                    "total_revenue": money(0 if s is None else int(s.net)),
                    "avg_unit_price": None if s is None else ratio(int(s.unit), int(s.n) * 100, 2),
                    "first_sale_date": None if s is None else s["first"],
                    "last_sale_date": None if s is None else s["last"],
                    "gross_revenue": money(0 if s is None else int(s.gross)),
                    "return_count": 0 if s is None else int(s.returns),
                    "return_quantity": 0 if s is None else int(s.returned_qty),
                    "returns_amount": money(0 if s is None else int(s.returned)),
                    "discounts_amount": money(0 if s is None else int(s.discounts)),
                }
            )
        return out

    def vw_daily_sales_summary(self) -> list[dict]:
        days = self.measures(self.facts, "date")
        return [
            {
                "full_date": day,
                "date_key": day.year * 10000 + day.month * 100 + day.day,
                "year": day.year,
                "month": day.month,
                "day_name": DAY_NAMES[day.weekday()],
                "transaction_count": int(d.n),
                "total_quantity": int(d.qty),
                "total_revenue": money(int(d.net)),
                "unique_customers": int(d.customers),
                "avg_order_value": ratio(int(d.net), int(d.orders) * 100, 2),
                "order_count": int(d.orders),
                "gross_revenue": money(int(d.gross)),
                "return_count": int(d.returns),
                "returns_amount": money(int(d.returned)),
                "discounts_amount": money(int(d.discounts)),
            }
            for day, d in days.iterrows()
        ]

    def vw_customer_lifetime_value(self) -> list[dict]:
        facts = self.facts
        latest = (
            facts.sort_values(["ts", "source_file", "line"]).groupby("customer_id").tail(1).set_index("customer_id")
        )
        totals = self.measures(facts, "customer_id")
        return [
            {
                "customer_id": cid,
                "customer_name": latest.at[cid, "customer_name"],
                "city": latest.at[cid, "city"],
                "country": latest.at[cid, "country"],
                "total_orders": int(t.orders),
                "total_quantity": int(t.qty),
                "lifetime_value": money(int(t.net)),
                "avg_order_value": ratio(int(t.net), int(t.orders) * 100, 2),
                "first_purchase_date": t["first"],
                "last_purchase_date": t["last"],
                "customer_tenure_days": None if t["first"] is None else (t["last"] - t["first"]).days,
                "gross_sales": money(int(t.gross)),
                "returns_amount": money(int(t.returned)),
                "return_count": int(t.returns),
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
        customers = [c for c in self.vw_customer_lifetime_value() if c["total_orders"] > 0]
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
        months = self.measures(facts, "month")
        revenue = {m: int(v) for m, v in months["net"].items()}
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
                    "total_revenue": money(int(row.net)),
                    "previous_month_revenue": money(revenue[prev]) if prev in revenue else None,
                    "mom_growth": growth(int(row.net), revenue.get(prev)),
                    "same_month_last_year_revenue": money(revenue[last_year]) if last_year in revenue else None,
                    "yoy_growth": growth(int(row.net), revenue.get(last_year)),
                    "order_count": int(row.orders),
                    "gross_revenue": money(int(row.gross)),
                    "returns_amount": money(int(row.returned)),
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
        groups = self.measures(facts, "payment_method")
        n_all, net_all = int(facts["is_sale"].sum()), int(facts["net_cents"].sum())
        return [
            {
                "payment_method": method,
                "transaction_count": int(g.n),
                "total_revenue": money(int(g.net)),
                "share_of_transactions": ratio(int(g.n), n_all, 4),
                "share_of_revenue": ratio(int(g.net), net_all, 4),
                "avg_order_value": ratio(int(g.net), int(g.orders) * 100, 2),
                "order_count": int(g.orders),
                "gross_revenue": money(int(g.gross)),
                "returns_amount": money(int(g.returned)),
            }
            for method, g in groups.iterrows()
        ]

    def executive_summary(self) -> list[dict]:
        facts = self.facts
        period_end = max(facts["date"])
        days_back = [(period_end - d).days for d in facts["date"]]
        current = int(facts["net_cents"][[0 <= b < 30 for b in days_back]].sum())
        previous = int(facts["net_cents"][[30 <= b < 60 for b in days_back]].sum())
        products = [p for p in self.vw_product_sales_summary() if p["transaction_count"] > 0]
        best_product = min(products, key=lambda p: (-p["total_revenue"], p["product_id"]))
        best_city = min(self.revenue_by_location(), key=lambda c: (-c["total_revenue"], c["country"], c["city"]))
        revenue, orders = int(facts["net_cents"].sum()), int(facts["opens_order"].sum())
        gross = int(facts["total_cents"][facts["is_sale"]].sum())
        returned = int(facts["total_cents"][~facts["is_sale"]].sum())
        customer_orders = [c["total_orders"] for c in self.vw_customer_lifetime_value()]
        buying = sum(1 for n in customer_orders if n > 0)
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
                "gross_revenue": money(gross),
                "returns_amount": money(returned),
                "return_rate": ratio(returned, gross, 4),
                "repeat_customer_share": ratio(sum(1 for n in customer_orders if n > 1), buying, 4),
                "discounts_amount": money(int(facts["discount_cents"][facts["is_sale"]].sum())),
            }
        ]

    def customer_cohorts_monthly(self) -> list[dict]:
        return cohort_oracle.customer_cohorts_monthly(self.facts)

    def new_vs_repeat_monthly(self) -> list[dict]:
        return cohort_oracle.new_vs_repeat_monthly(self.facts)

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
    "customer_cohorts_monthly": ("cohort_month", "months_since_first"),
    "new_vs_repeat_monthly": ("month",),
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
