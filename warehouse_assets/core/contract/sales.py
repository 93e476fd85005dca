"""The sales contract: the columns of a sales row, the rules a valid row obeys, the reason codes.

Sales arrive by the million: a Pydantic model per row measured about 6 µs a row here (10 s for
1M rows before any I/O), against about 1 µs a row for the same rules as column operations. So
the rules are written once, as column operations (`validate_sales`), and `SalesTransaction` is the
Pydantic face of the same rules for one record: its validator runs `validate_sales` on that
record, so the two cannot disagree.
"""

from __future__ import annotations

import datetime as dt
import decimal
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from warehouse_assets.core.contract.dates import UTC_MICROS, parse_iso_timestamps
from warehouse_assets.core.contract.limits import AMOUNT_MAX_CENTS, INTEGER_MAX, PRICE_MAX_CENTS, TEXT_LIMITS


class Reason(StrEnum):
    """Why a sales row was quarantined. A row carries every reason it has, not only the first."""

    MISSING_FIELD = "missing_field"
    BAD_DATE = "bad_date"
    FUTURE_DATE = "future_date"
    TOO_OLD = "too_old"
    BAD_NUMBER = "bad_number"
    FIELD_TOO_LONG = "field_too_long"
    NON_POSITIVE_QUANTITY = "non_positive_quantity"
    NEGATIVE_AMOUNT = "negative_amount"
    AMOUNT_MISMATCH = "amount_mismatch"
    BAD_PAYMENT_METHOD = "bad_payment_method"
    # transaction_type is neither sale nor return.
    BAD_TRANSACTION_TYPE = "bad_transaction_type"
    # original_transaction_id names the sale a return takes back; on a sale it means nothing.
    ORIGINAL_ON_SALE = "original_on_sale"
    # The id of an earlier valid row of the same file, or of a fact another file holds: judged by
    # the load over the whole file and the warehouse, not by the row's own rules.
    DUPLICATE_TRANSACTION = "duplicate_transaction"
    # Lines the reader could not turn into a row: too many or too few fields, an unbalanced quote,
    # a record longer than the reader's limits, a NUL character. Not field rules: there are no
    # fields to judge. The raw text is kept.
    MALFORMED_ROW = "malformed_row"
    # A line whose bytes are not text in the file's encoding; its raw bytes are kept (escaped).
    BAD_ENCODING = "bad_encoding"


class Noise(StrEnum):
    """Lines that are structure, not data: counted and reported, never loaded or quarantined."""

    BLANK_LINE = "blank_line"
    REPEATED_HEADER = "repeated_header"


SALES_COLUMNS: tuple[str, ...] = (
    "transaction_id",
    "transaction_date",
    "customer_id",
    "customer_name",
    "city",
    "country",
    "product_id",
    "quantity",
    "unit_price",
    "total_amount",
    "payment_method",
    "product_name",
    "order_id",
    "transaction_type",
    "original_transaction_id",
    "discount_amount",
)
# country may be absent. product_name is not in the standard header: source layouts fill it from
# exports that name products, so that products the warehouse has never seen get a real name.
# order_id groups lines into an order (empty: the line is an order of its own); transaction_type
# is sale (empty means sale) or return; original_transaction_id is the sale a return takes back;
# discount_amount is the money taken off the line, which total_amount already excludes (empty: 0).
OPTIONAL_COLUMNS: frozenset[str] = frozenset(
    {"country", "product_name", "order_id", "transaction_type", "original_transaction_id", "discount_amount"}
)
REQUIRED_COLUMNS: tuple[str, ...] = tuple(c for c in SALES_COLUMNS if c not in OPTIONAL_COLUMNS)
# The header of a standard file, in its usual order (product_name and the order and return
# columns are optional extras).
STANDARD_HEADER: tuple[str, ...] = tuple(c for c in SALES_COLUMNS if c not in OPTIONAL_COLUMNS or c == "country")
# A row with any of these empty is missing_field (customer_name and city may be empty).
REQUIRED_VALUES: tuple[str, ...] = (
    "transaction_id",
    "transaction_date",
    "customer_id",
    "product_id",
    "quantity",
    "unit_price",
    "total_amount",
    "payment_method",
)
TEXT_COLUMNS: tuple[str, ...] = (
    "transaction_id",
    "customer_id",
    "customer_name",
    "city",
    "country",
    "product_name",
    "order_id",
    "original_transaction_id",
)
TransactionType = Literal["sale", "return"]
TRANSACTION_TYPES: frozenset[str] = frozenset(TransactionType.__args__)  # type: ignore[attr-defined]

PaymentMethod = Literal["credit_card", "debit_card", "paypal", "bank_transfer", "cash"]
PAYMENT_METHODS: frozenset[str] = frozenset(PaymentMethod.__args__)  # type: ignore[attr-defined]

# |total_amount - quantity * unit_price| may differ by at most one cent.
AMOUNT_TOLERANCE_CENTS = 1

_INTEGER = r"^[+-]?\d{1,18}$"
_DECIMAL = r"^[+-]?(?:\d{1,18}(?:\.\d*)?|\.\d+)$"
_INTEGER_COLUMNS = ("product_id", "quantity")
_NUMBER_LIMITS: dict[str, tuple[str, int]] = {
    # column -> (shape, the largest magnitude the column stores: an integer, or cents)
    "product_id": (_INTEGER, INTEGER_MAX),
    "quantity": (_INTEGER, INTEGER_MAX),
    "unit_price": (_DECIMAL, PRICE_MAX_CENTS),
    "total_amount": (_DECIMAL, AMOUNT_MAX_CENTS),
    "discount_amount": (_DECIMAL, AMOUNT_MAX_CENTS),
}
DateParser = Callable[[pa.Array], pa.Array]


def normalise_header(name: str) -> str:
    """Header names match case- and whitespace-insensitively: ' Unit Price ' -> 'unit_price'."""
    return re.sub(r"[\s\-]+", "_", name.strip().lstrip("\ufeff").strip().lower())


def normalise_payment_method(values: pa.Array) -> pa.Array:
    """'Credit Card', 'credit-card', ' CREDIT_CARD ' -> 'credit_card'."""
    return pc.utf8_lower(pc.replace_substring_regex(pc.utf8_trim_whitespace(values), r"[\s\-]+", "_"))


def returns_from_negative_quantities(columns: Mapping[str, pa.Array]) -> dict[str, pa.Array]:
    """For sources whose layout says so, a line with a negative quantity is a return: its type
    becomes return (unless the source names one) and its quantity and line total lose their
    minus sign, so that a return carries positive amounts like one written as a return."""
    negative = pc.starts_with(columns["quantity"], "-")
    out = dict(columns)
    out["transaction_type"] = pc.if_else(
        pc.and_(negative, pc.equal(columns["transaction_type"], "")), "return", columns["transaction_type"]
    )
    for name in ("quantity", "total_amount"):
        out[name] = pc.if_else(negative, pc.replace_substring_regex(columns[name], r"^-", ""), columns[name])
    return out


def mask(array: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A boolean Arrow array as numpy, null meaning False."""
    return pc.fill_null(array, False).to_numpy(zero_copy_only=False).astype(bool, copy=False)


# Decimal text is read with three decimals kept (the rest cut off): all that PostgreSQL's
# rounding into two decimals looks at, half away from zero, is the third.
_MILLIS = pa.decimal128(21, 3)
_AS_MILLIS = pc.CastOptions(target_type=_MILLIS, allow_decimal_truncate=True)


def decimal_cents(text: pa.Array, shaped: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Whole cents of decimal text, exactly as PostgreSQL rounds it into numeric(p, 2).

    `shaped` marks the texts that are decimals; the others, and values beyond 64 bits of
    thousandths (far beyond any column's limit), come back as 0 with `fits` False. Arrow parses
    the text as a decimal, so no binary fraction stands between the text and the cent.
    """
    n = len(text)
    millis = pc.cast(pc.if_else(pa.array(shaped, pa.bool_()), text, "0"), options=_AS_MILLIS)
    if isinstance(millis, pa.ChunkedArray):
        millis = millis.combine_chunks()
    # A decimal128 is two 64-bit words, low first; a value that fits in the low word has a high
    # word of its sign.
    words = np.frombuffer(millis.buffers()[1], dtype=np.int64, count=2 * (millis.offset + n))[2 * millis.offset :]
    low, high = words[0::2], words[1::2]
    fits = shaped & (high == (low >> 63))
    magnitude = np.abs(np.where(fits, low, 0))
    cents = magnitude // 10 + (magnitude % 10 >= 5)
    return np.where(low < 0, -cents, cents), fits


def decimals_from_cents(cents: np.ndarray, valid: np.ndarray, kind: pa.Decimal128Type) -> pa.Array:
    """Whole cents as a decimal array of scale 2 (null where not `valid`), built from its words."""
    if kind.scale != 2:
        raise ValueError(f"cents make decimals of scale 2, not {kind}")
    words = np.empty((len(cents), 2), dtype=np.int64)
    words[:, 0] = cents
    words[:, 1] = cents >> 63
    validity = pa.array(valid, pa.bool_()).buffers()[1]
    return pa.Array.from_buffers(kind, len(cents), [validity, pa.py_buffer(words)], null_count=int((~valid).sum()))


def _floats(array: pa.Array) -> np.ndarray:
    return pc.fill_null(pc.cast(array, pa.float64()), np.nan).to_numpy(zero_copy_only=False)


@dataclass
class ValidatedSales:
    """The outcome of `validate_sales` for a chunk of text rows."""

    valid: np.ndarray  # bool per row
    reasons: dict[int, list[str]]  # row position -> reason codes in Reason order; bad rows only
    transaction_ts: pa.Array  # timestamp[us, UTC], null where unparseable
    integers: dict[str, np.ndarray]  # float64, NaN if unusable
    amounts: dict[str, np.ndarray]  # unit_price, total_amount, discount_amount in whole cents; 0 if unusable
    payment_method: pa.Array  # normalised
    transaction_type: pa.Array  # normalised: sale or return
    order_id: pa.Array  # the transaction id where the row names no order


def validate_sales(
    columns: Mapping[str, pa.Array],
    *,
    load_time: dt.datetime,
    earliest: dt.date,
    date_parser: DateParser | None = None,
    unit_price_derived: bool = False,
) -> ValidatedSales:
    """Apply every rule of a single row to one chunk of trimmed text columns ('' means empty).

    `date_parser` replaces the ISO 8601 parser for sources whose layout declares another date
    format. A row repeating the id of an earlier row is a matter of the whole file, not of a
    chunk: the load judges it (duplicate_transaction, see sql/load/sales_file_merge.sql).

    `unit_price_derived` is for sources that state only a line total: their unit price is the
    total divided by the quantity, rounded to the cent, and multiplying it back can miss the
    total by up to half a cent per unit (a 20 % discount on 10.28 is 8.224 a unit). The tolerance
    is then max(1 cent, half a cent per unit), the rounding error of the derivation, so that the
    check still catches a total that does not fit its quantity without rejecting every
    discounted multi-unit line of such a source.
    """
    n = len(columns["transaction_id"])
    masks: dict[Reason, np.ndarray] = {}

    empty = {c: mask(pc.equal(columns[c], "")) for c in REQUIRED_VALUES}
    masks[Reason.MISSING_FIELD] = np.logical_or.reduce(list(empty.values())) if n else np.zeros(0, bool)

    ts = (date_parser or parse_iso_timestamps)(columns["transaction_date"])
    micros = pc.fill_null(pc.cast(ts, pa.int64()), 0).to_numpy(zero_copy_only=False)
    parsed = mask(pc.is_valid(ts))
    load_us = int(pd.Timestamp(load_time).value // 1000)
    earliest_us = int(pd.Timestamp(earliest, tz="UTC").value // 1000)
    masks[Reason.BAD_DATE] = ~parsed & ~empty["transaction_date"]
    masks[Reason.FUTURE_DATE] = parsed & (micros > load_us)
    masks[Reason.TOO_OLD] = parsed & (micros < earliest_us)

    bad_number = np.zeros(n, bool)
    numbers: dict[str, np.ndarray] = {}
    amounts: dict[str, np.ndarray] = {}
    usable: dict[str, np.ndarray] = {}
    for name, (pattern, limit) in _NUMBER_LIMITS.items():
        text = columns[name]
        shaped = mask(pc.match_substring_regex(text, pattern))
        if name in _INTEGER_COLUMNS:
            value = _floats(pc.if_else(shaped, text, pa.scalar(None, pa.string())))
            with np.errstate(invalid="ignore"):
                ok = shaped & (np.abs(value) <= limit)
            numbers[name] = np.where(ok, value, np.nan)
        else:
            value, fits = decimal_cents(text, shaped)
            ok = fits & (np.abs(value) <= limit)
            amounts[name] = np.where(ok, value, 0)
        usable[name] = ok
        bad_number |= ~ok & ~(empty[name] if name in empty else mask(pc.equal(text, "")))
    masks[Reason.BAD_NUMBER] = bad_number

    too_long = np.zeros(n, bool)
    for name in TEXT_COLUMNS:
        too_long |= mask(pc.greater(pc.utf8_length(columns[name]), TEXT_LIMITS[name]))
    masks[Reason.FIELD_TOO_LONG] = too_long

    # Amounts are judged as they will be stored: rounded to the cent, half away from zero, as
    # PostgreSQL rounds text into numeric(12, 2). In whole cents the arithmetic is exact.
    quantity = numbers["quantity"]
    unit_cents, total_cents = amounts["unit_price"], amounts["total_amount"]
    with np.errstate(invalid="ignore"):
        masks[Reason.NON_POSITIVE_QUANTITY] = quantity <= 0
        masks[Reason.NEGATIVE_AMOUNT] = (unit_cents < 0) | (total_cents < 0) | (amounts["discount_amount"] < 0)
        tolerance = np.maximum(AMOUNT_TOLERANCE_CENTS, quantity / 2) if unit_price_derived else AMOUNT_TOLERANCE_CENTS
        # A product beyond 2**53 cents is inexact as a float, and far beyond any total anyway.
        masks[Reason.AMOUNT_MISMATCH] = (
            usable["unit_price"] & usable["total_amount"] & (np.abs(total_cents - quantity * unit_cents) > tolerance)
        )

    payment = normalise_payment_method(columns["payment_method"])
    allowed = mask(pc.is_in(payment, value_set=pa.array(sorted(PAYMENT_METHODS))))
    masks[Reason.BAD_PAYMENT_METHOD] = ~allowed & ~empty["payment_method"]

    kind_text = pc.utf8_lower(pc.utf8_trim_whitespace(columns["transaction_type"]))
    kind = pc.if_else(pc.equal(kind_text, ""), "sale", kind_text)
    masks[Reason.BAD_TRANSACTION_TYPE] = ~mask(pc.is_in(kind, value_set=pa.array(sorted(TRANSACTION_TYPES))))
    masks[Reason.ORIGINAL_ON_SALE] = mask(pc.equal(kind, "sale")) & ~mask(
        pc.equal(columns["original_transaction_id"], "")
    )

    any_bad = np.logical_or.reduce(list(masks.values())) if n else np.zeros(0, bool)
    bad_rows = np.flatnonzero(any_bad)
    reasons: dict[int, list[str]] = {int(i): [] for i in bad_rows}
    for reason, reason_mask in masks.items():
        for i in bad_rows[reason_mask[bad_rows]]:
            reasons[int(i)].append(reason.value)
    return ValidatedSales(
        valid=~any_bad,
        reasons=reasons,
        transaction_ts=ts if ts.type == UTC_MICROS else ts.cast(UTC_MICROS),
        integers={"product_id": numbers["product_id"], "quantity": quantity},
        amounts=amounts,
        payment_method=payment,
        transaction_type=kind,
        order_id=pc.if_else(pc.equal(columns["order_id"], ""), columns["transaction_id"], columns["order_id"]),
    )


class SalesTransaction(BaseModel):
    """One valid sales row, typed. Validating a record runs the column rules on it alone.

    A record that breaks rules raises a ValidationError whose message lists the reason codes,
    all of them.
    """

    model_config = ConfigDict(frozen=True)

    transaction_id: str
    transaction_date: dt.datetime
    customer_id: str
    customer_name: str | None = None
    city: str | None = None
    country: str | None = None
    product_id: int
    product_name: str | None = None
    quantity: int = Field(gt=0)
    unit_price: decimal.Decimal = Field(ge=0)
    total_amount: decimal.Decimal = Field(ge=0)
    payment_method: PaymentMethod
    order_id: str
    transaction_type: TransactionType = "sale"
    original_transaction_id: str | None = None
    discount_amount: decimal.Decimal = Field(default=decimal.Decimal(0), ge=0)

    @model_validator(mode="before")
    @classmethod
    def _apply_contract(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        raw = {c: ("" if data.get(c) is None else str(data.get(c)).strip()) for c in SALES_COLUMNS}
        columns = {c: pa.array([v], type=pa.string()) for c, v in raw.items()}
        load_time = data.get("_load_time") or dt.datetime.now(dt.timezone.utc)
        earliest = data.get("_earliest") or dt.date(2000, 1, 1)
        outcome = validate_sales(columns, load_time=load_time, earliest=earliest)
        if outcome.reasons:
            raise PydanticCustomError(
                "sales_contract",
                "sales row breaks the contract: {reasons}",
                {"reasons": ",".join(outcome.reasons[0])},
            )
        return {
            **{
                c: (raw[c] or None)
                for c in ("customer_name", "city", "country", "product_name", "original_transaction_id")
            },
            "transaction_id": raw["transaction_id"],
            "customer_id": raw["customer_id"],
            "transaction_date": outcome.transaction_ts[0].as_py(),
            "product_id": int(raw["product_id"]),
            "quantity": int(raw["quantity"]),
            "unit_price": decimal.Decimal(raw["unit_price"]),
            "total_amount": decimal.Decimal(raw["total_amount"]),
            "payment_method": outcome.payment_method[0].as_py(),
            "transaction_type": outcome.transaction_type[0].as_py(),
            "order_id": outcome.order_id[0].as_py(),
            "discount_amount": decimal.Decimal(raw["discount_amount"] or 0),
        }
