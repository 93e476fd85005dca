"""ISO 8601 dates and timestamps, parsed as whole columns into UTC instants.

Accepted: `2024-03-05`, `2024-03-05 14:22`, `2024-03-05 14:22:10`, `2024-03-05T14:22:10.123456`,
with an optional offset after a time (`Z`, `+02:00`, `+0200`, `-05`). A naive time means UTC.
Not accepted (null, so the contract says bad_date): partial dates (`2024`, `2024-03`), the basic
format (`20240305`), impossible days (`2024-02-30`), hours past 23, year 0.

Written here rather than left to pandas or Arrow: pandas accepts `2024` and `2024-03` as dates
and cannot hold years before 1677 or after 2262, and Arrow's cast needs every element to parse.
The arithmetic is exact integers (microseconds since 1970), so any year from 1 to 9999 is an
instant, and the contract can then call year 1 too old and year 9999 in the future.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

UTC_MICROS = pa.timestamp("us", tz="UTC")

_ISO = (
    r"^(?P<y>\d{4})-(?P<m>\d{2})-(?P<d>\d{2})"
    r"(?:[T ](?P<H>\d{2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?:[.,](?P<f>\d{1,9}))?)?"
    r"(?:\s*(?P<off>Z|z|[+-]\d{2}(?::?\d{2})?))?)?$"
)
_MICROS_PER_DAY = 86_400_000_000


def days_from_civil(y: np.ndarray, m: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 of proleptic Gregorian dates (H. Hinnant's algorithm), vectorised."""
    y = y - (m <= 2)
    era = np.floor_divide(y, 400)
    yoe = y - era * 400
    mp = (m + 9) % 12
    doy = (153 * mp + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146_097 + doe - 719_468


def _days_in_month(y: np.ndarray, m: np.ndarray) -> np.ndarray:
    leap = ((y % 4 == 0) & (y % 100 != 0)) | (y % 400 == 0)
    lengths = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)
    out = lengths[np.clip(m, 1, 12) - 1]
    return out + ((m == 2) & leap)


def _ints(struct: pa.StructArray, name: str) -> np.ndarray:
    text = pc.struct_field(struct, name)
    text = pc.if_else(pc.equal(text, ""), "0", text)
    return pc.fill_null(pc.cast(text, pa.int64()), 0).to_numpy(zero_copy_only=False)


def parse_iso_timestamps(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """timestamp[us, UTC] per value; null where the text is not an ISO 8601 date or timestamp."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if len(values) == 0:
        return pa.array([], UTC_MICROS)
    # Fast path for the usual shape (a naive date or date and time, fixed positions): its fields
    # are range-checked by position, and Arrow's strict cast then parses every such value.
    plain = mask_of(pc.match_substring_regex(values, _PLAIN))
    if not plain.any():
        return _parse_general(values)
    sliced = {name: _slice_ints(values, a, b) for name, (a, b) in _PLAIN_FIELDS.items()}
    y, m, d = sliced["y"], sliced["m"], sliced["d"]
    ok = plain & (y >= 1) & (m >= 1) & (m <= 12) & (d >= 1) & (d <= _days_in_month(y, m))
    ok &= (sliced["H"] <= 23) & (sliced["M"] <= 59) & (sliced["S"] <= 59)
    fast = pc.cast(pc.if_else(pa.array(ok), values, "1970-01-01"), pa.timestamp("us"))
    fast = pc.cast(fast, pa.int64()).to_numpy(zero_copy_only=False)
    rest = ~plain
    if rest.any():
        general = _parse_general(values.filter(pa.array(rest)))
        micros = np.zeros(len(values), np.int64)
        micros[ok] = fast[ok]
        general_valid = mask_of(pc.is_valid(general))
        micros[rest] = pc.fill_null(pc.cast(general, pa.int64()), 0).to_numpy(zero_copy_only=False)
        valid = ok.copy()
        valid[rest] = general_valid
    else:
        micros, valid = fast, ok
    return pa.array(np.where(valid, micros, 0), type=pa.int64(), mask=~valid).cast(UTC_MICROS)


# A naive date, or a date with a time of day to the minute or second, optionally with fractions.
_PLAIN = r"^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?)?$"
_PLAIN_FIELDS = {"y": (0, 4), "m": (5, 7), "d": (8, 10), "H": (11, 13), "M": (14, 16), "S": (17, 19)}


def mask_of(array: pa.Array) -> np.ndarray:
    return pc.fill_null(array, False).to_numpy(zero_copy_only=False).astype(bool, copy=False)


def _slice_ints(values: pa.Array, start: int, stop: int) -> np.ndarray:
    """The integer written at character positions [start, stop) of each value, read straight
    from Arrow's data buffer (0 where the value is shorter). Only called on ASCII values whose
    shape `_PLAIN` has checked, so bytes are characters and the positions hold digits."""
    if values.type != pa.string():
        values = values.cast(pa.string())
    offsets = np.frombuffer(values.buffers()[1], dtype=np.int32)[values.offset : values.offset + len(values) + 1]
    data = (
        np.frombuffer(values.buffers()[2], dtype=np.uint8) if values.buffers()[2] is not None else np.zeros(1, np.uint8)
    )
    begin = offsets[:-1].astype(np.int64)
    present = (offsets[1:] - offsets[:-1]) >= stop
    out = np.zeros(len(values), np.int64)
    for pos in range(start, stop):
        at = np.where(present, begin + pos, 0)
        out = out * 10 + np.where(present, data[np.minimum(at, data.size - 1)].astype(np.int64) - 48, 0)
    return np.where(present, out, 0)


def _parse_general(values: pa.Array) -> pa.Array:
    parts = pc.extract_regex(values, _ISO)
    matched = pc.fill_null(pc.is_valid(parts), False).to_numpy(zero_copy_only=False)
    parts = pc.fill_null(parts, pa.scalar({k: "" for k in ("y", "m", "d", "H", "M", "S", "f", "off")}, parts.type))
    y, m, d = _ints(parts, "y"), _ints(parts, "m"), _ints(parts, "d")
    hh, mm, ss = _ints(parts, "H"), _ints(parts, "M"), _ints(parts, "S")
    fraction = pc.utf8_slice_codeunits(pc.binary_join_element_wise(pc.struct_field(parts, "f"), "000000", ""), 0, 6)
    micros = pc.cast(fraction, pa.int64()).to_numpy(zero_copy_only=False)
    valid = matched & (y >= 1) & (m >= 1) & (m <= 12) & (d >= 1) & (d <= _days_in_month(y, m))
    valid &= (hh <= 23) & (mm <= 59) & (ss <= 59)

    offset = pc.struct_field(parts, "off")
    sign = np.where(pc.starts_with(offset, "-").to_numpy(zero_copy_only=False), -1, 1)
    digits = pc.replace_substring_regex(offset, r"[^0-9]", "")
    off_h = pc.if_else(pc.greater_equal(pc.utf8_length(digits), 2), pc.utf8_slice_codeunits(digits, 0, 2), "0")
    off_m = pc.if_else(pc.equal(pc.utf8_length(digits), 4), pc.utf8_slice_codeunits(digits, 2, 4), "0")
    off_h = pc.cast(off_h, pa.int64()).to_numpy(zero_copy_only=False)
    off_m = pc.cast(off_m, pa.int64()).to_numpy(zero_copy_only=False)
    valid &= (off_h <= 23) & (off_m <= 59)
    offset_minutes = sign * (off_h * 60 + off_m)

    days = days_from_civil(y, m, d)
    total = (
        days * _MICROS_PER_DAY
        + hh * 3_600_000_000
        + mm * 60_000_000
        + ss * 1_000_000
        + micros
        - offset_minutes * 60_000_000
    )
    return pa.array(np.where(valid, total, 0), type=pa.int64(), mask=~valid).cast(UTC_MICROS)


def date_keys(timestamps: pa.Array) -> pa.Array:
    """YYYYMMDD of each instant's UTC date (int32), null where the instant is null."""
    return pc.cast(
        pc.add(
            pc.add(pc.multiply(pc.year(timestamps), 10000), pc.multiply(pc.month(timestamps), 100)), pc.day(timestamps)
        ),
        pa.int32(),
    )
