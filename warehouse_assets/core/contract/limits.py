"""The limits of every column, written once: what the tables can hold, and what a row may carry.

A value beyond its limit is a property of that row (quarantined or rejected with a reason), never
a database error that refuses the whole file. The numeric limits are exactly those of the
PostgreSQL column types; the text limits keep ids well inside a btree index entry (at most 2,704
bytes, and a character takes up to 4 bytes in UTF-8) and names at a length people write.
"""

from __future__ import annotations

import decimal

INTEGER_MAX = 2**31 - 1  # PostgreSQL integer: product_id, quantity, rating_count

# numeric(12, 2): unit prices; numeric(14, 2): line totals and discounts.
PRICE_MAX = decimal.Decimal("9999999999.99")
AMOUNT_MAX = decimal.Decimal("999999999999.99")
PRICE_MAX_CENTS = 999_999_999_999
AMOUNT_MAX_CENTS = 99_999_999_999_999

# Characters, not bytes.
TEXT_LIMITS: dict[str, int] = {
    "transaction_id": 255,
    "customer_id": 255,
    "order_id": 255,
    "original_transaction_id": 255,
    "customer_name": 255,
    "city": 255,
    "country": 255,
    "product_name": 500,
    "category": 255,
    "description": 10_000,
    "image_url": 2_000,
    "product_id_text": 255,  # a rejected product's id, kept as text
}

# A record (a CSV row, which may span lines when a quoted value holds line breaks) is at most this
# long and spans at most this many lines; beyond that its first line is quarantined as malformed
# and reading resumes on the next line. Both bound the damage a stray quote can do.
MAX_RECORD_BYTES = 1 << 20
MAX_RECORD_LINES = 100

# The raw text kept for a quarantined line is cut here (the line number says where the rest is).
RAW_TEXT_KEEP = 2_000


def storable_text_problem(text: str) -> str | None:
    """Why PostgreSQL's text and jsonb cannot store `text` as it is, or None."""
    if "\x00" in text:
        return "contains a NUL character, which PostgreSQL text cannot store"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "contains a lone surrogate, which is not UTF-8 text"
    return None
