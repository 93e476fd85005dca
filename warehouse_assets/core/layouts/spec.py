"""The YAML model of a source layout, validated with Pydantic: every key, its type and its rules.

`data/layouts/README.md` documents every key with an example. An error names the YAML file and
the field (see `layout.format_validation`).
"""

from __future__ import annotations

import codecs
import fnmatch
import re
from pathlib import PurePosixPath
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from warehouse_assets.core.contract.sales import OPTIONAL_COLUMNS, REQUIRED_COLUMNS, SALES_COLUMNS, Reason
from warehouse_assets.core.contract.sales import mask as _mask
from warehouse_assets.core.layouts.expressions import (
    NULL_TEXT,
    REASON_CODE_PATTERN,
    EvaluationContext,
    Expr,
    parse_expression,
)


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

    def evaluate(self, ctx: EvaluationContext) -> np.ndarray:
        cell = ctx.column(self.column)
        if self.matches is not None:
            return _mask(pc.match_substring_regex(cell, self.matches))
        if self.not_matches is not None:
            return ~_mask(pc.match_substring_regex(cell, self.not_matches))
        if self.equals is not None:
            return _mask(pc.equal(cell, self.equals))
        shaped = pc.fill_null(pc.match_substring_regex(cell, r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)$"), False)
        values = pc.fill_null(pc.cast(pc.if_else(shaped, cell, NULL_TEXT), pa.float64()), np.nan).to_numpy(
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
        if not re.match(REASON_CODE_PATTERN, value):
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
    # True when the source writes a return as a line with a negative quantity (and total): such a
    # line becomes a return with positive amounts (contract.returns_from_negative_quantities).
    negative_quantities_are_returns: bool = False

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not re.match(REASON_CODE_PATTERN, value):
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
