"""The sales file reader and the contract, without a database: rules, reasons, line numbers."""

import datetime as dt
import json
import os
import time
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from pydantic import ValidationError

from warehouse_assets.cli.sample_data import BAD_KINDS, SalesSpec, generate_sales
from warehouse_assets.core import sales_reader
from warehouse_assets.core.contract.sales import SalesTransaction
from warehouse_assets.core.sales_reader import SalesFileError, SalesFileReader
from warehouse_assets_tests.support.paths import HEADER

NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.timezone.utc)


def read_all(path: Path, **kwargs) -> tuple[pd.DataFrame, SalesFileReader]:
    reader = SalesFileReader(path, source_file=path.name, load_time=NOW, earliest=dt.date(2000, 1, 1), **kwargs)
    frames = [t.to_pandas() for t in reader.tables()]
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    return frame, reader


def reasons_by_line(frame: pd.DataFrame) -> dict[int, list[str]]:
    bad = frame[frame["reasons"].notna()]
    return {int(n): list(r) for n, r in zip(bad["line_number"], bad["reasons"])}


def write(tmp_path: Path, text: str, name: str = "f.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def test_every_rule_reports_every_reason_with_its_line(tmp_path):
    rows = [
        "T01,2024-03-05,C1,Ann,Paris,FR,1,2,19.99,39.98,credit_card",  # 2 valid
        ",2024-03-05,,Bo,Rome,IT,1,1,5,5,cash",  # 3 missing transaction_id and customer_id
        "T03,2024-13-45,C1,Ann,Paris,FR,1,1,5,5,cash",  # 4 bad_date
        "T04,2099-01-01,C1,Ann,Paris,FR,1,1,5,5,cash",  # 5 future_date
        "T05,1999-12-31 23:59:59,C1,Ann,Paris,FR,1,1,5,5,cash",  # 6 too_old
        "T06,2024-03-05,C1,Ann,Paris,FR,x1,2.5,abc,5,cash",  # 7 bad_number (three fields)
        "T07,2024-03-05,C1,Ann,Paris,FR,1,0,5,0,cash",  # 8 non_positive_quantity
        "T08,2024-03-05,C1,Ann,Paris,FR,1,1,-5,-5,cash",  # 9 negative_amount
        "T09,2024-03-05,C1,Ann,Paris,FR,1,2,5.00,10.02,cash",  # 10 amount_mismatch (2 cents)
        "T10,2024-03-05,C1,Ann,Paris,FR,1,2,5.00,10.01,cash",  # 11 valid: 1 cent is tolerated
        "T11,2024-03-05,C1,Ann,Paris,FR,1,1,5,5,bitcoin",  # 12 bad_payment_method
        "T01,2024-03-06,C2,Cy,Oslo,NO,2,1,5,5,paypal",  # 13 repeats line 2's id: judged by the load
        "T13,garbage,C1,Ann,Paris,FR,1,0,-1,3,IOU",  # 14 several at once
        "T14,2024-03-05T10:00:00+02:00,C3,Di,Lima,PE,3,1,5,5,Bank Transfer",  # 15 valid, offset
        "T15,2024-03-05 23:30:00,C3,Di,Lima,,3,1,5,5,Debit-Card",  # 16 valid, empty country
    ]
    path = write(tmp_path, HEADER + "\n" + "\n".join(rows) + "\n")
    frame, reader = read_all(path)
    assert reasons_by_line(frame) == {
        3: ["missing_field"],
        4: ["bad_date"],
        5: ["future_date"],
        6: ["too_old"],
        7: ["bad_number"],
        8: ["non_positive_quantity"],
        9: ["negative_amount"],
        10: ["amount_mismatch"],
        12: ["bad_payment_method"],
        14: ["bad_date", "non_positive_quantity", "negative_amount", "amount_mismatch", "bad_payment_method"],
    }
    valid = frame[frame["reasons"].isna()].set_index("line_number")
    assert sorted(valid.index) == [2, 11, 13, 15, 16]
    assert valid.loc[15, "transaction_ts"] == pd.Timestamp("2024-03-05 08:00:00", tz="UTC")
    assert valid.loc[15, "payment_method"] == "bank_transfer"
    assert valid.loc[16, "payment_method"] == "debit_card"
    assert valid.loc[16, "date_key"] == 20240305
    assert pd.isna(valid.loc[16, "country"])
    assert valid.loc[2, "unit_price"] == Decimal("19.99")  # parsed as a decimal, never as a float
    # The raw record of a rejected row is the row as read, under the file's own header names.
    raw = json.loads(frame.set_index("line_number").loc[12, "raw_record"])
    assert raw["payment_method"] == "bitcoin" and raw["transaction_id"] == "T11"
    s = reader.summary
    assert (s.lines_read, s.records_read, s.rows_valid, s.rows_rejected, s.noise_lines) == (15, 15, 5, 10, 0)


def test_header_is_matched_loosely_and_extra_columns_reported(tmp_path):
    text = (
        "\ufeff Payment Method ,Total_Amount,UNIT PRICE,quantity,Product ID,City,Customer Name,"
        "customer-id,Transaction Date,Transaction_ID,store_code\r\n"
        "Cash,10.00,5.00,2,7,Paris,Ann,C1,2024-05-01 10:00:00,T1,S9\r\n"
    )
    frame, reader = read_all(write(tmp_path, text))
    assert reader.summary.extra_columns == ["store_code"]
    row = frame.iloc[0]
    assert (row["transaction_id"], row["customer_id"], row["product_id"], row["quantity"]) == ("T1", "C1", 7, 2)
    assert row["total_amount"] == Decimal("10.00") and row["payment_method"] == "cash"


def test_missing_required_columns_are_named(tmp_path):
    path = write(tmp_path, "transaction_id,transaction_date,customer_id\nT1,2024-01-01,C1\n", "short.csv")
    with pytest.raises(SalesFileError) as err:
        SalesFileReader(path, source_file="short.csv", load_time=NOW, earliest=dt.date(2000, 1, 1))
    message = str(err.value)
    assert "short.csv" in message
    for column in ("product_id", "quantity", "unit_price", "total_amount", "payment_method", "customer_name", "city"):
        assert column in message
    assert "country" not in message.split("found")[0]  # optional


def test_not_csv_at_all_fails_clearly(tmp_path):
    path = tmp_path / "picture.csv"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe")
    with pytest.raises(SalesFileError, match="picture.csv"):
        SalesFileReader(path, source_file="picture.csv", load_time=NOW, earliest=dt.date(2000, 1, 1))
    html = write(tmp_path, "<html><body>502 Bad Gateway</body></html>\n", "page.csv")
    with pytest.raises(SalesFileError, match="page.csv: line 1: header lacks required column"):
        SalesFileReader(html, source_file="page.csv", load_time=NOW, earliest=dt.date(2000, 1, 1))
    empty = write(tmp_path, "", "empty.csv")
    with pytest.raises(SalesFileError, match="empty.csv: line 1: no header row"):
        SalesFileReader(empty, source_file="empty.csv", load_time=NOW, earliest=dt.date(2000, 1, 1))


def test_header_only_file_reads_zero_rows(tmp_path):
    frame, reader = read_all(write(tmp_path, HEADER + "\n"))
    assert frame.empty and reader.summary.records_read == 0 and reader.summary.lines_read == 0


def test_line_numbers_survive_quoted_newlines_noise_and_malformed_lines(tmp_path):
    text = (
        "\n".join(
            [
                HEADER,
                'T1,2024-01-01,C1,"Ann\nMarie",Paris,FR,1,1,5,5,cash',  # lines 2-3
                "",  # 4 blank
                "T2,2024-01-01,C1,Ann,Paris,FR,1,1,5,5",  # 5 one field short
                HEADER.upper(),  # 6 repeated header
                "T3,2024-01-01,C1,Ann,Paris,FR,1,1,5,5,cash,extra",  # 7 one field too many
                "T4,2024-01-01,C1,Ann,Paris,FR,1,1,5,6,cash",  # 8 amount mismatch
                ",,,,,,,,,,",  # 9 a row of empty fields: data, not a blank line
                "transaction_id,2024-01-01,C1,Ann,Paris,FR,1,1,5,5,cash",  # 10 only its first field is the header's
            ]
        )
        + "\n"
    )
    frame, reader = read_all(write(tmp_path, text))
    assert reasons_by_line(frame) == {
        5: ["malformed_row"],
        7: ["malformed_row"],
        8: ["amount_mismatch"],
        9: ["missing_field"],
    }
    t1 = frame[frame["transaction_id"] == "T1"]
    assert t1["line_number"].tolist() == [2] and t1["line_count"].tolist() == [2]
    assert t1["customer_name"].tolist() == ["Ann\nMarie"]
    s = reader.summary
    assert dict(s.noise) == {"blank_line": 1, "repeated_header": 1}
    assert (s.lines_read, s.records_read, s.rows_valid, s.rows_rejected, s.noise_lines) == (9, 6, 2, 4, 2)
    assert frame.set_index("line_number").loc[10, "transaction_id"] == "transaction_id"
    raw = json.loads(frame.set_index("line_number").loc[5, "raw_record"])
    assert (
        raw["raw_line"] == "T2,2024-01-01,C1,Ann,Paris,FR,1,1,5,5" and "expected 11 fields, found 10" in raw["problem"]
    )
    # Every physical line is accounted for, by line.
    assert s.lines_read == int(frame["line_count"].sum()) + s.noise_lines


def test_generated_file_reasons_match_what_was_planted_across_blocks(tmp_path):
    generated = generate_sales(tmp_path / "gen.csv", SalesSpec(rows=30_000, customers=500, bad_share=0.05, seed=3))
    assert set(map(tuple, generated.planted.values())) == set(BAD_KINDS.values())
    frame, reader = read_all(generated.path, read_bytes=64 << 10)
    # Every planted reason but the repeated id, which the load judges (db/test_sales_load.py).
    row_rules = {line: reasons for line, reasons in generated.planted.items() if reasons != ("duplicate_transaction",)}
    assert {k: tuple(v) for k, v in reasons_by_line(frame).items()} == row_rules
    independent = pd.read_csv(generated.path, dtype=str, keep_default_na=False)
    assert reader.summary.records_read == len(independent) == len(frame)
    assert sorted(frame["line_number"]) == list(range(2, len(independent) + 2))


def test_rounding_to_cents_is_judged_as_stored(tmp_path):
    # 19.995 is stored as 20.00 (half away from zero): 10 x 19.995 = 199.95 agrees with the
    # source, but not with what would be stored (10 x 20.00 = 200.00), so it must be rejected;
    # 2.675 rounds to 2.68 as its text does, although the binary float is 2.67499999...
    rows = ["T1,2024-01-01,C1,A,B,C,1,10,19.995,199.95,cash", "T2,2024-01-01,C1,A,B,C,1,1,2.675,2.68,cash"]
    frame, _ = read_all(write(tmp_path, HEADER + "\n" + "\n".join(rows) + "\n"))
    assert reasons_by_line(frame) == {2: ["amount_mismatch"]}


def test_pydantic_model_gives_the_same_verdict_as_the_column_rules():
    good = dict(zip(HEADER.split(","), "T1,2024-03-05 10:00:00,C1,Ann,Paris,FR,3,2,19.99,39.98,Credit Card".split(",")))
    tx = SalesTransaction.model_validate(good)
    assert tx.payment_method == "credit_card" and str(tx.total_amount) == "39.98"
    assert tx.transaction_date == dt.datetime(2024, 3, 5, 10, tzinfo=dt.timezone.utc)
    with pytest.raises(ValidationError) as err:
        SalesTransaction.model_validate({**good, "quantity": "0", "payment_method": "bitcoin"})
    assert err.value.errors()[0]["ctx"]["reasons"] == "non_positive_quantity,amount_mismatch,bad_payment_method"


def test_a_nul_character_makes_a_row_malformed_not_a_failed_file(tmp_path):
    rows = ["T1,2024-01-01,C1,A\x00B,P,F,1,1,5,5,cash", "T2,2024-01-01,C1,AB,P,F,1,1,5,5,cash"]
    frame, _ = read_all(write(tmp_path, HEADER + "\n" + "\n".join(rows) + "\n"))
    assert reasons_by_line(frame) == {2: ["malformed_row"]}
    raw = json.loads(frame.set_index("line_number").loc[2, "raw_record"])
    assert raw["raw_line"] == "T1,2024-01-01,C1,A\ufffdB,P,F,1,1,5,5,cash" and "NUL" in raw["problem"]
    assert "\x00" not in "".join(str(v) for v in frame.to_numpy().ravel())


def test_blocks_judged_side_by_side_give_what_one_at_a_time_gives(tmp_path, monkeypatch):
    """Blocks are judged in threads: the rows come out in the file's order and every count of the
    summary is what reading one block at a time counts."""
    generated = generate_sales(tmp_path / "gen.csv", SalesSpec(rows=20_000, customers=300, bad_share=0.05, seed=9))
    text = generated.path.read_text(encoding="utf-8").splitlines(keepends=True)
    # Noise between the blocks too: blank lines and a repeated header.
    generated.path.write_text("".join(text[:5000] + ["\n", text[0]] + text[5000:]), encoding="utf-8")

    def read(threads: int):
        monkeypatch.setattr(sales_reader, "READ_THREADS", threads)
        return read_all(generated.path, read_bytes=32 << 10)

    (alone, alone_reader), (together, together_reader) = read(1), read(2)
    assert together.equals(alone)
    assert together_reader.summary == alone_reader.summary
    assert together_reader.summary.noise_lines == 2 and together_reader.summary.rows_rejected > 0


def test_staged_rows_carry_their_amounts_in_whole_cents_and_rejected_rows_none(tmp_path):
    text = "\n".join(
        [
            HEADER,
            "T1,2024-01-01,C1,Ann,Paris,FR,1,3,19.99,59.97,cash",
            "T2,2024-01-01,C1,Ann,Paris,FR,1,1,0.10,0.10,cash",
            "T3,2024-01-01,C1,Ann,Paris,FR,1,2,5,99,cash",  # amount mismatch: rejected
        ]
    )
    frame, _ = read_all(write(tmp_path, text + "\n"))
    rows = frame.set_index("transaction_id")
    assert rows.loc[["T1", "T2"], ["total_cents", "unit_price_cents", "discount_cents"]].to_dict("list") == {
        "total_cents": [5997, 10],
        "unit_price_cents": [1999, 10],
        "discount_cents": [0, 0],
    }
    assert rows.loc["T3", ["total_cents", "unit_price_cents", "discount_cents"]].isna().all()


def test_a_file_modified_just_before_it_is_opened_keeps_no_modification_time(tmp_path):
    recent = write(tmp_path, HEADER + "\n", name="recent.csv")
    settled = write(tmp_path, HEADER + "\n", name="settled.csv")
    os.utime(settled, (time.time() - 60, time.time() - 60))
    _, reader = read_all(recent)
    assert reader.summary.mtime_ns is None
    _, reader = read_all(settled)
    assert reader.summary.mtime_ns == settled.stat().st_mtime_ns
