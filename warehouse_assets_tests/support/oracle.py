"""The warehouse as its rules describe it, computed independently with pandas, Decimal and integer
cents from the input files: the oracle the view and analytics tests compare PostgreSQL with.

The model applies the written rules (the contract in the README and the header comment of each
SQL file) itself; nothing in it comes from the code under test.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, localcontext
from pathlib import Path

import pandas as pd

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
    """The rows of a file that pass every rule within the file: a repeat of the id of an earlier
    row that passes is a duplicate (a repeat of a rejected row's id is not)."""
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    rows, seen = [], set()
    for line, record in enumerate(raw.to_dict("records"), start=2):
        tid = record["transaction_id"].strip()
        parsed = parse_row(record, now)
        if parsed is not None and tid not in seen:
            seen.add(tid)
            rows.append({**parsed, "source_file": key, "line": line})
    return pd.DataFrame(rows)


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
