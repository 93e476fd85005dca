-- raw_sales: every data row of every sales file, parsed and validated (the raw_sales asset).
-- Valid rows carry normalised, typed values; rejected rows carry their reason codes and the raw
-- record. It is written per file through the Postgres IO manager (partition_expr source_file),
-- so a re-run replaces exactly that file's rows in one transaction.
CREATE TABLE IF NOT EXISTS warehouse.raw_sales (
    source_file    text NOT NULL,
    line_number    bigint NOT NULL,
    transaction_id text,
    transaction_ts timestamptz,
    date_key       integer,
    customer_id    text,
    customer_name  text,
    city           text,
    country        text,
    product_id     integer,
    product_name   text,             -- from layouts whose exports name products
    quantity       integer,
    unit_price     numeric(12, 2),
    total_amount   numeric(14, 2),
    payment_method text,
    reasons        text[],           -- NULL for a valid row
    raw_record     jsonb             -- only for rejected rows
);
CREATE INDEX IF NOT EXISTS raw_sales_source_file_idx ON warehouse.raw_sales (source_file);
