"""Source layouts as YAML: every error names the file and the field; which file a layout reads."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from warehouse_assets.core.layouts.discovery import find_layout, load_layout, load_layouts
from warehouse_assets.core.layouts.layout import Layout, LayoutError
from warehouse_assets.core.sales_reader import SalesFileError, SalesFileReader
from warehouse_assets_tests.support.layouts import minimal_layout
from warehouse_assets_tests.support.realdata_oracle import EARLIEST, LAYOUTS_DIR, LOAD_TIME, real_file


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
    assert 'matches: "^[0-9]"' in text
    path = _write(tmp_path, "online_retail.yaml", text.replace('matches: "^[0-9]"', 'matches: "^(C"'))
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
    data = minimal_layout()
    change(data)
    path = _write(tmp_path, "tiny.yaml", yaml.safe_dump(data))
    with pytest.raises(LayoutError) as err:
        load_layout(path)
    assert f"{path}: " in str(err.value)
    assert expected in str(err.value)


def test_invalid_yaml_and_duplicate_names(tmp_path: Path) -> None:
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
