-- dim_customer: one row per customer, SCD1, derived from the sales.
-- Name, city and country come from the customer's latest transaction (attributes_ts, in file
-- attributes_file); the purchase dates and totals are the fold of the customer's rows in
-- customer_file_stats. A new file adds its sums to the customers it names; a replaced file's
-- customers are folded again from their per-file rows. Both happen in the file's transaction, so
-- the cost of a load grows with the new rows, not with the warehouse, and the dimension is never
-- behind the facts.
CREATE TABLE IF NOT EXISTS warehouse.dim_customer (
    customer_id         text PRIMARY KEY,
    customer_name       text,
    city                text,
    country             text,
    first_purchase_date date NOT NULL,
    last_purchase_date  date NOT NULL,
    total_orders        integer NOT NULL,
    total_quantity      bigint NOT NULL,
    lifetime_value      numeric(16, 2) NOT NULL,
    attributes_ts       timestamptz NOT NULL,  -- the transaction the name, city and country come from
    attributes_file     text NOT NULL,
    updated_at          timestamptz NOT NULL DEFAULT now()
) WITH (fillfactor = 80);
-- Every load updates the totals of the customers it names. With room left in each page and no
-- index on a column a load changes, those updates are heap-only (HOT): no index entry is written.
-- So the only index is the key; a list of top customers sorts the table (tens of milliseconds
-- at 100,000 customers) instead of every load maintaining an index on lifetime_value.
ALTER TABLE warehouse.dim_customer SET (fillfactor = 80);
DROP INDEX IF EXISTS warehouse.dim_customer_ltv_idx;
DROP INDEX IF EXISTS warehouse.dim_customer_location_idx;
