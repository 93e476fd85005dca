-- The temporary tables a sales file's merge (sales_file_merge.sql) works in. They are created
-- once per connection and emptied at every commit (ON COMMIT DELETE ROWS), not created and
-- dropped with each file: in a run of many small files, creating a dozen tables per file cost
-- more than filling them. Each holds one file's rows while it merges; what the columns mean is
-- said where the merge fills them.

-- step: old_facts
-- The facts the file's previous version holds (replaced by this load).
CREATE TEMP TABLE old_facts (
    transaction_id text COLLATE "C", date_key integer, customer_id text COLLATE "C", product_id integer, quantity integer,
    unit_price numeric(12, 2), total_amount numeric(14, 2), payment_method text COLLATE "C",
    transaction_ts timestamptz, transaction_type text, opens_order boolean, discount_amount numeric(14, 2),
    total_cents bigint, unit_price_cents bigint, discount_cents bigint
) ON COMMIT DELETE ROWS;

-- step: duplicates
-- A staged line that repeats an id, and the first line of it: in another file (first_file), or in
-- this one (first_file NULL). staged_row is the line's row in staged_sales (its ctid), by which
-- mark_duplicates finds it again without reading every staged row; no statement between the two
-- changes staged_sales, so the row is still there.
CREATE TEMP TABLE duplicates (
    line_number bigint, first_file text COLLATE "C", first_line bigint, staged_row tid
) ON COMMIT DELETE ROWS;

-- step: promoted_copies
CREATE TEMP TABLE promoted_copies (
    source_file text COLLATE "C", line_number bigint, line_count integer, transaction_id text COLLATE "C", date_key integer,
    transaction_ts timestamptz, customer_id text COLLATE "C", customer_name text, city text, country text,
    product_id integer, product_name text, quantity integer, unit_price numeric(12, 2),
    total_amount numeric(14, 2), payment_method text COLLATE "C", order_id text COLLATE "C", transaction_type text,
    original_transaction_id text COLLATE "C", discount_amount numeric(14, 2)
) ON COMMIT DELETE ROWS;

-- step: promoted
CREATE TEMP TABLE promoted (
    LIKE promoted_copies, total_cents bigint, unit_price_cents bigint, discount_cents bigint, opens_order boolean
) ON COMMIT DELETE ROWS;

-- step: daily_changes
CREATE TEMP TABLE daily_changes (
    sign integer, date_key integer, product_id integer, payment_method text COLLATE "C", sales bigint, quantity bigint,
    revenue bigint, unit_prices bigint, orders bigint, returns bigint, returned_quantity bigint, returned bigint,
    discounts bigint
) ON COMMIT DELETE ROWS;

-- step: customer_day_changes
CREATE TEMP TABLE customer_day_changes (date_key integer, change bigint) ON COMMIT DELETE ROWS;

-- step: touched_customers
CREATE TEMP TABLE touched_customers (customer_id text COLLATE "C", cohort_before date, known boolean) ON COMMIT DELETE ROWS;

-- step: touched_months
CREATE TEMP TABLE touched_months (
    customer_id text COLLATE "C", month date, existed boolean, sale_count_before bigint, net_amount_before numeric,
    exists_now boolean, sale_count_now bigint, net_amount_now numeric
) ON COMMIT DELETE ROWS;

-- step: customers_after
CREATE TEMP TABLE customers_after (customer_id text COLLATE "C", cohort_after date) ON COMMIT DELETE ROWS;

-- step: cohort_changes
CREATE TEMP TABLE cohort_changes (
    cohort_month date, month date, members bigint, customers bigint, net_amount numeric, buyer_net numeric
) ON COMMIT DELETE ROWS;

-- step: file_customers
CREATE TEMP TABLE file_customers (
    customer_id text COLLATE "C", first_ts timestamptz, last_ts timestamptz, transactions bigint, quantity bigint,
    amount numeric, first_sale_ts timestamptz, last_sale_ts timestamptz, orders bigint, returns bigint,
    returned numeric, customer_name text, city text, country text
) ON COMMIT DELETE ROWS;

-- step: recomputed_customers
CREATE TEMP TABLE recomputed_customers (customer_id text COLLATE "C") ON COMMIT DELETE ROWS;
