"""The oracle's reading of a standard sales file: the contract's field rules applied with plain
Python and Decimal to each row, and the money helpers the models share. Nothing here comes from
the code under test.
"""

from __future__ import annotations

import datetime as dt
import re
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
    # The optional order and return columns: no type is a sale, an order of its own when unnamed.
    kind = row.get("transaction_type", "").lower() or "sale"
    original = row.get("original_transaction_id", "")
    if kind not in ("sale", "return") or (kind == "sale" and original):
        return None
    discount = row.get("discount_amount", "") or "0"
    if not DECIMAL.match(discount) or cents(discount) < 0:
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
        "order_id": row.get("order_id", "") or row["transaction_id"],
        "is_sale": kind == "sale",
        # What the fact adds to net measures: a return counts negative.
        "net_cents": total if kind == "sale" else -total,
        "discount_cents": cents(discount),
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
