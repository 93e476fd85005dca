"""Reading one sales file: its header, then every record as rows shaped like `staged_sales`.

The file is cut into records by `csv_records.CsvRecordReader` (which knows every record's physical
lines and quarantines lines that cannot be records), each block of records is parsed by Arrow,
mapped to the contract's columns (directly, or through a source layout), and judged by
`validate_sales`. Every physical data line ends in exactly one place: a valid row, a rejected row
(with all its reason codes, its first line and the number of lines it spans), or counted
structural noise (blank lines, repeated header rows). Memory stays flat: one block at a time, and
nothing kept per row (a row repeating an earlier row's id is found by the load, in the database,
which then counts it here: `SalesFileSummary.add_repeats`).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections import Counter, deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from warehouse_assets.core.contract.dates import date_keys
from warehouse_assets.core.contract.limits import RAW_TEXT_KEEP
from warehouse_assets.core.contract.sales import (
    REQUIRED_COLUMNS,
    SALES_COLUMNS,
    Noise,
    Reason,
    decimals_from_cents,
    mask,
    normalise_header,
    returns_from_negative_quantities,
    validate_sales,
)
from warehouse_assets.core.csv_records import CsvFileError, CsvRecordReader, Dialect, LineProblem, RecordBlock
from warehouse_assets.core.staged import STAGED_SCHEMA

if TYPE_CHECKING:
    from warehouse_assets.core.layouts.layout import Layout

# Arrow's CSV parser needs many times its input in working memory (measured: 4 MB of input
# peaked at 160 MB, 1 MB at 40 MB), so blocks stay near 1 MB.
DEFAULT_READ_BYTES = 1 << 20
# Blocks are parsed and judged this many at a time, each in a thread of its own: Arrow's kernels
# run without Python's lock, so two blocks go side by side on two cores (a million rows: 2.5 s
# one block at a time, 1.8 s two at a time). Each block's counts are added to the summary in the
# file's order, in the thread that takes the rows.
READ_THREADS = 2


class SalesFileError(ValueError):
    """A sales file that cannot be loaded at all; the message names the file, the line, the field."""


@dataclass
class BlockCounts:
    """What reading part of a file found. Blocks are counted on their own, side by side, and
    added to their file's summary in file order."""

    records_read: int = 0  # rows: valid + rejected
    rows_valid: int = 0
    rows_rejected: int = 0
    lines_rejected: int = 0  # physical lines of the rejected rows
    noise_lines: int = 0
    noise: Counter = field(default_factory=Counter)  # kind -> lines
    reasons: Counter = field(default_factory=Counter)  # reason -> rows

    def add(self, other: BlockCounts) -> None:
        """Count what another block found."""
        for counter in fields(BlockCounts):
            mine = getattr(self, counter.name)
            if isinstance(mine, Counter):
                mine.update(getattr(other, counter.name))
            else:
                setattr(self, counter.name, mine + getattr(other, counter.name))


@dataclass
class SalesFileSummary(BlockCounts):
    """What reading one file found; complete once its rows have been iterated."""

    source_file: str = field(kw_only=True)
    layout: str = "standard"
    unit_price_derived: bool = False
    size_bytes: int = 0
    fingerprint: str = ""
    mtime_ns: int | None = None  # the file's modification time when it was opened
    lines_read: int = 0  # physical lines after the header
    extra_columns: list[str] = field(default_factory=list)
    # Whether the file's rows can name their order (an order_id column, or a layout that maps
    # one). When they cannot, each line is an order of its own, opened by the line if it is a
    # sale; when they can, which line opens an order is decided over the whole file, by the merge.
    orders_named: bool = False

    def add_repeats(self, rows: int, valid_rows: int, valid_lines: int) -> None:
        """Count the rows the load found repeating an earlier row's id (duplicate_transaction):
        `rows` in all, `valid_rows` of them otherwise valid (rejected now), spanning `valid_lines`."""
        self.reasons[Reason.DUPLICATE_TRANSACTION.value] += rows
        self.rows_valid -= valid_rows
        self.rows_rejected += valid_rows
        self.lines_rejected += valid_lines


def use_system_allocator() -> None:
    """Let Arrow allocate through the C library's malloc rather than its own mimalloc pool.

    A file is read a block at a time, each block's buffers freed before the next is made.
    mimalloc keeps freed segments for reuse, so a reading process's peak grew with the blocks it
    had seen (reading a million-row file peaked 30 MB higher with it); malloc hands large freed
    blocks back at once. Buffers allocated before the switch are freed by their own pool.
    """
    if pa.default_memory_pool().backend_name != "system":
        pa.set_memory_pool(pa.system_memory_pool())


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


def _cut(text: str) -> str:
    return text if len(text) <= RAW_TEXT_KEEP else text[:RAW_TEXT_KEEP] + f"... ({len(text):,} characters)"


class SalesFileReader:
    """Streams one sales file as Arrow tables shaped like `staged_sales`.

    The header is read and checked when the reader is made (SalesFileError names what is wrong);
    iterate `tables()` once; `summary` is complete when the iteration ends.
    """

    def __init__(
        self,
        path: Path,
        *,
        source_file: str,
        load_time: dt.datetime,
        earliest: dt.date,
        layout: Layout | None = None,
        read_bytes: int = DEFAULT_READ_BYTES,
    ):
        self.path = Path(path)
        self.source_file = source_file
        self.load_time = load_time
        self.earliest = earliest
        self.layout = layout
        self.summary = SalesFileSummary(
            source_file=source_file,
            layout=layout.name if layout else "standard",
            unit_price_derived=bool(layout and layout.unit_price_derived),
        )
        try:
            self.records = CsvRecordReader(
                self.path, layout.dialect if layout else Dialect(), source_file=source_file, read_bytes=read_bytes
            )
            self.header = self.records.header()
        except CsvFileError as exc:
            raise SalesFileError(str(exc)) from None
        except OSError as exc:
            raise SalesFileError(f"{source_file}: cannot be read: {exc.strerror or exc}") from None
        if layout:
            try:
                layout.check_header(self.header, source_file)
            except ValueError as exc:
                self.records.close()
                raise SalesFileError(str(exc)) from None
            self.summary.extra_columns = layout.unused_columns(self.header)
            self.summary.orders_named = layout.maps("order_id")
        else:
            try:
                self.positions, self.summary.extra_columns = map_standard_header(self.header, source_file)
                self.summary.orders_named = "order_id" in self.positions
            except SalesFileError:
                self.records.close()
                raise
        self._names = [f"c{i}" for i in range(len(self.header))]

    # ------------------------------------------------------------------ streaming

    def tables(self) -> Iterator[pa.Table]:
        use_system_allocator()
        pending: deque[Future] = deque()
        try:
            with ThreadPoolExecutor(READ_THREADS, thread_name_prefix="read-block") as judging:
                try:
                    for block in self.records:
                        pending.append(judging.submit(self._block, block))
                        if len(pending) >= READ_THREADS:
                            yield from self._counted(pending.popleft())
                    while pending:
                        yield from self._counted(pending.popleft())
                finally:
                    for future in pending:  # the rows are no longer wanted (an error downstream)
                        future.cancel()
        finally:
            s = self.summary
            s.size_bytes, s.fingerprint, s.lines_read = self.records.size_bytes, self.records.sha256, self.records.lines
            s.mtime_ns = self.records.mtime_ns
            self.records.close()

    def _counted(self, future: Future) -> Iterator[pa.Table]:
        tables, counts = future.result()
        self.summary.add(counts)
        yield from tables

    def _block(self, block: RecordBlock) -> tuple[list[pa.Table], BlockCounts]:
        """One block's staged rows and what it found; touches nothing shared, so that blocks can
        be judged side by side."""
        counts = BlockCounts(noise_lines=block.blank_lines)
        counts.noise[Noise.BLANK_LINE.value] += block.blank_lines
        tables = []
        cells, first_lines, line_counts, malformed = self._parse(block)
        problems = block.problems + malformed
        if problems:
            tables.append(self._problem_table(problems, counts))
        if first_lines.size:
            table = self._rows(cells, first_lines, line_counts, counts)
            if table is not None:
                tables.append(table)
        return tables, counts

    def _parse(self, block: RecordBlock) -> tuple[list[pa.Array], np.ndarray, np.ndarray, list[LineProblem]]:
        """Cells (string columns) of the block's records, their lines, and records that did not
        split into the header's columns. Arrow parses the block in one go; when its rows do not
        match the records one to one (possible only with unusual quoting), each record of the
        block is parsed on its own instead."""
        if not block.records:
            return [], block.first_lines, block.line_counts, []
        invalid: list[tuple[int, int]] = []  # (record index, fields found)

        def on_invalid(row) -> str:
            invalid.append((row.number - 1, row.actual_columns))
            return "skip"

        dialect = self.records.dialect
        multi_line = bool((block.line_counts > 1).any())
        try:
            table = pacsv.read_csv(
                pa.py_buffer(block.text),
                read_options=pacsv.ReadOptions(
                    column_names=self._names, use_threads=False, block_size=max(len(block.text) + 1, 1 << 16)
                ),
                parse_options=pacsv.ParseOptions(
                    delimiter=dialect.delimiter,
                    quote_char=dialect.quote_char,
                    newlines_in_values=multi_line,
                    ignore_empty_lines=False,
                    invalid_row_handler=on_invalid,
                ),
                convert_options=pacsv.ConvertOptions(
                    column_types={n: pa.string() for n in self._names},
                    strings_can_be_null=False,
                    quoted_strings_can_be_null=False,
                ),
            )
            cells = [c.combine_chunks() for c in table.columns]
            bad_idx = np.array(sorted(i for i, _ in invalid), dtype=np.int64)
            consistent = table.num_rows + len(invalid) == block.records and (
                not bad_idx.size or (bad_idx[0] >= 0 and bad_idx[-1] < block.records)
            )
            if consistent:
                keep = np.ones(block.records, bool)
                keep[bad_idx] = False
                newlines = np.zeros(table.num_rows, np.int64)
                if multi_line:
                    for col in cells:
                        newlines += pc.fill_null(pc.count_substring(col, "\n"), 0).to_numpy(zero_copy_only=False)
                consistent = bool(np.array_equal(newlines, block.line_counts[keep] - 1))
        except pa.ArrowInvalid:
            consistent = False
        if not consistent:
            return self._parse_each(block)
        malformed = [
            self._malformed(block, i, f"expected {len(self.header)} fields, found {found}") for i, found in invalid
        ]
        return cells, block.first_lines[keep], block.line_counts[keep], malformed

    def _record_texts(self, block: RecordBlock) -> list[str]:
        lines = block.text.decode("utf-8").split("\n")
        out, at = [], 0
        for count in block.line_counts.tolist():
            out.append("\n".join(lines[at : at + count]) + "\n")
            at += count
        return out

    def _parse_each(self, block: RecordBlock) -> tuple[list[pa.Array], np.ndarray, np.ndarray, list[LineProblem]]:
        dialect = self.records.dialect
        rows: list[list[str]] = []
        kept: list[int] = []
        malformed: list[LineProblem] = []
        for i, text in enumerate(self._record_texts(block)):
            parsed = list(csv.reader(io.StringIO(text), delimiter=dialect.delimiter, quotechar=dialect.quote_char))
            if len(parsed) != 1 or len(parsed[0]) != len(self.header):
                found = len(parsed[0]) if len(parsed) == 1 else f"{len(parsed)} rows"
                malformed.append(self._malformed(block, i, f"expected {len(self.header)} fields, found {found}", text))
                continue
            rows.append(parsed[0])
            kept.append(i)
        cells = [pa.array([r[c] for r in rows], pa.string()) for c in range(len(self.header))]
        idx = np.array(kept, dtype=np.int64)
        return cells, block.first_lines[idx], block.line_counts[idx], malformed

    def _malformed(self, block: RecordBlock, i: int, detail: str, text: str | None = None) -> LineProblem:
        if text is None:
            text = self._record_texts(block)[i]
        return LineProblem(
            int(block.first_lines[i]),
            int(block.line_counts[i]),
            Reason.MALFORMED_ROW.value,
            detail,
            _cut(text.rstrip("\r\n")),
        )

    # ------------------------------------------------------------------ rows

    def _problem_table(self, problems: list[LineProblem], s: BlockCounts) -> pa.Table:
        n = len(problems)
        s.records_read += n
        s.rows_rejected += n
        s.lines_rejected += sum(p.lines for p in problems)
        s.reasons.update(p.reason for p in problems)
        columns = {f.name: pa.nulls(n, f.type) for f in STAGED_SCHEMA}
        columns["line_number"] = pa.array([p.line for p in problems], pa.int64())
        columns["line_count"] = pa.array([p.lines for p in problems], pa.int32())
        columns["reasons"] = pa.array([[p.reason] for p in problems], STAGED_SCHEMA.field("reasons").type)
        columns["raw_record"] = pa.array(
            [json.dumps({"raw_line": p.raw, "problem": p.detail}, ensure_ascii=False) for p in problems], pa.string()
        )
        return pa.table(columns, schema=STAGED_SCHEMA)

    def _rows(
        self, cells: list[pa.Array], first_lines: np.ndarray, line_counts: np.ndarray, s: BlockCounts
    ) -> pa.Table | None:
        n = len(first_lines)
        summary = self.summary
        cells = [pc.utf8_trim_whitespace(c) for c in cells]

        # Header rows repeated inside the file (files concatenated with their headers) are noise.
        # The first named column rules out almost every row; lowering every cell of every column
        # cost a tenth of the reader's time.
        named = [(c, h.lower()) for c, h in zip(cells, self.header) if h]
        header_again = mask(pc.equal(pc.utf8_lower(named[0][0]), named[0][1])) if named else np.zeros(n, bool)
        if header_again.any():
            header_again = np.logical_and.reduce(
                [header_again, *(mask(pc.equal(pc.utf8_lower(c), h)) for c, h in named[1:])]
            )
        if header_again.any():
            lines = int(line_counts[header_again].sum())
            s.noise[Noise.REPEATED_HEADER.value] += lines
            s.noise_lines += lines
            keep = pa.array(~header_again)
            cells = [c.filter(keep) for c in cells]
            first_lines, line_counts = first_lines[~header_again], line_counts[~header_again]
            n = len(first_lines)
            if not n:
                return None

        if self.layout:
            try:
                contract, layout_reasons = self.layout.to_contract(cells, self.header, self.source_file)
            except ValueError as exc:
                raise SalesFileError(str(exc)) from None
        else:
            empty = pa.repeat(pa.scalar("", pa.string()), n)
            contract = {c: cells[self.positions[c]] if c in self.positions else empty for c in SALES_COLUMNS}
            layout_reasons = {}
        if self.layout and self.layout.negative_quantities_are_returns:
            contract = returns_from_negative_quantities(contract)
        outcome = validate_sales(
            contract,
            load_time=self.load_time,
            earliest=self.earliest,
            date_parser=self.layout.parse_dates if self.layout else None,
            unit_price_derived=summary.unit_price_derived,
        )
        reasons = outcome.reasons
        valid = outcome.valid
        if layout_reasons:  # row position -> the layout's own codes (e.g. a cancellation)
            reasons = {i: layout_reasons.get(i, []) + reasons.get(i, []) for i in set(reasons) | set(layout_reasons)}
            valid = valid.copy()
            valid[list(layout_reasons)] = False
        valid_arr = pa.array(valid)
        null_text = pa.scalar(None, pa.string())

        def kept(array: pa.Array, keep: np.ndarray | None = None) -> pa.Array:
            return pc.if_else(valid_arr if keep is None else pa.array(keep), array, null_text)

        def kept_nonempty(array: pa.Array) -> pa.Array:
            return kept(array, valid & ~mask(pc.equal(array, "")))

        ts = pc.if_else(valid_arr, outcome.transaction_ts, pa.scalar(None, outcome.transaction_ts.type))
        reasons_listed: list[list[str] | None] = [None] * n
        raw_records: list[str | None] = [None] * n
        bad_idx = np.flatnonzero(~valid)
        if bad_idx.size:
            take = pa.array(bad_idx)
            columns = {h or f"column_{i + 1}": cells[i].take(take).to_pylist() for i, h in enumerate(self.header)}
            for i, values in zip(bad_idx, zip(*columns.values())):
                reasons_listed[i] = reasons[int(i)]
                raw_records[i] = json.dumps(dict(zip(columns, values)), ensure_ascii=False)
                s.reasons.update(reasons[int(i)])
        integers = {
            c: pa.array(outcome.integers[c], mask=~valid | np.isnan(outcome.integers[c])).cast(pa.int32())
            for c in ("product_id", "quantity")
        }
        has_id = ~mask(pc.equal(contract["transaction_id"], ""))
        out = pa.table(
            {
                "line_number": pa.array(first_lines, pa.int64()),
                "line_count": pa.array(line_counts, pa.int32()),
                # Rejected rows keep their id too (when they have one): it is how people find them.
                "transaction_id": kept(contract["transaction_id"], has_id),
                "transaction_ts": ts,
                "date_key": date_keys(ts),
                "customer_id": kept_nonempty(contract["customer_id"]),
                "customer_name": kept_nonempty(contract["customer_name"]),
                "city": kept_nonempty(contract["city"]),
                "country": kept_nonempty(contract["country"]),
                "product_id": integers["product_id"],
                "product_name": kept_nonempty(contract["product_name"]),
                "quantity": integers["quantity"],
                **{
                    name: decimals_from_cents(outcome.amounts[name], valid, STAGED_SCHEMA.field(name).type)
                    for name in ("unit_price", "total_amount")
                },
                "payment_method": kept(outcome.payment_method),
                "order_id": kept(outcome.order_id),
                "transaction_type": kept(outcome.transaction_type),
                "original_transaction_id": kept_nonempty(contract["original_transaction_id"]),
                # An empty discount is none: 0 cents.
                "discount_amount": decimals_from_cents(
                    outcome.amounts["discount_amount"], valid, STAGED_SCHEMA.field("discount_amount").type
                ),
                **{
                    f"{name.removesuffix('_amount')}_cents": pa.array(outcome.amounts[name], pa.int64(), mask=~valid)
                    for name in ("total_amount", "unit_price", "discount_amount")
                },
                "opens_order": (
                    pa.nulls(n, pa.bool_())
                    if summary.orders_named
                    else pc.if_else(valid_arr, pc.equal(outcome.transaction_type, "sale"), pa.scalar(None, pa.bool_()))
                ),
                "reasons": pa.array(reasons_listed, STAGED_SCHEMA.field("reasons").type),
                "raw_record": pa.array(raw_records, pa.string()),
            },
            schema=STAGED_SCHEMA,
        )
        n_valid = int(valid.sum())
        s.records_read += n
        s.rows_valid += n_valid
        s.rows_rejected += int(bad_idx.size)
        s.lines_rejected += int(line_counts[~valid].sum())
        return out
