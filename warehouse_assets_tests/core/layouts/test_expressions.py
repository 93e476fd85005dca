"""The layout expression language, one expression at a time, and the layout's dates and row rules."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from warehouse_assets.core.layouts.expressions import SURROGATE_MAX, SURROGATE_MIN
from warehouse_assets.core.layouts.layout import FileLayoutError, Layout, LayoutError
from warehouse_assets_tests.support.layouts import minimal_layout
from warehouse_assets_tests.support.realdata_oracle import expected_surrogate, read_through, valid_rows


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
    from warehouse_assets.core.layouts import layout

    monkeypatch.setattr(layout, "surrogate_id", lambda namespace, code: 1_234_567_890)
    with pytest.raises(FileLayoutError, match=r"product codes 'a' and 'b' hash to the same surrogate id 1234567890"):
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
    assert (s.lines_read, s.records_read, s.rows_valid, s.rows_rejected, s.noise_lines) == (5, 3, 2, 1, 2)
    assert dict(s.reasons) == {
        "cancelled_invoice": 1,
        "non_positive_quantity": 1,
        "negative_amount": 1,
    }
    bad = out.set_index("line_number")["reasons"]
    assert list(bad[2]) == ["cancelled_invoice", "non_positive_quantity", "negative_amount"]
    assert pd.isna(bad[5])  # line 3's twin: a repeated id is the load's to judge
    good = valid_rows(out)
    assert good.loc[3, "total_amount"] == Decimal("4.50")
    assert good.loc[3, "product_id"] == expected_surrogate("tiny", "b")


# ====================================================================== dates


def dates_layout(**dates) -> Layout:
    return Layout.from_dict(minimal_layout(dates=dates))


def parsed(layout: Layout, values: list[str]) -> list:
    result = layout.parse_dates(pa.array(values, pa.string()))
    assert result.type == pa.timestamp("us", tz="UTC")
    return [None if v is None else v.isoformat() for v in result.to_pylist()]


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
