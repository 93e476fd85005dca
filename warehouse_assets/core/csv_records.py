"""Splitting a CSV file into records that know their physical lines, with bounded damage.

Arrow parses CSV fast, but it numbers rows rather than lines, and a stray quote or a line longer
than its block makes it fail the whole file ("straddling object straddles two block
boundaries"). So the file is first cut into records here, and Arrow only ever sees complete,
checked records. Written by hand because no CSV library offers what the contract needs: every
physical line accounted for (a record knows its first line and how many lines it spans), and one
bad line quarantined without refusing the rest of the file.

How a block is cut (vectorised with numpy; a Python loop only over lines with an odd number of
quote characters, which are rare):

- A line with an even number of quote characters is one record, unless it lies inside a record
  opened on an earlier line.
- A line with an odd number opens a multi-line record only when Python's csv module, which reads
  quotes the way Arrow does (special only at the start of a field), says the line alone ends
  inside a quoted value; the record then closes at the first later line where the csv module
  reads the lines so far as exactly one complete row.
- A record longer than `MAX_RECORD_BYTES` or `MAX_RECORD_LINES`, or still open at the end of the
  file, is an unbalanced quote: its first line alone is quarantined and cutting resumes on the
  next line, so a stray quote costs one line, not the rest of the file.
- A line over `MAX_RECORD_BYTES` without any newline is quarantined (its first characters kept)
  and skipped without being held in memory.
- Blank lines (only spaces, tabs or a carriage return) outside a record are noise, counted apart.
- A record with a NUL byte, or with bytes that are not text in the file's encoding, is
  quarantined with its line; the other records of the block are kept.

The bytes are hashed as they are read, so the fingerprint names exactly the content that was
parsed, even if the file changes while it is read.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np

from warehouse_assets.core.contract.limits import MAX_RECORD_BYTES, MAX_RECORD_LINES, RAW_TEXT_KEEP
from warehouse_assets.core.contract.sales import Reason

READ_BYTES = 1 << 20
_NEWLINE, _CR, _SPACE, _TAB = 10, 13, 32, 9


class CsvFileError(ValueError):
    """A file that cannot be read as CSV at all (no header line, an unusable encoding)."""


@dataclass(frozen=True)
class Dialect:
    delimiter: str = ","
    quote_char: str = '"'
    encoding: str = "utf-8"

    def __post_init__(self) -> None:
        try:
            codecs.lookup(self.encoding)
        except LookupError:
            raise CsvFileError(f"unknown text encoding {self.encoding!r}") from None
        # Cutting works on bytes: the delimiter, the quote and the newline must be single bytes
        # meaning themselves, which holds for ASCII-compatible encodings only (not UTF-16).
        probe = f"a{self.delimiter}{self.quote_char}\n"
        if probe.encode(self.encoding, "strict") != probe.encode("ascii"):
            raise CsvFileError(f"encoding {self.encoding!r} is not ASCII-compatible; only such encodings are read")


@dataclass(frozen=True)
class LineProblem:
    """Lines that did not become a row, with why."""

    line: int  # first physical line, 1-based
    lines: int  # physical lines it spans
    reason: str  # a Reason value
    detail: str
    raw: str  # the text as far as it could be read, cut at RAW_TEXT_KEEP characters


@dataclass
class RecordBlock:
    """Complete records of one part of the file, as UTF-8 text for a CSV parser.

    `text` holds the records one after the other, each ending with a newline; record i starts
    on physical line `first_lines[i]` and spans `line_counts[i]` lines. Records that span more
    than one line are also listed in `multi_line` (their indices), since a parser must allow
    line breaks in their values.
    """

    text: bytes = b""
    first_lines: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    line_counts: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    problems: list[LineProblem] = field(default_factory=list)
    blank_lines: int = 0

    @property
    def records(self) -> int:
        return int(self.first_lines.size)


def _cut(text: str) -> str:
    return text if len(text) <= RAW_TEXT_KEEP else text[:RAW_TEXT_KEEP] + f"... ({len(text):,} characters)"


def _shown(raw: bytes, encoding: str) -> str:
    return _cut(raw.decode(encoding, "backslashreplace").replace("\x00", "\ufffd").rstrip("\r\n"))


# A file modified this recently when it is opened may be written again within the same tick of
# its clock (coarse on some file systems) with the same size: its time is then not recorded, so
# the next scan hashes it (as git does with files modified right around its index's writes).
SETTLED_NS = 2_000_000_000


def _settled_mtime_ns(mtime_ns: int) -> int | None:
    return mtime_ns if time.time_ns() - mtime_ns > SETTLED_NS else None


class CsvRecordReader:
    """Reads one file as blocks of complete records; iterate once.

    After iteration `sha256`, `size_bytes` and `lines` describe the bytes that were read, and
    `mtime_ns` the file's modification time as it was when it was opened (before any byte was read:
    a file written to meanwhile has a later one, so a scan comparing it hashes the file again), or
    None when the file had been modified within SETTLED_NS of the opening.
    `header()` returns the first line's cells (read before the iteration starts).
    """

    def __init__(self, path: Path, dialect: Dialect, *, source_file: str, read_bytes: int = READ_BYTES):
        self.path = Path(path)
        self.dialect = dialect
        self.source_file = source_file
        self.read_bytes = read_bytes
        self._quote = ord(dialect.quote_char)
        self._digest = hashlib.sha256()
        self.size_bytes = 0
        self.mtime_ns: int | None = None
        self.lines = 0
        self._stream: BinaryIO | None = None
        self._carry = b""
        self._carry_first_line = 1
        self._eof = False
        self._header: list[str] | None = None
        self._header_lines = 0

    # ------------------------------------------------------------------ reading bytes

    @property
    def sha256(self) -> str:
        return self._digest.hexdigest()

    def _read(self) -> bytes:
        assert self._stream is not None
        block = self._stream.read(self.read_bytes)
        if not block:
            self._eof = True
            return b""
        self._digest.update(block)
        self.size_bytes += len(block)
        return block

    def _open(self) -> None:
        if self._stream is None:
            # A plain buffered stream, not a memory map: mapped pages would count as the loader's
            # resident memory, which would then grow with the size of the file.
            self._stream = open(self.path, "rb")  # noqa: SIM115 - closed by close()
            self.mtime_ns = _settled_mtime_ns(os.fstat(self._stream.fileno()).st_mtime_ns)

    def close(self) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = None

    # ------------------------------------------------------------------ the header

    def header(self) -> list[str]:
        """The header row's cells, as written (byte-order mark removed, cells trimmed)."""
        if self._header is not None:
            return self._header
        self._open()
        while b"\n" not in self._carry and not self._eof and len(self._carry) <= MAX_RECORD_BYTES:
            self._carry += self._read()
        if self._carry.startswith(codecs.BOM_UTF8):
            self._carry = self._carry[len(codecs.BOM_UTF8) :]
        end = self._carry.find(b"\n")
        line = self._carry if end < 0 else self._carry[: end + 1]
        if len(line) > MAX_RECORD_BYTES:
            raise CsvFileError(f"{self.source_file}: line 1: the header line is longer than {MAX_RECORD_BYTES:,} bytes")
        try:
            text = line.decode(self.dialect.encoding)
        except UnicodeDecodeError as exc:
            raise CsvFileError(
                f"{self.source_file}: line 1: not {self.dialect.encoding} text ({exc.reason} at byte {exc.start})"
            ) from None
        if not text.strip():
            raise CsvFileError(f"{self.source_file}: line 1: no header row (the file is empty or starts blank)")
        try:
            rows = list(
                csv.reader(
                    io.StringIO(text), delimiter=self.dialect.delimiter, quotechar=self.dialect.quote_char, strict=True
                )
            )
        except csv.Error as exc:
            raise CsvFileError(f"{self.source_file}: line 1: the header is not CSV ({exc})") from None
        if len(rows) != 1:
            raise CsvFileError(f"{self.source_file}: line 1: the header is not one CSV row")
        self._header = [c.strip().lstrip("\ufeff").strip() for c in rows[0]]
        self._carry = self._carry[len(line) :]
        self._carry_first_line = 2
        self._header_lines = 1
        return self._header

    # ------------------------------------------------------------------ records

    def __iter__(self) -> Iterator[RecordBlock]:
        self.header()
        try:
            while True:
                if not self._eof:
                    self._carry += self._read()
                if not self._carry:
                    break
                block = self._next_block()
                if block.records or block.problems or block.blank_lines:
                    yield block
                if self._eof and not self._carry:
                    break
        finally:
            self.lines = self._carry_first_line - 1 - self._header_lines
            self.close()

    def _next_block(self) -> RecordBlock:
        buf = self._carry
        first_line = self._carry_first_line
        if not self._eof:
            last = buf.rfind(b"\n")
            if last < 0:
                if len(buf) > MAX_RECORD_BYTES:
                    return self._skip_long_line()
                self._carry_more()
                return RecordBlock()
            region = buf[: last + 1]
        else:
            region = buf if buf.endswith(b"\n") else buf + b"\n"
        block, consumed_lines, consumed_bytes = self._cut_region(region, first_line, at_eof=self._eof)
        self._carry = buf[consumed_bytes:] if consumed_bytes < len(buf) else b""
        self._carry_first_line = first_line + consumed_lines
        if not consumed_lines and not self._eof:
            self._carry_more()
        return block

    def _carry_more(self) -> None:
        """The carry holds an open record (or a partial line): read on, up to the limits."""
        if not self._eof:
            self._carry += self._read()

    def _skip_long_line(self) -> RecordBlock:
        """A line longer than MAX_RECORD_BYTES: keep its start, drop the rest up to its newline."""
        line = self._carry_first_line
        head = self._carry[: RAW_TEXT_KEEP * 4]
        length = len(self._carry)
        self._carry = b""
        while True:
            chunk = self._read()
            if not chunk:
                break
            end = chunk.find(b"\n")
            if end >= 0:
                length += end + 1
                self._carry = chunk[end + 1 :]
                break
            length += len(chunk)
        self._carry_first_line = line + 1
        problem = LineProblem(
            line,
            1,
            Reason.MALFORMED_ROW.value,
            f"line of {length:,} bytes is longer than the reader's limit of {MAX_RECORD_BYTES:,}",
            _shown(head, self.dialect.encoding),
        )
        return RecordBlock(problems=[problem])

    def _cut_region(self, region: bytes, first_line: int, *, at_eof: bool) -> tuple[RecordBlock, int, int]:
        """Cut whole lines of `region` into records. Returns the block, and how many lines and
        bytes of the region it consumed (an open record at the end is left for the next read)."""
        arr = np.frombuffer(region, dtype=np.uint8)
        ends = np.flatnonzero(arr == _NEWLINE)  # index of each line's newline
        n_lines = int(ends.size)
        starts = np.concatenate(([0], ends[:-1] + 1)).astype(np.int64)
        content = (arr != _SPACE) & (arr != _TAB) & (arr != _CR) & (arr != _NEWLINE)
        # Reduced per line in their own byte width: widened to int64 first, a 1 MB region cost
        # 8 MB for each of them.
        blank = ~np.logical_or.reduceat(content, starts) if n_lines else np.zeros(0, bool)
        quotes = arr == self._quote
        odd = (
            np.flatnonzero(np.bitwise_xor.reduceat(quotes.view(np.uint8), starts))
            if n_lines and quotes.any()
            else np.zeros(0, np.int64)
        )

        last_of = np.arange(n_lines)  # the last line of the record starting on each line
        inside = np.zeros(n_lines, bool)  # lines that continue a record opened above them
        unbalanced = np.zeros(n_lines, bool)
        problems: list[LineProblem] = []
        consumed_lines = n_lines
        i = 0
        while i < odd.size:
            a = int(odd[i])
            if self._complete(region[starts[a] : ends[a] + 1]):
                i += 1
                continue
            closed, j = None, i + 1
            while j < odd.size:
                b = int(odd[j])
                if b - a + 1 > MAX_RECORD_LINES or ends[b] - starts[a] + 1 > MAX_RECORD_BYTES:
                    break
                if self._complete(region[starts[a] : ends[b] + 1]):
                    closed = b
                    break
                j += 1
            if closed is not None:
                last_of[a] = closed
                inside[a + 1 : closed + 1] = True
                i = j + 1
                continue
            may_close_later = (
                j >= odd.size
                and not at_eof
                and n_lines - a <= MAX_RECORD_LINES
                and len(region) - starts[a] <= MAX_RECORD_BYTES
            )
            if may_close_later:
                consumed_lines = a  # the record may close in the next read: keep it for then
                break
            unbalanced[a] = True
            problems.append(
                LineProblem(
                    first_line + a,
                    1,
                    Reason.MALFORMED_ROW.value,
                    "unbalanced quote: the quoted value opened on this line does not close within "
                    f"{MAX_RECORD_LINES} lines",
                    _shown(region[starts[a] : ends[a] + 1], self.dialect.encoding),
                )
            )
            i += 1

        too_long = (ends - starts + 1 > MAX_RECORD_BYTES) & ~inside & ~unbalanced
        for a in np.flatnonzero(too_long[:consumed_lines]):
            problems.append(
                LineProblem(
                    first_line + int(a),
                    1,
                    Reason.MALFORMED_ROW.value,
                    f"line of {int(ends[a] - starts[a] + 1):,} bytes is longer than the reader's limit of {MAX_RECORD_BYTES:,}",
                    _shown(region[starts[a] : starts[a] + RAW_TEXT_KEEP * 4], self.dialect.encoding),
                )
            )
        scope = slice(0, consumed_lines)
        candidates = np.flatnonzero(~inside[scope] & ~unbalanced[scope] & ~too_long[scope])
        single_blank = blank[candidates] & (last_of[candidates] == candidates)
        heads = candidates[~single_blank]
        blank_count = int(single_blank.sum())
        last = last_of[heads]
        counts = (last - heads + 1).astype(np.int32)
        consumed_bytes = int(ends[consumed_lines - 1] + 1) if consumed_lines else 0

        bad = np.zeros(heads.size, bool)
        nul_lines = np.unique(np.searchsorted(ends, np.flatnonzero(arr[:consumed_bytes] == 0)))
        if nul_lines.size and heads.size:
            # The record holding each such line: the last record starting at or before it.
            holders = np.searchsorted(heads, nul_lines, side="right") - 1
            holders = np.unique(holders[(holders >= 0) & (last[np.maximum(holders, 0)] >= nul_lines)])
            for pos in holders:
                a, z = int(heads[pos]), int(last[pos])
                bad[pos] = True
                problems.append(
                    LineProblem(
                        first_line + a,
                        z - a + 1,
                        Reason.MALFORMED_ROW.value,
                        "contains a NUL character",
                        _shown(region[starts[a] : ends[z] + 1], self.dialect.encoding),
                    )
                )
        text, keep = self._decoded(region, starts, ends, heads, last, bad, first_line, problems)
        block = RecordBlock(
            text=text,
            first_lines=(heads[keep] + first_line).astype(np.int64),
            line_counts=counts[keep],
            problems=sorted(problems, key=lambda p: p.line),
            blank_lines=blank_count,
        )
        return block, consumed_lines, consumed_bytes

    def _complete(self, raw: bytes) -> bool:
        """Whether `raw` (whole lines) ends outside any quoted value, as the csv module reads it.

        Strict mode tells "ended inside a quoted value" apart; any other complaint (text after a
        closing quote) is left to the parser, which reads it leniently as Arrow does.
        """
        text = raw.decode(self.dialect.encoding, "replace")
        try:
            rows = list(
                csv.reader(
                    io.StringIO(text), delimiter=self.dialect.delimiter, quotechar=self.dialect.quote_char, strict=True
                )
            )
        except csv.Error as exc:
            if "unexpected end of data" in str(exc):
                return False
            rows = list(
                csv.reader(io.StringIO(text), delimiter=self.dialect.delimiter, quotechar=self.dialect.quote_char)
            )
        return len(rows) == 1

    def _decoded(
        self,
        region: bytes,
        starts: np.ndarray,
        ends: np.ndarray,
        heads: np.ndarray,
        last: np.ndarray,
        bad: np.ndarray,
        first_line: int,
        problems: list[LineProblem],
    ) -> tuple[bytes, np.ndarray]:
        """The kept records as UTF-8, and which records were kept (bad encoding removed)."""
        keep = ~bad
        encoding = self.dialect.encoding
        utf8 = codecs.lookup(encoding).name == "utf-8"
        while True:
            pieces = self._runs(region, starts, ends, heads, last, keep)
            try:
                text = pieces.decode(encoding)
            except UnicodeDecodeError as exc:
                pos = self._record_at_offset(exc.start, starts, ends, heads, last, keep)
                a, z = int(heads[pos]), int(last[pos])
                keep[pos] = False
                problems.append(
                    LineProblem(
                        first_line + a,
                        z - a + 1,
                        Reason.BAD_ENCODING.value,
                        f"not {encoding} text ({exc.reason})",
                        _shown(region[starts[a] : ends[z] + 1], encoding),
                    )
                )
                continue
            return (pieces if utf8 else text.encode("utf-8")), keep

    @staticmethod
    def _runs(region: bytes, starts, ends, heads, last, keep) -> bytes:
        """The bytes of the kept records, joined from contiguous runs (few slices)."""
        idx = np.flatnonzero(keep)
        if not idx.size:
            return b""
        begin = starts[heads[idx]]
        finish = ends[last[idx]] + 1
        breaks = np.flatnonzero(begin[1:] != finish[:-1]) + 1
        run_starts = np.concatenate(([0], breaks))
        run_ends = np.concatenate((breaks, [idx.size])) - 1
        if run_starts.size == 1 and begin[0] == 0 and finish[-1] == len(region):
            return region
        return b"".join(region[begin[s] : finish[e]] for s, e in zip(run_starts, run_ends))

    @staticmethod
    def _record_at_offset(offset: int, starts, ends, heads, last, keep) -> int:
        """Which kept record holds byte `offset` of the joined kept text."""
        idx = np.flatnonzero(keep)
        sizes = ends[last[idx]] + 1 - starts[heads[idx]]
        cumulative = np.cumsum(sizes)
        return int(idx[np.searchsorted(cumulative, offset, side="right")])
