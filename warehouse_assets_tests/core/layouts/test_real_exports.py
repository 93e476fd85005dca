"""The three real exports in ../shared/realdata read end to end through their layouts.

The expected numbers (rows, valid rows, orders, customers, revenue, reason counts, dates, product
ids) come from support.realdata_oracle, computed from the raw files with pandas; these tests skip,
each naming the file it needs, when the real data is absent.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pandas as pd

from warehouse_assets_tests.support.realdata_oracle import (
    CENT,
    assert_read_accounting,
    assert_surrogates,
    expected_online_retail,
    expected_sales_january,
    expected_superstore,
    layout_named,
    raw_frame,
    read_through,
    real_file,
    revenue,
    valid_rows,
)


def test_online_retail_real_file(realdata: Path) -> None:
    path = real_file(realdata, "online_retail_sample.csv")
    raw = raw_frame(path)
    row_number = raw.columns[0]  # the unnamed first column (pandas calls it "Unnamed: 0")

    e = expected_online_retail(raw)
    quantity, valid, line_total = e.quantity, e.valid, e.totals
    no_customer, cancelled, adjustment, non_product = (
        e.flags["no_customer"],
        e.flags["cancelled"],
        e.flags["adjustment"],
        e.flags["non_product"],
    )
    assert valid.sum() > 1000 and no_customer.sum() > 100 and cancelled.sum() > 10  # the data has all kinds

    reader, out = read_through(path, layout_named("online_retail"), read_bytes=64 << 10)
    assert_read_accounting(reader, path)
    s = reader.summary
    assert s.layout == "online_retail"
    assert s.noise_lines == 0
    assert s.rows_valid == valid.sum()
    assert s.rows_rejected == (~valid).sum()
    assert "cancelled_invoice" not in s.reasons
    assert s.reasons["stock_adjustment"] == adjustment.sum()
    assert s.reasons["non_product_line"] == non_product.sum()
    assert s.reasons["missing_field"] == no_customer.sum()
    assert s.reasons["non_positive_quantity"] == (quantity == 0).sum()

    got = valid_rows(out)
    assert set(got.index) == set(raw.index[valid])
    want = raw[valid]
    # Cancellations are returns (and only they), with the quantity and total made positive.
    assert (got["transaction_type"] == "return").sum() == (cancelled & valid).sum() > 10
    assert ((got["transaction_type"] == "return") == cancelled[valid]).all()
    assert (got["quantity"] == quantity[valid].abs()).all()
    assert got["original_transaction_id"].isna().all()
    # Orders: the invoice, namespaced; the invoice is also the id's second ":"-separated part.
    assert (got["order_id"] == "online_retail:" + want["InvoiceNo"]).all()
    sales = got[got["transaction_type"] == "sale"]
    assert sales["order_id"].nunique() == e.orders
    assert (got["transaction_id"] == "online_retail:" + want["InvoiceNo"] + ":" + want[row_number]).all()
    assert got["transaction_id"].is_unique
    assert got["customer_id"].nunique() == want["CustomerID"].nunique()
    assert revenue(got["total_amount"]) == line_total[valid].sum()
    # Net revenue: quantity x unit price, signed, over the lines the layout keeps.
    signed = sum((Decimal(q) * Decimal(p) for q, p in zip(want["Quantity"], want["UnitPrice"])), Decimal(0))
    assert e.revenue == signed.quantize(CENT)
    # The unit price as numeric(12, 2) stores it: rounded half away from zero.
    assert (got["unit_price"] == want["UnitPrice"].map(lambda v: Decimal(v).quantize(CENT, ROUND_HALF_UP))).all()
    # Month-first dates, London wall-clock time, stored in UTC.
    local = pd.to_datetime(want["InvoiceDate"], format="%m/%d/%Y %H:%M")
    utc = local.dt.tz_localize("Europe/London", ambiguous="raise", nonexistent="raise").dt.tz_convert("UTC")
    assert (got["transaction_ts"] == utc).all()
    summer = want["InvoiceDate"].str.startswith("6/")
    assert summer.any() and (got.loc[summer[summer].index, "transaction_ts"].dt.hour == local[summer].dt.hour - 1).all()

    assert_surrogates("online_retail", raw["StockCode"].str.upper(), got, raw["StockCode"].str.upper())


# ====================================================================== real file: Superstore


def test_superstore_real_file(realdata: Path) -> None:
    path = real_file(realdata, "superstore_sample.csv")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")  # the byte-order mark the layout must tolerate
    raw = raw_frame(path, encoding="utf-8-sig")

    e = expected_superstore(raw)
    quantity, valid, total, unit, mismatch = e.quantity, e.valid, e.flags["total"], e.flags["unit"], e.flags["mismatch"]
    # Without the derived-price tolerance these lines would fail the one-cent rule.
    assert ((total - unit * quantity).abs() > CENT).sum() > 1000

    reader, out = read_through(path, layout_named("superstore"))
    assert_read_accounting(reader, path, encoding="utf-8-sig")
    s = reader.summary
    assert s.noise_lines == 0
    assert s.rows_valid == valid.sum()
    assert dict(s.reasons) == ({"amount_mismatch": int(mismatch.sum())} if mismatch.any() else {})
    assert "Discount" not in s.extra_columns and "Row ID" not in s.extra_columns

    got = valid_rows(out)
    assert set(got.index) == set(raw.index[valid])
    want = raw[valid]
    assert got["transaction_id"].str.split(":").str[1].nunique() == want["Order ID"].nunique()
    assert (got["order_id"] == "superstore:" + want["Order ID"]).all()
    assert (got["transaction_type"] == "sale").all()
    assert got["transaction_id"].is_unique
    assert got["customer_id"].nunique() == want["Customer ID"].nunique()
    assert revenue(got["total_amount"]) == total[valid].sum()
    assert (got["unit_price"].map(Decimal) == unit[valid]).all()
    # The discount as money: gross (before it) = total + discount, net = total.
    discount = e.flags["discount"][valid]
    assert (discount > 0).sum() > 4000 and (discount >= 0).all()
    assert (got["discount_amount"].map(Decimal) == discount).all()
    assert (got["country"] == want["Country/Region"]).all()

    # Day-first, two-digit years: "03/01/19" is 3 January 2019, not 1 March.
    on_jan_3 = raw.index[raw["Order Date"] == "03/01/19"]
    assert len(on_jan_3) > 0
    line = on_jan_3[0]
    row_id = raw.loc[line, "Row ID"]
    row = out[out["transaction_id"] == f"superstore:{raw.loc[line, 'Order ID']}:{row_id}"]
    assert len(row) == 1 and row["line_number"].iloc[0] == line
    assert row["transaction_ts"].iloc[0].date() == dt.date(2019, 1, 3)
    assert row["date_key"].iloc[0] == 20190103
    expected_dates = pd.to_datetime(want["Order Date"], format="%d/%m/%y").dt.tz_localize("UTC")
    assert (got["transaction_ts"] == expected_dates).all()

    assert_surrogates("superstore", raw["Product ID"], got, raw["Product ID"])


# ====================================================================== real file: monthly sales


def test_sales_january_2019_real_file(realdata: Path) -> None:
    path = real_file(realdata, "Sales_January_2019.csv")
    raw = raw_frame(path)
    e = expected_sales_january(raw)
    empty, header_again, copy, data = e.flags["empty"], e.flags["header_again"], e.flags["copy"], e.flags["data"]
    want, line_total = raw[e.valid], e.totals
    assert empty.sum() > 0 and header_again.sum() > 0 and copy.sum() > 0  # the data has all kinds

    reader, out = read_through(path, layout_named("sales_january_2019"), read_bytes=64 << 10)
    assert_read_accounting(reader, path)
    s = reader.summary
    assert s.noise["repeated_header"] == header_again.sum()
    assert s.noise_lines == header_again.sum()
    # Each row is judged by itself here: a copy repeating an earlier row's id is valid to the
    # reader, and the load quarantines it (defs/test_real_exports.py).
    repeats = copy.index[copy]
    assert s.rows_valid == len(want) + len(repeats)
    assert dict(s.reasons) == {"missing_field": int(empty.sum())}

    got = valid_rows(out)
    assert set(got.index) == set(want.index) | set(repeats)
    got = got.loc[want.index]
    assert got["transaction_id"].str.split(":").str[1].nunique() == want["Order ID"].nunique()
    assert (got["order_id"] == "sales_january_2019:" + want["Order ID"]).all()
    assert got["customer_id"].nunique() == want["Purchase Address"].nunique()
    assert revenue(got["total_amount"]) == line_total.sum()
    assert (got["city"] == want["Purchase Address"].str.split(",").str[1].str.strip()).all()
    assert (got["country"] == "United States").all()
    local = pd.to_datetime(want["Order Date"], format="%m/%d/%y %H:%M")
    utc = local.dt.tz_localize("America/New_York").dt.tz_convert("UTC")
    assert (got["transaction_ts"] == utc).all()

    assert_surrogates("sales_january_2019", data.loc[~empty[~header_again], "Product"], got, raw["Product"])
