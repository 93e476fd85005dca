-- agg_customers_daily: distinct customers per day. Distinct counts do not add up across
-- products or payment methods, so they cannot come from agg_sales_daily. A load changes a day's
-- count by the customers for whom that day gains its first fact or loses its last one, which it
-- tells from the (customer_id, date_key) index of fact_sales, for the pairs it touches only.
CREATE TABLE IF NOT EXISTS warehouse.agg_customers_daily (
    date_key         integer PRIMARY KEY,
    unique_customers bigint NOT NULL
) WITH (fillfactor = 80);
-- Loads update these rows in place: room in each page keeps the updates heap-only (HOT).
ALTER TABLE warehouse.agg_customers_daily SET (fillfactor = 80);
