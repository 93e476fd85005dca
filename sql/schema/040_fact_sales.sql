-- fact_sales: one row per sales transaction (transaction grain), replaced per file.
-- A transaction is a sale or a return (transaction_type). Quantities and amounts are positive in
-- both; a return counts negative in every net measure, on the day of the return. order_id groups
-- the lines of an order (a line of its own order has its transaction id); opens_order marks the
-- first sale line of each order of a file, so that order counts add up over days, products and
-- files like every other sum. discount_amount is what the line's total already excludes (the
-- price before discounts is total_amount + discount_amount) (an order is the sale lines of one file that share its order_id and
-- its customer: an export that gives one order number to several customers has an order each).
-- Referential integrity is checked by the fact_sales_no_orphans asset check rather than by
-- foreign keys: enforced foreign keys made a 1M-row insert four times slower.
-- Two indexes besides the key, each because a statement needs it: source_file to find a file's
-- facts when the file is replaced (rows of one file are inserted together, so this index grows
-- at its right edge), and (customer_id, date_key) so that a load can tell, for each customer and
-- day it touches, whether the customer bought anything else that day (the distinct-customer
-- counts) and so that the per-customer checks read a customer's facts only. No query reads
-- facts by date or by product: the dashboards read the summary tables.
CREATE TABLE IF NOT EXISTS warehouse.fact_sales (
    transaction_id    text COLLATE "C" PRIMARY KEY,
    date_key          integer NOT NULL,
    customer_id       text COLLATE "C" NOT NULL,
    product_id        integer NOT NULL,
    transaction_ts    timestamptz NOT NULL,
    quantity          integer NOT NULL,
    unit_price        numeric(12, 2) NOT NULL,
    total_amount      numeric(14, 2) NOT NULL,
    payment_method    text COLLATE "C" NOT NULL,
    order_id          text COLLATE "C" NOT NULL,
    transaction_type  text NOT NULL DEFAULT 'sale',
    original_transaction_id text COLLATE "C",  -- the sale a return takes back, when the source says
    opens_order       boolean NOT NULL DEFAULT true,
    discount_amount   numeric(14, 2) NOT NULL DEFAULT 0,  -- taken off the line; total_amount is after it
    source_file       text COLLATE "C" NOT NULL,
    source_line       bigint NOT NULL,  -- first line of the row in source_file (1-based)
    source_line_count integer NOT NULL DEFAULT 1,  -- lines the row spans there
    loaded_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS fact_sales_source_file_idx ON warehouse.fact_sales (source_file);
CREATE INDEX IF NOT EXISTS fact_sales_customer_day_idx ON warehouse.fact_sales (customer_id, date_key);
-- A warehouse from before orders and returns: every fact was a sale and a line of its own order.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM information_schema.columns
                   WHERE table_schema = 'warehouse' AND table_name = 'fact_sales' AND column_name = 'order_id') THEN
        ALTER TABLE warehouse.fact_sales
            ADD COLUMN order_id text,
            ADD COLUMN transaction_type text NOT NULL DEFAULT 'sale',
            ADD COLUMN original_transaction_id text,
            ADD COLUMN opens_order boolean NOT NULL DEFAULT true;
        UPDATE warehouse.fact_sales SET order_id = transaction_id;
        ALTER TABLE warehouse.fact_sales ALTER COLUMN order_id SET NOT NULL;
    END IF;
END
$$;
ALTER TABLE warehouse.fact_sales ADD COLUMN IF NOT EXISTS discount_amount numeric(14, 2) NOT NULL DEFAULT 0;
