"""Source layouts: how to read a sales export that does not follow the standard CSV contract.

A shop's own export rarely has the contract's header. Rather than convert such files by hand, a
small YAML file in the layouts folder (`settings.layouts_dir()`, default `data/layouts`) says how
to read them: which files it applies to, the CSV dialect, which cell values mean "empty", the date
format and time zone, how each contract column is computed from the source's columns, and which
rows are not sales at all (cancellations, returns, fees) and with what reason code they are
quarantined. `data/layouts/README.md` documents every key with an example.

The reader (`sales_csv.SalesFileReader`) does the streaming, the line numbers and the structural
noise; a `Layout` only turns each chunk's source cells into the contract's text columns
(`to_contract`) and parses its dates (`parse_dates`). The contract's rules (`validate_sales`) then
judge the result exactly as they judge a standard file, so a layout can make a file readable but
can never make a bad row valid.

Everything is a column operation on a whole chunk (pyarrow.compute, numpy, pandas), never a
Python loop over rows: files can have millions of rows. The only Python loops are over the
*distinct* values of a product code (for `surrogate_id`) and over the rows a rule flags (to list
their reason codes), as `validate_sales` does for its own reasons.

The expression language is deliberately tiny and closed; an unknown key is an error at load,
reported with the YAML file and the field, e.g.
`data/layouts/superstore.yaml: columns.unit_price: unknown expression key 'multiply_by'`.

    {column: NAME}                  a source column (header matched case- and space-insensitively)
    {constant: TEXT}                the same text on every row
    {concat: [PART, ...]}           parts joined; a bare string is literal text; empty if any
                                    non-literal part is empty
    {coalesce: [PART, ...]}         the first non-empty part
    {upper: EXPR}                   upper case
    {split: {column: NAME | value: EXPR, sep: TEXT, index: N}}
                                    the N-th piece (0-based, negative from the end), trimmed
    {multiply: [A, B], digits: 2}   exact decimal arithmetic; the result is rounded to `digits`
    {divide: [A, B], digits: 2}     places (default 2: cents) half away from zero, which is
                                    Decimal's ROUND_HALF_UP, and PostgreSQL's numeric rounding
    {round: EXPR, digits: 2}        the same rounding of one number
    {surrogate_id: EXPR}            a stable integer id for a text code (see `surrogate_id`)

Arithmetic is decimal, not binary floating point: operands are read as decimal256(34, 18) (up
to 16 integer digits and 18 decimals), so 16.448 / 2 is exactly 8.224 and rounds to 8.22, and
1.005 rounds to 1.01 (in floats it is 1.00499999... and would round to 1.00). An empty operand
gives an empty result (the contract then says missing_field); an operand that is not a number,
or a division by zero, gives the text "NaN", which the contract quarantines as bad_number.
"""

from __future__ import annotations

import codecs
import fnmatch
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from warehouse_assets import settings
from warehouse_assets.contract import (
    OPTIONAL_COLUMNS,
    REQUIRED_COLUMNS,
    SALES_COLUMNS,
    Reason,
    _mask,
    normalise_header,
)
from warehouse_assets.ingest.sales_csv import CsvDialect, SalesFileError

# Surrogate product ids live in [SURROGATE_MIN, SURROGATE_MAX]. dim_product.product_id and
# fact_sales.product_id are PostgreSQL `integer` (at most 2_147_483_647), so ids must stay below
# that; natural ids (FakeStore's 1..20, a shop's own catalogue numbers) are far below 10^9, so a
# surrogate can never be mistaken for, or collide with, a natural id. 2_147_483_647 itself is left
# out so that no id sits on the type's limit. The range holds 1_147_483_647 values: two of n
# distinct codes share an id with probability about n^2 / 2.3e9 (0.15% for 2,000 codes, 4% for
# 10,000), so a collision met while reading is an error, never a silent merge of two products.
SURROGATE_MIN = 1_000_000_000
SURROGATE_MAX = 2_147_483_646
_SURROGATE_SPAN = SURROGATE_MAX - SURROGATE_MIN + 1

# Operands of multiply/divide/round: up to 16 integer digits and 18 decimals. decimal256(34, 18)
# divided by itself is decimal256(69, 35) in Arrow's rules, within the type's 76 digits.
_DECIMAL = pa.decimal256(34, 18)
_NUMBER_TEXT = r"^[+-]?(?:\d{1,16}(?:\.\d{0,18})?|\.\d{1,18})$"
_NOT_A_NUMBER = "NaN"
_EMPTY = pa.scalar("", pa.string())
_NULL = pa.scalar(None, pa.string())
_REASON_CODE = r"^[a-z][a-z0-9_]*$"
# An ISO 8601 time of day followed by an offset ("10:00:00+01:00", "10:00Z"); a bare date's
# "-01" is not an offset.
_ISO_OFFSET = r"\d:\d\d(?::\d\d(?:[.,]\d+)?)?\s*(?:Z|[+-]\d\d(?::?\d\d)?)$"


class LayoutError(ValueError):
    """A layout file that cannot be used; the message names the YAML file and the field."""


def surrogate_id(namespace: str, code: str) -> int:
    """The surrogate integer id of a text code: a stable hash of "<namespace>:<code>".

    The first 8 bytes of the SHA-256 of the UTF-8 text, as a big-endian unsigned integer, modulo
    the range size, plus SURROGATE_MIN. Stable across runs, machines and Python versions (unlike
    `hash()`), and reproducible in SQL or any language. The namespace is the layout's name, so
    the same code in two sources gives two products.
    """
    digest = hashlib.sha256(f"{namespace}:{code}".encode()).digest()
    return SURROGATE_MIN + int.from_bytes(digest[:8], "big") % _SURROGATE_SPAN


def _display(path: Path | str) -> str:
    """A layout file's path as shown in messages: relative to the project when inside it."""
    p = Path(path)
    try:
        return p.resolve().relative_to(settings.PROJECT_DIR).as_posix()
    except (ValueError, OSError):
        return str(path)


# ====================================================================== evaluation context


class _Context:
    """One chunk's source cells, by normalised header name, with null tokens made empty."""

    def __init__(self, layout: Layout, cells: dict[str, pa.Array], n: int, source_file: str):
        self.layout = layout
        self.cells = cells
        self.n = n
        self.source_file = source_file

    def column(self, name: str) -> pa.Array:
        return self.cells[normalise_header(name)]

    def constant(self, text: str) -> pa.Array:
        return pa.repeat(pa.scalar(text, pa.string()), self.n)


def _empty(values: pa.Array) -> np.ndarray:
    return _mask(pc.equal(values, ""))


def _text(values: pa.Array) -> pa.Array:
    """Trimmed text, '' instead of null: the shape of every contract column."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if values.type != pa.string():
        values = pc.cast(values, pa.string())
    return pc.fill_null(pc.utf8_trim_whitespace(values), _EMPTY)


def _decimals(values: pa.Array) -> tuple[pa.Array, np.ndarray, np.ndarray]:
    """(decimal values with null where unusable, empty mask, not-a-number mask)."""
    empty = _empty(values)
    shaped = pc.fill_null(pc.match_substring_regex(values, _NUMBER_TEXT), False)
    numbers = pc.cast(pc.if_else(shaped, values, _NULL), _DECIMAL)
    bad = ~_mask(shaped) & ~empty
    return numbers, empty, bad


def _rounded_text(values: pa.Array, digits: int) -> pa.Array:
    """Decimal values rounded half away from zero to `digits` places, as text."""
    rounded = pc.round(values, ndigits=digits, round_mode="half_towards_infinity")
    t = rounded.type
    if t.scale > digits:  # drop the zeros rounding left behind; lossless after the rounding
        rounded = pc.cast(rounded, pa.decimal256(t.precision - (t.scale - digits), digits))
    return pc.cast(rounded, pa.string())


def _numeric_result(result: pa.Array, empty: np.ndarray, bad: np.ndarray, digits: int) -> pa.Array:
    text = pc.fill_null(_rounded_text(result, digits), _EMPTY)
    text = pc.if_else(pa.array(bad), pa.scalar(_NOT_A_NUMBER), text)
    return pc.if_else(pa.array(empty & ~bad), _EMPTY, text)


# ====================================================================== expressions


class Expr:
    """One node of a column expression. `evaluate` returns trimmed text, '' for empty."""

    def source_columns(self) -> Iterable[str]:
        return ()

    def evaluate(self, ctx: _Context) -> pa.Array:  # pragma: no cover - abstract
        raise NotImplementedError


@dataclass(frozen=True)
class Literal(Expr):
    """Literal text inside concat/coalesce, or a number inside multiply/divide."""

    text: str

    def evaluate(self, ctx: _Context) -> pa.Array:
        return ctx.constant(self.text)


@dataclass(frozen=True)
class Column(Expr):
    name: str

    def source_columns(self) -> Iterable[str]:
        return (self.name,)

    def evaluate(self, ctx: _Context) -> pa.Array:
        return ctx.column(self.name)


@dataclass(frozen=True)
class Constant(Expr):
    text: str

    def evaluate(self, ctx: _Context) -> pa.Array:
        return ctx.constant(self.text)


@dataclass(frozen=True)
class Concat(Expr):
    parts: tuple[Expr, ...]

    def source_columns(self) -> Iterable[str]:
        return [c for p in self.parts for c in p.source_columns()]

    def evaluate(self, ctx: _Context) -> pa.Array:
        values = [p.evaluate(ctx) for p in self.parts]
        joined = pc.binary_join_element_wise(*values, "")
        any_empty = np.zeros(ctx.n, bool)
        for part, value in zip(self.parts, values):
            if not isinstance(part, Literal):
                any_empty |= _empty(value)
        return _text(pc.if_else(pa.array(any_empty), _EMPTY, joined))


@dataclass(frozen=True)
class Coalesce(Expr):
    parts: tuple[Expr, ...]

    def source_columns(self) -> Iterable[str]:
        return [c for p in self.parts for c in p.source_columns()]

    def evaluate(self, ctx: _Context) -> pa.Array:
        result = _text(self.parts[0].evaluate(ctx))
        for part in self.parts[1:]:
            result = pc.if_else(pa.array(_empty(result)), _text(part.evaluate(ctx)), result)
        return result


@dataclass(frozen=True)
class Upper(Expr):
    value: Expr

    def source_columns(self) -> Iterable[str]:
        return self.value.source_columns()

    def evaluate(self, ctx: _Context) -> pa.Array:
        return pc.utf8_upper(self.value.evaluate(ctx))


@dataclass(frozen=True)
class Split(Expr):
    value: Expr
    sep: str
    index: int

    def source_columns(self) -> Iterable[str]:
        return self.value.source_columns()

    def evaluate(self, ctx: _Context) -> pa.Array:
        pieces = pc.split_pattern(self.value.evaluate(ctx), pattern=self.sep)
        if isinstance(pieces, pa.ChunkedArray):
            pieces = pieces.combine_chunks()
        offsets = pieces.offsets.to_numpy(zero_copy_only=False).astype(np.int64)
        lengths = offsets[1:] - offsets[:-1]
        if self.index >= 0:
            present = lengths > self.index
            positions = offsets[:-1] + self.index
        else:
            present = lengths >= -self.index
            positions = offsets[1:] + self.index
        flat = pieces.values
        if len(flat) == 0:
            return ctx.constant("")
        taken = flat.take(pa.array(np.where(present, positions, 0)))
        return _text(pc.if_else(pa.array(present), taken, _EMPTY))


@dataclass(frozen=True)
class Arithmetic(Expr):
    op: str  # "multiply" | "divide"
    left: Expr
    right: Expr
    digits: int

    def source_columns(self) -> Iterable[str]:
        return [*self.left.source_columns(), *self.right.source_columns()]

    def evaluate(self, ctx: _Context) -> pa.Array:
        a, a_empty, a_bad = _decimals(self.left.evaluate(ctx))
        b, b_empty, b_bad = _decimals(self.right.evaluate(ctx))
        bad = a_bad | b_bad
        if self.op == "divide":
            zero = _mask(pc.equal(b, pa.scalar(0, _DECIMAL)))
            bad |= zero
            b = pc.if_else(pa.array(zero), pa.scalar(None, _DECIMAL), b)
            result = pc.divide(a, b)
        else:
            result = pc.multiply(a, b)
        return _numeric_result(result, a_empty | b_empty, bad, self.digits)


@dataclass(frozen=True)
class Round(Expr):
    value: Expr
    digits: int

    def source_columns(self) -> Iterable[str]:
        return self.value.source_columns()

    def evaluate(self, ctx: _Context) -> pa.Array:
        numbers, empty, bad = _decimals(self.value.evaluate(ctx))
        return _numeric_result(numbers, empty, bad, self.digits)


@dataclass(frozen=True)
class SurrogateId(Expr):
    value: Expr

    def source_columns(self) -> Iterable[str]:
        return self.value.source_columns()

    def evaluate(self, ctx: _Context) -> pa.Array:
        codes = _text(self.value.evaluate(ctx))
        encoded = pc.dictionary_encode(codes)
        # One hash per distinct code of the chunk, not per row.
        ids = [ctx.layout._surrogate(code, ctx.source_file) for code in encoded.dictionary.to_pylist()]
        return pa.array(ids, pa.string()).take(encoded.indices)


_KINDS: dict[str, set[str]] = {  # expression key -> the other keys allowed beside it
    "column": set(),
    "constant": set(),
    "concat": set(),
    "coalesce": set(),
    "upper": set(),
    "split": set(),
    "multiply": {"digits"},
    "divide": {"digits"},
    "round": {"digits"},
    "surrogate_id": set(),
}
_KNOWN = ", ".join(_KINDS)


def _scalar_text(value: Any, where: str) -> str:
    if isinstance(value, bool) or value is None or not isinstance(value, (str, int, float)):
        raise ValueError(f"{where}expected text or a number, got {value!r}")
    return value if isinstance(value, str) else repr(value) if isinstance(value, float) else str(value)


def parse_expression(raw: Any, where: str = "") -> Expr:
    """A column expression from its YAML value; ValueError says where (`where`) and what.

    ValueError even for a wrong type (not TypeError): Pydantic turns only ValueError into a
    validation error with the field's location, which the message needs.
    """
    here = f"{where}: " if where else ""
    if not isinstance(raw, dict):
        raise ValueError(  # noqa: TRY004
            f"{here}an expression is a mapping with one of the keys {_KNOWN}, got {raw!r} "
            "(write {column: NAME} for a source column, {constant: TEXT} for fixed text)"
        )
    keys = list(raw)
    kinds = [k for k in keys if k in _KINDS]
    allowed = set().union(*(_KINDS[k] for k in kinds)) if kinds else set()
    unknown = [k for k in keys if k not in _KINDS and k not in allowed]
    if unknown:
        raise ValueError(f"{here}unknown expression key {unknown[0]!r} (known: {_KNOWN})")
    if len(kinds) != 1:
        raise ValueError(
            f"{here}an expression has exactly one of the keys {_KNOWN}; got {', '.join(map(repr, kinds)) or 'none'}"
        )
    kind = kinds[0]
    arg = raw[kind]
    inner = f"{where}.{kind}" if where else kind

    digits = raw.get("digits", 2)
    if isinstance(digits, bool) or not isinstance(digits, int) or not 0 <= digits <= 18:
        raise ValueError(f"{inner}: digits must be a whole number from 0 to 18, got {digits!r}")

    def part(value: Any, at: str, literal_ok: bool) -> Expr:
        if literal_ok and not isinstance(value, dict):
            return Literal(_scalar_text(value, f"{at}: "))
        return parse_expression(value, at)

    def parts(min_len: int, max_len: int | None, literal_ok: bool) -> tuple[Expr, ...]:
        if not isinstance(arg, list) or len(arg) < min_len or (max_len and len(arg) > max_len):
            size = f"exactly {min_len}" if max_len == min_len else f"at least {min_len}"
            raise ValueError(f"{inner}: expected a list of {size} items, got {arg!r}")
        return tuple(part(v, f"{inner}[{i}]", literal_ok) for i, v in enumerate(arg))

    if kind == "column":
        if not isinstance(arg, str):
            raise ValueError(f"{inner}: a column name is text, got {arg!r}")
        return Column(arg.strip())
    if kind == "constant":
        return Constant(_scalar_text(arg, f"{inner}: "))
    if kind == "concat":
        return Concat(parts(1, None, literal_ok=True))
    if kind == "coalesce":
        return Coalesce(parts(2, None, literal_ok=True))
    if kind in ("multiply", "divide"):
        left, right = parts(2, 2, literal_ok=True)
        for side in (left, right):
            if isinstance(side, Literal) and not re.match(_NUMBER_TEXT, side.text):
                raise ValueError(f"{inner}: literal operand {side.text!r} is not a number")
        return Arithmetic(kind, left, right, digits)
    if kind == "round":
        return Round(parse_expression(arg, inner), digits)
    if kind == "upper":
        return Upper(parse_expression(arg, inner))
    if kind == "surrogate_id":
        return SurrogateId(parse_expression(arg, inner))
    # split
    if not isinstance(arg, dict):
        raise ValueError(  # noqa: TRY004
            f"{inner}: expected a mapping with column (or value), sep and index, got {arg!r}"
        )
    extra = [k for k in arg if k not in ("column", "value", "sep", "index")]
    if extra:
        raise ValueError(f"{inner}: unknown key {extra[0]!r} (known: column, value, sep, index)")
    if ("column" in arg) == ("value" in arg):
        raise ValueError(f"{inner}: give exactly one of column (a source column) or value (an expression)")
    if "column" in arg:
        if not isinstance(arg["column"], str):
            raise ValueError(f"{inner}.column: a column name is text, got {arg['column']!r}")
        value: Expr = Column(arg["column"].strip())
    else:
        value = parse_expression(arg["value"], f"{inner}.value")
    sep = arg.get("sep")
    if not isinstance(sep, str) or not sep:
        raise ValueError(f"{inner}.sep: a non-empty separator text is required, got {sep!r}")
    index = arg.get("index")
    if isinstance(index, bool) or not isinstance(index, int):
        raise ValueError(  # noqa: TRY004
            f"{inner}.index: a whole number is required (0 = first, -1 = last), got {index!r}"
        )
    return Split(value, sep, index)


# ====================================================================== the YAML model


def _check_regex(pattern: str) -> str:
    """The reader matches with Arrow (RE2 syntax): compile it there, so a bad one fails at load."""
    try:
        pc.match_substring_regex(pa.array([""], pa.string()), pattern)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise ValueError(f"bad regular expression {pattern!r}: {exc}") from None
    return pattern


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AppliesTo(_Strict):
    """Which landing files a layout reads: under `folder`, or matching one of `patterns`."""

    folder: str | None = None
    patterns: list[str] = Field(default_factory=list)

    @field_validator("folder")
    @classmethod
    def _relative_folder(cls, value: str | None) -> str | None:
        if value is None:
            return None
        folder = value.replace("\\", "/").strip().strip("/")
        if not folder or ".." in folder.split("/"):
            raise ValueError(f"a sub-folder of the landing folder is required, got {value!r}")
        return folder

    @field_validator("patterns")
    @classmethod
    def _non_empty_patterns(cls, value: list[str]) -> list[str]:
        for p in value:
            if not p.strip() or p.strip().startswith("/"):
                raise ValueError(f"a pattern is a relative file name or path glob, got {p!r}")
        return [p.strip() for p in value]

    @model_validator(mode="after")
    def _something(self) -> AppliesTo:
        if self.folder is None and not self.patterns:
            raise ValueError("give a folder, patterns, or both")
        return self

    def matches(self, relative_path: str) -> bool:
        path = PurePosixPath(relative_path)
        if self.folder and relative_path.startswith(self.folder + "/"):
            return True
        for pattern in self.patterns:
            pat = PurePosixPath(pattern)
            if len(pat.parts) == 1:  # a bare name pattern: the file name, in any folder
                if fnmatch.fnmatchcase(path.name, pattern):
                    return True
            elif len(pat.parts) == len(path.parts) and all(
                fnmatch.fnmatchcase(a, b) for a, b in zip(path.parts, pat.parts)
            ):
                return True
        return False


class CsvOptions(_Strict):
    delimiter: str = ","
    quote_char: str = '"'
    encoding: str = "utf-8"

    @field_validator("delimiter", "quote_char")
    @classmethod
    def _one_character(cls, value: str) -> str:
        if len(value) != 1:
            raise ValueError(f"must be exactly one character, got {value!r}")
        return value

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        try:
            codecs.lookup(value)
        except LookupError:
            raise ValueError(f"unknown text encoding {value!r}") from None
        return value


class DateOptions(_Strict):
    formats: list[str] = Field(default_factory=list)
    dayfirst: bool | None = None
    timezone: str = "UTC"

    @field_validator("formats", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("formats")
    @classmethod
    def _strftime(cls, value: list[str]) -> list[str]:
        for fmt in value:
            if "%" not in fmt:
                raise ValueError(f"{fmt!r} is not a strftime format (e.g. '%d/%m/%Y %H:%M')")
        return value

    @field_validator("timezone")
    @classmethod
    def _iana(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA time zone {value!r} (e.g. 'Europe/London')") from None
        return value

    @model_validator(mode="after")
    def _order_agrees_with_dayfirst(self) -> DateOptions:
        # dayfirst is a cross-check of the formats: a day-first source written with a month-first
        # format would load wrong dates silently for every day <= 12.
        if self.dayfirst is None:
            return self
        for i, fmt in enumerate(self.formats):
            if "%d" in fmt and "%m" in fmt and (fmt.index("%d") < fmt.index("%m")) != self.dayfirst:
                order = "day before month" if self.dayfirst else "month before day"
                raise ValueError(f"formats[{i}] {fmt!r} disagrees with dayfirst: {self.dayfirst} ({order})")
        return self


class Condition(_Strict):
    """One test on a source column's cell (null tokens count as empty)."""

    column: str
    matches: str | None = None  # RE2 regex, searched (anchor with ^ and $)
    not_matches: str | None = None
    equals: str | None = None
    less_than: float | None = None  # numeric; a cell that is not a number never matches
    greater_than: float | None = None

    @field_validator("matches", "not_matches")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        return value if value is None else _check_regex(value)

    @model_validator(mode="after")
    def _one_test(self) -> Condition:
        tests = [
            k for k in ("matches", "not_matches", "equals", "less_than", "greater_than") if getattr(self, k) is not None
        ]
        if len(tests) != 1:
            raise ValueError(
                "a condition has a column and exactly one of matches, not_matches, equals, "
                f"less_than, greater_than; got {', '.join(tests) or 'none'}"
            )
        return self

    def evaluate(self, ctx: _Context) -> np.ndarray:
        cell = ctx.column(self.column)
        if self.matches is not None:
            return _mask(pc.match_substring_regex(cell, self.matches))
        if self.not_matches is not None:
            return ~_mask(pc.match_substring_regex(cell, self.not_matches))
        if self.equals is not None:
            return _mask(pc.equal(cell, self.equals))
        shaped = pc.fill_null(pc.match_substring_regex(cell, r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)$"), False)
        values = pc.fill_null(pc.cast(pc.if_else(shaped, cell, _NULL), pa.float64()), np.nan).to_numpy(
            zero_copy_only=False
        )
        with np.errstate(invalid="ignore"):
            return values < self.less_than if self.less_than is not None else values > self.greater_than


class RowRule(_Strict):
    """Rows that are not sales: all `when` conditions hold -> quarantined with `reason`."""

    reason: str
    when: list[Condition]
    description: str | None = None

    @field_validator("when", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, dict) else value

    @field_validator("when")
    @classmethod
    def _not_empty(cls, value: list[Condition]) -> list[Condition]:
        if not value:
            raise ValueError("at least one condition is required")
        return value

    @field_validator("reason")
    @classmethod
    def _own_code(cls, value: str) -> str:
        if not re.match(_REASON_CODE, value):
            raise ValueError(f"a reason code is lower_snake_case, got {value!r}")
        if value in {r.value for r in Reason}:
            raise ValueError(
                f"{value!r} is one of the contract's own reason codes; a layout's rule needs a code "
                "of its own (e.g. cancelled_invoice), so the two cannot be confused"
            )
        return value


class LayoutSpec(_Strict):
    """The content of one layout YAML file."""

    name: str
    description: str
    applies_to: AppliesTo
    csv: CsvOptions = Field(default_factory=CsvOptions)
    null_tokens: list[str] = Field(default_factory=list)
    dates: DateOptions = Field(default_factory=DateOptions)
    columns: dict[str, Annotated[Any, AfterValidator(parse_expression)]]
    row_rules: list[RowRule] = Field(default_factory=list)
    # True when the source has no unit price and `unit_price` is computed from its total: see
    # `unit_price_derived` in contract.validate_sales for what that changes.
    unit_price_derived: bool = False

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not re.match(_REASON_CODE, value):
            raise ValueError(f"a layout name is lower_snake_case (it names the source), got {value!r}")
        return value

    @field_validator("description")
    @classmethod
    def _described(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("say what source this layout reads")
        return value.strip()

    @field_validator("null_tokens", mode="before")
    @classmethod
    def _tokens_as_text(cls, value: Any) -> Any:
        # YAML reads NA as text but `null`/`~` as None: both mean the same to the author.
        if isinstance(value, list):
            return ["" if v is None else v if isinstance(v, (str, bool)) else str(v) for v in value]
        return value

    @field_validator("null_tokens")
    @classmethod
    def _trimmed_tokens(cls, value: list[str]) -> list[str]:
        return sorted({v.strip() for v in value})

    @field_validator("columns")
    @classmethod
    def _contract_columns(cls, value: dict[str, Expr]) -> dict[str, Expr]:
        unknown = [k for k in value if k not in SALES_COLUMNS]
        if unknown:
            raise ValueError(f"unknown contract column {unknown[0]!r} (contract columns: {', '.join(SALES_COLUMNS)})")
        missing = [c for c in REQUIRED_COLUMNS if c not in value]
        if missing:
            raise ValueError(
                f"missing contract column(s) {', '.join(missing)}: every contract column except "
                f"{', '.join(sorted(OPTIONAL_COLUMNS))} must be given (use {{constant: ''}} for one "
                "the source does not have)"
            )
        return value


# ====================================================================== Layout


def _format_validation(source: str, exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        loc = ""
        for part in err["loc"]:
            loc += f"[{part}]" if isinstance(part, int) else (f".{part}" if loc else str(part))
        msg = err["msg"]
        if err["type"] == "value_error":
            msg = msg.removeprefix("Value error, ")
        elif err["type"] == "missing":
            msg = "required key is missing"
        elif err["type"] == "extra_forbidden":
            msg = "unknown key"
        # An expression error already starts with its own inner path (e.g. "concat[1]: ...").
        lines.append(f"{source}: {loc or '(top level)'}: {msg}")
    return "\n".join(lines)


class Layout:
    """A validated source layout, ready to convert chunks of one source's files."""

    def __init__(self, spec: LayoutSpec, path: Path | str = "<memory>"):
        self.spec = spec
        self.path = str(path)
        self.name = spec.name
        self.description = spec.description
        self.dialect = CsvDialect(spec.csv.delimiter, spec.csv.quote_char, spec.csv.encoding)
        self.unit_price_derived = spec.unit_price_derived
        self._null_tokens = pa.array(spec.null_tokens, pa.string())
        self._zone = spec.dates.timezone
        self._surrogates: dict[str, str] = {}
        self._surrogate_codes: dict[str, str] = {}  # id -> the code that has it
        sources: list[str] = []
        for expr in spec.columns.values():
            sources.extend(expr.source_columns())
        for rule in spec.row_rules:
            sources.extend(c.column for c in rule.when)
        self.source_columns: list[str] = list(dict.fromkeys(sources))  # first-use order, unique

    def __repr__(self) -> str:
        return f"Layout({self.name!r}, {self.path!r})"

    @classmethod
    def from_dict(cls, data: Any, path: Path | str = "<memory>") -> Layout:
        source = _display(path) if path != "<memory>" else path
        if not isinstance(data, dict):
            raise LayoutError(f"{source}: a layout file is a YAML mapping (name, description, columns, ...)")
        try:
            return cls(LayoutSpec.model_validate(data), source)
        except ValidationError as exc:
            raise LayoutError(_format_validation(source, exc)) from None

    @classmethod
    def load(cls, path: Path) -> Layout:
        source = _display(path)
        try:
            data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise LayoutError(f"{source}: not valid YAML: {exc}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise LayoutError(f"{source}: cannot be read: {exc}") from None
        return cls.from_dict(data, path)

    # ------------------------------------------------------------------ files

    def applies_to(self, relative_path: str) -> bool:
        return self.spec.applies_to.matches(_relative(relative_path))

    def _positions(self, header: list[str], source_file: str) -> dict[str, int]:
        by_key: dict[str, list[int]] = {}
        for i, name in enumerate(header):
            by_key.setdefault(normalise_header(name), []).append(i)
        missing = [c for c in self.source_columns if normalise_header(c) not in by_key]
        if missing:
            raise SalesFileError(
                f"{source_file}: line 1: header lacks column(s) {', '.join(map(repr, missing))} that "
                f"layout {self.name!r} ({self.path}) reads; found "
                f"{', '.join(repr(h) for h in header) or 'nothing'}"
            )
        twice = [c for c in self.source_columns if len(by_key[normalise_header(c)]) > 1]
        if twice:
            raise SalesFileError(
                f"{source_file}: line 1: column(s) {', '.join(map(repr, twice))} that layout "
                f"{self.name!r} ({self.path}) reads appear more than once in the header"
            )
        return {normalise_header(c): by_key[normalise_header(c)][0] for c in self.source_columns}

    def check_header(self, header: list[str], source_file: str) -> None:
        """Fail, naming the file and the columns, when the header lacks a column the layout reads."""
        self._positions(header, source_file)

    def unused_columns(self, header: list[str]) -> list[str]:
        used = {normalise_header(c) for c in self.source_columns}
        return [h for h in header if normalise_header(h) not in used]

    # ------------------------------------------------------------------ conversion

    def _surrogate(self, code: str, source_file: str) -> str:
        if code == "":
            return ""
        known = self._surrogates.get(code)
        if known is None:
            known = str(surrogate_id(self.name, code))
            other = self._surrogate_codes.get(known)
            if other is not None and other != code:
                raise SalesFileError(
                    f"{source_file}: layout {self.name!r} ({self.path}): product codes {other!r} and "
                    f"{code!r} hash to the same surrogate id {known}; rename the layout (its name is "
                    "the hash's namespace) or map one of the codes differently"
                )
            self._surrogates[code] = known
            self._surrogate_codes[known] = code
        return known

    def to_contract(
        self, cells: list[pa.Array], header: list[str], source_file: str
    ) -> tuple[dict[str, pa.Array], dict[int, list[str]]]:
        """Every contract column as trimmed text ('' = empty), and the rows the row rules flag.

        The second value maps a row's position in this chunk to the layout's own reason codes,
        in rule order, for the flagged rows only.
        """
        positions = self._positions(header, source_file)
        n = len(cells[0]) if cells else 0
        source: dict[str, pa.Array] = {}
        for key, i in positions.items():
            cell = _text(cells[i])
            if len(self._null_tokens):
                cell = pc.if_else(pc.is_in(cell, value_set=self._null_tokens), _EMPTY, cell)
            source[key] = cell
        ctx = _Context(self, source, n, source_file)
        contract: dict[str, pa.Array] = {}
        for name in SALES_COLUMNS:
            expr = self.spec.columns.get(name)
            contract[name] = _text(expr.evaluate(ctx)) if expr is not None else ctx.constant("")
        reasons: dict[int, list[str]] = {}
        for rule in self.spec.row_rules:
            hit = np.logical_and.reduce([c.evaluate(ctx) for c in rule.when]) if n else np.zeros(0, bool)
            for i in np.flatnonzero(hit):
                reasons.setdefault(int(i), []).append(rule.reason)
        return contract, reasons

    def parse_dates(self, values: pa.Array) -> pd.Series:
        """The layout's date formats in order (ISO 8601 if none), naive times in the layout's
        zone, as UTC; NaT where no format fits.

        Around a DST change, a wall-clock time that occurs twice is taken as the first occurrence
        (summer time) and one that does not exist is moved forward to the first valid instant:
        both are deterministic, and a shop's clock cannot be asked afterwards.
        """
        text = pd.Series(_text(values).to_numpy(zero_copy_only=False), dtype=object)
        result = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns, UTC]")
        todo = text.ne("").to_numpy()
        for fmt in self.spec.dates.formats or ["ISO8601"]:
            if not todo.any():
                break
            part = text[todo]
            aware = "%z" in fmt or "%Z" in fmt
            if fmt == "ISO8601":
                # Values with an explicit offset keep it; the others are wall-clock time.
                aware_rows = part.str.contains(_ISO_OFFSET, regex=True).to_numpy()
                parsed = pd.Series(pd.NaT, index=part.index, dtype="datetime64[ns, UTC]")
                if aware_rows.any():
                    parsed[aware_rows] = pd.to_datetime(part[aware_rows], format="ISO8601", utc=True, errors="coerce")
                if (~aware_rows).any():
                    parsed[~aware_rows] = self._localise(
                        pd.to_datetime(part[~aware_rows], format="ISO8601", errors="coerce")
                    )
            elif aware:
                parsed = pd.to_datetime(part, format=fmt, utc=True, errors="coerce")
            else:
                parsed = self._localise(pd.to_datetime(part, format=fmt, errors="coerce"))
            result[todo] = parsed.astype("datetime64[ns, UTC]")
            todo = todo & result.isna().to_numpy()
        return result

    def _localise(self, naive: pd.Series) -> pd.Series:
        naive = naive.astype("datetime64[ns]")
        if self._zone == "UTC":
            return naive.dt.tz_localize("UTC")
        local = naive.dt.tz_localize(self._zone, ambiguous=np.ones(len(naive), dtype=bool), nonexistent="shift_forward")
        return local.dt.tz_convert("UTC")


def _relative(relative_path: str) -> str:
    path = relative_path.replace("\\", "/")
    while path.startswith("./"):
        path = path[2:]
    return path.lstrip("/")


def load_layout(path: Path) -> Layout:
    """One layout YAML file, validated; LayoutError names the file and the field."""
    return Layout.load(Path(path))


def load_layouts(folder: Path) -> list[Layout]:
    """Every *.yaml / *.yml layout in `folder` (none if the folder is absent), by file name.

    All files are checked; the errors of every broken file are reported together.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    layouts: list[Layout] = []
    errors: list[str] = []
    for path in sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]):
        try:
            layouts.append(Layout.load(path))
        except LayoutError as exc:
            errors.append(str(exc))
    by_name: dict[str, Layout] = {}
    for layout in layouts:
        if layout.name in by_name:
            errors.append(
                f"{layout.path}: name: {layout.name!r} is already the name of {by_name[layout.name].path}; "
                "layout names must be unique (they namespace surrogate ids)"
            )
        by_name.setdefault(layout.name, layout)
    if errors:
        raise LayoutError("\n".join(errors))
    return layouts


def find_layout(relative_path: str, layouts: list[Layout]) -> Layout | None:
    """The layout for a file (path relative to the landing folder), or None: the standard contract.

    Two layouts claiming one file is an error rather than a guess.
    """
    matched = [layout for layout in layouts if layout.applies_to(relative_path)]
    if len(matched) > 1:
        raise LayoutError(
            f"{relative_path}: matched by more than one layout: "
            f"{', '.join(f'{m.name} ({m.path})' for m in matched)}; make their applies_to exclusive"
        )
    return matched[0] if matched else None


__all__: list[str] = [
    "SURROGATE_MAX",
    "SURROGATE_MIN",
    "Layout",
    "LayoutError",
    "LayoutSpec",
    "find_layout",
    "load_layout",
    "load_layouts",
    "parse_expression",
    "surrogate_id",
]
