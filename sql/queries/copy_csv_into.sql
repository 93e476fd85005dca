-- COPY rows written as CSV by Arrow into a table (identifiers quoted by the caller).
COPY {table} ({columns}) FROM STDIN (FORMAT csv)
