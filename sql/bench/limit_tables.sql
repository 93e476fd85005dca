-- PostgreSQL's own limit for a sales file, the yardstick of `warehouse bench`: an unindexed text
-- staging table, a fact table with the primary key and indexes on date_key, customer_id and
-- product_id, and a customer table.
CREATE TABLE limit_staging (
    transaction_id text, transaction_date text, customer_id text, customer_name text, city text,
    country text, product_id text, quantity text, unit_price text, total_amount text,
    payment_method text
);
CREATE TABLE limit_fact (
    transaction_id text PRIMARY KEY, date_key integer NOT NULL, customer_id text NOT NULL,
    product_id integer NOT NULL, transaction_ts timestamptz NOT NULL, quantity integer NOT NULL,
    unit_price numeric(12, 2) NOT NULL, total_amount numeric(14, 2) NOT NULL,
    payment_method text NOT NULL, source_file text NOT NULL, source_line bigint NOT NULL,
    loaded_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ON limit_fact (date_key);
CREATE INDEX ON limit_fact (customer_id);
CREATE INDEX ON limit_fact (product_id);
CREATE TABLE limit_customer (
    customer_id text PRIMARY KEY, customer_name text, city text, country text,
    total_orders integer, lifetime_value numeric(16, 2)
);
