"""One bad row never refuses the rest of its file: every limit is a row's reason, named by line.

Each case is a value or a line that used to fail a whole file (a database error, a parser error),
placed in an otherwise valid file; the bad line is quarantined with its reason and line number,
every other line loads, and the lines reconcile one by one.
"""

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pytest

from warehouse_assets.core.contract.limits import MAX_RECORD_BYTES, MAX_RECORD_LINES
from warehouse_assets.core.sales_reader import SalesFileReader
from warehouse_assets_tests.support.paths import HEADER

NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.timezone.utc)


def good_line(i: int) -> str:
    return f"T{i:06d},2024-03-05 10:00:00,C{i % 7},Ann,Paris,FR,1,2,5.00,10.00,cash"


def file_with(
    tmp_path: Path, bad: dict[int, str], total: int = 200, encoding_bytes: dict[int, bytes] | None = None
) -> Path:
    """A file of `total` data lines, line numbers from 2, with the given lines replaced."""
    lines = [HEADER.encode()]
    for line_number in range(2, total + 2):
        if encoding_bytes and line_number in encoding_bytes:
            lines.append(encoding_bytes[line_number])
        else:
            lines.append(bad.get(line_number, good_line(line_number)).encode())
    path = tmp_path / "f.csv"
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def read(path: Path, **kw) -> tuple[pd.DataFrame, SalesFileReader]:
    reader = SalesFileReader(path, source_file="f.csv", load_time=NOW, earliest=dt.date(2000, 1, 1), **kw)
    frame = pd.concat([t.to_pandas() for t in reader.tables()], ignore_index=True)
    return frame, reader


def quarantined(frame: pd.DataFrame) -> dict[int, list[str]]:
    bad = frame[frame["reasons"].notna()]
    return {int(n): list(r) for n, r in zip(bad["line_number"], bad["reasons"])}


def assert_reconciles(frame: pd.DataFrame, reader: SalesFileReader) -> None:
    s = reader.summary
    assert s.lines_read == int(frame["line_count"].sum()) + s.noise_lines
    covered = sorted(
        n for start, count in zip(frame["line_number"], frame["line_count"]) for n in range(start, start + count)
    )
    assert covered == list(range(2, 2 + s.lines_read - s.noise_lines)), "every line once"


@pytest.mark.parametrize(
    ("value_line", "reason"),
    [
        # numeric(12, 2) holds up to 9,999,999,999.99; one cent more is not a price it can store.
        ("T000050,2024-03-05,C1,Ann,Paris,FR,1,1,10000000000,10000000000,cash", "bad_number"),
        ("T000050,2024-03-05,C1,Ann,Paris,FR,1,1,9999999999.995,9999999999.99,cash", "bad_number"),
        ("T000050,2024-03-05,C1,Ann,Paris,FR,1,2147483648,1,2147483648,cash", "bad_number"),
        ("T000050,2024-03-05,C1,Ann,Paris,FR,1,1,1,1000000000000,cash", "bad_number"),
        # An id longer than a btree entry could index.
        ("T" + "x" * 10_000 + ",2024-03-05,C1,Ann,Paris,FR,1,1,5,5,cash", "field_too_long"),
        ("T000050,2024-03-05,C" + "y" * 10_000 + ",Ann,Paris,FR,1,1,5,5,cash", "field_too_long"),
        # Partial or basic-format dates are not dates; years outside the contract are too old or late.
        ("T000050,2024,C1,Ann,Paris,FR,1,1,5,5,cash", "bad_date"),
        ("T000050,2024-03,C1,Ann,Paris,FR,1,1,5,5,cash", "bad_date"),
        ("T000050,20240305,C1,Ann,Paris,FR,1,1,5,5,cash", "bad_date"),
        ("T000050,0001-01-01,C1,Ann,Paris,FR,1,1,5,5,cash", "too_old"),
        ("T000050,9999-12-31,C1,Ann,Paris,FR,1,1,5,5,cash", "future_date"),
    ],
)
def test_a_value_beyond_its_column_is_the_rows_reason(tmp_path, value_line, reason):
    frame, reader = read(file_with(tmp_path, {50: value_line}))
    assert quarantined(frame) == {50: [reason]}
    assert reader.summary.rows_valid == 199
    assert_reconciles(frame, reader)


def test_a_line_longer_than_the_readers_limit_is_quarantined_alone(tmp_path):
    long_line = "T000100,2024-03-05,C1," + "A" * (MAX_RECORD_BYTES + 10) + ",Paris,FR,1,1,5,5,cash"
    frame, reader = read(file_with(tmp_path, {100: long_line}))
    assert quarantined(frame) == {100: ["malformed_row"]}
    raw = json.loads(frame.set_index("line_number").loc[100, "raw_record"])
    assert "longer than the reader's limit" in raw["problem"] and len(raw["raw_line"]) < 5_000
    assert reader.summary.rows_valid == 199
    assert_reconciles(frame, reader)


def test_a_stray_quote_early_in_a_large_file_costs_one_line(tmp_path):
    stray = 'T000003,2024-03-05,C1,"Ann,Paris,FR,1,1,5,5,cash'
    frame, reader = read(file_with(tmp_path, {3: stray}, total=20_000), read_bytes=64 << 10)
    assert quarantined(frame) == {3: ["malformed_row"]}
    assert "unbalanced quote" in json.loads(frame.set_index("line_number").loc[3, "raw_record"])["problem"]
    assert reader.summary.rows_valid == 19_999
    assert_reconciles(frame, reader)


def test_a_stray_quote_near_the_end_does_not_swallow_the_last_lines(tmp_path):
    stray = 'T000190,2024-03-05,C1,"Ann,Paris,FR,1,1,5,5,cash'
    frame, reader = read(file_with(tmp_path, {190: stray}))
    assert quarantined(frame) == {190: ["malformed_row"]}
    assert sorted(frame.loc[frame["reasons"].isna(), "line_number"])[-10:] == list(range(192, 202))
    assert_reconciles(frame, reader)


def test_a_quoted_value_may_span_lines_up_to_the_limit(tmp_path):
    address = "\n".join("a" for _ in range(MAX_RECORD_LINES - 1))
    frame, reader = read(file_with(tmp_path, {10: f'T000010,2024-03-05,C1,"{address}",Paris,FR,1,1,5,5,cash'}))
    row = frame.set_index("line_number").loc[10]
    assert pd.isna(row["reasons"]) and row["line_count"] == MAX_RECORD_LINES - 1
    assert_reconciles(frame, reader)


@pytest.mark.parametrize("line_number", [2, 3, 150])
def test_a_byte_that_is_not_utf8_quarantines_its_line_and_names_it(tmp_path, line_number):
    cp1252 = good_line(line_number).replace("Ann", "Ren\xe9e").encode("cp1252")
    frame, reader = read(file_with(tmp_path, {}, encoding_bytes={line_number: cp1252}))
    assert quarantined(frame) == {line_number: ["bad_encoding"]}
    raw = json.loads(frame.set_index("line_number").loc[line_number, "raw_record"])
    assert "Ren\\xe9e" in raw["raw_line"] and "utf-8" in raw["problem"]
    assert_reconciles(frame, reader)
