"""What the three real exports should load as, computed with pandas, Decimal and hashlib straight
from the raw files, applying the rules each layout documents in its comments; never through the
layout code. Used by the reader tests and the database tests of the real exports. No text of the
real files is kept in the repository: the tests read them when they run.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pandas as pd
import pytest

from warehouse_assets.core.layouts.discovery import load_layout
from warehouse_assets.core.layouts.expressions import SURROGATE_MAX, SURROGATE_MIN
from warehouse_assets.core.layouts.layout import Layout
from warehouse_assets.core.sales_reader import SalesFileReader
from warehouse_assets_tests.support.paths import PROJECT_DIR

LAYOUTS_DIR = PROJECT_DIR / "data" / "layouts"
LOAD_TIME = dt.datetime.now(dt.UTC)
EARLIEST = dt.date(2000, 1, 1)
CENT = Decimal("0.01")


def real_file(folder: Path, name: str) -> Path:
    path = folder / name
    if not path.is_file():
        pytest.skip(f"needs the real capture {path} (beside the checkout, in ../shared/realdata)")
    return path


def layout_named(name: str) -> Layout:
    return load_layout(LAYOUTS_DIR / f"{name}.yaml")


def read_through(path: Path, layout: Layout, read_bytes: int = 1 << 20) -> tuple[SalesFileReader, pd.DataFrame]:
    reader = SalesFileReader(
        path,
        source_file=path.name,
        load_time=LOAD_TIME,
        earliest=EARLIEST,
        read_bytes=read_bytes,
        layout=layout,
    )
    frames = [t.to_pandas() for t in reader.tables()]
    return reader, pd.concat(frames, ignore_index=True)


def csv_records(path: Path, encoding: str = "utf-8") -> int:
    """Every record after the header, blank ones included, counted by the csv module."""
    with open(path, encoding=encoding, newline="") as fh:
        return sum(1 for _ in csv.reader(fh)) - 1


def physical_lines(path: Path) -> int:
    return len(path.read_bytes().splitlines()) - 1


def raw_frame(path: Path, encoding: str = "utf-8") -> pd.DataFrame:
    """The file as text, one row per record after the header, cells trimmed; row i is on line i+2
    (asserted: none of the three files has a line break inside a quoted value)."""
    raw = pd.read_csv(path, dtype=str, keep_default_na=False, skip_blank_lines=False, encoding=encoding)
    assert len(raw) == csv_records(path, encoding) == physical_lines(path)
    raw = raw.apply(lambda col: col.str.strip())
    raw.index = raw.index + 2
    return raw


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def expected_surrogate(namespace: str, code: str) -> int:
    """The documented formula, written out again: sha256("<layout>:<code>")[:8] mod span + 10^9."""
    digest = hashlib.sha256(f"{namespace}:{code}".encode()).digest()
    return 1_000_000_000 + int.from_bytes(digest[:8], "big") % (2_147_483_646 - 1_000_000_000 + 1)


def assert_read_accounting(reader: SalesFileReader, path: Path, encoding: str = "utf-8") -> None:
    """Every line is a row or noise (none of the three files has a line break inside a value)."""
    s = reader.summary
    assert s.records_read == s.rows_valid + s.rows_rejected
    assert s.lines_read == physical_lines(path) == csv_records(path, encoding)
    assert s.records_read + s.noise_lines == s.lines_read
    assert sum(s.noise.values()) == s.noise_lines


def valid_rows(out: pd.DataFrame) -> pd.DataFrame:
    return out[out["reasons"].isna()].set_index("line_number")


def revenue(amounts) -> Decimal:
    return sum((Decimal(str(a)) for a in amounts), Decimal(0))


def assert_surrogates(namespace: str, codes: pd.Series, valid: pd.DataFrame, raw_codes: pd.Series) -> None:
    """No two distinct codes share an id; the reader's ids are the documented hash of the code."""
    distinct = sorted(set(codes))
    ids = {c: expected_surrogate(namespace, c) for c in distinct}
    assert len(set(ids.values())) == len(distinct), "surrogate id collision among the file's codes"
    assert all(SURROGATE_MIN <= i <= SURROGATE_MAX for i in ids.values())
    got = valid["product_id"].astype("int64")
    want = raw_codes.loc[valid.index].map(ids).astype("int64")
    assert (got == want).all()


# ====================================================================== expected, with pandas
# Each layout's documented rules applied directly to the raw file with pandas and Decimal, never
# through the layout code. Also used by the database tests of the real exports.


@dataclass
class Expected:
    """What a real file should load as: which lines are valid, their line totals (positive, as
    stored) and which of them are returns."""

    valid: pd.Series  # bool per line number
    totals: pd.Series  # Decimal line total of each valid line
    orders: int  # distinct orders among the valid sales
    customers: int
    quantity: pd.Series | None = None
    flags: dict = field(default_factory=dict)
    returns: pd.Series | None = None  # bool per valid line; None: the source has no returns

    @property
    def is_return(self) -> pd.Series:
        return self.returns if self.returns is not None else pd.Series(False, index=self.totals.index)

    @property
    def revenue(self) -> Decimal:
        """Net: sales minus returns."""
        return sum(self.totals[~self.is_return], Decimal(0)) - sum(self.totals[self.is_return], Decimal(0))


def expected_online_retail(raw: pd.DataFrame) -> Expected:
    quantity = raw["Quantity"].astype(int)
    price = raw["UnitPrice"].map(Decimal)
    no_customer = raw["CustomerID"].isin(["NA", ""])
    # Documented: a cancellation's negative quantities are returns of that many units.
    cancelled = raw["InvoiceNo"].str.startswith("C")
    adjustment = raw["InvoiceNo"].str.match(r"^\d") & (quantity < 0)
    non_product = raw["StockCode"].str.upper().isin(NON_PRODUCT_CODES)
    valid = ~no_customer & ~adjustment & ~non_product & (quantity != 0) & (price >= 0)
    line_total = pd.Series([cents(abs(Decimal(q) * p)) for q, p in zip(raw["Quantity"], price)], index=raw.index)
    want = raw[valid]
    returned = quantity[valid] < 0
    return Expected(
        valid=valid,
        totals=line_total[valid],
        returns=returned,
        orders=want.loc[~returned, "InvoiceNo"].nunique(),
        customers=want["CustomerID"].nunique(),
        quantity=quantity,
        flags={
            "no_customer": no_customer,
            "cancelled": cancelled,
            "adjustment": adjustment,
            "non_product": non_product,
        },
    )


def expected_superstore(raw: pd.DataFrame) -> Expected:
    # Documented: total_amount = Sales rounded to cents; unit_price = Sales / Quantity rounded to
    # cents, declared derived, so the amount check allows max(1 cent, half a cent per unit).
    quantity = raw["Quantity"].astype(int)
    total = raw["Sales"].map(lambda v: cents(Decimal(v)))
    unit = pd.Series([cents(Decimal(v) / q) for v, q in zip(raw["Sales"], quantity)], index=raw.index)
    tolerance = quantity.map(lambda q: max(CENT, CENT * q / 2))
    mismatch = (total - unit * quantity).abs() > tolerance
    valid = ~mismatch & (quantity > 0)
    want = raw[valid]
    # Documented: the price before discount is Sales / (1 - Discount) in cents; the discount is
    # that minus the line total.
    discount = pd.Series(
        [cents(Decimal(v) / (1 - Decimal(d))) - t for v, d, t in zip(raw["Sales"], raw["Discount"], total)],
        index=raw.index,
    )
    return Expected(
        valid=valid,
        totals=total[valid],
        # An order is an Order ID and a customer: two Order IDs of the sample name four customers.
        orders=want.groupby(["Order ID", "Customer ID"]).ngroups,
        customers=want["Customer ID"].nunique(),
        quantity=quantity,
        flags={"total": total, "unit": unit, "mismatch": mismatch, "discount": discount},
    )


def expected_sales_january(raw: pd.DataFrame) -> Expected:
    header = list(raw.columns)
    # Lines of bare commas are records whose every field is empty: missing_field, not blank lines.
    empty = (raw == "").all(axis=1)
    header_again = (raw == pd.Series(header, index=header)).all(axis=1)
    data = raw[~header_again]
    # Documented: one line per product of an order; a repeat of (order, product) is a copy.
    copy = data.duplicated(["Order ID", "Product"], keep="first") & ~empty[~header_again]
    want = data[~copy & ~empty[~header_again]]
    line_total = pd.Series(
        [cents(Decimal(q) * Decimal(p)) for q, p in zip(want["Quantity Ordered"], want["Price Each"])],
        index=want.index,
    )
    return Expected(
        valid=pd.Series(raw.index.isin(want.index), index=raw.index),
        totals=line_total,
        orders=want["Order ID"].nunique(),
        customers=want["Purchase Address"].nunique(),
        flags={"empty": empty, "header_again": header_again, "copy": copy, "data": data},
    )


NON_PRODUCT_CODES = {
    "POST",
    "DOT",
    "C2",
    "M",
    "D",
    "S",
    "B",
    "CRUK",
    "PADS",
    "AMAZONFEE",
    "BANK CHARGES",
}
