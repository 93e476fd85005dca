"""Reading a sales CSV file: header check, streaming in chunks, validation, exact line numbers.

The file is streamed with Arrow's CSV reader, one chunk of rows at a time, so memory does not
grow with the file. Every physical data line ends in exactly one place: a valid row, a rejected
row (with all its reason codes and its 1-based line number), or counted structural noise (blank
lines, repeated header rows). Lines that do not split into the header's columns are rejected as
`malformed_row` with their text.

A source layout (see `layouts.py`) may rename columns, compute missing ones, parse other date
formats, and declare null tokens and row filters; without one, the standard contract applies.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from warehouse_assets.contract import (
    REQUIRED_COLUMNS,
    SALES_COLUMNS,
    Noise,
    Reason,
    SeenIds,
    _mask,
    normalise_header,
    validate_sales,
)

if TYPE_CHECKING:
    from warehouse_assets.ingest.layouts import Layout

RAW_SALES_COLUMNS: tuple[str, ...] = (
    "source_file",
    "line_number",
    "transaction_id",
    "transaction_ts",
    "date_key",
    "customer_id",
    "customer_name",
    "city",
    "country",
    "product_id",
    "product_name",
    "quantity",
    "unit_price",
    "total_amount",
    "payment_method",
    "reasons",
    "raw_record",
)

RAW_SALES_SCHEMA = pa.schema(
    [
        ("source_file", pa.string()),
        ("line_number", pa.int64()),
        ("transaction_id", pa.string()),
        ("transaction_ts", pa.timestamp("us", tz="UTC")),
        ("date_key", pa.int32()),
        ("customer_id", pa.string()),
        ("customer_name", pa.string()),
        ("city", pa.string()),
        ("country", pa.string()),
        ("product_id", pa.int64()),
        ("product_name", pa.string()),
        ("quantity", pa.int64()),
        ("unit_price", pa.string()),  # the text as given: exact, PostgreSQL parses it as numeric
        ("total_amount", pa.string()),
        ("payment_method", pa.string()),
        ("reasons", pa.string()),  # a PostgreSQL array literal, e.g. {bad_date,missing_field}
        ("raw_record", pa.string()),  # JSON
    ]
)
assert RAW_SALES_SCHEMA.names == list(RAW_SALES_COLUMNS)

# Arrow's CSV parser needs many times its block size in working memory (measured: a 4 MB
# block peaked at 160 MB, a 1 MB block at 40 MB), so blocks stay small; chunks are built from
# several blocks.
_BLOCK_BYTES = 1 << 20


class SalesFileError(ValueError):
    """A sales file that cannot be loaded at all; the message names the file (and line/field)."""


@dataclass
class SalesFileSummary:
    """What reading one file found; filled in while the file streams."""

    source_file: str
    layout: str = "standard"
    size_bytes: int = 0
    fingerprint: str = ""
    rows_read: int = 0
    rows_valid: int = 0
    rows_rejected: int = 0
    rows_skipped: int = 0
    skipped: Counter = field(default_factory=Counter)
    reasons: Counter = field(default_factory=Counter)
    extra_columns: list[str] = field(default_factory=list)
    min_date: dt.date | None = None
    max_date: dt.date | None = None

    def as_dict(self) -> dict:
        return {
            "source_file": self.source_file,
            "layout": self.layout,
            "rows_read": self.rows_read,
            "rows_valid": self.rows_valid,
            "rows_rejected": self.rows_rejected,
            "rows_skipped": self.rows_skipped,
            "skipped": dict(self.skipped),
            "reasons": dict(self.reasons),
            "extra_columns": self.extra_columns,
        }


def file_fingerprint(path: Path) -> tuple[int, str]:
    """(size in bytes, sha256 of the content): a file is 'changed' when either changes."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
            size += len(block)
    return size, digest.hexdigest()


@dataclass(frozen=True)
class CsvDialect:
    delimiter: str = ","
    quote_char: str = '"'
    encoding: str = "utf-8"


def read_header(path: Path, dialect: CsvDialect, source_file: str) -> list[str]:
    """The header row's cells, as written (BOM removed)."""
    try:
        with open(path, encoding=dialect.encoding, newline="") as fh:
            first = fh.readline()
    except UnicodeDecodeError as exc:
        raise SalesFileError(
            f"{source_file}: line 1: not {dialect.encoding} text ({exc.reason} at byte {exc.start})"
        ) from exc
    first = first.lstrip("\ufeff")
    if not first.strip():
        raise SalesFileError(f"{source_file}: line 1: no header row (the file is empty or starts blank)")
    try:
        cells = next(csv.reader(io.StringIO(first), delimiter=dialect.delimiter, quotechar=dialect.quote_char))
    except csv.Error as exc:
        raise SalesFileError(f"{source_file}: line 1: header is not CSV ({exc})") from exc
    return [c.strip() for c in cells]


def map_standard_header(header: list[str], source_file: str) -> tuple[dict[str, int], list[str]]:
    """Contract column -> position in the file, and the extra columns; fails on missing ones."""
    positions: dict[str, int] = {}
    extra: list[str] = []
    for i, name in enumerate(header):
        key = normalise_header(name)
        if key in SALES_COLUMNS:
            if key in positions:
                raise SalesFileError(
                    f"{source_file}: line 1: column {name!r} appears twice (as {header[positions[key]]!r} and {name!r})"
                )
            positions[key] = i
        else:
            extra.append(name)
    missing = [c for c in REQUIRED_COLUMNS if c not in positions]
    if missing:
        raise SalesFileError(
            f"{source_file}: line 1: header lacks required column(s) {', '.join(missing)}; "
            f"found {', '.join(repr(h) for h in header) or 'nothing'}"
        )
    return positions, extra


def _pg_array(reasons: list[str]) -> str:
    return "{" + ",".join(reasons) + "}"


class SalesFileReader:
    """Streams one sales file as Arrow tables shaped like `warehouse.raw_sales`.

    Iterate `chunks()` once; `summary` is complete when the iteration ends. Arrow all the way
    (parse, validate, serialise for COPY) keeps the per-row cost in C++.
    """

    def __init__(
        self,
        path: Path,
        *,
        source_file: str,
        load_time: dt.datetime,
        earliest: dt.date,
        chunk_rows: int = 200_000,
        layout: Layout | None = None,
    ):
        self.path = Path(path)
        self.source_file = source_file
        self.load_time = load_time
        self.earliest = earliest
        self.chunk_rows = chunk_rows
        self.layout = layout
        self.summary = SalesFileSummary(source_file=source_file, layout=layout.name if layout else "standard")
        self.dialect = layout.dialect if layout else CsvDialect()
        self.header = read_header(self.path, self.dialect, source_file)
        if layout:
            layout.check_header(self.header, source_file)
            self.summary.extra_columns = layout.unused_columns(self.header)
        else:
            self.positions, self.summary.extra_columns = map_standard_header(self.header, source_file)
        self.summary.size_bytes, self.summary.fingerprint = file_fingerprint(self.path)

    # ------------------------------------------------------------------ streaming

    def _batches(self, bad_lines: list[tuple[int, str]]) -> Iterator[pa.RecordBatch]:
        names = [f"c{i}" for i in range(len(self.header))]

        def on_invalid(row) -> str:
            bad_lines.append((row.number, row.text))
            return "skip"

        try:
            # A plain buffered stream, not a memory map: mapped file pages count as the loader's
            # resident memory, which would then grow with the size of the file.
            source = pa.input_stream(str(self.path), buffer_size=1 << 20)
            reader = pacsv.open_csv(
                source,
                read_options=pacsv.ReadOptions(
                    skip_rows=1,
                    column_names=names,
                    block_size=max(64 << 10, min(_BLOCK_BYTES, self.chunk_rows * 64)),
                    use_threads=False,  # keeps the line numbers of invalid rows known
                    encoding=self.dialect.encoding,
                ),
                parse_options=pacsv.ParseOptions(
                    delimiter=self.dialect.delimiter,
                    quote_char=self.dialect.quote_char,
                    newlines_in_values=True,
                    ignore_empty_lines=False,
                    invalid_row_handler=on_invalid,
                ),
                convert_options=pacsv.ConvertOptions(
                    column_types={n: pa.string() for n in names},
                    strings_can_be_null=False,
                    quoted_strings_can_be_null=False,
                ),
            )
            yield from reader
        except pa.ArrowInvalid as exc:
            if "Empty CSV file" in str(exc):
                return
            raise SalesFileError(f"{self.source_file}: cannot be read as CSV: {exc}") from exc

    def chunks(self) -> Iterator[pa.Table]:
        bad_lines: list[tuple[int, str]] = []
        pending: list[pa.RecordBatch] = []
        pending_rows = 0
        # Arrow numbers rows, not lines: the header is row 1 and a quoted value with a line break
        # still counts as one row. Physical lines are rows plus the line breaks inside earlier
        # rows, which _line_numbers carries from chunk to chunk.
        self._next_row = 2
        self._newlines_before = 0
        self._seen_ids = SeenIds()
        for batch in self._batches(bad_lines):
            pending.append(batch)
            pending_rows += batch.num_rows
            if pending_rows >= self.chunk_rows:
                table = pa.Table.from_batches(pending)
                while table.num_rows >= self.chunk_rows:
                    yield from self._process(table.slice(0, self.chunk_rows), bad_lines)
                    table = table.slice(self.chunk_rows)
                pending, pending_rows = table.to_batches(), table.num_rows
        if pending_rows:
            yield from self._process(pa.Table.from_batches(pending), bad_lines)
        if bad_lines:  # unparseable lines after the last parsed row
            _, malformed = self._line_numbers(None, bad_lines)
            yield self._malformed_table(malformed)

    def _line_numbers(
        self, table: pa.Table | None, bad_lines: list[tuple[int, str]]
    ) -> tuple[np.ndarray, list[tuple[int, str]]]:
        """The physical starting line of each parsed row of this chunk, and the (line, text) of
        the unparseable rows Arrow skipped among or before them (removed from `bad_lines`)."""
        n = table.num_rows if table is not None else 0
        newlines = np.zeros(n, dtype=np.int64)
        if table is not None:
            for col in table.columns:
                newlines += pc.fill_null(pc.count_substring(col, "\n"), 0).to_numpy(zero_copy_only=False)
        rows = self._next_row + np.arange(n, dtype=np.int64)
        bad_lines.sort()
        skipped: list[tuple[int, str]] = []
        while bad_lines and (table is None or (n and bad_lines[0][0] <= rows[-1])):
            number, text = bad_lines.pop(0)
            rows[rows >= number] += 1
            skipped.append((number, text))
        all_rows = np.concatenate([rows, np.array([r for r, _ in skipped], dtype=np.int64)])
        all_newlines = np.concatenate([newlines, np.array([t.count("\n") for _, t in skipped], dtype=np.int64)])
        order = np.argsort(all_rows, kind="stable")
        before = np.empty_like(all_rows)
        ordered_newlines = all_newlines[order]
        before[order] = self._newlines_before + np.concatenate(([0], np.cumsum(ordered_newlines)[:-1]))
        lines = all_rows + before
        if all_rows.size:
            self._next_row = int(all_rows.max()) + 1
            self._newlines_before += int(all_newlines.sum())
        return lines[:n], [(int(lines[n + i]), text) for i, (_, text) in enumerate(skipped)]

    def _malformed_table(self, bad: list[tuple[int, str]]) -> pa.Table:
        n = len(bad)
        self.summary.rows_read += n
        self.summary.rows_rejected += n
        self.summary.reasons[Reason.MALFORMED_ROW.value] += n
        columns = {name: pa.nulls(n, field.type) for name, field in zip(RAW_SALES_SCHEMA.names, RAW_SALES_SCHEMA)}
        columns["source_file"] = pa.repeat(pa.scalar(self.source_file), n)
        columns["line_number"] = pa.array([b[0] for b in bad], pa.int64())
        columns["reasons"] = pa.repeat(pa.scalar(_pg_array([Reason.MALFORMED_ROW.value])), n)
        columns["raw_record"] = pa.array(
            [json.dumps({"raw_line": b[1].replace("\x00", "\ufffd")}, ensure_ascii=False) for b in bad]
        )
        return pa.table(columns, schema=RAW_SALES_SCHEMA)

    def _process(self, table: pa.Table, bad_lines: list[tuple[int, str]]) -> Iterator[pa.Table]:
        starts, malformed = self._line_numbers(table, bad_lines)
        if malformed:
            yield self._malformed_table(malformed)
        n = table.num_rows
        if not n:
            return
        self.summary.rows_read += n
        cells = [pc.utf8_trim_whitespace(col.combine_chunks()) for col in table.columns]

        # Structural noise: blank lines and header rows repeated inside the file.
        blank = np.logical_and.reduce([_mask(pc.equal(c, "")) for c in cells])
        named = [(c, h.lower()) for c, h in zip(cells, self.header) if h]
        header_again = (
            np.logical_and.reduce([_mask(pc.equal(pc.utf8_lower(c), h)) for c, h in named])
            if named
            else np.zeros(n, bool)
        ) & ~blank
        noise = blank | header_again
        if noise.any():
            self.summary.skipped[Noise.BLANK_LINE.value] += int(blank.sum())
            self.summary.skipped[Noise.REPEATED_HEADER.value] += int(header_again.sum())
            self.summary.rows_skipped += int(noise.sum())
            keep = pa.array(~noise)
            cells = [c.filter(keep) for c in cells]
            starts = starts[~noise]
            n = len(starts)
            if not n:
                return

        # PostgreSQL text cannot hold NUL: such a row is malformed (quarantined), and its cells
        # are shown with U+FFFD in the quarantine so that the row itself can still be stored.
        nul = np.logical_or.reduce([_mask(pc.match_substring(c, "\x00")) for c in cells])
        if nul.any():
            cells = [pc.replace_substring(c, "\x00", "\ufffd") for c in cells]

        if self.layout:
            contract, layout_reasons = self.layout.to_contract(cells, self.header, self.source_file)
        else:
            contract = {
                c: cells[self.positions[c]] if c in self.positions else pa.repeat(pa.scalar("", pa.string()), n)
                for c in SALES_COLUMNS
            }
            layout_reasons = None
        outcome = validate_sales(
            contract,
            load_time=self.load_time,
            earliest=self.earliest,
            seen_ids=self._seen_ids,
            date_parser=self.layout.parse_dates if self.layout else None,
            unit_price_derived=bool(self.layout and self.layout.unit_price_derived),
        )
        reasons = outcome.reasons
        valid = outcome.valid
        if nul.any():
            layout_reasons = dict(layout_reasons or {})
            for i in np.flatnonzero(nul):
                layout_reasons[int(i)] = [Reason.MALFORMED_ROW.value] + layout_reasons.get(int(i), [])
        if layout_reasons:  # row position -> the layout's own codes (e.g. a cancellation)
            reasons = {i: layout_reasons.get(i, []) + reasons.get(i, []) for i in set(reasons) | set(layout_reasons)}
            valid = valid.copy()
            valid[list(layout_reasons)] = False
        valid_arr = pa.array(valid)
        null_text = pa.scalar(None, pa.string())

        def kept(array: pa.Array, keep: np.ndarray | None = None) -> pa.Array:
            return pc.if_else(valid_arr if keep is None else pa.array(keep), array, null_text)

        def kept_nonempty(array: pa.Array) -> pa.Array:
            return kept(array, valid & ~_mask(pc.equal(array, "")))

        ts = pa.Array.from_pandas(outcome.transaction_ts, mask=~valid).cast(
            RAW_SALES_SCHEMA.field("transaction_ts").type,
            safe=False,  # nanoseconds -> microseconds
        )
        date_key = pc.cast(
            pc.add(pc.add(pc.multiply(pc.year(ts), 10000), pc.multiply(pc.month(ts), 100)), pc.day(ts)), pa.int32()
        )
        reasons_text = [None] * n
        raw_records = [None] * n
        bad_idx = np.flatnonzero(~valid)
        if bad_idx.size:
            take = pa.array(bad_idx)
            columns = {h or f"column_{i + 1}": cells[i].take(take).to_pylist() for i, h in enumerate(self.header)}
            for i, values in zip(bad_idx, zip(*columns.values())):
                reasons_text[i] = _pg_array(reasons[int(i)])
                raw_records[i] = json.dumps(dict(zip(columns, values)), ensure_ascii=False)
                self.summary.reasons.update(reasons[int(i)])
        integers = {
            c: pa.array(outcome.integers[c], mask=~valid | np.isnan(outcome.integers[c])).cast(pa.int64())
            for c in ("product_id", "quantity")
        }
        out = pa.table(
            {
                "source_file": pa.repeat(pa.scalar(self.source_file), n),
                "line_number": pa.array(starts, pa.int64()),
                # Rejected rows keep their id too (when they have one): it is how people find them.
                "transaction_id": kept(contract["transaction_id"], ~_mask(pc.equal(contract["transaction_id"], ""))),
                "transaction_ts": ts,
                "date_key": date_key,
                "customer_id": kept_nonempty(contract["customer_id"]),
                "customer_name": kept_nonempty(contract["customer_name"]),
                "city": kept_nonempty(contract["city"]),
                "country": kept_nonempty(contract["country"]),
                "product_id": integers["product_id"],
                "product_name": kept_nonempty(contract["product_name"]),
                "quantity": integers["quantity"],
                "unit_price": kept(contract["unit_price"]),
                "total_amount": kept(contract["total_amount"]),
                "payment_method": kept(outcome.payment_method),
                "reasons": pa.array(reasons_text, pa.string()),
                "raw_record": pa.array(raw_records, pa.string()),
            },
            schema=RAW_SALES_SCHEMA,
        )
        n_valid = int(valid.sum())
        self.summary.rows_valid += n_valid
        self.summary.rows_rejected += int(bad_idx.size)
        if n_valid:
            bounds = pc.min_max(ts)
            lo, hi = bounds["min"].as_py().date(), bounds["max"].as_py().date()
            self.summary.min_date = min(lo, self.summary.min_date or lo)
            self.summary.max_date = max(hi, self.summary.max_date or hi)
        yield out
