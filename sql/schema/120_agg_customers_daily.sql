-- agg_customers_daily: distinct customers per day. Distinct counts do not add up across
-- products or payment methods, so they cannot come from agg_sales_daily; maintained the same
-- way (queued days recomputed from fact_sales).
CREATE TABLE IF NOT EXISTS warehouse.agg_customers_daily (
    date_key         integer PRIMARY KEY,
    unique_customers bigint NOT NULL
);
