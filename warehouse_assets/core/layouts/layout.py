"""A source layout at run time: the validated YAML turned into what the reader calls per chunk.

The reader (`sales_reader.SalesFileReader`) does the streaming, the line numbers and the
structural noise; a `Layout` only checks the header, turns each chunk's source cells into the
contract's text columns (`to_contract`) and parses its dates (`parse_dates`). The contract's rules
(`validate_sales`) then judge the result exactly as they judge a standard file, so a layout can
make a file readable but can never make a bad row valid.
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import yaml
from pydantic import ValidationError

from warehouse_assets.core.contract.dates import UTC_MICROS, parse_iso_timestamps
from warehouse_assets.core.contract.sales import SALES_COLUMNS, normalise_header
from warehouse_assets.core.contract.sales import mask as _mask
from warehouse_assets.core.csv_records import Dialect
from warehouse_assets.core.layouts.expressions import (
    EMPTY_TEXT,
    ISO_OFFSET_PATTERN,
    EvaluationContext,
    as_text,
    surrogate_id,
)
from warehouse_assets.core.layouts.spec import LayoutSpec
from warehouse_assets.core.settings import PROJECT_DIR


class LayoutError(ValueError):
    """A layout file that cannot be used; the message names the YAML file and the field."""


class FileLayoutError(ValueError):
    """A file does not fit its layout (its header lacks a column the layout reads, two of its
    product codes hash to one surrogate id); the message names the file and what is wrong."""


def display_path(path: Path | str) -> str:
    """A layout file's path as shown in messages: relative to the project when inside it."""
    p = Path(path)
    try:
        return p.resolve().relative_to(PROJECT_DIR).as_posix()
    except (ValueError, OSError):
        return str(path)


def format_validation(source: str, exc: ValidationError) -> str:
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
        self.dialect = Dialect(spec.csv.delimiter, spec.csv.quote_char, spec.csv.encoding)
        self.unit_price_derived = spec.unit_price_derived
        self.negative_quantities_are_returns = spec.negative_quantities_are_returns
        self._null_tokens = pa.array(spec.null_tokens, pa.string())
        self._zone = spec.dates.timezone
        self._surrogates: dict[str, str] = {}
        self._surrogate_codes: dict[str, str] = {}  # id -> the code that has it
        self._surrogates_lock = threading.Lock()
        sources: list[str] = []
        for expr in spec.columns.values():
            sources.extend(expr.source_columns())
        for rule in spec.row_rules:
            sources.extend(c.column for c in rule.when)
        self.source_columns: list[str] = list(dict.fromkeys(sources))  # first-use order, unique
        # sha256 of the YAML file: a file read with another version of its layout is read again.
        self.version: str | None = None

    def __repr__(self) -> str:
        return f"Layout({self.name!r}, {self.path!r})"

    @classmethod
    def from_dict(cls, data: Any, path: Path | str = "<memory>") -> Layout:
        source = display_path(path) if path != "<memory>" else path
        if not isinstance(data, dict):
            raise LayoutError(f"{source}: a layout file is a YAML mapping (name, description, columns, ...)")
        try:
            return cls(LayoutSpec.model_validate(data), source)
        except ValidationError as exc:
            raise LayoutError(format_validation(source, exc)) from None

    @classmethod
    def load(cls, path: Path) -> Layout:
        source = display_path(path)
        try:
            text = Path(path).read_text(encoding="utf-8")
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise LayoutError(f"{source}: not valid YAML: {exc}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise LayoutError(f"{source}: cannot be read: {exc}") from None
        layout = cls.from_dict(data, path)
        layout.version = hashlib.sha256(text.encode("utf-8")).hexdigest()
        return layout

    # ------------------------------------------------------------------ files

    def applies_to(self, relative_path: str) -> bool:
        return self.spec.applies_to.matches(_relative(relative_path))

    def _positions(self, header: list[str], source_file: str) -> dict[str, int]:
        by_key: dict[str, list[int]] = {}
        for i, name in enumerate(header):
            by_key.setdefault(normalise_header(name), []).append(i)
        missing = [c for c in self.source_columns if normalise_header(c) not in by_key]
        if missing:
            raise FileLayoutError(
                f"{source_file}: line 1: header lacks column(s) {', '.join(map(repr, missing))} that "
                f"layout {self.name!r} ({self.path}) reads; found "
                f"{', '.join(repr(h) for h in header) or 'nothing'}"
            )
        twice = [c for c in self.source_columns if len(by_key[normalise_header(c)]) > 1]
        if twice:
            raise FileLayoutError(
                f"{source_file}: line 1: column(s) {', '.join(map(repr, twice))} that layout "
                f"{self.name!r} ({self.path}) reads appear more than once in the header"
            )
        return {normalise_header(c): by_key[normalise_header(c)][0] for c in self.source_columns}

    def check_header(self, header: list[str], source_file: str) -> None:
        """Fail, naming the file and the columns, when the header lacks a column the layout reads."""
        self._positions(header, source_file)

    def maps(self, contract_column: str) -> bool:
        """Whether the layout gives the contract column a value of its own (not always empty)."""
        return contract_column in self.spec.columns

    def unused_columns(self, header: list[str]) -> list[str]:
        used = {normalise_header(c) for c in self.source_columns}
        return [h for h in header if normalise_header(h) not in used]

    # ------------------------------------------------------------------ conversion

    def _surrogate(self, code: str, source_file: str) -> str:
        if code == "":
            return ""
        known = self._surrogates.get(code)
        if known is None:
            # Blocks of a file are judged side by side: a code's id and its collision check are
            # recorded together.
            with self._surrogates_lock:
                known = str(surrogate_id(self.name, code))
                other = self._surrogate_codes.get(known)
                if other is not None and other != code:
                    raise FileLayoutError(
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
            cell = as_text(cells[i])
            if len(self._null_tokens):
                cell = pc.if_else(pc.is_in(cell, value_set=self._null_tokens), EMPTY_TEXT, cell)
            source[key] = cell
        ctx = EvaluationContext(source, n, lambda code: self._surrogate(code, source_file))
        contract: dict[str, pa.Array] = {}
        for name in SALES_COLUMNS:
            expr = self.spec.columns.get(name)
            contract[name] = as_text(expr.evaluate(ctx)) if expr is not None else ctx.constant("")
        reasons: dict[int, list[str]] = {}
        for rule in self.spec.row_rules:
            hit = np.logical_and.reduce([c.evaluate(ctx) for c in rule.when]) if n else np.zeros(0, bool)
            for i in np.flatnonzero(hit):
                reasons.setdefault(int(i), []).append(rule.reason)
        return contract, reasons

    def parse_dates(self, values: pa.Array) -> pa.Array:
        """The layout's date formats in order (ISO 8601 if none), naive times in the layout's
        zone, as timestamp[us, UTC]; null where no format fits.

        Around a DST change, a wall-clock time that occurs twice is taken as the first occurrence
        (summer time) and one that does not exist is moved forward to the first valid instant:
        both are deterministic, and a shop's clock cannot be asked afterwards. strftime formats
        are parsed by pandas, which holds years 1677 to 2262; a date outside them is bad_date.
        """
        if not self.spec.dates.formats:
            return self._iso_in_zone(values)
        text = pd.Series(as_text(values).to_numpy(zero_copy_only=False), dtype=object)
        result = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns, UTC]")
        todo = text.ne("").to_numpy()
        for fmt in self.spec.dates.formats:
            if not todo.any():
                break
            part = text[todo]
            if "%z" in fmt or "%Z" in fmt:
                parsed = pd.to_datetime(part, format=fmt, utc=True, errors="coerce")
            else:
                parsed = self._localise(pd.to_datetime(part, format=fmt, errors="coerce"))
            result[todo] = parsed.astype("datetime64[ns, UTC]")
            todo = todo & result.isna().to_numpy()
        return pa.Array.from_pandas(result).cast(UTC_MICROS)

    def _iso_in_zone(self, values: pa.Array) -> pa.Array:
        """ISO 8601 with the contract's parser; values without an offset are the zone's wall clock."""
        text = as_text(values)
        parsed = parse_iso_timestamps(text)
        if self._zone == "UTC":
            return parsed
        naive = ~_mask(pc.match_substring_regex(text, ISO_OFFSET_PATTERN)) & _mask(pc.is_valid(parsed))
        if not naive.any():
            return parsed
        wall = pd.Series(pc.cast(parsed, pa.int64()).to_numpy(zero_copy_only=False)[naive]).astype("datetime64[us]")
        local = self._localise(wall)
        micros = pc.cast(parsed, pa.int64()).to_numpy(zero_copy_only=False).copy()
        micros[naive] = local.astype("datetime64[us, UTC]").astype("int64").to_numpy()
        return pa.array(micros, pa.int64(), mask=~_mask(pc.is_valid(parsed))).cast(UTC_MICROS)

    def _localise(self, naive: pd.Series) -> pd.Series:
        if self._zone == "UTC":
            return naive.dt.tz_localize("UTC")
        local = naive.dt.tz_localize(self._zone, ambiguous=np.ones(len(naive), dtype=bool), nonexistent="shift_forward")
        return local.dt.tz_convert("UTC")


def _relative(relative_path: str) -> str:
    path = relative_path.replace("\\", "/")
    while path.startswith("./"):
        path = path[2:]
    return path.lstrip("/")
