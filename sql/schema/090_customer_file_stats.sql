-- customer_file_stats: per customer and file, what the file's facts say about the customer:
-- counts and sums, first and last purchase, and the name, city and country of the customer's
-- latest transaction in that file. dim_customer is the fold of these rows, recomputed for the
-- customers a load touches from a handful of rows each (one per file the customer appears in),
-- never from the customer's facts; replacing a file replaces its rows, so nothing outlives its
-- source.
CREATE TABLE IF NOT EXISTS warehouse.customer_file_stats (
    customer_id       text NOT NULL,
    source_file       text NOT NULL,
    first_ts          timestamptz NOT NULL,
    last_ts           timestamptz NOT NULL,
    transaction_count bigint NOT NULL,
    total_quantity    bigint NOT NULL,
    total_amount      numeric(18, 2) NOT NULL,
    customer_name     text,
    city              text,
    country           text,
    PRIMARY KEY (customer_id, source_file)
);
CREATE INDEX IF NOT EXISTS customer_file_stats_source_file_idx ON warehouse.customer_file_stats (source_file);
