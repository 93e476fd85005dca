"""The expression language of source layouts: how a contract column is computed from a
source's cells, as column operations on a whole chunk.

The language is deliberately tiny and closed; an unknown key is an error at load, reported with
the YAML file and the field, e.g.
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
    {subtract: [A, B], digits: 2}
                                    Decimal's ROUND_HALF_UP, and PostgreSQL's numeric rounding
    {round: EXPR, digits: 2}        the same rounding of one number
    {surrogate_id: EXPR}            a stable integer id for a text code (see `surrogate_id`)

Arithmetic is decimal, not binary floating point: operands are read as decimal256(34, 18) (up
to 16 integer digits and 18 decimals), so 16.448 / 2 is exactly 8.224 and rounds to 8.22, and
1.005 rounds to 1.01 (in floats it is 1.00499999... and would round to 1.00). An empty operand
gives an empty result (the contract then says missing_field); an operand that is not a number,
or a division by zero, gives the text "NaN", which the contract quarantines as bad_number.

Everything is a column operation (pyarrow.compute, numpy), never a Python loop over rows; the
only loop is over the *distinct* values of a product code (for `surrogate_id`).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from warehouse_assets.core.contract.sales import mask as _mask
from warehouse_assets.core.contract.sales import normalise_header

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
EMPTY_TEXT = pa.scalar("", pa.string())
NULL_TEXT = pa.scalar(None, pa.string())
REASON_CODE_PATTERN = r"^[a-z][a-z0-9_]*$"
# An ISO 8601 time of day followed by an offset ("10:00:00+01:00", "10:00Z"); a bare date's
# "-01" is not an offset.
ISO_OFFSET_PATTERN = r"\d:\d\d(?::\d\d(?:[.,]\d+)?)?\s*(?:Z|[+-]\d\d(?::?\d\d)?)$"


def surrogate_id(namespace: str, code: str) -> int:
    """The surrogate integer id of a text code: a stable hash of "<namespace>:<code>".

    The first 8 bytes of the SHA-256 of the UTF-8 text, as a big-endian unsigned integer, modulo
    the range size, plus SURROGATE_MIN. Stable across runs, machines and Python versions (unlike
    `hash()`), and reproducible in SQL or any language. The namespace is the layout's name, so
    the same code in two sources gives two products.
    """
    digest = hashlib.sha256(f"{namespace}:{code}".encode()).digest()
    return SURROGATE_MIN + int.from_bytes(digest[:8], "big") % _SURROGATE_SPAN


# ====================================================================== evaluation context


class EvaluationContext:
    """One chunk's source cells, by normalised header name, with null tokens made empty.

    `surrogate` turns a product code into its surrogate id (as text); the layout supplies it,
    since it remembers codes across chunks to catch collisions.
    """

    def __init__(self, cells: dict[str, pa.Array], n: int, surrogate: Callable[[str], str]):
        self.cells = cells
        self.n = n
        self.surrogate = surrogate

    def column(self, name: str) -> pa.Array:
        return self.cells[normalise_header(name)]

    def constant(self, text: str) -> pa.Array:
        return pa.repeat(pa.scalar(text, pa.string()), self.n)


def _empty(values: pa.Array) -> np.ndarray:
    return _mask(pc.equal(values, ""))


def as_text(values: pa.Array) -> pa.Array:
    """Trimmed text, '' instead of null: the shape of every contract column."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if values.type != pa.string():
        values = pc.cast(values, pa.string())
    return pc.fill_null(pc.utf8_trim_whitespace(values), EMPTY_TEXT)


def _decimals(values: pa.Array) -> tuple[pa.Array, np.ndarray, np.ndarray]:
    """(decimal values with null where unusable, empty mask, not-a-number mask)."""
    empty = _empty(values)
    shaped = pc.fill_null(pc.match_substring_regex(values, _NUMBER_TEXT), False)
    numbers = pc.cast(pc.if_else(shaped, values, NULL_TEXT), _DECIMAL)
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
    text = pc.fill_null(_rounded_text(result, digits), EMPTY_TEXT)
    text = pc.if_else(pa.array(bad), pa.scalar(_NOT_A_NUMBER), text)
    return pc.if_else(pa.array(empty & ~bad), EMPTY_TEXT, text)


# ====================================================================== expressions


class Expr:
    """One node of a column expression. `evaluate` returns trimmed text, '' for empty."""

    def source_columns(self) -> Iterable[str]:
        return ()

    def evaluate(self, ctx: EvaluationContext) -> pa.Array:  # pragma: no cover - abstract
        raise NotImplementedError


@dataclass(frozen=True)
class Literal(Expr):
    """Literal text inside concat/coalesce, or a number inside multiply/divide."""

    text: str

    def evaluate(self, ctx: EvaluationContext) -> pa.Array:
        return ctx.constant(self.text)


@dataclass(frozen=True)
class Column(Expr):
    name: str

    def source_columns(self) -> Iterable[str]:
        return (self.name,)

    def evaluate(self, ctx: EvaluationContext) -> pa.Array:
        return ctx.column(self.name)


@dataclass(frozen=True)
class Constant(Expr):
    text: str

    def evaluate(self, ctx: EvaluationContext) -> pa.Array:
        return ctx.constant(self.text)


@dataclass(frozen=True)
class Concat(Expr):
    parts: tuple[Expr, ...]

    def source_columns(self) -> Iterable[str]:
        return [c for p in self.parts for c in p.source_columns()]

    def evaluate(self, ctx: EvaluationContext) -> pa.Array:
        values = [p.evaluate(ctx) for p in self.parts]
        joined = pc.binary_join_element_wise(*values, "")
        any_empty = np.zeros(ctx.n, bool)
        for part, value in zip(self.parts, values):
            if not isinstance(part, Literal):
                any_empty |= _empty(value)
        return as_text(pc.if_else(pa.array(any_empty), EMPTY_TEXT, joined))


@dataclass(frozen=True)
class Coalesce(Expr):
    parts: tuple[Expr, ...]

    def source_columns(self) -> Iterable[str]:
        return [c for p in self.parts for c in p.source_columns()]

    def evaluate(self, ctx: EvaluationContext) -> pa.Array:
        result = as_text(self.parts[0].evaluate(ctx))
        for part in self.parts[1:]:
            result = pc.if_else(pa.array(_empty(result)), as_text(part.evaluate(ctx)), result)
        return result


@dataclass(frozen=True)
class Upper(Expr):
    value: Expr

    def source_columns(self) -> Iterable[str]:
        return self.value.source_columns()

    def evaluate(self, ctx: EvaluationContext) -> pa.Array:
        return pc.utf8_upper(self.value.evaluate(ctx))


@dataclass(frozen=True)
class Split(Expr):
    value: Expr
    sep: str
    index: int

    def source_columns(self) -> Iterable[str]:
        return self.value.source_columns()

    def evaluate(self, ctx: EvaluationContext) -> pa.Array:
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
        return as_text(pc.if_else(pa.array(present), taken, EMPTY_TEXT))


@dataclass(frozen=True)
class Arithmetic(Expr):
    op: str  # "multiply" | "divide" | "subtract"
    left: Expr
    right: Expr
    digits: int

    def source_columns(self) -> Iterable[str]:
        return [*self.left.source_columns(), *self.right.source_columns()]

    def evaluate(self, ctx: EvaluationContext) -> pa.Array:
        a, a_empty, a_bad = _decimals(self.left.evaluate(ctx))
        b, b_empty, b_bad = _decimals(self.right.evaluate(ctx))
        bad = a_bad | b_bad
        if self.op == "divide":
            zero = _mask(pc.equal(b, pa.scalar(0, _DECIMAL)))
            bad |= zero
            b = pc.if_else(pa.array(zero), pa.scalar(None, _DECIMAL), b)
            result = pc.divide(a, b)
        elif self.op == "subtract":
            result = pc.subtract(a, b)
        else:
            result = pc.multiply(a, b)
        return _numeric_result(result, a_empty | b_empty, bad, self.digits)


@dataclass(frozen=True)
class Round(Expr):
    value: Expr
    digits: int

    def source_columns(self) -> Iterable[str]:
        return self.value.source_columns()

    def evaluate(self, ctx: EvaluationContext) -> pa.Array:
        numbers, empty, bad = _decimals(self.value.evaluate(ctx))
        return _numeric_result(numbers, empty, bad, self.digits)


@dataclass(frozen=True)
class SurrogateId(Expr):
    value: Expr

    def source_columns(self) -> Iterable[str]:
        return self.value.source_columns()

    def evaluate(self, ctx: EvaluationContext) -> pa.Array:
        codes = as_text(self.value.evaluate(ctx))
        encoded = pc.dictionary_encode(codes)
        # One hash per distinct code of the chunk, not per row.
        ids = [ctx.surrogate(code) for code in encoded.dictionary.to_pylist()]
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
    "subtract": {"digits"},
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
    if kind in ("multiply", "divide", "subtract"):
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
