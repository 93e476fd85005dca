-- COPY rows in PostgreSQL's binary format, each value already of its column's type (encoded
-- from Arrow by pgpq; identifiers quoted by the caller).
COPY {table} ({columns}) FROM STDIN (FORMAT binary)
