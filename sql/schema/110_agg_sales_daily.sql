-- agg_sales_daily: sales per day x product x payment method, behind the dashboards.
-- At 10M facts a plain view over fact_sales cannot answer in under a second, so the views read
-- this instead. A load adds its facts' sums and subtracts those of the file version it
-- replaces, in the same transaction as the facts, so it is never behind them.
CREATE TABLE IF NOT EXISTS warehouse.agg_sales_daily (
    date_key          integer NOT NULL,
    product_id        integer NOT NULL,
    payment_method    text NOT NULL,
    transaction_count bigint NOT NULL,
    total_quantity    bigint NOT NULL,
    total_revenue     numeric(18, 2) NOT NULL,
    sum_unit_price    numeric(18, 2) NOT NULL,
    PRIMARY KEY (date_key, product_id, payment_method)
) WITH (fillfactor = 80);
-- Loads update these rows in place: room in each page keeps the updates heap-only (HOT).
ALTER TABLE warehouse.agg_sales_daily SET (fillfactor = 80);
