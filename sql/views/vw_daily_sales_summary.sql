-- vw_daily_sales_summary: one row per day with sales: transactions, quantity, revenue, distinct
-- customers and average order value (revenue / transactions).
-- A view over the incrementally maintained agg_sales_daily and agg_customers_daily, so it
-- answers in milliseconds at 10M facts; dim_date supplies the calendar attributes.
-- preview order: full_date DESC
CREATE OR REPLACE VIEW analytics.vw_daily_sales_summary AS
SELECT d.full_date,
       d.date_key,
       d.year,
       d.month,
       d.day_name,
       s.transaction_count,
       s.total_quantity,
       s.total_revenue,
       c.unique_customers,
       round(s.total_revenue / s.transaction_count, 2) AS avg_order_value
FROM (
    SELECT date_key,
           sum(transaction_count)::bigint AS transaction_count,
           sum(total_quantity)::bigint AS total_quantity,
           sum(total_revenue)::numeric(18, 2) AS total_revenue
    FROM warehouse.agg_sales_daily
    GROUP BY date_key
) s
JOIN warehouse.dim_date d ON d.date_key = s.date_key
JOIN warehouse.agg_customers_daily c ON c.date_key = s.date_key;
