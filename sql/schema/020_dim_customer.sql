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
);
-- The top customers by lifetime value (the dashboards' customer list) without a sort of all of them.
CREATE INDEX IF NOT EXISTS dim_customer_ltv_idx ON warehouse.dim_customer (lifetime_value DESC);
