-- customer_file_stats: per customer and file, what the file's facts say about the customer
-- (first_ts and last_ts over all its facts, first_sale_ts and last_sale_ts over its sales;
-- transaction_count counts sales and returns, total_quantity and total_amount are the sales'):
-- counts and sums, first and last purchase, and the name, city and country of the customer's
-- latest transaction in that file. dim_customer is the fold of these rows, recomputed for the
-- customers a load touches from a handful of rows each (one per file the customer appears in),
-- never from the customer's facts; replacing a file replaces its rows, so nothing outlives its
-- source.
CREATE TABLE IF NOT EXISTS warehouse.customer_file_stats (
    customer_id       text COLLATE "C" NOT NULL,
    source_file       text COLLATE "C" NOT NULL,
    first_ts          timestamptz NOT NULL,
    last_ts           timestamptz NOT NULL,
    transaction_count bigint NOT NULL,
    total_quantity    bigint NOT NULL,
    total_amount      numeric(18, 2) NOT NULL,
    first_sale_ts     timestamptz,
    last_sale_ts      timestamptz,
    order_count       bigint NOT NULL DEFAULT 0,
    return_count      bigint NOT NULL DEFAULT 0,
    return_amount     numeric(18, 2) NOT NULL DEFAULT 0,
    customer_name     text,
    city              text,
    country           text,
    PRIMARY KEY (customer_id, source_file)
);
CREATE INDEX IF NOT EXISTS customer_file_stats_source_file_idx ON warehouse.customer_file_stats (source_file);
-- A warehouse from before returns: every fact was a sale and a line of its own order.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM information_schema.columns
                   WHERE table_schema = 'warehouse' AND table_name = 'customer_file_stats' AND column_name = 'first_sale_ts') THEN
        ALTER TABLE warehouse.customer_file_stats
            ADD COLUMN first_sale_ts timestamptz,
            ADD COLUMN last_sale_ts timestamptz,
            ADD COLUMN order_count bigint NOT NULL DEFAULT 0,
            ADD COLUMN return_count bigint NOT NULL DEFAULT 0,
            ADD COLUMN return_amount numeric(18, 2) NOT NULL DEFAULT 0;
        UPDATE warehouse.customer_file_stats
        SET first_sale_ts = first_ts, last_sale_ts = last_ts, order_count = transaction_count;
    END IF;
END
$$;
