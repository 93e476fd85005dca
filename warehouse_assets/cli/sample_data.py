"""Realistic sample data: sales CSV files with a chosen share of bad rows, and a products snapshot.

Demos, tests and the benchmark all use this generator, so they exercise the same shapes. Rows are
generated with numpy in chunks, so ten million rows take seconds and little memory. Each bad row
is broken on purpose in one known way (or two, for the combined kind), and `generate_sales`
returns the reasons it planted per line: ground truth that does not come from the validator.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from warehouse_assets.core.contract.sales import STANDARD_HEADER

# Product names by the FakeStore category they belong to, so a sample catalogue reads true.
_PRODUCTS_BY_CATEGORY: dict[str, tuple[str, ...]] = {
    "electronics": ("Hard Drive", "Monitor", "SSD", "Gaming Drive", "Laptop Sleeve"),
    "jewelery": ("Bracelet", "Ring", "Earrings", "Pendant", "Necklace"),
    "men's clothing": ("Backpack", "Slim Fit Tee", "Cotton Jacket", "Casual Shirt", "Windbreaker"),
    "women's clothing": ("Rain Jacket", "Snowboard Coat", "Moto Biker Jacket", "Short Sleeve Top", "Tank Top"),
}
CATEGORIES = tuple(_PRODUCTS_BY_CATEGORY)
_FIRST = (
    "Ana",
    "Ben",
    "Chloé",
    "Dmitri",
    "Emeka",
    "Fatima",
    "Giulia",
    "Hiro",
    "Ingrid",
    "José",
    "Kwame",
    "Lena",
    "Mateo",
    "Nadia",
    "Olu",
    "Priya",
    "Quentin",
    "Rosa",
    "Sven",
    "Tariq",
)
_LAST = (
    "Smith",
    "García",
    "Müller",
    "O'Brien",
    "Kowalski",
    "Nguyen",
    "Okafor",
    "Rossi",
    "Tanaka",
    "Dubois",
    "Silva",
    "Ivanova",
    "Hansen",
    "Khan",
    "Novak",
)
_PLACES = (
    ("New York", "USA"),
    ("Los Angeles", "USA"),
    ("Chicago", "USA"),
    ("Toronto", "Canada"),
    ("London", "UK"),
    ("Manchester", "UK"),
    ("Paris", "France"),
    ("Lyon", "France"),
    ("Berlin", "Germany"),
    ("München", "Germany"),
    ("Madrid", "Spain"),
    ("São Paulo", "Brazil"),
    ("Lagos", "Nigeria"),
    ("Tokyo", "Japan"),
    ("Sydney", "Australia"),
    ("Kraków", "Poland"),
)
# How payment methods are spelled in real exports; all normalise to the five contract values.
_PAYMENT_SPELLINGS = (
    "credit_card",
    "Credit Card",
    "debit_card",
    "Debit-Card",
    "paypal",
    "PayPal",
    "bank_transfer",
    "Bank Transfer",
    "cash",
    "CASH",
)

# Each kind of bad row, and the reason codes it must produce.
BAD_KINDS: dict[str, tuple[str, ...]] = {
    "missing_customer": ("missing_field",),
    "bad_date": ("bad_date",),
    "future_date": ("future_date",),
    "too_old": ("too_old",),
    "bad_number": ("bad_number",),
    "zero_quantity": ("non_positive_quantity",),
    "negative_price": ("negative_amount",),
    "wrong_total": ("amount_mismatch",),
    "bad_payment": ("bad_payment_method",),
    "duplicate_id": ("duplicate_transaction",),
    "bad_date_and_payment": ("bad_date", "bad_payment_method"),
}

HEADER = STANDARD_HEADER


def product_prices(products: int, seed: int = 7) -> np.ndarray:
    """Price in cents of product 1..N (index 0 is product 1)."""
    rng = np.random.default_rng(seed)
    return (rng.lognormal(mean=3.4, sigma=1.0, size=products) * 100).round().clip(99, 99_999).astype(np.int64)


def sample_products(products: int = 20, seed: int = 7) -> list[dict]:
    """A products payload shaped like FakeStore's `GET /products`, for offline use."""
    rng = np.random.default_rng(seed + 1)
    prices = product_prices(products, seed)
    out = []
    for i in range(products):
        category = CATEGORIES[i % len(CATEGORIES)]
        names = _PRODUCTS_BY_CATEGORY[category]
        word = names[(i // len(CATEGORIES)) % len(names)]
        out.append(
            {
                "id": i + 1,
                "title": f"Sample {word} {i + 1}",
                "price": int(prices[i]) / 100 if prices[i] % 100 else int(prices[i] // 100),
                "description": f"A sample {word.lower()} for trying the warehouse offline.",
                "category": category,
                "image": f"https://example.com/img/product-{i + 1}.png",
                "rating": {"rate": round(float(rng.uniform(1, 5)), 1), "count": int(rng.integers(0, 700))},
            }
        )
    return out


@dataclass
class SalesSpec:
    rows: int = 1_000
    customers: int = 200
    products: int = 20
    start: dt.date = dt.date(2024, 1, 1)
    end: dt.date = dt.date(2024, 12, 31)
    bad_share: float = 0.02
    unknown_product_share: float = 0.0  # product ids beyond `products`: inferred members
    seed: int = 42
    customer_seed: int = 1000
    id_prefix: str = "TXN"
    chunk_rows: int = 500_000


@dataclass
class GeneratedSales:
    path: Path
    rows: int
    planted: dict[int, tuple[str, ...]] = field(default_factory=dict)  # line -> reasons


def _chunks(spec: SalesSpec) -> Iterator[tuple[int, int]]:
    for start in range(0, spec.rows, spec.chunk_rows):
        yield start, min(spec.chunk_rows, spec.rows - start)


def _money(cents: np.ndarray) -> np.ndarray:
    sign = np.where(cents < 0, "-", "")
    a = np.abs(cents)
    return np.char.add(
        np.char.add(np.char.add(sign, (a // 100).astype(str)), "."), np.char.zfill((a % 100).astype(str), 2)
    )


def generate_sales(path: Path, spec: SalesSpec, *, track_planted: bool = True) -> GeneratedSales:
    """Write a sales CSV following the contract; returns where the bad rows are and why."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(spec.seed)
    prices = product_prices(spec.products)
    # Customers come from their own seed, so customer C000042 is the same person in every file.
    people = np.random.default_rng(spec.customer_seed)
    first = people.integers(0, len(_FIRST), spec.customers)
    last = people.integers(0, len(_LAST), spec.customers)
    place = people.integers(0, len(_PLACES), spec.customers)
    cust_names = np.array([f"{_FIRST[a]} {_LAST[b]}" for a, b in zip(first, last)], dtype=object)
    cust_city = np.array([_PLACES[p][0] for p in place], dtype=object)
    cust_country = np.array([_PLACES[p][1] for p in place], dtype=object)
    span_seconds = int((spec.end - spec.start).days + 1) * 86_400
    start_ts = np.datetime64(spec.start.isoformat(), "s")
    kinds = list(BAD_KINDS)
    planted: dict[int, tuple[str, ...]] = {}
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write(",".join(HEADER) + "\n")
        for offset, n in _chunks(spec):
            idx = np.arange(offset, offset + n)
            tid = np.char.add(f"{spec.id_prefix}-", np.char.zfill(idx.astype(str), 9)).astype(object)
            cust = rng.integers(0, spec.customers, n)
            prod = rng.integers(1, spec.products + 1, n)
            if spec.unknown_product_share:
                unknown = rng.random(n) < spec.unknown_product_share
                prod = np.where(unknown, spec.products + 1 + rng.integers(0, 5, n), prod)
            qty = rng.integers(1, 6, n)
            price = np.where(prod <= spec.products, prices[np.minimum(prod, spec.products) - 1], 1999)
            total = qty * price
            secs = rng.integers(0, span_seconds, n)
            ts = (start_ts + secs.astype("timedelta64[s]")).astype(str)
            date_text = np.char.replace(ts.astype(str), "T", " ").astype(object)
            pay = np.array(_PAYMENT_SPELLINGS, dtype=object)[rng.integers(0, len(_PAYMENT_SPELLINGS), n)]
            frame = {
                "transaction_id": tid,
                "transaction_date": date_text,
                "customer_id": np.char.add("C", np.char.zfill((cust + 1).astype(str), 6)).astype(object),
                "customer_name": cust_names[cust],
                "city": cust_city[cust],
                "country": cust_country[cust],
                "product_id": prod.astype(str).astype(object),
                "quantity": qty.astype(str).astype(object),
                "unit_price": _money(price).astype(object),
                "total_amount": _money(total).astype(object),
                "payment_method": pay,
            }
            bad = np.flatnonzero(rng.random(n) < spec.bad_share)
            broken = set(bad.tolist())
            for j, row in enumerate(bad):
                kind = kinds[(offset + j) % len(kinds)]
                # A duplicate repeats the id of an earlier row that loads (the contract's rule).
                if kind == "duplicate_id" and (row == 0 or row - 1 in broken):
                    kind = "wrong_total"
                _break(frame, row, kind, qty, price)
                if track_planted:
                    planted[offset + row + 2] = BAD_KINDS[kind]
            pd.DataFrame(frame).to_csv(fh, header=False, index=False, lineterminator="\n")
    return GeneratedSales(path=path, rows=spec.rows, planted=planted)


def _break(frame: dict, row: int, kind: str, qty: np.ndarray, price: np.ndarray) -> None:
    if kind == "missing_customer":
        frame["customer_id"][row] = ""
    elif kind == "bad_date":
        frame["transaction_date"][row] = "2024-13-45"
    elif kind == "future_date":
        frame["transaction_date"][row] = "2099-01-01 10:00:00"
    elif kind == "too_old":
        frame["transaction_date"][row] = "1999-12-31 23:00:00"
    elif kind == "bad_number":
        frame["quantity"][row] = "two"
    elif kind == "zero_quantity":
        frame["quantity"][row] = "0"
        frame["total_amount"][row] = "0.00"
    elif kind == "negative_price":
        frame["unit_price"][row] = _money(np.array([-price[row]]))[0]
        frame["total_amount"][row] = _money(np.array([-price[row] * qty[row]]))[0]
    elif kind == "wrong_total":
        frame["total_amount"][row] = _money(np.array([price[row] * qty[row] + 500]))[0]
    elif kind == "bad_payment":
        frame["payment_method"][row] = "bitcoin"
    elif kind == "duplicate_id":
        frame["transaction_id"][row] = frame["transaction_id"][row - 1]
    elif kind == "bad_date_and_payment":
        frame["transaction_date"][row] = "yesterday"
        frame["payment_method"][row] = "IOU"


def write_products(path: Path, products: int = 20, seed: int = 7) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(sample_products(products, seed), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return path


def add_arguments(p) -> None:
    p.add_argument("--rows", type=int, default=10_000)
    p.add_argument("--customers", type=int, default=500)
    p.add_argument("--products", type=int, default=20)
    p.add_argument("--start", default="2024-01-01")
    p.add_argument("--end", default="2024-12-31")
    p.add_argument("--bad-share", type=float, default=0.02, help="share of rows broken on purpose")
    p.add_argument("--unknown-product-share", type=float, default=0.0)
    p.add_argument(
        "--seed", type=int, default=42, help="files written with different seeds differ, transaction ids included"
    )
    p.add_argument("--id-prefix", help="prefix of the transaction ids (default TXN<seed>)")
    p.add_argument("--out", help="CSV path (default: <landing dir>/sales_<seed>.csv)")
    p.add_argument("--products-json", help="also write a FakeStore-shaped products snapshot here")


def cmd_sample_data(args, settings) -> int:
    import time

    from warehouse_assets.cli.output import say

    spec = SalesSpec(
        rows=args.rows,
        customers=args.customers,
        products=args.products,
        start=dt.date.fromisoformat(args.start),
        end=dt.date.fromisoformat(args.end),
        bad_share=args.bad_share,
        unknown_product_share=args.unknown_product_share,
        seed=args.seed,
        id_prefix=args.id_prefix or f"TXN{args.seed}",
    )
    out = Path(args.out).expanduser().resolve() if args.out else settings.landing_dir / f"sales_{args.seed}.csv"
    started = time.perf_counter()
    generated = generate_sales(out, spec, track_planted=False)
    say(f"wrote {generated.rows:,} rows to {out} in {time.perf_counter() - started:.1f}s")
    if args.products_json:
        say(
            f"wrote products snapshot to {write_products(Path(args.products_json).expanduser().resolve(), args.products)}"
        )
    return 0
