-- vw_daily_sales_summary: one row per day with sales or returns: sales lines, quantity sold, net
-- revenue (total_revenue: sales minus that day's returns), distinct customers and average order
-- value (net revenue / orders opened that day), then orders, gross revenue (the sales' totals,
-- after discounts), returns, the returned amount and the discounts the totals already exclude.
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
       (s.gross_revenue - s.returns_amount)::numeric(18, 2) AS total_revenue,
       c.unique_customers,
       round((s.gross_revenue - s.returns_amount) / nullif(s.order_count, 0), 2) AS avg_order_value,
       s.order_count,
       s.gross_revenue,
       s.return_count,
       s.returns_amount,
       s.discounts_amount
FROM (
    SELECT date_key,
           sum(transaction_count)::bigint AS transaction_count,
           sum(total_quantity)::bigint AS total_quantity,
           sum(total_revenue)::numeric(18, 2) AS gross_revenue,
           sum(order_count)::bigint AS order_count,
           sum(return_count)::bigint AS return_count,
           sum(return_amount)::numeric(18, 2) AS returns_amount,
           sum(discount_amount)::numeric(18, 2) AS discounts_amount
    FROM warehouse.agg_sales_daily
    GROUP BY date_key
) s
JOIN warehouse.dim_date d ON d.date_key = s.date_key
JOIN warehouse.agg_customers_daily c ON c.date_key = s.date_key;
