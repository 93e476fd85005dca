-- agg_sales_daily: sales per day x product x payment method, behind the dashboards.
-- transaction_count, total_quantity, total_revenue (gross) and sum_unit_price are the sales';
-- order_count counts the orders opened (an order counts on the day and product of its first
-- line); return_count, return_quantity and return_amount are the returns of that day;
-- discount_amount is the discounts the sales' totals already exclude.
-- At 10M facts a plain view over fact_sales cannot answer in under a second, so the views read
-- this instead. A load adds its facts' sums and subtracts those of the file version it
-- replaces, in the same transaction as the facts, so it is never behind them.
CREATE TABLE IF NOT EXISTS warehouse.agg_sales_daily (
    date_key          integer NOT NULL,
    product_id        integer NOT NULL,
    payment_method    text COLLATE "C" NOT NULL,
    transaction_count bigint NOT NULL,
    total_quantity    bigint NOT NULL,
    total_revenue     numeric(18, 2) NOT NULL,
    sum_unit_price    numeric(18, 2) NOT NULL,
    order_count       bigint NOT NULL DEFAULT 0,
    return_count      bigint NOT NULL DEFAULT 0,
    return_quantity   bigint NOT NULL DEFAULT 0,
    return_amount     numeric(18, 2) NOT NULL DEFAULT 0,
    discount_amount   numeric(18, 2) NOT NULL DEFAULT 0,
    PRIMARY KEY (date_key, product_id, payment_method)
) WITH (fillfactor = 80);
-- Loads update these rows in place: room in each page keeps the updates heap-only (HOT).
ALTER TABLE warehouse.agg_sales_daily SET (fillfactor = 80);
-- A warehouse from before orders and returns: every fact was a sale and an order of its own.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM information_schema.columns
                   WHERE table_schema = 'warehouse' AND table_name = 'agg_sales_daily' AND column_name = 'order_count') THEN
        ALTER TABLE warehouse.agg_sales_daily
            ADD COLUMN order_count bigint NOT NULL DEFAULT 0,
            ADD COLUMN return_count bigint NOT NULL DEFAULT 0,
            ADD COLUMN return_quantity bigint NOT NULL DEFAULT 0,
            ADD COLUMN return_amount numeric(18, 2) NOT NULL DEFAULT 0;
        UPDATE warehouse.agg_sales_daily SET order_count = transaction_count;
    END IF;
END
$$;
ALTER TABLE warehouse.agg_sales_daily ADD COLUMN IF NOT EXISTS discount_amount numeric(18, 2) NOT NULL DEFAULT 0;
