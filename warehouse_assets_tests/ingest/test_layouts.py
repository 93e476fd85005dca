"""Source layouts: the YAML model and its errors, each expression kind, file matching, and the three
real exports in ../shared/realdata read end to end through `SalesFileReader`.

The expected numbers for the real files (rows, valid rows, orders, customers, revenue, reason
counts, dates, product ids) are computed here with pandas, Decimal and hashlib directly from the raw
file, applying the rules each layout documents in its comments; they never come from the code under
test. No text of the real files is kept in the repository: the tests read them when they run.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from warehouse_assets import settings
from warehouse_assets.ingest.layouts import (
    SURROGATE_MAX,
    SURROGATE_MIN,
    Layout,
    LayoutError,
    find_layout,
    load_layout,
    load_layouts,
)
from warehouse_assets.ingest.sales_csv import SalesFileError, SalesFileReader

LAYOUTS_DIR = settings.PROJECT_DIR / "data" / "layouts"
REALDATA = settings.PROJECT_DIR.parent / "shared" / "realdata"
LOAD_TIME = dt.datetime.now(dt.UTC)
EARLIEST = dt.date(2000, 1, 1)
CENT = Decimal("0.01")


# ====================================================================== helpers


@pytest.fixture
def realdata() -> Path:
    if not REALDATA.is_dir():
        pytest.skip(f"real data folder {REALDATA} is absent (it sits beside the checkout in ../shared)")
    return REALDATA


def real_file(folder: Path, name: str) -> Path:
    path = folder / name
    if not path.is_file():
        pytest.skip(f"real data file {path} is absent")
    return path


def layout_named(name: str) -> Layout:
    return load_layout(LAYOUTS_DIR / f"{name}.yaml")


def read_through(path: Path, layout: Layout, chunk_rows: int = 200_000) -> tuple[SalesFileReader, pd.DataFrame]:
    reader = SalesFileReader(
        path,
        source_file=path.name,
        load_time=LOAD_TIME,
        earliest=EARLIEST,
        chunk_rows=chunk_rows,
        layout=layout,
    )
    frames = [t.to_pandas() for t in reader.chunks()]
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
    s = reader.summary
    assert s.rows_read == s.rows_valid + s.rows_rejected + s.rows_skipped
    assert s.rows_read == csv_records(path, encoding)
    assert sum(s.skipped.values()) == s.rows_skipped


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
    """What a real file should load as: which lines are valid and their line totals."""

    valid: pd.Series  # bool per line number
    totals: pd.Series  # Decimal line total of each valid line
    orders: int
    customers: int
    quantity: pd.Series | None = None
    flags: dict = field(default_factory=dict)

    @property
    def revenue(self) -> Decimal:
        return sum(self.totals, Decimal(0))


def expected_online_retail(raw: pd.DataFrame) -> Expected:
    quantity = raw["Quantity"].astype(int)
    price = raw["UnitPrice"].map(Decimal)
    no_customer = raw["CustomerID"].isin(["NA", ""])
    cancelled = raw["InvoiceNo"].str.startswith("C")
    adjustment = raw["InvoiceNo"].str.match(r"^\d") & (quantity < 0)
    non_product = raw["StockCode"].str.upper().isin(NON_PRODUCT_CODES)
    valid = ~no_customer & ~cancelled & ~adjustment & ~non_product & (quantity > 0) & (price >= 0)
    line_total = pd.Series([cents(Decimal(q) * p) for q, p in zip(raw["Quantity"], price)], index=raw.index)
    want = raw[valid]
    return Expected(
        valid=valid,
        totals=line_total[valid],
        orders=want["InvoiceNo"].nunique(),
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
    return Expected(
        valid=valid,
        totals=total[valid],
        orders=want["Order ID"].nunique(),
        customers=want["Customer ID"].nunique(),
        quantity=quantity,
        flags={"total": total, "unit": unit, "mismatch": mismatch},
    )


def expected_sales_january(raw: pd.DataFrame) -> Expected:
    header = list(raw.columns)
    blank = (raw == "").all(axis=1)
    header_again = (raw == pd.Series(header, index=header)).all(axis=1)
    data = raw[~blank & ~header_again]
    # Documented: one line per product of an order; a repeat of (order, product) is a copy.
    copy = data.duplicated(["Order ID", "Product"], keep="first")
    want = data[~copy]
    line_total = pd.Series(
        [cents(Decimal(q) * Decimal(p)) for q, p in zip(want["Quantity Ordered"], want["Price Each"])],
        index=want.index,
    )
    return Expected(
        valid=pd.Series(raw.index.isin(want.index), index=raw.index),
        totals=line_total,
        orders=want["Order ID"].nunique(),
        customers=want["Purchase Address"].nunique(),
        flags={"blank": blank, "header_again": header_again, "copy": copy, "data": data},
    )


# ====================================================================== real file: UCI Online Retail


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

    reader, out = read_through(path, layout_named("online_retail"), chunk_rows=700)
    assert_read_accounting(reader, path)
    s = reader.summary
    assert s.layout == "online_retail"
    assert s.rows_skipped == 0
    assert s.rows_valid == valid.sum()
    assert s.rows_rejected == (~valid).sum()
    assert s.reasons["cancelled_invoice"] == cancelled.sum()
    assert s.reasons["stock_adjustment"] == adjustment.sum()
    assert s.reasons["non_product_line"] == non_product.sum()
    assert s.reasons["missing_field"] == no_customer.sum()
    assert s.reasons["non_positive_quantity"] == (quantity <= 0).sum()

    got = valid_rows(out)
    assert set(got.index) == set(raw.index[valid])
    want = raw[valid]
    # Orders: the invoice is the second ":"-separated part of the documented transaction id.
    assert got["transaction_id"].str.split(":").str[1].nunique() == want["InvoiceNo"].nunique()
    assert (got["transaction_id"] == "online_retail:" + want["InvoiceNo"] + ":" + want[row_number]).all()
    assert got["transaction_id"].is_unique
    assert got["customer_id"].nunique() == want["CustomerID"].nunique()
    assert revenue(got["total_amount"]) == line_total[valid].sum()
    assert (got["unit_price"] == want["UnitPrice"]).all()
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
    assert s.rows_skipped == 0
    assert s.rows_valid == valid.sum()
    assert dict(s.reasons) == ({"amount_mismatch": int(mismatch.sum())} if mismatch.any() else {})
    assert "Discount" in s.extra_columns and "Row ID" not in s.extra_columns

    got = valid_rows(out)
    assert set(got.index) == set(raw.index[valid])
    want = raw[valid]
    assert got["transaction_id"].str.split(":").str[1].nunique() == want["Order ID"].nunique()
    assert got["transaction_id"].is_unique
    assert got["customer_id"].nunique() == want["Customer ID"].nunique()
    assert revenue(got["total_amount"]) == total[valid].sum()
    assert (got["unit_price"].map(Decimal) == unit[valid]).all()
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
    blank, header_again, copy, data = e.flags["blank"], e.flags["header_again"], e.flags["copy"], e.flags["data"]
    want, line_total = raw[e.valid], e.totals
    assert blank.sum() > 0 and header_again.sum() > 0 and copy.sum() > 0  # the data has all kinds

    reader, out = read_through(path, layout_named("sales_january_2019"), chunk_rows=1000)
    assert_read_accounting(reader, path)
    s = reader.summary
    assert s.skipped["blank_line"] == blank.sum()
    assert s.skipped["repeated_header"] == header_again.sum()
    assert s.rows_skipped == blank.sum() + header_again.sum()
    assert s.rows_valid == len(want)
    assert dict(s.reasons) == {"duplicate_transaction": int(copy.sum())}

    got = valid_rows(out)
    assert set(got.index) == set(want.index)
    assert got["transaction_id"].str.split(":").str[1].nunique() == want["Order ID"].nunique()
    assert got["customer_id"].nunique() == want["Purchase Address"].nunique()
    assert revenue(got["total_amount"]) == line_total.sum()
    assert (got["city"] == want["Purchase Address"].str.split(",").str[1].str.strip()).all()
    assert (got["country"] == "United States").all()
    local = pd.to_datetime(want["Order Date"], format="%m/%d/%y %H:%M")
    utc = local.dt.tz_localize("America/New_York").dt.tz_convert("UTC")
    assert (got["transaction_ts"] == utc).all()

    assert_surrogates("sales_january_2019", data["Product"], got, raw["Product"])


# ====================================================================== layout errors


def test_typo_in_a_column_name_fails_when_the_file_is_opened(realdata: Path, tmp_path: Path) -> None:
    path = real_file(realdata, "superstore_sample.csv")
    text = (LAYOUTS_DIR / "superstore.yaml").read_text()
    assert "{column: Customer Name}" in text
    broken = tmp_path / "superstore.yaml"
    broken.write_text(text.replace("{column: Customer Name}", "{column: Customer Nmae}"))
    layout = load_layout(broken)  # the YAML itself is fine
    with pytest.raises(SalesFileError) as err:
        SalesFileReader(
            path,
            source_file="superstore/2019.csv",
            load_time=LOAD_TIME,
            earliest=EARLIEST,
            layout=layout,
        )
    message = str(err.value)
    assert "Customer Nmae" in message
    assert "superstore/2019.csv" in message
    assert str(broken) in message or "superstore.yaml" in message


def test_missing_column_is_reported_for_a_synthetic_file_too(tmp_path: Path) -> None:
    layout = Layout.from_dict(minimal_layout())
    csv_path = tmp_path / "x.csv"
    csv_path.write_text("Order,Code,Qty\n1,A,2\n")
    with pytest.raises(SalesFileError, match=r"x\.csv: line 1: header lacks column\(s\) 'Price'"):
        SalesFileReader(csv_path, source_file="x.csv", load_time=LOAD_TIME, earliest=EARLIEST, layout=layout)


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_unknown_expression_key_names_file_and_field(tmp_path: Path) -> None:
    text = (LAYOUTS_DIR / "superstore.yaml").read_text()
    assert "unit_price: {divide:" in text
    path = _write(
        tmp_path,
        "superstore.yaml",
        text.replace("unit_price: {divide:", "unit_price: {multiply_by:"),
    )
    with pytest.raises(LayoutError) as err:
        load_layout(path)
    assert f"{path}: columns.unit_price: unknown expression key 'multiply_by'" in str(err.value)


def test_bad_regex_names_file_and_field(tmp_path: Path) -> None:
    text = (LAYOUTS_DIR / "online_retail.yaml").read_text()
    assert 'matches: "^C"' in text
    path = _write(tmp_path, "online_retail.yaml", text.replace('matches: "^C"', 'matches: "^(C"'))
    with pytest.raises(LayoutError) as err:
        load_layout(path)
    message = str(err.value)
    assert f"{path}: row_rules[0].when[0].matches: bad regular expression '^(C'" in message


def test_missing_name_names_file_and_field(tmp_path: Path) -> None:
    text = (LAYOUTS_DIR / "sales_january_2019.yaml").read_text()
    lines = [line for line in text.splitlines() if not line.startswith("name:")]
    assert len(lines) == len(text.splitlines()) - 1
    path = _write(tmp_path, "monthly.yaml", "\n".join(lines))
    with pytest.raises(LayoutError) as err:
        load_layout(path)
    assert f"{path}: name: required key is missing" in str(err.value)


def minimal_layout(**overrides) -> dict:
    data = {
        "name": "tiny",
        "description": "a test source",
        "applies_to": {"folder": "tiny"},
        "columns": {
            "transaction_id": {"concat": ["tiny:", {"column": "Order"}]},
            "transaction_date": {"constant": "2024-01-02"},
            "customer_id": {"constant": "c1"},
            "customer_name": {"constant": ""},
            "city": {"constant": ""},
            "product_id": {"surrogate_id": {"column": "Code"}},
            "quantity": {"column": "Qty"},
            "unit_price": {"column": "Price"},
            "total_amount": {"multiply": [{"column": "Qty"}, {"column": "Price"}]},
            "payment_method": {"constant": "cash"},
        },
    }
    data.update(overrides)
    return data


@pytest.mark.parametrize(
    "change, expected",
    [
        (lambda d: d.update(colums={}), "colums: unknown key"),
        (lambda d: d.pop("description"), "description: required key is missing"),
        (lambda d: d.update(name="Tiny Shop"), "name: a layout name is lower_snake_case"),
        (
            lambda d: d["columns"].update(unit_prise={"column": "Price"}),
            "columns: unknown contract column 'unit_prise'",
        ),
        (
            lambda d: d["columns"].pop("payment_method"),
            "columns: missing contract column(s) payment_method",
        ),
        (lambda d: d["columns"].update(city="Boston"), "columns.city: an expression is a mapping"),
        (
            lambda d: d["columns"].update(transaction_id={"concat": ["x", {"colum": "Order"}]}),
            "columns.transaction_id: concat[1]: unknown expression key 'colum'",
        ),
        (
            lambda d: d["columns"].update(city={"column": "A", "constant": "B"}),
            "columns.city: an expression has exactly one of the keys",
        ),
        (
            lambda d: d["columns"].update(unit_price={"divide": [{"column": "Price"}]}),
            "columns.unit_price: divide: expected a list of exactly 2 items",
        ),
        (
            lambda d: d["columns"].update(unit_price={"round": {"column": "Price"}, "digits": 40}),
            "columns.unit_price: round: digits must be a whole number from 0 to 18",
        ),
        (
            lambda d: d["columns"].update(city={"split": {"column": "A", "sep": ",", "idx": 1}}),
            "columns.city: split: unknown key 'idx'",
        ),
        (
            lambda d: d.update(dates={"formats": ["%m/%d/%y"], "dayfirst": True}),
            "dates: formats[0] '%m/%d/%y' disagrees with dayfirst: True",
        ),
        (
            lambda d: d.update(dates={"timezone": "Europe/Londn"}),
            "dates.timezone: unknown IANA time zone 'Europe/Londn'",
        ),
        (
            lambda d: d.update(csv={"delimiter": ";;"}),
            "csv.delimiter: must be exactly one character",
        ),
        (
            lambda d: d.update(csv={"encoding": "utf-9"}),
            "csv.encoding: unknown text encoding 'utf-9'",
        ),
        (lambda d: d.update(applies_to={}), "applies_to: give a folder, patterns, or both"),
        (
            lambda d: d.update(
                row_rules=[{"reason": "return", "when": {"column": "Qty", "less_than": 0, "matches": "x"}}]
            ),
            "row_rules[0].when[0]: a condition has a column and exactly one of",
        ),
        (
            lambda d: d.update(row_rules=[{"reason": "missing_field", "when": {"column": "Qty", "less_than": 0}}]),
            "row_rules[0].reason: 'missing_field' is one of the contract's own reason codes",
        ),
    ],
)
def test_layout_errors_name_file_and_field(tmp_path: Path, change, expected: str) -> None:
    import yaml

    data = minimal_layout()
    change(data)
    path = _write(tmp_path, "tiny.yaml", yaml.safe_dump(data))
    with pytest.raises(LayoutError) as err:
        load_layout(path)
    assert f"{path}: " in str(err.value)
    assert expected in str(err.value)


def test_invalid_yaml_and_duplicate_names(tmp_path: Path) -> None:
    import yaml

    broken = _write(tmp_path, "a.yaml", "name: [unclosed\n")
    with pytest.raises(LayoutError, match=r"a\.yaml: not valid YAML"):
        load_layout(broken)
    broken.unlink()
    _write(tmp_path, "a.yaml", yaml.safe_dump(minimal_layout()))
    _write(tmp_path, "b.yml", yaml.safe_dump(minimal_layout()))
    with pytest.raises(LayoutError, match=r"b\.yml: name: 'tiny' is already the name of .*a\.yaml"):
        load_layouts(tmp_path)


# ====================================================================== find_layout


def test_project_layouts_load_and_find_the_right_files() -> None:
    layouts = load_layouts(LAYOUTS_DIR)
    assert sorted(layout.name for layout in layouts) == [
        "online_retail",
        "sales_january_2019",
        "superstore",
    ]

    def found(relative_path: str) -> str | None:
        layout = find_layout(relative_path, layouts)
        return layout.name if layout else None

    # a landing sub-folder
    assert found("superstore/2024-01.csv") == "superstore"
    assert found("superstore/archive/2023.csv") == "superstore"
    assert found("online_retail/december.csv") == "online_retail"
    # a file-name pattern, at the top or in any folder
    assert found("Sales_January_2019.csv") == "sales_january_2019"
    assert found("Sales_March_2019.csv") == "sales_january_2019"
    assert found("archive/Sales_March_2019.csv") == "sales_january_2019"
    assert found("superstore_sample.csv") == "superstore"
    assert found("online_retail_sample.csv") == "online_retail"
    # standard files
    assert found("sales_2024_01.csv") is None
    assert found("Sales_March_2020.csv") is None
    assert found("shop/sales.csv") is None
    assert found("superstores/2024.csv") is None


def test_patterns_with_a_folder_match_segment_by_segment_and_conflicts_are_errors() -> None:
    a = Layout.from_dict(minimal_layout(name="a", applies_to={"patterns": ["exports/*.csv"]}), "a.yaml")
    b = Layout.from_dict(minimal_layout(name="b", applies_to={"folder": "exports/b"}), "b.yaml")
    assert find_layout("exports/x.csv", [a, b]) is a
    assert find_layout("exports/b/x.csv", [a, b]) is b
    assert find_layout("exports\\x.csv", [a, b]) is a
    assert find_layout("x.csv", [a, b]) is None
    c = Layout.from_dict(minimal_layout(name="c", applies_to={"patterns": ["*.csv"]}), "c.yaml")
    with pytest.raises(
        LayoutError,
        match=r"exports/x\.csv: matched by more than one layout: a \(a\.yaml\), c \(c\.yaml\)",
    ):
        find_layout("exports/x.csv", [a, b, c])


def test_missing_folder_has_no_layouts(tmp_path: Path) -> None:
    assert load_layouts(tmp_path / "nope") == []


# ====================================================================== expressions, one by one


def contract_of(columns: dict, cells: dict[str, list[str]], **extra) -> tuple[dict[str, list[str]], dict]:
    """Run to_contract on a tiny in-memory chunk; `columns` overrides the minimal layout's."""
    data = minimal_layout(**extra)
    data["columns"].update(columns)
    layout = Layout.from_dict(data)
    header = list(cells)
    arrays = [pa.array(v, pa.string()) for v in cells.values()]
    contract, reasons = layout.to_contract(arrays, header, "tiny.csv")
    assert all(contract[c].type == pa.string() and contract[c].null_count == 0 for c in contract)
    return {k: v.to_pylist() for k, v in contract.items()}, reasons


BASE = {
    "Order": ["1", "2", "3"],
    "Code": ["a", "b", "a"],
    "Qty": ["1", "2", "3"],
    "Price": ["1", "2", "3"],
}


def test_column_trims_and_applies_null_tokens() -> None:
    cells = {**BASE, "Who": [" Ann ", "NA", "N/A"]}
    got, _ = contract_of({"customer_name": {"column": " who "}}, cells, null_tokens=["NA", "N/A"])
    assert got["customer_name"] == ["Ann", "", ""]
    assert got["country"] == ["", "", ""]  # optional columns not given are empty


def test_column_with_an_empty_header() -> None:
    cells = {"": ["7", "8", "9"], **BASE}
    got, _ = contract_of({"transaction_id": {"concat": ["t:", {"column": ""}]}}, cells)
    assert got["transaction_id"] == ["t:7", "t:8", "t:9"]


def test_constant() -> None:
    got, _ = contract_of({"payment_method": {"constant": "paypal"}, "city": {"constant": 7}}, BASE)
    assert got["payment_method"] == ["paypal"] * 3
    assert got["city"] == ["7"] * 3


def test_concat_is_empty_when_a_column_part_is_empty() -> None:
    cells = {**BASE, "Line": ["1", "", "3"]}
    got, _ = contract_of({"transaction_id": {"concat": ["s:", {"column": "Order"}, "-", {"column": "Line"}]}}, cells)
    assert got["transaction_id"] == ["s:1-1", "", "s:3-3"]


def test_coalesce_takes_the_first_non_empty_part() -> None:
    cells = {**BASE, "Id": ["c7", "", ""], "Mail": ["x@y", "m@n", "NA"]}
    got, _ = contract_of(
        {"customer_id": {"coalesce": [{"column": "Id"}, {"column": "Mail"}, "guest"]}},
        cells,
        null_tokens=["NA"],
    )
    assert got["customer_id"] == ["c7", "m@n", "guest"]


def test_upper() -> None:
    cells = {**BASE, "Code": ["15056bl", "15056BL", "x-1"]}
    got, _ = contract_of({"product_name": {"upper": {"column": "Code"}}}, cells)
    assert got["product_name"] == ["15056BL", "15056BL", "X-1"]


def test_split_by_index_from_either_end() -> None:
    cells = {**BASE, "Addr": ["944 Walnut St, Boston, MA 02215", "no commas", ""]}
    got, _ = contract_of(
        {
            "city": {"split": {"column": "Addr", "sep": ",", "index": 1}},
            "country": {"split": {"value": {"upper": {"column": "Addr"}}, "sep": ", ", "index": -1}},
        },
        cells,
    )
    assert got["city"] == ["Boston", "", ""]
    assert got["country"] == ["MA 02215", "NO COMMAS", ""]


def test_multiply_is_exact_and_rounds_half_away_from_zero() -> None:
    cells = {
        "Order": ["1", "2", "3", "4", "5", "6"],
        "Code": ["a"] * 6,
        "Qty": ["3", "1", "-1", "2", "", "x"],
        "Price": ["0.1", "1.005", "2.675", "19.995", "1", "1"],
    }
    got, _ = contract_of({}, cells)
    # Binary floats give 0.30000000000000004, 1.00 (1.00499...) and -2.67; decimals do not.
    assert got["total_amount"] == ["0.30", "1.01", "-2.68", "39.99", "", "NaN"]


def test_divide_rounds_to_digits_and_marks_bad_operands() -> None:
    cells = {
        "Order": ["1", "2", "3", "4", "5", "6"],
        "Code": ["a"] * 6,
        "Qty": ["2", "7", "3", "0", "1", ""],
        "Price": ["1"] * 6,
        "Sales": ["16.448", "20", "1", "5", "abc", "3"],
    }
    got, _ = contract_of(
        {
            "unit_price": {"divide": [{"column": "Sales"}, {"column": "Qty"}]},
            "product_name": {"divide": [{"column": "Sales"}, {"column": "Qty"}], "digits": 4},
        },
        cells,
    )
    assert got["unit_price"] == ["8.22", "2.86", "0.33", "NaN", "NaN", ""]
    assert got["product_name"] == ["8.2240", "2.8571", "0.3333", "NaN", "NaN", ""]


def test_divide_and_multiply_take_number_literals() -> None:
    got, _ = contract_of({"unit_price": {"divide": [{"column": "Price"}, 100], "digits": 3}}, BASE)
    assert got["unit_price"] == ["0.010", "0.020", "0.030"]
    with pytest.raises(LayoutError, match="literal operand 'ten' is not a number"):
        contract_of({"unit_price": {"multiply": [{"column": "Price"}, "ten"]}}, BASE)


def test_round() -> None:
    cells = {**BASE, "Sales": ["16.448", "-2.675", "7"]}
    got, _ = contract_of({"total_amount": {"round": {"column": "Sales"}}}, cells)
    assert got["total_amount"] == ["16.45", "-2.68", "7.00"]
    got, _ = contract_of({"total_amount": {"round": {"column": "Sales"}, "digits": 0}}, cells)
    assert got["total_amount"] == ["16", "-3", "7"]


def test_surrogate_id_is_the_documented_hash() -> None:
    cells = {**BASE, "Code": ["OFF-PA-10000174", "", "OFF-PA-10000174"]}
    got, _ = contract_of({}, cells)
    want = str(expected_surrogate("tiny", "OFF-PA-10000174"))
    assert got["product_id"] == [want, "", want]
    assert SURROGATE_MIN <= int(want) <= SURROGATE_MAX


def test_surrogate_collision_stops_the_file(monkeypatch) -> None:
    from warehouse_assets.ingest import layouts

    monkeypatch.setattr(layouts, "surrogate_id", lambda namespace, code: 1_234_567_890)
    with pytest.raises(SalesFileError, match=r"product codes 'a' and 'b' hash to the same surrogate id 1234567890"):
        contract_of({}, BASE)


def test_row_rules_add_the_layouts_codes_in_rule_order() -> None:
    cells = {
        "Order": ["C1", "2", "3", "4", "5"],
        "Code": ["POST", "a", "b", "a", "post"],
        "Qty": ["-1", "-5", "2", "x", "1"],
        "Price": ["1", "0", "2", "1", "1"],
    }
    rules = [
        {"reason": "cancelled_invoice", "when": {"column": "Order", "matches": "^C"}},
        {
            "reason": "stock_adjustment",
            "when": [{"column": "Order", "not_matches": "^C"}, {"column": "Qty", "less_than": 0}],
        },
        {"reason": "non_product_line", "when": {"column": "Code", "matches": "(?i)^post$"}},
        {"reason": "free_line", "when": {"column": "Price", "equals": "0"}},
        {"reason": "bulk", "when": {"column": "Qty", "greater_than": 1.5}},
    ]
    _, reasons = contract_of({}, cells, row_rules=rules)
    assert reasons == {
        0: ["cancelled_invoice", "non_product_line"],
        1: ["stock_adjustment", "free_line"],
        2: ["bulk"],
        4: ["non_product_line"],
    }


def test_row_rule_codes_reach_the_readers_quarantine(tmp_path: Path) -> None:
    csv_path = tmp_path / "tiny.csv"
    csv_path.write_text("Order,Code,Qty,Price\nC1,a,-1,2\n2,b,3,1.5\n\n2,b,3,1.5\nOrder,Code,Qty,Price\n")
    rules = [{"reason": "cancelled_invoice", "when": {"column": "Order", "matches": "^C"}}]
    layout = Layout.from_dict(minimal_layout(row_rules=rules))
    reader, out = read_through(csv_path, layout)
    s = reader.summary
    assert (s.rows_read, s.rows_valid, s.rows_rejected, s.rows_skipped) == (5, 1, 2, 2)
    assert dict(s.reasons) == {
        "cancelled_invoice": 1,
        "non_positive_quantity": 1,
        "negative_amount": 1,
        "duplicate_transaction": 1,
    }
    bad = out.set_index("line_number")["reasons"]
    assert bad[2] == "{cancelled_invoice,non_positive_quantity,negative_amount}"
    assert bad[5] == "{duplicate_transaction}"
    good = valid_rows(out)
    assert good.loc[3, "total_amount"] == "4.50"
    assert good.loc[3, "product_id"] == expected_surrogate("tiny", "b")


# ====================================================================== dates


def dates_layout(**dates) -> Layout:
    return Layout.from_dict(minimal_layout(dates=dates))


def parsed(layout: Layout, values: list[str]) -> list:
    result = layout.parse_dates(pa.array(values, pa.string()))
    assert str(result.dtype) == "datetime64[ns, UTC]"
    return [None if pd.isna(v) else v.isoformat() for v in result]


def test_dates_formats_in_order_and_day_first() -> None:
    layout = dates_layout(formats=["%d/%m/%y", "%d/%m/%Y %H:%M"], dayfirst=True)
    assert parsed(layout, ["03/01/19", "13/01/2019 10:42", "01/13/19", "", "2019-01-03"]) == [
        "2019-01-03T00:00:00+00:00",
        "2019-01-13T10:42:00+00:00",
        None,
        None,
        None,
    ]


def test_dates_month_first_unpadded_in_a_zone_with_summer_time() -> None:
    layout = dates_layout(formats="%m/%d/%Y %H:%M", timezone="Europe/London")
    assert parsed(layout, ["1/9/2011 11:27", "6/12/2011 12:34", "10/30/2011 1:30", "3/27/2011 1:30"]) == [
        "2011-01-09T11:27:00+00:00",  # GMT
        "2011-06-12T11:34:00+00:00",  # BST
        "2011-10-30T00:30:00+00:00",  # occurs twice: the first (BST) one
        "2011-03-27T01:00:00+00:00",  # does not exist: moved forward to 02:00 BST
    ]


def test_dates_iso_by_default_with_offsets_kept() -> None:
    layout = dates_layout(timezone="America/New_York")
    assert parsed(layout, ["2024-01-02 10:00", "2024-01-02T10:00:00+01:00", "2024-07-01", "nope"]) == [
        "2024-01-02T15:00:00+00:00",
        "2024-01-02T09:00:00+00:00",
        "2024-07-01T04:00:00+00:00",
        None,
    ]


def test_dates_with_an_explicit_offset_format() -> None:
    layout = dates_layout(formats=["%Y-%m-%d %H:%M %z"], timezone="Asia/Tokyo")
    assert parsed(layout, ["2024-01-02 10:00 +0200"]) == ["2024-01-02T08:00:00+00:00"]


def test_no_python_loop_over_rows_for_a_larger_chunk() -> None:
    """Not a benchmark: 200,000 rows of every expression kind must convert in well under the time a
    per-row Python loop with Decimal would need on a slow CI machine."""
    import time

    n = 200_000
    rng = np.random.default_rng(7)
    cells = {
        "Order": [f"{i}" for i in range(n)],
        "Code": [f"P{i % 997}" for i in range(n)],
        "Qty": rng.integers(1, 9, n).astype(str).tolist(),
        "Price": [f"{v:.3f}" for v in rng.uniform(0, 500, n)],
        "Addr": ["1 Main St, Springfield, XX 00000"] * n,
    }
    columns = {
        "unit_price": {"divide": [{"column": "Price"}, {"column": "Qty"}]},
        "total_amount": {"round": {"column": "Price"}},
        "city": {"split": {"column": "Addr", "sep": ",", "index": 1}},
        "customer_id": {"coalesce": [{"column": "Addr"}, "guest"]},
        "product_id": {"surrogate_id": {"upper": {"column": "Code"}}},
    }
    start = time.perf_counter()
    got, _ = contract_of(columns, cells)
    elapsed = time.perf_counter() - start
    assert len(got["unit_price"]) == n
    assert elapsed < 10, f"{elapsed:.1f} s for {n} rows"
